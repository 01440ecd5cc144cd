// Faults during a run (issue 12, items 1, 3, 5, 6): the run directory's lock, every signal a
// scheduler sends handled like Ctrl-C (in process and on the real binary), checkpoints written only
// from finite state with the NaN stop naming a good one, metrics.jsonl that survives a torn line
// and fails the run on a write error, atomic writes that leave no .tmp, resume edge cases.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "train/config.h"
#include "train/run_files.h"
#include "train/run_lock.h"
#include "train/stop_signals.h"
#include "train/trainer.h"
#include "engine/checkpoint.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "models/mlp.h"
#include "tests/faults.h"
#include "tests/files.h"

using namespace ht;
using ht::test::CaptureStderr;
using ht::test::expect_refused;
using ht::test::has;
using ht::test::TempDir;
using ht::test::write_plain;

namespace {

// Four noisy blobs in 8 dimensions; a batch depends on its step only.
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

// An MLP on the blobs with hooks: on_loss(step, ps) runs before each step's forward, after_forward
// after it (the loss value is then fixed), on_eval(split, quick) before each evaluation. Evaluations call check_stop() as the real tasks do.
class FaultTask : public Task {
 public:
  std::function<void(i64, const ParamStore&)> on_loss, after_forward;
  std::function<void(const std::string&, bool)> on_eval;

  void build(ParamStore& ps) override { mlp_ = std::make_unique<MLP>(Scope(ps), std::vector<i64>{8, 16, 4}); }
  std::unique_ptr<Sampler> make_sampler(const Shard&, std::uint64_t) override {
    struct Blobs : Sampler {
      i64 steps_per_epoch() const override { return 10; }
      i64 items_per_step() const override { return 32; }
      void get(i64 step, Batch& b) override {
        b.step = step;
        make_blobs(step, 32, b.x, b.y);
      }
    };
    return std::make_unique<Blobs>();
  }
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override {
    if (on_loss) on_loss(batch.step, ps);
    double noise = 0.01 * rng.uniform();  // a draw from the trainer's rng: a resume must restore it
    Var l = scale(t, softmax_cross_entropy(t, mlp_->forward(t, ps, t.input(batch.x)), batch.y), 1.0 + noise);
    if (after_forward) after_forward(batch.step, ps);
    return l;
  }
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard&) override {
    if (on_eval) on_eval(split, quick);
    check_stop();
    Tensor x, y;
    make_blobs(split == "valid" ? 100000 : 200000, 64, x, y);
    Tape t;
    Tape::NoGrad ng(t);
    Var logits = mlp_->forward(t, ps, t.input(x));
    EvalSums r;
    r.items = r.metric_items = 64;
    for (i64 i = 0; i < 64; ++i) {
      i64 best = 0;
      for (i64 c = 1; c < 4; ++c)
        if (logits.value().at(i * 4 + c) > logits.value().at(i * 4 + best)) best = c;
      r.metric += best != y.data<std::int32_t>()[i];
    }
    r.loss = 64 * softmax_cross_entropy(t, logits, y).value().item();
    return r;
  }
  Metric metric() const override { return {"error", false}; }
  const char* item_name() const override { return "examples"; }
  std::string describe() const override { return "blob MLP"; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override { return {"all", ps.count()}; }

 private:
  std::unique_ptr<MLP> mlp_;
};

Json blob_config(i64 steps, i64 eval_every = 5, i64 checkpoint_every = 5) {
  Json cfg = config_defaults("image");
  cfg["name"] = "blobs";
  cfg["train"]["steps"] = steps;
  cfg["train"]["eval_every"] = eval_every;
  cfg["train"]["checkpoint_every"] = checkpoint_every;
  cfg["train"]["lr"] = {{"type", "constant"}, {"lr", 0.01}};
  return cfg;
}

TrainOptions options(const std::string& dir, bool final_eval = false) {
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  o.final_eval = final_eval;
  return o;
}

// Runs `f` until it returns true or `seconds` pass, calling check_stop() (an evaluation's loop).
void spin_until_stopped(double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) check_stop();
}

