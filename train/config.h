// Experiment configs: a JSON file merged over the task's defaults. Every key a file or a --set
// names must exist in the defaults (a typo is an error naming the key and the file), except inside
// free-form blocks ("paper", "train.lr").
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ht {

using Json = nlohmann::json;

// The trainer's defaults (train/trainer.h) merged with the task's own (its TaskKind, train/tasks.h).
// Throws naming an unknown task.
Json config_defaults(const std::string& task);

// The JSON in `path`; errors name `what` ("config file", "results file") and the path: a directory,
// a missing file, invalid JSON (with the byte where it fails).
Json read_json_file(const std::string& path, const std::string& what);

// Reads `path`, merges it over the defaults of its "task" (default "image"), applies the --set
// overrides ("train.steps=100", "data=fashion-mnist"; each value parsed as JSON whole, else taken
// as a string), then checks every key (validate_config, train/config_check.h).
Json load_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Same from an in-memory object; `origin` names it in errors.
Json resolve_config(const Json& user, const std::string& origin, const std::vector<std::string>& overrides = {});

// Merge `src` over `dst`, refusing keys absent from `dst` outside free-form blocks.
void merge_checked(Json& dst, const Json& src, const std::string& origin, const std::string& path = "");
// Apply one "a.b.c=value" override.
void apply_override(Json& cfg, const std::string& kv);

}  // namespace ht
