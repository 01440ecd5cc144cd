// Pictures: line charts (learning curves), grids of convolution kernels (the paper's Figure 2),
// heat maps, the hyper cell's scaling vectors and handwriting strokes, drawn with Cairo through
// plot/figure.h. The output file's extension picks the format: .png (sizes below in pixels),
// .svg or .pdf (the same sizes in points); any other throws std::invalid_argument naming the path.
// Every function writes its file atomically (path + ".tmp", then a rename) and throws
// std::runtime_error naming the path when the file cannot be written.
#pragma once
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"
#include "plot/figure.h"

namespace ht {

// One line of a chart. If x is empty, y is plotted against 0, 1, 2, ...; otherwise the first
// min(x.size(), y.size()) pairs are used. Points with a non-finite coordinate (or y <= 0 on a log
// axis) are skipped and break the line; a point with no drawable neighbour is drawn as a marker.
struct Series {
  std::string label;
  std::vector<double> x, y;
};

// A line chart, 900x560: nice (1-2-5) ticks, grid, title and axis labels, and a legend under the
// plot area, outside it so it never covers data (series with an empty label are left out of it).
// Empty input gives an empty frame saying "no data".
void plot_lines(const std::string& path, const std::string& title, const std::string& xlabel,
                const std::string& ylabel, const std::vector<Series>& series, bool log_y = false);

// Two charts side by side in one 1400x580 picture, e.g. training loss (left) and validation error
// (right) against the step; left_label / right_label are the panels' y-axis labels.
void plot_learning_curves(const std::string& path, const std::string& title, const std::vector<Series>& left,
                          const std::string& left_label, const std::vector<Series>& right,
                          const std::string& right_label, const std::string& xlabel = "step",
                          bool left_log_y = false, bool right_log_y = false, const std::string& right_xlabel = "");

// Figure 2 of the paper: each panel is a conv weight [O, C, kh, kw] ([O, kh, kw] and [kh, kw] are
// accepted too). The first max_kernels 2-D kernels (o-major, then c; max_kernels <= 0 means all)
// are drawn in a near-square grid, each weight a square block (6 px for a 7x7 kernel; smaller
// only when the grid would exceed 4000 px), with a 1-px grey gap between kernels, in a
// blue-white-red colour map normalised per panel by the largest |weight| drawn (non-finite
// weights are black). Each panel has its caption above and a colour bar with that maximum and
// "n of N kernels" below; panels sit side by side.
void plot_kernel_grids(const std::string& path, const std::string& title,
                       const std::vector<std::pair<std::string, Tensor>>& panels, int max_kernels = 64);

// A heat map of values [rows, cols] ([n] is one row) in a sequential colour map spanning the
// finite minimum to maximum (non-finite cells are grey), with a colour bar. col_labels, when not
// empty, must hold one label per column and is drawn under the columns (vertically when wider
// than a cell); otherwise column indices are drawn. row_label names the vertical axis.
// Throws std::invalid_argument for a tensor of more than two dims or a label count mismatch.
void plot_heatmap(const std::string& path, const std::string& title, const Tensor& values,
                  const std::vector<std::string>& col_labels, const std::string& row_label);

// One panel of plot_scaling: a heat map (rows x columns, row-major) or line charts over the same
// columns.
struct ScalingPanel {
  std::string caption, ylabel;
  bool heat = true;
  int rows = 0;                // heat: rows of v
  std::vector<double> v;       // heat: [rows, chars.size()]
  std::vector<Series> series;  // lines: y per column (x is ignored; non-finite breaks the line)
};

// The hyper cell's scaling vectors while it reads a text (paper §4.4): panels stacked vertically
// over shared columns, one character of `chars` written under every column of every panel (faint
// ones in grey); heat maps get a colour bar each (sequential map from the panel's minimum to its
// maximum), line charts a legend beside their caption. `footer` is written small at the bottom.
void plot_scaling(const std::string& path, const std::string& title, const std::string& footer,
                  const std::vector<std::string>& chars, const std::vector<bool>& faint,
                  const std::vector<ScalingPanel>& panels);

// Handwriting: one row per sequence of pen points (dx, dy, pen), its title above and the pen path
// below (the running sum of the offsets, drawn as smooth anti-aliased strokes, broken after every
// point whose pen value is >= 0.5: the pen lifts after it), every row at the same scale; 1400
// wide. Throws std::invalid_argument unless there is one title per sequence.
void plot_strokes(const std::string& path, const std::vector<std::string>& titles,
                  const std::vector<std::vector<std::array<float, 3>>>& seqs);

// --- helpers, public for tests and for other figures ---

// The pictures' shared colours.
inline constexpr Rgb kWhite{255, 255, 255};
inline constexpr Rgb kBlack{0, 0, 0};
inline constexpr Rgb kText{30, 30, 30};
inline constexpr Rgb kGrid{228, 228, 228};
inline constexpr Rgb kFaint{140, 140, 140};

// Colour of the i-th series (10 distinct colours, then repeating).
Rgb series_color(int i);
// The smallest step of the form {1, 2, 5} x 10^k giving at most `target` intervals over range.
double nice_step(double range, int target);
// Ticks covering [lo, hi]: multiples of nice_step(hi - lo, target), from the largest multiple
// <= lo to the smallest >= hi (so the first and last tick bound the data).
std::vector<double> nice_ticks(double lo, double hi, int target);
// A short label for a tick value on a grid of the given step: "0.25", "-3", "1e-5", "2.5e6".
std::string format_tick(double v, double step);

}  // namespace ht
