#include "train/charlm_task.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "train/config_check.h"
#include "train/run_files.h"
#include "train/stop_signals.h"
#include "train/tasks.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"

namespace ht {

i64 known_vocab(const std::string& data) {
  if (data == "ptb") return 50;
  if (data == "enwik8") return 205;
  throw std::invalid_argument("config key 'data' must be ptb or enwik8 for the charlm task, got '" + data + "'");
}

RecurrentStackSpec charlm_spec(const Json& cfg, i64 vocab) {
  const Json& m = cfg["model"];
  RecurrentStackSpec s;
  s.cell.kind = cell_kind_from_string(m["cell"].get<std::string>());
  s.cell.hidden = m["hidden"].get<i64>();
  s.cell.hyper = m["hyper"].get<i64>();
  s.cell.embed = m["embed"].get<i64>();
  s.cell.layer_norm = m["layer_norm"].get<bool>();
  s.cell.recurrent_dropout = m["recurrent_dropout"].get<double>();
  s.cell.hyper_recurrent_dropout = m["hyper_recurrent_dropout"].get<double>();
  s.cell.ln_eps = m["ln_eps"].get<double>();
  s.cell.forget_bias = m["forget_bias"].get<double>();
  s.layers = m["layers"].get<int>();
  s.symbols = vocab;
  s.outputs = vocab;
  s.input_dropout = m["input_dropout"].get<double>();
  s.output_dropout = m["output_dropout"].get<double>();
  s.fused = m["fused"].get<bool>();
  if (s.cell.hidden <= 0) throw std::invalid_argument("config key 'model.hidden' must be positive");
  return s;
}

CharCorpus load_corpus(const Json& cfg) {
  std::string which = cfg["data"].get<std::string>();
  known_vocab(which);  // names the key on anything else
  if (which == "ptb") return load_ptb_chars(cfg["data_dir"].get<std::string>());
  return load_enwik8(cfg["data_dir"].get<std::string>(), cfg["enwik8_splits"].get<std::vector<i64>>());
}

CharLMTask::CharLMTask(const Json& cfg, bool load_data)
    : cfg_(cfg), batch_(cfg["train"]["batch"].get<i64>()), seq_(cfg["train"]["seq"].get<i64>()) {
  if (batch_ <= 0) throw std::invalid_argument("config key 'train.batch' must be positive, got " + std::to_string(batch_));
  if (seq_ <= 0) throw std::invalid_argument("config key 'train.seq' must be positive, got " + std::to_string(seq_));
  known_vocab(cfg["data"].get<std::string>());
  if (!load_data) return;
  corpus_ = std::make_unique<CharCorpus>(load_corpus(cfg));
  // What the data must hold for this config, checked before any step runs: every stream at least
  // two symbols (an input and its target).
  const std::string in = corpus_->name + " in " + corpus_->source;
  auto need = [&](i64 symbols, i64 streams, const std::string& key, const std::string& what) {
    if (symbols < 2 * streams)
      throw std::invalid_argument("config key '" + key + "' (= " + std::to_string(streams) + ") asks for more streams than the " +
                                  std::to_string(symbols) + " symbols of " + what + " of " + in + " hold (two symbols each at least)");
  };
  need(i64(corpus_->train.size()), batch_, "train.batch", "the training split");
  const i64 limit = cfg["train"]["eval_chars"].get<i64>(), valid = i64(corpus_->valid.size());
  need(limit > 0 ? std::min(limit, valid) : valid, cfg["train"]["eval_batch"].get<i64>(), "train.eval_batch",
       limit > 0 && limit < valid ? "the validation prefix (train.eval_chars)" : "the validation split");
  if (corpus_->test.size() < 2) throw std::invalid_argument("the test split of " + in + " holds fewer than two symbols");
}

void CharLMTask::build(ParamStore& ps) {
  i64 vocab = corpus_ ? corpus_->vocab() : known_vocab(cfg_["data"].get<std::string>());
  model_ = std::make_unique<RecurrentStack>(Scope(ps), charlm_spec(cfg_, vocab));
  state_ = model_->zero_state(batch_, ps.dtype());
}

std::unique_ptr<Sampler> CharLMTask::make_sampler(const Shard& shard, std::uint64_t) {
  auto sampler = std::make_unique<StreamSampler>(corpus_->train, batch_, seq_, shard);
  state_ = model_->zero_state(shard.end(batch_) - shard.begin(batch_), state_.empty() ? DType::F32 : state_[0][0].dtype());
  return sampler;
}

Var CharLMTask::loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) {
  if (batch.restart)  // a new epoch starts every stream from its beginning, with a zero state
    for (auto& layer : state_)
      for (auto& x : layer) x.zero();
  RnnState next;
  Var logits = model_->forward(t, ps, batch.x, state_, &next, &rng, true);
  for (std::size_t l = 0; l < state_.size(); ++l)
    for (std::size_t k = 0; k < state_[l].size(); ++k) state_[l][k].copy_from(next[l][k]);
  Var mean = softmax_cross_entropy(t, logits, batch.y.view({batch.y.numel()}));
  return batch.share == 1.0 ? mean : scale(t, mean, batch.share);
}

