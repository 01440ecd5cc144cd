#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/parallel.h"

namespace ht {

namespace {

// Layout of x as [N, C, S]: element (n, c, s) at (n*C + c)*S + s. Every kernel runs one task per
// channel and sums that channel's N*S values plane by plane in kLanes interleaved double partial
// sums (a fixed order, so results do not depend on the thread count; independent partials so the
// loop vectorises instead of waiting on one add chain).
struct BnDims { i64 N, C, S; };

constexpr int kLanes = 8;

// Channels per task: about kElementGrain values, but at least 8 tasks once there is work enough to
// share (the last stage of a wide resnet has 128 channels of only 8,192 values each).
i64 channel_grain(const BnDims& d) {
  const i64 plane = std::max<i64>(d.N * d.S, 1);
  i64 g = std::max<i64>(1, kElementGrain / plane);
  if (d.C * plane >= kElementGrain / 4) g = std::min(g, std::max<i64>(1, (d.C + 7) / 8));
  return g;
}

// Adds f(k) for k in [0, n) into the kLanes partials p (lane k % kLanes).
template <class F> inline void add_lanes(double* p, i64 n, F&& f) {
  i64 k = 0;
  for (; k + kLanes <= n; k += kLanes)
    for (int l = 0; l < kLanes; ++l) p[l] += f(k + l);
  for (; k < n; ++k) p[k % kLanes] += f(k);
}
inline double lanes_sum(const double* p) {
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += p[l];
  return s;
}

// mean [C] = sum_{n,s} x / M,  var [C] = sum_{n,s} (x - mean)^2 / M: one pass for the mean, one for
// the variance around it (no cancellation of E[x^2] - mean^2).
template <class T> void batch_norm_stats(T* mean, double* var, const T* x, BnDims d) {
  double M = double(d.N * d.S);
  parallel_for(d.C, channel_grain(d), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      double p[kLanes] = {};
      for (i64 n = 0; n < d.N; ++n) {
        const T* xp = x + (n * d.C + c) * d.S;
        add_lanes(p, d.S, [&](i64 k) { return double(xp[k]); });
      }
      const double mu = lanes_sum(p) / M;
      double q[kLanes] = {};
      for (i64 n = 0; n < d.N; ++n) {
        const T* xp = x + (n * d.C + c) * d.S;
        add_lanes(q, d.S, [&](i64 k) { const double e = double(xp[k]) - mu; return e * e; });
      }
      mean[c] = T(mu);
      var[c] = lanes_sum(q) / M;
    }
  });
}

// y = gamma * (x - mean) * rstd + beta per channel, then max(0, y) with `relu`.
template <class T>
void batch_norm_forward(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta, BnDims d, bool relu) {
  parallel_for(d.C, channel_grain(d), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      const T a = gamma[c] * rstd[c], b = beta[c] - mean[c] * gamma[c] * rstd[c];
      for (i64 n = 0; n < d.N; ++n) {
        const i64 off = (n * d.C + c) * d.S;
        if (relu)
          for (i64 k = 0; k < d.S; ++k) y[off + k] = std::max(a * x[off + k] + b, T(0));
        else
          for (i64 k = 0; k < d.S; ++k) y[off + k] = a * x[off + k] + b;
      }
    }
  });
}

// One plane's sum of g and of g*xhat, g = dy (times the ReLU's 0/1 mask when Relu), in kPlaneLanes
// interleaved partials of T (a plane is at most a few thousand values), added to the channel's
// double sums by the caller. The mask is a factor, not `mask ? g : 0`: GCC 12 at -O3 with AVX2
// vectorised that lane-interleaved reduction wrongly (the test against relu(batch_norm) caught it).
constexpr int kPlaneLanes = 16;
template <bool Relu, class T>
inline void plane_sums(const T* __restrict g, const T* __restrict xp, const T* __restrict yp, T mu, T r, i64 S, double& sg,
                       double& sgx) {
  T a[kPlaneLanes] = {}, b[kPlaneLanes] = {};
  i64 k = 0;
  for (; k + kPlaneLanes <= S; k += kPlaneLanes)
#pragma GCC unroll 16
    for (int l = 0; l < kPlaneLanes; ++l) {
      const T gv = Relu ? g[k + l] * T(yp[k + l] > T(0)) : g[k + l];
      a[l] += gv;
      b[l] += gv * ((xp[k + l] - mu) * r);
    }
  for (; k < S; ++k) {
    const T gv = Relu ? g[k] * T(yp[k] > T(0)) : g[k];
    a[k % kPlaneLanes] += gv;
    b[k % kPlaneLanes] += gv * ((xp[k] - mu) * r);
  }
  double sa = 0, sb = 0;
  for (int l = 0; l < kPlaneLanes; ++l) sa += double(a[l]), sb += double(b[l]);
  sg += sa, sgx += sb;
}

