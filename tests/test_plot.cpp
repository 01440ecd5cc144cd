#include <doctest/doctest.h>
#include <png.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <stdexcept>

#include "plot/plot.h"
#include "plot/png.h"
#include "engine/tensor.h"

using namespace ht;

namespace {

struct Image {
  int w = 0, h = 0;
  std::vector<std::uint8_t> px;  // RGB
  Rgb at(int x, int y) const {
    const std::uint8_t* p = &px[(std::size_t(y) * w + x) * 3];
    return {p[0], p[1], p[2]};
  }
  std::size_t distinct_colours() const {
    std::set<std::uint32_t> s;
    for (std::size_t i = 0; i < px.size(); i += 3) s.insert(std::uint32_t(px[i]) << 16 | px[i + 1] << 8 | px[i + 2]);
    return s.size();
  }
  bool contains(Rgb c) const {
    for (std::size_t i = 0; i < px.size(); i += 3)
      if (px[i] == c.r && px[i + 1] == c.g && px[i + 2] == c.b) return true;
    return false;
  }
};

// Reads a PNG back through libpng's simplified API as 8-bit RGB.
Image read_png(const std::string& path) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path.c_str())) throw std::runtime_error("cannot read " + path + ": " + img.message);
  img.format = PNG_FORMAT_RGB;
  Image out;
  out.w = int(img.width), out.h = int(img.height);
  out.px.resize(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, out.px.data(), 0, nullptr)) {
    std::string msg = img.message;
    png_image_free(&img);
    throw std::runtime_error("cannot decode " + path + ": " + msg);
  }
  return out;
}

std::string tmp_path(const std::string& name) {
  return "/tmp/ht_test_plot_" + std::to_string(::getpid()) + "_" + name + ".png";
}

bool same(Rgb a, Rgb b) { return a.r == b.r && a.g == b.g && a.b == b.b; }

// A few-colour check that an image is a real plot, not a blank or near-blank canvas.
void check_not_blank(const Image& im, std::size_t min_colours = 4) {
  CHECK(im.distinct_colours() >= min_colours);
}

Tensor conv_weight(i64 o, i64 c, i64 kh, i64 kw, double phase) {
  Tensor t = Tensor::empty({o, c, kh, kw}, DType::F32);
  float* p = t.data<float>();
  for (i64 i = 0; i < t.numel(); ++i) p[i] = float(std::sin(0.37 * double(i) + phase) * 0.05);
  return t;
}

}  // namespace

TEST_CASE("canvas: background, set, fill_rect and clipping") {
  Canvas cv(40, 30, {10, 20, 30});
  CHECK(cv.width() == 40);
  CHECK(cv.height() == 30);
  CHECK(same(cv.get(39, 29), {10, 20, 30}));
  cv.set(3, 4, {255, 0, 0});
  CHECK(same(cv.get(3, 4), {255, 0, 0}));
  cv.set(-1, 5, {1, 1, 1});  // outside: ignored
  cv.set(40, 5, {1, 1, 1});
  cv.fill_rect(12, 10, 10, 12, {0, 255, 0});  // corners in any order, both included
  CHECK(same(cv.get(10, 10), {0, 255, 0}));
  CHECK(same(cv.get(12, 12), {0, 255, 0}));
  CHECK(same(cv.get(13, 12), {10, 20, 30}));
  cv.fill_rect(-100, -100, 1000, 0, {0, 0, 255});  // clipped to the canvas
  CHECK(same(cv.get(39, 0), {0, 0, 255}));
  cv.set_clip(20, 20, 25, 25);
  cv.fill_rect(0, 0, 39, 29, {7, 7, 7});
  cv.reset_clip();
  CHECK(same(cv.get(20, 20), {7, 7, 7}));
  CHECK(same(cv.get(19, 20), {10, 20, 30}));
  CHECK_THROWS_AS(cv.get(40, 0), std::out_of_range);
  CHECK_THROWS_AS(Canvas(0, 10, {0, 0, 0}), std::invalid_argument);
}

