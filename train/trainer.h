// The training loop shared by every experiment, in the spirit of llm.c's: a Trainer opens (or
// resumes) a run directory, then repeats step() -> evaluate_and_record() -> save() and ends with
// finish(). Around the task's loss it owns the optimizer and schedule from the config, gradient
// clipping, evaluation every N steps with early stopping (lower or higher is better, as the task's
// Metric says), checkpoints (latest and best on validation) written atomically and only from
// finite state, exact resume, progress on stderr, the NaN stop (naming the last good checkpoint),
// the run directory's lock (run_lock.h) and the stop signals (stop_signals.h: SIGINT, SIGTERM,
// SIGHUP). A run directory holds config.json, metrics.jsonl, checkpoint.safetensors, best.safetensors,
// results.json, curves.png and train.lock.
//
// Processes training together meet at one seam, the Comm: the sampler takes this rank's shard,
// gradients and evaluation sums are summed through it, and only the root writes files.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "train/comm.h"
#include "train/config.h"
#include "train/task.h"

namespace ht {

class ConfigCheck;
class RunLock;

// What the trainer reads from every config (the "train" block's shared keys), before a task's own.
Json trainer_defaults();
// The types and ranges of the keys the trainer reads (those above, and train.steps, eval_every,
// checkpoint_every and clip, which each task's defaults give): part of validate_config.
void check_trainer_config(const ConfigCheck& c);

struct TrainOptions {
  std::string run_dir;
  bool resume = false;           // continue from run_dir/checkpoint.safetensors (or an older run's checkpoint.bin)
  bool quiet = false;            // no progress lines
  double progress_seconds = 2;   // at most one progress line per this many seconds
  bool final_eval = true;        // evaluate best.safetensors on the final splits at the end
  // The run directory's lock when the caller took it already (cmd_train does, before the data
  // loads, so a second run on the directory fails at once); otherwise the trainer takes it.
  std::shared_ptr<const RunLock> lock;
};

struct TrainSummary {
  i64 first_step = 0, last_step = 0;
  std::vector<double> losses;  // training loss of every step run here
  double best_metric = 0;
  i64 best_step = -1;
  bool stopped_early = false, interrupted = false;
  bool out_of_time = false;  // train.max_seconds of training passed
  int signal = 0;              // the signal that interrupted the run (SIGINT, SIGTERM, SIGHUP)
  Json results;                // what results.json holds
};

// Trains `task` as `cfg` says; comm = nullptr: this process alone.
TrainSummary run_training(const Json& cfg, Task& task, const TrainOptions& opt, Comm* comm = nullptr);

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace ht