// The rows of metrics.jsonl without their timing fields.
std::vector<Json> metric_rows(const std::string& dir) {
  std::vector<Json> rows = read_jsonl(dir + "/metrics.jsonl");
  for (auto& r : rows) {
    r.erase("seconds");
    r.erase("examples_per_second");
  }
  return rows;
}

}  // namespace

// ---- the lock ----

TEST_CASE("one lock per run directory: a second run on it fails at once naming the directory and the holder's pid") {
  TempDir d;
  const std::string dir = d / "run";
  make_dirs(dir);
  {
    RunLock first(dir);
    expect_refused("a second lock on a held directory", [&] { RunLock second(dir); },
                   {dir, "in use", "pid " + std::to_string(::getpid())});
    FaultTask t;
    expect_refused("a second run on a held directory", [&] { run_training(blob_config(5), t, options(dir)); }, {dir, "in use"});
    CHECK_FALSE(file_exists(dir + "/config.json"));  // refused before writing anything
  }
  CHECK_NOTHROW(RunLock{dir});  // released when its holder ends
  FaultTask t;
  CHECK_NOTHROW(run_training(blob_config(5), t, options(dir)));
  CHECK(file_exists(RunLock::file(dir)));
}

// ---- signals, in process ----

TEST_CASE("SIGINT, SIGTERM and SIGHUP each stop a run like Ctrl-C: evaluation, checkpoint, and an exact resume") {
  TempDir d;
  FaultTask ref_task;
  auto ref = run_training(blob_config(20), ref_task, options(d / "ref"));
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
    CAPTURE(Stopped::signal_name(sig));
    const std::string dir = d / ("run_" + Stopped::signal_name(sig));
    FaultTask t;
    t.on_loss = [&](i64 step, const ParamStore&) {
      if (step == 6) std::raise(sig);
    };
    CaptureStderr err;
    TrainOptions o = options(dir);
    o.quiet = false;
    auto s = run_training(blob_config(20), t, o);
    err.restore();
    CHECK(s.interrupted);
    CHECK(s.signal == sig);
    CHECK(s.last_step == 7);
    CHECK(load_checkpoint(dir + "/checkpoint.safetensors").meta["step"] == 7);
    CHECK(read_jsonl(dir + "/metrics.jsonl").back()["step"] == 7);  // the interrupt's evaluation
    CHECK(err.text().find("interrupted by " + Stopped::signal_name(sig) + " at step 7; checkpoint saved; continue with: hypertrain train --resume " +
                          dir) != std::string::npos);
    FaultTask r;
    TrainOptions ro = options(dir);
    ro.resume = true;
    auto rest = run_training(blob_config(20), r, ro);
    CHECK(rest.first_step == 7);
    for (std::size_t i = 0; i < rest.losses.size(); ++i) CHECK(rest.losses[i] == ref.losses[7 + i]);  // bit for bit
    ht::test::check_same_checkpoint(dir + "/checkpoint.safetensors", d / "ref/checkpoint.safetensors");
    // The interrupt's extra evaluation at step 7 aside, the rows are the uninterrupted run's; the
    // training loss of the next row (step 10) averages the steps since that extra evaluation.
    std::vector<Json> rows = metric_rows(dir), want = metric_rows(d / "ref");
    rows.erase(std::remove_if(rows.begin(), rows.end(), [](const Json& r) { return r["step"] == 7; }), rows.end());
    REQUIRE(rows.size() == want.size());
    CHECK(rows[1]["step"] == 10);
    rows[1].erase("train_loss"), want[1].erase("train_loss");
    CHECK(rows == want);
  }
}

