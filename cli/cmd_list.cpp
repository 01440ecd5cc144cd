#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <filesystem>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/tasks.h"

namespace ht {

// Where configs/ is: --dir, else ./configs, else the installed copy (bin/../share/hypertrain/configs,
// see `cmake --install`), else a configs/ in a directory above the executable (a build tree).
static std::string find_configs_dir(const std::string& given, const char* argv0) {
  namespace fs = std::filesystem;
  if (!given.empty()) return given;
  if (fs::is_directory("configs")) return "configs";
  std::error_code ec;
  fs::path exe = fs::canonical("/proc/self/exe", ec);
  if (const fs::path installed = exe.parent_path().parent_path() / "share/hypertrain/configs"; !ec && fs::is_directory(installed))
    return installed.string();
  for (fs::path p = exe.parent_path(); !p.empty() && p != p.parent_path(); p = p.parent_path())
    if (fs::is_directory(p / "configs")) return (p / "configs").string();
  throw std::invalid_argument("no configs directory found (looked in ./configs, " + exe.parent_path().parent_path().string() +
                              "/share/hypertrain/configs and above " + exe.parent_path().string() + "); pass --dir");
}

int cmd_list(int argc, char** argv) {
  cxxopts::Options o("hypertrain list", "Every config: its name, path, the paper's figure and our parameter count");
  o.add_options()("dir", "configs directory", cxxopts::value<std::string>()->default_value(""))("json", "JSON for scripts")(
      "h,help", "this help");
  auto a = parse_args(o, argc, argv);
  if (a.count("help")) {
    std::cout << o.help() << "\n";
    return 0;
  }
  std::string dir = find_configs_dir(a["dir"].as<std::string>(), argv[0]);
  std::vector<std::string> files;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  Json rows = Json::array();
  for (auto& f : files) {
    Json cfg = load_config(f);
    auto task = make_task(cfg, false);
    ParamStore ps;
    task->build(ps);
    auto counted = task->counted_parameters(ps);
    rows.push_back({{"name", cfg["name"]}, {"path", f}, {"paper", cfg["paper"]}, {"parameters", ps.count()},
                    {"counted", {{"what", counted.first}, {"count", counted.second}}}, {"model", task->describe()}});
  }
  if (a.count("json")) {
    std::cout << rows.dump(2) << "\n";
    return 0;
  }
  std::printf("%-26s %-34s %12s %-34s  %s\n", "name", "path", "parameters", "counted (ours)", "paper");
  for (auto& r : rows) {
    std::string counted = r["counted"]["what"].get<std::string>() + " " + std::to_string(r["counted"]["count"].get<i64>());
    std::string paper = r["paper"].value("figure", std::string("")) + (r["paper"].contains("result") ? ": " + r["paper"]["result"].get<std::string>() : "");
    std::printf("%-26s %-34s %12lld %-34s  %s\n", r["name"].get<std::string>().c_str(), r["path"].get<std::string>().c_str(),
                (long long)r["parameters"].get<i64>(), counted.c_str(), paper.c_str());
  }
  return 0;
}

}  // namespace ht
