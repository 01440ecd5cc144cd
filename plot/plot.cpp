#include "plot/plot.h"

#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace ht {

namespace {

constexpr Rgb kGap{110, 110, 110};
constexpr double kTitle = 18, kLabel = 15, kTick = 13;  // font sizes, px

// ---- axes ----

struct Axis {
  bool log = false;
  double lo = 0.0, hi = 1.0;  // in data units, or log10 of them when log
  std::vector<double> ticks;  // in the same units as lo, hi
  std::vector<std::string> labels;
  double frac(double v) const { return (v - lo) / (hi - lo); }  // v in axis units
};

Axis linear_axis(double dmin, double dmax, int target) {
  Axis a;
  if (!(dmin <= dmax)) dmin = 0.0, dmax = 1.0;  // no data
  if (dmin == dmax) {
    double pad = dmin != 0.0 ? std::abs(dmin) * 0.1 : 1.0;
    dmin -= pad, dmax += pad;
  }
  a.ticks = nice_ticks(dmin, dmax, target);
  a.lo = a.ticks.front(), a.hi = a.ticks.back();
  if (!(a.hi > a.lo)) a.lo = dmin, a.hi = dmax;
  double step = a.ticks.size() > 1 ? a.ticks[1] - a.ticks[0] : a.hi - a.lo;
  for (double t : a.ticks) a.labels.push_back(format_tick(t, step));
  return a;
}

// dmin, dmax: positive data range (dmin > dmax when there is none).
Axis log_axis(double dmin, double dmax, int target) {
  Axis a;
  a.log = true;
  if (!(dmin <= dmax) || !(dmin > 0.0)) dmin = 1.0, dmax = 10.0;
  double l0 = std::log10(dmin), l1 = std::log10(dmax);
  if (l1 - l0 < 1e-9) l0 -= 0.3, l1 += 0.3;
  double pad = 0.04 * (l1 - l0);
  a.lo = l0 - pad, a.hi = l1 + pad;
  auto collect = [&](std::initializer_list<int> mantissas, int stride) {
    std::vector<double> t;
    for (int e = int(std::floor(a.lo)) - 1; e <= int(std::ceil(a.hi)) + 1; ++e) {
      if (((e % stride) + stride) % stride) continue;
      for (int m : mantissas) {
        double l = std::log10(double(m)) + e;
        if (l >= a.lo - 1e-12 && l <= a.hi + 1e-12) t.push_back(l);
      }
    }
    return t;
  };
  std::vector<double> t = collect({1, 2, 5}, 1);
  if (int(t.size()) > target) {
    for (int stride = 1;; ++stride) {
      t = collect({1}, stride);
      if (int(t.size()) <= target || stride > 400) break;
    }
  } else if (t.size() < 3) {
    std::vector<double> dense = collect({1, 2, 3, 4, 5, 6, 7, 8, 9}, 1);
    if (int(dense.size()) <= target) t = dense;
    if (t.size() < 2) {
      // less than a factor of two spanned: linear nice ticks placed on the log scale
      t.clear();
      for (double v : nice_ticks(std::pow(10.0, a.lo), std::pow(10.0, a.hi), std::max(2, target / 2)))
        if (v > 0.0 && std::log10(v) >= a.lo && std::log10(v) <= a.hi) t.push_back(std::log10(v));
      double step = nice_step(std::pow(10.0, a.hi) - std::pow(10.0, a.lo), std::max(2, target / 2));
      for (double l : t) a.labels.push_back(format_tick(std::pow(10.0, l), step));
      a.ticks = t;
      return a;
    }
  }
  for (double l : t) {
    double v = std::pow(10.0, l);
    a.ticks.push_back(l);
    a.labels.push_back(format_tick(v, std::pow(10.0, std::floor(l + 1e-9))));
  }
  return a;
}

// ---- line charts ----

struct Pt {
  double x, y;  // pixel position
  bool linked;  // joined to the previous point of the same series
};

// Legend entries wrapped into rows no wider than `width`; each entry a swatch and its label.
struct Legend {
  static constexpr double kSwatch = 26, kRowH = 22;
  std::vector<std::vector<std::size_t>> rows;  // series indices
  std::vector<double> row_w;
  double entry_w(const Figure& f, const std::string& label) const { return kSwatch + 6 + f.text_width(label, kLabel) + 22; }
  Legend(const Figure& f, const std::vector<Series>& series, double width) {
    for (std::size_t s = 0; s < series.size(); ++s) {
      if (series[s].label.empty()) continue;
      const double w = entry_w(f, series[s].label);
      if (rows.empty() || (row_w.back() + w > width && !rows.back().empty())) rows.emplace_back(), row_w.push_back(0);
      rows.back().push_back(s), row_w.back() += w;
    }
  }
  double height() const { return rows.empty() ? 0 : double(rows.size()) * kRowH + 4; }
  // Rows centred on cx, the first row's text top at y.
  void draw(const Figure& f, const std::vector<Series>& series, double cx, double y, double xmin) const {
    for (std::size_t r = 0; r < rows.size(); ++r) {
      double x = std::max(xmin, cx - (row_w[r] - 22) / 2);
      const double yy = y + double(r) * kRowH;
      for (std::size_t s : rows[r]) {
        f.line(x, yy + Figure::cap_height(kLabel) / 2, x + kSwatch, yy + Figure::cap_height(kLabel) / 2, series_color(int(s)), 3);
        f.text(x + kSwatch + 6, yy, series[s].label, kText, kLabel);
        x += entry_w(f, series[s].label);
      }
    }
  }
};

void draw_chart(const Figure& f, double x0, double y0, double x1, double y1, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y) {
  // data points in data units; non-finite (or non-positive on a log axis) break the line
  std::vector<std::vector<std::pair<double, double>>> data(series.size());
  std::vector<std::vector<bool>> breaks(series.size());
  double xmin = std::numeric_limits<double>::infinity(), xmax = -xmin, ymin = xmin, ymax = -xmin;
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Series& se = series[s];
    std::size_t n = se.x.empty() ? se.y.size() : std::min(se.x.size(), se.y.size());
    bool gap = true;
    for (std::size_t i = 0; i < n; ++i) {
      double x = se.x.empty() ? double(i) : se.x[i], y = se.y[i];
      if (!std::isfinite(x) || !std::isfinite(y) || (log_y && y <= 0.0)) {
        gap = true;
        continue;
      }
      data[s].push_back({x, y});
      breaks[s].push_back(gap);
      gap = false;
      xmin = std::min(xmin, x), xmax = std::max(xmax, x);
      ymin = std::min(ymin, y), ymax = std::max(ymax, y);
    }
  }
  const bool any = xmin <= xmax;

