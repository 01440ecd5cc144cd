// Figure: the one drawing layer of every picture, a Cairo surface chosen by the output file's
// extension: .png (an anti-aliased raster of w x h pixels), .svg or .pdf (vector, w x h points).
// Text is drawn in DejaVu Sans through Cairo's toy font API. Coordinates are in pixels (points),
// (0, 0) is the top-left corner. finish() writes the file atomically: the bytes go to
// path + ".tmp", which is then renamed over path; a failure throws std::runtime_error naming the
// path and leaves no .tmp behind.
#pragma once
#include <cstdint>
#include <string>

typedef struct _cairo cairo_t;
typedef struct _cairo_surface cairo_surface_t;

namespace ht {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

// Blue (v = -1) through white (v = 0) to red (v = +1); v is clamped to [-1, 1], NaN gives grey.
Rgb diverging_color(double v);
// A perceptual dark-purple -> blue -> green -> yellow ramp (viridis-like, from a few interpolated
// stops) for v in [0, 1], clamped; lightness increases with v. NaN gives grey.
Rgb sequential_color(double v);
// Linear interpolation between two colours, t in [0, 1].
Rgb mix(Rgb a, Rgb b, double t);

// "png", "svg" or "pdf" from the path's extension (case-insensitive); anything else throws
// std::invalid_argument naming the path and the accepted extensions.
std::string figure_format(const std::string& path);

enum class HAlign { Left, Center, Right };
enum class VAlign { Top, Middle, Baseline, Bottom };  // Top / Middle: of the capitals

class Figure {
 public:
  // Throws std::invalid_argument for an unknown extension (figure_format) or a size outside
  // 1..32768; the background is filled with `background`.
  Figure(const std::string& path, int w, int h, Rgb background = {255, 255, 255});
  ~Figure();
  Figure(const Figure&) = delete;
  Figure& operator=(const Figure&) = delete;

  int width() const { return w_; }
  int height() const { return h_; }
  cairo_t* cr() const { return cr_; }  // for paths the helpers below do not cover

  void set_color(Rgb c) const;
  void fill_rect(double x, double y, double w, double h, Rgb c) const;
  // Outline of the rectangle, centred on its edges.
  void stroke_rect(double x, double y, double w, double h, Rgb c, double width = 1) const;
  // A straight line; non-finite coordinates draw nothing.
  void line(double x0, double y0, double x1, double y1, Rgb c, double width = 1) const;
  // A pixel-crisp 1-unit line on integer coordinates (axes, ticks, grid lines).
  void crisp_line(double x0, double y0, double x1, double y1, Rgb c) const;
  // Text at (x, y) aligned as asked; angle in degrees, counter-clockwise (90: reads bottom to top),
  // rotating about (x, y). size is the font size in pixels (points).
  void text(double x, double y, const std::string& s, Rgb c, double size, HAlign h = HAlign::Left,
            VAlign v = VAlign::Top, bool bold = false, double angle = 0) const;
  double text_width(const std::string& s, double size, bool bold = false) const;
  static double cap_height(double size) { return 0.73 * size; }  // DejaVu Sans capitals
  static double descent(double size) { return 0.24 * size; }     // DejaVu Sans descenders

  // A colour ramp filling the rectangle: map(0) at the left (vertical: the bottom), map(1) at the
  // right (top), as one linear gradient (piecewise linear in RGB, like the maps above).
  void ramp_rect(double x, double y, double w, double h, Rgb (*map)(double), bool vertical) const;

  // Restrict drawing to a rectangle until reset_clip().
  void clip(double x, double y, double w, double h) const;
  void reset_clip() const;

  // Writes the file (see the top of this header); the Figure cannot be drawn on afterwards.
  void finish();

 private:
  std::string path_, format_;
  int w_, h_;
  std::string bytes_;  // what a vector surface has written so far
  cairo_surface_t* surface_ = nullptr;
  cairo_t* cr_ = nullptr;
};

}  // namespace ht
