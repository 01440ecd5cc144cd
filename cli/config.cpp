#include "cli/config.h"

#include "cli/tasks.h"
#include "cli/trainer.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ht {

Json config_defaults(const std::string& task) {
  Json cfg = trainer_defaults();
  cfg.merge_patch(Json::parse(find_task_kind(task).defaults));  // objects merge key by key: "train" keeps the trainer's keys
  cfg["task"] = task;
  return cfg;
}

static bool free_form(const std::string& path) { return path == "paper" || path == "train.lr"; }

void merge_checked(Json& dst, const Json& src, const std::string& origin, const std::string& path) {
  if (!src.is_object()) throw std::invalid_argument(origin + ": '" + (path.empty() ? "<root>" : path) + "' must be an object");
  for (auto it = src.begin(); it != src.end(); ++it) {
    std::string key = path.empty() ? it.key() : path + "." + it.key();
    if (!dst.contains(it.key())) throw std::invalid_argument(origin + ": unknown config key '" + key + "'");
    Json& d = dst[it.key()];
    if (free_form(key)) {
      d = it.value();
    } else if (d.is_object()) {
      merge_checked(d, it.value(), origin, key);
    } else {
      bool both_numbers = d.is_number() && it.value().is_number();
      if (d.type() != it.value().type() && !both_numbers && !d.is_null())
        throw std::invalid_argument(origin + ": config key '" + key + "' must be a " + d.type_name() + ", got " +
                                    it.value().dump());
      d = it.value();
    }
  }
}

void apply_override(Json& cfg, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--set expects key=value, got '" + kv + "'");
  std::string key = kv.substr(0, eq), text = kv.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;  // a bare word: a string
  }
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  // Inside a free-form block ("train.lr.lr=0.01") only that key changes; the rest of the block stays.
  std::string prefix;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    prefix += (i ? "." : "") + parts[i];
    if (!free_form(prefix)) continue;
    Json* node = &cfg;
    for (std::size_t k = 0; k <= i; ++k) node = &(*node)[parts[k]];
    if (!node->is_object()) break;
    for (std::size_t k = i + 1; k + 1 < parts.size(); ++k) node = &(*node)[parts[k]];
    (*node)[parts.back()] = value;
    return;
  }
  // Build {"a": {"b": value}} and merge it, so the same checks apply.
  Json patch = value;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = Json{{*it, patch}};
  merge_checked(cfg, patch, "--set " + kv);
}

Json resolve_config(const Json& user, const std::string& origin, const std::vector<std::string>& overrides) {
  if (!user.is_object()) throw std::invalid_argument(origin + ": a config must be a JSON object");
  std::string task = user.value("task", std::string("image"));
  Json cfg = config_defaults(task);
  merge_checked(cfg, user, origin);
  for (const auto& kv : overrides) apply_override(cfg, kv);
  return cfg;
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream f(path);
  if (!f) throw std::invalid_argument("config file '" + path + "' not found or unreadable");
  Json user;
  try {
    user = Json::parse(f);
  } catch (const Json::parse_error& e) {
    throw std::invalid_argument("config file '" + path + "' is not valid JSON: " + e.what());
  }
  Json cfg = resolve_config(user, path, overrides);
  if (cfg["name"].get<std::string>().empty()) {
    std::string base = path.substr(path.find_last_of('/') + 1);
    cfg["name"] = base.substr(0, base.rfind(".json"));
  }
  return cfg;
}

}  // namespace ht
