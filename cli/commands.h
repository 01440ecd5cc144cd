// One function per subcommand; each parses its own options (argv[0] is the subcommand name).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "train/charlm_task.h"
#include "train/handwriting_task.h"
#include "engine/params.h"

namespace ht {

int cmd_bench(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_list(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_sample(int argc, char** argv);
int cmd_translate(int argc, char** argv);

// A trained recurrent model (task charlm or handwriting), for `sample` and `plot scaling`
// (cmd_sample.cpp).
struct RecurrentRun {
  std::string dir, checkpoint;     // the run directory and the checkpoint restored
  Json cfg;                        // its resolved config.json
  std::string task_name;           // "charlm" or "handwriting"
  i64 step = -1;                   // the checkpoint's step
  std::unique_ptr<Task> task;      // built, with its data loaded (the vocabulary, the strokes)
  std::unique_ptr<ParamStore> ps;  // the checkpoint's parameters
  const RecurrentStack& model() const;
  const CharCorpus& corpus() const;  // charlm runs only
};
// `path`: a run directory (its best, else its latest checkpoint) or a checkpoint file inside one.
// data_dir, when not empty, overrides the config's data_dir. Throws naming the directory when it
// is no run, and naming the task when the run's task is not among `tasks` (`what` names the
// command). `check`, when given, sees the resolved config before the data is read (and may throw).
RecurrentRun load_recurrent_run(const std::string& path, const std::string& data_dir, const std::string& what,
                             const std::vector<std::string>& tasks, const std::function<void(const RecurrentRun&)>& check = {});
inline RecurrentRun load_charlm_run(const std::string& path, const std::string& data_dir, const std::string& what,
                                 const std::function<void(const RecurrentRun&)>& check = {}) {
  return load_recurrent_run(path, data_dir, what, {"charlm"}, check);
}

}  // namespace ht
