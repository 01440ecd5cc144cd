#include <cxxopts.hpp>
#include <fstream>
#include <iostream>

#include "cli/bench_engine.h"
#include "cli/commands.h"

namespace ht {

int cmd_bench(int argc, char** argv) {
  cxxopts::Options o("hypertrain bench", "Throughput and efficiency against the sgemm peak measured in the same run");
  o.add_options()("engine", "MLP 784-1024-1024-10 training step vs its raw GEMMs")(
      "model", "a model's training step: mnist-conv or mnist-hyperconv", cxxopts::value<std::string>())(
      "json", "write the results as JSON to FILE", cxxopts::value<std::string>())(
      "threads", "threads (0: every core)", cxxopts::value<int>()->default_value("0"))(
      "iters", "timed repetitions (median reported)", cxxopts::value<int>()->default_value("20"))(
      "batch", "batch size (default 256 for --engine, 1000 for --model)", cxxopts::value<long>())("h,help", "this help");
  auto a = o.parse(argc, argv);
  if (a.count("help") || (a.count("engine") == 0) == (a.count("model") == 0)) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  EngineBenchOptions opt;
  opt.threads = a["threads"].as<int>();
  opt.iters = a["iters"].as<int>();
  bool engine = a.count("engine") > 0;
  opt.batch = a.count("batch") ? a["batch"].as<long>() : engine ? 256 : 1000;
  nlohmann::json r;
  if (engine) {
    r = run_engine_bench(opt);
    print_engine_bench(r);
  } else {
    r = run_convnet_bench(a["model"].as<std::string>(), opt);
    print_convnet_bench(r);
  }
  if (a.count("json")) {
    std::string path = a["json"].as<std::string>();
    std::ofstream f(path);
    if (!f) throw std::runtime_error("cannot write " + path);
    f << r.dump(2) << "\n";
    std::cerr << "wrote " << path << "\n";
  }
  return 0;
}

}  // namespace ht
