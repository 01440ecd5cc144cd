#include <cxxopts.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <limits>

#include "train/charlm_task.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "train/image_task.h"
#include "plot/plot.h"
#include "train/run_files.h"
#include "engine/checkpoint.h"

namespace ht {

// hypertrain plot kernels --run DIR [--run DIR ...] --out FILE: the paper's Figure 2, the
// second-layer kernels of each run side by side; for wide resnets (Appendix A.2.1) the first 16x16
// block of one 3x3 layer per stage, generated or learned, every run side by side.
static int plot_kernels(const std::vector<std::string>& runs, const std::string& out) {
  std::vector<std::pair<std::string, Tensor>> panels;
  for (auto& dir : runs) {
    if (!file_exists(dir + "/config.json")) throw std::invalid_argument(dir + " is not a run directory: no config.json");
    Json user = read_json_file(dir + "/config.json", "run config");
    if (!user.is_object() || user.value("task", std::string("image")) != "image")
      throw std::invalid_argument("plot kernels needs a run of task image (a conv model); " + dir + " holds a run of task " +
                                  (user.is_object() && user.contains("task") ? user["task"].dump() : std::string("?")));
    Json cfg = resolve_config(user, dir + "/config.json");
    if (!file_exists(run_checkpoint(dir))) throw std::invalid_argument(dir + " holds no checkpoint yet (no best.safetensors or checkpoint.safetensors)");
    ImageTask task(cfg, false);
    ParamStore ps;
    task.build(ps);
    Rng rng(0);
    ps.finalize(rng);
    restore_params(ps, load_checkpoint(run_checkpoint(dir)));
    auto ks = task.model().kernels(ps);
    if (ks.empty()) throw std::invalid_argument("run " + dir + " (" + task.describe() + ") has no conv kernels to draw");
    for (auto& [label, k] : ks) panels.emplace_back(cfg["name"].get<std::string>() + ": " + label, k);
  }
  const bool wrn = panels.front().second.dim(-1) == 3;
  if (wrn)
    plot_kernel_grids(out, "3x3 kernels, one layer per stage: the first 16 in x 16 out block (Appendix A.2.1)", panels, 256);
  else
    plot_kernel_grids(out, "second-layer 7x7 kernels (16 in x 16 out; first 64 shown)", panels);
  std::cout << "wrote " << out << "\n";
  return 0;
}

// `plot scaling --stats FILE`: what moves and what does not while the model reads the text, per
// character: the change from the previous character and the size of d_h (all gates), of the
// embedding z_h it comes from, of the hyper cell's output ĥ, the hyper cell's ĉ (mean and largest
// |ĉ| over its units) and the main cell's c (mean |c|), then their means over characters 0-9 and
// 10 onwards. Written as JSON; the summary is printed.
static void write_scaling_stats(const std::string& path, const RecurrentRun& run, const std::string& text,
                                const std::vector<StepTrace>& trace) {
  auto norm = [](const Tensor& a, const Tensor* b) {
    if (!a.numel()) return std::nan("");
    double s = 0;
    for (i64 i = 0; i < a.numel(); ++i) {
      const double v = a.at(i) - (b ? b->at(i) : 0.0);
      s += v * v;
    }
    return std::sqrt(s);
  };
  auto abs_stat = [](const Tensor& a, bool largest) {
    if (!a.numel()) return std::nan("");
    double s = 0;
    for (i64 i = 0; i < a.numel(); ++i) s = largest ? std::max(s, std::abs(double(a.at(i)))) : s + std::abs(double(a.at(i))) / double(a.numel());
    return s;
  };
  using Field = std::function<double(std::size_t)>;
  const auto prev = [&](std::size_t t, Tensor StepTrace::*f) -> const Tensor* { return t > 0 ? &(trace[t - 1].*f) : nullptr; };
  const std::vector<std::pair<std::string, Field>> fields = {
      {"d_h_change", [&](std::size_t t) { return t ? norm(trace[t].d_h, prev(t, &StepTrace::d_h)) : std::nan(""); }},
      {"d_h_norm", [&](std::size_t t) { return norm(trace[t].d_h, nullptr); }},
      {"z_h_change", [&](std::size_t t) { return t ? norm(trace[t].z_h, prev(t, &StepTrace::z_h)) : std::nan(""); }},
      {"z_h_norm", [&](std::size_t t) { return norm(trace[t].z_h, nullptr); }},
      {"h_hat_change", [&](std::size_t t) { return t ? norm(trace[t].h_hat, prev(t, &StepTrace::h_hat)) : std::nan(""); }},
      {"h_hat_norm", [&](std::size_t t) { return norm(trace[t].h_hat, nullptr); }},
      {"c_hat_mean_abs", [&](std::size_t t) { return abs_stat(trace[t].c_hat, false); }},
      {"c_hat_max_abs", [&](std::size_t t) { return abs_stat(trace[t].c_hat, true); }},
      {"c_mean_abs", [&](std::size_t t) { return abs_stat(trace[t].c, false); }},
  };
  Json per = Json::object(), summary = Json::object();
  for (auto& [name, f] : fields) {
    Json col = Json::array();
    double sum[2] = {0, 0};
    int n[2] = {0, 0};
    for (std::size_t t = 0; t < trace.size(); ++t) {
      const double v = f(t);
      col.push_back(std::isfinite(v) ? Json(v) : Json());
      if (std::isfinite(v)) sum[t >= 10] += v, ++n[t >= 10];
    }
    per[name] = col;
    summary[name] = {{"chars_0_9", n[0] ? Json(sum[0] / n[0]) : Json()}, {"chars_10_on", n[1] ? Json(sum[1] / n[1]) : Json()}};
  }
  Json out = {{"run", run.dir}, {"checkpoint", run.checkpoint}, {"step", run.step}, {"text", text}, {"summary", summary}, {"per_char", per}};
  write_text_atomic(path, out.dump(1) + "\n");
  std::printf("%-16s %12s %12s\n", "", "chars 0-9", "chars 10-");
  for (auto& [name, f] : fields) {
    auto cell = [&](const char* k) { return summary[name][k].is_number() ? summary[name][k].get<double>() : std::nan(""); };
    std::printf("%-16s %12.5g %12.5g\n", name.c_str(), cell("chars_0_9"), cell("chars_10_on"));
  }
  std::cout << "wrote " << path << "\n";
}

// hypertrain plot scaling --checkpoint DIR --text FILE: the first layer's scaling vectors while the
// model reads FILE, as heat maps (unit x character) of one gate's d_h and d_x, and a line per gate
// of their change from one character to the next (the paper's Figure 4) or of their norm.
static int plot_scaling(const std::string& path, const std::string& text_file, std::string out, i64 max_chars,
                        const std::string& gate, i64 max_units, const std::string& lines, bool center,
                        const std::string& data_dir, const std::string& stats) {
  static const char* kGates[4] = {"i", "g", "f", "o"};
  int gate_index = -1;
  for (int k = 0; k < 4; ++k)
    if (gate == kGates[k]) gate_index = k;
  if (gate_index < 0) throw std::invalid_argument("--gate must be one of i, g, f, o (got '" + gate + "')");
  if (lines != "change" && lines != "norm") throw std::invalid_argument("--lines must be change or norm (got '" + lines + "')");
  if (max_chars <= 0 || max_chars > 2000) throw std::invalid_argument("--max-chars must be in 1..2000, got " + std::to_string(max_chars));
  if (max_units <= 0) throw std::invalid_argument("--units must be positive, got " + std::to_string(max_units));

  RecurrentRun run = load_charlm_run(path, data_dir, "plot scaling", [](const RecurrentRun& r) {
    const std::string cell = r.cfg["model"]["cell"].get<std::string>();
    if (cell_kind_from_string(cell) == CellKind::LSTM)
      throw std::invalid_argument("plot scaling needs a hyper cell (hyperlstm or hyperrnn); " + r.dir + " holds an " + cell);
  });
  if (out.empty()) out = run.dir + "/scaling.png";

  std::string text = read_text(text_file);
  if (text.empty()) throw std::invalid_argument(text_file + " is empty");
  if (i64(text.size()) > max_chars) text.resize(std::size_t(max_chars));
  std::vector<std::int32_t> ids;
  try {
    ids = run.corpus().encode(text);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(text_file + ": " + e.what());
  }
  const i64 T = i64(ids.size());

  // One pass over the text, batch 1, no gradients, collecting the first layer's trace.
  Tensor x = Tensor::empty({T, 1}, DType::I32);
  for (i64 t = 0; t < T; ++t) x.data<std::int32_t>()[t] = ids[std::size_t(t)];
  const RecurrentStack& model = run.model();
  std::vector<StepTrace> trace;
  {
    Tape tape;
    Tape::NoGrad ng(tape);
    model.forward(tape, *run.ps, x, model.zero_state(1, run.ps->dtype()), nullptr, nullptr, false, &trace);
  }
  if (i64(trace.size()) != T || !trace[0].d_h.numel())
    throw std::runtime_error("the model gave no scaling vectors for " + run.dir);

  const CellSpec& cell = model.spec().cell;
  const i64 Hd = cell.hidden, G = trace[0].d_h.numel() / Hd;  // 4 gates (HyperLSTM) or 1 (HyperRNN)
  const int gsel = G == 4 ? gate_index : 0;
  const i64 U = std::min(max_units, Hd);
  std::vector<std::string> chars;
  std::vector<bool> faint;
  for (auto id : ids) {
    std::string s = run.corpus().symbols[std::size_t(id)];
    bool f = false;
    if (s == " " || s == "_") s = "_", f = true;
    if (s == "\n") s = "$", f = true;
    chars.push_back(s);
    faint.push_back(f);
  }

  std::vector<ScalingPanel> panels;
  const std::string which = G == 4 ? "gate " + std::string(kGates[gsel]) : "the cell";
  for (int k = 0; k < 2; ++k) {  // heat maps: d_h, then d_x
    ScalingPanel p;
    p.caption = std::string(k == 0 ? "d_h" : "d_x") + " of " + which + " (scales W_" + (k == 0 ? "h" : "x") + "), units 0-" +
                std::to_string(U - 1) + " of " + std::to_string(Hd) + (center ? ", minus each unit's mean" : "");
    p.ylabel = "unit";
    p.rows = int(U);
    p.v.resize(std::size_t(U * T));
    for (i64 t = 0; t < T; ++t) {
      const Tensor& d = k == 0 ? trace[std::size_t(t)].d_h : trace[std::size_t(t)].d_x;
      for (i64 u = 0; u < U; ++u) p.v[std::size_t(u * T + t)] = d.at(gsel * Hd + u);
    }
    if (center)
      for (i64 u = 0; u < U; ++u) {
        double mean = 0;
        for (i64 t = 0; t < T; ++t) mean += p.v[std::size_t(u * T + t)] / double(T);
        for (i64 t = 0; t < T; ++t) p.v[std::size_t(u * T + t)] -= mean;
      }
    panels.push_back(std::move(p));
  }
  for (int k = 0; k < 2; ++k) {  // lines: per gate, over all units
    ScalingPanel p;
    p.heat = false;
    const std::string name = k == 0 ? "d_h" : "d_x";
    p.caption = (lines == "change" ? "|" + name + "(t) - " + name + "(t-1)|" : "|" + name + "(t)|") +
                (G == 4 ? " per gate" : "");
    p.ylabel = "L2 norm";
    for (i64 g = 0; g < G; ++g) {
      Series s;
      s.label = G == 4 ? kGates[g] : "";  // one line: no legend
      for (i64 t = 0; t < T; ++t) {
        const Tensor& d = k == 0 ? trace[std::size_t(t)].d_h : trace[std::size_t(t)].d_x;
        const Tensor* prev = t > 0 ? (k == 0 ? &trace[std::size_t(t - 1)].d_h : &trace[std::size_t(t - 1)].d_x) : nullptr;
        double sum = 0;
        for (i64 u = 0; u < Hd; ++u) {
          double v = d.at(g * Hd + u) - (lines == "change" ? (prev ? prev->at(g * Hd + u) : std::nan("")) : 0.0);
          sum += v * v;
        }
        s.y.push_back(std::sqrt(sum));
      }
      p.series.push_back(std::move(s));
    }
    panels.push_back(std::move(p));
  }
  const std::string title = "scaling vectors of " + run.cfg["name"].get<std::string>() + " (" + cell_kind_name(cell.kind) +
                            ", layer 1, step " + std::to_string(run.step) + ")";
  const std::string footer = "read from " + text_file + " (" + std::to_string(T) + " characters, '_' space, '$' end of line); " +
                             run.checkpoint;
  plot_scaling(out, title, footer, chars, faint, panels);
  std::cout << "wrote " << out << "\n";
  if (!stats.empty()) write_scaling_stats(stats, run, text, trace);
  return 0;
}

// hypertrain plot curves --run DIR [--run DIR ...] --out FILE: the validation metric of several runs
// against the step (left) and against training seconds (right), from their metrics.jsonl.
static int plot_curves(const std::vector<std::string>& runs, const std::string& out) {
  std::vector<Series> by_step, by_time;
  std::string metric;
  for (auto& dir : runs) {
    if (!file_exists(dir + "/config.json")) throw std::invalid_argument(dir + " is not a run directory: no config.json");
    Json cfg = read_json_file(dir + "/config.json", "run config");
    std::string key;
    Series s, t;
    s.label = t.label = cfg.is_object() && cfg.value("name", Json()).is_string() ? cfg["name"].get<std::string>() : dir;
    for (auto& row : read_jsonl(dir + "/metrics.jsonl")) {
      if (key.empty())
        for (auto it = row.begin(); it != row.end(); ++it)
          if (it.key().rfind("valid_", 0) == 0 && it.key() != "valid_loss") key = it.key();
      if (key.empty() || !row.contains(key) || !row[key].is_number() || !row.value("step", Json()).is_number() ||
          !row.value("seconds", Json()).is_number())
        continue;  // a row without its numbers (an older run's NaN written as null)
      s.x.push_back(row["step"].get<double>());
      s.y.push_back(row[key].get<double>());
      t.x.push_back(row["seconds"].get<double>());
      t.y.push_back(row[key].get<double>());
    }
    if (key.empty()) throw std::invalid_argument(dir + "/metrics.jsonl holds no validation metric yet");
    if (!metric.empty() && metric != key)
      throw std::invalid_argument("runs measure different things (" + metric + " and " + key + "); plot them separately");
    metric = key;
    by_step.push_back(s);
    by_time.push_back(t);
  }
  std::string label = metric.substr(6);
  plot_learning_curves(out, "validation " + label + " against steps and against training seconds", by_step, "validation " + label,
                       by_time, "validation " + label, "step", false, false, "training seconds");
  std::cout << "wrote " << out << "\n";
  return 0;
}

// A line chart of numbers computed elsewhere (scripts/mpi_scaling.py): FILE holds
// {"title", "xlabel", "ylabel", "log_y": bool, "series": [{"label", "x": [...], "y": [...]}]}.
static int plot_lines_json(const std::string& path, const std::string& out) {
  const Json j = read_json_file(path, "line chart");
  try {
    std::vector<Series> series;
    for (const Json& e : j.at("series")) series.push_back({e.at("label").get<std::string>(), e.at("x").get<std::vector<double>>(), e.at("y").get<std::vector<double>>()});
    plot_lines(out, j.at("title").get<std::string>(), j.at("xlabel").get<std::string>(), j.at("ylabel").get<std::string>(), series,
               j.value("log_y", false));
  } catch (const Json::exception& e) {
    throw std::invalid_argument(path + ": not a line chart (title, xlabel, ylabel, series of label, x, y): " + e.what());
  }
  std::cout << "wrote " << out << "\n";
  return 0;
}

int cmd_plot(int argc, char** argv) {
  cxxopts::Options o("hypertrain plot",
                     "Pictures:\n  plot kernels --run DIR [--run DIR] [--out FILE]   second-layer kernels (Figure 2)\n"
                     "  plot scaling --checkpoint DIR --text FILE [--out FILE] [--max-chars N]   a hyper cell's scaling "
                     "vectors while it reads FILE\n"
                     "  plot curves --run DIR [--run DIR ...] [--out FILE]   validation metric of runs against steps and seconds\n"
                     "  plot lines --json FILE --out FILE   a line chart of series given as JSON");
  o.add_options()("what", "kernels, scaling, curves or lines", cxxopts::value<std::string>())(
      "json", "lines: the chart's title, axis labels and series", cxxopts::value<std::string>())(
      "out", "picture file, .png, .svg or .pdf by its extension (default: kernels.png, curves.png; scaling: DIR/scaling.png)", cxxopts::value<std::string>())(
      "h,help", "this help");
  o.add_options("kernels, curves")("run", "run directory (repeatable)", cxxopts::value<std::vector<std::string>>());
  o.add_options("scaling")("checkpoint", "run directory of a hyperlstm or hyperrnn charlm run (or a checkpoint file inside one)",
                           cxxopts::value<std::string>())("text", "text file for the model to read", cxxopts::value<std::string>())(
      "max-chars", "read at most this many characters of it (1..2000)", cxxopts::value<long>()->default_value("120"))(
      "gate", "gate whose d_h and d_x are drawn unit by unit: i, g, f or o", cxxopts::value<std::string>()->default_value("g"))(
      "units", "units drawn (the first N)", cxxopts::value<long>()->default_value("64"))(
      "lines", "per-gate lines: change (|d(t) - d(t-1)|, the paper's Figure 4) or norm (|d(t)|)",
      cxxopts::value<std::string>()->default_value("change"))(
      "center", "heat maps: subtract each unit's mean over the text (shows the change over time)")(
      "stats", "also write per-character numbers (changes and sizes of d_h, z_h, the hyper cell's h and c, the main c) to this JSON file",
      cxxopts::value<std::string>())(
      "data", "data directory (for the vocabulary; default: the run's data_dir)", cxxopts::value<std::string>());
  o.parse_positional({"what"});
  auto a = parse_args(o, argc, argv);
  if (a.count("help") || !a.count("what")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  std::string what = a["what"].as<std::string>();
  if (a.count("out")) figure_format(a["out"].as<std::string>());  // a bad extension fails before any work
  if (what == "kernels") {
    if (!a.count("run")) throw std::invalid_argument("plot kernels needs at least one --run DIR");
    return plot_kernels(a["run"].as<std::vector<std::string>>(), a.count("out") ? a["out"].as<std::string>() : "kernels.png");
  }
  if (what == "scaling") {
    if (!a.count("checkpoint")) throw std::invalid_argument("plot scaling needs --checkpoint DIR (a hyperlstm or hyperrnn run)");
    if (!a.count("text")) throw std::invalid_argument("plot scaling needs --text FILE (the text the model reads)");
    return plot_scaling(a["checkpoint"].as<std::string>(), a["text"].as<std::string>(),
                        a.count("out") ? a["out"].as<std::string>() : "", a["max-chars"].as<long>(), a["gate"].as<std::string>(),
                        a["units"].as<long>(), a["lines"].as<std::string>(), a.count("center") > 0,
                        a.count("data") ? a["data"].as<std::string>() : "", a.count("stats") ? a["stats"].as<std::string>() : "");
  }
  if (what == "curves") {
    if (!a.count("run")) throw std::invalid_argument("plot curves needs at least one --run DIR");
    return plot_curves(a["run"].as<std::vector<std::string>>(), a.count("out") ? a["out"].as<std::string>() : "curves.png");
  }
  if (what == "lines") {
    if (!a.count("json") || !a.count("out")) throw std::invalid_argument("plot lines needs --json FILE and --out FILE");
    return plot_lines_json(a["json"].as<std::string>(), a["out"].as<std::string>());
  }
  throw std::invalid_argument("unknown picture '" + what + "' (known: kernels, scaling, curves, lines)");
}

}  // namespace ht
