#include <cxxopts.hpp>
#include <algorithm>
#include <cmath>
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

// ---- plot scaling: the hyper cell's scaling vectors d_h(t), d_x(t) under a text (paper §4.4) ----

namespace {


// One heat map (rows x cols, row-major) or one line chart over the same columns (time).
struct ScalingPanel {
  std::string caption, ylabel;
  bool heat = true;
  int rows = 0;                   // heat: rows of v
  std::vector<double> v;          // heat: [rows, cols]
  std::vector<Series> series;     // lines: y per column (non-finite breaks the line)
};

void text_right(Canvas& cv, int right, int y, const std::string& s, Rgb c, int scale) {
  cv.text(right - cv.text_width(s, scale), y, s, c, scale);
}

// Ticks of [lo, hi] that lie inside it, with their labels; at least the two ends.
std::vector<std::pair<double, std::string>> inside_ticks(double lo, double hi, int target) {
  std::vector<std::pair<double, std::string>> out;
  if (!(lo < hi)) return {{lo, format_tick(lo, std::abs(lo) > 0 ? std::abs(lo) / 100 : 1.0)}};
  auto t = nice_ticks(lo, hi, std::max(2, target));
  double step = t.size() > 1 ? t[1] - t[0] : hi - lo;
  for (double v : t)
    if (v >= lo - 1e-9 * std::abs(step) && v <= hi + 1e-9 * std::abs(step)) out.push_back({v, format_tick(v, step)});
  if (out.size() < 2) out = {{lo, format_tick(lo, (hi - lo) / 10)}, {hi, format_tick(hi, (hi - lo) / 10)}};
  return out;
}

// Panels stacked vertically over shared columns, one character written under every column of
// every panel; heat maps get a colour bar each (sequential map from the panel's minimum to its
// maximum), line charts a legend.
void draw_scaling_figure(const std::string& path, const std::string& title, const std::string& footer,
                         const std::vector<std::string>& chars, const std::vector<bool>& faint,
                         const std::vector<ScalingPanel>& panels) {
  const int T = int(chars.size());
  const int S = 2;  // text scale of titles, captions and ticks
  Canvas probe(1, 1, kWhite);
  const int cw = std::clamp(1100 / std::max(1, T), 6, 16);
  const int cscale = cw >= 13 ? 2 : 1;
  const int char_h = probe.text_height("X", cscale);
  const int cap_h = probe.text_height("X", S);
  const int line_h = 170, margin = 20, bar_w = 14;
  const int grid_w = T * cw;

  // per panel: row height, value range and tick labels
  struct Layout {
    int ch = 0, h = 0;
    double lo = 0, hi = 0;
    bool any = false;
    std::vector<std::pair<double, std::string>> ticks;
  };
  std::vector<Layout> L(panels.size());
  int tick_w = 0, bar_label_w = 0;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& P = panels[p];
    auto& l = L[p];
    l.lo = std::numeric_limits<double>::infinity(), l.hi = -l.lo;
    auto see = [&](double v) {
      if (std::isfinite(v)) l.lo = std::min(l.lo, v), l.hi = std::max(l.hi, v), l.any = true;
    };
    if (P.heat) {
      for (double v : P.v) see(v);
      l.ch = std::clamp(256 / std::max(1, P.rows), 3, 16);
      l.h = P.rows * l.ch;
      if (l.any) l.ticks = inside_ticks(l.lo, l.hi, l.h / 30);
      for (auto& [v, s] : l.ticks) bar_label_w = std::max(bar_label_w, probe.text_width(s, S));
      // row ticks: unit indices
      int step = int(std::max(1.0, nice_step(double(P.rows - 1), std::max(2, l.h / 40))));
      tick_w = std::max(tick_w, probe.text_width(std::to_string((P.rows - 1) / step * step), S));
    } else {
      for (auto& s : P.series)
        for (double v : s.y) see(v);
      l.h = line_h;
      if (l.any) {
        if (l.lo == l.hi) l.lo -= l.lo != 0 ? std::abs(l.lo) * 0.1 : 1.0, l.hi += l.hi != 0 ? std::abs(l.hi) * 0.1 : 1.0;
        auto t = nice_ticks(l.lo, l.hi, 4);
        double step = t.size() > 1 ? t[1] - t[0] : 1.0;
        l.lo = t.front(), l.hi = t.back();
        for (double v : t) l.ticks.push_back({v, format_tick(v, step)});
      }
      for (auto& [v, s] : l.ticks) tick_w = std::max(tick_w, probe.text_width(s, S));
    }
  }

