#include "train/handwriting_task.h"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "train/charlm_task.h"
#include "train/config_check.h"
#include "train/stop_signals.h"
#include "train/run_files.h"
#include "plot/plot.h"
#include "train/tasks.h"
#include "engine/ops/mdn.h"

namespace ht {

RecurrentStackSpec handwriting_spec(const Json& cfg) {
  const i64 M = cfg["model"]["mixtures"].get<i64>();
  if (M < 1) throw std::invalid_argument("config key 'model.mixtures' must be at least 1, got " + std::to_string(M));
  if (cfg["model"]["input_dropout"].get<double>() != 0)
    throw std::invalid_argument("config key 'model.input_dropout' must be 0 for handwriting (pen offsets are not symbols)");
  RecurrentStackSpec s = charlm_spec(cfg, 6 * M + 1);
  s.symbols = 0;
  s.features = 3;
  return s;
}

HandwritingTask::HandwritingTask(const Json& cfg, bool load_data)
    : cfg_(cfg), batch_(cfg["train"]["batch"].get<i64>()), seq_(cfg["train"]["seq"].get<i64>()),
      augment_(cfg["train"]["augment"].get<double>()) {
  if (batch_ <= 0) throw std::invalid_argument("config key 'train.batch' must be positive, got " + std::to_string(batch_));
  if (seq_ <= 0) throw std::invalid_argument("config key 'train.seq' must be positive, got " + std::to_string(seq_));
  if (!(augment_ >= 0 && augment_ < 1)) throw std::invalid_argument("config key 'train.augment' must be in [0, 1) (a scaling range)");
  if (cfg["data"].get<std::string>() != "iam_ondb")
    throw std::invalid_argument("config key 'data' must be iam_ondb for the handwriting task, got '" + cfg["data"].get<std::string>() + "'");
  handwriting_spec(cfg);  // checks the model block before any data is read
  if (!load_data) return;
  data_ = std::make_unique<StrokeData>(load_iam_ondb(cfg["data_dir"].get<std::string>(), cfg["min_points"].get<i64>()));
  if (data_->valid.empty())  // an empty split would read as a log-loss of 0
    throw std::invalid_argument("the validation split of iam_ondb in " + data_->source + " holds no line with at least min_points (= " +
                                std::to_string(cfg["min_points"].get<i64>()) + ") points");
}

void HandwritingTask::build(ParamStore& ps) { model_ = std::make_unique<RecurrentStack>(Scope(ps), handwriting_spec(cfg_)); }

std::unique_ptr<Sampler> HandwritingTask::make_sampler(const Shard& shard, std::uint64_t seed) {
  return std::make_unique<StrokeSampler>(*data_, batch_, seq_, augment_, seed, shard);
}

Var HandwritingTask::loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) {
  const i64 T = seq_, B = batch.x.dim(0) / T;
  const DType dt = ps.dtype();
  auto as_dt = [&](const Tensor& x) { return x.dtype() == dt ? x : x.to(dt); };
  RnnState state = model_->zero_state(B, dt);
  Var out = model_->forward_dense(t, ps, t.input(as_dt(batch.x)), T, B, state, nullptr, &rng, true);
  return mdn_loss(t, out, as_dt(batch.y), as_dt(batch.weight));  // weights: the global batch's mean
}

EvalSums handwriting_evaluate(const RecurrentStack& model, const ParamStore& ps, const StrokeData& d, const std::vector<StrokeLine>& lines,
                                i64 batch, i64 seq) {
  if (batch <= 0 || seq <= 0) throw std::invalid_argument("handwriting_evaluate: batch and seq must be positive");
  std::vector<std::size_t> idx(lines.size());
  std::iota(idx.begin(), idx.end(), std::size_t(0));
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return lines[a].count > lines[b].count; });
  const DType dt = ps.dtype();
  EvalSums r;
  double total = 0;
  Tape t;
  std::vector<double> rows;
  for (std::size_t g0 = 0; g0 < idx.size(); g0 += std::size_t(batch)) {
    const i64 B = std::min<i64>(batch, i64(idx.size() - g0));
    i64 tmax = 0;
    for (i64 b = 0; b < B; ++b) tmax = std::max(tmax, lines[idx[g0 + std::size_t(b)]].count - 1);
    RnnState state = model.zero_state(B, dt), next;
    for (i64 s0 = 0; s0 < tmax; s0 += seq) {
      check_stop();  // a signal may end a run's evaluation early (train/stop_signals.h)
      const i64 T = std::min(seq, tmax - s0);
      t.reset();
      Tape::NoGrad ng(t);
      Tensor x = t.alloc_zeros({T * B, 3}, dt), y = t.alloc_zeros({T * B, 3}, dt);
      std::vector<char> real(std::size_t(T * B), 0);
      dispatch_float(dt, [&](auto tag) {
        using F = decltype(tag);
        F* xv = x.data<F>();
        F* yv = y.data<F>();
        for (i64 b = 0; b < B; ++b) {
          const StrokeLine& l = lines[idx[g0 + std::size_t(b)]];
          const float* p = d.points.data() + 3 * l.first;
          for (i64 s = s0; s < std::min(s0 + T, l.count - 1); ++s) {
            const i64 row = (s - s0) * B + b;
            for (int c = 0; c < 3; ++c) xv[3 * row + c] = F(p[3 * s + c]), yv[3 * row + c] = F(p[3 * (s + 1) + c]);
            real[std::size_t(row)] = 1;
          }
        }
      });
      Var out = model.forward_dense(t, ps, t.input(x), T, B, state, &next, nullptr, false);
      state.swap(next);
      rows.resize(std::size_t(T * B));
      mdn_nll_rows(out.value(), y, rows.data());
      for (i64 row = 0; row < T * B; ++row)
        if (real[std::size_t(row)]) total += rows[std::size_t(row)], ++r.items;
    }
  }
  r.loss = r.metric = total;
  r.metric_items = double(lines.size());
  return r;
}