  // layout, top to bottom: title, plot area, tick labels, x label, legend
  const double th = Figure::cap_height(kTick);
  double top = y0 + 12;
  if (!title.empty()) {
    f.text((x0 + x1) / 2, top, title, kText, kTitle, HAlign::Center, VAlign::Top, true);
    top += Figure::cap_height(kTitle) + 18;
  } else {
    top += 4;
  }
  const Legend legend(f, series, x1 - x0 - 24);
  double bottom = y1 - 10 - legend.height();
  if (!xlabel.empty()) bottom -= Figure::cap_height(kLabel) + Figure::descent(kLabel) + 10;
  bottom -= th + 16;  // tick labels

  const double plot_h = std::max(10.0, bottom - top);
  const int ytarget = std::max(2, int(plot_h / 45));
  Axis ya = log_y ? log_axis(ymin, ymax, ytarget) : linear_axis(ymin, ymax, ytarget);
  if (!any) ya = log_y ? log_axis(1.0, 10.0, 4) : linear_axis(0.0, 1.0, 5);
  double ytw = 0;
  for (const auto& l : ya.labels) ytw = std::max(ytw, f.text_width(l, kTick));
  double left = x0 + 12;
  if (!ylabel.empty()) left += Figure::cap_height(kLabel) + Figure::descent(kLabel) + 10;
  left += ytw + 10;
  // x tick count from the width the labels need; room on the right for half the last label
  Axis xa = linear_axis(xmin, xmax, 8);
  double xtw = 0;
  for (const auto& l : xa.labels) xtw = std::max(xtw, f.text_width(l, kTick));
  double right = x1 - std::max(24.0, xtw / 2 + 10);
  const double plot_w = std::max(10.0, right - left);
  // fewer ticks until neighbouring labels keep a gap of at least 24 px
  for (int xtarget = std::max(2, int(plot_w / std::max(60.0, xtw + 30))); xtarget >= 1; --xtarget) {
    xa = linear_axis(xmin, xmax, xtarget);
    double w = 0;
    for (const auto& l : xa.labels) w = std::max(w, f.text_width(l, kTick));
    if (xa.ticks.size() < 2 || plot_w / double(xa.ticks.size() - 1) >= w + 24) break;
  }
  if (!any) xa = linear_axis(0.0, 1.0, 5);
  left = std::round(left), right = std::round(left + plot_w), top = std::round(top), bottom = std::round(std::max(bottom, top + 10));