namespace {

// Rows [0, n) of every state tensor of `from` into rows [at, at + n) of `to` (dim 0: streams).
void copy_state_rows(const RnnState& from, RnnState& to, i64 at) {
  for (std::size_t l = 0; l < from.size(); ++l)
    for (std::size_t k = 0; k < from[l].size(); ++k) {
      const Tensor& f = from[l][k];
      Tensor& t = to[l][k];
      const std::size_t row = f.nbytes() / std::size_t(f.shape()[0]);
      std::memcpy(static_cast<char*>(t.raw()) + row * std::size_t(at), f.raw(), f.nbytes());
    }
}

// The state of streams [s0, s1) of `ids` (each `len` symbols) after reading, unscored, the `k`
// symbols before each stream's start (the ones before the first stream's come from `before`).
RnnState burned_in_state(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids,
                         const std::vector<std::int32_t>& before, i64 len, i64 s0, i64 s1, i64 k, i64 seq) {
  const i64 B = s1 - s0, nb = i64(before.size());
  RnnState state = model.zero_state(B, ps.dtype()), next;
  Tape t;
  Tensor x;
  for (i64 from = 0; from < k; from += seq) {
    check_stop();
    const i64 T = std::min(seq, k - from);
    x = Tensor::empty({T, B}, DType::I32);
    std::int32_t* xp = x.data<std::int32_t>();
    for (i64 s = 0; s < T; ++s)
      for (i64 b = 0; b < B; ++b) {
        const i64 pos = (s0 + b) * len - k + from + s;  // < 0: in `before`
        xp[s * B + b] = pos >= 0 ? ids[std::size_t(pos)] : before[std::size_t(nb + pos)];
      }
    t.reset();
    Tape::NoGrad ng(t);
    model.forward(t, ps, x, state, &next, nullptr, false);
    state.swap(next);
  }
  return state;
}

}  // namespace

