// The fused sequence op against the reference cells (the oracle): outputs, final state and every
// parameter's gradient, in double to 1e-9 and in float to 1e-4 relative; with and without layer
// norm; with input, output and recurrent dropout under the same keys; odd sizes, batch 1,
// sequence length 1, two layers. Plus central differences through the fused node itself
// (initial state and dense input included).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "models/recurrent_stack.h"
#include "models/fused_rnn.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::random_tensor;

namespace {

struct Case {
  i64 B, T, H, K, Nz, V;
  int layers;
};

void randomise(ParamStore& ps, Rng& rng) {
  for (int i = 0; i < ps.size(); ++i) {
    Tensor v = ps.value(i);
    for (i64 k = 0; k < v.numel(); ++k) {
      double x = rng.uniform(-0.6, 0.6);
      if (v.dtype() == DType::F64) v.data<double>()[k] = x;
      else v.data<float>()[k] = float(x);
    }
  }
}

struct PathResult {
  Tensor logits, grads;
  RnnState state;
  Rng::State rng_after;
};

PathResult run_path(RecurrentStack& lm, ParamStore& ps, bool fused, const Tensor& x, const RnnState& s0, const Tensor& R, bool training) {
  lm.set_fused(fused);
  Rng rng(2024);
  Tape t;
  ps.zero_grad();
  PathResult r;
  Var logits = lm.forward(t, ps, x, s0, &r.state, &rng, training);
  t.backward(logits, R);
  r.logits = logits.value().clone();
  r.grads = ps.flat_grads().clone();
  r.rng_after = rng.state();
  return r;
}

void compare(const char* label, CellKind kind, bool ln, const Case& c, DType dt, bool dropout, bool paper_init = false) {
  ParamStore ps(dt);
  RecurrentStackSpec spec;
  spec.cell.kind = kind;
  spec.cell.layer_norm = ln;
  spec.cell.hidden = c.H;
  spec.cell.hyper = c.K;
  spec.cell.embed = c.Nz;
  spec.layers = c.layers;
  spec.symbols = spec.outputs = c.V;
  if (dropout) {
    spec.cell.recurrent_dropout = 0.3;
    spec.cell.hyper_recurrent_dropout = kind == CellKind::HyperLSTM ? 0.25 : 0;
    spec.input_dropout = 0.2;
    spec.output_dropout = 0.35;
  }
  RecurrentStack lm(Scope(ps), spec);
  Rng rng(7);
  ps.finalize(rng);
  if (!paper_init) randomise(ps, rng);  // else Appendix A.2.3's structured init (zeros, 0.1/N_z)
  Tensor x = Tensor::empty({c.T, c.B}, DType::I32);
  for (i64 i = 0; i < x.numel(); ++i) x.data<std::int32_t>()[i] = std::int32_t(rng.below(std::uint64_t(c.V)));
  RnnState s0 = lm.zero_state(c.B, dt);
  for (auto& layer : s0)
    for (auto& v : layer) v.copy_from(random_tensor(v.shape(), rng, -0.5, 0.5, dt));
  Tensor R = random_tensor({c.T * c.B, c.V}, rng, -1, 1, dt);
  PathResult ref = run_path(lm, ps, false, x, s0, R, dropout);
  PathResult fus = run_path(lm, ps, true, x, s0, R, dropout);
  const double atol = dt == DType::F64 ? 1e-9 : 1e-5, rtol = dt == DType::F64 ? 1e-9 : 1e-4;
  std::string name = std::string(label) + " B" + std::to_string(c.B) + " T" + std::to_string(c.T) + " H" + std::to_string(c.H) + " L" +
                     std::to_string(c.layers) + (dt == DType::F64 ? " f64" : " f32") + (dropout ? " dropout" : "");
  CHECK_MESSAGE(check_close(name + " logits", fus.logits, ref.logits, atol, rtol), name);
  for (std::size_t l = 0; l < ref.state.size(); ++l)
    for (std::size_t k = 0; k < ref.state[l].size(); ++k)
      CHECK_MESSAGE(check_close(name + " final state", fus.state[l][k], ref.state[l][k], atol, rtol), name);
  // every parameter's gradient, named
  for (int p = 0; p < ps.size(); ++p) {
    Tensor v = ps.value(p);
    i64 offset = (static_cast<char*>(v.raw()) - static_cast<char*>(ps.flat_values().raw())) / i64(dtype_size(dt));
    Tensor a = fus.grads.view({fus.grads.numel()}).rows(offset, offset + v.numel());
    Tensor e = ref.grads.view({ref.grads.numel()}).rows(offset, offset + v.numel());
    CHECK_MESSAGE(check_close(name + " d/d " + ps.name(p), a, e, atol, rtol), std::string(name + " " + ps.name(p)));
  }
  CHECK(fus.rng_after == ref.rng_after);  // the same number of draws: training continues identically
}

const Case kCases[] = {{3, 5, 7, 4, 3, 6, 1}, {1, 1, 5, 3, 2, 4, 1}, {2, 4, 6, 5, 1, 5, 2}, {4, 3, 9, 6, 2, 7, 1}};

}  // namespace

