#include <cstdio>
#include <cxxopts.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/run_files.h"
#include "cli/config.h"

namespace ht {

// hypertrain report RUN_DIR...: one row per finished run, from its results.json, beside the paper's.
int cmd_report(int argc, char** argv) {
  cxxopts::Options o("hypertrain report", "A table of finished runs (their results.json) beside the paper's figures");
  o.add_options()("runs", "run directories", cxxopts::value<std::vector<std::string>>())("h,help", "this help");
  o.parse_positional({"runs"});
  auto a = o.parse(argc, argv);
  if (a.count("help") || !a.count("runs")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  std::printf("%-22s %-9s %-36s %10s %8s %10s %10s %9s\n", "run", "data", "counted parameters", "count", "steps", "test error",
              "paper", "seconds");
  for (auto& dir : a["runs"].as<std::vector<std::string>>()) {
    std::string path = dir + "/results.json";
    if (!file_exists(path)) {
      std::printf("%-22s (no results.json: unfinished or interrupted)\n", dir.c_str());
      continue;
    }
    Json r = Json::parse(read_text(path));
    // The paper's figure applies only to the data it was measured on (its configs' own "data").
    bool same_data = r["paper"].value("data", std::string("mnist")) == r["data"].get<std::string>();
    std::string paper = same_data && r["paper"].contains("test_error")
                            ? std::to_string(100 * r["paper"]["test_error"].get<double>()).substr(0, 4) + "%"
                            : "-";
    std::printf("%-22s %-9s %-36s %10lld %8lld %9.2f%% %10s %9.0f\n", r["name"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), r["counted_parameters"]["what"].get<std::string>().c_str(),
                (long long)r["counted_parameters"]["count"].get<long long>(), (long long)r["steps"].get<long long>(),
                100 * r["test_error"].get<double>(), paper.c_str(), r["train_seconds"].get<double>());
  }
  return 0;
}

}  // namespace ht
