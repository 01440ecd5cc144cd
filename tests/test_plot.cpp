// Pictures through Cairo (plot/figure.h, plot/plot.h): every plot function writes a PNG that
// decodes to the expected size and is not blank, and an SVG that is well-formed XML holding
// paths; bad extensions and unwritable paths throw naming the path; the layout keeps its promises
// (series colours in the data, the legend under the plot area, pen lifts break handwriting).
#include <cairo.h>
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>
#include <stdexcept>

#include "engine/tensor.h"
#include "plot/figure.h"
#include "plot/plot.h"
#include "train/run_files.h"
#include "tests/files.h"

using namespace ht;
using ht::test::has;
using ht::test::TempDir;

namespace {

struct Image {
  int w = 0, h = 0;
  std::vector<Rgb> px;
  Rgb at(int x, int y) const { return px[std::size_t(y) * std::size_t(w) + std::size_t(x)]; }
  std::size_t distinct_colours() const {
    std::set<std::uint32_t> s;
    for (Rgb c : px) s.insert(std::uint32_t(c.r) << 16 | c.g << 8 | c.b);
    return s.size();
  }
  bool contains(Rgb c) const {
    for (Rgb p : px)
      if (p == c) return true;
    return false;
  }
  // Some pixel of colour c in the rows [y0, y1).
  bool contains_in_rows(Rgb c, int y0, int y1) const {
    for (int y = std::max(0, y0); y < std::min(h, y1); ++y)
      for (int x = 0; x < w; ++x)
        if (at(x, y) == c) return true;
    return false;
  }
};

// Reads a PNG back through Cairo as 8-bit RGB.
Image read_png(const std::string& path) {
  cairo_surface_t* s = cairo_image_surface_create_from_png(path.c_str());
  const cairo_status_t st = cairo_surface_status(s);
  if (st != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    throw std::runtime_error("cannot read " + path + ": " + cairo_status_to_string(st));
  }
  Image im;
  im.w = cairo_image_surface_get_width(s), im.h = cairo_image_surface_get_height(s);
  const int stride = cairo_image_surface_get_stride(s);
  const cairo_format_t fmt = cairo_image_surface_get_format(s);
  REQUIRE((fmt == CAIRO_FORMAT_RGB24 || fmt == CAIRO_FORMAT_ARGB32));
  const unsigned char* d = cairo_image_surface_get_data(s);
  for (int y = 0; y < im.h; ++y)
    for (int x = 0; x < im.w; ++x) {
      const std::uint32_t v = *reinterpret_cast<const std::uint32_t*>(d + std::size_t(y) * stride + 4 * std::size_t(x));
      im.px.push_back({std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)});
    }
  cairo_surface_destroy(s);
  return im;
}

// A real plot, not a blank or near-blank canvas.
void check_not_blank(const Image& im, std::size_t min_colours = 4) { CHECK(im.distinct_colours() >= min_colours); }

// Well-formed XML (python3's minidom parses it) holding drawn paths or text.
void check_svg(const std::string& path) {
  REQUIRE_MESSAGE(std::system("command -v python3 > /dev/null 2>&1") == 0,
                  "python3 is needed to check that SVG files are well-formed XML; install python3");
  const std::string cmd = "python3 -c \"import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])\" '" + path + "'";
  INFO(path);
  CHECK(std::system(cmd.c_str()) == 0);
  const std::string svg = read_text(path);
  CHECK(svg.find("<svg") != std::string::npos);
  CHECK((svg.find("<path") != std::string::npos || svg.find("<text") != std::string::npos));
}

// draw(path) for a .png, .svg and .pdf in dir: the PNG is returned decoded (w x h when given),
// the SVG checked as above, the PDF starts like one; no .tmp is left.
Image draw_all(const TempDir& dir, const std::string& name, const std::function<void(const std::string&)>& draw, int w = 0, int h = 0) {
  const std::string png = dir / (name + ".png"), svg = dir / (name + ".svg"), pdf = dir / (name + ".pdf");
  draw(png);
  draw(svg);
  draw(pdf);
  check_svg(svg);
  CHECK(read_text(pdf).rfind("%PDF-", 0) == 0);
  for (const auto& p : {png, svg, pdf}) CHECK_FALSE(std::filesystem::exists(p + ".tmp"));
  Image im = read_png(png);
  if (w > 0) CHECK(im.w == w);
  if (h > 0) CHECK(im.h == h);
  return im;
}

