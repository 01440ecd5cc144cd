// Where data comes from and what it must hold (issue 12, items 2, 4, 7, 8, 9): one directory per
// data set (a given --data is the only place searched; no file-by-file fallback), splits too small
// for the config refused before any step, pen bits other than 0/1, and the commands that read a run
// (eval, sample, report, plot) refusing what they cannot do in words that name the file, key or
// run: NaN weights, missing checkpoints, broken run files, unbounded lengths.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "train/charlm_task.h"
#include "cli/commands.h"
#include "train/config.h"
#include "train/handwriting_task.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "data/io.h"
#include "data/mnist.h"
#include "data/strokes.h"
#include "engine/checkpoint.h"
#include "engine/ops/loss.h"
#include "models/mlp.h"
#include "tests/faults.h"
#include "tests/files.h"

using namespace ht;
using ht::test::CaptureStderr;
using ht::test::EnvGuard;
using ht::test::expect_refused;
using ht::test::run_cmd;
using ht::test::TempDir;
using ht::test::write_plain;

namespace {

// IAM-OnDB's two-file form under dir/iam_ondb: `train` and `valid` lines of `points` points each
// (random offsets, the pen lifted every 7th point), `pen` written as the last point's pen bit.
void write_tiny_iam(const std::string& dir, int train, int valid, int points, int valid_points, int last_pen = 1) {
  Rng r(3);
  std::string tsv = "line_id\tsplit\tfirst_point\tnum_points\ttext\n", pts;
  int first = 0;
  auto line = [&](const std::string& id, const char* split, int n) {
    tsv += id + "\t" + split + "\t" + std::to_string(first) + "\t" + std::to_string(n) + "\tsome text\n";
    for (int p = 0; p < n; ++p) {
      const int v[3] = {int(r.below(41)) - 20, int(r.below(41)) - 20, p + 1 == n ? last_pen : p % 7 == 6};
      for (int x : v) {
        auto u = std::uint16_t(std::int16_t(x));
        pts += char(u & 0xff);
        pts += char(u >> 8);
      }
    }
    first += n;
  };
  for (int i = 0; i < train; ++i) line(std::string("t").append(std::to_string(i)), "train", points);  // not "t" + ...: GCC 12's false -Wrestrict
  for (int i = 0; i < valid; ++i) line(std::string("v").append(std::to_string(i)), "valid", valid_points);
  write_plain(dir + "/iam_ondb/lines.tsv", tsv);
  write_plain(dir + "/iam_ondb/points.i16le", pts);
}

Json handwriting_user(const std::string& data_dir) {
  return {{"task", "handwriting"}, {"name", "tiny-iam"}, {"data_dir", data_dir}, {"min_points", 20},
          {"model", {{"cell", "hyperlstm"}, {"hidden", 8}, {"hyper", 4}, {"embed", 2}, {"mixtures", 2}}},
          {"train", {{"batch", 2}, {"seq", 10}, {"steps", 2}, {"eval_every", 2}, {"eval_batch", 2}, {"eval_seq", 10}, {"threads", 1}}}};
}

std::string ptb_lines(int lines) {
  std::string out;
  for (int l = 0; l < lines; ++l) out += " t h e _ c a t _ s a t \n";
  return out;
}

Json charlm_user(const std::string& data_dir) {
  return {{"task", "charlm"}, {"name", "tiny-lm"}, {"data_dir", data_dir},
          {"model", {{"cell", "lstm"}, {"hidden", 8}}},
          {"train", {{"batch", 2}, {"seq", 5}, {"steps", 2}, {"eval_every", 2}, {"eval_batch", 2}, {"eval_seq", 5}, {"threads", 1}}}};
}

// Trains `user` for its steps into dir (no output).
void train_quietly(const Json& user, const std::string& dir) {
  Json cfg = resolve_config(user, "test");
  auto task = make_task(cfg);
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  run_training(cfg, *task, o);
}

// Sets one parameter of both checkpoints of a run to NaN.
void poison_run(const std::string& dir) {
  for (const std::string f : {"/best.safetensors", "/checkpoint.safetensors"}) {
    Checkpoint ck = load_checkpoint(dir + f);
    for (auto& [name, t] : ck.tensors)
      if (name.rfind("param.", 0) == 0) {
        t.data<float>()[0] = std::nanf("");
        break;
      }
    save_checkpoint(dir + f, ck.tensors, ck.meta);
  }
}

// A task whose evaluation scores nothing (an empty split).
struct EmptyEvalTask : Task {
  std::unique_ptr<MLP> mlp;
  void build(ParamStore& ps) override { mlp = std::make_unique<MLP>(Scope(ps), std::vector<i64>{2, 2}); }
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
    return softmax_cross_entropy(t, mlp->forward(t, ps, t.input(b.x)), b.y);
  }
  EvalSums evaluate_sums(const ParamStore&, const std::string&, bool, const Shard&) override { return {}; }
  Metric metric() const override { return {"error", false}; }
  const char* item_name() const override { return "images"; }
  std::string describe() const override { return "empty"; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override { return {"all", ps.count()}; }
};

}  // namespace