TEST_CASE("a second signal during the interrupt's evaluation drops it, saves the checkpoint and stops at once") {
  TempDir d;
  const std::string dir = d / "run";
  FaultTask t;
  bool signalled = false;
  t.on_loss = [&](i64 step, const ParamStore&) {
    if (step == 7) signalled = true, std::raise(SIGTERM);
  };
  t.on_eval = [&](const std::string&, bool) {
    if (!signalled) return;
    std::raise(SIGHUP);       // the second signal, while the interrupt's evaluation runs
    spin_until_stopped(20);   // a long evaluation: only check_stop() ends it early
  };
  const auto t0 = std::chrono::steady_clock::now();
  CaptureStderr err;
  auto s = run_training(blob_config(100, 5, 50), t, options(dir));
  err.restore();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(err.text().find("interrupted by SIGTERM at step 8; checkpoint saved; continue with: hypertrain train --resume " + dir) !=
        std::string::npos);
  CHECK(seconds < 10);
  CHECK(s.interrupted);
  CHECK(s.signal == SIGTERM);
  CHECK(load_checkpoint(dir + "/checkpoint.safetensors").meta["step"] == 8);  // saved though checkpoint_every is 50
  CHECK(read_jsonl(dir + "/metrics.jsonl").back()["step"] == 5);      // the dropped evaluation wrote no row
  CHECK_FALSE(file_exists(dir + "/checkpoint.safetensors.tmp"));

  // Two signals during a periodic evaluation: the same (the evaluation dropped, a checkpoint saved).
  FaultTask p;
  p.on_eval = [&](const std::string&, bool quick) {
    static int calls = 0;
    if (!quick || ++calls != 2) return;  // the evaluation at step 10
    std::raise(SIGINT);
    std::raise(SIGINT);
    spin_until_stopped(20);
  };
  CaptureStderr err2;
  auto s2 = run_training(blob_config(100, 5, 50), p, options(d / "periodic"));
  err2.restore();
  CHECK(s2.interrupted);
  CHECK(s2.signal == SIGINT);
  CHECK(load_checkpoint(d / "periodic/checkpoint.safetensors").meta["step"] == 10);
  CHECK(read_jsonl(d / "periodic/metrics.jsonl").back()["step"] == 5);
}

TEST_CASE("Ctrl-C in the final evaluation stops it at once and still prints the resume hint; the resume finishes it") {
  TempDir d;
  const std::string dir = d / "run";
  FaultTask t;
  t.on_eval = [&](const std::string& split, bool quick) {
    if (quick || split != "test") return;
    std::raise(SIGINT);
    spin_until_stopped(20);
  };
  CaptureStderr err;
  auto s = run_training(blob_config(10), t, options(dir, true));
  err.restore();
  CHECK(s.interrupted);
  CHECK(s.signal == SIGINT);
  CHECK_FALSE(file_exists(dir + "/results.json"));
  CHECK(err.text().find("interrupted by SIGINT during the final evaluation (training is complete, step 10); continue with: hypertrain train --resume " +
                        dir) != std::string::npos);
  FaultTask again;
  TrainOptions o = options(dir, true);
  o.resume = true;
  auto done = run_training(blob_config(10), again, o);
  CHECK_FALSE(done.interrupted);
  CHECK(done.losses.empty());
  CHECK(file_exists(dir + "/results.json"));
  CHECK(done.results.contains("test_error"));
}

// ---- signals on the real binary ----

TEST_CASE("the real binary: each signal saves, prints the hint and exits 128 + its number; a second train on the directory fails at once") {
  TempDir d;
  const std::string data = d / "da\"ta\\dir";  // a path holding " and \ reaches the config as a JSON string
  ht::test::write_tiny_mnist(data, 200, 50);
  write_plain(d / "tiny.json", ht::test::tiny_fc_config(1000000, 10, 1000000));
  for (int sig : {SIGTERM, SIGHUP, SIGINT}) {
    const std::string name = Stopped::signal_name(sig), dir = d / ("run_" + name);
    CAPTURE(name);
    auto child = ht::test::spawn_hypertrain({"train", "--config", d / "tiny.json", "--out", dir, "--data", data}, d / (name + ".err"));
    REQUIRE(ht::test::wait_for([&] { return read_jsonl(dir + "/metrics.jsonl").size() >= 2; }, 60));
    if (sig == SIGTERM) {  // the lock, against another process
      auto second = ht::test::run_hypertrain({"train", "--resume", dir}, d / "second.err");
      CHECK(second.exit_code == 1);
      CHECK(second.err.find("run directory " + dir + " is in use by another training process (pid " + std::to_string(child.pid) + ",") !=
            std::string::npos);
    }
    REQUIRE(::kill(child.pid, sig) == 0);
    auto f = ht::test::wait_child(child);
    INFO(f.err);
    CHECK(f.exit_code == 128 + sig);
    CHECK(f.err.find("data: mnist from " + data + "/mnist") != std::string::npos);
    CHECK(f.err.find("interrupted by " + name + " at step ") != std::string::npos);
    CHECK(f.err.find("continue with: hypertrain train --resume " + dir) != std::string::npos);
    const Checkpoint ck = load_checkpoint(dir + "/checkpoint.safetensors");
    CHECK(ck.meta["step"].get<i64>() > 0);
    CHECK(read_json_file(dir + "/config.json", "run config")["data_dir"] == data);
    if (sig == SIGINT) {  // the run goes on from its checkpoint to a new end
      const i64 step = ck.meta["step"].get<i64>();
      auto resumed = ht::test::run_hypertrain({"train", "--resume", dir, "--steps", std::to_string(step + 5)}, d / "resume.err");
      INFO(resumed.err);
      CHECK(resumed.exit_code == 0);
      CHECK(resumed.err.find("resuming " + dir + " at step " + std::to_string(step)) != std::string::npos);
      CHECK(file_exists(dir + "/results.json"));
    }
  }
}

