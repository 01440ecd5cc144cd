#include "engine/ops/layer_norm.h"

#include <cmath>

#include "engine/fastmath.h"
#include "engine/parallel.h"

namespace ht {

template <class T>
void layer_norm_row_forward(T* y, T* mean_out, T* rstd_out, const T* x, const T* gain, const T* bias, i64 H, T eps) {
  const T m = lane_sum<T>(H, [&](i64 i) { return x[i]; }) / T(H);
  const T v = lane_sum<T>(H, [&](i64 i) { return (x[i] - m) * (x[i] - m); }) / T(H);
  T r = T(1) / std::sqrt(v + eps);
  for (i64 i = 0; i < H; ++i) {
    T xh = (x[i] - m) * r;
    y[i] = (gain ? gain[i] : T(1)) * xh + (bias ? bias[i] : T(0));
  }
  *mean_out = m;
  *rstd_out = r;
}

// With xhat = (x - mean) rstd and g = dy * gain:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  dgain += dy * xhat,  dbias += dy.
template <class T>
void layer_norm_row_backward(T* dx, T* dgain, T* dbias, const T* dy, const T* x, T mean, T rstd, const T* gain, i64 H) {
  const T mg = (gain ? lane_sum<T>(H, [&](i64 i) { return dy[i] * gain[i]; }) : lane_sum<T>(H, [&](i64 i) { return dy[i]; })) / T(H);
  const T mgx = (gain ? lane_sum<T>(H, [&](i64 i) { return dy[i] * gain[i] * ((x[i] - mean) * rstd); })
                      : lane_sum<T>(H, [&](i64 i) { return dy[i] * ((x[i] - mean) * rstd); })) / T(H);
  for (i64 i = 0; i < H; ++i) {
    T g = dy[i] * (gain ? gain[i] : T(1));
    T xh = (x[i] - mean) * rstd;
    if (dx) dx[i] += rstd * (g - mg - xh * mgx);
    if (dgain) dgain[i] += dy[i] * xh;
    if (dbias) dbias[i] += dy[i];
  }
}

template void layer_norm_row_forward<float>(float*, float*, float*, const float*, const float*, const float*, i64, float);
template void layer_norm_row_forward<double>(double*, double*, double*, const double*, const double*, const double*, i64, double);
template void layer_norm_row_backward<float>(float*, float*, float*, const float*, const float*, float, float, const float*, i64);
template void layer_norm_row_backward<double>(double*, double*, double*, const double*, const double*, double, double, const double*, i64);

Var layer_norm(Tape& t, const Var& x, const Var& gain, const Var& bias, double eps) {
  Tensor X = x.value();
  i64 H = X.shape().back(), rows = X.shape().rows();
  for (const Var* p : {&gain, &bias})
    if (p->valid() && (p->shape().nd != 1 || p->shape()[0] != H))
      shape_error("layer_norm", "gain/bias " + p->shape().str() + " for input " + X.shape().str());
  Tensor G = gain.valid() ? gain.value() : Tensor(), B = bias.valid() ? bias.value() : Tensor();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  Tensor stats = t.alloc({2, rows}, X.dtype());  // mean, rstd
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *xv = X.data<T>(), *g = G ? G.data<T>() : nullptr, *b = B ? B.data<T>() : nullptr;
    T *y = Y.data<T>(), *mean = stats.data<T>(), *rstd = mean + rows;
    parallel_for(rows, 8, [&](i64 lo, i64 hi) {
      for (i64 r = lo; r < hi; ++r) layer_norm_row_forward<T>(y + r * H, mean + r, rstd + r, xv + r * H, g, b, H, T(eps));
    });
  });
  std::vector<Var> inputs{x};
  if (gain.valid()) inputs.push_back(gain);
  if (bias.valid()) inputs.push_back(bias);
  // Saved: the input, mean and rstd per row.
  return t.record("layer_norm", Y, inputs, [x, gain, bias, X, G, stats, rows, H](const Tensor& dout) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *xv = X.data<T>(), *g = G ? G.data<T>() : nullptr, *dy = dout.data<T>();
      const T *mean = stats.data<T>(), *rstd = mean + rows;
      if (x.needs_grad()) {
        T* dx = x.grad().template data<T>();
        parallel_for(rows, 8, [&](i64 lo, i64 hi) {
          for (i64 r = lo; r < hi; ++r)
            layer_norm_row_backward<T>(dx + r * H, nullptr, nullptr, dy + r * H, xv + r * H, mean[r], rstd[r], g, H);
        });
      }
      T* dg = gain.valid() && gain.needs_grad() ? gain.grad().template data<T>() : nullptr;
      T* db = bias.valid() && bias.needs_grad() ? bias.grad().template data<T>() : nullptr;
      if (dg || db) {
        // Parallel over columns so every column's sum runs in row order.
        parallel_for(H, 64, [&](i64 c0, i64 c1) {
          for (i64 r = 0; r < rows; ++r)
            for (i64 c = c0; c < c1; ++c) {
              T d = dy[r * H + c];
              if (dg) dg[c] += d * (xv[r * H + c] - mean[r]) * rstd[r];
              if (db) db[c] += d;
            }
        });
      }
    });
  });
}

}  // namespace ht