Tensor conv_weight(i64 o, i64 c, i64 kh, i64 kw, double phase) {
  Tensor t = Tensor::empty({o, c, kh, kw}, DType::F32);
  float* p = t.data<float>();
  for (i64 i = 0; i < t.numel(); ++i) p[i] = float(std::sin(0.37 * double(i) + phase) * 0.05);
  return t;
}

// The rows holding a horizontal run of at least `len` near-black pixels (a plot frame's edges).
std::vector<int> frame_rows(const Image& im, int len) {
  std::vector<int> rows;
  for (int y = 0; y < im.h; ++y) {
    int run = 0, best = 0;
    for (int x = 0; x < im.w; ++x) {
      const Rgb c = im.at(x, y);
      run = c.r < 60 && c.g < 60 && c.b < 60 ? run + 1 : 0;
      best = std::max(best, run);
    }
    if (best >= len) rows.push_back(y);
  }
  return rows;
}

}  // namespace

TEST_CASE("figure: the extension picks the format; others throw naming the path and the accepted ones") {
  CHECK(figure_format("a/b.png") == "png");
  CHECK(figure_format("x.SVG") == "svg");
  CHECK(figure_format("x.pdf") == "pdf");
  for (const std::string bad : {"out.jpg", "out", "dir.png/out", "out.png.txt"}) {
    CHECK_THROWS_WITH_AS(figure_format(bad), has(bad), std::invalid_argument);
    CHECK_THROWS_WITH_AS(figure_format(bad), has(".png, .svg or .pdf"), std::invalid_argument);
  }
  TempDir dir;
  const std::string bad = dir / "chart.gif";
  CHECK_THROWS_WITH_AS(plot_lines(bad, "t", "x", "y", {}), has(bad), std::invalid_argument);
  CHECK_THROWS_WITH_AS(plot_heatmap(bad, "t", Tensor::zeros({2, 2}), {}, ""), has(bad), std::invalid_argument);
  CHECK_THROWS_WITH_AS(plot_kernel_grids(bad, "t", {}), has(bad), std::invalid_argument);
  CHECK_THROWS_WITH_AS(plot_strokes(bad, {}, {}), has(bad), std::invalid_argument);
  CHECK_THROWS_WITH_AS(plot_scaling(bad, "t", "", {}, {}, {}), has(bad), std::invalid_argument);
  CHECK(std::filesystem::is_empty(dir.path));
}

