#include "plot/png.h"

#include <png.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace ht {

namespace {

// The 5x7 font, one glyph per printable ASCII character 32..126: seven rows top to bottom (row 6
// is the baseline), five columns left to right, '#' ink and '.' paper. The lower-case letters with
// descenders (g, j, p, q, y) have two more rows below the baseline.
constexpr const char* kFontArt[95] = {
    "..... ..... ..... ..... ..... ..... .....",  // ' '
    "..#.. ..#.. ..#.. ..#.. ..#.. ..... ..#..",  // '!'
    ".#.#. .#.#. .#.#. ..... ..... ..... .....",  // '"'
    ".#.#. .#.#. ##### .#.#. ##### .#.#. .#.#.",  // '#'
    "..#.. .#### #.#.. .###. ..#.# ####. ..#..",  // '$'
    "##... ##..# ...#. ..#.. .#... #..## ...##",  // '%'
    ".##.. #..#. #.#.. .#... #.#.# #..#. .##.#",  // '&'
    "..#.. ..#.. .#... ..... ..... ..... .....",  // "'"
    "...#. ..#.. .#... .#... .#... ..#.. ...#.",  // '('
    ".#... ..#.. ...#. ...#. ...#. ..#.. .#...",  // ')'
    "..... ..#.. #.#.# .###. #.#.# ..#.. .....",  // '*'
    "..... ..#.. ..#.. ##### ..#.. ..#.. .....",  // '+'
    "..... ..... ..... ..... .##.. ..#.. .#...",  // ','
    "..... ..... ..... ##### ..... ..... .....",  // '-'
    "..... ..... ..... ..... ..... .##.. .##..",  // '.'
    "..... ....# ...#. ..#.. .#... #.... .....",  // '/'
    ".###. #...# #..## #.#.# ##..# #...# .###.",  // '0'
    "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",  // '1'
    ".###. #...# ....# ...#. ..#.. .#... #####",  // '2'
    "##### ...#. ..#.. ...#. ....# #...# .###.",  // '3'
    "...#. ..##. .#.#. #..#. ##### ...#. ...#.",  // '4'
    "##### #.... ####. ....# ....# #...# .###.",  // '5'
    "..##. .#... #.... ####. #...# #...# .###.",  // '6'
    "##### ....# ...#. ..#.. .#... .#... .#...",  // '7'
    ".###. #...# #...# .###. #...# #...# .###.",  // '8'
    ".###. #...# #...# .#### ....# ...#. .##..",  // '9'
    "..... .##.. .##.. ..... .##.. .##.. .....",  // ':'
    "..... .##.. .##.. ..... .##.. ..#.. .#...",  // ';'
    "...#. ..#.. .#... #.... .#... ..#.. ...#.",  // '<'
    "..... ..... ##### ..... ##### ..... .....",  // '='
    ".#... ..#.. ...#. ....# ...#. ..#.. .#...",  // '>'
    ".###. #...# ....# ...#. ..#.. ..... ..#..",  // '?'
    ".###. #...# ....# .##.# #.#.# #.#.# .###.",  // '@'
    ".###. #...# #...# ##### #...# #...# #...#",  // 'A'
    "####. #...# #...# ####. #...# #...# ####.",  // 'B'
    ".###. #...# #.... #.... #.... #...# .###.",  // 'C'
    "###.. #..#. #...# #...# #...# #..#. ###..",  // 'D'
    "##### #.... #.... ####. #.... #.... #####",  // 'E'
    "##### #.... #.... ####. #.... #.... #....",  // 'F'
    ".###. #...# #.... #.### #...# #...# .####",  // 'G'
    "#...# #...# #...# ##### #...# #...# #...#",  // 'H'
    ".###. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // 'I'
    "..### ...#. ...#. ...#. ...#. #..#. .##..",  // 'J'
    "#...# #..#. #.#.. ##... #.#.. #..#. #...#",  // 'K'
    "#.... #.... #.... #.... #.... #.... #####",  // 'L'
    "#...# ##.## #.#.# #.#.# #...# #...# #...#",  // 'M'
    "#...# #...# ##..# #.#.# #..## #...# #...#",  // 'N'
    ".###. #...# #...# #...# #...# #...# .###.",  // 'O'
    "####. #...# #...# ####. #.... #.... #....",  // 'P'
    ".###. #...# #...# #...# #.#.# #..#. .##.#",  // 'Q'
    "####. #...# #...# ####. #.#.. #..#. #...#",  // 'R'
    ".#### #.... #.... .###. ....# ....# ####.",  // 'S'
    "##### ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // 'T'
    "#...# #...# #...# #...# #...# #...# .###.",  // 'U'
    "#...# #...# #...# #...# #...# .#.#. ..#..",  // 'V'
    "#...# #...# #...# #.#.# #.#.# #.#.# .#.#.",  // 'W'
    "#...# #...# .#.#. ..#.. .#.#. #...# #...#",  // 'X'
    "#...# #...# .#.#. ..#.. ..#.. ..#.. ..#..",  // 'Y'
    "##### ....# ...#. ..#.. .#... #.... #####",  // 'Z'
    ".###. .#... .#... .#... .#... .#... .###.",  // '['
    "..... #.... .#... ..#.. ...#. ....# .....",  // '\\'
    ".###. ...#. ...#. ...#. ...#. ...#. .###.",  // ']'
    "..#.. .#.#. #...# ..... ..... ..... .....",  // '^'
    "..... ..... ..... ..... ..... ..... #####",  // '_'
    ".#... ..#.. ...#. ..... ..... ..... .....",  // '`'
    "..... ..... .###. ....# .#### #...# .####",  // 'a'
    "#.... #.... #.##. ##..# #...# #...# ####.",  // 'b'
    "..... ..... .###. #.... #.... #...# .###.",  // 'c'
    "....# ....# .##.# #..## #...# #...# .####",  // 'd'
    "..... ..... .###. #...# ##### #.... .###.",  // 'e'
    "..##. .#..# .#... ###.. .#... .#... .#...",  // 'f'
    "..... ..... .#### #...# #...# #...# .#### ....# .###.",  // 'g'
    "#.... #.... #.##. ##..# #...# #...# #...#",  // 'h'
    "..#.. ..... .##.. ..#.. ..#.. ..#.. .###.",  // 'i'
    "...#. ..... ..##. ...#. ...#. ...#. ...#. #..#. .##..",  // 'j'
    "#.... #.... #..#. #.#.. ##... #.#.. #..#.",  // 'k'
    ".##.. ..#.. ..#.. ..#.. ..#.. ..#.. .###.",  // 'l'
    "..... ..... ##.#. #.#.# #.#.# #...# #...#",  // 'm'
    "..... ..... #.##. ##..# #...# #...# #...#",  // 'n'
    "..... ..... .###. #...# #...# #...# .###.",  // 'o'
    "..... ..... ####. #...# #...# #...# ####. #.... #....",  // 'p'
    "..... ..... .#### #...# #...# #...# .#### ....# ....#",  // 'q'
    "..... ..... #.##. ##..# #.... #.... #....",  // 'r'
    "..... ..... .#### #.... .###. ....# ####.",  // 's'
    ".#... .#... ###.. .#... .#... .#..# ..##.",  // 't'
    "..... ..... #...# #...# #...# #..## .##.#",  // 'u'
    "..... ..... #...# #...# #...# .#.#. ..#..",  // 'v'
    "..... ..... #...# #...# #.#.# #.#.# .#.#.",  // 'w'
    "..... ..... #...# .#.#. ..#.. .#.#. #...#",  // 'x'
    "..... ..... #...# #...# #...# #...# .#### ....# .###.",  // 'y'
    "..... ..... ##### ...#. ..#.. .#... #####",  // 'z'
    "...## ..#.. ..#.. .#... ..#.. ..#.. ...##",  // '{'
    "..#.. ..#.. ..#.. ..#.. ..#.. ..#.. ..#..",  // '|'
    "##... ..#.. ..#.. ...#. ..#.. ..#.. ##...",  // '}'
    "..... ..... .#... #.#.# ...#. ..... .....",  // '~'
};

using Glyph = std::array<std::uint8_t, Canvas::kGlyphH>;  // bit 4 = leftmost column; rows 7, 8: descender

constexpr std::array<Glyph, 95> parse_font() {
  std::array<Glyph, 95> out{};
  for (int g = 0; g < 95; ++g) {
    const char* s = kFontArt[g];
    int row = 0, col = 0;
    for (; *s; ++s) {
      if (*s == ' ') {
        if (col != 5) throw "font row must have 5 columns";
        ++row, col = 0;
        continue;
      }
      if (*s != '#' && *s != '.') throw "font art uses only '#' and '.'";
      if (*s == '#') out[g][row] |= std::uint8_t(1u << (4 - col));
      ++col;
    }
    if ((row != 6 && row != 8) || col != 5) throw "font glyph must have 7 or 9 rows";
  }
  return out;
}

constexpr std::array<Glyph, 95> kFont = parse_font();

const Glyph& glyph_of(unsigned char ch) {
  if (ch < 32 || ch > 126) ch = '?';
  return kFont[ch - 32];
}

}  // namespace

