// Test helpers: check_close (max diff and first bad index, like llm.c's check_tensor) and
// check_gradients (analytic vector-Jacobian products against central differences, in double).
#pragma once
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace ht::test {

// Number of elements where |a - e| > atol + rtol * |e| (NaN counts); prints up to ten of them.
inline i64 count_mismatches(const std::string& label, const Tensor& actual, const Tensor& expected, double atol, double rtol,
                            double* max_diff_out = nullptr) {
  if (actual.shape() != expected.shape()) {
    std::fprintf(stderr, "  %s: shape %s vs expected %s\n", label.c_str(), actual.shape().str().c_str(), expected.shape().str().c_str());
    return std::max<i64>(1, expected.numel());
  }
  double max_diff = 0;
  i64 bad = 0;
  for (i64 i = 0; i < actual.numel(); ++i) {
    double a = actual.at(i), e = expected.at(i), d = std::fabs(a - e);
    max_diff = std::max(max_diff, std::isnan(d) ? INFINITY : d);
    if (!(d <= atol + rtol * std::fabs(e))) {
      if (bad < 10) std::fprintf(stderr, "  %s[%lld]: %.10g vs expected %.10g\n", label.c_str(), (long long)i, a, e);
      ++bad;
    }
  }
  if (max_diff_out) *max_diff_out = max_diff;
  return bad;
}

// Passes when |a - e| <= atol + rtol * |e| everywhere; reports the max diff otherwise.
inline bool check_close(const std::string& label, const Tensor& actual, const Tensor& expected, double atol, double rtol) {
  double max_diff = 0;
  i64 bad = count_mismatches(label, actual, expected, atol, rtol, &max_diff);
  CHECK_MESSAGE(bad == 0, label << ": " << bad << " of " << expected.numel() << " elements differ, max diff " << max_diff);
  return bad == 0;
}

inline Tensor random_tensor(const Shape& s, Rng& rng, double lo = -1, double hi = 1, DType dt = DType::F64) {
  Tensor t = Tensor::empty(s, dt);
  for (i64 i = 0; i < t.numel(); ++i) {
    double v = rng.uniform(lo, hi);
    if (dt == DType::F64) t.data<double>()[i] = v; else t.data<float>()[i] = float(v);
  }
  return t;
}

// fn builds an output (any shape) from vars made of `inputs` on a fresh tape. For every input
// whose `wants_grad` is true, compares the gradient of sum(out * R) (R fixed, random) with
// central differences of the same sum. Up to `max_checks` elements per input are sampled.
struct GradCheck {
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-5;
  i64 max_checks = 200;
};

// Returns the number of mismatching gradient elements over all inputs (no assertion).
inline i64 gradient_mismatches(const std::string& label, const std::function<Var(Tape&, const std::vector<Var>&)>& fn,
                               std::vector<Tensor> inputs, std::vector<bool> wants_grad = {}, GradCheck opt = {}) {
  i64 total_bad = 0;
  if (wants_grad.empty()) wants_grad.assign(inputs.size(), true);
  Rng rng(1234);
  Tensor R;
  auto eval = [&](bool record) {
    Tape tape;
    std::vector<Var> vars;
    for (std::size_t k = 0; k < inputs.size(); ++k) vars.push_back(tape.input(inputs[k], record && wants_grad[k]));
    Var out = fn(tape, vars);
    if (!R) R = random_tensor(out.shape(), rng, -1, 1, out.dtype());
    double s = 0;
    for (i64 i = 0; i < out.value().numel(); ++i) s += out.value().at(i) * R.at(i);
    std::vector<Tensor> grads;
    if (record) {
      tape.backward(out, R);
      for (auto& v : vars) grads.push_back(tape.has_grad(v.id) ? v.grad().clone() : Tensor::zeros(v.shape(), v.dtype()));
    }
    return std::make_pair(s, grads);
  };
  auto analytic = eval(true).second;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!wants_grad[k]) continue;
    Tensor& x = inputs[k];
    i64 n = x.numel();
    i64 stride = n > opt.max_checks ? n / opt.max_checks + 1 : 1;
    Tensor num = analytic[k].clone(), ana = analytic[k].clone();
    i64 checked = 0;
    for (i64 i = 0; i < n; i += stride, ++checked) {
      double* p = x.data<double>() + i;
      double orig = *p;
      *p = orig + opt.eps;
      double fp = eval(false).first;
      *p = orig - opt.eps;
      double fm = eval(false).first;
      *p = orig;
      num.data<double>()[checked] = (fp - fm) / (2 * opt.eps);
      ana.data<double>()[checked] = analytic[k].data<double>()[i];
    }
    Tensor a = ana.view({n}).rows(0, checked), e = num.view({n}).rows(0, checked);
    total_bad += count_mismatches(label + ": d/d input " + std::to_string(k), a, e, opt.atol, opt.rtol);
  }
  return total_bad;
}

