#include "plot/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace ht {

namespace {

constexpr Rgb kGap{110, 110, 110};
constexpr int kTitleScale = 2;
constexpr int kLabelScale = 2;
constexpr int kTickScale = 2;

// Centre a single line of text horizontally on cx.
void text_centred(Canvas& cv, int cx, int y, const std::string& s, Rgb c, int scale) {
  cv.text(cx - cv.text_width(s, scale) / 2, y, s, c, scale);
}

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
  double x, y;   // pixel position
  bool linked;   // joined to the previous point of the same series
};

void draw_chart(Canvas& cv, int x0, int y0, int x1, int y1, const std::string& title, const std::string& xlabel,
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

  // layout
  const int th = cv.text_height("X", kTickScale);
  const int cap_mid = Canvas::kCapH * kTickScale / 2;  // from a label's top to the middle of its capitals
  int top = y0 + 12;
  if (!title.empty()) {
    text_centred(cv, (x0 + x1) / 2, top, title, kText, kTitleScale);
    top += cv.text_height(title, kTitleScale) + 14;
  } else {
    top += 4;
  }
  int bottom = y1 - 10;
  if (!xlabel.empty()) bottom -= cv.text_height(xlabel, kLabelScale) + 8;
  bottom -= th + 10;  // tick labels

  const int plot_h = std::max(10, bottom - top);
  Axis ya = log_y ? log_axis(ymin, ymax, std::max(2, plot_h / 45)) : linear_axis(ymin, ymax, std::max(2, plot_h / 45));
  int ytw = 0;
  for (const auto& l : ya.labels) ytw = std::max(ytw, cv.text_width(l, kTickScale));
  int left = x0 + 12;
  if (!ylabel.empty()) left += cv.text_height(ylabel, kLabelScale) + 10;
  left += ytw + 10;
  // x tick count from the width the labels need; room on the right for half the last label
  Axis xa = linear_axis(xmin, xmax, 8);
  int xtw = 0;
  for (const auto& l : xa.labels) xtw = std::max(xtw, cv.text_width(l, kTickScale));
  int right = x1 - std::max(24, xtw / 2 + 10);
  const int plot_w = std::max(10, right - left);
  // fewer ticks until neighbouring labels keep a gap of at least 24 px
  for (int xtarget = std::max(2, plot_w / std::max(60, xtw + 30)); xtarget >= 1; --xtarget) {
    xa = linear_axis(xmin, xmax, xtarget);
    int w = 0;
    for (const auto& l : xa.labels) w = std::max(w, cv.text_width(l, kTickScale));
    if (xa.ticks.size() < 2 || plot_w / double(xa.ticks.size() - 1) >= w + 24) break;
  }
  if (!any) xa = linear_axis(0.0, 1.0, 5), ya = log_y ? log_axis(1.0, 10.0, 4) : linear_axis(0.0, 1.0, 5);
  right = left + plot_w;
  if (bottom <= top) bottom = top + 10;

  auto px = [&](double x) { return left + xa.frac(x) * (right - left); };
  auto py = [&](double y) { return bottom - ya.frac(log_y ? std::log10(y) : y) * (bottom - top); };

  // grid and ticks
  for (std::size_t i = 0; i < xa.ticks.size(); ++i) {
    int x = int(std::lround(left + xa.frac(xa.ticks[i]) * (right - left)));
    cv.line(x, top, x, bottom, kGrid);
    cv.line(x, bottom, x, bottom + 5, kBlack);
    text_centred(cv, x, bottom + 9, xa.labels[i], kText, kTickScale);
  }
  for (std::size_t i = 0; i < ya.ticks.size(); ++i) {
    int y = int(std::lround(bottom - ya.frac(ya.ticks[i]) * (bottom - top)));
    cv.line(left, y, right, y, kGrid);
    cv.line(left - 5, y, left, y, kBlack);
    cv.text(left - 9 - cv.text_width(ya.labels[i], kTickScale), y - cap_mid, ya.labels[i], kText, kTickScale);
  }

  // series
  std::vector<std::vector<Pt>> pts(series.size());
  cv.set_clip(left + 1, top + 1, right - 1, bottom - 1);
  for (std::size_t s = 0; s < series.size(); ++s) {
    const Rgb c = series_color(int(s));
    const auto& d = data[s];
    for (std::size_t i = 0; i < d.size(); ++i) pts[s].push_back({px(d[i].first), py(d[i].second), !breaks[s][i]});
    const auto& p = pts[s];
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (i > 0 && p[i].linked) cv.line(p[i - 1].x, p[i - 1].y, p[i].x, p[i].y, c, 2);
      bool alone = !p[i].linked && (i + 1 == p.size() || !p[i + 1].linked);
      if (alone) {
        int x = int(std::lround(p[i].x)), y = int(std::lround(p[i].y));
        cv.fill_rect(x - 3, y - 3, x + 3, y + 3, c);
      }
    }
  }
  cv.reset_clip();
  cv.rect(left, top, right, bottom, kBlack);
  if (!any) text_centred(cv, (left + right) / 2, (top + bottom) / 2 - cap_mid, "no data", kFaint, kLabelScale);

  // axis labels
  if (!xlabel.empty()) text_centred(cv, (left + right) / 2, bottom + 9 + th + 10, xlabel, kText, kLabelScale);
  if (!ylabel.empty()) {
    int w = cv.text_width(ylabel, kLabelScale);
    cv.text_vertical(x0 + 12, (top + bottom) / 2 - w / 2, ylabel, kText, kLabelScale);
  }

  // legend, in the corner of the plot covering the fewest points
  std::vector<std::size_t> entries;
  for (std::size_t s = 0; s < series.size(); ++s)
    if (!series[s].label.empty()) entries.push_back(s);
  if (entries.empty()) return;
  const int row_h = th + 8, swatch = 26, pad = 8;
  int lw = 0;
  for (std::size_t s : entries) lw = std::max(lw, cv.text_width(series[s].label, kLabelScale));
  const int box_w = pad + swatch + 8 + lw + pad, box_h = pad + int(entries.size()) * row_h - 8 + pad;
  const int m = 8;
  const int cand[4][2] = {{right - m - box_w, top + m},
                          {left + m, top + m},
                          {right - m - box_w, bottom - m - box_h},
                          {left + m, bottom - m - box_h}};
  int best = 0;
  long best_count = -1;
  for (int k = 0; k < 4; ++k) {
    long count = 0;
    const double bx0 = cand[k][0] - 4, by0 = cand[k][1] - 4, bx1 = cand[k][0] + box_w + 4, by1 = cand[k][1] + box_h + 4;
    for (const auto& p : pts)
      for (std::size_t i = 0; i < p.size(); ++i) {
        bool in = p[i].x >= bx0 && p[i].x <= bx1 && p[i].y >= by0 && p[i].y <= by1;
        // a segment crossing the box between two points outside it counts too (coarsely: midpoint)
        if (!in && i > 0 && p[i].linked) {
          double mx = (p[i].x + p[i - 1].x) / 2, my = (p[i].y + p[i - 1].y) / 2;
          in = mx >= bx0 && mx <= bx1 && my >= by0 && my <= by1;
        }
        count += in;
      }
    if (best_count < 0 || count < best_count) best = k, best_count = count;
  }
  const int bx = cand[best][0], by = cand[best][1];
  cv.fill_rect(bx, by, bx + box_w, by + box_h, kWhite);
  cv.rect(bx, by, bx + box_w, by + box_h, kFaint);
  for (std::size_t e = 0; e < entries.size(); ++e) {
    int y = by + pad + int(e) * row_h;
    Rgb c = series_color(int(entries[e]));
    cv.line(bx + pad, y + cap_mid, bx + pad + swatch, y + cap_mid, c, 3);
    cv.text(bx + pad + swatch + 8, y, series[entries[e]].label, kText, kLabelScale);
  }
}

