// The explicit training step's seams: samplers whose shards (world 2) are disjoint parts of the
// world-1 batch, evaluation sums whose parts add to the whole, the task table, and early stopping
// for a metric where higher is better.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "train/charlm_task.h"
#include "train/config.h"
#include "train/handwriting_task.h"
#include "train/image_task.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "data/samplers.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "models/mlp.h"
#include "tests/files.h"

using namespace ht;
using ht::test::has;
using ht::test::TempDir;
using ht::test::write_plain;

namespace {

// n images of 1x6x5 whose pixels encode their index, labels i % 10.
ImageSet numbered_images(i64 n) {
  ImageSet s;
  s.images = Tensor::empty({n, 1, 6, 5});
  for (i64 i = 0; i < n * 30; ++i) s.images.data<float>()[i] = float(i / 30 + 1) + float(i % 30) / 64.0f;
  for (i64 i = 0; i < n; ++i) s.labels.push_back(std::int32_t(i % 10));
  return s;
}

// Rows [r0, r1) of a [rows, ...] tensor equal the other tensor's rows.
bool same_rows(const Tensor& whole, i64 r0, const Tensor& part) {
  const i64 per = part.numel() / part.dim(0);
  for (i64 i = 0; i < part.numel(); ++i)
    if (whole.at(r0 * per + i) != part.at(i)) return false;
  return true;
}

// Column block [c0, c0 + part's columns) of every row of a [rows, cols] tensor (or [rows*cols]
// read as rows of `cols`) equals `part` read the same way.
bool same_columns(const Tensor& whole, i64 cols, i64 c0, const Tensor& part, i64 part_cols, i64 width = 1) {
  const i64 rows = whole.numel() / (cols * width);
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < part_cols * width; ++c)
      if (whole.at((r * cols + c0) * width + c) != part.at(r * part_cols * width + c)) return false;
  return true;
}