TEST_CASE("canvas: line() colours the pixels on the line, in memory and in the written file") {
  const Rgb bg{255, 255, 255}, red{200, 10, 20};
  Canvas cv(100, 80, bg);
  cv.line(10, 20, 90, 20, red);  // horizontal
  cv.line(0, 0, 60, 60, red);    // diagonal
  cv.line(70, 10, 70, 70, red, 3);
  CHECK(same(cv.get(50, 20), red));
  CHECK(same(cv.get(10, 20), red));
  CHECK(same(cv.get(90, 20), red));
  CHECK(same(cv.get(91, 20), bg));
  CHECK(same(cv.get(50, 21), bg));
  CHECK(same(cv.get(37, 37), red));
  CHECK(same(cv.get(69, 40), red));  // thickness 3 covers x = 69..71
  CHECK(same(cv.get(71, 40), red));
  CHECK(same(cv.get(72, 40), bg));
  // far-away and non-finite endpoints: clipped, no hang, no crash
  cv.line(-1e12, 5, 1e12, 5, red);
  CHECK(same(cv.get(0, 5), red));
  CHECK(same(cv.get(99, 5), red));
  cv.line(NAN, 0, 10, 10, {0, 0, 0});
  cv.line(0, 0, INFINITY, 10, {0, 0, 0});

  const std::string path = tmp_path("line");
  cv.write_png(path);
  Image im = read_png(path);
  REQUIRE(im.w == 100);
  REQUIRE(im.h == 80);
  CHECK(same(im.at(50, 20), red));
  CHECK(same(im.at(37, 37), red));
  CHECK(same(im.at(50, 21), bg));
  std::filesystem::remove(path);
}

TEST_CASE("canvas: text draws pixels and text_width grows with the string") {
  const Rgb bg{255, 255, 255};
  Canvas cv(200, 40, bg);
  const std::vector<std::uint8_t> before = cv.rgb();
  cv.text(5, 5, "Hello, 42!", {0, 0, 0});
  CHECK(cv.rgb() != before);
  std::size_t inked = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 200; ++x) inked += !same(cv.get(x, y), bg);
  CHECK(inked > 40);
  // nothing drawn beyond the text's box
  const int w = cv.text_width("Hello, 42!"), h = cv.text_height("Hello, 42!");
  std::size_t outside = 0;
  for (int y = 0; y < 40; ++y)
    for (int x = 0; x < 200; ++x)
      if (x < 5 || y < 5 || x >= 5 + w || y >= 5 + h) outside += !same(cv.get(x, y), bg);
  CHECK(outside == 0);

  CHECK(cv.text_width("") == 0);
  CHECK(cv.text_width("a") == Canvas::kGlyphW);
  CHECK(cv.text_width("ab") > cv.text_width("a"));
  CHECK(cv.text_width("abc") > cv.text_width("ab"));
  CHECK(cv.text_width("abc", 2) == 2 * cv.text_width("abc"));
  CHECK(cv.text_width("abcd\nab") == cv.text_width("abcd"));
  CHECK(cv.text_height("a\nb") > cv.text_height("a"));

  Canvas v(40, 200, bg);
  v.text_vertical(5, 5, "vertical", {0, 0, 0}, 2);
  // rotated: the box is text_height wide and text_width tall
  std::size_t vinked = 0, vout = 0;
  const int vw = v.text_height("vertical", 2), vh = v.text_width("vertical", 2);
  for (int y = 0; y < 200; ++y)
    for (int x = 0; x < 40; ++x) {
      bool ink = !same(v.get(x, y), bg);
      vinked += ink;
      vout += ink && (x < 5 || y < 5 || x >= 5 + vw || y >= 5 + vh);
    }
  CHECK(vinked > 40);
  CHECK(vout == 0);
}

TEST_CASE("font: every printable character has its own glyph; space is blank") {
  auto render = [](char ch) {
    Canvas cv(Canvas::kGlyphW, Canvas::kGlyphH, {255, 255, 255});
    cv.text(0, 0, std::string(1, ch), {0, 0, 0});
    return cv.rgb();
  };
  const std::vector<std::uint8_t> blank = Canvas(Canvas::kGlyphW, Canvas::kGlyphH, {255, 255, 255}).rgb();
  CHECK(render(' ') == blank);
  std::set<std::vector<std::uint8_t>> seen;
  for (int ch = 33; ch <= 126; ++ch) {
    auto g = render(char(ch));
    INFO("character " << char(ch));
    CHECK(g != blank);
    CHECK(seen.insert(g).second);
  }
  CHECK(render('\x01') == render('?'));  // non-printable bytes fall back to '?'
}

TEST_CASE("colour maps") {
  CHECK(same(diverging_color(0.0), {255, 255, 255}));
  Rgb neg = diverging_color(-1.0), pos = diverging_color(1.0);
  CHECK(neg.b > neg.r + 60);
  CHECK(neg.b > neg.g);
  CHECK(pos.r > pos.b + 60);
  CHECK(pos.r > pos.g);
  CHECK(same(diverging_color(-7.0), neg));  // clamped
  CHECK(same(diverging_color(3.0), pos));
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
  CHECK(same(sequential_color(-1.0), sequential_color(0.0)));
  CHECK(same(sequential_color(2.0), sequential_color(1.0)));
  CHECK(series_color(0) != series_color(1));
  CHECK(series_color(10) == series_color(0));
}

