#include "cli/tasks.h"

#include "cli/charlm_task.h"
#include "cli/handwriting_task.h"
#include "cli/image_task.h"

namespace ht {

std::unique_ptr<Task> make_task(const Json& cfg, bool load_data) {
  std::string task = cfg.value("task", std::string("image"));
  if (task == "image") return std::make_unique<ImageTask>(cfg, load_data);
  if (task == "charlm") return std::make_unique<CharLMTask>(cfg, load_data);
  if (task == "handwriting") return std::make_unique<HandwritingTask>(cfg, load_data);
  throw std::invalid_argument("unknown task '" + task + "'");
}

}  // namespace ht