inline void check_gradients(const std::string& label, const std::function<Var(Tape&, const std::vector<Var>&)>& fn,
                            std::vector<Tensor> inputs, std::vector<bool> wants_grad = {}, GradCheck opt = {}) {
  i64 bad = gradient_mismatches(label, fn, std::move(inputs), std::move(wants_grad), opt);
  CHECK_MESSAGE(bad == 0, label << ": " << bad << " gradient elements disagree with central differences");
}

// Gradient of L = sum(fn(ps) * R) in ps.grad against central differences, for up to
// `max_checks` elements of every parameter of an F64 ParamStore. Returns the mismatch count.
inline i64 param_gradient_mismatches(const std::string& label, ParamStore& ps, const std::function<Var(Tape&)>& fn, i64 max_checks = 12) {
  Rng rng(77);
  Tensor R;
  auto loss = [&](bool record) {
    Tape t;
    Var out = fn(t);
    if (!R) R = random_tensor(out.shape(), rng);
    double s = 0;
    for (i64 i = 0; i < out.value().numel(); ++i) s += out.value().at(i) * R.at(i);
    if (record) {
      ps.zero_grad();
      t.backward(out, R);
    }
    return s;
  };
  const double f0 = loss(true);
  Tensor analytic = ps.flat_grads().clone();
  i64 bad = 0, kinks = 0, checked = 0;
  const double eps = 1e-6;
  for (int p = 0; p < ps.size(); ++p) {
    Tensor v = ps.value(p);
    i64 n = v.numel(), stride = n > max_checks ? n / max_checks + 1 : 1, offset = v.data<double>() - ps.flat_values().data<double>();
    std::vector<double> num, ana;
    for (i64 i = 0; i < n; i += stride) {
      double* x = v.data<double>() + i;
      double orig = *x;
      *x = orig + eps;
      double fp = loss(false);
      *x = orig - eps;
      double fm = loss(false);
      *x = orig;
      ++checked;
      // A ReLU or max-pool kink inside [x - eps, x + eps] makes the one-sided slopes disagree;
      // central differences mean nothing there, so skip the element (and count it).
      double right = (fp - f0) / eps, left = (f0 - fm) / eps;
      if (std::fabs(right - left) > 1e-4 * (1 + std::fabs(right))) {
        ++kinks;
        continue;
      }
      num.push_back((fp - fm) / (2 * eps));
      ana.push_back(analytic.data<double>()[offset + i]);
    }
    Tensor a = Tensor::wrap(ana.data(), {i64(ana.size())}, DType::F64), e = Tensor::wrap(num.data(), {i64(num.size())}, DType::F64);
    bad += count_mismatches(label + ": d/d " + ps.name(p), a, e, 1e-6, 1e-5);
  }
  MESSAGE(label << ": " << checked << " parameter elements checked, " << kinks << " skipped at a kink");
  if (kinks * 10 > checked) ++bad;  // a few kinks are expected, not many
  return bad;
}

}  // namespace ht::test
