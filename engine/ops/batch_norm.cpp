#include "engine/ops/batch_norm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/parallel.h"

namespace ht {

namespace {

// Layout of x as [N, C, S]: element (n, c, s) at (n*C + c)*S + s. Every kernel runs one task per
// channel and sums that channel's N*S values in (n, s) order in double, so results do not depend
// on the thread count.
struct BnDims { i64 N, C, S; };

i64 channel_grain(const BnDims& d) { return std::max<i64>(1, kElementGrain / std::max<i64>(d.N * d.S, 1)); }

// mean [C] = sum_{n,s} x / M,  var [C] = sum_{n,s} (x - mean)^2 / M.
template <class T> void batch_norm_stats(T* mean, double* var, const T* x, BnDims d) {
  double M = double(d.N * d.S);
  parallel_for(d.C, channel_grain(d), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      double s = 0;
      for (i64 n = 0; n < d.N; ++n) {
        const T* xp = x + (n * d.C + c) * d.S;
        for (i64 k = 0; k < d.S; ++k) s += double(xp[k]);
      }
      double mu = s / M, q = 0;
      for (i64 n = 0; n < d.N; ++n) {
        const T* xp = x + (n * d.C + c) * d.S;
        for (i64 k = 0; k < d.S; ++k) q += (double(xp[k]) - mu) * (double(xp[k]) - mu);
      }
      mean[c] = T(mu);
      var[c] = q / M;
    }
  });
}

// y = gamma * (x - mean) * rstd + beta, per channel.
template <class T>
void batch_norm_forward(T* y, const T* x, const T* mean, const T* rstd, const T* gamma, const T* beta, BnDims d) {
  parallel_for(d.C, channel_grain(d), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      T a = gamma[c] * rstd[c], b = beta[c] - mean[c] * gamma[c] * rstd[c];
      for (i64 n = 0; n < d.N; ++n) {
        i64 off = (n * d.C + c) * d.S;
        for (i64 k = 0; k < d.S; ++k) y[off + k] = a * x[off + k] + b;
      }
    }
  });
}

// With xhat = (x - mean)*rstd, sum over (n, s) per channel:
//   dgamma += sum dy*xhat,  dbeta += sum dy,
//   batch statistics: dx += gamma*rstd/M * (M*dy - sum dy - xhat * sum dy*xhat)
//   fixed statistics: dx += gamma*rstd * dy
// Any of dx, dgamma, dbeta may be null.
template <class T>
void batch_norm_backward(T* dx, T* dgamma, T* dbeta, const T* dy, const T* x, const T* mean, const T* rstd,
                         const T* gamma, BnDims d, bool batch_stats) {
  double M = double(d.N * d.S);
  parallel_for(d.C, channel_grain(d), [&](i64 c0, i64 c1) {
    for (i64 c = c0; c < c1; ++c) {
      double mu = double(mean[c]), r = double(rstd[c]);
      double sdy = 0, sdyx = 0;
      for (i64 n = 0; n < d.N; ++n) {
        i64 off = (n * d.C + c) * d.S;
        for (i64 k = 0; k < d.S; ++k) {
          double g = double(dy[off + k]);
          sdy += g;
          sdyx += g * (double(x[off + k]) - mu) * r;
        }
      }
      if (dgamma) dgamma[c] += T(sdyx);
      if (dbeta) dbeta[c] += T(sdy);
      if (!dx) continue;
      double gr = double(gamma[c]) * r;
      double mdy = batch_stats ? sdy / M : 0, mdyx = batch_stats ? sdyx / M : 0;
      for (i64 n = 0; n < d.N; ++n) {
        i64 off = (n * d.C + c) * d.S;
        for (i64 k = 0; k < d.S; ++k) {
          double xhat = (double(x[off + k]) - mu) * r;
          dx[off + k] += T(gr * (double(dy[off + k]) - mdy - xhat * mdyx));
        }
      }
    }
  });
}

void check_channel_vector(const char* what, const Shape& s, const Shape& xs, i64 C) {
  if (s.nd != 1 || s[0] != C)
    shape_error("batch_norm", std::string(what) + " " + s.str() + " must be [" + std::to_string(C) + "] for x " + xs.str());
}

}  // namespace

Var batch_norm(Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
               bool training, double momentum, double eps) {
  const char* op = "batch_norm";
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
    batch_norm_forward<T>(Y.data<T>(), X.data<T>(), mv, rv, G.data<T>(), B.data<T>(), d);
  });
  return t.record(op, Y, {x, gamma, beta}, [x, gamma, beta, X, G, mean, rstd, d, training](const Tensor& dY) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* dx = x.needs_grad() ? x.grad().template data<T>() : nullptr;
      T* dg = gamma.needs_grad() ? gamma.grad().template data<T>() : nullptr;
      T* db = beta.needs_grad() ? beta.grad().template data<T>() : nullptr;
      batch_norm_backward<T>(dx, dg, db, dY.data<T>(), X.data<T>(), mean.data<T>(), rstd.data<T>(), G.data<T>(), d,
                             training);
    });
  });
}

}  // namespace ht
