// plot_strokes (plot/plot.h): handwriting, one row per sequence of pen offsets.
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "plot/plot.h"

namespace ht {

void plot_strokes(const std::string& path, const std::vector<std::string>& titles,
                  const std::vector<std::vector<std::array<float, 3>>>& seqs) {
  if (titles.size() != seqs.size()) throw std::invalid_argument("plot_strokes: one title per sequence");
  figure_format(path);
  struct Box { double x0 = 0, x1 = 0, y0 = 0, y1 = 0; };
  std::vector<Box> boxes;
  double wmax = 1e-9, hmax = 1e-9;
  for (const auto& s : seqs) {
    Box b;
    double x = 0, y = 0;
    for (const auto& p : s) {
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) continue;
      x += p[0], y += p[1];
      b.x0 = std::min(b.x0, x), b.x1 = std::max(b.x1, x), b.y0 = std::min(b.y0, y), b.y1 = std::max(b.y1, y);
    }
    wmax = std::max(wmax, b.x1 - b.x0), hmax = std::max(hmax, b.y1 - b.y0);
    boxes.push_back(b);
  }
  const int width = 1400, margin = 16, title_h = 26;
  const double title_size = 14, pad = 3;  // pad: room for the pen's width at the box's edges
  const double scale = std::min((width - 2 * margin - 2 * pad) / wmax, 160.0 / hmax);
  double height = margin;
  for (const auto& b : boxes) height += title_h + std::ceil((b.y1 - b.y0) * scale + 2 * pad) + margin;
  if (seqs.empty()) height += 20;
  Figure f(path, width, int(std::max(height, 2.0 * margin)));
  if (seqs.empty()) f.text(margin, margin, "no samples", kFaint, title_size);
  cairo_t* cr = f.cr();
  cairo_set_line_width(cr, 1.8);
  cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  double top = margin;
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    f.text(margin, top, titles[i], Rgb{60, 60, 60}, title_size);
    top += title_h;
    const Box& b = boxes[i];
    auto X = [&](double x) { return margin + pad + (x - b.x0) * scale; };
    auto Y = [&](double y) { return top + pad + (y - b.y0) * scale; };
    f.set_color(Rgb{20, 40, 110});
    double x = 0, y = 0;
    bool down = false;  // the point after a lift starts a new stroke
    for (const auto& p : seqs[i]) {
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) continue;
      x += p[0], y += p[1];
      if (down)
        cairo_line_to(cr, X(x), Y(y));
      else
        cairo_move_to(cr, X(x), Y(y));
      down = p[2] < 0.5f;
    }
    cairo_stroke(cr);
    top += std::ceil((b.y1 - b.y0) * scale + 2 * pad) + margin;
  }
  f.finish();
}

}  // namespace ht