  auto px = [&](double x) { return left + xa.frac(x) * (right - left); };
  auto py = [&](double y) { return bottom - ya.frac(log_y ? std::log10(y) : y) * (bottom - top); };

  // grid and ticks
  for (std::size_t i = 0; i < xa.ticks.size(); ++i) {
    const double x = std::round(left + xa.frac(xa.ticks[i]) * (right - left));
    f.crisp_line(x, top, x, bottom, kGrid);
    f.crisp_line(x, bottom, x, bottom + 5, kBlack);
    f.text(x, bottom + 9, xa.labels[i], kText, kTick, HAlign::Center);
  }
  for (std::size_t i = 0; i < ya.ticks.size(); ++i) {
    const double y = std::round(bottom - ya.frac(ya.ticks[i]) * (bottom - top));
    f.crisp_line(left, y, right, y, kGrid);
    f.crisp_line(left - 5, y, left, y, kBlack);
    f.text(left - 9, y, ya.labels[i], kText, kTick, HAlign::Right, VAlign::Middle);
  }

  // series: one path per unbroken run, a lone point as a dot
  f.clip(left + 1, top + 1, right - left - 1, bottom - top - 1);
  cairo_t* cr = f.cr();
  cairo_set_line_width(cr, 2);
  for (std::size_t s = 0; s < series.size(); ++s) {
    std::vector<Pt> p;
    for (std::size_t i = 0; i < data[s].size(); ++i) p.push_back({px(data[s][i].first), py(data[s][i].second), !breaks[s][i]});
    f.set_color(series_color(int(s)));
    for (std::size_t i = 0; i < p.size(); ++i) {
      const bool alone = !p[i].linked && (i + 1 == p.size() || !p[i + 1].linked);
      if (alone) {
        cairo_new_path(cr);
        cairo_arc(cr, p[i].x, p[i].y, 3.5, 0, 2 * M_PI);
        cairo_fill(cr);
      } else if (!p[i].linked) {
        cairo_move_to(cr, p[i].x, p[i].y);
      } else {
        cairo_line_to(cr, p[i].x, p[i].y);
        if (i + 1 == p.size() || !p[i + 1].linked) cairo_stroke(cr);
      }
    }
  }
  f.reset_clip();
  f.stroke_rect(left + 0.5, top + 0.5, right - left, bottom - top, kBlack);
  if (!any) f.text((left + right) / 2, (top + bottom) / 2, "no data", kFaint, kLabel, HAlign::Center, VAlign::Middle);

  // axis labels and the legend under everything
  double below = bottom + 9 + th + 12;
  if (!xlabel.empty()) {
    f.text((left + right) / 2, below, xlabel, kText, kLabel, HAlign::Center);
    below += Figure::cap_height(kLabel) + Figure::descent(kLabel) + 10;
  }
  if (!ylabel.empty()) f.text(x0 + 12, (top + bottom) / 2, ylabel, kText, kLabel, HAlign::Center, VAlign::Top, false, 90);
  legend.draw(f, series, (left + right) / 2, below, x0 + 12);
}

bool finite_at(const Tensor& t, i64 i, double& v) {
  v = t.at(i);
  return std::isfinite(v);
}

}  // namespace

