// The training loop shared by every experiment: optimizer and schedule from the config, gradient
// clipping, evaluation every N steps with early stopping, checkpoints (latest and best on
// validation) written atomically, exact resume, progress on stderr, a NaN stop, and a run
// directory holding config.json, metrics.jsonl, checkpoint.bin, best.bin, results.json and
// curves.png.
#pragma once
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/task.h"

namespace ht {

struct TrainOptions {
  std::string run_dir;
  bool resume = false;           // continue from run_dir/checkpoint.bin
  bool quiet = false;            // no progress lines
  double progress_seconds = 2;   // at most one progress line per this many seconds
  bool final_eval = true;        // evaluate best.bin on valid and test at the end
};

struct TrainSummary {
  i64 first_step = 0, last_step = 0;
  std::vector<double> losses;  // training loss of every step run here
  double best_metric = 0;
  i64 best_step = -1;
  bool stopped_early = false, interrupted = false;
  Json results;                // what results.json holds
};

TrainSummary run_training(const Json& cfg, Task& task, const TrainOptions& opt);

// "1h02m", "3m05s", "12s"
std::string format_duration(double seconds);

}  // namespace ht
