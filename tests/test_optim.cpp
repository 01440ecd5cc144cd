#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "engine/optim.h"
#include "engine/parallel.h"
#include "engine/schedule.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_close;

namespace {

// One parameter "w" of the given values.
ParamStore make_store(const std::vector<double>& w, DType dt) {
  ParamStore ps(dt);
  ps.add("w", {i64(w.size())}, Init::zeros());
  Rng rng(1);
  ps.finalize(rng);
  Tensor v = ps.value(0);
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (dt == DType::F64) v.data<double>()[i] = w[i];
    else v.data<float>()[i] = float(w[i]);
  }
  return ps;
}

// A gradient that depends on the parameter: g_i = 2 p_i + 0.1 (i + 1) - 0.3.
double grad_of(double p, std::size_t i) { return 2 * p + 0.1 * double(i + 1) - 0.3; }

void set_grads(ParamStore& ps) {
  Tensor v = ps.value(0), g = ps.grad(0);
  for (i64 i = 0; i < v.numel(); ++i) {
    double gi = grad_of(v.at(i), std::size_t(i));
    if (ps.dtype() == DType::F64) g.data<double>()[i] = gi;
    else g.data<float>()[i] = float(gi);
  }
}

Tensor as_tensor(const std::vector<double>& x) {
  Tensor t = Tensor::empty({i64(x.size())}, DType::F64);
  for (std::size_t i = 0; i < x.size(); ++i) t.data<double>()[i] = x[i];
  return t;
}

const std::vector<double> kW0 = {0.5, -1.25, 2.0};

// Runs 3 steps of `opt` on kW0 and compares with `reference` (which advances p in double).
void run_three_steps(Optimizer& opt, DType dt, const std::vector<double>& lrs,
                     const std::function<void(std::vector<double>&, double)>& reference, double tol,
                     const std::string& label) {
  ParamStore ps = make_store(kW0, dt);
  std::vector<double> p = kW0;
  for (int k = 0; k < 3; ++k) {
    set_grads(ps);
    opt.step(ps, lrs[std::size_t(k)]);
    reference(p, lrs[std::size_t(k)]);
    check_close(label + " step " + std::to_string(k + 1), ps.value(0).to(DType::F64), as_tensor(p), tol, tol);
  }
  CHECK(opt.steps() == 3);
  Tensor flat = ps.flat_values();
  for (i64 i = 3; i < flat.numel(); ++i) CHECK(flat.at(i) == 0.0);  // padding stays zero
}

// PyTorch SGD in double: g = grad + wd p; v = mu v + g; u = nesterov ? g + mu v : v; p -= lr u.
std::function<void(std::vector<double>&, double)> sgd_reference(double mu, bool nesterov, double wd) {
  auto v = std::make_shared<std::vector<double>>(3, 0.0);
  return [=](std::vector<double>& p, double lr) {
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = grad_of(p[i], i) + wd * p[i];
      double u = g;
      if (mu > 0) {
        (*v)[i] = mu * (*v)[i] + g;
        u = nesterov ? g + mu * (*v)[i] : (*v)[i];
      }
      p[i] -= lr * u;
    }
  };
}

std::function<void(std::vector<double>&, double)> adam_reference(double b1, double b2, double eps, double wd) {
  auto m = std::make_shared<std::vector<double>>(3, 0.0);
  auto v = std::make_shared<std::vector<double>>(3, 0.0);
  auto t = std::make_shared<int>(0);
  return [=](std::vector<double>& p, double lr) {
    ++*t;
    for (std::size_t i = 0; i < p.size(); ++i) {
      double g = grad_of(p[i], i) + wd * p[i];
      (*m)[i] = b1 * (*m)[i] + (1 - b1) * g;
      (*v)[i] = b2 * (*v)[i] + (1 - b2) * g * g;
      double mhat = (*m)[i] / (1 - std::pow(b1, *t));
      double vhat = (*v)[i] / (1 - std::pow(b2, *t));
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  };
}

const std::vector<double> kLrs = {0.1, 0.05, 0.2};

}  // namespace

