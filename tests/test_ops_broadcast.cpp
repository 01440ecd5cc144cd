// Broadcasting add/sub/mul and sum_to: values against an element-by-element reference, gradients
// against central differences (double), results independent of the thread count, errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/ops/broadcast.h"
#include "engine/ops/elementwise.h"
#include "engine/parallel.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::random_tensor;

namespace {

// Flat index into an operand of shape s of output element `flat` of shape out (NumPy's rule: a
// dimension of extent 1, or missing in front, is read at index 0).
i64 source_index(const Shape& out, const Shape& s, i64 flat) {
  i64 idx = 0, stride = 1;
  for (int k = 0; k < out.nd; ++k) {
    i64 e = out[out.nd - 1 - k], i = flat % e;
    flat /= e;
    if (k < s.nd) {
      i64 es = s[s.nd - 1 - k];
      if (es != 1) idx += i * stride;
      stride *= es;
    }
  }
  return idx;
}

Tensor reference_binary(char op, const Tensor& a, const Tensor& b, const Shape& out) {
  Tensor y = Tensor::empty(out, DType::F64);
  for (i64 i = 0; i < out.numel(); ++i) {
    double x = a.at(source_index(out, a.shape(), i)), z = b.at(source_index(out, b.shape(), i));
    y.data<double>()[i] = op == '+' ? x + z : op == '-' ? x - z : x * z;
  }
  return y;
}

Tensor reference_sum_to(const Tensor& x, const Shape& to) {
  Tensor y = Tensor::zeros(to, DType::F64);
  for (i64 i = 0; i < x.numel(); ++i) y.data<double>()[source_index(x.shape(), to, i)] += x.at(i);
  return y;
}

struct Pattern { Shape a, b, out; const char* what; };

std::vector<Pattern> patterns() {
  return {
      {{2, 3, 4, 5}, {1, 3, 1, 1}, {2, 3, 4, 5}, "per-channel bias [1,C,1,1]"},
      {{2, 3, 4, 5}, {3, 1, 1}, {2, 3, 4, 5}, "per-channel bias [C,1,1]"},
      {{3, 1}, {1, 4}, {3, 4}, "both operands broadcast (outer product)"},
      {{2, 1, 4}, {3, 1}, {2, 3, 4}, "both broadcast, ranks differ"},
      {{1, 3, 1, 5}, {2, 1, 4, 1}, {2, 3, 4, 5}, "both broadcast, alternating dimensions"},
      {Shape{}, {2, 3}, {2, 3}, "a is a rank-0 scalar"},
      {{4, 1}, {4, 5}, {4, 5}, "a broadcast along its last dimension"},
      {{5}, {2, 3, 5}, {2, 3, 5}, "a is a row, b full"},
      {{2, 3, 4}, {2, 1, 4}, {2, 3, 4}, "middle dimension"},
      {{2, 3, 4}, {2, 3, 1}, {2, 3, 4}, "last dimension"},
      {{5, 7}, {5, 7}, {5, 7}, "same shape (fast path)"},
      {{5, 7}, {7}, {5, 7}, "row (fast path)"},
      {{2, 3, 5}, {1, 1, 5}, {2, 3, 5}, "row given as [1, 1, C] (fast path)"},
      {{5, 7}, {1}, {5, 7}, "scalar (fast path)"},
  };
}

using BinaryFn = Var (*)(Tape&, const Var&, const Var&);
struct Op { const char* name; char sym; BinaryFn fn; };
const Op kOps[] = {{"add", '+', add}, {"sub", '-', sub}, {"mul", '*', mul}};

}  // namespace

TEST_CASE("broadcast_shape: NumPy's rule, and the error names the op and both shapes") {
  CHECK(broadcast_shape("add", {8, 1, 6, 1}, {7, 1, 5}) == Shape{8, 7, 6, 5});
  CHECK(broadcast_shape("add", {5, 4}, {1}) == Shape{5, 4});
  CHECK(broadcast_shape("add", Shape{}, Shape{}) == Shape{});
  CHECK(broadcast_shape("add", {3, 0}, {1, 1}) == Shape{3, 0});
  CHECK_THROWS_WITH_AS(broadcast_shape("mul", {2, 3}, {4}), doctest::Contains("mul: cannot broadcast [2, 3] with [4]"),
                       std::invalid_argument);
  CHECK(broadcasts_to({1, 3, 1, 1}, {2, 3, 4, 5}));
  CHECK(broadcasts_to(Shape{}, {2, 3}));
  CHECK_FALSE(broadcasts_to({2, 1}, {2, 3, 4}));
  CHECK_FALSE(broadcasts_to({1, 2, 3}, {2, 3}));  // would raise the rank
}

TEST_CASE("add, sub and mul broadcast: result shape and values element by element") {
  Rng rng(21);
  for (const Pattern& p : patterns())
    for (const Op& op : kOps) {
      std::string label = std::string(op.name) + " " + p.a.str() + " with " + p.b.str() + " (" + p.what + ")";
      CAPTURE(label);
      Tensor a = random_tensor(p.a, rng), b = random_tensor(p.b, rng);
      Tape t;
      Var y = op.fn(t, t.input(a), t.input(b));
      REQUIRE(y.shape() == p.out);
      check_close(label, y.value(), reference_binary(op.sym, a, b, p.out), 0, 0);  // the same double operation
      Var yf = op.fn(t, t.input(a.to(DType::F32)), t.input(b.to(DType::F32)));
      check_close(label + " f32", yf.value(), reference_binary(op.sym, a, b, p.out), 1e-6, 1e-6);
    }
}

