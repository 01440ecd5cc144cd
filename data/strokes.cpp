#include "data/strokes.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "data/io.h"

namespace ht {

const std::vector<StrokeLine>& StrokeData::split(const std::string& which) const {
  if (which == "train") return train;
  if (which == "valid") return valid;
  throw std::invalid_argument("IAM-OnDB has splits train and valid (the paper reports validation; there is no test set), got '" +
                              which + "'");
}

namespace {

std::vector<std::string> split_tabs(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  for (;;) {
    std::size_t e = s.find('\t', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) return out;
    b = e + 1;
  }
}

i64 parse_count(const std::string& s, const std::string& path, i64 line_no, const char* field) {
  std::size_t used = 0;
  long long v = -1;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty() || v < 0)
    throw DataError(path + ": line " + std::to_string(line_no) + ": field " + field + " must be a non-negative integer, got '" + s + "'");
  return i64(v);
}

}  // namespace

StrokeData parse_iam_ondb(const std::string& lines_tsv, const std::string& points, const std::string& lines_path,
                          const std::string& points_path, i64 min_points) {
  if (points.size() % 6 != 0)
    throw DataError(points_path + ": " + std::to_string(points.size()) +
                    " bytes is not a whole number of points (6 bytes each: int16 dx, dy, eos); truncated?");
  const i64 n = i64(points.size() / 6);
  StrokeData d;
  std::istringstream in(lines_tsv);
  std::string row;
  i64 line_no = 0, expect_first = 0;
  while (std::getline(in, row)) {
    ++line_no;
    if (!row.empty() && row.back() == '\r') row.pop_back();
    auto f = split_tabs(row);
    if (line_no == 1) {
      if (f.size() != 5 || f[0] != "line_id" || f[1] != "split" || f[2] != "first_point" || f[3] != "num_points" || f[4] != "text")
        throw DataError(lines_path + ": line 1 must be the header 'line_id<TAB>split<TAB>first_point<TAB>num_points<TAB>text', got '" +
                        row.substr(0, 80) + "'");
      continue;
    }
    if (row.empty()) continue;
    if (f.size() != 5)
      throw DataError(lines_path + ": line " + std::to_string(line_no) + " has " + std::to_string(f.size()) + " tab-separated fields, expected 5");
    StrokeLine l;
    l.id = f[0];
    l.text = f[4];
    l.first = parse_count(f[2], lines_path, line_no, "first_point");
    l.count = parse_count(f[3], lines_path, line_no, "num_points");
    if (f[1] != "train" && f[1] != "valid" && f[1] != "none")
      throw DataError(lines_path + ": line " + std::to_string(line_no) + " (" + l.id + "): split must be train, valid or none, got '" + f[1] + "'");
    if (l.first != expect_first)
      throw DataError(lines_path + ": line " + std::to_string(line_no) + " (" + l.id + ") starts at point " + std::to_string(l.first) +
                      ", expected " + std::to_string(expect_first) + " (lines are stored in order, contiguous)");
    if (l.first + l.count > n)
      throw DataError(lines_path + ": line " + std::to_string(line_no) + " (" + l.id + ") needs points up to " +
                      std::to_string(l.first + l.count) + " but " + points_path + " holds " + std::to_string(n) + " (truncated?)");
    expect_first = l.first + l.count;
    if (f[1] == "none") continue;
    if (l.count < std::max<i64>(min_points, 2)) {
      ++d.dropped_short;
      continue;
    }
    (f[1] == "train" ? d.train : d.valid).push_back(l);
  }
  if (line_no == 0) throw DataError(lines_path + ": empty file (expected a header and one row per text line)");
  if (expect_first != n)
    throw DataError(points_path + " holds " + std::to_string(n) + " points but " + lines_path + " accounts for " + std::to_string(expect_first));
  if (d.train.empty()) throw DataError(lines_path + ": no training line with at least " + std::to_string(min_points) + " points");

  // Decode (little-endian int16) and zero each line's first offset (an absolute position).
  d.points.resize(std::size_t(3 * n));
  const unsigned char* b = reinterpret_cast<const unsigned char*>(points.data());
  for (i64 i = 0; i < 3 * n; ++i) d.points[std::size_t(i)] = float(std::int16_t(std::uint16_t(b[2 * i] | (b[2 * i + 1] << 8))));
  for (i64 i = 0; i < n; ++i)  // the pen bit: 1 where the pen lifts after the point, else 0
    if (const float pen = d.points[std::size_t(3 * i + 2)]; pen != 0 && pen != 1)
      throw DataError(points_path + ": point " + std::to_string(i) + " has pen bit " + std::to_string(int(pen)) +
                      "; the third int16 of a point (eos) must be 0 or 1");
  auto zero_first = [&](const std::vector<StrokeLine>& ls) {
    for (const auto& l : ls) d.points[std::size_t(3 * l.first)] = d.points[std::size_t(3 * l.first + 1)] = 0;
  };
  zero_first(d.train);
  zero_first(d.valid);
  // Scale: the standard deviation of the training offsets, dx and dy pooled (one factor keeps the
  // writing's aspect ratio).
  double s = 0, s2 = 0;
  i64 m = 0;
  for (const auto& l : d.train)
    for (i64 i = l.first + 1; i < l.first + l.count; ++i)
      for (int k = 0; k < 2; ++k) {
        double v = d.points[std::size_t(3 * i + k)];
        s += v, s2 += v * v, ++m;
      }
  double mean = s / double(m);
  d.scale = std::sqrt(std::max(s2 / double(m) - mean * mean, 1e-12));
  for (i64 i = 0; i < n; ++i)
    for (int k = 0; k < 2; ++k) d.points[std::size_t(3 * i + k)] = float(d.points[std::size_t(3 * i + k)] / d.scale);
  return d;
}

StrokeData load_iam_ondb(const std::string& data_flag, i64 min_points) {
  DataFile help;
  help.name = "lineStrokes-all.tar.gz and ascii-all.tar.gz";
  help.url = "https://fki.tic.heia-fr.ch/databases/iam-on-line-handwriting-database (registration required)";
  help.note = "this project reads the two-file form of ../shared/data/iam_ondb (points.i16le.gz: int16 dx, dy, eos per point; "
              "lines.tsv.gz: line_id, split, first_point, num_points, text); see ../shared/data/README.md §3";
  std::string lp = find_data_file("iam_ondb", {"lines.tsv.gz", "lines.tsv"}, data_flag, help);
  std::string pp = find_data_file("iam_ondb", {"points.i16le.gz", "points.i16le"}, data_flag, help);
  StrokeData d = parse_iam_ondb(read_file_maybe_gz(lp), read_file_maybe_gz(pp), lp, pp, min_points);
  d.source = std::filesystem::path(lp).parent_path().string();
  return d;
}

}  // namespace ht
