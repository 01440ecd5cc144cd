#include "engine/ops/attention.h"

#include <cmath>
#include <cstring>

#include "engine/fastmath.h"
#include "engine/parallel.h"

namespace ht {

template <class T> void additive_scores_row(T* s, const T* k, const T* q, const T* v, i64 S, i64 A) {
  for (i64 j = 0; j < S; ++j) {
    const T* kj = k + j * A;
    T acc = 0;
    for (i64 a = 0; a < A; ++a) acc += v[a] * fast_tanh<T>(kj[a] + q[a]);
    s[j] = acc;
  }
}

// In the forward: s[j] = sum_a v[a] u[j, a], u = tanh(k[j] + q). So
//   dv[a] += ds[j] u[j, a],  d(k[j] + q)[a] = ds[j] v[a] (1 - u[j, a]^2), added to dk[j] and dq.
template <class T>
void additive_scores_row_backward(T* dk, T* dq, T* dv, const T* ds, const T* k, const T* q, const T* v, i64 S, i64 A) {
  for (i64 j = 0; j < S; ++j) {
    const T g = ds[j];
    if (g == 0) continue;
    const T* kj = k + j * A;
    for (i64 a = 0; a < A; ++a) {
      const T u = fast_tanh<T>(kj[a] + q[a]);
      const T d = g * v[a] * (T(1) - u * u);
      if (dv) dv[a] += g * u;
      if (dk) dk[j * A + a] += d;
      if (dq) dq[a] += d;
    }
  }
}

template void additive_scores_row<float>(float*, const float*, const float*, const float*, i64, i64);
template void additive_scores_row<double>(double*, const double*, const double*, const double*, i64, i64);
template void additive_scores_row_backward<float>(float*, float*, float*, const float*, const float*, const float*, const float*, i64, i64);
template void additive_scores_row_backward<double>(double*, double*, double*, const double*, const double*, const double*, const double*,
                                                   i64, i64);

Var additive_scores(Tape& t, const Var& keys, const Var& queries, const Var& v) {
  const char* op = "additive_scores";
  check_same_dtype(op, keys, queries);
  check_same_dtype(op, keys, v);
  const Shape &ks = keys.shape(), &qs = queries.shape(), &vs = v.shape();
  if (ks.nd != 3 || qs.nd != 3 || vs.nd != 1 || ks[0] != qs[0] || ks[2] != qs[2] || vs[0] != ks[2])
    shape_error(op, "expects keys [B, S, A], queries [B, T, A], v [A]; got keys " + ks.str() + ", queries " + qs.str() + ", v " + vs.str());
  const i64 B = ks[0], S = ks[1], T = qs[1], A = ks[2];
  Tensor K = keys.value(), Q = queries.value(), V = v.value(), Y = t.alloc({B, T, S}, K.dtype());
  dispatch_float(K.dtype(), [&](auto tag) {
    using F = decltype(tag);
    const F *k = K.data<F>(), *q = Q.data<F>(), *vv = V.data<F>();
    F* y = Y.data<F>();
    parallel_for(B * T, 1, [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) additive_scores_row(y + r * S, k + (r / T) * S * A, q + r * A, vv, S, A);
    });
  });
  Tensor dv_rows = v.needs_grad() ? t.alloc({B, A}, K.dtype()) : Tensor();
  return t.record(op, Y, {keys, queries, v}, [keys, queries, v, K, Q, V, dv_rows, B, S, T, A](const Tensor& dout) {
    dispatch_float(K.dtype(), [&](auto tag) {
      using F = decltype(tag);
      const F *k = K.data<F>(), *q = Q.data<F>(), *vv = V.data<F>(), *g = dout.data<F>();
      // Every row b owns dk[b] and dq[b]; dv is summed from per-b partials in b order.
      F* dk = keys.needs_grad() ? keys.grad().template data<F>() : nullptr;
      F* dq = queries.needs_grad() ? queries.grad().template data<F>() : nullptr;
      F* dv = dv_rows ? dv_rows.data<F>() : nullptr;
      if (dv) std::memset(dv, 0, std::size_t(B * A) * sizeof(F));
      parallel_for(B, 1, [&](i64 b0, i64 b1) {
        for (i64 b = b0; b < b1; ++b)
          for (i64 i = 0; i < T; ++i)
            additive_scores_row_backward(dk ? dk + b * S * A : nullptr, dq ? dq + (b * T + i) * A : nullptr, dv ? dv + b * A : nullptr,
                                         g + (b * T + i) * S, k + b * S * A, q + (b * T + i) * A, vv, S, A);
      });
      if (dv_rows) {
        F* dv = v.grad().template data<F>();
        const F* part = dv_rows.data<F>();
        for (i64 b = 0; b < B; ++b)
          for (i64 a = 0; a < A; ++a) dv[a] += part[b * A + a];
      }
    });
  });
}

Var masked_softmax(Tape& t, const Var& x, const Tensor& lengths) {
  const char* op = "masked_softmax";
  const Shape& xs = x.shape();
  if (xs.nd != 3) shape_error(op, "expects x [B, T, S], got " + xs.str());
  const i64 B = xs[0], T = xs[1], S = xs[2];
  if (lengths.dtype() != DType::I32 || lengths.numel() != B)
    shape_error(op, "lengths must be i32 [" + std::to_string(B) + "], got " + std::string(dtype_name(lengths.dtype())) + " " +
                        lengths.shape().str());
  Tensor L = t.alloc({B}, DType::I32);
  L.copy_from(lengths.view({B}));
  for (i64 b = 0; b < B; ++b) {
    const std::int32_t n = L.data<std::int32_t>()[b];
    if (n < 1 || n > S)
      shape_error(op, "length " + std::to_string(n) + " of row " + std::to_string(b) + " outside [1, " + std::to_string(S) + "]");
  }
  Tensor X = x.value(), Y = t.alloc(xs, X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using F = decltype(tag);
    const F* xv = X.data<F>();
    F* y = Y.data<F>();
    const std::int32_t* len = L.data<std::int32_t>();
    parallel_for(B * T, 64, [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        const i64 n = len[r / T];
        const F* xr = xv + r * S;
        F* yr = y + r * S;
        F m = xr[0];
        for (i64 j = 1; j < n; ++j) m = xr[j] > m ? xr[j] : m;
        F sum = 0;
        for (i64 j = 0; j < n; ++j) sum += yr[j] = std::exp(xr[j] - m);
        for (i64 j = 0; j < n; ++j) yr[j] /= sum;
        for (i64 j = n; j < S; ++j) yr[j] = 0;
      }
    });
  });
  // dx[j] = y[j] (g[j] - sum_k y[k] g[k]); 0 where y is 0 by the mask.
  return t.record(op, Y, {x}, [x, Y, L, T, S](const Tensor& dout) {
    dispatch_float(Y.dtype(), [&](auto tag) {
      using F = decltype(tag);
      const F *y = Y.data<F>(), *g = dout.data<F>();
      F* dx = x.grad().template data<F>();
      const std::int32_t* len = L.data<std::int32_t>();
      parallel_for(Y.shape().rows(), 64, [&](i64 r0, i64 r1) {
        for (i64 r = r0; r < r1; ++r) {
          const i64 n = len[r / T];
          F dot = 0;
          for (i64 j = 0; j < n; ++j) dot += y[r * S + j] * g[r * S + j];
          for (i64 j = 0; j < n; ++j) dx[r * S + j] += y[r * S + j] * (g[r * S + j] - dot);
        }
      });
    });
  });
}

}  // namespace ht