TEST_CASE("figure: drawn pixels, atomic writes, and failures that name the path and leave no .tmp") {
  TempDir dir;
  const std::string path = dir / "f.png";
  {
    Figure f(path, 60, 40, {10, 20, 30});
    f.fill_rect(10, 10, 6, 6, {200, 10, 20});
    f.line(0, 30.5, 60, 30.5, {0, 255, 0}, 1);
    f.line(NAN, 0, 10, 10, {0, 0, 0});  // non-finite: nothing
    f.text(2, 2, "Hi \xff", {255, 255, 255}, 12);  // an invalid UTF-8 byte does not stop the drawing
    f.fill_rect(40, 10, 4, 4, {1, 2, 3});
    CHECK(f.text_width("abc", 12) > f.text_width("ab", 12));
    CHECK(f.text_width("", 12) == 0);
    f.finish();
  }
  Image im = read_png(path);
  REQUIRE(im.w == 60);
  REQUIRE(im.h == 40);
  CHECK(im.at(0, 0) == Rgb{10, 20, 30});
  CHECK(im.at(12, 12) == Rgb{200, 10, 20});
  CHECK(im.at(16, 12) == Rgb{10, 20, 30});
  CHECK(im.at(30, 30) == Rgb{0, 255, 0});
  CHECK(im.at(41, 11) == Rgb{1, 2, 3});
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  {
    Figure f(path, 20, 10, {9, 9, 9});  // overwrite
    f.finish();
  }
  CHECK(read_png(path).at(0, 0) == Rgb{9, 9, 9});
  CHECK_THROWS_AS(Figure(path, 0, 10), std::invalid_argument);

  for (const std::string ext : {".png", ".svg", ".pdf"}) {
    const std::string bad = dir / ("no_such_dir/x/out" + ext);
    Figure f(bad, 20, 20);
    f.line(0, 0, 20, 20, {0, 0, 0}, 2);
    CHECK_THROWS_WITH_AS(f.finish(), has(bad), std::runtime_error);
    CHECK_FALSE(std::filesystem::exists(bad + ".tmp"));
  }
  // a directory in the way of the rename: the .tmp is removed
  std::filesystem::create_directories(dir / "taken.svg");
  Figure f(dir / "taken.svg", 20, 20);
  CHECK_THROWS_WITH_AS(f.finish(), has(dir / "taken.svg"), std::runtime_error);
  CHECK_FALSE(std::filesystem::exists(dir / "taken.svg.tmp"));
}

TEST_CASE("colour maps") {
  CHECK(diverging_color(0.0) == Rgb{255, 255, 255});
  Rgb neg = diverging_color(-1.0), pos = diverging_color(1.0);
  CHECK(neg.b > neg.r + 60);
  CHECK(neg.b > neg.g);
  CHECK(pos.r > pos.b + 60);
  CHECK(pos.r > pos.g);
  CHECK(diverging_color(-7.0) == neg);  // clamped
  CHECK(diverging_color(3.0) == pos);
  Rgb half = diverging_color(0.5);
  CHECK(half.r > half.b);
  CHECK(half.b > pos.b);  // lighter than the end
  (void)diverging_color(NAN);

  auto lum = [](Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; };
  double prev = -1.0;
  for (int i = 0; i <= 20; ++i) {
    double l = lum(sequential_color(i / 20.0));
    CHECK(l > prev);  // monotonically lighter
    prev = l;
  }
  CHECK(sequential_color(-1.0) == sequential_color(0.0));
  CHECK(sequential_color(2.0) == sequential_color(1.0));
  CHECK(series_color(0) != series_color(1));
  CHECK(series_color(10) == series_color(0));
}

TEST_CASE("ticks: 1-2-5 steps and short labels") {
  CHECK(nice_step(10.0, 5) == doctest::Approx(2.0));
  CHECK(nice_step(1.0, 5) == doctest::Approx(0.2));
  CHECK(nice_step(100.0, 4) == doctest::Approx(50.0));
  CHECK(nice_step(7.0, 7) == doctest::Approx(1.0));
  CHECK(nice_step(0.003, 6) == doctest::Approx(0.0005));
  for (double range : {0.0013, 0.7, 3.0, 42.0, 999.0, 12345.0}) {
    double s = nice_step(range, 6);
    double m = s / std::pow(10.0, std::floor(std::log10(s) + 1e-9));
    INFO("range " << range << " step " << s);
    CHECK((std::abs(m - 1) < 1e-9 || std::abs(m - 2) < 1e-9 || std::abs(m - 5) < 1e-9));
    CHECK(range / s <= 6.0 + 1e-9);
  }
  auto t = nice_ticks(0.13, 2.31, 5);
  REQUIRE(t.size() >= 3);
  CHECK(t.front() <= 0.13);
  CHECK(t.back() >= 2.31);
  CHECK(t[1] - t[0] == doctest::Approx(0.5));
  CHECK(format_tick(0.30000000000000004, 0.1) == "0.3");
  CHECK(format_tick(-1e-17, 0.1) == "0");
  CHECK(format_tick(2500, 500) == "2500");
  CHECK(format_tick(1e6, 1e5) == "1.0e6");
  CHECK(format_tick(2e6, 1e6) == "2e6");
  CHECK(format_tick(3e-5, 1e-5) == "3e-5");
  CHECK(format_tick(0.25, 0.05) == "0.25");
  CHECK(format_tick(-4, 2) == "-4");
}

