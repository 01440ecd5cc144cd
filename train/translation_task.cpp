#include "train/translation_task.h"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <stdexcept>

#include "train/charlm_task.h"
#include "train/config_check.h"
#include "train/run_files.h"
#include "train/stop_signals.h"
#include "train/tasks.h"
#include "data/bleu.h"
#include "engine/ops/elementwise.h"

namespace ht {

Seq2SeqSpec translation_spec(const Json& cfg) {
  const Json& m = cfg["model"];
  Seq2SeqSpec s;
  const std::string cell = m["cell"].get<std::string>();
  if (cell == "lstm" || cell == "ln-lstm") s.cell.kind = CellKind::LSTM;
  else if (cell == "hyperlstm" || cell == "ln-hyperlstm") s.cell.kind = CellKind::HyperLSTM;
  else throw std::invalid_argument("config key 'model.cell' must be lstm, ln-lstm, hyperlstm or ln-hyperlstm, got '" + cell + "'");
  s.cell.layer_norm = cell.rfind("ln-", 0) == 0;
  s.cell.hidden = m["hidden"].get<i64>();
  s.cell.hyper = m["hyper"].get<i64>();
  s.cell.embed = m["embed"].get<i64>();
  s.cell.recurrent_dropout = m["recurrent_dropout"].get<double>();
  s.cell.hyper_recurrent_dropout = m["hyper_recurrent_dropout"].get<double>();
  s.cell.ln_eps = m["ln_eps"].get<double>();
  s.cell.forget_bias = m["forget_bias"].get<double>();
  s.source_vocab = s.target_vocab = cfg["bpe"]["vocab"].get<i64>();
  s.embed = m["word_embed"].get<i64>();
  s.encoder_layers = m["encoder_layers"].get<int>();
  s.decoder_layers = m["decoder_layers"].get<int>();
  s.residual_from = m["residual_from"].get<int>();
  s.attention = m["attention"].get<i64>();
  s.dropout = m["dropout"].get<double>();
  s.fused = m["fused"].get<bool>();
  s.bos = Bpe::kBos;
  s.eos = Bpe::kEos;
  return s;
}

SearchOptions search_options(const Json& cfg) {
  const Json& d = cfg["decode"];
  SearchOptions o;
  o.beam = d["beam"].get<int>();
  o.alpha = d["alpha"].get<double>();
  o.beta = d["beta"].get<double>();
  o.max_ratio = d["max_ratio"].get<double>();
  o.max_extra = d["max_extra"].get<i64>();
  if (o.beam < 1) throw std::invalid_argument("config key 'decode.beam' must be at least 1, got " + std::to_string(o.beam));
  return o;
}

TranslationTask::TranslationTask(const Json& cfg, bool load_data)
    : cfg_(cfg), batch_(cfg["train"]["batch"].get<i64>()), max_source_(cfg["max_source"].get<i64>()),
      max_target_(cfg["max_target"].get<i64>()) {
  if (batch_ <= 0) throw std::invalid_argument("config key 'train.batch' must be positive, got " + std::to_string(batch_));
  if (max_source_ < 1 || max_target_ < 1) throw std::invalid_argument("config keys 'max_source' and 'max_target' must be at least 1");
  const std::string data = cfg["data"].get<std::string>();
  if (data != "multi30k" && data != "wmt14")
    throw std::invalid_argument("config key 'data' must be multi30k or wmt14 for the translation task, got '" + data + "'");
  translation_spec(cfg);  // checks the model block before any data is read
  search_options(cfg);
  if (!load_data) return;
  const std::string dir = cfg["data_dir"].get<std::string>(), src = cfg["source"].get<std::string>(), tgt = cfg["target"].get<std::string>();
  corpus_ = std::make_unique<ParallelCorpus>(data == "multi30k" ? load_multi30k(dir, src, tgt) : load_wmt14(dir, src, tgt));
}

void TranslationTask::build(ParamStore& ps) { model_ = std::make_unique<Seq2Seq>(Scope(ps), translation_spec(cfg_)); }

void TranslationTask::open_run_dir(const std::string& dir, bool write) {
  const Json& b = cfg_["bpe"];
  const bool joint = b["joint"].get<bool>();
  const i64 vocab = b["vocab"].get<i64>(), lines = b["learn_lines"].get<i64>();
  const std::string src_path = dir + (joint ? "/bpe.model" : "/bpe.source.model"), tgt_path = dir + "/bpe.target.model";
  auto load = [&](const std::string& path) {
    auto bpe = std::make_unique<Bpe>(Bpe::load(path));
    if (bpe->size() != vocab)
      throw std::invalid_argument(path + " holds " + std::to_string(bpe->size()) + " pieces, the config's bpe.vocab is " + std::to_string(vocab));
    return bpe;
  };
  auto head = [&](const std::vector<std::string>& v) {
    return lines > 0 && lines < i64(v.size()) ? std::vector<std::string>(v.begin(), v.begin() + lines) : v;
  };
  if (file_exists(src_path) && (joint || file_exists(tgt_path))) {
    src_bpe_ = load(src_path);
    tgt_bpe_ = joint ? std::make_unique<Bpe>(*src_bpe_) : load(tgt_path);
  } else {
    if (!corpus_)
      throw std::invalid_argument(dir + " has no " + src_path.substr(dir.size() + 1) +
                                  ": the subword vocabulary is written there when `hypertrain train` starts a run");
    const std::vector<std::string> s = head(corpus_->train.source), t = head(corpus_->train.target);
    const i64 min_count = b["min_char_count"].get<i64>();
    if (joint) {
      src_bpe_ = std::make_unique<Bpe>(Bpe::learn({&s, &t}, vocab, min_count));
      tgt_bpe_ = std::make_unique<Bpe>(*src_bpe_);
    } else {
      src_bpe_ = std::make_unique<Bpe>(Bpe::learn({&s}, vocab, min_count));
      tgt_bpe_ = std::make_unique<Bpe>(Bpe::learn({&t}, vocab, min_count));
    }
    if (write) {
      src_bpe_->save(src_path);
      if (!joint) tgt_bpe_->save(tgt_path);
    }
  }
  if (corpus_) encode_training_pairs();
}

std::vector<std::int32_t> TranslationTask::encode_source(const std::string& line) const {
  std::vector<std::int32_t> ids = src_bpe_->encode(line);
  if (i64(ids.size()) > max_source_) ids.resize(std::size_t(max_source_));
  return ids;
}

std::vector<std::int32_t> TranslationTask::encode_target(const std::string& line) const { return tgt_bpe_->encode(line); }

std::string TranslationTask::decode_target(const std::vector<std::int32_t>& ids) const { return tgt_bpe_->decode(ids); }

void TranslationTask::encode_training_pairs() {
  train_ = TokenPairs();
  skipped_ = 0;
  const auto& tr = corpus_->train;
  for (std::size_t i = 0; i < tr.source.size(); ++i) {
    auto s = src_bpe_->encode(tr.source[i]), t = tgt_bpe_->encode(tr.target[i]);
    if (s.empty() || t.empty() || i64(s.size()) > max_source_ || i64(t.size()) > max_target_) {
      ++skipped_;
      continue;
    }
    train_.source.push_back(std::move(s));
    train_.target.push_back(std::move(t));
  }
}

std::unique_ptr<Sampler> TranslationTask::make_sampler(const Shard& shard, std::uint64_t seed) {
  if (!src_bpe_) throw std::logic_error("TranslationTask: open_run_dir() must come before make_sampler()");
  return std::make_unique<PairSampler>(train_, batch_, cfg_["train"]["pool"].get<i64>(), Bpe::kPad, Bpe::kEos, seed, shard);
}

Var TranslationTask::loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) {
  Var mean = model_->loss(t, ps, batch.x, batch.x_lengths, batch.y, batch.y_lengths, &rng, true);
  return batch.share == 1.0 ? mean : scale(t, mean, batch.share);
}

