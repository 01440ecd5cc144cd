// Reference recurrent cells and the character language model (paper §3.2, §4.3): gradients of
// every cell against central differences in double, the initial scaling vectors of Appendix
// A.2.3, state carried across segments, batch independence, the layer-norm and dropout switches,
// the parameter counts of Tables 3 and 4, exact resume with the carried state, and a loss that
// falls on real Penn Treebank characters.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "train/charlm_task.h"
#include "train/config.h"
#include "train/trainer.h"
#include "engine/checkpoint.h"
#include "engine/ops/shape_ops.h"
#include "models/recurrent_stack.h"
#include "models/rnn_cells.h"
#include "tests/check.h"
#include "tests/files.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::param_gradient_mismatches;
using ht::test::random_tensor;

namespace {

struct Variant {
  const char* label;
  CellKind kind;
  bool ln;
};
const Variant kVariants[] = {{"lstm", CellKind::LSTM, false},          {"ln-lstm", CellKind::LSTM, true},
                             {"hyperrnn", CellKind::HyperRNN, false},  {"hyperlstm", CellKind::HyperLSTM, false},
                             {"ln-hyperlstm", CellKind::HyperLSTM, true}};

CellSpec small_spec(const Variant& v, i64 input) {
  CellSpec s;
  s.kind = v.kind;
  s.layer_norm = v.ln;
  s.input = input;
  s.hidden = 5;
  s.hyper = 4;
  s.embed = 3;
  return s;
}

void randomise(ParamStore& ps, Rng& rng, double scale = 0.6) {
  for (int i = 0; i < ps.size(); ++i) {
    Tensor v = ps.value(i);
    for (i64 k = 0; k < v.numel(); ++k) {
      if (v.dtype() == DType::F64) v.data<double>()[k] = rng.uniform(-scale, scale);
      else v.data<float>()[k] = float(rng.uniform(-scale, scale));
    }
  }
}

Tensor ids_tensor(const std::vector<int>& v, const Shape& s) {
  Tensor t = Tensor::empty(s, DType::I32);
  for (std::size_t i = 0; i < v.size(); ++i) t.data<std::int32_t>()[i] = v[i];
  return t;
}

// Runs `steps` steps of `cell` and returns every step's h and the final state, concatenated.
Var run_cell(Tape& t, const RnnCell& cell, const ParamStore& ps, const std::vector<CellInput>& xs, std::vector<Var> state,
             Rng* rng, bool training) {
  auto w = cell.bind(t, ps);
  std::vector<Var> outs;
  for (auto& x : xs) {
    state = cell.step(t, w, x, state, rng, training);
    outs.push_back(state[0]);
  }
  for (auto& s : state) outs.push_back(s);
  return concat(t, outs, 1);
}

// DIR/name under this executable's scratch root (removed when it exits), created empty.
std::string temp_dir(const std::string& name) {
  const std::string d = ht::test::scratch_root("rnn") + "/" + name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// A small corpus in the PTB character format under dir/ptb/.
void write_tiny_ptb(const std::string& dir) {
  std::filesystem::create_directories(dir + "/ptb");
  const char* words[] = {"the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "to", "it"};
  Rng rng(5);
  for (const char* split : {"train", "valid", "test"}) {
    std::string text;
    int n = std::string(split) == "train" ? 600 : 120;
    for (int i = 0; i < n; ++i) {
      text += words[rng.below(11)];
      text += i % 9 == 8 ? '\n' : '_';
    }
    std::string out;
    for (char c : text) {
      out += c;
      out += ' ';
    }
    std::ofstream(dir + "/ptb/ptb.char." + split + ".txt") << out;
  }
}

}  // namespace

TEST_CASE("every reference cell's gradients match central differences (double), dense and one-hot input") {
  for (const auto& v : kVariants) {
    for (bool one_hot : {false, true}) {
      const i64 B = 2, X = one_hot ? 6 : 3, T = 3;
      ParamStore ps(DType::F64);
      RnnCell cell(Scope(ps, "c."), small_spec(v, X));
      Rng rng(11);
      ps.finalize(rng);
      randomise(ps, rng);  // away from the structured init, so every path carries gradient
      std::vector<CellInput> xs(T);
      std::vector<Tensor> dense;
      for (i64 s = 0; s < T; ++s) {
        if (one_hot) {
          xs[std::size_t(s)].ids = ids_tensor({int(s % X), int((s + 3) % X)}, {B});
        } else {
          dense.push_back(random_tensor({B, X}, rng));
        }
      }
      std::vector<Tensor> init_state;
      for (auto& shape : cell.state_shapes(B)) init_state.push_back(random_tensor(shape, rng, -0.5, 0.5));
      std::string label = std::string(v.label) + (one_hot ? " one-hot" : " dense");
      // parameters
      i64 bad = param_gradient_mismatches(label, ps, [&](Tape& t) {
        std::vector<CellInput> in = xs;
        for (i64 s = 0; s < T && !one_hot; ++s) in[std::size_t(s)].dense = t.input(dense[std::size_t(s)]);
        std::vector<Var> st;
        for (auto& x : init_state) st.push_back(t.input(x));
        return run_cell(t, cell, ps, in, st, nullptr, false);
      });
      CHECK_MESSAGE(bad == 0, label);
      // the initial state and the dense inputs
      std::vector<Tensor> inputs = init_state;
      for (auto& d : dense) inputs.push_back(d);
      check_gradients(label + " (state, inputs)", [&](Tape& t, const std::vector<Var>& vars) {
        std::vector<Var> st(vars.begin(), vars.begin() + i64(init_state.size()));
        std::vector<CellInput> in = xs;
        for (i64 s = 0; s < T && !one_hot; ++s) in[std::size_t(s)].dense = vars[init_state.size() + std::size_t(s)];
        return run_cell(t, cell, ps, in, st, nullptr, false);
      }, inputs);
    }
  }
}

TEST_CASE("gradients with recurrent dropout in both cells, under the same masks (double)") {
  for (const auto& v : kVariants) {
    if (v.kind == CellKind::HyperRNN) continue;  // no candidate to drop
    ParamStore ps(DType::F64);
    CellSpec spec = small_spec(v, 4);
    spec.recurrent_dropout = 0.3;
    spec.hyper_recurrent_dropout = 0.3;
    RnnCell cell(Scope(ps, "c."), spec);
    Rng rng(12);
    ps.finalize(rng);
    randomise(ps, rng);
    std::vector<CellInput> xs(4);
    for (int s = 0; s < 4; ++s) xs[std::size_t(s)].ids = ids_tensor({s % 4, (s + 1) % 4, 3}, {3});
    i64 bad = param_gradient_mismatches(std::string(v.label) + " dropout", ps, [&](Tape& t) {
      Rng masks(99);  // the same masks at every evaluation
      std::vector<Var> st;
      for (auto& shape : cell.state_shapes(3)) st.push_back(t.input(Tensor::zeros(shape, DType::F64)));
      return run_cell(t, cell, ps, xs, st, &masks, true);
    });
    CHECK(bad == 0);
  }
}

TEST_CASE("Appendix A.2.3: every scaling vector starts at exactly 0.1, and the hyper parts are initialised as written") {
  for (const auto& v : kVariants) {
    if (v.kind == CellKind::LSTM) continue;
    ParamStore ps;
    CellSpec spec = small_spec(v, 7);
    spec.hidden = 16;
    spec.hyper = 8;
    spec.embed = 4;
    RnnCell cell(Scope(ps, "c."), spec);
    Rng rng(3);
    ps.finalize(rng);
    Tape t;
    auto w = cell.bind(t, ps);
    Rng data(4);
    std::vector<Var> st;
    for (auto& shape : cell.state_shapes(2)) st.push_back(t.input(random_tensor(shape, data, -1, 1, DType::F32)));
    CellInput x;
    x.ids = ids_tensor({1, 5}, {2});
    StepTrace trace;
    cell.step(t, w, x, st, nullptr, false, &trace);
    const i64 G = v.kind == CellKind::HyperRNN ? 1 : 4;
    REQUIRE(trace.d_h.shape() == Shape{2, G * 16});
    REQUIRE(trace.d_x.shape() == Shape{2, G * 16});
    for (i64 i = 0; i < trace.d_h.numel(); ++i) {
      CHECK(trace.d_h.at(i) == doctest::Approx(0.1).epsilon(1e-6));
      CHECK(trace.d_x.at(i) == doctest::Approx(0.1).epsilon(1e-6));
    }
    auto all_equal = [&](const Var& p, double value) {
      Tensor tv = p.value();
      for (i64 i = 0; i < tv.numel(); ++i)
        if (tv.at(i) != float(value)) return false;
      return true;
    };
    CHECK(all_equal(w.hyper.zx_w, 0));
    CHECK(all_equal(w.hyper.zx_b, 1));
    CHECK(all_equal(w.hyper.zh_w, 0));
    CHECK(all_equal(w.hyper.zh_b, 1));
    CHECK(all_equal(w.hyper.beta, 0));
    CHECK(all_equal(w.main.b, 0));
    CHECK(all_equal(w.hyper.alpha_h, 0.1 / 4));
    // z_b's projection: normal with std 0.01
    Tensor zb = w.hyper.zb_w.value();
    double ss = 0;
    for (i64 i = 0; i < zb.numel(); ++i) ss += zb.at(i) * zb.at(i);
    CHECK(std::sqrt(ss / double(zb.numel())) == doctest::Approx(0.01).epsilon(0.35));
    // W_h: one orthogonal block per gate (rows of a square block are orthonormal)
    Tensor wh = w.main.w_h.value();
    for (i64 g = 0; g < G; ++g)
      for (i64 r = 0; r < 16; r += 5)
        for (i64 r2 = 0; r2 < 16; r2 += 3) {
          double dot = 0;
          for (i64 c = 0; c < 16; ++c) dot += wh.at(r * G * 16 + g * 16 + c) * wh.at(r2 * G * 16 + g * 16 + c);
          CHECK(dot == doctest::Approx(r == r2 ? 1.0 : 0.0).epsilon(1e-4).scale(1));
        }
  }
}

TEST_CASE("a segment run in two halves with the state carried equals the whole segment, for every cell and 2 layers") {
  for (const auto& v : kVariants) {
    for (int layers : {1, 2})
    for (bool fused : {false, true}) {
      ParamStore ps(DType::F64);
      RecurrentStackSpec spec;
      spec.cell = small_spec(v, 0);
      spec.fused = fused;
      spec.layers = layers;
      spec.symbols = spec.outputs = 7;
      RecurrentStack lm(Scope(ps), spec);
      Rng rng(21);
      ps.finalize(rng);
      randomise(ps, rng);
      const i64 T = 6, B = 3;
      std::vector<int> ids;
      for (i64 i = 0; i < T * B; ++i) ids.push_back(int(rng.below(7)));
      Tensor all = ids_tensor(ids, {T, B});
      RnnState s0 = lm.zero_state(B, DType::F64), whole_state, half_state, end_state;
      Tape t;
      Tensor whole = lm.forward(t, ps, all, s0, &whole_state, nullptr, false).value().clone();
      Tape t1, t2;
      Tensor first = lm.forward(t1, ps, all.rows(0, 2), s0, &half_state, nullptr, false).value();
      Tensor second = lm.forward(t2, ps, all.rows(2, T), half_state, &end_state, nullptr, false).value();
      std::string label = std::string(v.label) + " x" + std::to_string(layers) + (fused ? " fused" : " reference");
      CHECK(check_close(label + " first half", first, whole.rows(0, 2 * B), 1e-12, 1e-12));
      CHECK(check_close(label + " second half", second, whole.rows(2 * B, T * B), 1e-12, 1e-12));
      for (int l = 0; l < layers; ++l)
        for (std::size_t k = 0; k < whole_state[std::size_t(l)].size(); ++k)
          CHECK(check_close(label + " final state", end_state[std::size_t(l)][k], whole_state[std::size_t(l)][k], 1e-12, 1e-12));
    }
  }
}

TEST_CASE("a stream's outputs do not depend on the other streams of its batch") {
  for (const auto& v : kVariants)
  for (bool fused : {false, true}) {
    ParamStore ps(DType::F64);
    RecurrentStackSpec spec;
    spec.cell = small_spec(v, 0);
    spec.fused = fused;
    spec.symbols = spec.outputs = 6;
    RecurrentStack lm(Scope(ps), spec);
    Rng rng(31);
    ps.finalize(rng);
    randomise(ps, rng);
    const i64 T = 5, B = 4;
    std::vector<int> ids, mine;
    for (i64 i = 0; i < T * B; ++i) ids.push_back(int(rng.below(6)));
    for (i64 s = 0; s < T; ++s) mine.push_back(ids[std::size_t(s * B + 2)]);  // stream 2 alone
    Tape t, t1;
    Tensor batched = lm.forward(t, ps, ids_tensor(ids, {T, B}), lm.zero_state(B, DType::F64), nullptr, nullptr, false).value();
    Tensor alone = lm.forward(t1, ps, ids_tensor(mine, {T, 1}), lm.zero_state(1, DType::F64), nullptr, nullptr, false).value();
    for (i64 s = 0; s < T; ++s)
      CHECK(check_close(std::string(v.label) + " step " + std::to_string(s), alone.rows(s, s + 1), batched.rows(s * B + 2, s * B + 3),
                        1e-12, 1e-10));
  }
}

TEST_CASE("layer norm and recurrent dropout switch as the config says") {
  Json cfg = config_defaults("charlm");
  cfg["model"]["hidden"] = 6;
  cfg["model"]["hyper"] = 4;
  for (bool ln : {false, true}) {
    cfg["model"]["layer_norm"] = ln;
    RecurrentStackSpec spec = charlm_spec(cfg, 50);
    CHECK(spec.cell.layer_norm == ln);
    CHECK(spec.cell.kind == CellKind::HyperLSTM);
    ParamStore ps;
    RecurrentStack lm(Scope(ps), spec);
    CHECK((ps.find("rnn0.ln_gain") >= 0) == ln);
    CHECK((ps.find("rnn0.hyper.lnc_gain") >= 0) == ln);
    CHECK((ps.find("rnn0.hyper.b") >= 0) == !ln);  // the LN hyper cell has no bias
    CHECK(ps.find("rnn0.b") >= 0);                 // the main bias stays (Table 3 counts it)
  }
  // With layer norm, the gains reach the output; recurrent dropout changes a training run only.
  for (double drop : {0.0, 0.5}) {
    ParamStore ps(DType::F64);
    RecurrentStackSpec spec;
    spec.cell = small_spec(kVariants[4], 0);
    spec.cell.recurrent_dropout = drop;
    spec.symbols = spec.outputs = 5;
    RecurrentStack lm(Scope(ps), spec);
    Rng rng(41);
    ps.finalize(rng);
    randomise(ps, rng);
    Tensor x = ids_tensor({0, 1, 2, 3, 4, 0}, {3, 2});
    Tape a, b;
    Rng r1(1);
    Tensor eval = lm.forward(a, ps, x, lm.zero_state(2, DType::F64), nullptr, nullptr, false).value();
    Tensor train = lm.forward(b, ps, x, lm.zero_state(2, DType::F64), nullptr, &r1, true).value();
    i64 differ = 0;
    for (i64 i = 0; i < eval.numel(); ++i) differ += eval.at(i) != train.at(i);
    if (drop == 0) CHECK(differ == 0);
    else CHECK(differ > 0);
    Tensor gain = ps.value(ps.index("rnn0.ln_gain"));
    gain.data<double>()[0] += 0.5;
    Tape c;
    Tensor moved = lm.forward(c, ps, x, lm.zero_state(2, DType::F64), nullptr, nullptr, false).value();
    differ = 0;
    for (i64 i = 0; i < eval.numel(); ++i) differ += eval.at(i) != moved.at(i);
    CHECK(differ > 0);
  }
  cfg["model"]["cell"] = "gru";
  CHECK_THROWS_WITH(charlm_spec(cfg, 50), doctest::Contains("unknown cell 'gru'"));
}

TEST_CASE("parameter counts: every Table 3 and Table 4 config within 0.5% of the paper, exact where paper-notes computes it") {
  struct Row { const char* path; i64 exact; double paper_millions; };
  const Row rows[] = {
      {"configs/ptb/lstm-1000.json", 4254050, 4.25},
      {"configs/ptb/lstm-1250.json", 6567550, 6.57},
      {"configs/ptb/lstm-2layer-1000.json", 12258050, 12.26},
      {"configs/ptb/ln-lstm-1000.json", 0, 4.26},
      {"configs/ptb/hyperlstm-1000.json", 4911874, 4.91},
      {"configs/ptb/ln-hyperlstm-1000.json", 4922642, 4.92},
      {"configs/ptb/ln-hyperlstm-1000-large-embedding.json", 0, 5.06},
      {"configs/ptb/ln-hyperlstm-2layer-1000.json", 14406690, 14.41},
      {"configs/enwik8/lstm-1800.json", 14812405, 14.81},
      {"configs/enwik8/lstm-2000.json", 18058205, 18.06},
      {"configs/enwik8/ln-lstm-1800.json", 0, 14.82},
      {"configs/enwik8/hyperlstm-1800.json", 18708213, 18.71},
      {"configs/enwik8/ln-hyperlstm-1800.json", 0, 18.78},
      {"configs/enwik8/ln-hyperlstm-2048.json", 26539725, 26.54},
  };
  for (const auto& r : rows) {
    Json cfg = load_config(r.path);
    CharLMTask task(cfg, false);
    ParamStore ps;
    task.build(ps);
    const i64 n = ps.count();
    MESSAGE(std::string(r.path) << ": " << n << " parameters (paper " << r.paper_millions << "M)");
    if (r.exact) CHECK(n == r.exact);
    CHECK(std::fabs(double(n) / 1e6 - r.paper_millions) / r.paper_millions <= 0.005);
    CHECK(cfg["paper"]["parameters"].get<std::string>() == std::to_string(r.paper_millions).substr(0, std::to_string(r.paper_millions).find('.') + 3) + "M");
  }
}

TEST_CASE("a charlm run resumed from its checkpoint continues exactly, carried state included") {
  std::string data = temp_dir("data");
  write_tiny_ptb(data);
  auto config = [&](i64 steps) {
    Json cfg = config_defaults("charlm");
    cfg["name"] = "tiny";
    cfg["data_dir"] = data;
    cfg["model"]["hidden"] = 8;
    cfg["model"]["hyper"] = 4;
    cfg["model"]["embed"] = 2;
    cfg["model"]["layer_norm"] = true;
    cfg["train"]["batch"] = 3;
    cfg["train"]["seq"] = 7;
    cfg["train"]["steps"] = steps;
    cfg["train"]["eval_every"] = 3;
    cfg["train"]["checkpoint_every"] = 3;
    cfg["train"]["eval_batch"] = 2;
    cfg["train"]["eval_seq"] = 10;
    cfg["train"]["threads"] = 1;
    return cfg;
  };
  TrainOptions full;
  full.run_dir = temp_dir("full");
  full.quiet = true;
  full.final_eval = false;
  CharLMTask a(config(8));
  auto whole = run_training(config(8), a, full);
  REQUIRE(whole.losses.size() == 8);

  TrainOptions part = full;
  part.run_dir = temp_dir("part");
  CharLMTask b(config(4));
  auto first = run_training(config(4), b, part);  // stops mid-epoch: state carried in the checkpoint
  part.resume = true;
  CharLMTask c(config(8));
  auto second = run_training(config(8), c, part);
  REQUIRE(second.losses.size() == 4);
  for (int i = 0; i < 4; ++i) CHECK(second.losses[std::size_t(i)] == whole.losses[std::size_t(4 + i)]);
  // The state matters: a model resumed with a zero state would differ. Check the checkpoint holds it.
  Checkpoint ck = load_checkpoint(part.run_dir + "/checkpoint.safetensors");
  bool has_state = false;
  for (auto& [name, tensor] : ck.tensors) has_state |= name.rfind("task.state.layer0.", 0) == 0;
  CHECK(has_state);
}

TEST_CASE("eval bpc: every symbol after each stream's first is scored once, state carried") {
  ParamStore ps(DType::F64);
  RecurrentStackSpec spec;
  spec.cell = small_spec(kVariants[3], 0);
  spec.symbols = spec.outputs = 5;
  RecurrentStack lm(Scope(ps), spec);
  Rng rng(51);
  ps.finalize(rng);
  std::vector<std::int32_t> ids;
  for (int i = 0; i < 101; ++i) ids.push_back(std::int32_t(rng.below(5)));
  // One stream, segments of 7 and of 100: the same number (the state is carried).
  EvalResult a = charlm_evaluate(lm, ps, ids, 1, 7), b = charlm_evaluate(lm, ps, ids, 1, 100);
  CHECK(a.count == 100);
  CHECK(b.count == 100);
  CHECK(a.metric == doctest::Approx(b.metric).epsilon(1e-12));
  CHECK(a.metric == doctest::Approx(a.loss / std::log(2.0)));
  // An untrained model is close to uniform: about log2(5) bits.
  CHECK(a.metric == doctest::Approx(std::log2(5.0)).epsilon(0.1));
}

TEST_CASE("the HyperLSTM's loss falls on real Penn Treebank characters") {
  const char* env = std::getenv("HYPERTRAIN_DATA");
  std::string dir = env && *env ? env : "../shared/data";
  if (!std::filesystem::exists(dir + "/ptb")) {
    MESSAGE("no Penn Treebank under $HYPERTRAIN_DATA or ../shared/data: skipped");
    return;
  }
  Json cfg = load_config("configs/ptb/hyperlstm-1000.json",
                         {"model.hidden=64", "model.hyper=16", "train.batch=16", "train.seq=30", "train.steps=80", "train.eval_every=80",
                          "train.eval_chars=3000", "train.eval_batch=8", "data_dir=\"" + dir + "\""});
  CharLMTask task(cfg);
  CHECK(task.corpus().vocab() == 50);
  TrainOptions o;
  o.run_dir = temp_dir("ptb");
  o.quiet = true;
  o.final_eval = false;
  auto s = run_training(cfg, task, o);
  double first = (s.losses[0] + s.losses[1] + s.losses[2]) / 3, last = (s.losses[77] + s.losses[78] + s.losses[79]) / 3;
  MESSAGE("PTB HyperLSTM 64: loss " << first << " -> " << last << " nats, valid bpc " << s.best_metric);
  CHECK(first == doctest::Approx(std::log(50.0)).epsilon(0.05));
  CHECK(last < 0.8 * first);
  CHECK(s.best_metric < 0.9 * std::log2(50.0));  // uniform guessing is log2(50) = 5.64 bits
}