TEST_CASE("plot_lines: a chart with axes, the series colours, and the legend under the plot area") {
  TempDir dir;
  std::vector<Series> s(3);
  s[0].label = "hypernetwork";
  s[1].label = "baseline";
  s[2].label = "with gaps";
  for (int i = 0; i <= 200; ++i) {
    s[0].x.push_back(i * 50.0), s[0].y.push_back(2.5 * std::exp(-i / 40.0) + 0.1);
    s[1].x.push_back(i * 50.0), s[1].y.push_back(2.4 * std::exp(-i / 60.0) + 0.15);
    s[2].x.push_back(i * 50.0), s[2].y.push_back(i % 37 == 5 ? NAN : 1.2 + 0.3 * std::sin(i / 9.0));
  }
  Image im = draw_all(dir, "lines", [&](const std::string& p) { plot_lines(p, "Training loss", "step", "loss (nats)", s); }, 900, 560);
  check_not_blank(im, 20);
  CHECK(im.at(0, 0) == kWhite);
  // the frame's top and bottom edges; every series inside it, and a legend swatch of each below it
  std::vector<int> rows = frame_rows(im, 600);
  REQUIRE(rows.size() >= 2);
  const int top = rows.front(), bottom = rows.back();
  CHECK(bottom - top > 300);
  for (int k = 0; k < 3; ++k) {
    INFO("series " << k);
    CHECK(im.contains_in_rows(series_color(k), top, bottom));
    CHECK(im.contains_in_rows(series_color(k), bottom + 1, im.h));
  }
  // without labels there is no legend: no series colour below the frame
  std::vector<Series> unlabelled = s;
  for (auto& u : unlabelled) u.label.clear();
  Image nolegend = draw_all(dir, "nolegend", [&](const std::string& p) { plot_lines(p, "Training loss", "step", "loss", unlabelled); });
  std::vector<int> nrows = frame_rows(nolegend, 600);
  REQUIRE(nrows.size() >= 2);
  CHECK(nrows.back() > bottom);  // the plot area is taller without a legend
  for (int k = 0; k < 3; ++k) CHECK_FALSE(nolegend.contains_in_rows(series_color(k), nrows.back() + 1, nolegend.h));

  s[1].y[3] = -1.0;  // not drawable on a log axis: skipped
  s[1].y[4] = 0.0;
  Image lim = draw_all(dir, "lines_log", [&](const std::string& p) { plot_lines(p, "Training loss (log)", "step", "loss", s, true); }, 900, 560);
  check_not_blank(lim, 20);
  CHECK(lim.contains(series_color(1)));
}

TEST_CASE("plot_lines: degenerate inputs draw a frame, markers for lone points") {
  TempDir dir;
  auto lines = [&](const std::string& name, const std::vector<Series>& s, bool log_y) {
    return draw_all(dir, name, [&](const std::string& p) { plot_lines(p, name, "x", "y", s, log_y); }, 900, 560);
  };
  check_not_blank(lines("nothing", {}, false), 3);
  check_not_blank(lines("empty", {Series{"empty", {}, {}}}, false), 3);
  CHECK(lines("one", {Series{"one", {3.0}, {7.0}}}, false).contains(series_color(0)));  // a marker
  CHECK(lines("one_log", {Series{"one", {3.0}, {7.0}}}, true).contains(series_color(0)));
  check_not_blank(lines("nan", {Series{"nan", {1, 2}, {NAN, INFINITY}}}, true), 3);
  CHECK(lines("constant", {Series{"", {}, {5, 5, 5, 5}}}, false).contains(series_color(0)));
  CHECK(lines("tiny", {Series{"t", {0, 1, 2}, {1e-7, 3e-7, 2e-7}}}, false).contains(series_color(0)));
  CHECK(lines("huge", {Series{"h", {0, 1, 2}, {1e-6, 1, 1e6}}}, true).contains(series_color(0)));
  CHECK(lines("mismatched", {Series{"m", {0, 1, 2, 3}, {1, 2}}}, false).contains(series_color(0)));
  // the "no data" frame: an empty chart is white inside its frame but for the words
  Image none = lines("none2", {}, false);
  CHECK(frame_rows(none, 600).size() >= 2);
  CHECK_FALSE(none.contains(series_color(0)));
}

