// A Task is what the training loop trains: it owns the data and the model, makes the sampler of
// its training batches, records the loss of one batch on a tape, and evaluates a split as sums
// that add across parts and processes. The Trainer (train/trainer.h) owns everything else:
// optimizer, schedule, clipping, checkpoints, metrics, early stopping, progress.
//
// One training step, as the trainer runs it:
//   sampler->get(step, batch);                  // this process's shard of global step `step`
//   Var loss = task.loss(tape, ps, batch, rng);  // its part of the global mean loss
//   tape.backward(loss);                         // gradients, summed across processes (Comm)
//   clip, optimizer step
#pragma once
#include <nlohmann/json.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "data/samplers.h"
#include "engine/checkpoint.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace ht {

// The task's headline number and which way is better.
struct Metric {
  std::string name;               // "error", "bpc", "logloss"
  bool higher_is_better = false;  // BLEU is; error rates and losses are not
  bool better(double a, double b) const { return higher_is_better ? a > b : a < b; }
  double worst() const;           // -inf or +inf: what any finite result improves on
};

// What an evaluation adds up. Each field is a plain sum, so the sums of disjoint parts of a split
// (batches, streams, the shards of several processes) add to the sums of the whole.
struct EvalSums {
  double loss = 0;          // nats summed over the scored items
  double items = 0;         // items scored (images, characters, points, target tokens)
  double metric = 0;        // numerator of the headline metric (errors, bits, nats of whole lines)
  double metric_items = 0;  // its denominator (images, characters, lines)
  // Sums a metric needs beyond one ratio (BLEU: clipped n-gram matches and totals per order, both
  // lengths); every part of a split holds the same number of them.
  std::vector<double> extra;
  EvalSums& operator+=(const EvalSums& o);
  static constexpr int kFields = 4;  // the fixed fields; a flat array holds size() = kFields + extra
  std::size_t size() const { return kFields + extra.size(); }
  void to_array(double* out) const;
  static EvalSums from_array(const double* in, std::size_t extra = 0);
};

struct EvalResult {
  double loss = 0;    // mean per item, nats
  double metric = 0;  // the task's headline number (error rate, bits per character, nats per line, BLEU)
  i64 count = 0;      // items evaluated
  nlohmann::json details;  // what else the metric reports (BLEU: precisions, brevity penalty, signature); null if nothing
  static EvalResult from(const EvalSums& s);  // loss / items, metric / metric_items
};

class Task {
 public:
  virtual ~Task() = default;
  // Registers the model's parameters (before ps.finalize()).
  virtual void build(ParamStore& ps) = 0;
  // The sampler of training batches for this process's shard (after build; needs the data). A
  // task that carries state between batches sizes it for the shard here.
  virtual std::unique_ptr<Sampler> make_sampler(const Shard& shard, std::uint64_t seed) = 0;
  // Records this shard's part of the batch's mean training loss on `t` (the trainer runs backward):
  // the shard's mean times batch.share, so the shards' losses and gradients add to the global ones.
  virtual Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) = 0;
  // Sums over this shard's part of `split`. quick: a periodic evaluation during training, which a
  // task may run on part of the split (train.eval_chars for language models); the final numbers
  // always use all of it.
  virtual EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) = 0;
  // The split's result from its sums (all processes' added): EvalResult::from, unless the
  // metric is not one ratio of two sums (BLEU).
  virtual EvalResult result(const EvalSums& s) const { return EvalResult::from(s); }
  // The whole split in this process.
  EvalResult evaluate(const ParamStore& ps, const std::string& split, bool quick = false) {
    return result(evaluate_sums(ps, split, quick, Shard{}));
  }
  virtual Metric metric() const = 0;
  virtual const char* item_name() const = 0;  // "images", "characters"
  // The splits the final numbers are reported on (IAM-OnDB has no test split).
  virtual std::vector<std::string> final_splits() const { return {"valid", "test"}; }
  virtual std::string describe() const = 0;
  // The directory the task's data was read from ("" when it read none), printed as a run starts.
  virtual std::string data_source() const { return ""; }
  // Parameters the paper counts for this model (label, count), for reports.
  virtual std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const = 0;
  // Called with the run directory before the sampler is made (training), or before evaluating or
  // translating with a trained run: a task keeps there what it needs beyond the checkpoint (a
  // subword vocabulary), reading it when it exists and otherwise making it and, when `write`,
  // writing it.
  virtual void open_run_dir(const std::string& dir, bool write) {}
  // Called with the run directory once training ends (pictures worth looking at).
  virtual void after_training(const ParamStore& ps, const std::string& run_dir) {}
  // State the task carries from step to step (a language model's recurrent state), saved in
  // checkpoints and restored on resume. The tensors share the task's storage.
  virtual NamedTensors carried_state() { return {}; }
};

}  // namespace ht
