// Character-level language modelling on Penn Treebank or enwik8 (paper §4.3-4.4): truncated
// back-propagation over segments of one stream cut into `batch` parallel streams, the recurrent
// state carried from segment to segment (and through checkpoints), bits per character.
#pragma once
#include <algorithm>
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
  // Either way each stream starts after a burn-in of train.eval_burn_in symbols (StreamStart).
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) override;
  // The split as `streams` streams (1: the paper's one stream) after a burn-in of `burn_in` symbols
  // (StreamStart; train's end before valid, valid's before test, nothing before train), and from a
  // zero state, in one pass.
  struct Starts {
    EvalResult burned, zero;
    i64 burn_in = 0;  // the burn-in read (capped by the text before the split)
  };
  Starts evaluate_starts(const ParamStore& ps, const std::string& split, i64 burn_in, i64 streams = 1);
  // The text a split's first stream burns in on (empty for train).
  const std::vector<std::int32_t>& text_before(const std::string& split) const;
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

// How each stream of an evaluation starts. From a zero state (burn_in 0), or after reading the
// burn_in symbols before it, unscored, with the state carried: the end of the previous stream, and
// for the first stream the end of `before` (the text before `ids`: the previous split). A
// zero-state start scores a stream's first symbols without context, which a model trained with the
// state carried through a whole epoch rarely meets, so cutting a split into many streams reads it
// worse than one stream does; a burn-in removes that bias. The burn-in is capped by before.size()
// (every stream gets the same), so with nothing before the split there is none.
struct StreamStart {
  i64 burn_in = 0;
  const std::vector<std::int32_t>* before = nullptr;
  // When set and a burn-in is read: also the sums of the same streams from a zero state, computed
  // in the same pass (the streams are read twice in one batch, so it costs little more than one).
  EvalSums* zero_start = nullptr;
  i64 used() const { return before ? std::min<i64>(burn_in, i64(before->size())) : 0; }
};

// Sums over `ids` read as `streams` parallel streams in segments of `seq`, the state carried, no
// dropout, no dynamic evaluation: nats and bits of every symbol after the first of each stream
// (the tail that does not fill a stream is left out; with streams = 1 nothing is). Only the
// shard's streams are read, so the shards' sums add to the whole's.
EvalSums charlm_evaluate_sums(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams,
                              i64 seq, const Shard& shard = {}, const StreamStart& start = {});
inline EvalResult charlm_evaluate(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& ids, i64 streams,
                                  i64 seq, const StreamStart& start = {}) {
  return EvalResult::from(charlm_evaluate_sums(model, ps, ids, streams, seq, {}, start));
}

// Continues `prime` (ids, at least one) by `length` symbols drawn at `temperature` (0: argmax).
std::vector<std::int32_t> charlm_sample(const RecurrentStack& model, const ParamStore& ps, const std::vector<std::int32_t>& prime,
                                        i64 length, double temperature, Rng& rng);

}  // namespace ht