TEST_CASE("plot_learning_curves: two panels in one picture") {
  TempDir dir;
  std::vector<Series> loss(2), err(2);
  loss[0].label = err[0].label = "hyper";
  loss[1].label = err[1].label = "baseline";
  for (int i = 0; i < 100; ++i) {
    loss[0].x.push_back(i * 100), loss[0].y.push_back(2.0 / (1 + i * 0.1));
    loss[1].x.push_back(i * 100), loss[1].y.push_back(2.2 / (1 + i * 0.08));
    if (i % 10 == 0) {
      err[0].x.push_back(i * 100), err[0].y.push_back(0.3 / (1 + i * 0.05));
      err[1].x.push_back(i * 100), err[1].y.push_back(0.35 / (1 + i * 0.04));
    }
  }
  Image im = draw_all(dir, "curves", [&](const std::string& p) {
    plot_learning_curves(p, "MNIST: hyper vs baseline", loss, "training loss", err, "validation error");
  }, 1400, 580);
  check_not_blank(im, 20);
  auto half_has = [&](int x0, int x1, Rgb c) {
    for (int y = 0; y < im.h; ++y)
      for (int x = x0; x < x1; ++x)
        if (im.at(x, y) == c) return true;
    return false;
  };
  for (int k = 0; k < 2; ++k) {
    CHECK(half_has(0, 700, series_color(k)));
    CHECK(half_has(700, 1400, series_color(k)));
  }
  check_not_blank(draw_all(dir, "curves_empty", [&](const std::string& p) { plot_learning_curves(p, "", {}, "loss", {}, "error", "step", true, false); },
                           1400, 580),
                  3);
}

TEST_CASE("plot_kernel_grids: Figure 2 layout with a per-panel diverging colour map") {
  TempDir dir;
  Tensor normal = conv_weight(16, 4, 7, 7, 0.0);
  Tensor hyper = conv_weight(16, 4, 7, 7, 1.0);
  // the extremes of each panel map to the ends of the colour map
  normal.data<float>()[0] = 0.2f;
  normal.data<float>()[1] = -0.2f;
  Image im = draw_all(dir, "kernels", [&](const std::string& p) {
    plot_kernel_grids(p, "Figure 2: conv kernels", {{"normal", normal}, {"hyper-generated", hyper}});
  });
  // two 8x8 grids of 7x7 kernels at 6 px per weight with 1-px gaps, side by side
  const int grid = 8 * 7 * 6 + 9;
  CHECK(im.w >= 2 * grid);
  CHECK(im.h >= grid);
  CHECK(im.w > im.h);
  check_not_blank(im, 20);
  CHECK(im.contains(diverging_color(1.0)));
  CHECK(im.contains(diverging_color(-1.0)));

  // the grid is made of 6x6 single-colour blocks: find the top-left kernel's first weight block
  // (the largest weight, pure red) and check its extent
  int fx = -1, fy = -1;
  for (int y = 0; y < im.h && fx < 0; ++y)
    for (int x = 0; x < im.w; ++x)
      if (im.at(x, y) == diverging_color(1.0)) {
        fx = x, fy = y;
        break;
      }
  REQUIRE(fx >= 0);
  bool block = true;
  for (int dy = 0; dy < 6; ++dy)
    for (int dx = 0; dx < 6; ++dx) block = block && im.at(fx + dx, fy + dy) == diverging_color(1.0);
  CHECK(block);
  CHECK(im.at(fx + 6, fy) == diverging_color(-1.0));  // weight [0,0,0,1] is the minimum
  CHECK_FALSE(im.at(fx - 1, fy) == diverging_color(1.0));  // the 1-px gap

  // fewer kernels than max, other ranks, zeros, NaN, an empty panel
  Tensor small = conv_weight(3, 1, 3, 3, 0.5);
  small.data<float>()[4] = NAN;
  Image odd = draw_all(dir, "odd", [&](const std::string& p) {
    plot_kernel_grids(p, "odd", {{"3 kernels", small}, {"2-D", Tensor::full({5, 5}, 0.0, DType::F64)}, {"empty", Tensor()}}, 64);
  });
  check_not_blank(odd, 4);
  CHECK(odd.contains({0, 0, 0}));  // the NaN weight
  // more kernels than max_kernels: only the first 64 are drawn, the panel keeps its grid size
  Image many = draw_all(dir, "many", [&](const std::string& p) { plot_kernel_grids(p, "many", {{"64 of 192", conv_weight(64, 3, 7, 7, 0.0)}}); });
  CHECK(many.w < 2 * grid);
  CHECK(many.h >= grid);
  Image all = draw_all(dir, "all", [&](const std::string& p) { plot_kernel_grids(p, "all", {{"192", conv_weight(64, 3, 7, 7, 0.0)}}, 0); });
  CHECK(all.w > many.w);
  check_not_blank(draw_all(dir, "none", [&](const std::string& p) { plot_kernel_grids(p, "none", {}); }), 2);
}

