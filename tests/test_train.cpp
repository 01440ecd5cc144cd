// The training loop: exact resume, config errors that name the key or file, the NaN stop,
// early stopping, and a loss that falls on real MNIST.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "cli/commands.h"
#include "train/config.h"
#include "train/image_task.h"
#include "train/run_files.h"
#include "train/trainer.h"
#include "engine/ops/loss.h"
#include "engine/ops/elementwise.h"
#include "models/mlp.h"
#include "tests/files.h"

using namespace ht;

namespace {

// Synthetic data: 4 noisy blobs in 8 dimensions. Batches depend on (step) only.
void make_blobs(i64 step, i64 n, Tensor& x, Tensor& y) {
  Rng r(std::uint64_t(step) * 7919 + 3);
  x = Tensor::empty({n, 8});
  y = Tensor::empty({n}, DType::I32);
  for (i64 i = 0; i < n; ++i) {
    int k = int(r.below(4));
    y.data<std::int32_t>()[i] = k;
    for (int j = 0; j < 8; ++j) x.data<float>()[i * 8 + j] = float((j % 4 == k ? 2.0 : 0.0) + r.normal());
  }
}

class BlobSampler : public Sampler {
 public:
  i64 steps_per_epoch() const override { return 10; }
  i64 items_per_step() const override { return 32; }
  void get(i64 step, Batch& b) override {
    b.step = step;
    make_blobs(step, 32, b.x, b.y);
  }
};

// A small task on the blobs: an MLP.
class BlobTask : public Task {
 public:
  explicit BlobTask(double scale_loss = 1.0) : scale_(scale_loss) {}
  void build(ParamStore& ps) override { mlp_ = std::make_unique<MLP>(Scope(ps), std::vector<i64>{8, 16, 4}); }
  std::unique_ptr<Sampler> make_sampler(const Shard&, std::uint64_t) override { return std::make_unique<BlobSampler>(); }
  Metric metric() const override { return {"error", false}; }
  const char* item_name() const override { return "examples"; }
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override {
    // a draw from the trainer's rng, so resume must restore it too
    double noise = 0.01 * rng.uniform();
    Var l = softmax_cross_entropy(t, mlp_->forward(t, ps, t.input(batch.x)), batch.y);
    return scale(t, l, scale_ * (1.0 + noise));
  }
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool, const Shard&) override {
    Tensor x, y;
    make_blobs(split == "valid" ? 100000 : 200000, 256, x, y);
    Tape t;
    Tape::NoGrad ng(t);
    Var logits = mlp_->forward(t, ps, t.input(x));
    EvalSums r;
    r.items = r.metric_items = 256;
    for (i64 i = 0; i < 256; ++i) {
      i64 best = 0;
      for (i64 c = 1; c < 4; ++c)
        if (logits.value().at(i * 4 + c) > logits.value().at(i * 4 + best)) best = c;
      r.metric += best != y.data<std::int32_t>()[i];
    }
    r.loss = 256 * softmax_cross_entropy(t, logits, y).value().item();
    return r;
  }
  std::string describe() const override { return "blob MLP"; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override { return {"all", ps.count()}; }

 private:
  double scale_;
  std::unique_ptr<MLP> mlp_;
};

Json blob_config(i64 steps) {
  Json cfg = config_defaults("image");
  cfg["name"] = "blobs";
  cfg["train"]["steps"] = steps;
  cfg["train"]["eval_every"] = 5;
  cfg["train"]["checkpoint_every"] = 5;
  cfg["train"]["lr"] = {{"type", "constant"}, {"lr", 0.01}};
  return cfg;
}

// DIR/name under this executable's scratch root (removed when it exits), not created.
std::string temp_dir(const std::string& name) {
  const std::string d = ht::test::scratch_root("train") + "/" + name;
  std::filesystem::remove_all(d);
  return d;
}

}  // namespace

TEST_CASE("a resumed run continues exactly where it stopped") {
  TrainOptions full;
  full.run_dir = temp_dir("full");
  full.quiet = true;
  full.final_eval = false;
  BlobTask a;
  auto whole = run_training(blob_config(30), a, full);
  REQUIRE(whole.losses.size() == 30);

  TrainOptions part = full;
  part.run_dir = temp_dir("part");
  BlobTask b;
  auto first = run_training(blob_config(15), b, part);
  REQUIRE(first.losses.size() == 15);
  part.resume = true;
  BlobTask c;
  auto second = run_training(blob_config(30), c, part);
  REQUIRE(second.first_step == 15);
  REQUIRE(second.losses.size() == 15);
  for (int i = 0; i < 15; ++i) {
    CHECK(first.losses[std::size_t(i)] == whole.losses[std::size_t(i)]);
    CHECK(second.losses[std::size_t(i)] == whole.losses[std::size_t(15 + i)]);  // bit for bit
  }
  // metrics.jsonl holds each evaluation once
  auto rows = read_jsonl(part.run_dir + "/metrics.jsonl");
  CHECK(rows.size() == 6);
  CHECK(rows.back()["step"] == 30);
  CHECK(file_exists(part.run_dir + "/curves.png"));
  // starting a new run over an existing one is refused
  part.resume = false;
  BlobTask d;
  CHECK_THROWS_WITH(run_training(blob_config(30), d, part), doctest::Contains("already holds a run"));
}

TEST_CASE("a NaN loss stops the run naming the step") {
  TrainOptions o;
  o.run_dir = temp_dir("nan");
  o.quiet = true;
  BlobTask t(std::nan(""));
  CHECK_THROWS_WITH(run_training(blob_config(10), t, o), doctest::Contains("at step 0"));
}

