// plot_scaling (plot/plot.h): the hyper cell's scaling vectors under the text it reads.
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "plot/plot.h"

namespace ht {

namespace {

constexpr double kSize = 13;  // titles, captions and ticks

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

}  // namespace

void plot_scaling(const std::string& path, const std::string& title, const std::string& footer, const std::vector<std::string>& chars,
                  const std::vector<bool>& faint, const std::vector<ScalingPanel>& panels) {
  const int T = int(chars.size());
  Figure probe(path, 1, 1);  // text metrics only; throws for a bad file name
  const int cw = std::clamp(1100 / std::max(1, T), 6, 16);
  const double csize = cw >= 13 ? 13 : cw >= 9 ? 10 : 8;  // the characters under the columns
  const double char_h = Figure::cap_height(csize) + Figure::descent(csize);
  const double cap_h = Figure::cap_height(kSize);
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
  double tick_w = 0, bar_label_w = 0;
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
      l.h = std::max(1, P.rows) * l.ch;
      if (l.any) l.ticks = inside_ticks(l.lo, l.hi, l.h / 30);
      for (auto& [v, s] : l.ticks) bar_label_w = std::max(bar_label_w, probe.text_width(s, kSize));
      int step = int(std::max(1.0, nice_step(double(P.rows - 1), std::max(2, l.h / 40))));  // row ticks: unit indices
      tick_w = std::max(tick_w, probe.text_width(std::to_string(std::max(0, P.rows - 1) / step * step), kSize));
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
      for (auto& [v, s] : l.ticks) tick_w = std::max(tick_w, probe.text_width(s, kSize));
    }
  }

  const int ylab_w = int(cap_h + Figure::descent(kSize)) + 10;
  const int gx = margin + ylab_w + int(std::ceil(tick_w)) + 10;
  const int bar_x = gx + grid_w + 16;
  double W = bar_x + bar_w + 8 + bar_label_w + margin;
  W = std::max(W, probe.text_width(title, kSize, true) + 2 * margin);
  W = std::max(W, probe.text_width(footer, 10) + 2 * margin);
  for (auto& P : panels) {
    double legend = 0;
    for (auto& s : P.series)
      if (!s.label.empty()) legend += 22 + probe.text_width(s.label, kSize) + 12;
    W = std::max(W, gx + probe.text_width(P.caption, kSize) + 24 + legend + margin);
  }
  const int title_h = int(cap_h) + 18;
  double H = margin + title_h;
  for (auto& l : L) H += cap_h + 10 + l.h + 6 + char_h + 20;
  H += 10 + margin;
  Figure f(path, int(std::ceil(W)), int(std::ceil(H)));
  f.text(f.width() / 2.0, margin, title, kText, kSize, HAlign::Center, VAlign::Top, true);

  double y = margin + title_h;
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const auto& P = panels[p];
    const auto& l = L[p];
    f.text(gx, y, P.caption, kText, kSize);
    if (!P.heat) {  // legend after the caption
      double lx = gx + f.text_width(P.caption, kSize) + 24;
      for (std::size_t k = 0; k < P.series.size(); ++k) {
        if (P.series[k].label.empty()) continue;
        f.line(lx, y + cap_h / 2, lx + 16, y + cap_h / 2, series_color(int(k)), 3);
        f.text(lx + 20, y, P.series[k].label, kText, kSize);
        lx += 22 + f.text_width(P.series[k].label, kSize) + 12;
      }
    }
    const int gy = int(std::round(y + cap_h + 10));
    if (!P.ylabel.empty()) f.text(margin, gy + l.h / 2.0, P.ylabel, kText, kSize, HAlign::Center, VAlign::Top, false, 90);
    if (!l.any) {
      f.stroke_rect(gx - 0.5, gy - 0.5, grid_w + 1, l.h + 1, kFaint);
      f.text(gx + 8, gy + 8, "no data", kFaint, kSize);
    } else if (P.heat) {
      for (int r = 0; r < P.rows; ++r)
        for (int c = 0; c < T; ++c) {
          double v = P.v[std::size_t(r) * T + c];
          double fr = !std::isfinite(v) ? std::nan("") : l.hi > l.lo ? (v - l.lo) / (l.hi - l.lo) : 0.5;
          f.fill_rect(gx + c * cw, gy + r * l.ch, cw, l.ch, sequential_color(fr));
        }
      f.stroke_rect(gx - 0.5, gy - 0.5, grid_w + 1, l.h + 1, kFaint);
      int step = int(std::max(1.0, nice_step(double(P.rows - 1), std::max(2, l.h / 40))));
      for (int r = 0; r < P.rows; r += step) {
        const int yy = gy + r * l.ch + l.ch / 2;
        f.crisp_line(gx - 5, yy, gx - 1, yy, kBlack);
        f.text(gx - 8, yy + 0.5, std::to_string(r), kText, kSize, HAlign::Right, VAlign::Middle);
      }
      f.ramp_rect(bar_x, gy, bar_w, l.h, sequential_color, true);
      f.stroke_rect(bar_x - 0.5, gy - 0.5, bar_w + 1, l.h + 1, kFaint);
      for (const auto& [b, s] : l.ticks) {
        const double fr = l.hi > l.lo ? (b - l.lo) / (l.hi - l.lo) : 0.5;
        const double yy = gy + std::round((1.0 - fr) * (l.h - 1));
        f.crisp_line(bar_x + bar_w, yy, bar_x + bar_w + 4, yy, kBlack);
        f.text(bar_x + bar_w + 8, std::clamp(yy + 0.5, gy + cap_h / 2 - 3, gy + l.h - cap_h / 2 + 3), s, kText, kSize, HAlign::Left,
               VAlign::Middle);
      }
    } else {
      auto ypix = [&](double v) { return gy + (l.h - 1) * (1.0 - (v - l.lo) / (l.hi - l.lo)); };
      for (const auto& [v, s] : l.ticks) {
        const double yy = std::round(ypix(v));
        f.crisp_line(gx, yy, gx + grid_w, yy, kGrid);
        f.crisp_line(gx - 5, yy, gx - 1, yy, kBlack);
        f.text(gx - 8, yy + 0.5, s, kText, kSize, HAlign::Right, VAlign::Middle);
      }
      f.stroke_rect(gx - 0.5, gy - 0.5, grid_w + 1, l.h + 1, kFaint);
      f.clip(gx, gy, grid_w, l.h);
      cairo_t* cr = f.cr();
      cairo_set_line_width(cr, 2);
      for (std::size_t k = 0; k < P.series.size(); ++k) {
        const auto& yv = P.series[k].y;
        f.set_color(series_color(int(k)));
        const int n = std::min(T, int(yv.size()));
        for (int t = 0; t < n; ++t) {
          if (!std::isfinite(yv[std::size_t(t)])) continue;
          const double x = gx + t * cw + cw / 2.0, yy = ypix(yv[std::size_t(t)]);
          const bool prev = t > 0 && std::isfinite(yv[std::size_t(t - 1)]);
          const bool next = t + 1 < n && std::isfinite(yv[std::size_t(t + 1)]);
          if (!prev && !next) {
            cairo_new_path(cr);
            cairo_arc(cr, x, yy, 2, 0, 2 * M_PI);
            cairo_fill(cr);
          } else if (!prev) {
            cairo_move_to(cr, x, yy);
          } else {
            cairo_line_to(cr, x, yy);
            if (!next) cairo_stroke(cr);
          }
        }
      }
      f.reset_clip();
    }
    // the text, one character under each column
    const double ly = gy + l.h + 6;
    for (int c = 0; c < T; ++c)
      f.text(gx + c * cw + cw / 2.0, ly, chars[std::size_t(c)], faint[std::size_t(c)] ? kFaint : kText, csize, HAlign::Center);
    y = ly + char_h + 20;
  }
  f.text(margin, y, footer, kFaint, 10);
  f.finish();
}

}  // namespace ht