std::vector<std::string> TranslationTask::translate(const ParamStore& ps, const std::vector<std::string>& lines, const SearchOptions& opt,
                                                    std::vector<std::string>* warnings) const {
  std::vector<std::string> out(lines.size());
  std::vector<std::pair<std::size_t, Ids>> todo;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    Ids ids = src_bpe_->encode(lines[i]);
    if (ids.empty()) continue;  // an empty line translates to an empty line
    if (i64(ids.size()) > max_source_) {
      if (warnings)
        warnings->push_back("line " + std::to_string(i + 1) + ": " + std::to_string(ids.size()) + " subwords, cut to the first " +
                            std::to_string(max_source_) + " (config key max_source)");
      ids.resize(std::size_t(max_source_));
    }
    todo.emplace_back(i, std::move(ids));
  }
  std::stable_sort(todo.begin(), todo.end(), [](auto& a, auto& b) { return a.second.size() < b.second.size(); });
  const std::size_t batch = std::size_t(std::max<i64>(1, cfg_["decode"]["batch"].get<i64>()));
  for (std::size_t b0 = 0; b0 < todo.size(); b0 += batch) {
    check_stop();  // a signal may end a run's evaluation early (train/stop_signals.h)
    std::vector<Ids> sources;
    for (std::size_t k = b0; k < std::min(todo.size(), b0 + batch); ++k) sources.push_back(todo[k].second);
    std::vector<Ids> result = opt.beam == 1 ? greedy_search(*model_, ps, sources, opt) : beam_search(*model_, ps, sources, opt);
    for (std::size_t k = 0; k < result.size(); ++k) out[todo[b0 + k].first] = tgt_bpe_->decode(result[k]);
  }
  return out;
}