EvalSums HandwritingTask::evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) {
  const auto& all = data_->split(split);
  const i64 batch = cfg_["train"]["eval_batch"].get<i64>(), seq = cfg_["train"]["eval_seq"].get<i64>();
  const i64 limit = cfg_["train"]["eval_lines"].get<i64>();
  const i64 n = quick && limit > 0 && limit < i64(all.size()) ? limit : i64(all.size());
  std::vector<StrokeLine> part(all.begin() + shard.begin(n), all.begin() + shard.end(n));
  return handwriting_evaluate(*model_, ps, *data_, part, batch, seq);
}

std::vector<StrokePoint> handwriting_sample(const RecurrentStack& model, const ParamStore& ps, i64 length, double bias, Rng& rng) {
  if (length < 0) throw std::invalid_argument("handwriting_sample: length must be >= 0");
  if (!(bias >= 0) || !std::isfinite(bias)) throw std::invalid_argument("handwriting_sample: bias must be >= 0 and finite");
  const DType dt = ps.dtype();
  RnnState state = model.zero_state(1, dt), next;
  Tape t;
  std::vector<StrokePoint> out;
  StrokePoint cur{0, 0, 0};
  const i64 W = model.spec().outputs, M = mdn_components(W);
  std::vector<double> p(static_cast<std::size_t>(W));
  while (i64(out.size()) < length) {
    t.reset();
    Tape::NoGrad ng(t);
    Tensor x = t.alloc({1, 3}, dt);
    dispatch_float(dt, [&](auto tag) {
      for (int c = 0; c < 3; ++c) x.data<decltype(tag)>()[c] = decltype(tag)(cur[std::size_t(c)]);
    });
    Var o = model.forward_dense(t, ps, t.input(x), 1, 1, state, &next, nullptr, false);
    state.swap(next);
    for (i64 c = 0; c < W; ++c) p[std::size_t(c)] = o.value().at(c);
    double u[4] = {rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform()}, s[3];
    mdn_sample_row(p.data(), M, bias, u, s);
    cur = {float(s[0]), float(s[1]), float(s[2])};
    out.push_back(cur);
  }
  return out;
}

std::vector<StrokePoint> stroke_line(const StrokeData& d, const StrokeLine& l) {
  std::vector<StrokePoint> out(static_cast<std::size_t>(l.count));
  for (i64 i = 0; i < l.count; ++i)
    for (int c = 0; c < 3; ++c) out[std::size_t(i)][std::size_t(c)] = d.points[std::size_t(3 * (l.first + i) + c)];
  return out;
}