// ---- one rule for where data comes from ----

TEST_CASE("a --data that does not exist, or lacks a file, is an error naming it, never a fallback to $HYPERTRAIN_DATA") {
  TempDir d;
  ht::test::write_tiny_mnist(d / "env", 200, 50);
  EnvGuard env("HYPERTRAIN_DATA", d / "env"), home("HOME", d / "home");
  write_plain(d / "tiny.json", ht::test::tiny_fc_config(5));
  auto train = [&](const std::string& data, const std::string& out) {
    run_cmd(cmd_train, {"train", "--config", d / "tiny.json", "--out", out, "--data", data, "--quiet"});
  };
  expect_refused("--data that does not exist", [&] { train(d / "nowhere", d / "run1"); },
                 {"--data " + (d / "nowhere") + " is not a directory (it does not exist)", "no other place is searched"});
  CHECK_FALSE(file_exists(d / "run1"));  // the directory made for the run is gone again
  write_plain(d / "afile", "x");
  expect_refused("--data that is a file", [&] { train(d / "afile", d / "run2"); }, {"--data " + (d / "afile"), "(it is a file)"});
  ht::test::write_tiny_mnist(d / "partial", 200, 50);
  std::filesystem::remove(d / "partial/mnist/t10k-labels-idx1-ubyte");
  expect_refused("--data lacking the test labels", [&] { train(d / "partial", d / "run3"); },
                 {"cannot find t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte in " + (d / "partial/mnist"), "from --data " + (d / "partial")});
  // Without --data, $HYPERTRAIN_DATA's copy is read, and the run says so.
  CaptureStderr err;
  run_cmd(cmd_train, {"train", "--config", d / "tiny.json", "--out", d / "run4"});
  err.restore();
  CHECK(err.text().find("data: mnist from " + (d / "env/mnist")) != std::string::npos);
  CHECK(read_json_file(d / "run4/results.json", "results")["data_source"] == d / "env/mnist");
}

TEST_CASE("without --data, the first data-set directory found is the only one read: its missing file is not taken from another copy") {
  TempDir d;
  ht::test::write_tiny_mnist(d / "env", 200, 50);
  ht::test::write_tiny_mnist(d / "home/.cache/hypertrain", 200, 50);
  std::filesystem::remove(d / "env/mnist/t10k-labels-idx1-ubyte");
  EnvGuard env("HYPERTRAIN_DATA", d / "env"), home("HOME", d / "home");
  expect_refused("$HYPERTRAIN_DATA's copy lacking a file", [&] { load_mnist("mnist", "", 50); },
                 {"cannot find t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte in " + (d / "env/mnist")});
  std::filesystem::remove_all(d / "env/mnist");
  CHECK(load_mnist("mnist", "", 50).source == d / "home/.cache/hypertrain/mnist");
}

TEST_CASE("a data path holding quotes and backslashes reaches the config whole (a JSON string, never JSON text)") {
  TempDir d;
  const std::string data = d / "q\"uo\\te, d";
  ht::test::write_tiny_mnist(data, 200, 50);
  write_plain(d / "tiny.json", ht::test::tiny_fc_config(5));
  CHECK(run_cmd(cmd_train, {"train", "--config", d / "tiny.json", "--out", d / "run", "--data", data, "--quiet"}) == 0);
  CHECK(read_json_file(d / "run/config.json", "run config")["data_dir"] == data);
  CHECK(run_cmd(cmd_eval, {"eval", "--checkpoint", d / "run", "--data", data, "--json"}) == 0);
}

// ---- splits too small for the config, refused before any step ----

