#include <doctest/doctest.h>

#include <cstring>

#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/params.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_gradients;

TEST_CASE("a var used twice receives the sum of both gradients") {
  Tape t;
  Tensor xv = Tensor::full({3}, 2.0, DType::F64);
  Var x = t.input(xv, true);
  Var y = add(t, mul(t, x, x), x);  // y = x^2 + x, dy/dx = 2x + 1 = 5
  t.backward(y, Tensor::full({3}, 1.0, DType::F64));
  for (int i = 0; i < 3; ++i) CHECK(x.grad().at(i) == doctest::Approx(5.0));
}

TEST_CASE("no-grad records nothing and the previous mode comes back") {
  Tape t;
  Var x = t.input(Tensor::full({4}, 1.0), true);
  {
    Tape::NoGrad guard(t);
    Var y = sigmoid(t, x);
    Var z = mul(t, y, y);
    (void)z;
    CHECK(t.num_nodes() == 0);
    CHECK_FALSE(z.needs_grad());
  }
  CHECK(t.grad_enabled());
  Var w = sigmoid(t, x);
  CHECK(t.num_nodes() == 1);
  CHECK(w.needs_grad());
}

TEST_CASE("ops on constants are pruned while recording") {
  Tape t;
  Var a = t.input(Tensor::full({2, 2}, 1.0));
  Var b = t.input(Tensor::full({2, 2}, 1.0));
  Var c = matmul(t, a, b);
  CHECK(t.num_nodes() == 0);
  CHECK(c.value().at(0) == 2.0);
}

TEST_CASE("a second backward without reset is refused with a reason") {
  Tape t;
  Var x = t.input(Tensor::full({1}, 3.0), true);
  Var y = mul(t, x, x);
  t.backward(y);
  CHECK(x.grad().at(0) == doctest::Approx(6.0));
  CHECK_THROWS_WITH_AS(t.backward(y), doctest::Contains("called twice"), std::logic_error);
  t.reset();
  CHECK(t.num_vars() == 0);
}

TEST_CASE("backward needs a one-element loss") {
  Tape t;
  Var x = t.input(Tensor::full({2}, 3.0), true);
  CHECK_THROWS_WITH_AS(t.backward(x), doctest::Contains("[2]"), std::invalid_argument);
}

TEST_CASE("the tape's arena stays flat across steps") {
  Tape t;
  Tensor xv = Tensor::full({64, 64}, 0.5);
  std::size_t cap = 0;
  for (int step = 0; step < 5; ++step) {
    t.reset();
    Var x = t.input(xv, true);
    Var y = tanh(t, matmul(t, x, x));
    for (int k = 0; k < 10; ++k) y = mul(t, y, x);
    t.backward(y, Tensor::full({64, 64}, 1.0));
    if (step == 1) cap = t.arena().capacity();
    if (step > 1) CHECK(t.arena().capacity() == cap);
  }
}

TEST_CASE("matmul gradients against central differences, every transpose, odd shapes") {
  Rng rng(7);
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      i64 M = 3, K = 5, N = 7;
      Shape as = ta ? Shape{K, M} : Shape{M, K};
      Shape bs = tb ? Shape{N, K} : Shape{K, N};
      check_gradients("matmul ta=" + std::to_string(ta) + " tb=" + std::to_string(tb),
                      [&](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1], ta, tb); },
                      {test::random_tensor(as, rng), test::random_tensor(bs, rng)});
    }
  check_gradients("batched matmul", [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1], false, true); },
                  {test::random_tensor({2, 3, 4}, rng), test::random_tensor({2, 5, 4}, rng)});
  check_gradients("batched matmul, shared B", [](Tape& t, const std::vector<Var>& v) { return matmul(t, v[0], v[1]); },
                  {test::random_tensor({3, 2, 4}, rng), test::random_tensor({4, 5}, rng)});
}

TEST_CASE("linear against central differences: one node for a 2-D x, matmul + bias_add for a 3-D x") {
  Rng rng(11);
  check_gradients("linear 2-D", [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); },
                  {test::random_tensor({3, 5}, rng), test::random_tensor({5, 7}, rng), test::random_tensor({7}, rng)});
  check_gradients("linear 3-D", [](Tape& t, const std::vector<Var>& v) { return linear(t, v[0], v[1], v[2]); },
                  {test::random_tensor({2, 3, 4}, rng), test::random_tensor({4, 6}, rng), test::random_tensor({6}, rng)});
  // x used twice: its gradient is the sum of both uses, whichever writes first.
  check_gradients("linear, x shared", [](Tape& t, const std::vector<Var>& v) { return add(t, linear(t, v[0], v[1], v[2]), mul(t, v[0], v[0])); },
                  {test::random_tensor({3, 4}, rng), test::random_tensor({4, 4}, rng), test::random_tensor({4}, rng)});
}

