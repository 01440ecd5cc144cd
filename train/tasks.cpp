#include "train/tasks.h"

#include <stdexcept>

namespace ht {

const std::vector<const TaskKind*>& task_kinds() {
  static const std::vector<const TaskKind*> kinds = {&kImageTask, &kCharLMTask, &kHandwritingTask, &kTranslationTask};
  return kinds;
}

const TaskKind& find_task_kind(const std::string& name) {
  std::string known;
  for (const TaskKind* k : task_kinds()) {
    if (name == k->name) return *k;
    known += (known.empty() ? "" : ", ") + std::string(k->name);
  }
  throw std::invalid_argument("unknown task '" + name + "' (known: " + known + ")");
}

std::unique_ptr<Task> make_task(const Json& cfg, bool load_data) {
  return find_task_kind(cfg.value("task", std::string("image"))).make(cfg, load_data);
}

}  // namespace ht