template <bool Relu, class T>
inline void plane_dx(T* __restrict dx, const T* __restrict g, const T* __restrict xp, const T* __restrict yp, T mu, T r, T gr,
                     T mdy, T mdyx, i64 S) {
  for (i64 k = 0; k < S; ++k) {
    const T gv = Relu ? g[k] * T(yp[k] > T(0)) : g[k];
    dx[k] += gr * (gv - mdy - (xp[k] - mu) * r * mdyx);
  }
}

// With xhat = (x - mean)*rstd and g = dy (or dy where y > 0, after a fused ReLU), per channel:
//   dgamma += sum g*xhat,  dbeta += sum g,
//   batch statistics: dx += gamma*rstd/M * (M*g - sum g - xhat * sum g*xhat)
//   fixed statistics: dx += gamma*rstd * g
// Any of dx, dgamma, dbeta may be null; y is the forward's output when relu.
//
// Both passes walk memory in order (a channel's planes lie C*S apart: read channel by channel, a
// plane of one 4 KB page at a time, the backward ran at a fifth of the bandwidth). The sums are
// taken over kBnChunks fixed ranges of the batch, each in order, then added chunk by chunk, so they
// do not depend on the thread count.
constexpr i64 kBnChunks = 16;

template <bool Relu, class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* y, const T* mean, const T* rstd,
                         const T* gamma, BnDims d, bool batch_stats) {
  const i64 chunks = std::min<i64>(kBnChunks, d.N), C = d.C;
  std::vector<double> part(size_t(2 * chunks * C), 0.0);
  parallel_for(chunks, 1, [&](i64 b0, i64 b1) {
    for (i64 b = b0; b < b1; ++b) {
      double *sg = &part[size_t(2 * b * C)], *sgx = sg + C;
      for (i64 n = d.N * b / chunks; n < d.N * (b + 1) / chunks; ++n)
        for (i64 c = 0; c < C; ++c) {
          const i64 off = (n * C + c) * d.S;
          plane_sums<Relu>(dy + off, x + off, Relu ? y + off : nullptr, mean[c], rstd[c], d.S, sg[c], sgx[c]);
        }
    }
  });
  const double M = double(d.N * d.S);
  std::vector<T> gr(static_cast<size_t>(C)), mdy(static_cast<size_t>(C)), mdyx(static_cast<size_t>(C));
  for (i64 c = 0; c < C; ++c) {
    double sdy = 0, sdyx = 0;
    for (i64 b = 0; b < chunks; ++b) sdy += part[size_t(2 * b * C + c)], sdyx += part[size_t((2 * b + 1) * C + c)];
    if (dgamma) dgamma[c] += T(sdyx);
    if (dbeta) dbeta[c] += T(sdy);
    gr[c] = gamma[c] * rstd[c];
    mdy[c] = T(batch_stats ? sdy / M : 0);
    mdyx[c] = T(batch_stats ? sdyx / M : 0);
  }
  if (!dx) return;
  parallel_for(d.N * C, std::max<i64>(1, kElementGrain / 16 / std::max<i64>(d.S, 1)), [&](i64 p0, i64 p1) {
    for (i64 p = p0; p < p1; ++p) {
      const i64 c = p % C, off = p * d.S;
      plane_dx<Relu>(dx + off, dy + off, x + off, Relu ? y + off : nullptr, mean[c], rstd[c], gr[c], mdy[c], mdyx[c], d.S);
    }
  });
}

