#include "engine/ops/mdn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/parallel.h"

namespace ht {

namespace {

constexpr double kLog2Pi = 1.8378770664093453;  // log(2π)

// log(1 - tanh(r)^2) = log 4 - 2|r| - 2 log1p(exp(-2|r|)), finite for every r.
double log_one_minus_rho2(double r) {
  double a = std::fabs(r);
  return 2.0 * (0.6931471805599453 - a - std::log1p(std::exp(-2.0 * a)));
}

double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }

// nll of one row; when g is given, writes d nll / d params (6M + 1 values) scaled by `scale`.
template <class T> double mdn_row(const T* p, i64 M, double x1, double x2, double pen, double scale, T* g,
                                  std::vector<double>& tmp) {
  // Pen: -log(e) or -log(1-e) with e = sigmoid(ê): softplus(ê) - pen ê.
  const double eh = double(p[0]);
  double nll = softplus(eh) - pen * eh;
  // Mixture: log π_j + log N_j, then log-sum-exp.
  // Per component, kept for the gradient: log π_j + log N_j, the standardised offsets, 1 - ρ²,
  // ρ, Z and the inverse sigmas.
  tmp.resize(std::size_t(8 * M));
  double* logw = tmp.data();
  double* z1s = logw + M;
  double* z2s = z1s + M;
  double* om = z2s + M;
  double* rhos = om + M;
  double* Zs = rhos + M;
  double* inv1 = Zs + M;
  double* inv2 = inv1 + M;
  const T* ph = p + 1;
  double pmax = double(ph[0]);
  for (i64 j = 1; j < M; ++j) pmax = std::max(pmax, double(ph[j]));
  double psum = 0;
  for (i64 j = 0; j < M; ++j) psum += std::exp(double(ph[j]) - pmax);
  const double log_pz = pmax + std::log(psum);
  double best = -INFINITY;
  for (i64 j = 0; j < M; ++j) {
    double mu1 = double(p[1 + M + j]), mu2 = double(p[1 + 2 * M + j]);
    double s1h = double(p[1 + 3 * M + j]), s2h = double(p[1 + 4 * M + j]), rh = double(p[1 + 5 * M + j]);
    double rho = std::tanh(rh), lom = log_one_minus_rho2(rh);
    double i1 = std::exp(-s1h), i2 = std::exp(-s2h);
    double z1 = (x1 - mu1) * i1, z2 = (x2 - mu2) * i2;
    double Z = z1 * z1 + z2 * z2 - 2.0 * rho * z1 * z2;
    double logN = -kLog2Pi - s1h - s2h - 0.5 * lom - 0.5 * Z * std::exp(-lom);
    logw[j] = double(ph[j]) - log_pz + logN;
    z1s[j] = z1, z2s[j] = z2, om[j] = std::exp(lom), rhos[j] = rho, Zs[j] = Z, inv1[j] = i1, inv2[j] = i2;
    best = std::max(best, logw[j]);
  }
  double sum = 0;
  for (i64 j = 0; j < M; ++j) sum += std::exp(logw[j] - best);
  const double log_mix = best + std::log(sum);
  nll -= log_mix;
  if (!g) return nll;

  const double e = 1.0 / (1.0 + std::exp(-eh));
  g[0] = T(scale * (e - pen));
  for (i64 j = 0; j < M; ++j) {
    const double gamma = std::exp(logw[j] - log_mix);          // posterior of component j
    const double pi = std::exp(double(ph[j]) - log_pz);
    const double z1 = z1s[j], z2 = z2s[j], o = om[j], rho = rhos[j], Z = Zs[j];
    // d log N / d(μ1, μ2, σ̂1, σ̂2, ρ̂)
    const double dmu1 = (z1 - rho * z2) * inv1[j] / o;
    const double dmu2 = (z2 - rho * z1) * inv2[j] / o;
    const double ds1 = -1.0 + z1 * (z1 - rho * z2) / o;
    const double ds2 = -1.0 + z2 * (z2 - rho * z1) / o;
    const double dr = rho + z1 * z2 - Z * rho / o;
    g[1 + j] = T(scale * (pi - gamma));
    g[1 + M + j] = T(-scale * gamma * dmu1);
    g[1 + 2 * M + j] = T(-scale * gamma * dmu2);
    g[1 + 3 * M + j] = T(-scale * gamma * ds1);
    g[1 + 4 * M + j] = T(-scale * gamma * ds2);
    g[1 + 5 * M + j] = T(-scale * gamma * dr);
  }
  return nll;
}

void check_mdn(const Shape& ps, const Shape& ts, const Shape* ws) {
  const char* op = "mdn_loss";
  if (ps.nd != 2) shape_error(op, "params must be [N, 6M+1], got " + ps.str());
  mdn_components(ps[1]);
  if (ts.nd != 2 || ts[0] != ps[0] || ts[1] != 3)
    shape_error(op, "target must be [N, 3] = [" + std::to_string(ps[0]) + ", 3] for params " + ps.str() + ", got " + ts.str());
  if (ws && (ws->numel() != ps[0]))
    shape_error(op, "weights need one value per row (" + std::to_string(ps[0]) + "), got " + ws->str());
}

}  // namespace

