// IAM-OnDB pen trajectories for handwriting generation (paper §4.5, Graves 2013 §4): every text
// line as a sequence of points (dx, dy, pen), pen = 1 on the last point of a stroke (the pen
// lifts after it), with Graves' train / validation split.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ht {

struct StrokeLine {
  std::string id, text;
  i64 first = 0, count = 0;  // its points: rows [first, first + count) of StrokeData::points
};

struct StrokeData {
  // [n, 3] row-major: dx, dy divided by `scale`, and pen. Each line's first point is (0, 0, pen):
  // the raw file holds the line's absolute position there, which a generative model of offsets
  // does not see.
  std::vector<float> points;
  std::vector<StrokeLine> train, valid;
  double scale = 1;  // standard deviation of the raw training offsets (dx and dy pooled)
  i64 dropped_short = 0;  // lines left out for having fewer than min_points points
  std::string source;     // the directory the files were read from
  const std::vector<StrokeLine>& split(const std::string& which) const;  // "train", "valid"
};

// The two files of ../shared/data/iam_ondb (points.i16le.gz, lines.tsv.gz), found in the dataset
// directory "iam_ondb" as find_data_file describes. Lines with fewer than min_points points are
// left out (the paper drops those shorter than 300); lines of split "none" are never used.
StrokeData load_iam_ondb(const std::string& data_flag, i64 min_points);

// The same from the files' contents (decompressed); the paths name the files in errors: a header
// that is not `line_id split first_point num_points text`, a row with the wrong number of fields,
// a number that does not parse, a split other than train/valid/none, a line whose points run past
// the end of the points file, lines that are not stored in order, a points file whose size is
// not a multiple of 6 bytes.
StrokeData parse_iam_ondb(const std::string& lines_tsv, const std::string& points, const std::string& lines_path,
                          const std::string& points_path, i64 min_points);

}  // namespace ht
