// Handwriting generation (paper §4.5): the mixture density loss and sampler, the IAM-OnDB loader,
// the dense-input recurrent stack on both paths, parameter counts against Table 5, a loss that
// falls on the real strokes, and the CLI (train, eval, sample).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "train/config.h"
#include "train/handwriting_task.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "data/io.h"
#include "data/strokes.h"
#include "engine/ops/mdn.h"
#include "tests/check.h"
#include "tests/files.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::has;
using ht::test::run_cmd;
using ht::test::random_tensor;
using ht::test::TempDir;

namespace {

const std::string kShared = "../shared/data";
bool have_iam() { return file_exists(kShared + "/iam_ondb/lines.tsv.gz") && file_exists(kShared + "/iam_ondb/points.i16le.gz"); }

// Targets: random offsets, pen 0 or 1.
Tensor stroke_targets(i64 n, Rng& rng) {
  Tensor y = random_tensor({n, 3}, rng, -2, 2);
  for (i64 r = 0; r < n; ++r) y.data<double>()[r * 3 + 2] = rng.uniform() < 0.3 ? 1.0 : 0.0;
  return y;
}

// Little-endian int16 triples.
std::string points_bytes(const std::vector<std::array<int, 3>>& pts) {
  std::string s;
  for (const auto& p : pts)
    for (int v : p) {
      auto u = std::uint16_t(std::int16_t(v));
      s += char(u & 0xff);
      s += char(u >> 8);
    }
  return s;
}

const char* kHeader = "line_id\tsplit\tfirst_point\tnum_points\ttext\n";

// A .npy file read back in C++: its header (format 1.0, '<f4', C order) and its float32 values.
struct Npy {
  std::vector<i64> shape;
  std::vector<float> values;
};
Npy read_npy(const std::string& path) {
  const std::string b = read_text(path);
  REQUIRE(b.size() >= 10);
  REQUIRE(b.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(int(b[6]) == 1);
  CHECK(int(b[7]) == 0);
  const std::size_t hlen = std::size_t(static_cast<unsigned char>(b[8])) | std::size_t(static_cast<unsigned char>(b[9])) << 8;
  CHECK((10 + hlen) % 64 == 0);
  const std::string dict = b.substr(10, hlen);
  CHECK(dict.back() == '\n');
  CHECK(dict.find("'descr': '<f4'") != std::string::npos);
  CHECK(dict.find("'fortran_order': False") != std::string::npos);
  Npy n;
  const auto open = dict.find("'shape': (");
  REQUIRE(open != std::string::npos);
  std::istringstream dims(dict.substr(open + 10, dict.find(')', open) - open - 10));
  for (std::string d; std::getline(dims, d, ',');)
    if (d.find_first_not_of(' ') != std::string::npos) n.shape.push_back(std::stoll(d));
  i64 count = 1;
  for (i64 d : n.shape) count *= d;
  REQUIRE(b.size() == 10 + hlen + 4 * std::size_t(count));
  for (i64 i = 0; i < count; ++i) {
    std::uint32_t u = 0;
    for (int k = 0; k < 4; ++k) u |= std::uint32_t(static_cast<unsigned char>(b[10 + hlen + 4 * std::size_t(i) + std::size_t(k)])) << (8 * k);
    float f;
    std::memcpy(&f, &u, 4);
    n.values.push_back(f);
  }
  return n;
}

// Runs a command and returns its standard output.
std::string capture(const std::string& cmd) {
  std::string out;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  CHECK(::pclose(p) == 0);
  return out;
}

}  // namespace

TEST_CASE("mdn_loss: value of a one-component row against the bivariate normal written out") {
  // M = 1: ê, π̂, μ1, μ2, σ̂1, σ̂2, ρ̂.
  const double eh = 0.3, mu1 = 0.5, mu2 = -1.0, s1h = std::log(0.8), s2h = std::log(1.5), rh = std::atanh(0.4);
  Tensor p = Tensor::empty({1, 7}, DType::F64);
  double vals[7] = {eh, 2.0, mu1, mu2, s1h, s2h, rh};
  std::memcpy(p.data<double>(), vals, sizeof vals);
  Tensor y = Tensor::empty({1, 3}, DType::F64);
  double tv[3] = {1.1, -0.2, 1.0};
  std::memcpy(y.data<double>(), tv, sizeof tv);
  const double s1 = 0.8, s2 = 1.5, rho = 0.4, z1 = (1.1 - mu1) / s1, z2 = (-0.2 - mu2) / s2;
  const double Z = z1 * z1 + z2 * z2 - 2 * rho * z1 * z2;
  const double N = std::exp(-Z / (2 * (1 - rho * rho))) / (2 * M_PI * s1 * s2 * std::sqrt(1 - rho * rho));
  const double e = 1 / (1 + std::exp(-eh));
  const double expect = -std::log(N) - std::log(e);  // pen = 1
  double got = 0;
  mdn_nll_rows(p, y, &got);
  CHECK(got == doctest::Approx(expect).epsilon(1e-12));
  Tape t;
  Tensor w = Tensor::full({1}, 2.0, DType::F64);
  CHECK(mdn_loss(t, t.input(p), y, w).value().at(0) == doctest::Approx(2 * expect).epsilon(1e-12));
}

TEST_CASE("mdn_loss gradients against central differences") {
  Rng rng(5);
  for (i64 M : {1, 3, 20}) {
    const i64 N = 6;
    Tensor p = random_tensor({N, 6 * M + 1}, rng, -1.5, 1.5);
    Tensor y = stroke_targets(N, rng);
    Tensor w = random_tensor({N}, rng, 0.1, 1.0);
    w.data<double>()[2] = 0;  // a padded row contributes nothing
    check_gradients("mdn M=" + std::to_string(M), [&](Tape& t, const std::vector<Var>& v) { return mdn_loss(t, v[0], y, w); }, {p});
  }
  // Near-degenerate correlations and tiny sigmas stay finite and correct.
  Tensor p = random_tensor({4, 13}, rng, -1, 1);
  for (i64 r = 0; r < 4; ++r) {
    p.data<double>()[r * 13 + 1 + 5 * 2] = 4.0;      // ρ̂ = 4: ρ ≈ 0.9993
    p.data<double>()[r * 13 + 1 + 3 * 2 + 1] = -3.0;  // σ1 of component 2 ≈ 0.05
  }
  Tensor y = stroke_targets(4, rng), w = Tensor::full({4}, 1.0, DType::F64);
  check_gradients("mdn extreme", [&](Tape& t, const std::vector<Var>& v) { return mdn_loss(t, v[0], y, w); }, {p});
}

TEST_CASE("mdn shapes: a width that is not 6M+1, targets and weights of the wrong size") {
  Tape t;
  Var p8 = t.input(Tensor::zeros({2, 8}, DType::F64));
  CHECK_THROWS_WITH_AS(mdn_loss(t, p8, Tensor::zeros({2, 3}, DType::F64), Tensor::zeros({2}, DType::F64)), has("6M + 1"),
                       std::invalid_argument);
  Var p = t.input(Tensor::zeros({2, 13}, DType::F64));
  CHECK_THROWS_WITH_AS(mdn_loss(t, p, Tensor::zeros({2, 2}, DType::F64), Tensor::zeros({2}, DType::F64)), has("[2, 2]"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(mdn_loss(t, p, Tensor::zeros({2, 3}, DType::F64), Tensor::zeros({3}, DType::F64)), has("weights"),
                       std::invalid_argument);
  CHECK(mdn_components(121) == 20);
}

TEST_CASE("mdn_sample_row draws the mixture's moments; bias sharpens it") {
  // Two components; the second has almost all the weight.
  const i64 M = 2;
  double p[13] = {std::log(0.3 / 0.7), -5, 5, 9, 1.0, 9, -2.0, 0, std::log(0.5), 0, std::log(2.0), 0, std::atanh(0.6)};
  Rng rng(3);
  const int n = 40000;
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, pen = 0;
  for (int k = 0; k < n; ++k) {
    double u[4] = {rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform()}, o[3];
    mdn_sample_row(p, M, 0.0, u, o);
    sx += o[0], sy += o[1], sxx += o[0] * o[0], syy += o[1] * o[1], sxy += o[0] * o[1], pen += o[2];
  }
  double mx = sx / n, my = sy / n, vx = sxx / n - mx * mx, vy = syy / n - my * my, c = (sxy / n - mx * my) / std::sqrt(vx * vy);
  CHECK(mx == doctest::Approx(1.0).epsilon(0.02));
  CHECK(my == doctest::Approx(-2.0).epsilon(0.02));
  CHECK(std::sqrt(vx) == doctest::Approx(0.5).epsilon(0.03));
  CHECK(std::sqrt(vy) == doctest::Approx(2.0).epsilon(0.03));
  CHECK(c == doctest::Approx(0.6).epsilon(0.03));
  CHECK(pen / n == doctest::Approx(0.3).epsilon(0.05));
  // Bias 2: sigma shrinks by e^2.
  double s2 = 0, m2 = 0;
  for (int k = 0; k < n; ++k) {
    double u[4] = {rng.uniform(), rng.uniform(), rng.uniform(), rng.uniform()}, o[3];
    mdn_sample_row(p, M, 2.0, u, o);
    m2 += o[0], s2 += o[0] * o[0];
  }
  CHECK(std::sqrt(s2 / n - (m2 / n) * (m2 / n)) == doctest::Approx(0.5 * std::exp(-2.0)).epsilon(0.05));
}

TEST_CASE("IAM-OnDB parser: offsets, the first point zeroed, the scale, the split, short lines dropped") {
  // Line a: 3 points (absolute start 100,200), line b: 2 points (valid), line c: 1 point (dropped),
  // line d: split none.
  std::vector<std::array<int, 3>> pts = {{100, 200, 0}, {3, -4, 0}, {-3, 4, 1}, {50, 60, 0}, {6, 8, 1}, {7, 7, 1}, {1, 1, 1}};
  std::string tsv = std::string(kHeader) + "a\ttrain\t0\t3\thello\nb\tvalid\t3\t2\tworld\nc\ttrain\t5\t1\tx\nd\tnone\t6\t1\t\n";
  StrokeData d = parse_iam_ondb(tsv, points_bytes(pts), "lines.tsv", "points.i16le", 2);
  REQUIRE(d.train.size() == 1);
  REQUIRE(d.valid.size() == 1);
  CHECK(d.dropped_short == 1);
  CHECK(d.train[0].id == "a");
  CHECK(d.train[0].text == "hello");
  CHECK(d.valid[0].first == 3);
  // Training offsets (3,-4), (-3,4): mean 0, standard deviation sqrt(50/4).
  CHECK(d.scale == doctest::Approx(std::sqrt(12.5)));
  CHECK(d.points[0] == 0.0f);
  CHECK(d.points[1] == 0.0f);
  CHECK(d.points[3] == doctest::Approx(3 / std::sqrt(12.5)));
  CHECK(d.points[5] == 0.0f);
  CHECK(d.points[8] == 1.0f);
  CHECK(d.points[9] == 0.0f);  // valid line's first point zeroed too
  CHECK(d.points[12] == doctest::Approx(6 / std::sqrt(12.5)));
  CHECK_THROWS_WITH(d.split("test"), has("no test set"));
}

TEST_CASE("IAM-OnDB parser errors name the file and the problem") {
  std::vector<std::array<int, 3>> pts = {{0, 0, 0}, {1, 1, 0}, {2, 2, 1}};
  const std::string P = points_bytes(pts);
  auto parse = [&](const std::string& tsv, const std::string& p) { return parse_iam_ondb(tsv, p, "L.tsv", "P.i16le", 2); };
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t0\t3\tx\n", P.substr(0, 17)), has("P.i16le: 17 bytes"), DataError);
  CHECK_THROWS_WITH_AS(parse("id\tsplit\n", P), has("L.tsv: line 1 must be the header"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t0\t3\n", P), has("L.tsv: line 2 has 4"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t0\tthree\tx\n", P), has("num_points"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttest\t0\t3\tx\n", P), has("split must be train, valid or none"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t0\t4\tx\n", P), has("P.i16le holds 3"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t1\t2\tx\n", P), has("expected 0"), DataError);
  CHECK_THROWS_WITH_AS(parse(std::string(kHeader) + "a\ttrain\t0\t2\tx\n", P), has("accounts for 2"), DataError);
  CHECK_THROWS_WITH_AS(parse("", P), has("empty file"), DataError);
  // A missing file names what was tried.
  TempDir dir;
  ht::test::EnvGuard env("HYPERTRAIN_DATA", std::nullopt), home("HOME", dir.path.string());
  CHECK_THROWS_WITH_AS(load_iam_ondb(dir / "nowhere", 300), has("lines.tsv.gz"), DataError);
}

TEST_CASE("IAM-OnDB (the real files): every line accounted for, Graves' split sizes") {
  if (!have_iam()) {
    MESSAGE("../shared/data/iam_ondb not present; skipped");
    return;
  }
  StrokeData d = load_iam_ondb(kShared, 300);
  // ../shared/data/README.md: 10,748 train and 1,438 valid lines before the paper's filter.
  CHECK(i64(d.train.size() + d.valid.size()) + d.dropped_short == 10748 + 1438);
  CHECK(d.dropped_short > 0);
  CHECK(d.dropped_short < 2000);
  CHECK(d.points.size() == std::size_t(3) * 7656867);
  CHECK(d.scale > 1);
  for (const auto& l : d.train) REQUIRE(l.count >= 300);
}

TEST_CASE("dense-input stack: fused and reference paths agree in double, with dropout") {
  for (const char* cell : {"lstm", "hyperlstm"})
    for (bool ln : {false, true}) {
      Json cfg = resolve_config({{"task", "handwriting"},
                                 {"model", {{"cell", cell}, {"hidden", 12}, {"hyper", 6}, {"embed", 3}, {"layer_norm", ln}, {"mixtures", 2},
                                            {"layers", 2}}}},
                                "test");
      RecurrentStackSpec spec = handwriting_spec(cfg);
      ParamStore ps(DType::F64);
      RecurrentStack m(Scope(ps), spec);
      Rng init(3);
      ps.finalize(init);
      Rng data(4);
      const i64 T = 5, B = 3;
      Tensor x = random_tensor({T * B, 3}, data);
      Tensor outs[2];
      for (int fused = 0; fused < 2; ++fused) {
        m.set_fused(fused == 1);
        Tape t;
        Rng rng(9);
        RnnState next;
        outs[fused] = m.forward_dense(t, ps, t.input(x), T, B, m.zero_state(B, DType::F64), &next, &rng, true).value().clone();
      }
      CHECK(outs[0].shape() == Shape{T * B, 13});
      check_close(std::string("dense ") + cell + (ln ? " ln" : ""), outs[1], outs[0], 1e-10, 1e-9);
    }
}

TEST_CASE("Table 5 parameter counts") {
  struct Row { const char* path; i64 exact; double paper_m; };
  const Row rows[] = {{"configs/iam/lstm-900.json", 3363421, 3.36},       {"configs/iam/hyperlstm-900.json", 3941181, 3.94},
                      {"configs/iam/lstm-1000.json", -1, 4.14},          {"configs/iam/lstm-3layer-400.json", -1, 3.26},
                      {"configs/iam/lstm-2layer-650.json", -1, 5.16},    {"configs/iam/ln-lstm-900.json", -1, 3.37},
                      {"configs/iam/ln-lstm-1000.json", -1, 4.14},       {"configs/iam/ln-hyperlstm-900.json", -1, 3.95}};
  for (const Row& r : rows) {
    Json cfg = load_config(r.path);
    auto task = make_task(cfg, false);
    ParamStore ps;
    task->build(ps);
    INFO(r.path);
    if (r.exact > 0) CHECK(ps.count() == r.exact);
    CHECK(std::fabs(double(ps.count()) / 1e6 / r.paper_m - 1) <= 0.005);  // within 0.5% of the paper's rounded figure
  }
}

TEST_CASE("handwriting config errors name the key") {
  CHECK_THROWS_WITH(HandwritingTask(resolve_config({{"task", "handwriting"}, {"data", "mnist"}}, "t"), false), has("'data'"));
  CHECK_THROWS_WITH(HandwritingTask(resolve_config({{"task", "handwriting"}, {"model", {{"mixtures", 0}}}}, "t"), false),
                    has("model.mixtures"));
  CHECK_THROWS_WITH(HandwritingTask(resolve_config({{"task", "handwriting"}, {"model", {{"input_dropout", 0.1}}}}, "t"), false),
                    has("model.input_dropout"));
  CHECK_THROWS_WITH(HandwritingTask(resolve_config({{"task", "handwriting"}, {"train", {{"augment", 1.5}}}}, "t"), false),
                    has("train.augment"));
}

TEST_CASE("write_strokes: JSON and npy hold every sample's offsets in the data's units and its pen lifts") {
  TempDir dir;
  const std::vector<std::string> titles = {"sample 1", "sample 2, shorter"};
  const std::vector<std::vector<StrokePoint>> seqs = {{{0.5f, -1.25f, 0}, {1.f, 0.25f, 1}, {-3.f, 2.f, 0}, {0.125f, 0.f, 1}, {1e-3f, 7.f, 0}},
                                                      {{2.f, 2.f, 0}, {-0.5f, 0.75f, 1}, {0.f, -1.f, 1}}};
  const double scale = 2.5;  // whiteboard units per model unit (StrokeData::scale)
  auto expect = [&](std::size_t s, std::size_t t, int c) { return c == 2 ? seqs[s][t][2] : float(seqs[s][t][std::size_t(c)] * scale); };

  write_strokes(dir / "s.json", titles, seqs, scale);
  const Json j = Json::parse(read_text(dir / "s.json"));
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 2);
  for (std::size_t s = 0; s < 2; ++s) {
    CHECK(j[s]["title"] == titles[s]);
    REQUIRE(j[s]["points"].size() == seqs[s].size());
    for (std::size_t t = 0; t < seqs[s].size(); ++t)
      for (int c = 0; c < 3; ++c) CHECK(j[s]["points"][t][std::size_t(c)].get<float>() == expect(s, t, c));
  }

  write_strokes(dir / "s.npy", titles, seqs, scale);
  Npy n = read_npy(dir / "s.npy");
  CHECK(n.shape == std::vector<i64>{2, 5, 3});
  for (std::size_t s = 0; s < 2; ++s)
    for (std::size_t t = 0; t < 5; ++t)
      for (int c = 0; c < 3; ++c) {
        const float v = n.values[(s * 5 + t) * 3 + std::size_t(c)];
        INFO("sample " << s << " point " << t << " column " << c);
        if (t < seqs[s].size())
          CHECK(v == expect(s, t, c));
        else
          CHECK(std::isnan(v));  // padding after the shorter sample's end
      }
  // NumPy reads the same file: its shape, dtype and every value (NaN rows as nan)
  // the first python3 with numpy: the one on PATH may be another install (pyenv) without it
  std::string python;
  for (const char* p : {"python3", "/usr/bin/python3"})
    if (python.empty() && std::system((std::string(p) + " -c 'import numpy' > /dev/null 2>&1").c_str()) == 0) python = p;
  REQUIRE_MESSAGE(!python.empty(), "a python3 with numpy is needed to check .npy files (Debian: python3-numpy); neither python3 "
                                   "on PATH nor /usr/bin/python3 imports numpy");
  const std::string out = capture(python + " -c \"import sys, numpy as np; a = np.load(sys.argv[1]); "
                                  "print(a.dtype.str, a.shape); print(' '.join(repr(float(v)) for v in a.ravel()))\" '" +
                                  dir / "s.npy" + "'");
  std::istringstream in(out);
  std::string dtype, shape;
  in >> dtype;
  std::getline(in, shape);
  CHECK(dtype == "<f4");
  CHECK(shape == " (2, 5, 3)");
  for (std::size_t i = 0; i < n.values.size(); ++i) {
    std::string tok;
    REQUIRE(static_cast<bool>(in >> tok));
    if (std::isnan(n.values[i]))
      CHECK(tok == "nan");
    else
      CHECK(float(std::stod(tok)) == n.values[i]);
  }

  CHECK_THROWS_WITH_AS(write_strokes(dir / "s.csv", titles, seqs, scale), has(dir / "s.csv"), std::invalid_argument);
  CHECK_THROWS_AS(write_strokes(dir / "s.json", {"one"}, seqs, scale), std::invalid_argument);
  CHECK_FALSE(std::filesystem::exists(dir / "s.csv"));
  CHECK_FALSE(std::filesystem::exists(dir / "s.npy.tmp"));
}

TEST_CASE("handwriting: the loss falls on the real strokes; train, eval and sample from the command line") {
  if (!have_iam()) {
    MESSAGE("../shared/data/iam_ondb not present; skipped");
    return;
  }
  TempDir dir;
  Json user = {{"name", "iam-tiny"},
               {"task", "handwriting"},
               {"data_dir", kShared},
               {"model", {{"cell", "hyperlstm"}, {"hidden", 32}, {"hyper", 8}, {"mixtures", 5}}},
               {"train",
                {{"batch", 8}, {"seq", 60}, {"steps", 40}, {"eval_every", 20}, {"eval_batch", 16}, {"eval_seq", 100}, {"eval_lines", 16},
                 {"lr", {{"type", "constant"}, {"lr", 0.01}}}, {"threads", 2}}}};
  Json cfg = resolve_config(user, "test");
  HandwritingTask task(cfg);
  TrainOptions o;
  o.run_dir = dir / "run";
  o.quiet = true;
  o.final_eval = true;
  TrainSummary s = run_training(cfg, task, o);
  REQUIRE(s.losses.size() == 40);
  double first = 0, last = 0;
  for (int i = 0; i < 5; ++i) first += s.losses[std::size_t(i)] / 5, last += s.losses[s.losses.size() - 1 - std::size_t(i)] / 5;
  MESSAGE("IAM tiny HyperLSTM: loss " << first << " -> " << last);
  CHECK(last < first - 0.3);
  CHECK(s.results.contains("valid_logloss"));
  CHECK_FALSE(s.results.contains("test_logloss"));
  CHECK(file_exists(dir / "run/samples.png"));

  const std::string run = dir / "run";
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--count", "2", "--length", "50", "--bias", "0.5", "--out", dir / "s.png"}) ==
        0);
  CHECK(file_exists(dir / "s.png"));
  // an SVG picture and the numbers, JSON and npy, of the same samples (same seed)
  for (const char* ext : {"json", "npy"})
    CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--count", "2", "--length", "50", "--out", dir / "s.svg", "--strokes",
                               dir / (std::string("s.") + ext)}) == 0);
  CHECK(read_text(dir / "s.svg").find("<path") != std::string::npos);
  const Json j = Json::parse(read_text(dir / "s.json"));
  Npy n = read_npy(dir / "s.npy");
  CHECK(n.shape == std::vector<i64>{2, 50, 3});
  REQUIRE(j.size() == 2);
  int lifts = 0;
  for (std::size_t s = 0; s < 2; ++s) {
    REQUIRE(j[s]["points"].size() == 50);
    for (std::size_t t = 0; t < 50; ++t)
      for (std::size_t c = 0; c < 3; ++c) CHECK(j[s]["points"][t][c].get<float>() == n.values[(s * 50 + t) * 3 + c]);
    for (std::size_t t = 0; t < 50; ++t) {
      const float pen = n.values[(s * 50 + t) * 3 + 2];
      CHECK((pen == 0.f || pen == 1.f));
      lifts += pen == 1.f;
    }
  }
  MESSAGE("pen lifts in 100 sampled points: " << lifts);
  // only --strokes: no picture
  std::filesystem::remove(dir / "run/sample.png");
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--count", "1", "--length", "10", "--strokes", dir / "only.json"}) == 0);
  CHECK(file_exists(dir / "only.json"));
  CHECK_FALSE(file_exists(dir / "run/sample.png"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--bias", "-1", "--out", dir / "s.png"}), has("--bias"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--out", dir / "s.txt"}), has(".png, .svg or .pdf"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--strokes", dir / "s.csv"}), has(".json or .npy"));
  CHECK_THROWS_WITH(run_cmd(cmd_eval, {"eval", "--checkpoint", run, "--split", "test"}), has("no test set"));
  CHECK(run_cmd(cmd_eval, {"eval", "--checkpoint", run, "--split", "valid"}) == 0);
}
