// Gradient checks (double precision, central differences) and forward checks for reductions,
// losses, layer norm, shape ops and embedding.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops/elementwise.h"
#include "engine/ops/layer_norm.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape_ops.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_gradients;
using ht::test::random_tensor;

static Tensor ids_tensor(std::initializer_list<int> v, Shape s) {
  Tensor t = Tensor::empty(s, DType::I32);
  int i = 0;
  for (int x : v) t.data<std::int32_t>()[i++] = x;
  return t;
}

TEST_CASE("sum and mean over every axis of a 3-D tensor") {
  Rng rng(11);
  for (int axis = -1; axis < 3; ++axis) {
    check_gradients("sum axis " + std::to_string(axis), [axis](Tape& t, const std::vector<Var>& v) { return sum(t, v[0], axis); },
                    {random_tensor({3, 4, 5}, rng)});
    check_gradients("mean axis " + std::to_string(axis), [axis](Tape& t, const std::vector<Var>& v) { return mean(t, v[0], axis); },
                    {random_tensor({3, 4, 5}, rng)});
  }
  check_gradients("sum_all", [](Tape& t, const std::vector<Var>& v) { return sum_all(t, v[0]); }, {random_tensor({3, 7}, rng)});
  check_gradients("mean_all", [](Tape& t, const std::vector<Var>& v) { return mean_all(t, v[0]); }, {random_tensor({3, 7}, rng)});

  Tape t;
  Tensor x = Tensor::empty({2, 3}, DType::F64);
  for (int i = 0; i < 6; ++i) x.data<double>()[i] = i;  // [[0,1,2],[3,4,5]]
  Var s0 = sum(t, t.input(x), 0), m1 = mean(t, t.input(x), 1);
  CHECK(s0.shape() == Shape{3});
  CHECK(s0.value().at(2) == 7.0);
  CHECK(m1.value().at(1) == 4.0);
  CHECK_THROWS_WITH_AS(sum(t, t.input(x), 2), doctest::Contains("[2, 3]"), std::invalid_argument);
}