// ---- tensors ----

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
  Canvas cv(900, 560, kWhite);
  draw_chart(cv, 0, 0, cv.width() - 1, cv.height() - 1, title, xlabel, ylabel, series, log_y);
  cv.write_png(path);
}

void plot_learning_curves(const std::string& path, const std::string& title, const std::vector<Series>& left,
                          const std::string& left_label, const std::vector<Series>& right,
                          const std::string& right_label, const std::string& xlabel, bool left_log_y,
                          bool right_log_y, const std::string& right_xlabel) {
  Canvas cv(1400, 580, kWhite);
  int top = 0;
  if (!title.empty()) {
    text_centred(cv, cv.width() / 2, 14, title, kText, kTitleScale);
    top = 14 + cv.text_height(title, kTitleScale);
  }
  const int mid = cv.width() / 2;
  draw_chart(cv, 0, top, mid - 1, cv.height() - 1, "", xlabel, left_label, left, left_log_y);
  draw_chart(cv, mid, top, cv.width() - 1, cv.height() - 1, "", right_xlabel.empty() ? xlabel : right_xlabel, right_label, right,
             right_log_y);
  cv.write_png(path);
}

void plot_kernel_grids(const std::string& path, const std::string& title,
                       const std::vector<std::pair<std::string, Tensor>>& panels, int max_kernels) {
  struct Layout {
    i64 kh = 0, kw = 0, count = 0, n = 0;
    int cols = 0, rows = 0, p = 1, grid_w = 0, grid_h = 0, width = 0;
    double maxabs = 0.0;
    std::string footer;
  };
  const int cap_scale = 2, foot_scale = 2, gap = 1;
  Canvas probe(1, 1, kWhite);  // text metrics only
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
    L.width = std::max({L.grid_w, probe.text_width(panels[k].first, cap_scale), probe.text_width(L.footer, foot_scale)});
    grid_h_max = std::max(grid_h_max, L.grid_h);
  }

  const int margin = 24, spacing = 40;
  const int title_h = title.empty() ? 0 : probe.text_height(title, kTitleScale) + 18;
  const int cap_h = probe.text_height("X", cap_scale) + 10;
  const int th = probe.text_height("X", foot_scale);
  const int bar_h = 12;
  const int below = 10 + bar_h + 6 + th + 10 + th;  // colour bar, its labels, footer
  int W = margin * 2, H = margin + title_h + cap_h + grid_h_max + below + margin;
  for (std::size_t k = 0; k < lay.size(); ++k) W += lay[k].width + (k ? spacing : 0);
  if (panels.empty()) W += 200;
  W = std::max(W, probe.text_width(title, kTitleScale) + 2 * margin);
  Canvas cv(W, H, kWhite);
  if (!title.empty()) text_centred(cv, W / 2, margin, title, kText, kTitleScale);
  if (panels.empty()) text_centred(cv, W / 2, margin + title_h + 10, "no panels", kFaint, cap_scale);

  int x = margin;
  const int y_cap = margin + title_h, y_grid = y_cap + cap_h;
  for (std::size_t k = 0; k < panels.size(); ++k) {
    const Layout& L = lay[k];
    const Tensor& t = panels[k].second;
    const int cx = x + L.width / 2;
    text_centred(cv, cx, y_cap, panels[k].first, kText, cap_scale);
    const int gx = cx - L.grid_w / 2, gy = y_grid;
    if (L.n > 0) {
      cv.fill_rect(gx, gy, gx + L.grid_w - 1, gy + L.grid_h - 1, kGap);
      const double scale = L.maxabs > 0.0 ? 1.0 / L.maxabs : 1.0;
      for (i64 q = 0; q < L.n; ++q) {
        const int kx = gx + gap + int(q % L.cols) * (int(L.kw) * L.p + gap);
        const int ky = gy + gap + int(q / L.cols) * (int(L.kh) * L.p + gap);
        for (i64 r = 0; r < L.kh; ++r)
          for (i64 c = 0; c < L.kw; ++c) {
            double v;
            Rgb col = finite_at(t, (q * L.kh + r) * L.kw + c, v) ? diverging_color(v * scale) : kBlack;
            cv.fill_rect(kx + int(c) * L.p, ky + int(r) * L.p, kx + int(c + 1) * L.p - 1, ky + int(r + 1) * L.p - 1, col);
          }
      }
      // colour bar from -max to +max under the grid
      const int by = gy + L.grid_h + 10;
      for (int i = 0; i < L.grid_w; ++i)
        cv.fill_rect(gx + i, by, gx + i, by + bar_h - 1, diverging_color(2.0 * i / std::max(1, L.grid_w - 1) - 1.0));
      cv.rect(gx, by, gx + L.grid_w - 1, by + bar_h - 1, kFaint);
      const double step = L.maxabs > 0.0 ? std::pow(10.0, std::floor(std::log10(L.maxabs)) - 2) : 1.0;
      const std::string hi = format_tick(L.maxabs, step), lo = L.maxabs > 0.0 ? "-" + hi : hi;
      cv.text(gx, by + bar_h + 6, lo, kText, foot_scale);
      text_centred(cv, gx + L.grid_w / 2, by + bar_h + 6, "0", kText, foot_scale);
      cv.text(gx + L.grid_w - cv.text_width(hi, foot_scale), by + bar_h + 6, hi, kText, foot_scale);
      text_centred(cv, cx, by + bar_h + 6 + th + 10, L.footer, kFaint, foot_scale);
    } else {
      cv.rect(gx, gy, gx + L.grid_w - 1, gy + L.grid_h - 1, kFaint);
      text_centred(cv, cx, gy + L.grid_h / 2 - th / 2, L.footer, kFaint, foot_scale);
    }
    x += L.width + spacing;
  }
  cv.write_png(path);
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

  Canvas probe(1, 1, kWhite);
  const int th = probe.text_height("X", kTickScale);
  const bool labels = !col_labels.empty() && cols > 0;
  int cw = cols > 0 ? int(std::clamp<i64>(1000 / cols, 1, 40)) : 0;
  if (labels) cw = std::max(cw, 9);
  const int ch = rows > 0 ? int(std::clamp<i64>(420 / rows, 1, 40)) : 0;
  const int grid_w = int(cols) * cw, grid_h = int(rows) * ch;

  // column labels: scale 2 when cells are wide enough, horizontal when every label fits a cell
  int lscale = cw >= 15 ? 2 : 1;
  bool vertical = false;
  int label_h = 0;
  if (labels) {
    int maxw = 0;
    for (const auto& l : col_labels) maxw = std::max(maxw, probe.text_width(l == " " ? "_" : l, lscale));
    vertical = maxw > cw - 1;
    label_h = vertical ? maxw : probe.text_height("X", lscale);
  } else if (cols > 0) {
    label_h = th;
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
  int rtw = 0;
  for (double r : rticks) rtw = std::max(rtw, probe.text_width(format_tick(r, 1.0), kTickScale));

  // colour bar ticks
  const int bar_len = std::max(grid_h, 120);
  std::vector<double> bticks = finite_any ? nice_ticks(vmin, vmax, std::max(2, bar_len / 40)) : std::vector<double>{};
  std::vector<std::pair<double, std::string>> blabels;
  if (finite_any) {
    double step = bticks.size() > 1 ? bticks[1] - bticks[0] : 1.0;
    for (double b : bticks)
      if (b >= vmin - 1e-12 * std::abs(vmin) && b <= vmax + 1e-12 * std::abs(vmax))
        blabels.push_back({b, format_tick(b, step)});
    if (blabels.empty() || vmin == vmax) blabels = {{vmin, format_tick(vmin, std::abs(vmin) / 100)}};
  }
  int btw = 0;
  for (const auto& b : blabels) btw = std::max(btw, probe.text_width(b.second, kTickScale));

  const int margin = 20;
  const int title_h = title.empty() ? 0 : probe.text_height(title, kTitleScale) + 16;
  const int ylab_w = row_label.empty() ? 0 : probe.text_height(row_label, kLabelScale) + 10;
  const int gx = margin + ylab_w + rtw + 10;
  const int gy = margin + title_h;
  const int bar_x = gx + std::max(grid_w, 120) + 24, bar_w = 18;
  int W = bar_x + bar_w + 8 + btw + margin;
  W = std::max(W, probe.text_width(title, kTitleScale) + 2 * margin);
  const int H = gy + std::max(std::max(grid_h, 40), finite_any ? bar_len : 0) + 8 + label_h + margin;
  Canvas cv(W, H, kWhite);
  if (!title.empty()) text_centred(cv, W / 2, margin, title, kText, kTitleScale);
  if (rows == 0 || cols == 0) {
    text_centred(cv, gx + 60, gy + 14, "no data", kFaint, kLabelScale);
    cv.write_png(path);
    return;
  }

  // cells
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) {
      double v = values.at(r * cols + c);
      double f = !std::isfinite(v) ? std::nan("") : vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5;
      cv.fill_rect(gx + int(c) * cw, gy + int(r) * ch, gx + int(c + 1) * cw - 1, gy + int(r + 1) * ch - 1,
                   sequential_color(f));
    }
  cv.rect(gx - 1, gy - 1, gx + grid_w, gy + grid_h, kFaint);

  // row ticks and label
  for (double r : rticks) {
    int y = gy + int(r) * ch + ch / 2;
    std::string s = format_tick(r, 1.0);
    cv.line(gx - 5, y, gx - 2, y, kBlack);
    cv.text(gx - 8 - cv.text_width(s, kTickScale), y - Canvas::kCapH * kTickScale / 2, s, kText, kTickScale);
  }
  if (!row_label.empty())
    cv.text_vertical(margin, gy + grid_h / 2 - cv.text_width(row_label, kLabelScale) / 2, row_label, kText, kLabelScale);

  // column labels or indices
  const int ly = gy + grid_h + 6;
  if (labels) {
    for (i64 c = 0; c < cols; ++c) {
      const bool space = col_labels[c] == " ";
      const std::string& s = space ? std::string("_") : col_labels[c];
      const Rgb colr = space ? kFaint : kText;
      const int cx = gx + int(c) * cw + cw / 2;
      if (vertical)
        cv.text_vertical(cx - cv.text_height("X", lscale) / 2, ly, s, colr, lscale);
      else
        text_centred(cv, cx + (cw % 2 == 0 ? 1 : 0), ly, s, colr, lscale);
    }
  } else {
    double step = std::max(1.0, nice_step(double(cols - 1), std::max(2, grid_w / 70)));
    for (double c = 0; c <= double(cols - 1) + 1e-9; c += step) {
      int x = gx + int(c) * cw + cw / 2;
      cv.line(x, gy + grid_h + 1, x, gy + grid_h + 4, kBlack);
      text_centred(cv, x, ly + 2, format_tick(c, 1.0), kText, kTickScale);
    }
  }

  // colour bar, bottom = vmin, top = vmax
  if (finite_any) {
    for (int i = 0; i < bar_len; ++i)
      cv.fill_rect(bar_x, gy + i, bar_x + bar_w - 1, gy + i, sequential_color(1.0 - double(i) / std::max(1, bar_len - 1)));
    cv.rect(bar_x - 1, gy - 1, bar_x + bar_w, gy + bar_len, kFaint);
    for (const auto& [b, s] : blabels) {
      double f = vmax > vmin ? (b - vmin) / (vmax - vmin) : 0.5;
      int y = gy + int(std::lround((1.0 - f) * (bar_len - 1)));
      cv.line(bar_x + bar_w, y, bar_x + bar_w + 4, y, kBlack);
      cv.text(bar_x + bar_w + 8, y - Canvas::kCapH * kTickScale / 2, s, kText, kTickScale);
    }
  }
  cv.write_png(path);
}

}  // namespace ht
