// Character-level language modelling on Penn Treebank or enwik8 (paper §4.3-4.4): truncated
// back-propagation over segments of one stream cut into `batch` parallel streams, the recurrent
// state carried from segment to segment (and through checkpoints), bits per character.
#pragma once
#include <memory>

#include "cli/config.h"
#include "cli/task.h"
#include "data/text.h"
#include "models/recurrent_stack.h"

namespace ht {

// The model a config's "model" block describes (vocab: the data's vocabulary size).
RecurrentStackSpec charlm_spec(const Json& cfg, i64 vocab);
// The vocabulary size of cfg["data"] without loading it (50 for ptb, 205 for enwik8).
i64 known_vocab(const std::string& data);
CharCorpus load_corpus(const Json& cfg);

class CharLMTask : public Task {
 public:
  CharLMTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  i64 steps_per_epoch() const override;
  i64 items_per_step() const override { return batch_ * seq_; }
  const char* item_name() const override { return "characters"; }
  const char* metric_name() const override { return "bpc"; }
  Var loss(Tape& t, const ParamStore& ps, i64 step, Rng& rng) override;
  // quick: a prefix of train.eval_chars as train.eval_batch streams; otherwise the whole split as
  // one stream (the paper's protocol).
  EvalResult evaluate(const ParamStore& ps, const std::string& split, bool quick = false) override;
  std::string describe() const override;
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  void after_training(const ParamStore& ps, const std::string& run_dir) override;
  NamedTensors carried_state() override;

  const RecurrentStack& model() const { return *model_; }
  const CharCorpus& corpus() const { return *corpus_; }

 private:
  Json cfg_;
  i64 batch_, seq_;
  std::unique_ptr<CharCorpus> corpus_;
  std::unique_ptr<StreamBatcher> batcher_;
  std::unique_ptr<RecurrentStack> model_;
  RnnState state_;
  Tensor inputs_, targets_;
};

// Bits per character of `ids` read as `streams` parallel streams in segments of `seq`, the state
// carried, no dropout, no dynamic evaluation. Every symbol after the first of each stream is
// scored (the tail that does not fill a stream is left out; with streams = 1 nothing is).
EvalResult charlm_evaluate(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams, i64 seq);

// Continues `prime` (ids, at least one) by `length` symbols drawn at `temperature` (0: argmax).
std::vector<std::int32_t> charlm_sample(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& prime,
                                        i64 length, double temperature, Rng& rng);

}  // namespace ht