TEST_CASE("linear gives matmul + bias_add's gradients bit for bit and its values to rounding (float)") {
  Rng rng(12);
  for (const Shape& xs : {Shape{37, 29}, Shape{300, 1000}}) {
    Tensor X = test::random_tensor(xs, rng).to(DType::F32), W = test::random_tensor({xs.back(), 45}, rng).to(DType::F32),
           Bv = test::random_tensor({45}, rng).to(DType::F32);
    Shape ys = xs;
    ys.d[xs.nd - 1] = 45;
    Tensor R = test::random_tensor(ys, rng).to(DType::F32);
    auto run = [&](bool fused) {
      Tape t;
      Tensor gw = Tensor::zeros(W.shape(), DType::F32), gb = Tensor::zeros(Bv.shape(), DType::F32);  // as a ParamStore's
      Var x = t.input(X, true), w = t.param(W, gw), b = t.param(Bv, gb);
      Var y = fused ? linear(t, x, w, b) : bias_add(t, matmul(t, x, w), b);
      Tensor out = y.value().clone();
      t.backward(y, R);
      return std::vector<Tensor>{out, x.grad().clone(), gw, gb};
    };
    const auto a = run(true), e = run(false);
    for (std::size_t k = 0; k < a.size(); ++k) {
      INFO("x " << xs.str() << ", tensor " << k << " (y, dx, dW, db)");
      REQUIRE(a[k].shape() == e[k].shape());
      if (k > 0) CHECK(std::memcmp(a[k].raw(), e[k].raw(), a[k].nbytes()) == 0);
      else test::check_close("linear y", a[k].to(DType::F64), e[k].to(DType::F64), 1e-5, 1e-5);  // b joins a blocked K's sum earlier
    }
  }
}

TEST_CASE("linear names the shapes that do not fit") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3})), w = t.input(Tensor::zeros({4, 5})), w3 = t.input(Tensor::zeros({3, 5}));
  CHECK_THROWS_WITH_AS(linear(t, x, w, t.input(Tensor::zeros({5}))), doctest::Contains("[4, 5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(linear(t, x, w3, t.input(Tensor::zeros({4}))), doctest::Contains("bias [4]"), std::invalid_argument);
}

TEST_CASE("matmul names both shapes when they do not fit") {
  Tape t;
  Var a = t.input(Tensor::zeros({2, 3}));
  Var b = t.input(Tensor::zeros({4, 5}));
  CHECK_THROWS_WITH_AS(matmul(t, a, b), doctest::Contains("[2, 3]"), std::invalid_argument);
}

TEST_CASE("elementwise gradients against central differences") {
  Rng rng(3);
  Shape s{5, 7};
  auto binop = [&](const char* name, Var (*f)(Tape&, const Var&, const Var&)) {
    check_gradients(std::string(name) + " same", [f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); },
                    {test::random_tensor(s, rng), test::random_tensor(s, rng)});
    check_gradients(std::string(name) + " row", [f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); },
                    {test::random_tensor(s, rng), test::random_tensor({7}, rng)});
    check_gradients(std::string(name) + " scalar", [f](Tape& t, const std::vector<Var>& v) { return f(t, v[0], v[1]); },
                    {test::random_tensor(s, rng), test::random_tensor({1}, rng)});
  };
  binop("add", add);
  binop("sub", sub);
  binop("mul", mul);
  check_gradients("bias_add", [](Tape& t, const std::vector<Var>& v) { return bias_add(t, v[0], v[1]); },
                  {test::random_tensor({3, 2, 5}, rng), test::random_tensor({5}, rng)});
  check_gradients("scale", [](Tape& t, const std::vector<Var>& v) { return scale(t, v[0], -2.5); }, {test::random_tensor(s, rng)});
  check_gradients("add_scalar", [](Tape& t, const std::vector<Var>& v) { return add_scalar(t, v[0], 0.5); }, {test::random_tensor(s, rng)});
  check_gradients("sigmoid", [](Tape& t, const std::vector<Var>& v) { return sigmoid(t, v[0]); }, {test::random_tensor(s, rng, -4, 4)});
  check_gradients("tanh", [](Tape& t, const std::vector<Var>& v) { return tanh(t, v[0]); }, {test::random_tensor(s, rng, -3, 3)});
  check_gradients("exp", [](Tape& t, const std::vector<Var>& v) { return exp(t, v[0]); }, {test::random_tensor(s, rng, -2, 2)});
  check_gradients("log", [](Tape& t, const std::vector<Var>& v) { return log(t, v[0]); }, {test::random_tensor(s, rng, 0.2, 3)});
  // relu: keep inputs away from the kink at 0
  Tensor x = test::random_tensor(s, rng, 0.1, 1);
  for (i64 i = 0; i < x.numel(); i += 2) x.data<double>()[i] *= -1;
  check_gradients("relu", [](Tape& t, const std::vector<Var>& v) { return relu(t, v[0]); }, {x});
}

TEST_CASE("broadcast errors name both shapes") {
  Tape t;
  Var a = t.input(Tensor::zeros({2, 3}));
  Var b = t.input(Tensor::zeros({2}));
  CHECK_THROWS_WITH_AS(add(t, a, b), doctest::Contains("[2, 3]"), std::invalid_argument);
}

