// One function per subcommand; each parses its own options (argv[0] is the subcommand name).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "cli/charlm_task.h"
#include "engine/params.h"

namespace ht {

int cmd_bench(int argc, char** argv);
int cmd_train(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_list(int argc, char** argv);
int cmd_plot(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_sample(int argc, char** argv);

// A trained character language model, for `sample` and `plot scaling` (cmd_sample.cpp).
struct CharLMRun {
  std::string dir, checkpoint;       // the run directory and the checkpoint restored
  Json cfg;                          // its resolved config.json
  i64 step = -1;                     // the checkpoint's step
  std::unique_ptr<CharLMTask> task;  // built, with its corpus loaded (the vocabulary)
  std::unique_ptr<ParamStore> ps;    // the checkpoint's parameters
  const CharLM& model() const { return task->model(); }
  const CharCorpus& corpus() const { return task->corpus(); }
};
// `path`: a run directory (its best.bin, else checkpoint.bin) or a .bin file inside one.
// data_dir, when not empty, overrides the config's data_dir. Throws naming the directory when it
// is no run, and naming the task when the run is not a charlm one (`what` names the command).
// `check`, when given, sees the resolved config before the data is read (and may throw).
CharLMRun load_charlm_run(const std::string& path, const std::string& data_dir, const std::string& what,
                          const std::function<void(const CharLMRun&)>& check = {});

}  // namespace ht