EvalSums charlm_evaluate_sums(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams,
                              i64 seq, const Shard& shard, const StreamStart& start) {
  StreamBatcher b(ids, streams, seq);
  const i64 s0 = shard.begin(streams), s1 = shard.end(streams), B = s1 - s0;
  EvalSums r;
  if (B == 0) return r;  // more processes than streams: this one has none
  const i64 k = start.used();
  // With a burn-in and its zero-state twin wanted, the batch holds the streams twice: rows [0, B)
  // of each time step start from zero, rows [B, 2B) after the burn-in.
  const bool both = k > 0 && start.zero_start;
  const i64 R = both ? 2 * B : B;
  RnnState state = model.zero_state(R, ps.dtype()), next;
  if (k > 0) copy_state_rows(burned_in_state(model, ps, ids, *start.before, b.stream_length(), s0, s1, k, seq), state, R - B);
  Tensor x, y, x2, y2;
  Tape t;
  double total[2] = {0, 0};  // after the burn-in (or from zero when there is none), from zero
  std::vector<double> rows;
  for (i64 s = 0; s < b.segments(); ++s) {
    check_stop();  // a signal may end a run's evaluation early (train/stop_signals.h)
    t.reset();
    Tape::NoGrad ng(t);
    b.get(s, x, y, s0, s1);
    const i64 T = x.shape()[0];
    if (both) {
      x2 = Tensor::empty({T, R}, DType::I32);
      y2 = Tensor::empty({T, R}, DType::I32);
      for (i64 i = 0; i < T * R; ++i) {
        x2.data<std::int32_t>()[i] = x.data<std::int32_t>()[(i / R) * B + (i % R) % B];
        y2.data<std::int32_t>()[i] = y.data<std::int32_t>()[(i / R) * B + (i % R) % B];
      }
    }
    const Tensor& xs = both ? x2 : x;
    const Tensor& ys = both ? y2 : y;
    Var logits = model.forward(t, ps, xs, state, &next, nullptr, false);
    state.swap(next);
    rows.resize(std::size_t(ys.numel()));
    softmax_cross_entropy_rows(logits.value(), ys.view({ys.numel()}), rows.data());
    for (std::size_t i = 0; i < rows.size(); ++i) total[both && i64(i) % R < B ? 1 : 0] += rows[i];
    r.items += double(y.numel());
  }
  auto fill = [](EvalSums& e, double nats, double items) {
    e.loss = nats;
    e.items = e.metric_items = items;
    e.metric = nats / std::log(2.0);  // bits
  };
  fill(r, total[0], r.items);
  if (start.zero_start) {
    if (both) fill(*start.zero_start, total[1], r.items);
    else *start.zero_start = r;  // no burn-in: the two starts are one
  }
  return r;
}

// The final numbers (results.json, `hypertrain eval`) read the whole split as one stream with the
// state carried from its first symbol to its last, as the paper evaluates. Periodic validation
// reads a prefix (train.eval_chars) as train.eval_batch parallel streams, for speed. Cutting a
// split into many streams is not harmless: from a zero state a stream's first symbols are read
// without context, which a model trained with the state carried across a whole epoch rarely meets
// (a layer-norm LSTM of ours read 2.15 bpc as one stream and 4.1 bpc as 1,024 streams of 384
// symbols, and some of its zero-state starts fell into a regime it left only thousands of
// symbols later). So every stream, the final numbers' one too, first reads the
// train.eval_burn_in symbols before it unscored (the previous split's end for the first). With
// that burn-in, many streams read a split as one stream does (ptb-hyperlstm-256 of the demo:
// 2.3003 bpc as 1 and as 128 streams; 2.3036 as 128 streams from zero), so train.final_streams
// may cut the final numbers' split too, to read it with matrix products instead of one stream's
// matrix-vector products.
const std::vector<std::int32_t>& CharLMTask::text_before(const std::string& split) const {
  static const std::vector<std::int32_t> none;
  if (split == "valid") return corpus_->train;
  if (split == "test") return corpus_->valid;
  return none;
}

EvalSums CharLMTask::evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) {
  const auto& all = corpus_->split(split);
  const i64 limit = cfg_["train"]["eval_chars"].get<i64>(), seq = cfg_["train"]["eval_seq"].get<i64>();
  const StreamStart start{cfg_["train"]["eval_burn_in"].get<i64>(), &text_before(split)};
  if (!quick) return charlm_evaluate_sums(*model_, ps, all, cfg_["train"]["final_streams"].get<i64>(), seq, shard, start);
  const i64 streams = cfg_["train"]["eval_batch"].get<i64>();
  if (limit > 0 && limit < i64(all.size())) {
    std::vector<std::int32_t> part(all.begin(), all.begin() + limit);
    return charlm_evaluate_sums(*model_, ps, part, streams, seq, shard, start);
  }
  return charlm_evaluate_sums(*model_, ps, all, streams, seq, shard, start);
}