// ---- checkpoints from finite state only, and the NaN stop ----

TEST_CASE("a NaN loss stops the run naming the step and a checkpoint that is good") {
  TempDir d;
  const std::string dir = d / "run";
  FaultTask t;
  t.on_loss = [](i64 step, const ParamStore& ps) {  // the output bias: every logit NaN
    if (step == 7) ps.value(ps.size() - 1).data<float>()[0] = std::nanf("");
  };
  expect_refused("a NaN training loss", [&] { run_training(blob_config(20), t, options(dir)); },
                 {"the training loss is nan at step 7", "the last good checkpoint is " + dir + "/checkpoint.safetensors (step 5, written from finite parameters)"});
  const Checkpoint ck = load_checkpoint(dir + "/checkpoint.safetensors");
  CHECK(ck.meta["step"] == 5);
  CHECK(first_nonfinite(ck.tensors).name.empty());
}

TEST_CASE("parameters that blow up after a finite loss: no checkpoint and no best.safetensors is written from them") {
  TempDir d;
  // The loss of step 9 is finite; a weight becomes infinite after the forward, so the backward and
  // the update make the parameters NaN (a blow-up). The evaluation at step 10 is not finite: the
  // run stops before writing anything from it.
  auto blow_up = [](i64 step, const ParamStore& ps) {
    if (step == 9) ps.value(0).data<float>()[3] = std::numeric_limits<float>::infinity();
  };
  {
    FaultTask t;
    t.after_forward = blow_up;
    const std::string dir = d / "eval";
    expect_refused("a non-finite validation", [&] { run_training(blob_config(20), t, options(dir)); },
                   {"the validation loss is", "at step 10", dir + "/checkpoint.safetensors (step 5"});
    CHECK(load_checkpoint(dir + "/checkpoint.safetensors").meta["step"] == 5);
    CHECK(load_checkpoint(dir + "/best.safetensors").meta["step"] == 5);
    for (const auto& row : read_jsonl(dir + "/metrics.jsonl")) CHECK(row["valid_loss"].is_number());
  }
  {  // no evaluation at step 10: the checkpoint itself refuses the state
    FaultTask t;
    t.after_forward = blow_up;
    const std::string dir = d / "save";
    expect_refused("a checkpoint of non-finite state", [&] { run_training(blob_config(20, 100, 5), t, options(dir)); },
                   {"tensor 'param.", "after step 10", dir + "/checkpoint.safetensors (step 5"});
    const Checkpoint ck = load_checkpoint(dir + "/checkpoint.safetensors");
    CHECK(ck.meta["step"] == 5);
    CHECK(first_nonfinite(ck.tensors).name.empty());
    CHECK_FALSE(file_exists(dir + "/checkpoint.safetensors.tmp"));
  }
}

// ---- metrics.jsonl and atomic writes ----