std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data) {
  std::string s{char(0), char(0), char(8), char(dims.size())};
  for (std::uint32_t d : dims)
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(char((d >> sh) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

// MNIST-format files of n images (random pixels, labels i % 10) under dir/mnist.
void write_tiny_mnist(const std::string& dir, int n_train, int n_test) {
  Rng r(5);
  auto put = [&](const std::string& images, const std::string& labels, int n) {
    std::vector<std::uint8_t> px, lb;
    for (int i = 0; i < n; ++i) {
      lb.push_back(std::uint8_t(i % 10));
      for (int k = 0; k < 784; ++k) px.push_back(std::uint8_t(r.below(256)));
    }
    write_plain(dir + "/mnist/" + images, idx_bytes({std::uint32_t(n), 28, 28}, px));
    write_plain(dir + "/mnist/" + labels, idx_bytes({std::uint32_t(n)}, lb));
  };
  put("train-images-idx3-ubyte", "train-labels-idx1-ubyte", n_train);
  put("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", n_test);
}

std::string ptb_text(int lines, int offset) {
  static const char* sentences[] = {"the cat sat on the mat", "a dog ate the hat", "the rat and the cat", "we see a bat"};
  std::string out;
  for (int l = 0; l < lines; ++l) {
    for (char c : std::string(sentences[(l + offset) % 4])) {
      out += ' ';
      out += c == ' ' ? '_' : c;
    }
    out += " \n";
  }
  return out;
}

double rel_diff(double a, double b) { return std::fabs(a - b) / std::max(1e-300, std::max(std::fabs(a), std::fabs(b))); }

}  // namespace

TEST_CASE("ImageSampler: two shards are the world-1 batch's two halves, crops included, across epochs") {
  const ImageSet set = numbered_images(40);
  const ImageAugment crop{1, true};
  ImageSampler one(set, 8, 7, crop, Shard{0, 1});
  ImageSampler s0(set, 8, 7, crop, Shard{0, 2}), s1(set, 8, 7, crop, Shard{1, 2});
  CHECK(one.steps_per_epoch() == 5);
  CHECK(s0.items_per_step() == 8);
  Batch w, a, b;
  for (i64 step : {0, 3, 4, 5, 11}) {
    one.get(step, w);
    s0.get(step, a);
    s1.get(step, b);
    REQUIRE(a.x.shape() == Shape{4, 1, 6, 5});
    CHECK(a.share == 0.5);
    CHECK(w.share == 1.0);
    CHECK(a.epoch == step / 5);
    CHECK(same_rows(w.x, 0, a.x));
    CHECK(same_rows(w.x, 4, b.x));
    CHECK(same_rows(w.y, 0, a.y));
    CHECK(same_rows(w.y, 4, b.y));
    // disjoint: no image appears in both shards (the integer part of a central pixel names it,
    // whatever the crop)
    for (i64 i = 0; i < 4; ++i)
      for (i64 j = 0; j < 4; ++j) CHECK(std::floor(a.x.at(i * 30 + 17)) != std::floor(b.x.at(j * 30 + 17)));
  }
}

TEST_CASE("StreamSampler: shards hold disjoint streams; a new epoch restarts them") {
  std::vector<std::int32_t> text(1000);
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = std::int32_t(i % 37);
  StreamSampler one(text, 6, 10, Shard{0, 1}), s0(text, 6, 10, Shard{0, 2}), s1(text, 6, 10, Shard{1, 2});
  Batch w, a, b;
  for (i64 step : {i64(0), i64(1), one.steps_per_epoch() - 1, one.steps_per_epoch()}) {
    one.get(step, w);
    s0.get(step, a);
    s1.get(step, b);
    REQUIRE(a.x.shape() == Shape{w.x.dim(0), 3});
    CHECK(same_columns(w.x, 6, 0, a.x, 3));
    CHECK(same_columns(w.x, 6, 3, b.x, 3));
    CHECK(same_columns(w.y, 6, 0, a.y, 3));
    CHECK(same_columns(w.y, 6, 3, b.y, 3));
    CHECK(a.restart == (step % one.steps_per_epoch() == 0));
  }
}

TEST_CASE("StrokeSampler: shards are the world-1 windows, weighted by the global batch's points") {
  StrokeData d;
  Rng r(2);
  for (int l = 0; l < 7; ++l) {
    StrokeLine line;
    line.id = "l" + std::to_string(l);
    line.first = i64(d.points.size() / 3);
    line.count = 5 + 4 * l;  // some shorter than the window, some longer
    for (i64 p = 0; p < line.count; ++p) {
      d.points.push_back(float(r.normal()));
      d.points.push_back(float(r.normal()));
      d.points.push_back(float(r.below(2)));
    }
    d.train.push_back(line);
  }
  StrokeSampler one(d, 4, 12, 0.1, 3, Shard{0, 1}), s0(d, 4, 12, 0.1, 3, Shard{0, 2}), s1(d, 4, 12, 0.1, 3, Shard{1, 2});
  CHECK(one.steps_per_epoch() == 2);
  Batch w, a, b;
  for (i64 step : {0, 1, 2, 5}) {
    one.get(step, w);
    s0.get(step, a);
    s1.get(step, b);
    REQUIRE(a.x.shape() == Shape{12 * 2, 3});
    CHECK(same_columns(w.x, 4, 0, a.x, 2, 3));
    CHECK(same_columns(w.x, 4, 2, b.x, 2, 3));
    CHECK(same_columns(w.y, 4, 0, a.y, 2, 3));
    CHECK(same_columns(w.weight, 4, 2, b.weight, 2));
    double total = 0;
    for (i64 i = 0; i < w.weight.numel(); ++i) total += w.weight.at(i);
    CHECK(total == doctest::Approx(1.0).epsilon(1e-6));  // the mean over the global batch's real points
  }
}

TEST_CASE("a global batch that does not divide among the processes is an error naming both numbers") {
  const ImageSet set = numbered_images(40);
  CHECK_THROWS_WITH(ImageSampler(set, 9, 1, {}, Shard{0, 2}), has("train.batch = 9 does not divide among 2 processes"));
  std::vector<std::int32_t> text(500, 1);
  CHECK_THROWS_WITH(StreamSampler(text, 7, 10, Shard{1, 3}), has("train.batch = 7 does not divide among 3 processes"));
}

TEST_CASE("image task: the evaluation sums of two halves add to the whole's") {
  TempDir dir;
  write_tiny_mnist(dir.path.string(), 120, 50);
  Json cfg = resolve_config({{"model", {{"arch", "fc"}}}}, "test",
                            {"train.valid_size=20", "train.batch=10", "train.eval_batch=7", "data_dir=" + Json(dir.path.string()).dump()});
  auto task = make_task(cfg);
  ParamStore ps;
  task->build(ps);
  Rng rng(1);
  ps.finalize(rng);
  for (const char* split : {"valid", "test"}) {
    EvalSums whole = task->evaluate_sums(ps, split, false, Shard{0, 1});
    EvalSums half = task->evaluate_sums(ps, split, false, Shard{0, 2});
    half += task->evaluate_sums(ps, split, false, Shard{1, 2});
    CHECK(whole.items == (std::string(split) == "valid" ? 20 : 50));
    CHECK(half.items == whole.items);
    CHECK(half.metric == whole.metric);  // errors are counts
    CHECK(rel_diff(half.loss, whole.loss) < 1e-6);
  }
}

TEST_CASE("character task: the periodic evaluation's streams split across two shards add to the whole") {
  TempDir dir;
  for (const char* split : {"train", "valid", "test"}) write_plain(dir / (std::string("ptb/ptb.char.") + split + ".txt"), ptb_text(20, 1));
  for (const char* cell : {"lstm", "hyperlstm"}) {
    Json cfg = resolve_config({{"task", "charlm"}, {"model", {{"cell", cell}, {"hidden", 16}, {"hyper", 8}}}}, "test",
                              {"train.batch=4", "train.seq=5", "train.eval_batch=8", "train.eval_seq=9", "train.eval_chars=0",
                               "data_dir=" + Json(dir.path.string()).dump()});
    auto task = make_task(cfg);
    ParamStore ps(DType::F32);
    task->build(ps);
    Rng rng(1);
    ps.finalize(rng);
    EvalSums whole = task->evaluate_sums(ps, "valid", true, Shard{0, 1});
    EvalSums parts = task->evaluate_sums(ps, "valid", true, Shard{0, 2});
    parts += task->evaluate_sums(ps, "valid", true, Shard{1, 2});
    CHECK(whole.items > 0);
    CHECK(parts.items == whole.items);
    CHECK(rel_diff(parts.loss, whole.loss) < 1e-5);
    CHECK(rel_diff(parts.metric, whole.metric) < 1e-5);
    // The one-stream final evaluation is read by the first shard only, so the parts still add up.
    EvalSums one = task->evaluate_sums(ps, "test", false, Shard{0, 1});
    EvalSums first = task->evaluate_sums(ps, "test", false, Shard{0, 2}), second = task->evaluate_sums(ps, "test", false, Shard{1, 2});
    CHECK(second.items == 0);
    CHECK(first.items == one.items);
    CHECK(first.loss == one.loss);
  }
}

TEST_CASE("handwriting evaluation: lines split in two add to the whole") {
  StrokeData d;
  Rng r(4);
  for (int l = 0; l < 6; ++l) {
    StrokeLine line;
    line.first = i64(d.points.size() / 3);
    line.count = 4 + 3 * l;
    for (i64 p = 0; p < line.count; ++p) {
      d.points.push_back(float(r.normal()));
      d.points.push_back(float(r.normal()));
      d.points.push_back(float(r.below(2)));
    }
    d.valid.push_back(line);
  }
  Json cfg = resolve_config({{"task", "handwriting"}, {"model", {{"cell", "hyperlstm"}, {"hidden", 10}, {"hyper", 6}, {"mixtures", 2}}}}, "t");
  ParamStore ps(DType::F64);
  RecurrentStack m(Scope(ps), handwriting_spec(cfg));
  Rng init(3);
  ps.finalize(init);
  std::vector<StrokeLine> a(d.valid.begin(), d.valid.begin() + 3), b(d.valid.begin() + 3, d.valid.end());
  EvalSums whole = handwriting_evaluate(m, ps, d, d.valid, 4, 5), parts = handwriting_evaluate(m, ps, d, a, 4, 5);
  parts += handwriting_evaluate(m, ps, d, b, 4, 5);
  CHECK(whole.metric_items == 6);
  CHECK(parts.metric_items == 6);
  CHECK(parts.items == whole.items);
  CHECK(rel_diff(parts.loss, whole.loss) < 1e-12);
}

TEST_CASE("the task table: every task has its defaults and factory; an unknown task names the known ones") {
  std::vector<std::string> names;
  for (const TaskKind* k : task_kinds()) {
    names.push_back(k->name);
    Json cfg = config_defaults(k->name);
    CHECK(cfg["task"] == k->name);
    CHECK(cfg["train"].contains("steps"));      // the task's own keys
    CHECK(cfg["train"].contains("optimizer"));  // the trainer's
  }
  CHECK(names == std::vector<std::string>{"image", "charlm", "handwriting", "translation"});
  CHECK_THROWS_WITH(config_defaults("speech"), has("unknown task 'speech' (known: image, charlm, handwriting, translation)"));
  CHECK_THROWS_WITH(resolve_config({{"task", "speech"}}, "x.json"), has("unknown task 'speech'"));
}

namespace {

// A task whose metric is better when higher: it reports the validation "accuracy" of a schedule
// fixed in advance, so the best step is known.
class RisingTask : public Task {
 public:
  explicit RisingTask(std::vector<double> scores) : scores_(std::move(scores)) {}
  void build(ParamStore& ps) override { mlp_ = std::make_unique<MLP>(Scope(ps), std::vector<i64>{2, 2}); }
  std::unique_ptr<Sampler> make_sampler(const Shard&, std::uint64_t) override {
    struct One : Sampler {
      i64 steps_per_epoch() const override { return 4; }
      i64 items_per_step() const override { return 1; }
      void get(i64 step, Batch& b) override {
        b.step = step;
        b.x = Tensor::full({1, 2}, 1.0);
        b.y = Tensor::zeros({1}, DType::I32);
      }
    };
    return std::make_unique<One>();
  }
  Var loss(Tape& t, const ParamStore& ps, const Batch& b, Rng&) override {
    return softmax_cross_entropy(t, mlp_->forward(t, ps, t.input(b.x)), b.y);
  }
  EvalSums evaluate_sums(const ParamStore&, const std::string&, bool, const Shard&) override {
    EvalSums s;
    s.items = s.metric_items = 1;
    s.metric = calls_ < scores_.size() ? scores_[calls_] : 0;
    ++calls_;
    return s;
  }
  Metric metric() const override { return {"accuracy", true}; }
  const char* item_name() const override { return "examples"; }
  std::string describe() const override { return "rising"; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override { return {"all", ps.count()}; }

 private:
  std::vector<double> scores_;
  std::size_t calls_ = 0;
  std::unique_ptr<MLP> mlp_;
};

}  // namespace

TEST_CASE("a metric where higher is better: the best checkpoint is the highest, and patience counts falls") {
  TempDir dir;
  Json cfg = config_defaults("image");
  cfg["name"] = "rising";
  cfg["train"]["steps"] = 100;
  cfg["train"]["eval_every"] = 1;
  cfg["train"]["patience"] = 2;
  TrainOptions o;
  o.run_dir = dir / "run";
  o.quiet = true;
  o.final_eval = false;
  RisingTask task({0.2, 0.5, 0.9, 0.4, 0.8, 0.95});
  auto s = run_training(cfg, task, o);
  CHECK(s.best_step == 3);
  CHECK(s.best_metric == 0.9);
  CHECK(s.stopped_early);
  CHECK(s.last_step == 5);
  auto rows = read_jsonl(o.run_dir + "/metrics.jsonl");
  REQUIRE(rows.size() == 5);
  CHECK(rows[2]["valid_accuracy"] == 0.9);
}

TEST_CASE("evaluation sums carry a metric's extra sums through additions and flat arrays") {
  EvalSums a{1, 2, 3, 4, {1, 2}}, b{10, 20, 30, 40, {5, 7}}, none;
  a += b;
  CHECK(a.extra == std::vector<double>{6, 9});
  none += a;  // an empty part takes the other's extra sums
  CHECK(none.extra == a.extra);
  std::vector<double> flat(a.size());
  a.to_array(flat.data());
  CHECK(flat == std::vector<double>{11, 22, 33, 44, 6, 9});
  EvalSums back = EvalSums::from_array(flat.data(), 2);
  CHECK(back.loss == 11);
  CHECK(back.extra == a.extra);
  EvalSums wrong{0, 0, 0, 0, {1}};
  CHECK_THROWS_WITH(a += wrong, has("adding 1 extra sums to 2"));
}