CharLMTask::Starts CharLMTask::evaluate_starts(const ParamStore& ps, const std::string& split, i64 burn_in, i64 streams) {
  if (burn_in < 0) throw std::invalid_argument("the burn-in must be 0 or more symbols, got " + std::to_string(burn_in));
  if (streams < 1) throw std::invalid_argument("--streams must be 1 or more, got " + std::to_string(streams));
  EvalSums zero;
  const StreamStart start{burn_in, &text_before(split), &zero};
  const EvalSums burned = charlm_evaluate_sums(*model_, ps, corpus_->split(split), streams, cfg_["train"]["eval_seq"].get<i64>(), {}, start);
  return {EvalResult::from(burned), EvalResult::from(zero), start.used()};
}

std::vector<std::int32_t> charlm_sample(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& prime,
                                        i64 length, double temperature, Rng& rng) {
  if (prime.empty()) throw std::invalid_argument("sampling needs a prime of at least one symbol");
  if (temperature < 0) throw std::invalid_argument("temperature must be >= 0");
  RnnState state = model.zero_state(1, ps.dtype()), next;
  Tape t;
  std::vector<std::int32_t> out;
  Tensor x = Tensor::empty({1, 1}, DType::I32);
  const i64 V = model.spec().outputs;
  std::vector<double> p(static_cast<std::size_t>(V));
  std::size_t fed = 0;
  std::int32_t sym = prime[0];
  while (i64(out.size()) < length) {
    t.reset();
    Tape::NoGrad ng(t);
    x.data<std::int32_t>()[0] = sym;
    Var logits = model.forward(t, ps, x, state, &next, nullptr, false);
    state.swap(next);
    ++fed;
    if (fed < prime.size()) {  // still reading the prime
      sym = prime[fed];
      continue;
    }
    const Tensor& L = logits.value();
    i64 best = 0;
    for (i64 v = 1; v < V; ++v)
      if (L.at(v) > L.at(best)) best = v;
    if (temperature == 0) {
      sym = std::int32_t(best);
    } else {
      double sum = 0;
      for (i64 v = 0; v < V; ++v) sum += p[std::size_t(v)] = std::exp((L.at(v) - L.at(best)) / temperature);
      double u = rng.uniform() * sum;
      sym = std::int32_t(V - 1);
      for (i64 v = 0; v < V; ++v) {
        u -= p[std::size_t(v)];
        if (u < 0) {
          sym = std::int32_t(v);
          break;
        }
      }
    }
    out.push_back(sym);
  }
  return out;
}

std::string CharLMTask::describe() const { return model_ ? model_->describe() : "unbuilt"; }

std::pair<std::string, i64> CharLMTask::counted_parameters(const ParamStore& ps) const { return {"whole model", ps.count()}; }

void CharLMTask::after_training(const ParamStore& ps, const std::string& run_dir) {
  // A sample continuing the first characters of the validation text, to read beside the numbers.
  const auto& v = corpus_->valid;
  std::vector<std::int32_t> prime(v.begin(), v.begin() + std::min<std::size_t>(v.size(), 40));
  Rng rng(1);
  auto text = charlm_sample(*model_, ps, prime, 400, 1.0, rng);
  write_text_atomic(run_dir + "/sample.txt", "prime: " + corpus_->decode(prime) + "\n---\n" + corpus_->decode(text) + "\n");
}

NamedTensors CharLMTask::carried_state() {
  NamedTensors out;
  for (std::size_t l = 0; l < state_.size(); ++l)
    for (std::size_t k = 0; k < state_[l].size(); ++k)
      out.emplace_back("state.layer" + std::to_string(l) + "." + std::to_string(k), state_[l][k]);
  return out;
}