TEST_CASE("early stopping ends the run after `patience` evaluations without improvement") {
  TrainOptions o;
  o.run_dir = temp_dir("patience");
  o.quiet = true;
  o.final_eval = false;
  Json cfg = blob_config(1000);
  cfg["train"]["lr"] = {{"type", "constant"}, {"lr", 0.0}};  // never improves after the first evaluation
  cfg["train"]["patience"] = 3;
  BlobTask t;
  auto s = run_training(cfg, t, o);
  CHECK(s.stopped_early);
  CHECK(s.last_step == 20);
}

TEST_CASE("config errors name the key or the file") {
  CHECK_THROWS_WITH(load_config("configs/mnist/nope.json"), doctest::Contains("configs/mnist/nope.json"));
  Json user = {{"model", {{"arch", "conv"}, {"layers", 3}}}};
  CHECK_THROWS_WITH(resolve_config(user, "my.json"), doctest::Contains("model.layers"));
  CHECK_THROWS_WITH(resolve_config(Json::object(), "my.json", {"train.stepz=3"}), doctest::Contains("train.stepz"));
  CHECK_THROWS_WITH(resolve_config(Json::object(), "my.json", {"train.steps=\"many\""}), doctest::Contains("train.steps"));
  Json ok = resolve_config(Json::object(), "my.json", {"train.steps=7", "data=fashion-mnist", "train.lr={\"type\":\"constant\",\"lr\":0.1}"});
  CHECK(ok["train"]["steps"] == 7);
  CHECK(ok["data"] == "fashion-mnist");
  CHECK(ok["train"]["lr"]["lr"] == 0.1);
  // A key inside the free-form learning-rate block changes only that key.
  Json one = resolve_config(Json::object(), "my.json", {"train.lr={\"type\":\"exponential\",\"lr\":0.1,\"rate\":0.9}", "train.lr.lr=0.02"});
  CHECK(one["train"]["lr"]["type"] == "exponential");
  CHECK(one["train"]["lr"]["rate"] == 0.9);
  CHECK(one["train"]["lr"]["lr"] == 0.02);
  // every shipped config loads
  for (const char* d : {"configs/mnist", "configs/ptb", "configs/enwik8", "configs/iam", "configs/cifar10", "configs/fashion-mnist"})
    for (auto& e : std::filesystem::directory_iterator(d)) CHECK_NOTHROW(load_config(e.path().string()));
}

TEST_CASE("the fc model's loss falls on real MNIST") {
  const char* env = std::getenv("HYPERTRAIN_DATA");
  bool have = (env && std::filesystem::exists(std::string(env) + "/mnist")) || std::filesystem::exists("../shared/data/mnist");
  if (!have) {
    MESSAGE("no MNIST under $HYPERTRAIN_DATA: skipped");
    return;
  }
  Json cfg = load_config("configs/mnist/fc.json", {"train.batch=100", "train.steps=60", "train.eval_every=30", "train.eval_batch=2500"});
  if (!env) cfg["data_dir"] = "../shared/data";
  ImageTask task(cfg);
  TrainOptions o;
  o.run_dir = temp_dir("mnist");
  o.quiet = true;
  auto s = run_training(cfg, task, o);
  double first = (s.losses[0] + s.losses[1] + s.losses[2]) / 3, last = (s.losses[57] + s.losses[58] + s.losses[59]) / 3;
  MESSAGE("MNIST fc: loss " << first << " -> " << last << ", test error " << s.results["test_error"]);
  CHECK(last < 0.5 * first);
  CHECK(s.results["test_error"].get<double>() < 0.2);
}

TEST_CASE("report --seeds: one row per name and data, the test error's mean, sample sd, min and max") {
  // Three seeds of one model and one run of another, as their results.json files say.
  auto run = [](const std::string& dir, const std::string& name, double error) {
    std::filesystem::create_directories(dir);
    write_text_atomic(dir + "/config.json", "{}\n");
    Json r = {{"name", name}, {"data", "fashion-mnist"}, {"model", "m"}, {"test_error", error}, {"steps", 100}, {"train_seconds", 10.0},
              {"counted_parameters", {{"what", "w"}, {"count", 1}}}, {"paper", {{"data", "mnist"}, {"test_error", 0.0076}}}};
    write_text_atomic(dir + "/results.json", r.dump());
    return dir;
  };
  const std::string d = temp_dir("seeds");
  std::vector<std::string> args = {"report", "--seeds", run(d + "/a1", "a", 0.090), run(d + "/b1", "b", 0.120),
                                   run(d + "/a2", "a", 0.100), run(d + "/a3", "a", 0.110)};
  ht::test::CaptureFd out(1);
  const int rc = ht::test::run_cmd(cmd_report, args);
  const std::string text = out.text();
  out.restore();
  CHECK(rc == 0);
  std::string words;  // the table with every run of spaces made one
  for (char c : text)
    if (c != ' ' || (!words.empty() && words.back() != ' ')) words += c;
  CAPTURE(words);
  // a: 9, 10, 11% -> mean 10.00, sd 1.00, min 9.00, max 11.00; the paper's MNIST figure is not
  // shown beside Fashion-MNIST runs; b: one run, no sd; groups in order of first appearance.
  CHECK(words.find("\na fashion-mnist 3 10.00% ± 1.00 9.00% 11.00% - 100 10\n") != std::string::npos);
  CHECK(words.find("\nb fashion-mnist 1 12.00% ± nan 12.00% 12.00% - 100 10\n") != std::string::npos);
  CHECK(words.find("\na fashion-mnist") < words.find("\nb fashion-mnist"));
}