TEST_CASE("SGD without momentum: p -= lr * grad, in f64 and f32") {
  for (DType dt : {DType::F64, DType::F32}) {
    SGD opt;
    run_three_steps(opt, dt, kLrs, sgd_reference(0, false, 0), dt == DType::F64 ? 1e-14 : 1e-6, "sgd");
    CHECK(opt.state().size() == 1);  // only "sgd.t"
  }
}

TEST_CASE("SGD with momentum and with Nesterov momentum follow PyTorch's update") {
  for (DType dt : {DType::F64, DType::F32}) {
    double tol = dt == DType::F64 ? 1e-14 : 1e-6;
    SGD heavy({.momentum = 0.9});
    run_three_steps(heavy, dt, kLrs, sgd_reference(0.9, false, 0), tol, "momentum");
    SGD nesterov({.momentum = 0.9, .nesterov = true});
    run_three_steps(nesterov, dt, kLrs, sgd_reference(0.9, true, 0), tol, "nesterov");
    auto st = nesterov.state();
    REQUIRE(st.size() == 2);
    CHECK(st[0].first == "sgd.t");
    CHECK(st[1].first == "sgd.velocity");
    CHECK(st[1].second.dtype() == dt);
  }
}

TEST_CASE("SGD weight decay adds wd * p to the gradient") {
  SGD plain({.weight_decay = 0.01});
  run_three_steps(plain, DType::F64, kLrs, sgd_reference(0, false, 0.01), 1e-14, "sgd wd");
  SGD nest({.momentum = 0.5, .nesterov = true, .weight_decay = 0.1});
  run_three_steps(nest, DType::F64, kLrs, sgd_reference(0.5, true, 0.1), 1e-14, "nesterov wd");
}

