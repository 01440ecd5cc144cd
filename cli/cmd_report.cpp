#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <cxxopts.hpp>
#include <iostream>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/run_files.h"
#include "train/config.h"

namespace ht {

// The paper's test error beside an image run ("0.76%"), or "-": the paper's figure applies only to
// the data it was measured on (its configs' own "data", MNIST unless they say otherwise).
static std::string paper_error(const Json& r) {
  const bool same_data = r["paper"].value("data", std::string("mnist")) == r["data"].get<std::string>();
  return same_data && r["paper"].contains("test_error") ? std::to_string(100 * r["paper"]["test_error"].get<double>()).substr(0, 4) + "%"
                                                        : "-";
}

// `report --seeds`: the image runs grouped by (name, data), in order of first appearance; the
// test error's mean, sample standard deviation (n - 1), smallest and largest over each group.
static void print_error_groups(const std::vector<Json>& runs) {
  std::vector<std::pair<std::string, std::vector<const Json*>>> groups;
  for (auto& r : runs) {
    const std::string key = r["name"].get<std::string>() + "\t" + r["data"].get<std::string>();
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == key; });
    if (it == groups.end()) groups.push_back({key, {&r}});
    else it->second.push_back(&r);
  }
  std::printf("%-22s %-14s %5s %19s %7s %7s %10s %8s %9s\n", "run", "data", "seeds", "test error mean ± sd", "min", "max", "paper",
              "steps", "seconds");
  for (auto& [key, rs] : groups) {
    const Json& r = *rs.front();
    double mean = 0, var = 0, lo = std::numeric_limits<double>::infinity(), hi = 0, steps = 0, secs = 0;
    for (const Json* x : rs) {
      const double e = 100 * (*x)["test_error"].get<double>();
      mean += e / double(rs.size());
      lo = std::min(lo, e), hi = std::max(hi, e);
      steps += (*x)["steps"].get<double>() / double(rs.size());
      secs += (*x)["train_seconds"].get<double>() / double(rs.size());
    }
    for (const Json* x : rs) var += std::pow(100 * (*x)["test_error"].get<double>() - mean, 2);
    const double sd = rs.size() > 1 ? std::sqrt(var / double(rs.size() - 1)) : std::nan("");
    const std::string paper = paper_error(r);
    char ms[64];
    std::snprintf(ms, sizeof ms, "%.2f%% ± %.2f", mean, sd);
    std::printf("%-22s %-14s %5zu %19s %6.2f%% %6.2f%% %10s %8.0f %9.0f\n", r["name"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), rs.size(), ms, lo, hi, paper.c_str(), steps, secs);
  }
}