TEST_CASE("splits too small for the config are errors naming the key and the data, before any step") {
  TempDir d;
  ht::test::write_tiny_mnist(d.path.string(), 60, 20);
  Json fc = {{"data_dir", d.path.string()}, {"model", {{"arch", "fc"}, {"hidden", 16}}}};
  expect_refused("train.batch above the training images", [&] { make_task(resolve_config(fc, "t", {"train.batch=100", "train.valid_size=10"})); },
                 {"'train.batch' (= 100)", "50 training images", d / "mnist", "train.valid_size = 10"});
  expect_refused("train.valid_size taking every image", [&] { make_task(resolve_config(fc, "t", {"train.batch=10", "train.valid_size=60"})); },
                 {"leave none for training"});

  for (const char* split : {"train", "valid", "test"}) write_plain(d / (std::string("ptb/ptb.char.") + split + ".txt"), ptb_lines(3));
  const Json lm = charlm_user(d.path.string());
  CHECK_NOTHROW(make_task(resolve_config(lm, "t")));
  expect_refused("more validation streams than symbols", [&] { make_task(resolve_config(lm, "t", {"train.eval_batch=40"})); },
                 {"'train.eval_batch' (= 40)", "the validation split of ptb in " + (d / "ptb")});
  expect_refused("a validation prefix too short", [&] { make_task(resolve_config(lm, "t", {"train.eval_chars=10", "train.eval_batch=6"})); },
                 {"'train.eval_batch' (= 6)", "train.eval_chars"});
  expect_refused("more training streams than symbols", [&] { make_task(resolve_config(lm, "t", {"train.batch=1000"})); },
                 {"'train.batch' (= 1000)", "training split"});

  write_tiny_iam(d / "short", 4, 3, 30, 10);  // every validation line under min_points
  expect_refused("an empty handwriting validation split", [&] { make_task(resolve_config(handwriting_user(d / "short"), "t")); },
                 {"validation split of iam_ondb in " + (d / "short/iam_ondb"), "min_points (= 20)"});
}

TEST_CASE("an evaluation that scores nothing stops the run naming the split instead of reporting 0") {
  EmptyEvalTask task;
  TempDir d;
  Json cfg = config_defaults("image");
  cfg["train"]["steps"] = 4;
  cfg["train"]["eval_every"] = 2;
  TrainOptions o;
  o.run_dir = d / "run";
  o.quiet = true;
  expect_refused("an empty validation split", [&] { run_training(cfg, task, o); }, {"the 'valid' split scored no images", "empty"});
}

TEST_CASE("pen bits other than 0 and 1 in IAM-OnDB files are errors naming the file and the point") {
  TempDir d;
  write_tiny_iam(d.path.string(), 3, 1, 30, 30, 2);
  expect_refused("a pen bit of 2", [&] { load_iam_ondb(d.path.string(), 20); }, {d / "iam_ondb/points.i16le", "point 29", "pen bit 2"});
  write_tiny_iam(d.path.string(), 3, 1, 30, 30, -1);
  expect_refused("a pen bit of -1", [&] { load_iam_ondb(d.path.string(), 20); }, {"pen bit -1", "must be 0 or 1"});
  write_tiny_iam(d.path.string(), 3, 1, 30, 30, 1);
  CHECK(load_iam_ondb(d.path.string(), 20).valid.size() == 1);
}

// ---- commands that read a run ----