TEST_CASE("fused LSTM / LN-LSTM / HyperLSTM / LN-HyperLSTM equal the reference cells in double (1e-9)") {
  for (const auto& c : kCases)
    for (bool dropout : {false, true}) {
      compare("lstm", CellKind::LSTM, false, c, DType::F64, dropout);
      compare("ln-lstm", CellKind::LSTM, true, c, DType::F64, dropout);
      compare("hyperlstm", CellKind::HyperLSTM, false, c, DType::F64, dropout);
      compare("ln-hyperlstm", CellKind::HyperLSTM, true, c, DType::F64, dropout);
    }
}

TEST_CASE("fused equals reference from the paper's initialisation, as training starts") {
  const Case c{4, 10, 16, 8, 4, 50, 1};
  for (DType dt : {DType::F64}) {
    compare("lstm init", CellKind::LSTM, false, c, dt, true, true);
    compare("ln-lstm init", CellKind::LSTM, true, c, dt, true, true);
    compare("hyperlstm init", CellKind::HyperLSTM, false, c, dt, true, true);
    compare("ln-hyperlstm init", CellKind::HyperLSTM, true, c, dt, true, true);
  }
}

namespace {

// Largest error of any logit or gradient element, relative to the largest magnitude of that
// tensor in the double-precision truth.
double scaled_error(const ParamStore& ps, const PathResult& r, const ParamStore& ps64, const PathResult& truth) {
  auto err = [](const Tensor& a, i64 aoff, const Tensor& t, i64 toff, i64 n) {
    double m = 1e-30, e = 0;
    for (i64 i = 0; i < n; ++i) m = std::max(m, std::fabs(t.at(toff + i)));
    for (i64 i = 0; i < n; ++i) e = std::max(e, std::fabs(a.at(aoff + i) - t.at(toff + i)));
    return e / m;
  };
  auto offset = [](const ParamStore& s, int p) {
    return (static_cast<char*>(s.value(p).raw()) - static_cast<char*>(s.flat_values().raw())) / i64(dtype_size(s.dtype()));
  };
  double worst = err(r.logits, 0, truth.logits, 0, truth.logits.numel());
  for (int p = 0; p < ps.size(); ++p) worst = std::max(worst, err(r.grads, offset(ps, p), truth.grads, offset(ps64, p), ps.value(p).numel()));
  return worst;
}

}  // namespace

// Largest scaled error against double of the reference float path and of the fused float path,
// for one draw of the parameters, tokens and output gradient.
std::pair<double, double> accuracy_case(const Case& c, bool ln, std::uint64_t seed);

TEST_CASE("from the paper's init, fused float is as accurate as reference float (both against double)") {
  // One draw is not enough to compare two float computations: each error is rounding noise, and
  // over seeds 1-9 (ASan Debug build) the ratio fused / reference ranged from 0.6 to 5.2 for the
  // LN-HyperLSTM and from 0.8 to 5.0 for the HyperLSTM, so any change of summation order could
  // push a single ratio past a fixed bound. The typical error is what must not grow: the median
  // over eight draws of the fused error stays within twice the reference's median, and no draw
  // is far off.
  const Case c{32, 30, 64, 16, 4, 50, 1};
  for (bool ln : {false, true}) {
    std::vector<double> ref, fus;
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
      const auto [e_ref, e_fus] = accuracy_case(c, ln, seed);
      ref.push_back(e_ref);
      fus.push_back(e_fus);
      CHECK(e_fus < 1e-4);
    }
    auto median = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      return 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    const double m_ref = median(ref), m_fus = median(fus);
    MESSAGE(std::string(ln ? "ln-hyperlstm" : "hyperlstm") << " at init, median over 8 draws of the largest scaled error against double: reference "
                                                           << m_ref << ", fused " << m_fus);
    CHECK(m_fus <= 2 * m_ref);
  }
}

std::pair<double, double> accuracy_case(const Case& c, bool ln, std::uint64_t seed) {
  // LN-HyperLSTM at init is ill-conditioned in float: every scaling vector is 0.1, so the gate
  // pre-activations have a variance far below LN's epsilon of 1e-3 and layer norm amplifies
  // rounding. Two float computations then differ by more than 1e-4 (about 1e-3 relative here)
  // in either direction, so the fair test is each against the double-precision truth.
  auto build = [&](ParamStore& ps) {
    RecurrentStackSpec spec;
    spec.cell.kind = CellKind::HyperLSTM;
    spec.cell.layer_norm = ln;
    spec.cell.hidden = c.H;
    spec.cell.hyper = c.K;
    spec.cell.embed = c.Nz;
    spec.cell.recurrent_dropout = 0.1;
    spec.input_dropout = 0.1;
    spec.output_dropout = 0.1;
    spec.symbols = spec.outputs = c.V;
    return RecurrentStack(Scope(ps), spec);
  };
  ParamStore p32(DType::F32), p64(DType::F64);
  RecurrentStack m32 = build(p32), m64 = build(p64);
  Rng rng{seed};
  p32.finalize(rng);
  p64.finalize(rng);
  for (int i = 0; i < p32.size(); ++i) p64.value(i).copy_from(p32.value(i).to(DType::F64));  // the same (float) values
  Tensor x = Tensor::empty({c.T, c.B}, DType::I32);
  for (i64 i = 0; i < x.numel(); ++i) x.data<std::int32_t>()[i] = std::int32_t(rng.below(std::uint64_t(c.V)));
  Tensor R32 = random_tensor({c.T * c.B, c.V}, rng, -1, 1, DType::F32), R64 = R32.to(DType::F64);
  PathResult truth = run_path(m64, p64, false, x, m64.zero_state(c.B, DType::F64), R64, true);
  PathResult ref = run_path(m32, p32, false, x, m32.zero_state(c.B, DType::F32), R32, true);
  PathResult fus = run_path(m32, p32, true, x, m32.zero_state(c.B, DType::F32), R32, true);
  return {scaled_error(p32, ref, p64, truth), scaled_error(p32, fus, p64, truth)};
}

