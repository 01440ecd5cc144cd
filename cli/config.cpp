#include "cli/config.h"

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ht {

Json config_defaults(const std::string& task) {
  // What the training loop reads for every task (cli/trainer.cpp); each task adds its own keys.
  Json cfg = Json::parse(R"({
    "name": "",
    "data_dir": "",
    "train": {
      "optimizer": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
      "momentum": 0.9, "nesterov": false, "weight_decay": 0.0,
      "lr": {"type": "constant", "lr": 0.001},
      "patience": 0, "seed": 1, "threads": 0
    },
    "paper": {}
  })");
  Json own;
  if (task == "image") {
    own = Json::parse(R"({
      "task": "image",
      "data": "mnist",
      "model": {"arch": "conv", "nz": 4, "channels": 16, "f": 7, "hidden": 256},
      "train": {
        "batch": 1000, "steps": 5500, "eval_every": 55, "checkpoint_every": 550, "eval_batch": 1000,
        "clip": 0.0, "augment": true, "valid_size": 5000
      }
    })");
  } else if (task == "charlm") {
    // Penn Treebank settings of §4.3 / A.3.3: batch 128, segments of 100, Adam 0.001, clipping 1.0,
    // keep probability 0.9 on input, output and the candidate (drop 0.1).
    own = Json::parse(R"({
      "task": "charlm",
      "data": "ptb",
      "enwik8_splits": [90000000, 5000000, 5000000],
      "model": {
        "cell": "hyperlstm", "hidden": 1000, "hyper": 128, "embed": 4, "layers": 1, "layer_norm": false,
        "input_dropout": 0.1, "output_dropout": 0.1, "recurrent_dropout": 0.1, "hyper_recurrent_dropout": 0.0,
        "ln_eps": 0.001, "forget_bias": 1.0, "fused": true
      },
      "train": {
        "batch": 128, "seq": 100, "steps": 20000, "eval_every": 500, "checkpoint_every": 500,
        "eval_batch": 8, "eval_seq": 100, "eval_chars": 200000, "clip": 1.0
      }
    })");
  } else if (task == "handwriting") {
    // IAM-OnDB settings of §4.5 / A.3.5: batch 32, Adam 0.0001, clipping 5.0, keep probability
    // 0.95 on the output and the candidate (drop 0.05), lines under 300 points left out, random
    // scaling of ±10%; hyper cell 128 units, N_z 4; 20 mixture components (the paper's counts).
    own = Json::parse(R"({
      "task": "handwriting",
      "data": "iam_ondb",
      "min_points": 300,
      "model": {
        "cell": "hyperlstm", "hidden": 900, "hyper": 128, "embed": 4, "layers": 1, "layer_norm": false,
        "input_dropout": 0.0, "output_dropout": 0.05, "recurrent_dropout": 0.05, "hyper_recurrent_dropout": 0.0,
        "ln_eps": 0.001, "forget_bias": 1.0, "fused": true, "mixtures": 20
      },
      "train": {
        "batch": 32, "seq": 300, "steps": 50000, "eval_every": 500, "checkpoint_every": 500,
        "eval_batch": 32, "eval_seq": 200, "eval_lines": 256, "clip": 5.0, "augment": 0.1,
        "lr": {"type": "constant", "lr": 0.0001}
      }
    })");
  } else {
    throw std::invalid_argument("unknown task '" + task + "' (known: image, charlm, handwriting)");
  }
  cfg.merge_patch(own);  // objects merge key by key, so "train" keeps the shared keys
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
