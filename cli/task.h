// A Task is what the training loop trains: it owns the data and the model, records the loss of a
// step on a tape, and evaluates a split. The Trainer owns everything else (optimizer, schedule,
// clipping, checkpoints, metrics, early stopping, progress).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace ht {

struct EvalResult {
  double loss = 0;    // mean per item, nats
  double metric = 0;  // the task's headline number (error rate, bits per character)
  i64 count = 0;      // items evaluated
};

class Task {
 public:
  virtual ~Task() = default;
  // Registers the model's parameters (before ps.finalize()).
  virtual void build(ParamStore& ps) = 0;
  virtual i64 steps_per_epoch() const = 0;
  virtual i64 items_per_step() const = 0;
  virtual const char* item_name() const = 0;    // "images", "characters"
  virtual const char* metric_name() const = 0;  // "error", "bpc"; lower is better
  // Records the mean training loss of global step `step` on `t`; the trainer runs backward.
  virtual Var loss(Tape& t, const ParamStore& ps, i64 step, Rng& rng) = 0;
  // quick: a periodic evaluation during training, which a task may run on part of the split
  // (train.eval_chars for language models); the final numbers always use all of it.
  virtual EvalResult evaluate(const ParamStore& ps, const std::string& split, bool quick = false) = 0;
  // The splits the final numbers are reported on (IAM-OnDB has no test split).
  virtual std::vector<std::string> final_splits() const { return {"valid", "test"}; }
  virtual std::string describe() const = 0;
  // Parameters the paper counts for this model (label, count), for reports.
  virtual std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const = 0;
  // Called with the run directory once training ends (pictures worth looking at).
  virtual void after_training(const ParamStore& ps, const std::string& run_dir) {}
  // State the task carries from step to step (a language model's recurrent state), saved in
  // checkpoints and restored on resume. The tensors share the task's storage.
  virtual NamedTensors carried_state() { return {}; }
};

}  // namespace ht
