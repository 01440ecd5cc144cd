#include <cxxopts.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/charlm_task.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "engine/checkpoint.h"
#include "engine/parallel.h"

namespace ht {

namespace {

// `eval --burn-in N [--streams S]`: a language model's split from both starts (after the burn-in, from
// a zero state), computed in one pass.
int eval_starts(Task& task, const ParamStore& ps, const Json& cfg, const std::string& file, const Checkpoint& ck, const std::string& split,
                i64 burn_in, i64 streams, bool json) {
  auto* lm = dynamic_cast<CharLMTask*>(&task);
  if (!lm) throw std::invalid_argument("--burn-in is for language models (task charlm); this run's task is '" + cfg["task"].get<std::string>() + "'");
  const CharLMTask::Starts s = lm->evaluate_starts(ps, split, burn_in, streams);
  if (!std::isfinite(s.burned.metric) || !std::isfinite(s.zero.metric))
    throw std::runtime_error("evaluating " + file + " on '" + split + "' is not finite: not a number to report");
  const i64 step = ck.meta.value("step", i64(-1));
  if (json) {
    std::cout << Json({{"checkpoint", file}, {"step", step}, {"split", split}, {"count", s.burned.count}, {"streams", streams}, {"burn_in", s.burn_in},
                       {"bpc", s.burned.metric}, {"loss", s.burned.loss}, {"zero_start_bpc", s.zero.metric}, {"zero_start_loss", s.zero.loss}})
                     .dump(2)
              << "\n";
    return 0;
  }
  std::printf("%s (%s, step %lld): %s, %lld characters as %lld stream%s\n", cfg["name"].get<std::string>().c_str(), file.c_str(),
              (long long)step, split.c_str(), (long long)s.burned.count, (long long)streams, streams == 1 ? "" : "s");
  std::printf("  from a zero state:                       bpc %.4f\n", s.zero.metric);
  std::printf("  after a burn-in of %8lld characters:   bpc %.4f%s\n", (long long)s.burn_in, s.burned.metric,
              s.burn_in < burn_in ? "  (all the text before the split)" : "");
  if (s.burn_in == 0 && burn_in > 0) std::printf("  (nothing comes before the '%s' split: no burn-in)\n", split.c_str());
  return 0;
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  cxxopts::Options o("hypertrain eval", "Evaluate a run's best (or latest) checkpoint on a split");
  o.add_options()("checkpoint", "run directory (or a checkpoint file inside one)", cxxopts::value<std::string>())(
      "split", "valid or test (default: test; valid for handwriting, which has no test set)", cxxopts::value<std::string>())(
      "threads", "threads (0: every core)", cxxopts::value<int>()->default_value("0"))(
      "data", "data directory", cxxopts::value<std::string>())(
      "beam", "translation: beam size (1: greedy; default: the run's decode.beam)", cxxopts::value<int>())(
      "burn-in", "language models: read the split after N symbols of the split before it (unscored, state carried) and from a zero state, "
      "side by side (default: the run's train.eval_burn_in, alone)", cxxopts::value<i64>())(
      "streams", "with --burn-in: read the split as this many parallel streams (default 1: one stream)", cxxopts::value<i64>()->default_value("1"))("json", "print the result as JSON")("h,help", "this help");
  auto a = parse_args(o, argc, argv);
  if (a.count("help") || !a.count("checkpoint")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  const auto [dir, file] = locate_checkpoint(a["checkpoint"].as<std::string>());
  std::vector<std::string> sets;
  if (a.count("data")) sets.push_back("data_dir=" + Json(a["data"].as<std::string>()).dump());
  if (a.count("beam")) sets.push_back("decode.beam=" + std::to_string(a["beam"].as<int>()));
  Json cfg = resolve_config(read_json_file(dir + "/config.json", "run config"), dir + "/config.json", sets);
  Threads threads(a["threads"].as<int>());
  auto task = make_task(cfg);
  ParamStore ps;
  task->build(ps);
  Rng rng(0);
  ps.finalize(rng);
  Checkpoint ck = load_checkpoint(file);
  restore_params(ps, ck);
  refuse_nonfinite(ps, file);
  task->open_run_dir(dir, false);
  std::string split = a.count("split") ? a["split"].as<std::string>() : task->final_splits().back();
  if (a.count("streams") && !a.count("burn-in")) throw std::invalid_argument("--streams goes with --burn-in (give --burn-in 0 for zero-state streams)");
  if (a.count("burn-in")) return eval_starts(*task, ps, cfg, file, ck, split, a["burn-in"].as<i64>(), a["streams"].as<i64>(), a.count("json") > 0);
  EvalResult r = task->evaluate(ps, split);
  if (r.count == 0) throw std::invalid_argument("the '" + split + "' split of " + cfg["data"].get<std::string>() + " is empty");
  if (!std::isfinite(r.loss) || !std::isfinite(r.metric))
    throw std::runtime_error("evaluating " + file + " on '" + split + "' gives a loss of " + std::to_string(r.loss) + ": not a number to report");
  const std::string metric = task->metric().name;
  Json out = {{"run", dir}, {"checkpoint", file}, {"step", ck.meta.value("step", i64(-1))}, {"split", split},
              {metric, r.metric}, {"loss", r.loss}, {"count", r.count}};
  if (!r.details.is_null()) out["details"] = r.details;
  if (a.count("json")) {
    std::cout << out.dump(2) << "\n";
  } else if (!r.details.is_null() && r.details.contains("signature")) {  // BLEU: sacreBLEU's score line and signature
    std::cout << cfg["name"].get<std::string>() << " (" << file << ", step " << ck.meta.value("step", i64(-1)) << "): " << split
              << ", beam " << cfg["decode"]["beam"].get<int>() << "\n"
              << r.details["score"].get<std::string>() << "\n"
              << r.details["signature"].get<std::string>() << "\n"
              << "loss " << r.loss << " nats per target token over " << r.count << " tokens\n";
  } else {
    std::printf("%s (%s, step %lld): %s %s %.4f%s, loss %.4f nats over %lld %s\n", cfg["name"].get<std::string>().c_str(),
                file.c_str(), (long long)ck.meta.value("step", i64(-1)), split.c_str(), metric.c_str(),
                metric == "error" ? 100 * r.metric : r.metric, metric == "error" ? "%" : "", r.loss, (long long)r.count, task->item_name());
  }
  return 0;
}

}  // namespace ht
