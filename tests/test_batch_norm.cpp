// The BatchNorm module: parameters and buffers under its scope, running statistics that move in
// training and stay in evaluation, and a checkpoint that carries them to a fresh model.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "engine/checkpoint.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape_ops.h"
#include "engine/optim.h"
#include "models/batch_norm.h"
#include "tests/check.h"
#include "tests/files.h"

using namespace ht;
using ht::test::random_tensor;

namespace {

constexpr i64 kBatch = 16, kIn = 5, kChannels = 3;

// x [N, 5] @ fc.weight [5, 12], viewed [N, 3, 2, 2], then batch norm over the 3 channels.
struct TinyNet {
  int w;
  BatchNorm bn;
  explicit TinyNet(const Scope& s)
      : w(s.sub("fc").param("weight", {kIn, kChannels * 4}, Init::uniform(-1, 1))), bn(s.sub("bn"), kChannels) {}
  Var forward(Tape& t, const ParamStore& ps, const Tensor& x, bool training) const {
    Var h = reshape(t, matmul(t, t.input(x), ps.var(t, w)), {x.dim(0), kChannels, 2, 2});
    return bn.forward(t, ps, h, training);
  }
};

// Inputs with mean 2, so the channels' statistics are far from the buffers' initial 0 and 1.
Tensor batch(Rng& rng) { return random_tensor({kBatch, kIn}, rng, 1, 3, DType::F32); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("BatchNorm: named parameters and buffers, the buffers not counted as trainable") {
  ParamStore ps;
  TinyNet net(Scope(ps, "net."));
  CHECK(ps.find("net.bn.gamma") == net.bn.gamma_id());
  CHECK(ps.find("net.bn.beta") == net.bn.beta_id());
  CHECK(ps.find_buffer("net.bn.running_mean") == net.bn.running_mean_id());
  CHECK(ps.find_buffer("net.bn.running_var") == net.bn.running_var_id());
  CHECK(ps.count() == kIn * kChannels * 4 + 2 * kChannels);
  CHECK(ps.buffer_count() == 2 * kChannels);
  Rng rng(1);
  ps.finalize(rng);
  for (i64 c = 0; c < kChannels; ++c) {
    CHECK(ps.value(net.bn.gamma_id()).at(c) == 1.0f);
    CHECK(ps.value(net.bn.beta_id()).at(c) == 0.0f);
    CHECK(ps.buffer(net.bn.running_mean_id()).at(c) == 0.0f);
    CHECK(ps.buffer(net.bn.running_var_id()).at(c) == 1.0f);
  }
  CHECK_THROWS_WITH_AS(BatchNorm(Scope(ps, "bad."), 0), doctest::Contains("'bad.'"), std::invalid_argument);
}

TEST_CASE("BatchNorm trained a few steps, saved and loaded into a fresh model: same statistics, same eval outputs") {
  ParamStore ps;
  TinyNet net(Scope(ps, "net."));
  Rng rng(5);
  ps.finalize(rng);
  Tensor R = random_tensor({kBatch, kChannels, 2, 2}, rng, -1, 1, DType::F32);
  SGD opt(ps);
  Tape t;
  for (int step = 0; step < 4; ++step) {
    t.reset();
    ps.zero_grad();
    Var y = net.forward(t, ps, batch(rng), true);
    t.backward(mean_all(t, mul(t, y, t.input(R))));
    opt.step(ps, 0.1);
  }
  Tensor mean = ps.buffer(net.bn.running_mean_id()), var = ps.buffer(net.bn.running_var_id());
  for (i64 c = 0; c < kChannels; ++c) {
    CHECK(mean.at(c) != 0.0f);  // moved toward the batches' statistics
    CHECK(var.at(c) != 1.0f);
  }
  CHECK(ps.value(net.bn.beta_id()).at(0) != 0.0f);  // and the parameters trained

  // Evaluation uses the running statistics and changes nothing: y = gamma (h - mean) / sqrt(var + eps) + beta.
  Tensor x = batch(rng);
  Tensor buffers_before = ps.flat_buffers().clone();
  t.reset();
  Tensor y_eval = net.forward(t, ps, x, false).value().clone();
  CHECK(same_bytes(buffers_before, ps.flat_buffers()));
  {
    Tape u;
    Tensor h = reshape(u, matmul(u, u.input(x), ps.var(u, net.w)), {kBatch, kChannels, 2, 2}).value();
    Tensor gamma = ps.value(net.bn.gamma_id()), beta = ps.value(net.bn.beta_id());
    for (i64 i : {i64(0), i64(5), i64(kBatch * kChannels * 4 - 1)}) {
      i64 c = (i / 4) % kChannels;
      double expect = gamma.at(c) * (h.at(i) - mean.at(c)) / std::sqrt(var.at(c) + 1e-5) + beta.at(c);
      CHECK(y_eval.at(i) == doctest::Approx(expect).epsilon(1e-5));
    }
  }

  test::TempDir dir;
  const std::string path = dir / "bn.ckpt";
  save_checkpoint(path, param_tensors(ps), {{"step", 4}});

  ParamStore fresh;
  TinyNet net2(Scope(fresh, "net."));
  Rng other(99);
  fresh.finalize(other);
  CHECK_FALSE(same_bytes(fresh.flat_buffers(), ps.flat_buffers()));
  restore_params(fresh, load_checkpoint(path));
  CHECK(same_bytes(fresh.flat_buffers(), ps.flat_buffers()));
  CHECK(same_bytes(fresh.flat_values(), ps.flat_values()));
  Tape t2;
  CHECK(same_bytes(net2.forward(t2, fresh, x, false).value(), y_eval));

  // A checkpoint without one of the buffers is refused, naming it.
  NamedTensors partial;
  for (auto& nt : param_tensors(ps))
    if (nt.first != "buffer.net.bn.running_var") partial.push_back(nt);
  save_checkpoint(path, partial, {});
  ParamStore third;
  TinyNet net3(Scope(third, "net."));
  third.finalize(other);
  CHECK_THROWS_WITH_AS(restore_params(third, load_checkpoint(path)), doctest::Contains("buffer 'net.bn.running_var'"),
                       std::runtime_error);
}