TEST_CASE("ParamStore: names unique, views aligned, counts exclude padding") {
  ParamStore ps;
  int a = ps.add("fc.weight", {3, 5}, Init::constant(0.5));
  int b = ps.add("fc.bias", {5}, Init::zeros());
  CHECK_THROWS_WITH(ps.add("fc.bias", {2}, Init::zeros()), doctest::Contains("already defined"));
  Rng rng(1);
  ps.finalize(rng);
  CHECK(ps.count() == 20);
  CHECK(ps.count("fc.w") == 15);
  CHECK(reinterpret_cast<std::uintptr_t>(ps.value(b).raw()) % 64 == 0);
  CHECK(ps.value(a).at(14) == 0.5f);
  CHECK(ps.index("fc.bias") == b);
  CHECK_THROWS_WITH(ps.index("fc.nope"), doctest::Contains("fc.nope"));
}

TEST_CASE("orthogonal init gives orthonormal rows") {
  Tensor w = Tensor::empty({4, 9}, DType::F64);
  Rng rng(5);
  apply_init(Init::orthogonal(), w, rng);
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      double d = 0;
      for (int k = 0; k < 9; ++k) d += w.at(i * 9 + k) * w.at(j * 9 + k);
      CHECK(d == doctest::Approx(i == j ? 1.0 : 0.0).epsilon(1e-9));
    }
}

TEST_CASE("the gradient check catches a wrong backward") {
  // square with a backward that forgets the factor 2
  auto wrong_square = [](Tape& t, const std::vector<Var>& v) {
    Var x = v[0];
    Tensor X = x.value(), Y = t.alloc(X.shape(), X.dtype());
    for (i64 i = 0; i < X.numel(); ++i) Y.data<double>()[i] = X.at(i) * X.at(i);
    return t.record("wrong_square", Y, {x}, [x, X](const Tensor& dout) {
      for (i64 i = 0; i < X.numel(); ++i) x.grad().data<double>()[i] += dout.at(i) * X.at(i);
    });
  };
  Rng rng(9);
  CHECK(test::gradient_mismatches("deliberately wrong", wrong_square, {test::random_tensor({4}, rng, 0.5, 1)}) == 4);
}

TEST_CASE("a value reference stays valid while more ops are recorded") {
  Tape t;
  Var x = t.input(Tensor::full({2}, 1.5), true);
  const Tensor& xv = x.value();
  const Shape& xs = x.shape();
  Var y = x;
  for (int i = 0; i < 5000; ++i) y = add_scalar(t, y, 1.0);  // several slot chunks
  CHECK(xs == Shape{2});
  CHECK(xv.at(1) == 1.5f);
  CHECK(y.value().at(0) == doctest::Approx(5001.5));
}

TEST_CASE("a Var kept across Tape::reset() is refused in Debug builds") {
#ifndef NDEBUG
  Tape t;
  Var kept = t.input(Tensor::full({2}, 1.0), true);  // var 0, generation 0
  CHECK(t.generation() == 0);
  t.reset();
  CHECK(t.generation() == 1);
  Var fresh = t.input(Tensor::full({3}, 2.0), true);  // the new step's var 0: the slot kept points at
  REQUIRE(fresh.id == kept.id);
  auto stale = [](const std::string& where) {
    return doctest::Contains((where + "var 0 was made in tape generation 0 and used in generation 1: it was kept across Tape::reset()").c_str());
  };
  CHECK_THROWS_WITH_AS(kept.value(), stale(""), std::logic_error);
  CHECK_THROWS_WITH_AS(kept.shape(), stale(""), std::logic_error);
  CHECK_THROWS_WITH_AS(kept.grad(), stale(""), std::logic_error);
  CHECK_THROWS_WITH_AS(kept.needs_grad(), stale(""), std::logic_error);
  bool assign = false;
  CHECK_THROWS_WITH_AS(kept.grad_for_write(&assign), stale(""), std::logic_error);
  CHECK_THROWS_WITH_AS(t.record("probe", Tensor::zeros({3}), {fresh, kept}, [](const Tensor&) {}), stale("probe: "), std::logic_error);
  {
    Tape::NoGrad no_grad(t);  // inputs are checked even when nothing is recorded
    CHECK_THROWS_WITH_AS(t.record("probe", Tensor::zeros({3}), {kept}, [](const Tensor&) {}), stale("probe: "), std::logic_error);
  }
  CHECK_THROWS_WITH_AS(t.backward(kept, Tensor::full({3}, 1.0)), stale("backward(): "), std::logic_error);
  // The fresh var works, and a second reset makes it stale in turn.
  CHECK(fresh.value().at(2) == 2.0f);
  t.reset();
  CHECK_THROWS_WITH_AS(fresh.value(), doctest::Contains("made in tape generation 1 and used in generation 2"), std::logic_error);
#else
  MESSAGE("NDEBUG build: the stale-Var check is compiled out (Var has no generation field, accessors check nothing); "
          "the Debug and sanitizer builds run this test");
#endif
}