Canvas::Canvas(int w, int h, Rgb background) : w_(w), h_(h) {
  if (w <= 0 || h <= 0 || w > 32768 || h > 32768)
    throw std::invalid_argument("canvas size " + std::to_string(w) + "x" + std::to_string(h) + " out of range (1..32768)");
  px_.resize(std::size_t(w) * h * 3);
  for (std::size_t i = 0; i < px_.size(); i += 3) px_[i] = background.r, px_[i + 1] = background.g, px_[i + 2] = background.b;
  reset_clip();
}

Rgb Canvas::get(int x, int y) const {
  if (x < 0 || y < 0 || x >= w_ || y >= h_)
    throw std::out_of_range("pixel (" + std::to_string(x) + ", " + std::to_string(y) + ") outside a " + std::to_string(w_) + "x" + std::to_string(h_) + " canvas");
  const std::uint8_t* p = &px_[(std::size_t(y) * w_ + x) * 3];
  return {p[0], p[1], p[2]};
}

void Canvas::set_clip(int x0, int y0, int x1, int y1) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  cx0_ = std::max(0, x0), cy0_ = std::max(0, y0);
  cx1_ = std::min(w_ - 1, x1), cy1_ = std::min(h_ - 1, y1);
  // an empty intersection leaves cx0_ > cx1_ (or cy0_ > cy1_): nothing is drawn
}

