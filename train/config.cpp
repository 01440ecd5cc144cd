#include "train/config.h"

#include "train/config_check.h"
#include "train/tasks.h"
#include "train/trainer.h"

#include <cmath>
#include <filesystem>
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
      const Json& v = it.value();
      bool both_numbers = d.is_number() && v.is_number();
      if (d.type() != v.type() && !both_numbers && !d.is_null())
        throw std::invalid_argument(origin + ": config key '" + key + "' must be " + (d.is_array() || d.is_object() ? "an " : "a ") +
                                    d.type_name() + ", got " + v.dump());
      if (d.is_number_integer() && !v.is_number_integer())  // 99.7 would silently become 99
        throw std::invalid_argument(origin + ": config key '" + key + "' must be an integer, got " + v.dump() +
                                    " (write it without a fraction or exponent)");
      d = v;
    }
  }
}

void apply_override(Json& cfg, const std::string& kv) {
  auto eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) throw std::invalid_argument("--set expects key=value, got '" + kv + "'");
  std::string key = kv.substr(0, eq), text = kv.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);  // the whole value: an array or object keeps its commas
  } catch (const Json::parse_error&) {
    value = text;  // a bare word: a string
  } catch (const Json::out_of_range&) {  // 1e999
    throw std::invalid_argument("--set " + kv + ": the value of '" + key + "' is not a finite number");
  }
  if (value.is_number_float() && !std::isfinite(value.get<double>()))
    throw std::invalid_argument("--set " + kv + ": the value of '" + key + "' is not a finite number");
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
  validate_config(cfg, overrides.empty() ? origin : origin + " with --set");
  return cfg;
}

Json read_json_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::invalid_argument(what + " '" + path + "' is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument(what + " '" + path + "' not found or unreadable");
  std::stringstream text;
  text << f.rdbuf();
  if (text.str().find_first_not_of(" \t\r\n") == std::string::npos)
    throw std::invalid_argument(what + " '" + path + "' is empty (expected a JSON object)");
  try {
    return Json::parse(text.str());
  } catch (const Json::parse_error& e) {
    throw std::invalid_argument(what + " '" + path + "' is not valid JSON: the error is at byte " + std::to_string(e.byte));
  } catch (const Json::out_of_range&) {
    throw std::invalid_argument(what + " '" + path + "' holds a number too large for a double");
  }
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Json user = read_json_file(path, "config file");
  // An unnamed config takes its file's name, before the checks see it.
  if (user.is_object() && (!user.contains("name") || user["name"] == "")) {
    std::string base = path.substr(path.find_last_of('/') + 1);
    user["name"] = base.substr(0, base.rfind(".json"));
  }
  return resolve_config(user, path, overrides);
}

}  // namespace ht