TEST_CASE("metrics.jsonl: a torn line is skipped with a warning and the rows after it are kept on resume") {
  TempDir d;
  const std::string dir = d / "run";
  FaultTask a;
  run_training(blob_config(30), a, options(dir));
  std::string text = read_text(dir + "/metrics.jsonl");
  REQUIRE(read_jsonl(dir + "/metrics.jsonl").size() == 6);
  // Tear the second row in the middle (a crash mid-append, then more rows written after it).
  const std::size_t second = text.find('\n') + 1;
  text.erase(second + 10, text.find('\n', second) - second - 10);
  write_text_atomic(dir + "/metrics.jsonl", text);
  CaptureStderr err;
  auto rows = read_jsonl(dir + "/metrics.jsonl");
  err.restore();
  CHECK(rows.size() == 5);
  CHECK(rows.back()["step"] == 30);
  CHECK(err.text().find("warning: " + dir + "/metrics.jsonl line 2 is not a JSON object") != std::string::npos);
  // A resume from an earlier checkpoint keeps every row up to it, the torn one dropped.
  FaultTask b;
  TrainOptions o = options(dir);
  o.resume = true;
  CaptureStderr quiet;
  run_training(blob_config(40), b, o);
  quiet.restore();
  auto after = read_jsonl(dir + "/metrics.jsonl");
  CHECK(after.size() == 7);
  CHECK(after.back()["step"] == 40);
}

TEST_CASE("a write error on metrics.jsonl fails the run naming the file") {
  expect_refused("append to a full device", [] { append_jsonl("/dev/full", {{"step", 1}}); }, {"/dev/full", "No space left on device"});
  TempDir d;
  const std::string dir = d / "run";
  FaultTask t;
  t.on_loss = [&](i64 step, const ParamStore&) {  // once the run is open: its metrics go to a full device
    if (step == 0) std::filesystem::remove(dir + "/metrics.jsonl"), std::filesystem::create_symlink("/dev/full", dir + "/metrics.jsonl");
  };
  expect_refused("a run whose metrics go to a full device", [&] { run_training(blob_config(10), t, options(dir)); },
                 {dir + "/metrics.jsonl", "No space left on device"});
}

TEST_CASE("a failed atomic write removes its .tmp and names the file") {
  TempDir d;
  make_dirs(d / "full/inside");  // a rename over a non-empty directory fails
  expect_refused("rename over a directory", [&] { write_text_atomic(d / "full", "x"); }, {d / "full.tmp", d / "full"});
  CHECK_FALSE(file_exists(d / "full.tmp"));
  std::filesystem::create_symlink("/dev/full", d / "out.json.tmp");  // the write itself fails
  expect_refused("write to a full device", [&] { write_text_atomic(d / "out.json", "{}"); }, {d / "out.json.tmp", "No space left"});
  CHECK_FALSE(std::filesystem::exists(std::filesystem::symlink_status(d / "out.json.tmp")));
  CHECK_FALSE(file_exists(d / "out.json"));
  write_text_atomic(d / "ok.json", "{}");
  CHECK(read_text(d / "ok.json") == "{}");
}

// ---- resume edge cases ----

TEST_CASE("resume: --steps below the checkpoint is an error naming both; a run stopped before its first checkpoint starts again") {
  TempDir d;
  const std::string dir = d / "run";
  FaultTask a;
  run_training(blob_config(10), a, options(dir));
  FaultTask b;
  TrainOptions o = options(dir);
  o.resume = true;
  expect_refused("--steps below the checkpoint's step", [&] { run_training(blob_config(5), b, o); }, {"'train.steps' (= 5)", "step of", "(10)"});
  // A directory with a config but no checkpoint yet (killed early): the resume starts from step 0.
  const std::string early = d / "early";
  make_dirs(early);
  write_text_atomic(early + "/config.json", blob_config(10).dump());
  FaultTask c, ref;
  TrainOptions eo = options(early);
  eo.resume = true;
  auto s = run_training(blob_config(10), c, eo);
  auto r = run_training(blob_config(10), ref, options(d / "ref"));
  CHECK(s.first_step == 0);
  CHECK(s.losses == r.losses);
}

TEST_CASE("bad inputs tried by this suite") {
  MESSAGE("test_faults_run tried " << ht::test::bad_inputs_tried() << " bad inputs and faults");
  CHECK(ht::test::bad_inputs_tried() == 10);  // the README's count (What a run promises) adds this
}