TEST_CASE("add, sub and mul broadcast: gradients of both operands against central differences") {
  Rng rng(22);
  for (const Pattern& p : patterns())
    for (const Op& op : kOps) {
      BinaryFn fn = op.fn;
      check_gradients(std::string(op.name) + " " + p.a.str() + " with " + p.b.str() + " (" + p.what + ")",
                      [fn](Tape& t, const std::vector<Var>& v) { return fn(t, v[0], v[1]); },
                      {random_tensor(p.a, rng), random_tensor(p.b, rng)});
    }
  // A var read by two broadcasting ops receives the sum of both gradients.
  check_gradients("x [3,1] * (x + y [1,4])", [](Tape& t, const std::vector<Var>& v) {
    return mul(t, v[0], add(t, v[0], v[1]));  // [3,1] * ([3,1] + [1,4]) -> [3,4]
  }, {random_tensor({3, 1}, rng), random_tensor({1, 4}, rng)});
}

TEST_CASE("incompatible shapes: the error names the op and both shapes") {
  Tape t;
  Var a = t.input(Tensor::zeros({2, 3, 4})), b = t.input(Tensor::zeros({3, 3, 1}));
  for (const Op& op : kOps) {
    std::string want = std::string(op.name) + ": cannot broadcast [2, 3, 4] with [3, 3, 1]";
    CHECK_THROWS_WITH_AS(op.fn(t, a, b), doctest::Contains(want.c_str()), std::invalid_argument);
  }
  CHECK_THROWS_WITH_AS(add(t, t.input(Tensor::zeros({2, 3})), t.input(Tensor::zeros({2}))),
                       doctest::Contains("dimension 1 of the result would need 3 and 2"), std::invalid_argument);
}

TEST_CASE("sum_to: values, gradient, and an error naming both shapes") {
  Rng rng(23);
  const Shape from{2, 3, 4, 5};
  const std::vector<Shape> targets = {{1, 3, 1, 1}, {3, 1, 1}, {5}, {1}, Shape{}, {2, 1, 4, 1}, {1, 3, 4, 1}, {2, 3, 4, 5}, {4, 5}};
  for (const Shape& to : targets) {
    std::string label = "sum_to " + from.str() + " -> " + to.str();
    Tensor x = random_tensor(from, rng);
    Tape t;
    Var y = sum_to(t, t.input(x), to);
    REQUIRE(y.shape() == to);
    check_close(label, y.value(), reference_sum_to(x, to), 1e-12, 1e-12);
    check_gradients(label, [to](Tape& tt, const std::vector<Var>& v) { return sum_to(tt, v[0], to); }, {x});
  }
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(sum_to(t, x, {2, 1, 3}), doctest::Contains("cannot sum [2, 3] to [2, 1, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(sum_to(t, x, {3, 1}), doctest::Contains("[3, 1] does not broadcast to [2, 3]"), std::invalid_argument);
}

TEST_CASE("sum_to and the broadcast gradients are the same for 1 and 2 threads, bit for bit") {
  Rng rng(24);
  struct Case { Shape from, to; };
  // Large enough that every branch splits its work: columns of a row sum, outer kept blocks, and
  // one double accumulator per output element.
  const Case cases[] = {{{512, 1024}, {1024}},
                        {{64, 32, 8, 256}, {64, 1, 8, 256}},
                        {{4, 32, 64, 256}, {1, 32, 1, 1}},
                        {{2048, 1024}, {1}}};
  for (const Case& c : cases) {
    Tensor x = random_tensor(c.from, rng, -1, 1, DType::F32), f = random_tensor(c.from, rng, -1, 1, DType::F32);
    auto run = [&](int threads) {
      Threads th(threads);
      Tensor y = Tensor::full(c.to, 0.25, DType::F32);  // accumulates onto what is there
      sum_to_add<float>(y.data<float>(), c.to, x.data<float>(), f.data<float>(), c.from, -1.0f);
      return y;
    };
    Tensor y1 = run(1), y2 = run(2);
    check_close("sum_to " + c.from.str() + " -> " + c.to.str() + " threads", y2, y1, 0, 0);
    Tensor expect = reference_sum_to(x.to(DType::F64), c.to);  // without the factor: a coarse sanity check of the sum
    Tensor y_plain = Tensor::zeros(c.to, DType::F32);
    sum_to_add<float>(y_plain.data<float>(), c.to, x.data<float>(), nullptr, c.from, 1.0f);
    check_close("sum_to " + c.from.str() + " -> " + c.to.str() + " value", y_plain, expect.to(DType::F32), 2e-3, 1e-4);
  }
  // The broadcast add's backward through the op, per-channel bias on a batch of images.
  Tensor img = random_tensor({16, 8, 64, 64}, rng, -1, 1, DType::F32), bias = random_tensor({1, 8, 1, 1}, rng, -1, 1, DType::F32);
  Tensor seed = random_tensor({16, 8, 64, 64}, rng, -1, 1, DType::F32);
  auto grads = [&](int threads) {
    Threads th(threads);
    Tape t;
    Var x = t.input(img, true), b = t.input(bias, true);
    t.backward(mul(t, add(t, x, b), b), seed);
    return std::make_pair(x.grad().clone(), b.grad().clone());
  };
  auto [dx1, db1] = grads(1);
  auto [dx2, db2] = grads(2);
  check_close("broadcast mul/add dx threads", dx2, dx1, 0, 0);
  check_close("broadcast mul/add db threads", db2, db1, 0, 0);
}
