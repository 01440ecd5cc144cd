#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "bench/machine.h"
#include "train/mpi_comm.h"
#include "train/run_files.h"
#include "train/run_lock.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "engine/parallel.h"

namespace ht {

static std::string default_run_dir(const std::string& name) {
  std::string stamp = now_utc();  // 2026-11-27T08:01:02Z -> 20261127-080102
  std::string compact;
  for (char c : stamp)
    if (std::isdigit(static_cast<unsigned char>(c))) compact += c;
  return "runs/" + name + "-" + compact.substr(0, 8) + "-" + compact.substr(8, 6);
}

static int train(int argc, char** argv, Comm& comm);

// Order of work: the options, the config (every key checked), the run directory's lock, then the
// data and the training. Under an MPI launcher (train/mpi_comm.h) every rank runs this; only rank 0
// reads and writes the run directory (the others get a resumed run's config from it), every rank
// reads the data. An error on any rank ends the whole job with that rank's message.
int cmd_train(int argc, char** argv) {
  std::unique_ptr<Comm> comm = launched_comm();
  if (!comm) {
    Comm alone;
    return train(argc, argv, alone);
  }
  try {
    return train(argc, argv, *comm);
  } catch (const std::exception& e) {
    abort_job(*comm, "train", e.what());
  }
}

static int train(int argc, char** argv, Comm& comm) {
  cxxopts::Options o("hypertrain train", "Train a model from a JSON config");
  o.add_options()("config", "config file (configs/...json)", cxxopts::value<std::string>())(
      "set", "override a config key: key=value, the value JSON taken whole (model.hyper=[\"conv2\",\"conv3\"]); repeatable",
      cxxopts::value<std::string>())("out", "run directory (default runs/NAME-DATE-TIME)", cxxopts::value<std::string>())(
      "resume", "continue the run in DIR where it stopped", cxxopts::value<std::string>())(
      "steps", "total training steps (train.steps)", cxxopts::value<long>())(
      "threads", "threads (train.threads; 0: every core)", cxxopts::value<int>())(
      "seed", "random seed (train.seed)", cxxopts::value<long>())(
      "data", "data directory (data_dir): the only place data is read from when given", cxxopts::value<std::string>())(
      "no-final-eval", "end after the last step: no evaluation of best.safetensors on the final splits, no results.json (benchmarks)")(
      "quiet", "no progress lines")("h,help", "this help");
  TakenArgs taken = take_option(argc, argv, "--set");  // cxxopts would cut a value at its commas
  auto rest = taken.argv();
  auto a = parse_args(o, int(taken.rest.size()), rest.data());
  if (a.count("help")) {
    if (comm.root()) std::cout << o.help() << "\n";
    return 0;
  }
  bool resume = a.count("resume") > 0;
  if (resume == (a.count("config") > 0)) throw std::invalid_argument("give either --config FILE or --resume DIR");
  std::vector<std::string> sets = taken.values;
  if (a.count("steps")) sets.push_back("train.steps=" + std::to_string(a["steps"].as<long>()));
  if (a.count("threads")) sets.push_back("train.threads=" + std::to_string(a["threads"].as<int>()));
  if (a.count("seed")) sets.push_back("train.seed=" + std::to_string(a["seed"].as<long>()));
  if (a.count("data")) sets.push_back("data_dir=" + Json(a["data"].as<std::string>()).dump());  // a JSON string, whatever the path holds

  Json cfg;
  TrainOptions opt;
  if (resume) {
    opt.run_dir = a["resume"].as<std::string>();
    opt.resume = true;
    for (auto& kv : sets)
      if (kv.rfind("train.steps=", 0) != 0 && kv.rfind("train.threads=", 0) != 0 && kv.rfind("data_dir=", 0) != 0)
        throw std::invalid_argument("--resume continues the run as configured; only --steps, --threads and --data may change (got " + kv + ")");
    const std::string path = opt.run_dir + "/config.json";
    std::string text;  // the run's config as rank 0 reads it: other hosts need no copy of the run directory
    if (comm.root()) {
      if (!file_exists(path)) throw std::invalid_argument("cannot resume: " + opt.run_dir + " is not a run directory (no config.json)");
      text = read_json_file(path, "run config").dump();
    }
    broadcast_string(comm, text);
    cfg = resolve_config(Json::parse(text), path, sets);
  } else {
    cfg = load_config(a["config"].as<std::string>(), sets);
    std::string dir = a.count("out") ? a["out"].as<std::string>() : default_run_dir(cfg["name"].get<std::string>());
    broadcast_string(comm, dir);  // the default holds the time, which the ranks need not agree on
    opt.run_dir = dir;
  }
  opt.quiet = a.count("quiet") > 0;
  opt.final_eval = a.count("no-final-eval") == 0;
  // The config's batch is the global batch, cut into one shard per rank.
  const i64 batch = cfg["train"]["batch"].get<i64>();
  if (batch % comm.world() != 0)
    throw std::invalid_argument("config key 'train.batch' (= " + std::to_string(batch) + ") does not divide among the " +
                                std::to_string(comm.world()) + " ranks of this job; choose a multiple of " + std::to_string(comm.world()) +
                                " or another number of ranks");
  const bool created = comm.root() && !file_exists(opt.run_dir);
  if (comm.root()) {
    make_dirs(opt.run_dir);
    opt.lock = std::make_shared<const RunLock>(opt.run_dir);
  }
  const int wanted = cfg["train"]["threads"].get<int>();
  Threads threads(wanted > 0 || comm.world() == 1 ? wanted : default_threads_per_rank());
  std::unique_ptr<Task> task;
  try {
    task = make_task(cfg);
  } catch (...) {  // the data failed to load: a directory made for nothing goes again
    opt.lock.reset();
    if (created) std::filesystem::remove_all(opt.run_dir);
    throw;
  }
  auto sum = run_training(cfg, *task, opt, &comm);
  if (!comm.root()) return sum.interrupted ? 128 + sum.signal : 0;
  std::cout << "run directory: " << opt.run_dir << "\n";
  if (!sum.results.is_null()) std::cout << sum.results.dump(2) << "\n";
  return sum.interrupted ? 128 + sum.signal : 0;
}

}  // namespace ht