void check_channel_vector(const char* what, const Shape& s, const Shape& xs, i64 C) {
  if (s.nd != 1 || s[0] != C)
    shape_error("batch_norm", std::string(what) + " " + s.str() + " must be [" + std::to_string(C) + "] for x " + xs.str());
}

}  // namespace

namespace {

Var batch_norm_op(const char* op, bool relu, Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  const Shape& xs = x.shape();
  if (xs.nd != 2 && xs.nd != 4) shape_error(op, "x must be [N, C] or [N, C, H, W], got " + xs.str());
  BnDims d{xs[0], xs[1], xs.nd == 4 ? xs[2] * xs[3] : 1};
  check_channel_vector("gamma", gamma.shape(), xs, d.C);
  check_channel_vector("beta", beta.shape(), xs, d.C);
  check_channel_vector("running_mean", running_mean.shape(), xs, d.C);
  check_channel_vector("running_var", running_var.shape(), xs, d.C);
  check_same_dtype(op, x, gamma);
  check_same_dtype(op, x, beta);
  DType dt = x.dtype();
  if (running_mean.dtype() != dt || running_var.dtype() != dt)
    shape_error(op, std::string("running stats are ") + dtype_name(running_mean.dtype()) + "/" +
                        dtype_name(running_var.dtype()) + ", x is " + dtype_name(dt));
  if (training && d.N * d.S < 2)
    shape_error(op, "training needs more than one value per channel, x is " + xs.str());

  Tensor X = x.value(), G = gamma.value(), B = beta.value();
  Tensor Y = t.alloc(xs, dt);
  // Saved: x (alias), gamma (alias), mean and rstd [C] (arena copies, the running stats may change).
  Tensor mean = t.alloc({d.C}, dt), rstd = t.alloc({d.C}, dt);
  dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    T *mv = mean.data<T>(), *rv = rstd.data<T>();
    T *rm = running_mean.data<T>(), *rvar = running_var.data<T>();
    if (training) {
      std::vector<double> var(d.C);
      batch_norm_stats<T>(mv, var.data(), X.data<T>(), d);
      double M = double(d.N * d.S);
      for (i64 c = 0; c < d.C; ++c) {
        rv[c] = T(1.0 / std::sqrt(var[c] + eps));
        rm[c] = T((1 - momentum) * double(rm[c]) + momentum * double(mv[c]));
        rvar[c] = T((1 - momentum) * double(rvar[c]) + momentum * var[c] * M / (M - 1));
      }
    } else {
      for (i64 c = 0; c < d.C; ++c) {
        mv[c] = rm[c];
        rv[c] = T(1.0 / std::sqrt(double(rvar[c]) + eps));
      }
    }
    batch_norm_forward<T>(Y.data<T>(), X.data<T>(), mv, rv, G.data<T>(), B.data<T>(), d, relu);
  });
  return t.record(op, Y, {x, gamma, beta}, [x, gamma, beta, X, Y, G, mean, rstd, d, training, relu](const Tensor& dY) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* dx = x.needs_grad() ? x.grad().template data<T>() : nullptr;
      T* dg = gamma.needs_grad() ? gamma.grad().template data<T>() : nullptr;
      T* db = beta.needs_grad() ? beta.grad().template data<T>() : nullptr;
      if (relu)
        batch_norm_backward<true, T>(dx, dg, db, dY.data<T>(), X.data<T>(), Y.data<T>(), mean.data<T>(), rstd.data<T>(),
                                     G.data<T>(), d, training);
      else
        batch_norm_backward<false, T>(dx, dg, db, dY.data<T>(), X.data<T>(), Y.data<T>(), mean.data<T>(), rstd.data<T>(),
                                      G.data<T>(), d, training);
    });
  });
}

}  // namespace

Var batch_norm(Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
               bool training, double momentum, double eps) {
  return batch_norm_op("batch_norm", false, t, x, gamma, beta, running_mean, running_var, training, momentum, eps);
}

Var batch_norm_relu(Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
                    bool training, double momentum, double eps) {
  return batch_norm_op("batch_norm_relu", true, t, x, gamma, beta, running_mean, running_var, training, momentum, eps);
}

}  // namespace ht
