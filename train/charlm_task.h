// Character-level language modelling on Penn Treebank or enwik8 (paper §4.3-4.4): truncated
// back-propagation over segments of one stream cut into `batch` parallel streams, the recurrent
// state carried from segment to segment (and through checkpoints), bits per character.
#pragma once
#include <memory>

#include "train/config.h"
#include "train/task.h"
#include "data/text.h"
#include "models/recurrent_stack.h"

namespace ht {

class ConfigCheck;

// The model a config's "model" block describes (vocab: the data's vocabulary size).
RecurrentStackSpec charlm_spec(const Json& cfg, i64 vocab);
// The keys of a recurrent "model" block (cell, sizes, dropout, layer norm), for the character and
// handwriting tasks' config checks: a hyper cell needs model.hyper and model.embed of at least 1.
void check_recurrent_model(const ConfigCheck& c);
// A model of `ps.count()` parameters fits kMaxParameters, else an error naming the model block.
void check_model_size(const ConfigCheck& c, const ParamStore& ps);
// The vocabulary size of cfg["data"] without loading it (50 for ptb, 205 for enwik8).
i64 known_vocab(const std::string& data);
CharCorpus load_corpus(const Json& cfg);

class CharLMTask : public Task {
 public:
  CharLMTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  // Streams [begin, end) of the batch for this shard; the carried state holds those streams.
  std::unique_ptr<Sampler> make_sampler(const Shard& shard, std::uint64_t seed) override;
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override;
  // quick: a prefix of train.eval_chars as train.eval_batch streams (this shard's streams);
  // otherwise the whole split as one stream (the paper's protocol), read by the shard of rank 0.
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) override;
  Metric metric() const override { return {"bpc", false}; }
  const char* item_name() const override { return "characters"; }
  std::string describe() const override;
  std::string data_source() const override { return corpus_ ? corpus_->source : ""; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  void after_training(const ParamStore& ps, const std::string& run_dir) override;
  NamedTensors carried_state() override;

  const RecurrentStack& model() const { return *model_; }
  const CharCorpus& corpus() const { return *corpus_; }

 private:
  Json cfg_;
  i64 batch_, seq_;
  std::unique_ptr<CharCorpus> corpus_;
  std::unique_ptr<RecurrentStack> model_;
  RnnState state_;  // carried from segment to segment: this shard's streams
};

// Sums over `ids` read as `streams` parallel streams in segments of `seq`, the state carried, no
// dropout, no dynamic evaluation: nats and bits of every symbol after the first of each stream
// (the tail that does not fill a stream is left out; with streams = 1 nothing is). Only the
// shard's streams are read, so the shards' sums add to the whole's.
EvalSums charlm_evaluate_sums(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams,
                              i64 seq, const Shard& shard = {});
inline EvalResult charlm_evaluate(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams,
                                  i64 seq) {
  return EvalResult::from(charlm_evaluate_sums(model, ps, ids, streams, seq));
}

// Continues `prime` (ids, at least one) by `length` symbols drawn at `temperature` (0: argmax).
std::vector<std::int32_t> charlm_sample(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& prime,
                                        i64 length, double temperature, Rng& rng);

}  // namespace ht
