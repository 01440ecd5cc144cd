#include "plot/figure.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "train/run_files.h"

namespace ht {

namespace {

std::uint8_t lerp8(std::uint8_t a, std::uint8_t b, double t) { return std::uint8_t(std::lround(a + (double(b) - a) * t)); }

Rgb ramp(const Rgb* stops, int n, double v) {  // v in [0, 1] over n evenly spaced stops
  double p = v * (n - 1);
  int i = std::min(n - 2, std::max(0, int(std::floor(p))));
  return mix(stops[i], stops[i + 1], p - i);
}

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  static_cast<std::string*>(closure)->append(reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// Cairo refuses text that is not UTF-8 (and then draws nothing more): invalid bytes become '?'.
std::string valid_utf8(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size() && (c >= 0x20 || c == '\t') && c != 0x7f;
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (ok) {
      out.append(s, i, n);
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

}  // namespace

Rgb mix(Rgb a, Rgb b, double t) {
  t = std::clamp(t, 0.0, 1.0);
  return {lerp8(a.r, b.r, t), lerp8(a.g, b.g, t), lerp8(a.b, b.b, t)};
}

Rgb diverging_color(double v) {
  if (std::isnan(v)) return {160, 160, 160};
  v = std::clamp(v, -1.0, 1.0);
  // deep blue, light blue, white, light red, deep red
  static constexpr Rgb stops[5] = {{30, 80, 165}, {140, 190, 225}, {255, 255, 255}, {240, 160, 125}, {180, 25, 40}};
  return ramp(stops, 5, (v + 1.0) / 2.0);
}

Rgb sequential_color(double v) {
  if (std::isnan(v)) return {160, 160, 160};
  v = std::clamp(v, 0.0, 1.0);
  // dark purple, blue, teal, green, yellow
  static constexpr Rgb stops[5] = {{68, 2, 85}, {58, 82, 140}, {32, 145, 140}, {94, 200, 98}, {252, 230, 36}};
  return ramp(stops, 5, v);
}

std::string figure_format(const std::string& path) {
  const auto dot = path.find_last_of('.');
  std::string ext = dot == std::string::npos || path.find('/', dot) != std::string::npos ? "" : path.substr(dot + 1);
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  if (ext == "png" || ext == "svg" || ext == "pdf") return ext;
  throw std::invalid_argument("cannot draw a picture to " + path + ": the file name must end in .png, .svg or .pdf");
}

Figure::Figure(const std::string& path, int w, int h, Rgb background) : path_(path), format_(figure_format(path)), w_(w), h_(h) {
  if (w <= 0 || h <= 0 || w > 32768 || h > 32768)
    throw std::invalid_argument("picture size " + std::to_string(w) + "x" + std::to_string(h) + " for " + path +
                                " out of range (1..32768)");
  if (format_ == "png")
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  else if (format_ == "svg")
    surface_ = cairo_svg_surface_create_for_stream(append_bytes, &bytes_, w, h);
  else
    surface_ = cairo_pdf_surface_create_for_stream(append_bytes, &bytes_, w, h);
  cr_ = cairo_create(surface_);
  if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
    const std::string msg = cairo_status_to_string(cairo_status(cr_));
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
    throw std::runtime_error("cannot draw " + path + ": " + msg);
  }
  cairo_select_font_face(cr_, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_line_cap(cr_, CAIRO_LINE_CAP_BUTT);
  cairo_set_line_join(cr_, CAIRO_LINE_JOIN_ROUND);
  fill_rect(0, 0, w, h, background);
}

Figure::~Figure() {
  if (cr_) cairo_destroy(cr_);
  if (surface_) cairo_surface_destroy(surface_);
}

void Figure::set_color(Rgb c) const { cairo_set_source_rgb(cr_, c.r / 255.0, c.g / 255.0, c.b / 255.0); }

void Figure::fill_rect(double x, double y, double w, double h, Rgb c) const {
  set_color(c);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_fill(cr_);
}

void Figure::stroke_rect(double x, double y, double w, double h, Rgb c, double width) const {
  set_color(c);
  cairo_set_line_width(cr_, width);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_stroke(cr_);
}

void Figure::line(double x0, double y0, double x1, double y1, Rgb c, double width) const {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  set_color(c);
  cairo_set_line_width(cr_, width);
  cairo_move_to(cr_, x0, y0);
  cairo_line_to(cr_, x1, y1);
  cairo_stroke(cr_);
}

void Figure::crisp_line(double x0, double y0, double x1, double y1, Rgb c) const {
  auto snap = [](double v) { return std::floor(v) + 0.5; };
  if (x0 == x1) x0 = x1 = snap(x0);
  if (y0 == y1) y0 = y1 = snap(y0);
  line(x0, y0, x1, y1, c, 1.0);
}

// Selects DejaVu Sans at `size` (bold or not) on cr and returns the extents of utf8 in it.
static cairo_text_extents_t use_font(cairo_t* cr, const std::string& utf8, double size, bool bold) {
  cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_text_extents_t e;
  cairo_text_extents(cr, utf8.c_str(), &e);
  return e;
}

void Figure::text(double x, double y, const std::string& s, Rgb c, double size, HAlign h, VAlign v, bool bold, double angle) const {
  if (s.empty()) return;
  const std::string u = valid_utf8(s);
  cairo_save(cr_);
  const cairo_text_extents_t e = use_font(cr_, u, size, bold);
  cairo_translate(cr_, x, y);
  if (angle != 0) cairo_rotate(cr_, -angle * M_PI / 180.0);
  const double dx = h == HAlign::Left ? 0 : h == HAlign::Center ? -e.x_advance / 2 : -e.x_advance;
  const double dy = v == VAlign::Top      ? cap_height(size)
                    : v == VAlign::Middle ? cap_height(size) / 2
                    : v == VAlign::Bottom ? -descent(size)
                                          : 0.0;
  set_color(c);
  cairo_move_to(cr_, dx, dy);
  cairo_show_text(cr_, u.c_str());
  cairo_restore(cr_);
}

double Figure::text_width(const std::string& s, double size, bool bold) const {
  if (s.empty()) return 0;
  const std::string u = valid_utf8(s);
  cairo_save(cr_);
  const cairo_text_extents_t e = use_font(cr_, u, size, bold);
  cairo_restore(cr_);
  return e.x_advance;
}

void Figure::ramp_rect(double x, double y, double w, double h, Rgb (*map)(double), bool vertical) const {
  cairo_pattern_t* g = vertical ? cairo_pattern_create_linear(0, y + h, 0, y) : cairo_pattern_create_linear(x, 0, x + w, 0);
  for (int i = 0; i <= 16; ++i) {
    const Rgb c = map(i / 16.0);
    cairo_pattern_add_color_stop_rgb(g, i / 16.0, c.r / 255.0, c.g / 255.0, c.b / 255.0);
  }
  cairo_set_source(cr_, g);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_fill(cr_);
  cairo_pattern_destroy(g);
}

void Figure::clip(double x, double y, double w, double h) const {
  cairo_reset_clip(cr_);
  cairo_rectangle(cr_, x, y, w, h);
  cairo_clip(cr_);
}

void Figure::reset_clip() const { cairo_reset_clip(cr_); }

void Figure::finish() {
  if (!cr_) throw std::logic_error("Figure::finish called twice for " + path_);
  cairo_status_t st = cairo_status(cr_);
  cairo_destroy(cr_);
  cr_ = nullptr;
  cairo_surface_flush(surface_);
  if (st == CAIRO_STATUS_SUCCESS && format_ == "png") st = cairo_surface_write_to_png_stream(surface_, append_bytes, &bytes_);
  cairo_surface_finish(surface_);  // a vector surface writes its last bytes here
  if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surface_);
  cairo_surface_destroy(surface_);
  surface_ = nullptr;
  if (st != CAIRO_STATUS_SUCCESS)
    throw std::runtime_error("cannot draw " + path_ + ": cairo: " + cairo_status_to_string(st));
  write_text_atomic(path_, bytes_);
}

}  // namespace ht
