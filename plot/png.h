// Canvas: a small RGB raster with pixel, rectangle, line and bitmap-text drawing, written out as PNG
// through libpng. The font is a built-in 5x7 bitmap (with descenders) covering printable ASCII (32..126); any other
// byte is drawn as '?'. Coordinates are integer pixel centres, (0, 0) is the top-left corner, and
// every drawing call clips silently to the canvas (and to the clip rectangle, when one is set).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plot/figure.h"  // Rgb and the colour maps

namespace ht {

class Canvas {
 public:
  // One glyph cell at scale 1: 5 columns, 7 rows down to the baseline plus 2 descender rows.
  static constexpr int kGlyphW = 5, kGlyphH = 9;
  static constexpr int kCapH = 7;        // rows above and on the baseline (capital height)
  static constexpr int kAdvance = 6;     // horizontal advance per character at scale 1
  static constexpr int kLineHeight = 11; // vertical advance per text line at scale 1

  // Throws std::invalid_argument unless 0 < w, h <= 32768.
  Canvas(int w, int h, Rgb background);

  int width() const { return w_; }
  int height() const { return h_; }
  Rgb get(int x, int y) const;  // throws std::out_of_range outside the canvas
  const std::vector<std::uint8_t>& rgb() const { return px_; }  // row-major, 3 bytes per pixel

  // Restrict drawing to the rectangle with corners (x0, y0) and (x1, y1), both included.
  void set_clip(int x0, int y0, int x1, int y1);
  void reset_clip();

  void set(int x, int y, Rgb c);
  // Filled rectangle with corners (x0, y0) and (x1, y1), both included (in any order).
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);
  // Rectangle outline of the same extent, 1 px wide.
  void rect(int x0, int y0, int x1, int y1, Rgb c);
  // Straight line between two points (pixel centres), `thickness` pixels wide (a square brush).
  // Non-finite coordinates draw nothing; far-away endpoints are clipped before stepping.
  void line(double x0, double y0, double x1, double y1, Rgb c, int thickness = 1);

  // Text with its top-left corner at (x, y); each glyph pixel becomes a scale x scale block.
  // '\n' starts a new line below. Returns nothing; use text_width / text_height for layout.
  void text(int x, int y, const std::string& s, Rgb c, int scale = 1);
  // The same text rotated 90 degrees counter-clockwise (reads bottom to top), with the top-left
  // corner of its bounding box (text_height wide, text_width tall) at (x, y). Single line only.
  void text_vertical(int x, int y, const std::string& s, Rgb c, int scale = 1);
  // Width in pixels of the widest line of s (0 for an empty string).
  int text_width(const std::string& s, int scale = 1) const;
  // Height in pixels of s (kGlyphH * scale for one line, 0 for an empty string).
  int text_height(const std::string& s, int scale = 1) const;

  // Writes an 8-bit RGB PNG atomically: to path + ".tmp", then renamed over path. Errors throw
  // std::runtime_error naming the path; no ".tmp" file is left behind on failure.
  void write_png(const std::string& path) const;

 private:
  void put(int x, int y, Rgb c) {
    if (x < cx0_ || y < cy0_ || x > cx1_ || y > cy1_) return;
    std::uint8_t* p = &px_[(std::size_t(y) * w_ + x) * 3];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  void glyph(int x, int y, unsigned char ch, Rgb c, int scale, bool vertical, int box_h);

  int w_, h_;
  int cx0_, cy0_, cx1_, cy1_;  // clip rectangle, inclusive, always inside the canvas
  std::vector<std::uint8_t> px_;
};

}  // namespace ht