EvalSums TranslationTask::evaluate_pairs(const ParamStore& ps, const ParallelCorpus::Split& split, i64 begin, i64 end,
                                         const SearchOptions& opt) const {
  EvalSums r;
  // Teacher-forced loss, sentences of similar length together.
  std::vector<i64> idx;
  std::vector<Ids> src(std::size_t(end - begin)), tgt(std::size_t(end - begin));
  for (i64 i = begin; i < end; ++i) {
    src[std::size_t(i - begin)] = encode_source(split.source[std::size_t(i)]);
    tgt[std::size_t(i - begin)] = encode_target(split.target[std::size_t(i)]);
    if (!src[std::size_t(i - begin)].empty()) idx.push_back(i - begin);
  }
  std::stable_sort(idx.begin(), idx.end(), [&](i64 a, i64 b) { return src[std::size_t(a)].size() < src[std::size_t(b)].size(); });
  const i64 batch = std::max<i64>(1, cfg_["decode"]["batch"].get<i64>());
  Tape t;
  for (std::size_t b0 = 0; b0 < idx.size(); b0 += std::size_t(batch)) {
    check_stop();
    const i64 B = std::min<i64>(batch, i64(idx.size() - b0));
    i64 S = 1, T = 1, tokens = 0;
    for (i64 j = 0; j < B; ++j) {
      S = std::max(S, i64(src[std::size_t(idx[b0 + std::size_t(j)])].size()));
      T = std::max(T, i64(tgt[std::size_t(idx[b0 + std::size_t(j)])].size()) + 1);
    }
    Tensor x = Tensor::full({S, B}, Bpe::kPad, DType::I32), y = Tensor::full({T, B}, Bpe::kPad, DType::I32);
    Tensor xl = Tensor::empty({B}, DType::I32), yl = Tensor::empty({B}, DType::I32);
    for (i64 j = 0; j < B; ++j) {
      const Ids &s = src[std::size_t(idx[b0 + std::size_t(j)])], &g = tgt[std::size_t(idx[b0 + std::size_t(j)])];
      for (std::size_t k = 0; k < s.size(); ++k) x.data<std::int32_t>()[i64(k) * B + j] = s[k];
      for (std::size_t k = 0; k < g.size(); ++k) y.data<std::int32_t>()[i64(k) * B + j] = g[k];
      y.data<std::int32_t>()[i64(g.size()) * B + j] = Bpe::kEos;
      xl.data<std::int32_t>()[j] = std::int32_t(s.size());
      yl.data<std::int32_t>()[j] = std::int32_t(g.size() + 1);
      tokens += i64(g.size()) + 1;
    }
    t.reset();
    Tape::NoGrad ng(t);
    r.loss += model_->loss(t, ps, x, xl, y, yl, nullptr, false).value().item() * double(tokens);
    r.items += double(tokens);
  }
  // BLEU of the translations against the raw references.
  std::vector<std::string> lines(split.source.begin() + begin, split.source.begin() + end);
  std::vector<std::string> hyps = translate(ps, lines, opt);
  BleuStats stats;
  for (i64 i = begin; i < end; ++i) stats.add(hyps[std::size_t(i - begin)], split.target[std::size_t(i)]);
  r.extra.resize(BleuStats::kFields);
  stats.to_array(r.extra.data());
  return r;
}

EvalSums TranslationTask::evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) {
  const ParallelCorpus::Split& sp = corpus_->split(split);
  const i64 all = i64(sp.source.size()), limit = cfg_["train"]["eval_sentences"].get<i64>();
  const i64 n = quick && limit > 0 && limit < all ? limit : all;
  SearchOptions opt = search_options(cfg_);
  if (quick) opt.beam = cfg_["train"]["eval_beam"].get<int>();
  return evaluate_pairs(ps, sp, shard.begin(n), shard.end(n), opt);
}

EvalResult TranslationTask::result(const EvalSums& s) const {
  if (s.extra.size() != std::size_t(BleuStats::kFields))
    throw std::logic_error("TranslationTask: evaluation sums hold " + std::to_string(s.extra.size()) + " BLEU statistics, expected " +
                           std::to_string(BleuStats::kFields));
  const BleuScore b = bleu_from_stats(BleuStats::from_array(s.extra.data()));
  EvalResult r;
  r.loss = s.items > 0 ? s.loss / s.items : 0;
  r.count = i64(s.items);
  r.metric = b.score;
  r.details = {{"score", b.format()}, {"signature", bleu_signature()}, {"precisions", b.precisions}, {"bp", b.bp},
               {"ratio", b.ratio}, {"hyp_len", b.sys_len}, {"ref_len", b.ref_len}};
  return r;
}