void Canvas::reset_clip() { cx0_ = 0, cy0_ = 0, cx1_ = w_ - 1, cy1_ = h_ - 1; }

void Canvas::set(int x, int y, Rgb c) { put(x, y, c); }

void Canvas::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  x0 = std::max(x0, cx0_), y0 = std::max(y0, cy0_);
  x1 = std::min(x1, cx1_), y1 = std::min(y1, cy1_);
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) put(x, y, c);
}

void Canvas::rect(int x0, int y0, int x1, int y1, Rgb c) {
  if (x0 > x1) std::swap(x0, x1);
  if (y0 > y1) std::swap(y0, y1);
  fill_rect(x0, y0, x1, y0, c);
  fill_rect(x0, y1, x1, y1, c);
  fill_rect(x0, y0, x0, y1, c);
  fill_rect(x1, y0, x1, y1, c);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb c, int thickness) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  if (cx0_ > cx1_ || cy0_ > cy1_) return;
  thickness = std::max(1, thickness);
  // Liang-Barsky clip against the clip rectangle grown by the brush, so that stepping is bounded
  // by the visible length however far away the endpoints are.
  const double pad = thickness + 1.0;
  const double lo_x = cx0_ - pad, hi_x = cx1_ + pad, lo_y = cy0_ - pad, hi_y = cy1_ + pad;
  const double dx = x1 - x0, dy = y1 - y0;
  double t0 = 0.0, t1 = 1.0;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - lo_x, hi_x - x0, y0 - lo_y, hi_y - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0.0) {
      if (q[i] < 0.0) return;  // parallel and outside
      continue;
    }
    double r = q[i] / p[i];
    if (p[i] < 0.0) {
      if (r > t1) return;
      t0 = std::max(t0, r);
    } else {
      if (r < t0) return;
      t1 = std::min(t1, r);
    }
  }
  const double ax = x0 + t0 * dx, ay = y0 + t0 * dy;
  const double bx = x0 + t1 * dx, by = y0 + t1 * dy;
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  auto stamp = [&](int x, int y) {
    for (int oy = lo; oy <= hi; ++oy)
      for (int ox = lo; ox <= hi; ++ox) put(x + ox, y + oy, c);
  };
  const double len = std::max(std::abs(bx - ax), std::abs(by - ay));
  const long n = long(std::ceil(len));
  if (n == 0) {
    stamp(int(std::lround(ax)), int(std::lround(ay)));
    return;
  }
  for (long i = 0; i <= n; ++i) {
    double t = double(i) / double(n);
    stamp(int(std::lround(ax + (bx - ax) * t)), int(std::lround(ay + (by - ay) * t)));
  }
}