Rgb series_color(int i) {
  static constexpr Rgb palette[10] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                                      {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return palette[((i % 10) + 10) % 10];
}

double nice_step(double range, int target) {
  if (!(range > 0.0) || !std::isfinite(range)) return 1.0;
  double raw = range / std::max(1, target);
  double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * base >= raw * (1.0 - 1e-9)) return m * base;
  return 10.0 * base;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (lo > hi) std::swap(lo, hi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0.0, 1.0};
  if (lo == hi) return {lo};
  double step = nice_step(hi - lo, target);
  double a = std::floor(lo / step + 1e-9), b = std::ceil(hi / step - 1e-9);
  if (!std::isfinite(a) || !std::isfinite(b) || b - a > 1000) return {lo, hi};
  std::vector<double> t;
  for (double k = a; k <= b + 0.5; k += 1.0) {
    double v = k * step;
    if (std::abs(v) < step * 1e-9) v = 0.0;
    t.push_back(v);
  }
  return t;
}

std::string format_tick(double v, double step) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  step = std::abs(step);
  if (!(step > 0.0) || !std::isfinite(step)) step = v != 0.0 ? std::abs(v) : 1.0;
  if (std::abs(v) < step * 1e-6) return "0";
  char buf[64];
  const double a = std::abs(v);
  if (a >= 1e5 || a < 1e-4) {
    int e = int(std::floor(std::log10(a) + 1e-12));
    int se = int(std::floor(std::log10(step) + 1e-9));
    int dec = std::clamp(e - se, 0, 6);
    double mant = v / std::pow(10.0, e);
    std::snprintf(buf, sizeof buf, "%.*f", dec, mant);
    if (std::abs(std::atof(buf)) >= 10.0) {  // rounding carried into the next decade
      ++e;
      std::snprintf(buf, sizeof buf, "%.*f", std::max(0, dec - 1), v / std::pow(10.0, e));
    }
    return std::string(buf) + "e" + std::to_string(e);
  }
  int dec = std::clamp(-int(std::floor(std::log10(step) + 1e-9)), 0, 10);
  std::snprintf(buf, sizeof buf, "%.*f", dec, v);
  std::string s = buf;
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel, const std::string& ylabel,
                const std::vector<Series>& series, bool log_y) {
  Figure f(path, 900, 560);
  draw_chart(f, 0, 0, f.width(), f.height(), title, xlabel, ylabel, series, log_y);
  f.finish();
}

void plot_learning_curves(const std::string& path, const std::string& title, const std::vector<Series>& left,
                          const std::string& left_label, const std::vector<Series>& right,
                          const std::string& right_label, const std::string& xlabel, bool left_log_y,
                          bool right_log_y, const std::string& right_xlabel) {
  Figure f(path, 1400, 580);
  double top = 0;
  if (!title.empty()) {
    f.text(f.width() / 2.0, 14, title, kText, kTitle, HAlign::Center, VAlign::Top, true);
    top = 14 + Figure::cap_height(kTitle);
  }
  const double mid = f.width() / 2.0;
  draw_chart(f, 0, top, mid, f.height(), "", xlabel, left_label, left, left_log_y);
  draw_chart(f, mid, top, f.width(), f.height(), "", right_xlabel.empty() ? xlabel : right_xlabel, right_label, right, right_log_y);
  f.finish();
}

