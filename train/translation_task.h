// Translation (paper §4.6, Table 6): a GNMT-style attention encoder-decoder (models/seq2seq.h)
// with the same cell everywhere (lstm, ln-lstm, hyperlstm, ln-hyperlstm), trained on subword
// sentence pairs of Multi30k or WMT'14 bucketed by length, and judged by corpus BLEU as sacreBLEU
// computes it (data/bleu.h).
//
// Subwords: byte-pair encoding (data/bpe.h) learned on the training side when a run starts, one
// vocabulary for both languages ("bpe.joint", GNMT's shared wordpiece model) or one per language,
// of exactly "bpe.vocab" pieces each, written to the run directory (bpe.model, or bpe.source.model
// and bpe.target.model) and read from there by eval and translate.
//
// Training pairs with an empty side, or longer than max_source / max_target subwords, are left
// out (their count is printed). Translating: an empty (or all-blank) line translates to an empty
// line without running the model; characters outside the learned alphabet go in as their UTF-8
// bytes (byte pieces); a line longer than max_source subwords is cut to its first max_source
// (a warning names the line). Output: the target pieces decoded back to text.
//
// Evaluation of a split: the teacher-forced loss per target token (items: target tokens, </s>
// included) and BLEU of the translations (beam decode.beam; periodic validation during training
// uses train.eval_beam on the first train.eval_sentences pairs, 0: all).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "train/config.h"
#include "train/task.h"
#include "data/bpe.h"
#include "data/parallel_text.h"
#include "models/beam_search.h"
#include "models/seq2seq.h"

namespace ht {

// The model a config describes (vocabularies of bpe.vocab pieces).
Seq2SeqSpec translation_spec(const Json& cfg);
SearchOptions search_options(const Json& cfg);  // the "decode" block

class TranslationTask : public Task {
 public:
  TranslationTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  void open_run_dir(const std::string& dir, bool write) override;
  std::unique_ptr<Sampler> make_sampler(const Shard& shard, std::uint64_t seed) override;
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override;
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) override;
  EvalResult result(const EvalSums& s) const override;
  Metric metric() const override { return {"bleu", true}; }
  const char* item_name() const override { return "sentence pairs"; }
  std::string describe() const override;
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  void after_training(const ParamStore& ps, const std::string& run_dir) override;

  // Translates each line (see the header comment for empty, unknown and over-long input);
  // warnings, when given, receives one message per line cut.
  std::vector<std::string> translate(const ParamStore& ps, const std::vector<std::string>& lines, const SearchOptions& opt,
                                     std::vector<std::string>* warnings = nullptr) const;
  // Subword ids of a source line as the model reads it (cut to max_source) and of a target line.
  std::vector<std::int32_t> encode_source(const std::string& line) const;
  std::vector<std::int32_t> encode_target(const std::string& line) const;
  std::string decode_target(const std::vector<std::int32_t>& ids) const;

  const Seq2Seq& model() const { return *model_; }
  const ParallelCorpus& corpus() const { return *corpus_; }
  const Bpe& source_bpe() const { return *src_bpe_; }
  const Bpe& target_bpe() const { return *tgt_bpe_; }
  i64 skipped_pairs() const { return skipped_; }

 private:
  // Sums over pairs [begin, end) of a split: loss per target token, BLEU statistics.
  EvalSums evaluate_pairs(const ParamStore& ps, const ParallelCorpus::Split& split, i64 begin, i64 end, const SearchOptions& opt) const;
  void encode_training_pairs();

  Json cfg_;
  i64 batch_, max_source_, max_target_;
  std::unique_ptr<ParallelCorpus> corpus_;
  std::unique_ptr<Bpe> src_bpe_, tgt_bpe_;  // the same object's copies when joint
  std::unique_ptr<Seq2Seq> model_;
  TokenPairs train_;
  i64 skipped_ = 0;
};

}  // namespace ht