void check_recurrent_model(const ConfigCheck& c) {
  const std::string cell = c.one_of("model.cell", {"lstm", "hyperrnn", "hyperlstm"});
  const bool hyper = cell != "lstm";
  c.integer("model.hidden", 1, kMaxWidth);
  c.integer("model.hyper", hyper ? 1 : 0, kMaxWidth);
  c.integer("model.embed", hyper ? 1 : 0, kMaxWidth);
  c.integer("model.layers", 1, kMaxLayers);
  if (c.boolean("model.layer_norm") && cell == "hyperrnn")
    c.fail("model.layer_norm", "must be false for cell 'hyperrnn' (it has no layer-norm variant; use hyperlstm)");
  for (const char* key : {"model.input_dropout", "model.output_dropout", "model.recurrent_dropout", "model.hyper_recurrent_dropout"})
    c.probability(key);
  if (c.number("model.ln_eps", 0, 1) == 0) c.fail("model.ln_eps", "must be above 0");
  c.number("model.forget_bias", -100, 100);
  c.boolean("model.fused");
}

void check_model_size(const ConfigCheck& c, const ParamStore& ps) {
  if (ps.count() > kMaxParameters)
    c.fail("model", "has " + std::to_string(ps.count()) + " parameters, above the limit of " + std::to_string(kMaxParameters));
}

// Every key the character task reads; the model is built once (shapes only).
static void check_charlm_config(const ConfigCheck& c) {
  c.one_of("data", {"ptb", "enwik8"});
  const Json& splits = c.at("enwik8_splits");
  if (!splits.is_array() || splits.size() != 3) c.fail("enwik8_splits", "must be three sizes [train, valid, test]");
  for (const Json& v : splits)
    if (!v.is_number_integer() || v.get<i64>() < 2 || v.get<i64>() > 10'000'000'000)
      c.fail("enwik8_splits", "must hold three integers in [2, 10000000000]");
  check_recurrent_model(c);
  c.integer("train.batch", 1, kMaxBatch);
  c.integer("train.seq", 1, kMaxLength);
  c.integer("train.eval_batch", 1, kMaxBatch);
  c.integer("train.eval_seq", 1, kMaxLength);
  c.integer("train.eval_chars", 0, 10'000'000'000);
  c.integer("train.eval_burn_in", 0, 10'000'000'000);
  c.integer("train.final_streams", 1, kMaxBatch);
  ParamStore ps;  // the model's shapes only: nothing allocated (the task's build would size its state)
  RecurrentStack model(Scope(ps), charlm_spec(c.cfg(), known_vocab(c.at("data").get<std::string>())));
  check_model_size(c, ps);
}

// Penn Treebank settings of §4.3 / A.3.3: batch 128, segments of 100, Adam 0.001, clipping 1.0,
// keep probability 0.9 on input, output and the candidate (drop 0.1).
extern const TaskKind kCharLMTask = {"charlm", R"({
  "data": "ptb",
  "enwik8_splits": [90000000, 5000000, 5000000],
  "model": {
    "cell": "hyperlstm", "hidden": 1000, "hyper": 128, "embed": 4, "layers": 1, "layer_norm": false,
    "input_dropout": 0.1, "output_dropout": 0.1, "recurrent_dropout": 0.1, "hyper_recurrent_dropout": 0.0,
    "ln_eps": 0.001, "forget_bias": 1.0, "fused": true
  },
  "train": {
    "batch": 128, "seq": 100, "steps": 20000, "eval_every": 500, "checkpoint_every": 500,
    "eval_batch": 8, "eval_seq": 100, "eval_chars": 200000, "eval_burn_in": 5000,
    "final_streams": 1, "clip": 1.0
  }
})", [](const Json& cfg, bool load_data) -> std::unique_ptr<Task> { return std::make_unique<CharLMTask>(cfg, load_data); },
   check_charlm_config};

}  // namespace ht