TEST_CASE("write_png: atomic, and failures name the path") {
  Canvas cv(8, 8, {1, 2, 3});
  const std::string path = tmp_path("atomic");
  cv.write_png(path);
  CHECK(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  Image im = read_png(path);
  CHECK(im.w == 8);
  CHECK(same(im.at(7, 7), {1, 2, 3}));
  cv.set(0, 0, {9, 9, 9});
  cv.write_png(path);  // overwrite
  CHECK(same(read_png(path).at(0, 0), {9, 9, 9}));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove(path);

  const std::string bad = "/tmp/ht_test_plot_no_such_dir_" + std::to_string(::getpid()) + "/x/out.png";
  CHECK_THROWS_WITH_AS(cv.write_png(bad), doctest::Contains(bad.c_str()), std::runtime_error);
  CHECK_FALSE(std::filesystem::exists(bad + ".tmp"));
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

TEST_CASE("plot_lines: a chart with axes, legend and the series colours") {
  std::vector<Series> s(3);
  s[0].label = "hypernetwork";
  s[1].label = "baseline";
  s[2].label = "with gaps";
  for (int i = 0; i <= 200; ++i) {
    s[0].x.push_back(i * 50.0), s[0].y.push_back(2.5 * std::exp(-i / 40.0) + 0.1);
    s[1].x.push_back(i * 50.0), s[1].y.push_back(2.4 * std::exp(-i / 60.0) + 0.15);
    s[2].x.push_back(i * 50.0), s[2].y.push_back(i % 37 == 5 ? NAN : 1.2 + 0.3 * std::sin(i / 9.0));
  }
  const std::string path = tmp_path("lines");
  plot_lines(path, "Training loss", "step", "loss (nats)", s);
  Image im = read_png(path);
  CHECK(im.w == 900);
  CHECK(im.h == 560);
  check_not_blank(im, 6);
  CHECK(im.contains(series_color(0)));
  CHECK(im.contains(series_color(1)));
  CHECK(im.contains(series_color(2)));
  CHECK(same(im.at(0, 0), {255, 255, 255}));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));

  const std::string logp = tmp_path("lines_log");
  s[1].y[3] = -1.0;  // not drawable on a log axis: skipped
  s[1].y[4] = 0.0;
  plot_lines(logp, "Training loss (log)", "step", "loss", s, true);
  Image lim = read_png(logp);
  CHECK(lim.w == 900);
  check_not_blank(lim, 6);
  CHECK(lim.contains(series_color(1)));
  std::filesystem::remove(path);
  std::filesystem::remove(logp);
}

TEST_CASE("plot_lines: degenerate inputs do not crash") {
  const std::string path = tmp_path("degenerate");
  plot_lines(path, "nothing", "x", "y", {});
  check_not_blank(read_png(path), 2);
  plot_lines(path, "empty series", "x", "y", {Series{"empty", {}, {}}});
  check_not_blank(read_png(path), 2);
  plot_lines(path, "one point", "x", "y", {Series{"one", {3.0}, {7.0}}});
  Image one = read_png(path);
  CHECK(one.contains(series_color(0)));  // drawn as a marker
  plot_lines(path, "one point, log", "x", "y", {Series{"one", {3.0}, {7.0}}}, true);
  CHECK(read_png(path).contains(series_color(0)));
  plot_lines(path, "all NaN", "x", "y", {Series{"nan", {1, 2}, {NAN, INFINITY}}}, true);
  check_not_blank(read_png(path), 2);
  plot_lines(path, "constant, y only", "", "", {Series{"", {}, {5, 5, 5, 5}}});
  CHECK(read_png(path).contains(series_color(0)));
  plot_lines(path, "tiny values", "x", "y", {Series{"t", {0, 1, 2}, {1e-7, 3e-7, 2e-7}}});
  CHECK(read_png(path).contains(series_color(0)));
  plot_lines(path, "huge range", "x", "y", {Series{"h", {0, 1, 2}, {1e-6, 1, 1e6}}}, true);
  CHECK(read_png(path).contains(series_color(0)));
  plot_lines(path, "mismatched lengths", "x", "y", {Series{"m", {0, 1, 2, 3}, {1, 2}}});
  CHECK(read_png(path).contains(series_color(0)));
  std::filesystem::remove(path);
}

TEST_CASE("plot_learning_curves: two panels in one image") {
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
  const std::string path = tmp_path("curves");
  plot_learning_curves(path, "MNIST: hyper vs baseline", loss, "training loss", err, "validation error");
  Image im = read_png(path);
  CHECK(im.w == 1400);
  CHECK(im.h == 580);
  check_not_blank(im, 6);
  // each half holds both series colours
  auto half_has = [&](int x0, int x1, Rgb c) {
    for (int y = 0; y < im.h; ++y)
      for (int x = x0; x < x1; ++x)
        if (same(im.at(x, y), c)) return true;
    return false;
  };
  CHECK(half_has(0, 700, series_color(0)));
  CHECK(half_has(700, 1400, series_color(0)));
  CHECK(half_has(0, 700, series_color(1)));
  CHECK(half_has(700, 1400, series_color(1)));
  plot_learning_curves(path, "", {}, "loss", {}, "error", "step", true, false);
  check_not_blank(read_png(path), 2);
  std::filesystem::remove(path);
}