TEST_CASE("fused equals reference in float (1e-4 relative)") {
  for (const auto& c : kCases) {
    compare("lstm", CellKind::LSTM, false, c, DType::F32, true);
    compare("ln-lstm", CellKind::LSTM, true, c, DType::F32, true);
    compare("hyperlstm", CellKind::HyperLSTM, false, c, DType::F32, true);
    compare("ln-hyperlstm", CellKind::HyperLSTM, true, c, DType::F32, true);
  }
}

TEST_CASE("the fused node's gradients match central differences: initial state, dense input, parameters") {
  for (bool hyper : {false, true})
    for (bool ln : {false, true}) {
      ParamStore ps(DType::F64);
      CellSpec spec;
      spec.kind = hyper ? CellKind::HyperLSTM : CellKind::LSTM;
      spec.layer_norm = ln;
      spec.input = 3;
      spec.hidden = 4;
      spec.hyper = 3;
      spec.embed = 2;
      spec.recurrent_dropout = 0.2;
      spec.hyper_recurrent_dropout = hyper ? 0.2 : 0;
      RnnCell cell(Scope(ps, "c."), spec);
      Rng rng(5);
      ps.finalize(rng);
      randomise(ps, rng);
      const i64 T = 3, B = 2;
      std::vector<Tensor> inputs;
      for (auto& s : cell.state_shapes(B)) inputs.push_back(random_tensor(s, rng, -0.5, 0.5));
      inputs.push_back(random_tensor({T * B, 3}, rng));
      std::vector<std::uint64_t> mk = {11, 12, 13}, hk = {21, 22, 23};
      std::string label = std::string(hyper ? "hyperlstm" : "lstm") + (ln ? " ln" : "");
      check_gradients("fused " + label, [&](Tape& t, const std::vector<Var>& v) {
        auto w = cell.bind(t, ps);
        FusedInput in;
        in.steps = T;
        in.batch = B;
        in.dense = v.back();
        std::vector<Var> s0(v.begin(), v.end() - 1);
        return fused_rnn_layer(t, cell, w, in, s0, mk, hk, true, nullptr);
      }, inputs);
    }
}

TEST_CASE("fused_rnn_layer refuses wrong shapes, misbound weights and the HyperRNN") {
  ParamStore ps;
  CellSpec spec;
  spec.kind = CellKind::HyperRNN;
  spec.input = 3;
  spec.hidden = 4;
  RnnCell rnn(Scope(ps, "r."), spec);
  spec.kind = CellKind::LSTM;
  RnnCell lstm(Scope(ps, "l."), spec);
  Rng rng(1);
  ps.finalize(rng);
  Tape t;
  FusedInput in;
  in.steps = 2;
  in.batch = 2;
  in.ids = Tensor::zeros({2, 2}, DType::I32);
  std::vector<Var> s0 = {t.input(Tensor::zeros({2, 4})), t.input(Tensor::zeros({2, 4}))};
  CHECK_THROWS_WITH(fused_rnn_layer(t, rnn, rnn.bind(t, ps), in, s0, {}, {}, false, nullptr), doctest::Contains("HyperRNN"));
  in.ids = Tensor::zeros({3, 2}, DType::I32);
  CHECK_THROWS_WITH(fused_rnn_layer(t, lstm, lstm.bind(t, ps), in, s0, {}, {}, false, nullptr), doctest::Contains("ids must be i32 [2, 2]"));
  in.ids = Tensor::zeros({2, 2}, DType::I32);
  std::vector<Var> bad = {t.input(Tensor::zeros({2, 5})), t.input(Tensor::zeros({2, 4}))};
  CHECK_THROWS_WITH(fused_rnn_layer(t, lstm, lstm.bind(t, ps), in, bad, {}, {}, false, nullptr), doctest::Contains("state 0 is [2, 5]"));
  auto swapped = lstm.bind(t, ps);
  std::swap(swapped.main.w_x, swapped.main.w_h);  // a weight bound to the wrong field is named
  CHECK_THROWS_WITH(fused_rnn_layer(t, lstm, swapped, in, s0, {}, {}, false, nullptr), doctest::Contains("main.w_h is [3, 16]"));
}