TEST_CASE("plot_heatmap: sequential colours, a colour bar, column labels, bad shapes") {
  TempDir dir;
  const i64 rows = 16, cols = 40;
  Tensor v = Tensor::empty({rows, cols}, DType::F32);
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) v.data<float>()[r * cols + c] = float(std::sin(r * 0.4) * std::cos(c * 0.3) + r * 0.05);
  const std::string text = "the quick brown fox jumps over a lazy dog";
  std::vector<std::string> labels;
  for (i64 c = 0; c < cols; ++c) labels.push_back(std::string(1, text[std::size_t(c)]));
  Image im = draw_all(dir, "heatmap", [&](const std::string& p) { plot_heatmap(p, "scaling vectors over characters", v, labels, "unit"); });
  CHECK(im.w > 400);
  CHECK(im.h > 200);
  check_not_blank(im, 30);
  CHECK(im.contains(sequential_color(0.0)));
  CHECK(im.contains(sequential_color(1.0)));

  check_not_blank(draw_all(dir, "nolabels", [&](const std::string& p) { plot_heatmap(p, "no labels", v, {}, ""); }), 30);
  check_not_blank(draw_all(dir, "long", [&](const std::string& p) {
    plot_heatmap(p, "long labels", v.rows(0, 4).view({4, 40}), std::vector<std::string>(40, "label"), "row");
  }), 10);
  check_not_blank(draw_all(dir, "onerow", [&](const std::string& p) { plot_heatmap(p, "one row", Tensor::full({5}, 1.0, DType::F64), {}, "r"); }), 3);
  check_not_blank(draw_all(dir, "empty", [&](const std::string& p) { plot_heatmap(p, "empty", Tensor::zeros({0, 3}), {}, "r"); }), 2);
  const std::string path = dir / "bad.png";
  CHECK_THROWS_AS(plot_heatmap(path, "3-D", Tensor::zeros({2, 2, 2}), {}, ""), std::invalid_argument);
  CHECK_THROWS_AS(plot_heatmap(path, "labels", v, {"a", "b"}, ""), std::invalid_argument);
}