namespace {

// NumPy format 1.0: magic, version, header length (little-endian uint16), a Python dict literal
// padded with spaces and ended by '\n' so the data starts at a multiple of 64 bytes.
std::string npy_header(const std::string& descr, const std::vector<i64>& shape) {
  std::string dims;
  for (i64 d : shape) dims += std::to_string(d) + ", ";
  if (!dims.empty()) dims.pop_back();              // "2, 5, 3," ...
  if (shape.size() > 1) dims.pop_back();           // ... "2, 5, 3"; one dim keeps "(n,)"
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
  while ((10 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::string h = "\x93NUMPY";
  h += char(1), h += char(0), h += char(dict.size() & 0xff), h += char(dict.size() >> 8);
  return h + dict;
}

}  // namespace

void write_strokes(const std::string& path, const std::vector<std::string>& titles, const std::vector<std::vector<StrokePoint>>& seqs,
                   double scale) {
  if (titles.size() != seqs.size()) throw std::invalid_argument("write_strokes: one title per sequence");
  const std::string ext = path.size() >= 5 ? path.substr(path.size() - 5) : "";
  const bool json = ext == ".json", npy = path.size() >= 4 && path.substr(path.size() - 4) == ".npy";
  if (!json && !npy) throw std::invalid_argument("cannot write strokes to " + path + ": the file name must end in .json or .npy");
  auto value = [&](const StrokePoint& p, int c) { return c == 2 ? p[2] : float(p[std::size_t(c)] * scale); };
  if (json) {
    Json out = Json::array();
    for (std::size_t i = 0; i < seqs.size(); ++i) {
      Json pts = Json::array();
      for (const auto& p : seqs[i]) pts.push_back({value(p, 0), value(p, 1), value(p, 2)});
      out.push_back({{"title", titles[i]}, {"points", std::move(pts)}});
    }
    write_text_atomic(path, out.dump() + "\n");
    return;
  }
  std::size_t T = 0;
  for (const auto& s : seqs) T = std::max(T, s.size());
  std::string bytes = npy_header("<f4", {i64(seqs.size()), i64(T), 3});
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& s : seqs)
    for (std::size_t t = 0; t < T; ++t)
      for (int c = 0; c < 3; ++c) {
        const std::uint32_t u = std::bit_cast<std::uint32_t>(t < s.size() ? value(s[t], c) : nan);
        for (int k = 0; k < 4; ++k) bytes += char((u >> (8 * k)) & 0xff);  // little-endian on any machine
      }
  write_text_atomic(path, bytes);
}

std::string HandwritingTask::describe() const {
  return model_ ? model_->describe() + ", mixture density output (" + std::to_string(mdn_components(model_->spec().outputs)) +
                      " bivariate Gaussians + pen)"
                : "unbuilt";
}

std::pair<std::string, i64> HandwritingTask::counted_parameters(const ParamStore& ps) const { return {"whole model", ps.count()}; }

void HandwritingTask::after_training(const ParamStore& ps, const std::string& run_dir) {
  // Two validation lines beside four samples (two at bias 0, two at bias 1), same scale.
  std::vector<std::string> titles;
  std::vector<std::vector<StrokePoint>> seqs;
  for (std::size_t i = 0; i < std::min<std::size_t>(2, data_->valid.size()); ++i) {
    const StrokeLine& l = data_->valid[i];
    titles.push_back("validation " + l.id + ": " + l.text);
    seqs.push_back(stroke_line(*data_, l));
  }
  Rng rng(1);
  for (double bias : {0.0, 1.0})
    for (int k = 0; k < 2; ++k) {
      titles.push_back("sample, 700 points, bias " + std::to_string(int(bias)));
      seqs.push_back(handwriting_sample(*model_, ps, 700, bias, rng));
    }
  plot_strokes(run_dir + "/samples.png", titles, seqs);
}

// Every key the handwriting task reads; the model is built once (shapes only).
static void check_handwriting_config(const ConfigCheck& c) {
  c.one_of("data", {"iam_ondb"});
  c.integer("min_points", 2, 10'000'000);
  check_recurrent_model(c);
  c.integer("model.mixtures", 1, 1000);
  if (c.at("model.input_dropout").get<double>() != 0)
    c.fail("model.input_dropout", "must be 0 for handwriting (pen offsets are not symbols)");
  c.integer("train.batch", 1, kMaxBatch);
  c.integer("train.seq", 1, kMaxLength);
  c.integer("train.eval_batch", 1, kMaxBatch);
  c.integer("train.eval_seq", 1, kMaxLength);
  c.integer("train.eval_lines", 0, 1'000'000'000);
  if (c.number("train.augment", 0, 1) == 1) c.fail("train.augment", "must be in [0, 1) (a scaling range)");
  ParamStore ps;
  RecurrentStack model(Scope(ps), handwriting_spec(c.cfg()));
  check_model_size(c, ps);
}

// IAM-OnDB settings of §4.5 / A.3.5: batch 32, Adam 0.0001, clipping 5.0, keep probability 0.95
// on the output and the candidate (drop 0.05), lines under 300 points left out, random scaling of
// ±10%; hyper cell 128 units, N_z 4; 20 mixture components (the paper's counts).
extern const TaskKind kHandwritingTask = {"handwriting", R"({
  "data": "iam_ondb",
  "min_points": 300,
  "model": {
    "cell": "hyperlstm", "hidden": 900, "hyper": 128, "embed": 4, "layers": 1, "layer_norm": false,
    "input_dropout": 0.0, "output_dropout": 0.05, "recurrent_dropout": 0.05, "hyper_recurrent_dropout": 0.0,
    "ln_eps": 0.001, "forget_bias": 1.0, "fused": true, "mixtures": 20
  },
  "train": {
    "batch": 32, "seq": 300, "steps": 50000, "eval_every": 500, "checkpoint_every": 500,
    "eval_batch": 32, "eval_seq": 200, "eval_lines": 256, "clip": 5.0, "augment": 0.1,
    "lr": {"type": "constant", "lr": 0.0001}
  }
})", [](const Json& cfg, bool load_data) -> std::unique_ptr<Task> { return std::make_unique<HandwritingTask>(cfg, load_data); },
   check_handwriting_config};

}  // namespace ht