// hypertrain report RUN_DIR...: one row per finished run, from its results.json, beside the paper's.
int cmd_report(int argc, char** argv) {
  cxxopts::Options o("hypertrain report", "A table of finished runs (their results.json) beside the paper's figures");
  o.add_options()("runs", "run directories", cxxopts::value<std::vector<std::string>>())(
      "seeds", "image runs: one row per name and data, the test error's mean and standard deviation over the runs (seeds) that share them")(
      "h,help", "this help");
  o.parse_positional({"runs"});
  auto a = parse_args(o, argc, argv);
  if (a.count("help") || !a.count("runs")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  std::vector<Json> errors, bpcs, loglosses, bleus;
  // Every directory must be a run; a finished run's results.json must hold the numbers of its table.
  for (auto& dir : a["runs"].as<std::vector<std::string>>()) {
    if (!file_exists(dir + "/config.json"))
      throw std::invalid_argument(dir + (file_exists(dir) ? " is not a run directory: no config.json" : " does not exist"));
    std::string path = dir + "/results.json";
    if (!file_exists(path)) {
      std::printf("%-22s (no results.json: unfinished or interrupted)\n", dir.c_str());
      continue;
    }
    Json r = read_json_file(path, "results file");
    auto& table = !r.is_object()                  ? errors
                  : r.contains("test_bleu")      ? bleus
                  : r.contains("valid_logloss")  ? loglosses
                  : r.contains("test_bpc")       ? bpcs
                                                 : errors;
    const std::vector<std::string> numbers =
        &table == &bleus       ? std::vector<std::string>{"valid_bleu", "test_bleu", "parameters", "steps", "train_seconds"}
        : &table == &loglosses ? std::vector<std::string>{"valid_logloss", "parameters", "steps", "train_seconds"}
        : &table == &bpcs      ? std::vector<std::string>{"valid_bpc", "test_bpc", "parameters", "steps", "train_seconds"}
                               : std::vector<std::string>{"test_error", "steps", "train_seconds"};
    for (const auto& k : numbers)
      if (!r.is_object() || !r.contains(k) || !r[k].is_number())
        throw std::invalid_argument("results file '" + path + "' has no number '" + k + "'");
    for (const char* k : {"name", "data", "model"})
      if (!r.contains(k) || !r[k].is_string()) throw std::invalid_argument("results file '" + path + "' has no string '" + k + "'");
    if (!r.contains("paper") || !r["paper"].is_object()) r["paper"] = Json::object();
    if (&table == &errors && !(r.contains("counted_parameters") && r["counted_parameters"].value("what", Json()).is_string() &&
                               r["counted_parameters"].value("count", Json()).is_number_integer()))
      throw std::invalid_argument("results file '" + path + "' has no 'counted_parameters' {what, count}");
    table.push_back(r);
  }
  if (a.count("seeds") && !errors.empty()) {
    print_error_groups(errors);
    errors.clear();
  }
  if (!errors.empty())
    std::printf("%-22s %-9s %-36s %10s %8s %10s %10s %9s\n", "run", "data", "counted parameters", "count", "steps", "test error",
                "paper", "seconds");
  for (auto& r : errors) {
    const std::string paper = paper_error(r);
    std::printf("%-22s %-9s %-36s %10lld %8lld %9.2f%% %10s %9.0f\n", r["name"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), r["counted_parameters"]["what"].get<std::string>().c_str(),
                (long long)r["counted_parameters"]["count"].get<long long>(), (long long)r["steps"].get<long long>(),
                100 * r["test_error"].get<double>(), paper.c_str(), r["train_seconds"].get<double>());
  }
  if (!errors.empty() && !bpcs.empty()) std::printf("\n");
  if (!bpcs.empty())
    std::printf("%-26s %-7s %-44s %10s %7s %9s %9s %16s %8s\n", "run", "data", "model", "parameters", "steps", "valid bpc", "test bpc",
                "paper valid/test", "seconds");
  for (auto& r : bpcs) {
    // The paper's figures belong to the paper's full-size model trained to the end; shown for reference.
    auto fig = [&](const char* key) {
      return r["paper"].contains(key) ? std::to_string(r["paper"][key].get<double>()).substr(0, 5) : std::string("-");
    };
    std::string paper = fig("valid_bpc") + " / " + fig("test_bpc");
    std::printf("%-26s %-7s %-44s %10lld %7lld %9.3f %9.3f %16s %8.0f\n", r["name"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), r["model"].get<std::string>().substr(0, 44).c_str(),
                (long long)r["parameters"].get<long long>(), (long long)r["steps"].get<long long>(), r["valid_bpc"].get<double>(),
                r["test_bpc"].get<double>(), paper.c_str(), r["train_seconds"].get<double>());
  }
  if ((!errors.empty() || !bpcs.empty()) && !loglosses.empty()) std::printf("\n");
  if (!loglosses.empty())
    std::printf("%-26s %-44s %10s %7s %14s %14s %8s\n", "run", "model", "parameters", "steps", "valid nats/line", "paper (other units)",
                "seconds");
  for (auto& r : loglosses) {
    std::string paper = r["paper"].contains("valid_logloss") ? std::to_string(r["paper"]["valid_logloss"].get<double>()).substr(0, 7) : "-";
    std::printf("%-26s %-44s %10lld %7lld %14.1f %14s %8.0f\n", r["name"].get<std::string>().c_str(),
                r["model"].get<std::string>().substr(0, 44).c_str(), (long long)r["parameters"].get<long long>(),
                (long long)r["steps"].get<long long>(), r["valid_logloss"].get<double>(), paper.c_str(), r["train_seconds"].get<double>());
  }
  if ((!errors.empty() || !bpcs.empty() || !loglosses.empty()) && !bleus.empty()) std::printf("\n");
  if (!bleus.empty())
    std::printf("%-24s %-9s %-44s %10s %7s %10s %9s %11s %8s\n", "run", "data", "model", "parameters", "steps", "valid BLEU", "test BLEU",
                "paper test", "seconds");
  for (auto& r : bleus) {
    // The paper's figure (WMT'14 newstest2014) shown only beside a run on the same data.
    const bool same_data = r["paper"].value("data", std::string()) == r["data"].get<std::string>();
    const std::string paper = same_data && r["paper"].contains("test_bleu") ? std::to_string(r["paper"]["test_bleu"].get<double>()).substr(0, 5) : "-";
    std::printf("%-24s %-9s %-44s %10lld %7lld %10.2f %9.2f %11s %8.0f\n", r["name"].get<std::string>().c_str(),
                r["data"].get<std::string>().c_str(), r["model"].get<std::string>().substr(0, 44).c_str(),
                (long long)r["parameters"].get<long long>(), (long long)r["steps"].get<long long>(), r["valid_bleu"].get<double>(),
                r["test_bleu"].get<double>(), paper.c_str(), r["train_seconds"].get<double>());
  }
  return 0;
}

}  // namespace ht