TEST_CASE("softmax cross-entropy: value, stability and gradient") {
  Rng rng(12);
  Tensor tg = ids_tensor({0, 3, 2, 1, 4}, {5});
  check_gradients("softmax_cross_entropy", [&](Tape& t, const std::vector<Var>& v) { return softmax_cross_entropy(t, v[0], tg); },
                  {random_tensor({5, 6}, rng, -3, 3)});
  // Uniform logits: loss = log C. Huge logits stay finite.
  Tape t;
  Tensor z = Tensor::full({2, 4}, 1000.0, DType::F32);
  Var l = softmax_cross_entropy(t, t.input(z), ids_tensor({1, 2}, {2}));
  CHECK(l.value().item() == doctest::Approx(std::log(4.0)));
  CHECK_THROWS_WITH_AS(softmax_cross_entropy(t, t.input(z), ids_tensor({1, 4}, {2})), doctest::Contains("target 4 at row 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(softmax_cross_entropy(t, t.input(z), ids_tensor({1}, {1})), doctest::Contains("need 2 targets"),
                       std::invalid_argument);
}

TEST_CASE("log_softmax gradient and normalisation") {
  Rng rng(13);
  check_gradients("log_softmax", [](Tape& t, const std::vector<Var>& v) { return log_softmax(t, v[0]); },
                  {random_tensor({4, 7}, rng, -2, 2)});
  Tape t;
  Var y = log_softmax(t, t.input(random_tensor({3, 5}, rng, -50, 50)));
  for (int r = 0; r < 3; ++r) {
    double s = 0;
    for (int c = 0; c < 5; ++c) s += std::exp(y.value().at(r * 5 + c));
    CHECK(s == doctest::Approx(1.0));
  }
}

TEST_CASE("layer norm: gradients with and without gain and bias; normalised output") {
  Rng rng(14);
  check_gradients("layer_norm", [](Tape& t, const std::vector<Var>& v) { return layer_norm(t, v[0], v[1], v[2], 1e-3); },
                  {random_tensor({6, 9}, rng, -2, 2), random_tensor({9}, rng, 0.5, 1.5), random_tensor({9}, rng)});
  check_gradients("layer_norm, no gain/bias", [](Tape& t, const std::vector<Var>& v) { return layer_norm(t, v[0], Var{}, Var{}, 1e-5); },
                  {random_tensor({2, 3, 5}, rng, -2, 2)});
  Tape t;
  Var y = layer_norm(t, t.input(random_tensor({4, 32}, rng, -5, 9)), Var{}, Var{}, 0.0);
  for (int r = 0; r < 4; ++r) {
    double m = 0, v = 0;
    for (int c = 0; c < 32; ++c) m += y.value().at(r * 32 + c) / 32;
    for (int c = 0; c < 32; ++c) v += std::pow(y.value().at(r * 32 + c) - m, 2) / 32;
    CHECK(m == doctest::Approx(0.0).epsilon(1e-9));
    CHECK(v == doctest::Approx(1.0).epsilon(1e-9));
  }
}

TEST_CASE("shape ops: reshape, transpose, concat, slice, split") {
  Rng rng(15);
  check_gradients("reshape", [](Tape& t, const std::vector<Var>& v) { return tanh(t, reshape(t, v[0], {6, 2})); },
                  {random_tensor({3, 4}, rng)});
  check_gradients("transpose 2-D", [](Tape& t, const std::vector<Var>& v) { return transpose(t, v[0]); }, {random_tensor({3, 5}, rng)});
  check_gradients("transpose 3-D", [](Tape& t, const std::vector<Var>& v) { return transpose(t, v[0]); }, {random_tensor({2, 3, 5}, rng)});
  for (int axis = 0; axis < 3; ++axis) {
    Shape a{2, 3, 4}, b{2, 3, 4};
    b[axis] = 5;
    check_gradients("concat axis " + std::to_string(axis), [axis](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1], v[0]}, axis); },
                    {random_tensor(a, rng), random_tensor(b, rng)});
    check_gradients("slice axis " + std::to_string(axis), [axis](Tape& t, const std::vector<Var>& v) { return slice(t, v[0], axis, 1, 3); },
                    {random_tensor({3, 4, 5}, rng)});
  }
  check_gradients("split", [](Tape& t, const std::vector<Var>& v) {
    auto parts = split(t, v[0], {1, 4, 2}, 1);
    return concat(t, {parts[2], parts[0], parts[1]}, 1);
  }, {random_tensor({3, 7}, rng)});

  Tape t;
  Tensor x = Tensor::empty({2, 3}, DType::F64);
  for (int i = 0; i < 6; ++i) x.data<double>()[i] = i;
  Var xt = transpose(t, t.input(x));
  CHECK(xt.shape() == Shape{3, 2});
  CHECK(xt.value().at(1) == 3.0);  // [[0,3],[1,4],[2,5]]
  Var c = concat(t, {t.input(x), t.input(x)}, 1);
  CHECK(c.value().at(3) == 0.0);
  CHECK(c.value().at(4) == 1.0);
  CHECK_THROWS_WITH_AS(slice(t, t.input(x), 1, 2, 4), doctest::Contains("[2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(split(t, t.input(x), {1, 1}, 1), doctest::Contains("add up to 2"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(concat(t, {t.input(x), t.input(Tensor::zeros({3, 3}, DType::F64))}, 1), doctest::Contains("[3, 3]"),
                       std::invalid_argument);
}

TEST_CASE("embedding: gather forward, scatter-add backward with repeated ids") {
  Rng rng(16);
  Tensor ids = ids_tensor({2, 0, 2, 4, 2, 1}, {2, 3});
  check_gradients("embedding", [&](Tape& t, const std::vector<Var>& v) { return embedding(t, v[0], ids); }, {random_tensor({5, 3}, rng)});
  Tape t;
  Tensor w = random_tensor({5, 3}, rng);
  Var e = embedding(t, t.input(w), ids);
  CHECK(e.shape() == Shape{2, 3, 3});
  CHECK(e.value().at(3 * 3 + 1) == w.at(4 * 3 + 1));
  CHECK_THROWS_WITH_AS(embedding(t, t.input(w), ids_tensor({5}, {1})), doctest::Contains("id 5"), std::invalid_argument);
}