  const int ylab_w = cap_h + 10;
  const int gx = margin + ylab_w + tick_w + 10;
  const int bar_x = gx + grid_w + 16;
  int W = bar_x + bar_w + 8 + bar_label_w + margin;
  W = std::max(W, probe.text_width(title, S) + 2 * margin);
  W = std::max(W, probe.text_width(footer, 1) + 2 * margin);
  for (auto& P : panels) {
    int legend = 0;
    for (auto& s : P.series) legend += 22 + probe.text_width(s.label, S) + 12;
    W = std::max(W, gx + probe.text_width(P.caption, S) + 24 + legend + margin);
  }
  const int title_h = probe.text_height(title, S) + 16;
  int H = margin + title_h;
  for (auto& l : L) H += cap_h + 8 + l.h + 5 + char_h + 20;
  H += probe.text_height(footer, 1) + margin;
  Canvas cv(W, H, kWhite);
  cv.text(W / 2 - cv.text_width(title, S) / 2, margin, title, kText, S);

  int y = margin + title_h;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& P = panels[p];
    const auto& l = L[p];
    cv.text(gx, y, P.caption, kText, S);
    if (!P.heat) {  // legend after the caption
      int lx = gx + cv.text_width(P.caption, S) + 24;
      for (std::size_t k = 0; k < P.series.size(); ++k) {
        if (P.series[k].label.empty()) continue;
        cv.fill_rect(lx, y + cap_h / 2 - 3, lx + 15, y + cap_h / 2, series_color(int(k)));
        cv.text(lx + 20, y, P.series[k].label, kText, S);
        lx += 22 + cv.text_width(P.series[k].label, S) + 12;
      }
    }
    const int gy = y + cap_h + 8;
    if (!P.ylabel.empty())
      cv.text_vertical(margin, gy + l.h / 2 - cv.text_width(P.ylabel, S) / 2, P.ylabel, kText, S);
    if (!l.any) {
      cv.rect(gx - 1, gy - 1, gx + grid_w, gy + l.h, kFaint);
      cv.text(gx + 8, gy + 8, "no data", kFaint, S);
    } else if (P.heat) {
      const int cols = T;
      for (int r = 0; r < P.rows; ++r)
        for (int c = 0; c < cols; ++c) {
          double v = P.v[std::size_t(r) * cols + c];
          double f = !std::isfinite(v) ? std::nan("") : l.hi > l.lo ? (v - l.lo) / (l.hi - l.lo) : 0.5;
          cv.fill_rect(gx + c * cw, gy + r * l.ch, gx + (c + 1) * cw - 1, gy + (r + 1) * l.ch - 1, sequential_color(f));
        }
      cv.rect(gx - 1, gy - 1, gx + grid_w, gy + l.h, kFaint);
      int step = int(std::max(1.0, nice_step(double(P.rows - 1), std::max(2, l.h / 40))));
      for (int r = 0; r < P.rows; r += step) {
        int yy = gy + r * l.ch + l.ch / 2;
        cv.line(gx - 5, yy, gx - 2, yy, kBlack);
        text_right(cv, gx - 8, yy - Canvas::kCapH * S / 2, std::to_string(r), kText, S);
      }
      for (int i = 0; i < l.h; ++i)
        cv.fill_rect(bar_x, gy + i, bar_x + bar_w - 1, gy + i, sequential_color(1.0 - double(i) / std::max(1, l.h - 1)));
      cv.rect(bar_x - 1, gy - 1, bar_x + bar_w, gy + l.h, kFaint);
      for (const auto& [b, s] : l.ticks) {
        double f = l.hi > l.lo ? (b - l.lo) / (l.hi - l.lo) : 0.5;
        int yy = gy + int(std::lround((1.0 - f) * (l.h - 1)));
        cv.line(bar_x + bar_w, yy, bar_x + bar_w + 4, yy, kBlack);
        cv.text(bar_x + bar_w + 8, std::clamp(yy - Canvas::kCapH * S / 2, gy - 4, gy + l.h - Canvas::kCapH * S + 4), s, kText, S);
      }
    } else {
      auto ypix = [&](double v) { return gy + (l.h - 1) * (1.0 - (v - l.lo) / (l.hi - l.lo)); };
      for (const auto& [v, s] : l.ticks) {
        int yy = int(std::lround(ypix(v)));
        cv.line(gx, yy, gx + grid_w - 1, yy, kGrid);
        cv.line(gx - 5, yy, gx - 2, yy, kBlack);
        text_right(cv, gx - 8, yy - Canvas::kCapH * S / 2, s, kText, S);
      }
      cv.rect(gx - 1, gy - 1, gx + grid_w, gy + l.h, kFaint);
      cv.set_clip(gx, gy, gx + grid_w - 1, gy + l.h - 1);
      for (std::size_t k = 0; k < P.series.size(); ++k) {
        const auto& yv = P.series[k].y;
        const Rgb c = series_color(int(k));
        for (int t = 0; t < T && t < int(yv.size()); ++t) {
          if (!std::isfinite(yv[std::size_t(t)])) continue;
          const double x = gx + t * cw + cw / 2.0, yy = ypix(yv[std::size_t(t)]);
          const bool prev = t > 0 && std::isfinite(yv[std::size_t(t - 1)]);
          const bool next = t + 1 < int(yv.size()) && t + 1 < T && std::isfinite(yv[std::size_t(t + 1)]);
          if (prev) cv.line(x - cw, ypix(yv[std::size_t(t - 1)]), x, yy, c, 2);
          if (!prev && !next) cv.fill_rect(int(x) - 1, int(yy) - 1, int(x) + 1, int(yy) + 1, c);
        }
      }
      cv.reset_clip();
    }
    // the text, one character under each column
    const int ly = gy + l.h + 5;
    for (int c = 0; c < T; ++c) {
      const int cx = gx + c * cw + cw / 2;
      cv.text(cx - cv.text_width(chars[std::size_t(c)], cscale) / 2, ly, chars[std::size_t(c)], faint[std::size_t(c)] ? kFaint : kText,
              cscale);
    }
    y = ly + char_h + 20;
  }
  cv.text(margin, y, footer, kFaint, 1);
  cv.write_png(path);
}

}  // namespace

// hypertrain plot scaling --checkpoint DIR --text FILE: the first layer's scaling vectors while the
// model reads FILE, as heat maps (unit x character) of one gate's d_h and d_x, and a line per gate
// of their change from one character to the next (the paper's Figure 4) or of their norm.
static int plot_scaling(const std::string& path, const std::string& text_file, std::string out, i64 max_chars,
                        const std::string& gate, i64 max_units, const std::string& lines, bool center,
                        const std::string& data_dir) {
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
  draw_scaling_figure(out, title, footer, chars, faint, panels);
  std::cout << "wrote " << out << "\n";
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
      "out", "PNG file (default: kernels.png, curves.png; scaling: DIR/scaling.png)", cxxopts::value<std::string>())(
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
      "data", "data directory (for the vocabulary; default: the run's data_dir)", cxxopts::value<std::string>());
  o.parse_positional({"what"});
  auto a = parse_args(o, argc, argv);
  if (a.count("help") || !a.count("what")) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  std::string what = a["what"].as<std::string>();
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
                        a.count("data") ? a["data"].as<std::string>() : "");
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
