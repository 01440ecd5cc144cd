// hypertrain translate --checkpoint DIR [--beam K] [--text FILE]: one translation per input line
// (stdin when no --text), written to stdout in order; warnings (lines cut to max_source) on stderr.
#include <cxxopts.hpp>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "train/translation_task.h"
#include "data/parallel_text.h"
#include "engine/checkpoint.h"
#include "engine/parallel.h"

namespace ht {

int cmd_translate(int argc, char** argv) {
  cxxopts::Options o("hypertrain translate", "Translate lines with a trained translation run (one output line per input line)");
  o.add_options()("checkpoint", "run directory (or a checkpoint file inside one)", cxxopts::value<std::string>())(
      "text", "file to translate, one sentence a line (default: stdin)", cxxopts::value<std::string>())(
      "beam", "beam size (1: greedy; default: the run's decode.beam)", cxxopts::value<int>())(
      "alpha", "length normalisation α (default: the run's decode.alpha)", cxxopts::value<double>())(
      "threads", "threads (0: every core)", cxxopts::value<int>()->default_value("0"))("h,help", "this help");
  auto a = o.parse(argc, argv);
  if (a.count("help") || !a.count("checkpoint")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  const auto [dir, file] = locate_checkpoint(a["checkpoint"].as<std::string>());
  Json cfg = resolve_config(Json::parse(read_text(dir + "/config.json")), dir + "/config.json");
  if (cfg["task"] != "translation")
    throw std::invalid_argument(dir + " is a " + cfg["task"].get<std::string>() + " run; translate needs a translation run");
  Threads threads(a["threads"].as<int>());
  TranslationTask task(cfg, false);
  ParamStore ps;
  task.build(ps);
  Rng rng(0);
  ps.finalize(rng);
  restore_params(ps, load_checkpoint(file));
  task.open_run_dir(dir, false);
  SearchOptions opt = search_options(cfg);
  if (a.count("beam")) opt.beam = a["beam"].as<int>();
  if (a.count("alpha")) opt.alpha = a["alpha"].as<double>();
  if (opt.beam < 1) throw std::invalid_argument("--beam must be at least 1");
  std::string text;
  if (a.count("text")) {
    text = read_text(a["text"].as<std::string>());
  } else {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> warnings;
  for (const std::string& line : task.translate(ps, text_lines(text), opt, &warnings)) std::cout << line << "\n";
  std::cout.flush();
  for (const std::string& w : warnings) std::fprintf(stderr, "hypertrain translate: warning: %s\n", w.c_str());
  return 0;
}

}  // namespace ht
