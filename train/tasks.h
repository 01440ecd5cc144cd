// The table of tasks: each task's file defines its TaskKind (name, config defaults, factory, the
// checks of its keys) in one place, and task_kinds() lists them. Configs name their task ("task":
// "image"); the config loader merges the file over the trainer's defaults and the task's own, then
// checks every key (train/config_check.h).
#pragma once
#include <memory>
#include <vector>

#include "train/config.h"
#include "train/task.h"

namespace ht {

class ConfigCheck;

struct TaskKind {
  const char* name;      // the config's "task"
  const char* defaults;  // JSON merged over the trainer's defaults: every key the task reads
  // Builds the task; load_data = false builds the model only (parameter counts for `list`).
  std::unique_ptr<Task> (*make)(const Json& cfg, bool load_data);
  // The type, range and cross-key checks of the task's own keys, before any data is read
  // (validate_config, train/config_check.h); throws naming the key.
  void (*check)(const ConfigCheck& c);
};

// Each defined beside its task (train/image_task.cpp, train/charlm_task.cpp, train/handwriting_task.cpp,
// train/translation_task.cpp).
extern const TaskKind kImageTask, kCharLMTask, kHandwritingTask, kTranslationTask;

const std::vector<const TaskKind*>& task_kinds();
const TaskKind& find_task_kind(const std::string& name);  // throws naming the known tasks

std::unique_ptr<Task> make_task(const Json& cfg, bool load_data = true);

}  // namespace ht