void Canvas::glyph(int x, int y, unsigned char ch, Rgb c, int scale, bool vertical, int box_h) {
  // Horizontal: the glyph cell's top-left is (x, y). Vertical: x is the glyph's advance position
  // in the unrotated text, y the rotated box's left edge and box_h its bottom edge + 1.
  const Glyph& g = glyph_of(ch);
  for (int row = 0; row < kGlyphH; ++row)
    for (int col = 0; col < kGlyphW; ++col) {
      if (!(g[row] >> (4 - col) & 1)) continue;
      for (int sy = 0; sy < scale; ++sy)
        for (int sx = 0; sx < scale; ++sx) {
          int u = col * scale + sx, v = row * scale + sy;  // offsets in the unrotated glyph
          if (!vertical)
            put(x + u, y + v, c);
          else
            put(y + v, box_h - 1 - (x + u), c);  // rotate counter-clockwise: y is the box's left
        }
    }
}

void Canvas::text(int x, int y, const std::string& s, Rgb c, int scale) {
  scale = std::max(1, scale);
  int cx = x, cy = y;
  for (unsigned char ch : s) {
    if (ch == '\n') {
      cx = x, cy += kLineHeight * scale;
      continue;
    }
    glyph(cx, cy, ch, c, scale, false, 0);
    cx += kAdvance * scale;
  }
}

void Canvas::text_vertical(int x, int y, const std::string& s, Rgb c, int scale) {
  scale = std::max(1, scale);
  const int W = text_width(s, scale);
  // In the unrotated frame the text runs along u in [0, W); the rotated pixel is
  // (x + v, y + W - 1 - u). glyph() computes (Y + v, box_h - 1 - (X + u)), so pass X = advance
  // position, Y = x, and box_h = y + W.
  int u = 0;
  for (unsigned char ch : s) {
    if (ch == '\n') continue;
    glyph(u, x, ch, c, scale, true, y + W);
    u += kAdvance * scale;
  }
}

int Canvas::text_width(const std::string& s, int scale) const {
  scale = std::max(1, scale);
  std::size_t best = 0, cur = 0;
  for (char ch : s) {
    if (ch == '\n') {
      best = std::max(best, cur), cur = 0;
      continue;
    }
    ++cur;
  }
  best = std::max(best, cur);
  if (best == 0) return 0;
  return int(best) * kAdvance * scale - (kAdvance - kGlyphW) * scale;
}

int Canvas::text_height(const std::string& s, int scale) const {
  scale = std::max(1, scale);
  if (s.empty()) return 0;
  int lines = 1 + int(std::count(s.begin(), s.end(), '\n'));
  return (lines - 1) * kLineHeight * scale + kGlyphH * scale;
}

void Canvas::write_png(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = png_uint_32(w_);
  img.height = png_uint_32(h_);
  img.format = PNG_FORMAT_RGB;
  int ok = png_image_write_to_file(&img, tmp.c_str(), 0, px_.data(), png_int_32(w_ * 3), nullptr);
  const bool failed = !ok || PNG_IMAGE_FAILED(img);
  const std::string msg = img.message;
  png_image_free(&img);
  if (failed) {
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write PNG " + path + ": " + (msg.empty() ? "libpng failed" : msg));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot write PNG " + path + ": rename from " + tmp + " failed: " + std::strerror(e));
  }
}

}  // namespace ht