void plot_kernel_grids(const std::string& path, const std::string& title,
                       const std::vector<std::pair<std::string, Tensor>>& panels, int max_kernels) {
  struct Layout {
    i64 kh = 0, kw = 0, count = 0, n = 0;
    int cols = 0, rows = 0, p = 1, grid_w = 0, grid_h = 0, width = 0;
    double maxabs = 0.0;
    std::string footer;
  };
  const int gap = 1;
  Figure probe(path, 1, 1);  // text metrics only; throws for a bad file name
  std::vector<Layout> lay(panels.size());
  int grid_h_max = 0;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const Tensor& t = panels[k].second;
    Layout& L = lay[k];
    const int nd = t.ndim();
    if (t.numel() > 0 && t.raw() != nullptr) {
      if (nd >= 2) {
        L.kh = t.dim(nd - 2), L.kw = t.dim(nd - 1);
      } else {
        L.kh = 1, L.kw = t.numel();
      }
      L.count = t.numel() / (L.kh * L.kw);
    }
    L.n = max_kernels > 0 ? std::min<i64>(L.count, max_kernels) : L.count;
    if (L.n > 0) {
      L.cols = int(std::ceil(std::sqrt(double(L.n))));
      L.rows = int((L.n + L.cols - 1) / L.cols);
      // about 42 px per kernel (6 px per weight for 7x7), smaller when the grid would be huge
      const i64 side = std::max<i64>(L.cols * L.kw, L.rows * L.kh);
      L.p = int(std::clamp<i64>(std::min<i64>(42 / std::max(L.kh, L.kw), 4000 / side), 1, 16));
      L.grid_w = L.cols * int(L.kw) * L.p + (L.cols + 1) * gap;
      L.grid_h = L.rows * int(L.kh) * L.p + (L.rows + 1) * gap;
      for (i64 i = 0; i < L.n * L.kh * L.kw; ++i) {
        double v;
        if (finite_at(t, i, v)) L.maxabs = std::max(L.maxabs, std::abs(v));
      }
      L.footer = std::to_string(L.n) + " of " + std::to_string(L.count) + " kernels";
    } else {
      L.grid_w = 120, L.grid_h = 40;
      L.footer = "(empty)";
    }
    L.width = int(std::ceil(std::max({double(L.grid_w), probe.text_width(panels[k].first, kLabel), probe.text_width(L.footer, kTick)})));
    grid_h_max = std::max(grid_h_max, L.grid_h);
  }

  const int margin = 24, spacing = 40, bar_h = 12;
  const int title_h = title.empty() ? 0 : int(Figure::cap_height(kTitle)) + 22;
  const int cap_h = int(Figure::cap_height(kLabel)) + 12;
  const int th = int(Figure::cap_height(kTick));
  const int below = 10 + bar_h + 6 + th + 12 + th;  // colour bar, its labels, footer
  int W = margin * 2, H = margin + title_h + cap_h + grid_h_max + below + margin;
  for (std::size_t k = 0; k < lay.size(); ++k) W += lay[k].width + (k ? spacing : 0);
  if (panels.empty()) W += 200;
  W = std::max(W, int(std::ceil(probe.text_width(title, kTitle, true))) + 2 * margin);
  Figure f(path, W, H);
  if (!title.empty()) f.text(W / 2.0, margin, title, kText, kTitle, HAlign::Center, VAlign::Top, true);
  if (panels.empty()) f.text(W / 2.0, margin + title_h + 10, "no panels", kFaint, kLabel, HAlign::Center);

  int x = margin;
  const int y_cap = margin + title_h, y_grid = y_cap + cap_h;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const Layout& L = lay[k];
    const Tensor& t = panels[k].second;
    const int cx = x + L.width / 2;
    f.text(cx, y_cap, panels[k].first, kText, kLabel, HAlign::Center);
    const int gx = cx - L.grid_w / 2, gy = y_grid;
    if (L.n > 0) {
      f.fill_rect(gx, gy, L.grid_w, L.grid_h, kGap);
      const double scale = L.maxabs > 0.0 ? 1.0 / L.maxabs : 1.0;
      for (i64 q = 0; q < L.n; ++q) {
        const int kx = gx + gap + int(q % L.cols) * (int(L.kw) * L.p + gap);
        const int ky = gy + gap + int(q / L.cols) * (int(L.kh) * L.p + gap);
        for (i64 r = 0; r < L.kh; ++r)
          for (i64 c = 0; c < L.kw; ++c) {
            double v;
            Rgb col = finite_at(t, (q * L.kh + r) * L.kw + c, v) ? diverging_color(v * scale) : kBlack;
            f.fill_rect(kx + int(c) * L.p, ky + int(r) * L.p, L.p, L.p, col);
          }
      }
      // colour bar from -max to +max under the grid
      const int by = gy + L.grid_h + 10;
      f.ramp_rect(gx, by, L.grid_w, bar_h, [](double v) { return diverging_color(2 * v - 1); }, false);
      f.stroke_rect(gx + 0.5, by + 0.5, L.grid_w - 1, bar_h - 1, kFaint);
      const double step = L.maxabs > 0.0 ? std::pow(10.0, std::floor(std::log10(L.maxabs)) - 2) : 1.0;
      const std::string hi = format_tick(L.maxabs, step), lo = L.maxabs > 0.0 ? "-" + hi : hi;
      f.text(gx, by + bar_h + 6, lo, kText, kTick);
      f.text(gx + L.grid_w / 2.0, by + bar_h + 6, "0", kText, kTick, HAlign::Center);
      f.text(gx + L.grid_w, by + bar_h + 6, hi, kText, kTick, HAlign::Right);
      f.text(cx, by + bar_h + 6 + th + 12, L.footer, kFaint, kTick, HAlign::Center);
    } else {
      f.stroke_rect(gx + 0.5, gy + 0.5, L.grid_w - 1, L.grid_h - 1, kFaint);
      f.text(cx, gy + L.grid_h / 2.0, L.footer, kFaint, kTick, HAlign::Center, VAlign::Middle);
    }
    x += L.width + spacing;
  }
  f.finish();
}