std::string TranslationTask::describe() const {
  const Json& b = cfg_["bpe"];
  return (model_ ? model_->describe() : std::string("unbuilt")) + ", " + cfg_["source"].get<std::string>() + "->" +
         cfg_["target"].get<std::string>() + ", " + (b["joint"].get<bool>() ? "joint" : "separate") + " BPE of " +
         std::to_string(b["vocab"].get<i64>()) + " pieces";
}

std::pair<std::string, i64> TranslationTask::counted_parameters(const ParamStore& ps) const { return {"whole model", ps.count()}; }

void TranslationTask::after_training(const ParamStore& ps, const std::string& run_dir) {
  // The first ten test sentences: source, reference and this model's translation (decode.beam).
  const auto& test = corpus_->test;
  const std::size_t n = std::min<std::size_t>(10, test.source.size());
  std::vector<std::string> lines(test.source.begin(), test.source.begin() + std::ptrdiff_t(n));
  std::vector<std::string> hyps = translate(ps, lines, search_options(cfg_));
  std::string text;
  for (std::size_t i = 0; i < n; ++i)
    text += "source:      " + lines[i] + "\nreference:   " + test.target[i] + "\ntranslation: " + hyps[i] + "\n\n";
  write_text_atomic(run_dir + "/translations.txt", text);
}

// Every key of the task before any data is read (validate_config): types, ranges, the model
// built once as shapes to bound its size.
static void check_translation_config(const ConfigCheck& c) {
  c.one_of("data", {"multi30k", "wmt14"});
  c.text("source");
  c.text("target");
  c.integer("max_source", 1, kMaxLength);
  c.integer("max_target", 1, kMaxLength);
  c.integer("bpe.vocab", 260, kMaxWidth * 16);
  c.boolean("bpe.joint");
  c.integer("bpe.min_char_count", 1, kMaxSteps);
  c.integer("bpe.learn_lines", 0, kMaxSteps);
  c.one_of("model.cell", {"lstm", "ln-lstm", "hyperlstm", "ln-hyperlstm"});
  for (const char* key : {"model.hidden", "model.hyper", "model.embed", "model.word_embed"}) c.integer(key, 1, kMaxWidth);
  c.integer("model.attention", 0, kMaxWidth);
  c.integer("model.encoder_layers", 1, kMaxLayers);
  c.integer("model.decoder_layers", 1, kMaxLayers);
  c.integer("model.residual_from", 0, kMaxLayers);
  for (const char* key : {"model.dropout", "model.recurrent_dropout", "model.hyper_recurrent_dropout"}) c.probability(key);
  c.number("model.ln_eps", 0, 1);
  c.number("model.forget_bias", -100, 100);
  c.boolean("model.fused");
  c.integer("decode.beam", 1, 1000);
  c.number("decode.alpha", 0, 100);
  c.number("decode.beta", 0, 100);
  c.number("decode.max_ratio", 0, 1000);
  c.integer("decode.max_extra", 0, kMaxLength);
  c.integer("decode.batch", 1, kMaxBatch);
  c.integer("train.batch", 1, kMaxBatch);
  c.integer("train.pool", 1, kMaxBatch);
  c.integer("train.eval_sentences", 0, kMaxSteps);
  c.integer("train.eval_beam", 1, 1000);
  ParamStore ps;  // shapes only
  Seq2Seq model(Scope(ps), translation_spec(c.cfg()));
  check_model_size(c, ps);
}

// Defaults: Multi30k English to French, a small GNMT-style model; the paper's WMT'14 settings are
// in configs/wmt14/. Adam 0.001 (the paper: "Adam only"), clipping 5 (GNMT's).
extern const TaskKind kTranslationTask = {"translation", R"({
  "data": "multi30k",
  "source": "en",
  "target": "fr",
  "max_source": 80,
  "max_target": 80,
  "bpe": {"vocab": 8000, "joint": true, "min_char_count": 2, "learn_lines": 0},
  "model": {
    "cell": "lstm", "hidden": 256, "hyper": 128, "embed": 32, "word_embed": 256,
    "encoder_layers": 2, "decoder_layers": 2, "residual_from": 2, "attention": 0, "dropout": 0.2,
    "recurrent_dropout": 0.0, "hyper_recurrent_dropout": 0.0, "ln_eps": 0.001, "forget_bias": 1.0, "fused": true
  },
  "decode": {"beam": 5, "alpha": 0.6, "beta": 0.0, "max_ratio": 2.0, "max_extra": 10, "batch": 64},
  "train": {
    "batch": 64, "pool": 50, "steps": 10000, "eval_every": 500, "checkpoint_every": 500,
    "eval_sentences": 0, "eval_beam": 1, "clip": 5.0
  }
})", [](const Json& cfg, bool load_data) -> std::unique_ptr<Task> { return std::make_unique<TranslationTask>(cfg, load_data); },
   check_translation_config};

}  // namespace ht
