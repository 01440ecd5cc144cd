#include <cxxopts.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/machine.h"
#include "cli/run_files.h"
#include "cli/tasks.h"
#include "cli/trainer.h"
#include "engine/parallel.h"

namespace ht {

static std::string default_run_dir(const std::string& name) {
  std::string stamp = now_utc();  // 2026-11-27T08:01:02Z -> 20261127-080102
  std::string compact;
  for (char c : stamp)
    if (std::isdigit(static_cast<unsigned char>(c))) compact += c;
  return "runs/" + name + "-" + compact.substr(0, 8) + "-" + compact.substr(8, 6);
}

int cmd_train(int argc, char** argv) {
  cxxopts::Options o("hypertrain train", "Train a model from a JSON config");
  o.add_options()("config", "config file (configs/...json)", cxxopts::value<std::string>())(
      "set", "override a config key: key=value (repeatable)", cxxopts::value<std::vector<std::string>>())(
      "out", "run directory (default runs/NAME-DATE-TIME)", cxxopts::value<std::string>())(
      "resume", "continue the run in DIR where it stopped", cxxopts::value<std::string>())(
      "steps", "total training steps (train.steps)", cxxopts::value<long>())(
      "threads", "threads (train.threads; 0: every core)", cxxopts::value<int>())(
      "seed", "random seed (train.seed)", cxxopts::value<long>())(
      "data", "data directory (data_dir)", cxxopts::value<std::string>())(
      "quiet", "no progress lines")("h,help", "this help");
  auto a = o.parse(argc, argv);
  if (a.count("help")) {
    std::cout << o.help() << "\n";
    return 0;
  }
  bool resume = a.count("resume") > 0;
  if (resume == (a.count("config") > 0)) throw std::invalid_argument("give either --config FILE or --resume DIR");
  std::vector<std::string> sets;
  if (a.count("set")) sets = a["set"].as<std::vector<std::string>>();
  if (a.count("steps")) sets.push_back("train.steps=" + std::to_string(a["steps"].as<long>()));
  if (a.count("threads")) sets.push_back("train.threads=" + std::to_string(a["threads"].as<int>()));
  if (a.count("seed")) sets.push_back("train.seed=" + std::to_string(a["seed"].as<long>()));
  if (a.count("data")) sets.push_back("data_dir=\"" + a["data"].as<std::string>() + "\"");

  Json cfg;
  TrainOptions opt;
  if (resume) {
    opt.run_dir = a["resume"].as<std::string>();
    opt.resume = true;
    for (auto& kv : sets)
      if (kv.rfind("train.steps=", 0) != 0 && kv.rfind("train.threads=", 0) != 0 && kv.rfind("data_dir=", 0) != 0)
        throw std::invalid_argument("--resume continues the run as configured; only --steps, --threads and --data may change (got " + kv + ")");
    cfg = resolve_config(Json::parse(read_text(opt.run_dir + "/config.json")), opt.run_dir + "/config.json", sets);
    write_text_atomic(opt.run_dir + "/config.json", cfg.dump(2) + "\n");
  } else {
    cfg = load_config(a["config"].as<std::string>(), sets);
    opt.run_dir = a.count("out") ? a["out"].as<std::string>() : default_run_dir(cfg["name"].get<std::string>());
  }
  opt.quiet = a.count("quiet") > 0;
  Threads threads(cfg["train"]["threads"].get<int>());
  auto task = make_task(cfg);
  auto sum = run_training(cfg, *task, opt);
  std::cout << "run directory: " << opt.run_dir << "\n";
  if (!sum.results.is_null()) std::cout << sum.results.dump(2) << "\n";
  return sum.interrupted ? 130 : 0;
}

}  // namespace ht
