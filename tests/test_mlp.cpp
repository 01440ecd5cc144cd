// End to end on the engine: an MLP trained with Adam learns, and the same seed and thread count
// give bit-identical losses.
#include <doctest/doctest.h>

#include <vector>

#include "engine/ops/loss.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "models/mlp.h"

using namespace ht;

// A fixed synthetic task: 8 Gaussian blobs in 32 dimensions.
static void make_task(Tensor& x, Tensor& y, i64 n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<double> centres(8 * 32);
  for (auto& c : centres) c = rng.normal();
  x = Tensor::empty({n, 32});
  y = Tensor::empty({n}, DType::I32);
  for (i64 i = 0; i < n; ++i) {
    int k = int(rng.below(8));
    y.data<std::int32_t>()[i] = k;
    for (int j = 0; j < 32; ++j) x.data<float>()[i * 32 + j] = float(centres[std::size_t(k * 32 + j)] + 0.7 * rng.normal());
  }
}

static std::vector<float> train_losses(int steps, int threads, std::uint64_t seed) {
  Threads th(threads);
  ParamStore ps;
  MLP mlp(Scope(ps, "mlp."), {32, 64, 48, 8});
  Rng rng(seed);
  ps.finalize(rng);
  Adam adam(ps, {});
  Tensor x, y;
  make_task(x, y, 256, 99);
  Tape tape;
  std::vector<float> losses;
  for (int s = 0; s < steps; ++s) {
    tape.reset();
    ps.zero_grad();
    Var loss = softmax_cross_entropy(tape, mlp.forward(tape, ps, tape.input(x)), y);
    tape.backward(loss);
    adam.step(ps, 1e-2);
    losses.push_back(float(loss.value().item()));
  }
  return losses;
}

TEST_CASE("the MLP's parameters are named and counted") {
  ParamStore ps;
  MLP mlp(Scope(ps, "mlp."), {784, 1024, 1024, 10});
  CHECK(ps.size() == 6);
  CHECK(ps.name(0) == "mlp.fc1.weight");
  CHECK(ps.name(5) == "mlp.fc3.bias");
  CHECK(ps.count() == 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10);
}

TEST_CASE("same seed and thread count: bit-identical losses over 20 steps; the loss falls") {
  for (int threads : {1, 2}) {
    auto a = train_losses(20, threads, 5);
    auto b = train_losses(20, threads, 5);
    REQUIRE(a.size() == 20);
    for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i] == b[i]);  // exact, not approximate
    CHECK(a.back() < 0.5f * a.front());
  }
  auto c = train_losses(20, 2, 6);
  CHECK(c.front() != train_losses(20, 2, 5).front());  // the seed matters
}
