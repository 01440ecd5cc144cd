// Builds the Task a config describes.
#pragma once
#include <memory>

#include "cli/config.h"
#include "cli/task.h"

namespace ht {

// load_data = false builds the model only (parameter counts for `list`).
std::unique_ptr<Task> make_task(const Json& cfg, bool load_data = true);

}  // namespace ht