TEST_CASE("plot_kernel_grids: Figure 2 layout with a per-panel diverging colour map") {
  Tensor normal = conv_weight(16, 4, 7, 7, 0.0);
  Tensor hyper = conv_weight(16, 4, 7, 7, 1.0);
  // the extremes of each panel map to the ends of the colour map
  normal.data<float>()[0] = 0.2f;
  normal.data<float>()[1] = -0.2f;
  const std::string path = tmp_path("kernels");
  plot_kernel_grids(path, "Figure 2: conv kernels", {{"normal", normal}, {"hyper-generated", hyper}});
  Image im = read_png(path);
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
      if (same(im.at(x, y), diverging_color(1.0))) {
        fx = x, fy = y;
        break;
      }
  REQUIRE(fx >= 0);
  bool block = true;
  for (int dy = 0; dy < 6; ++dy)
    for (int dx = 0; dx < 6; ++dx) block = block && same(im.at(fx + dx, fy + dy), diverging_color(1.0));
  CHECK(block);
  CHECK(same(im.at(fx + 6, fy), diverging_color(-1.0)));  // weight [0,0,0,1] is the minimum
  CHECK_FALSE(same(im.at(fx - 1, fy), diverging_color(1.0)));  // the 1-px gap

  // fewer kernels than max, other ranks, zeros, NaN, an empty panel
  Tensor small = conv_weight(3, 1, 3, 3, 0.5);
  small.data<float>()[4] = NAN;
  plot_kernel_grids(path, "odd", {{"3 kernels", small},
                                  {"2-D", Tensor::full({5, 5}, 0.0, DType::F64)},
                                  {"empty", Tensor()}},
                    64);
  Image odd = read_png(path);
  check_not_blank(odd, 4);
  CHECK(odd.contains({0, 0, 0}));  // the NaN weight
  // more kernels than max_kernels: only the first 64 are drawn, the panel keeps its grid size
  plot_kernel_grids(path, "many", {{"64 of 192", conv_weight(64, 3, 7, 7, 0.0)}});
  Image many = read_png(path);
  CHECK(many.w < 2 * grid);
  CHECK(many.h >= grid);
  plot_kernel_grids(path, "all", {{"192", conv_weight(64, 3, 7, 7, 0.0)}}, 0);
  Image all = read_png(path);
  CHECK(all.w > many.w);
  plot_kernel_grids(path, "none", {});
  check_not_blank(read_png(path), 2);
  std::filesystem::remove(path);
}

TEST_CASE("plot_heatmap: sequential colours, column labels, bad shapes") {
  const i64 rows = 16, cols = 40;
  Tensor v = Tensor::empty({rows, cols}, DType::F32);
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) v.data<float>()[r * cols + c] = float(std::sin(r * 0.4) * std::cos(c * 0.3) + r * 0.05);
  const std::string text = "the quick brown fox jumps over a lazy dog";
  std::vector<std::string> labels;
  for (i64 c = 0; c < cols; ++c) labels.push_back(std::string(1, text[c]));
  const std::string path = tmp_path("heatmap");
  plot_heatmap(path, "scaling vectors over characters", v, labels, "unit");
  Image im = read_png(path);
  CHECK(im.w > 400);
  CHECK(im.h > 200);
  check_not_blank(im, 30);
  CHECK(im.contains(sequential_color(0.0)));
  CHECK(im.contains(sequential_color(1.0)));

  plot_heatmap(path, "no labels", v, {}, "");
  check_not_blank(read_png(path), 30);
  plot_heatmap(path, "long labels", v.rows(0, 4).view({4, 40}),
               std::vector<std::string>(40, "label"), "row");
  check_not_blank(read_png(path), 10);
  plot_heatmap(path, "one row", Tensor::full({5}, 1.0, DType::F64), {}, "r");  // constant: no crash
  check_not_blank(read_png(path), 3);
  plot_heatmap(path, "empty", Tensor::zeros({0, 3}), {}, "r");
  check_not_blank(read_png(path), 2);
  CHECK_THROWS_AS(plot_heatmap(path, "3-D", Tensor::zeros({2, 2, 2}), {}, ""), std::invalid_argument);
  CHECK_THROWS_AS(plot_heatmap(path, "labels", v, {"a", "b"}, ""), std::invalid_argument);
  std::filesystem::remove(path);
}
