// hypertrain sample: text from a trained character language model, continuing a prime, or pen
// strokes from a handwriting model, drawn to a picture (.png, .svg, .pdf) and written as numbers
// (.json, .npy).
#include <cxxopts.hpp>
#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "engine/checkpoint.h"
#include "engine/parallel.h"
#include "plot/plot.h"

namespace ht {

const RecurrentStack& RecurrentRun::model() const {
  if (task_name == "handwriting") return static_cast<const HandwritingTask&>(*task).model();
  return static_cast<const CharLMTask&>(*task).model();
}
const CharCorpus& RecurrentRun::corpus() const {
  if (task_name != "charlm") throw std::logic_error("corpus() of a " + task_name + " run");
  return static_cast<const CharLMTask&>(*task).corpus();
}

RecurrentRun load_recurrent_run(const std::string& path, const std::string& data_dir, const std::string& what,
                             const std::vector<std::string>& tasks, const std::function<void(const RecurrentRun&)>& check) {
  RecurrentRun r;
  const RunCheckpoint where = locate_checkpoint(path);
  r.dir = where.dir;
  r.checkpoint = where.file;
  std::vector<std::string> sets;
  if (!data_dir.empty()) sets.push_back("data_dir=" + Json(data_dir).dump());
  Json user = read_json_file(r.dir + "/config.json", "run config");
  if (!user.is_object()) throw std::invalid_argument(r.dir + "/config.json: a config must be a JSON object");
  const std::string task = user.value("task", std::string("image"));
  if (std::find(tasks.begin(), tasks.end(), task) == tasks.end()) {
    std::string list;
    for (const auto& k : tasks) list += (list.empty() ? "" : " or ") + k;
    throw std::invalid_argument(what + " needs a run of task " + list + "; " + r.dir + " holds a run of task '" + task + "'");
  }
  r.task_name = task;
  r.cfg = resolve_config(user, r.dir + "/config.json", sets);
  if (check) check(r);
  r.task = make_task(r.cfg);
  r.ps = std::make_unique<ParamStore>();
  r.task->build(*r.ps);
  Rng rng(0);
  r.ps->finalize(rng);
  Checkpoint ck = load_checkpoint(r.checkpoint);
  restore_params(*r.ps, ck);
  refuse_nonfinite(*r.ps, r.checkpoint);
  r.step = ck.meta.value("step", i64(-1));
  return r;
}

namespace {

constexpr long kMaxSampleChars = 1'000'000, kMaxSamplePoints = 100'000;  // bounds on --length

int sample_handwriting(const RecurrentRun& run, const cxxopts::ParseResult& a) {
  const long length = a.count("length") ? a["length"].as<long>() : 700, count = a["count"].as<long>();
  const double bias = a["bias"].as<double>();
  if (length <= 0 || length > kMaxSamplePoints)
    throw std::invalid_argument("--length must be in [1, " + std::to_string(kMaxSamplePoints) + "] (points), got " + std::to_string(length));
  if (count <= 0 || count > 64) throw std::invalid_argument("--count must be in [1, 64], got " + std::to_string(count));
  if (!(bias >= 0) || !std::isfinite(bias))
    throw std::invalid_argument("--bias must be >= 0 (0: the model's own distribution), got " + (std::ostringstream() << bias).str());
  // The picture unless only --strokes was asked for; both names are checked before any sampling.
  const std::string strokes = a.count("strokes") ? a["strokes"].as<std::string>() : "";
  const std::string out = a.count("out") ? a["out"].as<std::string>() : strokes.empty() ? run.dir + "/sample.png" : "";
  if (!out.empty()) figure_format(out);
  if (!strokes.empty() && !(strokes.ends_with(".json") || strokes.ends_with(".npy")))
    throw std::invalid_argument("--strokes must name a .json or .npy file, got '" + strokes + "'");
  Rng rng(std::uint64_t(a["seed"].as<long>()));
  std::vector<std::string> titles;
  std::vector<std::vector<StrokePoint>> seqs;
  for (long k = 0; k < count; ++k) {
    titles.push_back("sample " + std::to_string(k + 1) + ", " + std::to_string(length) + " points, bias " + (std::ostringstream() << bias).str());
    seqs.push_back(handwriting_sample(run.model(), *run.ps, length, bias, rng));
  }
  std::string wrote;
  if (!out.empty()) plot_strokes(out, titles, seqs), wrote = out;
  if (!strokes.empty()) {
    write_strokes(strokes, titles, seqs, static_cast<const HandwritingTask&>(*run.task).data().scale);
    wrote += (wrote.empty() ? "" : " and ") + strokes;
  }
  std::cout << "wrote " << wrote << ": " << count << " handwriting samples of " << length << " points from " << run.checkpoint << " (step "
            << run.step << "), bias " << bias << "\n";
  return 0;
}

}  // namespace

int cmd_sample(int argc, char** argv) {
  cxxopts::Options o("hypertrain sample",
                     "Continue a prime with a trained character language model, or draw handwriting from a handwriting model");
  o.add_options()("checkpoint", "run directory (or a checkpoint file inside one)", cxxopts::value<std::string>())(
      "prime", "text to start from (every character in the model's vocabulary)", cxxopts::value<std::string>())(
      "length", "characters to generate after the prime (default 500); handwriting: points per sample (default 700)",
      cxxopts::value<long>())("count", "handwriting: how many samples", cxxopts::value<long>()->default_value("4"))(
      "bias", "handwriting: sampling bias (0: the model's own distribution; larger is neater)",
      cxxopts::value<double>()->default_value("0"))(
      "temperature", "softmax temperature (0: always the most likely character)",
      cxxopts::value<double>()->default_value("1.0"))("seed", "random seed", cxxopts::value<long>()->default_value("1"))(
      "out", "write the text to FILE (default: standard output); handwriting: the picture, .png, .svg or .pdf by the "
      "extension (default DIR/sample.png, none when only --strokes is given)",
      cxxopts::value<std::string>())(
      "strokes", "handwriting: also write the samples' numbers to FILE.json (a list of {\"title\", \"points\": [[dx, dy, pen_up], "
      "...]}) or FILE.npy (float32 [count, length, 3], rows past a shorter sample's end NaN); dx, dy in the data's whiteboard "
      "units, pen_up 1 on a stroke's last point",
      cxxopts::value<std::string>())(
      "data", "data directory (for the vocabulary; default: the run's data_dir)", cxxopts::value<std::string>())(
      "threads", "threads (0: every core)", cxxopts::value<int>()->default_value("0"))("h,help", "this help");
  auto a = parse_args(o, argc, argv);
  if (a.count("help") || !a.count("checkpoint")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  Threads threads(a["threads"].as<int>());
  RecurrentRun run = load_recurrent_run(a["checkpoint"].as<std::string>(), a.count("data") ? a["data"].as<std::string>() : "", "sample",
                                     {"charlm", "handwriting"});
  if (run.task_name == "handwriting") return sample_handwriting(run, a);
  if (!a.count("prime") || a["prime"].as<std::string>().empty())
    throw std::invalid_argument("sample needs a non-empty --prime TEXT to start from");
  const std::string prime = a["prime"].as<std::string>();
  const long length = a.count("length") ? a["length"].as<long>() : 500;
  const double temperature = a["temperature"].as<double>();
  if (length < 0 || length > kMaxSampleChars)
    throw std::invalid_argument("--length must be in [0, " + std::to_string(kMaxSampleChars) + "] (characters), got " + std::to_string(length));
  if (!(temperature >= 0) || !std::isfinite(temperature))
    throw std::invalid_argument("--temperature must be >= 0 (0: argmax), got " + (std::ostringstream() << temperature).str());

  std::vector<std::int32_t> ids;
  try {
    ids = run.corpus().encode(prime);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--prime: ") + e.what());
  }
  Rng rng(std::uint64_t(a["seed"].as<long>()));
  std::string text = prime + run.corpus().decode(charlm_sample(run.model(), *run.ps, ids, length, temperature, rng));
  if (a.count("out")) {
    const std::string out = a["out"].as<std::string>();
    write_text_atomic(out, text);
    std::cout << "wrote " << out << ": " << prime.size() << " characters of prime + " << length << " sampled from "
              << run.checkpoint << " (step " << run.step << "), temperature " << temperature << "\n";
  } else {
    std::cout << text << "\n";
  }
  return 0;
}

}  // namespace ht