void plot_heatmap(const std::string& path, const std::string& title, const Tensor& values,
                  const std::vector<std::string>& col_labels, const std::string& row_label) {
  if (values.ndim() > 2)
    throw std::invalid_argument("plot_heatmap expects values [rows, cols], got " + values.shape().str());
  const bool has_data = values.numel() > 0 && values.raw() != nullptr;
  const i64 rows = !has_data ? 0 : values.ndim() == 2 ? values.dim(0) : 1;
  const i64 cols = !has_data ? 0 : values.ndim() == 2 ? values.dim(1) : values.numel();
  if (!col_labels.empty() && i64(col_labels.size()) != cols)
    throw std::invalid_argument("plot_heatmap: " + std::to_string(col_labels.size()) + " column labels for " +
                                std::to_string(cols) + " columns");

  Figure probe(path, 1, 1);  // text metrics only; throws for a bad file name
  const double th = Figure::cap_height(kTick);
  const bool labels = !col_labels.empty() && cols > 0;
  int cw = cols > 0 ? int(std::clamp<i64>(1000 / cols, 1, 40)) : 0;
  if (labels) cw = std::max(cw, 9);
  const int ch = rows > 0 ? int(std::clamp<i64>(420 / rows, 1, 40)) : 0;
  const int grid_w = int(cols) * cw, grid_h = int(rows) * ch;

  // column labels: larger when cells are wide enough, horizontal when every label fits a cell
  const double lsize = cw >= 15 ? kTick : 10;
  bool vertical = false;
  double label_h = 0;
  if (labels) {
    double maxw = 0;
    for (const auto& l : col_labels) maxw = std::max(maxw, probe.text_width(l == " " ? "_" : l, lsize));
    vertical = maxw > cw - 1;
    label_h = vertical ? maxw : Figure::cap_height(lsize) + Figure::descent(lsize);
  } else if (cols > 0) {
    label_h = th + 2;
  }

  // value range
  double vmin = std::numeric_limits<double>::infinity(), vmax = -vmin;
  for (i64 i = 0; i < rows * cols; ++i) {
    double v;
    if (finite_at(values, i, v)) vmin = std::min(vmin, v), vmax = std::max(vmax, v);
  }
  const bool finite_any = vmin <= vmax;

  // row ticks (integer indices)
  std::vector<double> rticks;
  if (rows > 0) {
    double step = std::max(1.0, nice_step(double(rows - 1), std::max(2, grid_h / 40)));
    for (double r = 0; r <= double(rows - 1) + 1e-9; r += step) rticks.push_back(r);
  }
  double rtw = 0;
  for (double r : rticks) rtw = std::max(rtw, probe.text_width(format_tick(r, 1.0), kTick));

  // colour bar ticks
  const int bar_len = std::max(grid_h, 120);
  std::vector<double> bticks = finite_any ? nice_ticks(vmin, vmax, std::max(2, bar_len / 40)) : std::vector<double>{};
  std::vector<std::pair<double, std::string>> blabels;
  if (finite_any) {
    double step = bticks.size() > 1 ? bticks[1] - bticks[0] : 1.0;
    for (double b : bticks)
      if (b >= vmin - 1e-12 * std::abs(vmin) && b <= vmax + 1e-12 * std::abs(vmax)) blabels.push_back({b, format_tick(b, step)});
    if (blabels.empty() || vmin == vmax) blabels = {{vmin, format_tick(vmin, std::abs(vmin) / 100)}};
  }
  double btw = 0;
  for (const auto& b : blabels) btw = std::max(btw, probe.text_width(b.second, kTick));

  const int margin = 20;
  const int title_h = title.empty() ? 0 : int(Figure::cap_height(kTitle)) + 20;
  const int ylab_w = row_label.empty() ? 0 : int(Figure::cap_height(kLabel) + Figure::descent(kLabel)) + 10;
  const int gx = margin + ylab_w + int(std::ceil(rtw)) + 10;
  const int gy = margin + title_h;
  const int bar_x = gx + std::max(grid_w, 120) + 24, bar_w = 18;
  int W = bar_x + bar_w + 8 + int(std::ceil(btw)) + margin;
  W = std::max(W, int(std::ceil(probe.text_width(title, kTitle, true))) + 2 * margin);
  const int H = gy + std::max(std::max(grid_h, 40), finite_any ? bar_len : 0) + 8 + int(std::ceil(label_h)) + margin;
  Figure f(path, W, H);
  if (!title.empty()) f.text(W / 2.0, margin, title, kText, kTitle, HAlign::Center, VAlign::Top, true);
  if (rows == 0 || cols == 0) {
    f.stroke_rect(gx + 0.5, gy + 0.5, 120, 40, kFaint);
    f.text(gx + 60, gy + 20, "no data", kFaint, kLabel, HAlign::Center, VAlign::Middle);
    f.finish();
    return;
  }

  // cells
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) {
      double v = values.at(r * cols + c);
      double fr = !std::isfinite(v) ? std::nan("") : vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5;
      f.fill_rect(gx + int(c) * cw, gy + int(r) * ch, cw, ch, sequential_color(fr));
    }
  f.stroke_rect(gx - 0.5, gy - 0.5, grid_w + 1, grid_h + 1, kFaint);

  // row ticks and label
  for (double r : rticks) {
    const int y = gy + int(r) * ch + ch / 2;
    f.crisp_line(gx - 5, y, gx - 1, y, kBlack);
    f.text(gx - 8, y + 0.5, format_tick(r, 1.0), kText, kTick, HAlign::Right, VAlign::Middle);
  }
  if (!row_label.empty()) f.text(margin, gy + grid_h / 2.0, row_label, kText, kLabel, HAlign::Center, VAlign::Top, false, 90);

  // column labels or indices
  const int ly = gy + grid_h + 6;
  if (labels) {
    for (i64 c = 0; c < cols; ++c) {
      const bool space = col_labels[std::size_t(c)] == " ";
      const std::string& s = space ? std::string("_") : col_labels[std::size_t(c)];
      const double cx = gx + int(c) * cw + cw / 2.0;
      if (vertical)
        f.text(cx, ly, s, space ? kFaint : kText, lsize, HAlign::Right, VAlign::Middle, false, 90);
      else
        f.text(cx, ly, s, space ? kFaint : kText, lsize, HAlign::Center);
    }
  } else {
    double step = std::max(1.0, nice_step(double(cols - 1), std::max(2, grid_w / 70)));
    for (double c = 0; c <= double(cols - 1) + 1e-9; c += step) {
      const int x = gx + int(c) * cw + cw / 2;
      f.crisp_line(x, gy + grid_h, x, gy + grid_h + 4, kBlack);
      f.text(x + 0.5, ly + 2, format_tick(c, 1.0), kText, kTick, HAlign::Center);
    }
  }

  // colour bar, bottom = vmin, top = vmax
  if (finite_any) {
    f.ramp_rect(bar_x, gy, bar_w, bar_len, sequential_color, true);
    f.stroke_rect(bar_x - 0.5, gy - 0.5, bar_w + 1, bar_len + 1, kFaint);
    for (const auto& [b, s] : blabels) {
      const double fr = vmax > vmin ? (b - vmin) / (vmax - vmin) : 0.5;
      const double y = gy + std::round((1.0 - fr) * (bar_len - 1));
      f.crisp_line(bar_x + bar_w, y, bar_x + bar_w + 4, y, kBlack);
      f.text(bar_x + bar_w + 8, y + 0.5, s, kText, kTick, HAlign::Left, VAlign::Middle);
    }
  }
  f.finish();
}

}  // namespace ht