TEST_CASE("eval and sample refuse NaN weights and lengths without bound, naming the checkpoint or option") {
  TempDir d;
  for (const char* split : {"train", "valid", "test"}) write_plain(d / (std::string("ptb/ptb.char.") + split + ".txt"), ptb_lines(12));
  train_quietly(charlm_user(d.path.string()), d / "lm");
  const std::string lm = d / "lm";
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", lm, "--prime", "the", "--length", "5", "--out", d / "s.txt"}) == 0);
  expect_refused("sample --length 1e11", [&] { run_cmd(cmd_sample, {"sample", "--checkpoint", lm, "--prime", "the", "--length", "1e11"}); },
                 {"--length '1e11'"});
  expect_refused("sample --length 100000000000", [&] {
    run_cmd(cmd_sample, {"sample", "--checkpoint", lm, "--prime", "the", "--length", "100000000000"});
  }, {"--length must be in [0, 1000000]"});

  write_tiny_iam(d.path.string(), 4, 2, 30, 30);
  train_quietly(handwriting_user(d.path.string()), d / "hw");
  expect_refused("handwriting --length 1e8", [&] {
    run_cmd(cmd_sample, {"sample", "--checkpoint", d / "hw", "--length", "100000000", "--out", d / "s.png"});
  }, {"--length must be in [1, 100000]"});

  {  // a flipped byte in the best checkpoint: eval and sample refuse it, naming the file
    const std::string best = lm + "/best.safetensors";
    std::string bytes = ht::test::read_bytes(best);
    const std::string good = bytes;
    bytes[bytes.size() - 7] ^= 0x04;
    write_plain(best, bytes);
    expect_refused("eval of a flipped byte", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", lm}); }, {best, "data checksum mismatch"});
    expect_refused("sample from a flipped byte", [&] { run_cmd(cmd_sample, {"sample", "--checkpoint", lm, "--prime", "the"}); },
                   {best, "checksum"});
    write_plain(best, good);
  }
  poison_run(lm);
  expect_refused("eval on NaN weights", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", lm}); }, {lm + "/best.safetensors", "tensor 'param.", "not finite"});
  expect_refused("sample from NaN weights", [&] { run_cmd(cmd_sample, {"sample", "--checkpoint", lm, "--prime", "the"}); },
                 {lm + "/best.safetensors", "not finite"});
}

TEST_CASE("report, plot and eval name the run, file or task they cannot use") {
  TempDir d;
  ht::test::write_tiny_mnist(d.path.string(), 200, 50);
  write_plain(d / "tiny.json", ht::test::tiny_fc_config(10));
  REQUIRE(run_cmd(cmd_train, {"train", "--config", d / "tiny.json", "--out", d / "run", "--data", d.path.string(), "--quiet"}) == 0);
  const std::string run = d / "run";
  CaptureStderr out;  // report prints its table on stdout; nothing to read there
  CHECK(run_cmd(cmd_report, {"report", run}) == 0);
  out.restore();

  expect_refused("report /no/such", [&] { run_cmd(cmd_report, {"report", "/no/such"}); }, {"/no/such does not exist"});
  make_dirs(d / "notrun");
  expect_refused("report a directory that is no run", [&] { run_cmd(cmd_report, {"report", d / "notrun"}); }, {d / "notrun", "not a run directory"});
  expect_refused("plot curves of no run", [&] { run_cmd(cmd_plot, {"plot", "curves", "--run", d / "notrun", "--out", d / "c.png"}); },
                 {d / "notrun", "not a run directory"});
  expect_refused("eval of no run", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", d / "notrun"}); }, {d / "notrun", "not a run directory"});

  // A run directory whose files are damaged.
  const std::string broken = d / "broken";
  std::filesystem::copy(run, broken);
  write_plain(broken + "/results.json", "{\"name\": \"x\", ");
  expect_refused("report a broken results.json", [&] { run_cmd(cmd_report, {"report", broken}); },
                 {"results file '" + broken + "/results.json' is not valid JSON"});
  write_plain(broken + "/results.json", "{\"name\": \"x\", \"data\": \"mnist\", \"model\": \"m\", \"steps\": 3}");
  expect_refused("report a results.json without its numbers", [&] { run_cmd(cmd_report, {"report", broken}); },
                 {broken + "/results.json", "'test_error'"});
  write_plain(broken + "/config.json", "{\"task\": ");
  expect_refused("eval with a broken config.json", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", broken}); },
                 {"run config '" + broken + "/config.json' is not valid JSON"});
  expect_refused("resume with a broken config.json", [&] { run_cmd(cmd_train, {"train", "--resume", broken}); },
                 {"run config '" + broken + "/config.json' is not valid JSON"});
  expect_refused("plot kernels with a broken config.json", [&] { run_cmd(cmd_plot, {"plot", "kernels", "--run", broken}); },
                 {broken + "/config.json"});
  const std::string empty = d / "nocheckpoint";
  make_dirs(empty);
  std::filesystem::copy(run + "/config.json", empty + "/config.json");
  expect_refused("eval of a run without a checkpoint", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", empty}); }, {empty, "no checkpoint yet"});

  // plot kernels on a run of another task.
  const std::string lm = d / "lm";
  make_dirs(lm);
  write_text_atomic(lm + "/config.json", resolve_config({{"task", "charlm"}}, "t").dump());
  expect_refused("plot kernels on a character run", [&] { run_cmd(cmd_plot, {"plot", "kernels", "--run", lm, "--out", d / "k.png"}); },
                 {"plot kernels needs a run of task image", lm, "\"charlm\""});

  // A metrics row holding null (an older run's NaN) is left out of the curves, not an error.
  std::string rows = read_text(run + "/metrics.jsonl");
  write_text_atomic(run + "/metrics.jsonl", rows + "{\"step\": 11, \"valid_error\": null, \"seconds\": 1.0, \"train_loss\": null}\n");
  CHECK(run_cmd(cmd_plot, {"plot", "curves", "--run", run, "--out", d / "c.png"}) == 0);
}

TEST_CASE("bad inputs tried by this suite") {
  MESSAGE("test_faults_data tried " << ht::test::bad_inputs_tried() << " bad inputs");
  CHECK(ht::test::bad_inputs_tried() == 31);  // the README's count (What a run promises) adds this
}