TEST_CASE("plot_scaling: heat maps with colour bars and line charts over the characters of a text") {
  TempDir dir;
  const std::string text = "hyper networks\nscale";
  std::vector<std::string> chars;
  std::vector<bool> faint;
  for (char c : text) {
    chars.push_back(c == ' ' ? "_" : c == '\n' ? "$" : std::string(1, c));
    faint.push_back(c == ' ' || c == '\n');
  }
  const int T = int(chars.size());
  std::vector<ScalingPanel> panels(3);
  panels[0].caption = "d_h of gate g", panels[0].ylabel = "unit", panels[0].rows = 8;
  panels[1].caption = "d_x of gate g", panels[1].ylabel = "unit", panels[1].rows = 8;
  for (int k = 0; k < 2; ++k)
    for (int r = 0; r < 8; ++r)
      for (int t = 0; t < T; ++t) panels[std::size_t(k)].v.push_back(std::sin(0.3 * r + 0.5 * t + k));
  panels[2].heat = false, panels[2].caption = "|d_h(t) - d_h(t-1)| per gate", panels[2].ylabel = "L2 norm";
  for (const char* g : {"i", "g", "f", "o"}) {
    Series s{g, {}, {}};
    for (int t = 0; t < T; ++t) s.y.push_back(t == 0 ? NAN : 1 + std::cos(0.4 * t + g[0]));
    panels[2].series.push_back(s);
  }
  Image im = draw_all(dir, "scaling", [&](const std::string& p) {
    plot_scaling(p, "scaling vectors", "read from a test", chars, faint, panels);
  });
  CHECK(im.w > 300);
  CHECK(im.h > 2 * 8 * 16 + 170);
  check_not_blank(im, 30);
  CHECK(im.contains(sequential_color(0.0)));
  CHECK(im.contains(sequential_color(1.0)));
  for (int k = 0; k < 4; ++k) CHECK(im.contains(series_color(k)));
  // no data anywhere: frames only
  std::vector<ScalingPanel> empty(1);
  empty[0].caption = "empty", empty[0].rows = 2, empty[0].v = std::vector<double>(std::size_t(2 * T), NAN);
  check_not_blank(draw_all(dir, "scaling_empty", [&](const std::string& p) { plot_scaling(p, "t", "f", chars, faint, empty); }), 3);
}

TEST_CASE("plot_strokes: handwriting as smooth strokes, broken where the pen lifts") {
  TempDir dir;
  // Two horizontal strokes of 10 units, the pen lifted for a jump of 20 between them, and a
  // second row of a diagonal.
  std::vector<std::array<float, 3>> a;
  for (int i = 0; i < 10; ++i) a.push_back({1, 0, i == 9 ? 1.f : 0.f});
  a.push_back({20, 0, 0});
  for (int i = 0; i < 10; ++i) a.push_back({1, 0, i == 9 ? 1.f : 0.f});
  std::vector<std::array<float, 3>> b;
  for (int i = 0; i < 20; ++i) b.push_back({0.5f, 0.25f, 0});
  Image im = draw_all(dir, "strokes", [&](const std::string& p) { plot_strokes(p, {"two strokes", "a diagonal"}, {a, b}); }, 1400);
  check_not_blank(im, 10);
  // row one: the pen path is a horizontal band; find it, then check ink under each stroke and
  // none over the jump between them (x in data units: stroke 1 covers 1..10, stroke 2 31..40)
  const double scale = (1400 - 2 * 16 - 2 * 3) / 40.0;
  auto px = [&](double x) { return int(16 + 3 + (x - 0) * scale); };
  int band = -1;
  for (int y = 0; y < im.h && band < 0; ++y)
    if (im.at(px(5), y).r < 128) band = y;
  REQUIRE(band >= 0);
  auto inked = [&](int x) { return im.at(x, band).r < 128 || im.at(x, band + 1).r < 128; };
  CHECK(inked(px(5)));
  CHECK(inked(px(35)));
  CHECK_FALSE(inked(px(20)));  // the pen was up
  CHECK_FALSE(inked(px(12)));
  CHECK_THROWS_AS(plot_strokes(dir / "x.png", {"one title"}, {a, b}), std::invalid_argument);
  check_not_blank(draw_all(dir, "nostrokes", [&](const std::string& p) { plot_strokes(p, {}, {}); }, 1400), 1);
}