i64 mdn_components(i64 width) {
  if (width < 7 || (width - 1) % 6 != 0)
    shape_error("mdn", "params width must be 6M + 1 with M >= 1 (7, 13, ..., 121 for 20 components), got " + std::to_string(width));
  return (width - 1) / 6;
}

void mdn_nll_rows(const Tensor& params, const Tensor& target, double* out) {
  check_mdn(params.shape(), target.shape(), nullptr);
  const i64 N = params.dim(0), W = params.dim(1), M = mdn_components(W);
  dispatch_float(params.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = params.data<T>();
    const T* y = target.data<T>();
    parallel_for(N, 64, [&](i64 lo, i64 hi) {
      std::vector<double> tmp;
      for (i64 r = lo; r < hi; ++r)
        out[r] = mdn_row<T>(p + r * W, M, double(y[r * 3]), double(y[r * 3 + 1]), double(y[r * 3 + 2]), 0, nullptr, tmp);
    });
  });
}

Var mdn_loss(Tape& t, const Var& params, const Tensor& target, const Tensor& weights) {
  Tensor P = params.value();
  check_mdn(P.shape(), target.shape(), &weights.shape());
  if (target.dtype() != P.dtype() || weights.dtype() != P.dtype())
    shape_error("mdn_loss", "target and weights must have the params' dtype");
  const i64 N = P.dim(0);
  std::vector<double> rows(static_cast<std::size_t>(N));
  mdn_nll_rows(P, target, rows.data());
  double total = 0;
  dispatch_float(P.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* w = weights.data<T>();
    for (i64 r = 0; r < N; ++r)  // in row order: deterministic
      if (w[r] != T(0)) total += double(w[r]) * rows[std::size_t(r)];
  });
  Tensor out = t.alloc(Shape{}, P.dtype());
  dispatch_float(P.dtype(), [&](auto tag) { out.data<decltype(tag)>()[0] = decltype(tag)(total); });
  // Saved: params (alias), copies of target and weights (the caller may reuse its buffers).
  Tensor y = t.alloc(target.shape(), target.dtype()), wt = t.alloc(weights.shape(), weights.dtype());
  y.copy_from(target);
  wt.copy_from(weights);
  return t.record("mdn_loss", out, {params}, [params, P, y, wt](const Tensor& dout) {
    if (!params.needs_grad()) return;
    dispatch_float(P.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const i64 N = P.dim(0), W = P.dim(1), M = (W - 1) / 6;
      const double d = double(dout.data<T>()[0]);
      const T* p = P.data<T>();
      const T* yv = y.data<T>();
      const T* w = wt.data<T>();
      T* g = params.grad().template data<T>();
      parallel_for(N, 64, [&](i64 lo, i64 hi) {
        std::vector<double> tmp;
        std::vector<T> row(static_cast<std::size_t>(W));
        for (i64 r = lo; r < hi; ++r) {
          if (w[r] == T(0)) continue;
          mdn_row<T>(p + r * W, M, double(yv[r * 3]), double(yv[r * 3 + 1]), double(yv[r * 3 + 2]), d * double(w[r]), row.data(), tmp);
          for (i64 c = 0; c < W; ++c) g[r * W + c] += row[std::size_t(c)];
        }
      });
    });
  });
}

void mdn_sample_row(const double* p, i64 M, double bias, const double u[4], double out[3]) {
  // Component: π ∝ exp(π̂ (1 + bias)).
  double pmax = -INFINITY;
  for (i64 j = 0; j < M; ++j) pmax = std::max(pmax, p[1 + j] * (1 + bias));
  double sum = 0;
  for (i64 j = 0; j < M; ++j) sum += std::exp(p[1 + j] * (1 + bias) - pmax);
  double acc = u[0] * sum;
  i64 k = M - 1;
  for (i64 j = 0; j < M; ++j) {
    acc -= std::exp(p[1 + j] * (1 + bias) - pmax);
    if (acc < 0) {
      k = j;
      break;
    }
  }
  const double mu1 = p[1 + M + k], mu2 = p[1 + 2 * M + k];
  const double s1 = std::exp(p[1 + 3 * M + k] - bias), s2 = std::exp(p[1 + 4 * M + k] - bias), rho = std::tanh(p[1 + 5 * M + k]);
  // Box-Muller, then correlate.
  const double r = std::sqrt(-2.0 * std::log1p(-u[1])), th = 6.283185307179586 * u[2];
  const double n1 = r * std::cos(th), n2 = r * std::sin(th);
  out[0] = mu1 + s1 * n1;
  out[1] = mu2 + s2 * (rho * n1 + std::sqrt(std::max(0.0, 1.0 - rho * rho)) * n2);
  out[2] = u[3] < 1.0 / (1.0 + std::exp(-p[0])) ? 1.0 : 0.0;
}

}  // namespace ht