TEST_CASE("SGD options are validated") {
  CHECK_THROWS_WITH_AS(SGD({.momentum = 0, .nesterov = true}), doctest::Contains("nesterov"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(SGD({.momentum = -1}), doctest::Contains("momentum"), std::invalid_argument);
}

TEST_CASE("Adam matches the bias-corrected formulas over three steps") {
  for (DType dt : {DType::F64, DType::F32}) {
    double tol = dt == DType::F64 ? 1e-13 : 2e-6;
    Adam opt;
    run_three_steps(opt, dt, kLrs, adam_reference(0.9, 0.999, 1e-8, 0), tol, "adam");
    Adam odd({.beta1 = 0.5, .beta2 = 0.9, .eps = 1e-3});
    run_three_steps(odd, dt, kLrs, adam_reference(0.5, 0.9, 1e-3, 0), tol, "adam odd betas");
    Adam wd({.weight_decay = 0.05});
    run_three_steps(wd, dt, kLrs, adam_reference(0.9, 0.999, 1e-8, 0.05), tol, "adam wd");
  }
}

TEST_CASE("Adam's first step moves every parameter by about lr, against its gradient") {
  ParamStore ps = make_store(kW0, DType::F64);
  set_grads(ps);
  std::vector<double> g = {ps.grad(0).at(0), ps.grad(0).at(1), ps.grad(0).at(2)};
  Adam opt(ps);
  opt.step(ps, 0.01);
  for (int i = 0; i < 3; ++i) CHECK(ps.value(0).at(i) - kW0[std::size_t(i)] == doctest::Approx(-0.01 * (g[std::size_t(i)] > 0 ? 1 : -1)).epsilon(1e-5));
}

TEST_CASE("Adam's state is named, flat, and carries the step count") {
  ParamStore ps = make_store(kW0, DType::F32);
  Adam opt;
  CHECK_THROWS_AS(opt.state(), std::logic_error);  // no ParamStore seen yet
  set_grads(ps);
  opt.step(ps, 0.1);
  opt.step(ps, 0.1);
  auto st = opt.state();
  REQUIRE(st.size() == 3);
  CHECK(st[0].first == "adam.m");
  CHECK(st[1].first == "adam.v");
  CHECK(st[2].first == "adam.t");
  CHECK(st[0].second.numel() == ps.flat_values().numel());
  CHECK(st[0].second.dtype() == DType::F32);
  CHECK(st[2].second.dtype() == DType::F64);
  CHECK(st[2].second.item() == 2.0);
  CHECK(opt.steps() == 2);
  st[2].second.fill(41);  // a restore writes through the aliases
  CHECK(opt.steps() == 41);
  ParamStore other = make_store(std::vector<double>(20, 1.0), DType::F32);  // 32 padded vs 16
  CHECK_THROWS_AS(opt.step(other, 0.1), std::invalid_argument);  // state sized for another store
}

TEST_CASE("Adam minimises a quadratic spread over two parameters") {
  // f = sum_i a_i (p_i - c_i)^2 over a [3] and a [20000] parameter (several parallel chunks).
  ParamStore ps(DType::F32);
  ps.add("small", {3}, Init::uniform(-1, 1));
  ps.add("big", {100, 200}, Init::uniform(-1, 1));
  Rng rng(5);
  ps.finalize(rng);
  Tensor flat = ps.flat_values();
  i64 n = flat.numel();
  std::vector<double> a(static_cast<std::size_t>(n)), c(static_cast<std::size_t>(n));
  for (i64 i = 0; i < n; ++i) {
    a[std::size_t(i)] = 0.5 + double(i % 7);
    c[std::size_t(i)] = std::sin(double(i));
  }
  auto loss_and_grad = [&]() {
    double f = 0;
    float* p = ps.flat_values().data<float>();
    float* g = ps.flat_grads().data<float>();
    for (int k = 0; k < ps.size(); ++k) {
      i64 off = (static_cast<char*>(ps.value(k).raw()) - static_cast<char*>(flat.raw())) / i64(sizeof(float));
      for (i64 i = off; i < off + ps.value(k).numel(); ++i) {
        double d = double(p[i]) - c[std::size_t(i)];
        f += a[std::size_t(i)] * d * d;
        g[i] = float(2 * a[std::size_t(i)] * d);
      }
    }
    return f;
  };
  Adam opt(ps);
  double f0 = loss_and_grad();
  double f = f0;
  for (int step = 0; step < 600; ++step) {
    opt.step(ps, step < 400 ? 0.05 : 0.005);
    f = loss_and_grad();
  }
  INFO("loss " << f0 << " -> " << f);
  CHECK(f0 > 1000);
  CHECK(f < 1e-3 * f0);
  for (i64 i = 0; i < 3; ++i) CHECK(ps.value(0).at(i) == doctest::Approx(c[std::size_t(i)]).epsilon(0.02));
}

TEST_CASE("the update is the same for 1 and 2 threads") {
  auto run = [](int threads) {
    Threads t(threads);
    ParamStore ps(DType::F32);
    ps.add("w", {300000}, Init::uniform(-1, 1));
    Rng rng(3);
    ps.finalize(rng);
    Rng grng(4);
    float* g = ps.flat_grads().data<float>();
    for (i64 i = 0; i < ps.flat_grads().numel(); ++i) g[i] = float(grng.uniform(-1, 1));
    Adam opt(ps, {.weight_decay = 0.01});
    for (int k = 0; k < 3; ++k) opt.step(ps, 0.01);
    return ps.flat_values().clone();
  };
  Tensor a = run(1), b = run(2);
  CHECK(std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0);
}

TEST_CASE("Adam's update is the same whether its state is streamed past the cache (over 16 MB) or not") {
  // 4 buffers of 1M + 37 floats exceed 16 MB: the large store takes the streaming stores; the same
  // values in stores of 64k (1 MB of state each) take ordinary ones. Same arithmetic, so same bits.
  const i64 n = (i64(1) << 20) + 37, piece = 65536;
  ParamStore big(DType::F32);
  big.add("w", {n}, Init::uniform(-1, 1));
  Rng rng(5);
  big.finalize(rng);
  std::vector<float> p0(static_cast<std::size_t>(n)), g(static_cast<std::size_t>(n));
  Rng grng(6);
  for (i64 i = 0; i < n; ++i) {
    p0[std::size_t(i)] = big.flat_values().data<float>()[i];
    g[std::size_t(i)] = float(grng.uniform(-1, 1));
  }
  Adam opt(big, {.weight_decay = 0.01});
  for (int k = 0; k < 3; ++k) {
    std::memcpy(big.flat_grads().data<float>(), g.data(), std::size_t(n) * sizeof(float));
    opt.step(big, 0.01);
  }
  const auto big_state = opt.state();
  for (i64 lo = 0; lo < n; lo += piece) {
    const i64 len = std::min(piece, n - lo);
    ParamStore small(DType::F32);
    small.add("w", {len}, Init::zeros());
    Rng r0(1);
    small.finalize(r0);
    std::memcpy(small.flat_values().data<float>(), p0.data() + lo, std::size_t(len) * sizeof(float));
    Adam sopt(small, {.weight_decay = 0.01});
    for (int k = 0; k < 3; ++k) {
      std::memcpy(small.flat_grads().data<float>(), g.data() + lo, std::size_t(len) * sizeof(float));
      sopt.step(small, 0.01);
    }
    const auto st = sopt.state();
    INFO("elements " << lo << " to " << lo + len);
    CHECK(std::memcmp(small.flat_values().data<float>(), big.flat_values().data<float>() + lo, std::size_t(len) * 4) == 0);
    for (int b = 0; b < 2; ++b)  // adam.m, adam.v
      CHECK(std::memcmp(st[std::size_t(b)].second.data<float>(), big_state[std::size_t(b)].second.data<float>() + lo,
                        std::size_t(len) * 4) == 0);
  }
}

TEST_CASE("clip_grad_norm scales to max_norm and returns the norm before clipping") {
  ParamStore ps(DType::F64);
  ps.add("a", {1}, Init::zeros());
  ps.add("b", {1}, Init::zeros());
  Rng rng(1);
  ps.finalize(rng);
  ps.grad(0).data<double>()[0] = 3;
  ps.grad(1).data<double>()[0] = 4;
  CHECK(grad_norm(ps) == 5.0);
  CHECK(clip_grad_norm(ps, 10.0) == 5.0);  // under the limit: unchanged
  CHECK(ps.grad(0).at(0) == 3.0);
  CHECK(clip_grad_norm(ps, 1.0) == 5.0);
  CHECK(ps.grad(0).at(0) == doctest::Approx(0.6));
  CHECK(ps.grad(1).at(0) == doctest::Approx(0.8));
  CHECK(grad_norm(ps) == doctest::Approx(1.0));
  for (i64 i = 0; i < ps.flat_grads().numel(); ++i)
    if (i != 0 && i != 8) CHECK(ps.flat_grads().at(i) == 0.0);  // padding
  CHECK_THROWS_AS(clip_grad_norm(ps, 0.0), std::invalid_argument);
}

TEST_CASE("clip_grad_norm leaves non-finite gradients alone and reports the norm") {
  for (double bad : {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::quiet_NaN()}) {
    ParamStore ps = make_store({0, 0, 0}, DType::F32);
    ps.grad(0).data<float>()[0] = 100;
    ps.grad(0).data<float>()[1] = float(bad);
    double n = clip_grad_norm(ps, 1.0);
    CHECK_FALSE(std::isfinite(n));
    CHECK(ps.grad(0).at(0) == 100.0);
  }
}

TEST_CASE("the gradient norm is bit-identical for 1 and 2 threads") {
  ParamStore ps(DType::F32);
  ps.add("x", {1000, 1000}, Init::zeros());
  ps.add("y", {12345}, Init::zeros());
  Rng rng(9);
  ps.finalize(rng);
  float* g = ps.flat_grads().data<float>();
  Rng grng(10);
  for (i64 i = 0; i < ps.flat_grads().numel(); ++i) g[i] = float(grng.normal());
  double naive = 0;
  for (i64 i = 0; i < ps.flat_grads().numel(); ++i) naive += double(g[i]) * double(g[i]);
  double n1, n2, n2b;
  {
    Threads t(1);
    n1 = grad_norm(ps);
  }
  {
    Threads t(2);
    n2 = grad_norm(ps);
    n2b = grad_norm(ps);
  }
  CHECK(n1 == n2);
  CHECK(n2 == n2b);
  CHECK(n1 == doctest::Approx(std::sqrt(naive)).epsilon(1e-12));
}

// ---- schedules ----------------------------------------------------------------------------

TEST_CASE("piecewise constant: values[i] while step < boundaries[i]") {
  PiecewiseConstant s({100, 200}, {0.1, 0.01, 0.001});
  CHECK(s.at(0) == 0.1);
  CHECK(s.at(99) == 0.1);
  CHECK(s.at(100) == 0.01);
  CHECK(s.at(101) == 0.01);
  CHECK(s.at(199) == 0.01);
  CHECK(s.at(200) == 0.001);
  CHECK(s.at(1'000'000'000) == 0.001);
  PiecewiseConstant one({}, {0.5});
  CHECK(one.at(12345) == 0.5);
}

TEST_CASE("piecewise constant refuses bad boundaries and value counts") {
  CHECK_THROWS_WITH_AS(PiecewiseConstant({200, 100}, {1, 2, 3}), doctest::Contains("increasing"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(PiecewiseConstant({100, 100}, {1, 2, 3}), doctest::Contains("increasing"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(PiecewiseConstant({100}, {1, 2, 3}), doctest::Contains("values"), std::invalid_argument);
}

TEST_CASE("exponential decay, smooth and staircase, floored at min") {
  ExponentialDecay s(1.0, 0.5, 10, 0.1);
  CHECK(s.at(0) == 1.0);
  CHECK(s.at(5) == doctest::Approx(std::sqrt(0.5)));
  CHECK(s.at(10) == doctest::Approx(0.5));
  CHECK(s.at(30) == doctest::Approx(0.125));
  CHECK(s.at(40) == 0.1);  // 0.0625 floored
  CHECK(s.at(100000) == 0.1);
  ExponentialDecay stair(1.0, 0.5, 10, 0, true);
  CHECK(stair.at(9) == 1.0);
  CHECK(stair.at(15) == 0.5);
  CHECK(stair.at(20) == 0.25);
  ExponentialDecay paper(0.005, 0.999);
  CHECK(paper.at(1000) == doctest::Approx(0.005 * std::pow(0.999, 1000)));
  CHECK_THROWS_WITH_AS(ExponentialDecay(1, 0.5, 0), doctest::Contains("every"), std::invalid_argument);
}

TEST_CASE("make_schedule builds each type and describe() round-trips") {
  using nlohmann::json;
  auto c = make_schedule(json::parse(R"({"type":"constant","lr":0.001})"));
  CHECK(c->at(0) == 0.001);
  CHECK(c->at(99999) == 0.001);
  auto p = make_schedule(json::parse(R"({"type":"piecewise","boundaries":[10,20],"values":[3,2,1]})"));
  CHECK(p->at(9) == 3);
  CHECK(p->at(10) == 2);
  CHECK(p->at(20) == 1);
  auto e = make_schedule(json::parse(R"({"type":"exponential","lr":0.005,"rate":0.999,"every":1,"min":0.0001})"));
  CHECK(e->at(100) == doctest::Approx(0.005 * std::pow(0.999, 100)));
  CHECK(e->at(1000000) == 0.0001);
  auto e2 = make_schedule(json::parse(R"({"type":"exponential","lr":0.5,"rate":0.5})"));  // every, min default
  CHECK(e2->at(2) == doctest::Approx(0.125));
  for (const LrSchedule* s : {c.get(), p.get(), e.get()}) {
    auto again = make_schedule(s->describe());
    for (i64 step : {0, 1, 9, 10, 11, 20, 500, 100000}) CHECK(again->at(step) == s->at(step));
    CHECK(again->describe() == s->describe());
  }
}

TEST_CASE("make_schedule names the key that is missing or wrong") {
  using nlohmann::json;
  auto throws_naming = [](const char* cfg, const char* key) {
    INFO(cfg);
    CHECK_THROWS_WITH_AS(make_schedule(json::parse(cfg)), doctest::Contains(key), std::invalid_argument);
  };
  throws_naming(R"({"lr":0.1})", "'type'");
  throws_naming(R"({"type":"cosine","lr":0.1})", "cosine");
  throws_naming(R"({"type":"constant"})", "'lr'");
  throws_naming(R"({"type":"constant","lr":"fast"})", "'lr'");
  throws_naming(R"({"type":"constant","lr":0.1,"warmup":5})", "'warmup'");
  throws_naming(R"({"type":"exponential","lr":0.005})", "'rate'");
  throws_naming(R"({"type":"exponential","lr":0.005,"rate":0.9,"every":0.5})", "'every'");
  throws_naming(R"({"type":"piecewise","values":[1]})", "'boundaries'");
  throws_naming(R"({"type":"piecewise","boundaries":[5]})", "'values'");
  throws_naming(R"({"type":"piecewise","boundaries":[5, 3],"values":[1,2,3]})", "increasing");
  throws_naming(R"([1,2])", "object");
}

TEST_CASE("buffers are not trained: optimizers, clipping and zero_grad leave them alone, count() leaves them out") {
  ParamStore ps(DType::F32);
  int w = ps.add("fc.w", {3, 4}, Init::uniform(-1, 1));
  int m = ps.add_buffer("bn.running_mean", {4}, Init::constant(0.5));
  int v = ps.add_buffer("bn.running_var", {4}, Init::constant(2.0));
  Rng rng(3);
  ps.finalize(rng);
  CHECK(ps.count() == 12);
  CHECK(ps.buffer_count() == 8);
  CHECK(ps.num_buffers() == 2);
  CHECK(ps.buffer_name(v) == "bn.running_var");
  CHECK(ps.buffer_index("bn.running_mean") == m);
  CHECK(ps.buffer(m).shape() == Shape{4});
  CHECK(ps.flat_values().numel() == 16);  // 12 padded to one line of 16 floats; no buffer in it
  Tensor before = ps.flat_buffers().clone();
  CHECK(before.at(0) == 0.5f);
  CHECK(before.at(16) == 2.0f);  // each buffer starts 64-byte aligned
  Adam adam(ps);
  SGD sgd(ps, {.momentum = 0.9});
  for (int k = 0; k < 3; ++k) {
    ps.grad(w).fill(1e3);
    clip_grad_norm(ps, 1.0);
    adam.step(ps, 0.1);
    sgd.step(ps, 0.1);
    ps.zero_grad();
  }
  CHECK(ps.value(w).at(0) != 0.0);
  CHECK(std::memcmp(before.raw(), ps.flat_buffers().raw(), before.nbytes()) == 0);
  CHECK(adam.state()[0].second.numel() == ps.flat_values().numel());  // no moment for a buffer
}

TEST_CASE("buffers share the parameters' names, and declaring one changes no parameter's draw") {
  ParamStore ps;
  ps.add("a.w", {2}, Init::zeros());
  ps.add_buffer("a.mean", {2}, Init::zeros());
  CHECK_THROWS_WITH_AS(ps.add_buffer("a.w", {2}, Init::zeros()), doctest::Contains("buffer 'a.w' already defined as a parameter"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ps.add("a.mean", {2}, Init::zeros()), doctest::Contains("parameter 'a.mean' already defined as a buffer"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ps.add_buffer("a.mean", {3}, Init::zeros()), doctest::Contains("buffer 'a.mean' already defined"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(ps.add_buffer("", {3}, Init::zeros()), doctest::Contains("buffer name is empty"), std::invalid_argument);
  CHECK(ps.find_buffer("a.w") == -1);
  CHECK_THROWS_WITH_AS(ps.buffer_index("a.w"), doctest::Contains("'a.w' is a parameter"), std::out_of_range);
  CHECK_THROWS_WITH_AS(ps.index("a.mean"), doctest::Contains("'a.mean' is a buffer"), std::out_of_range);

  auto draw = [](bool with_buffer) {
    ParamStore p;
    if (with_buffer) p.add_buffer("noise", {5}, Init::normal(1.0));  // declared first, drawn last
    p.add("w", {7}, Init::normal(1.0));
    Rng rng(9);
    p.finalize(rng);
    return p.value(0).clone();
  };
  Tensor plain = draw(false), with = draw(true);
  CHECK(std::memcmp(plain.raw(), with.raw(), plain.nbytes()) == 0);
  ParamStore late;
  Rng rng(1);
  late.finalize(rng);
  CHECK_THROWS_WITH_AS(late.add_buffer("x", {1}, Init::zeros()), doctest::Contains("buffer 'x' added after finalize()"),
                       std::logic_error);
}
