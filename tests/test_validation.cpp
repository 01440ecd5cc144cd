// Validation that a zero-state start does not fool (train/charlm_task.h, StreamStart), on a small
// LSTM trained on real Penn Treebank characters, `eval --burn-in`, and the time budget
// (train.max_seconds).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/checkpoint.h"
#include "train/charlm_task.h"
#include "train/config.h"
#include "train/run_files.h"
#include "train/trainer.h"
#include "tests/files.h"

using namespace ht;

namespace {

std::string ptb_root() {
  const char* env = std::getenv("HYPERTRAIN_DATA");
  return env ? std::string(env) : std::string("../shared/data");
}
bool have_ptb() { return std::filesystem::exists(ptb_root() + "/ptb"); }

// What a command prints on stdout.
std::string stdout_of(int (*cmd)(int, char**), const std::vector<std::string>& args) {
  ht::test::CaptureFd out(1);
  const int rc = ht::test::run_cmd(cmd, args);
  const std::string text = out.text();
  out.restore();  // before the CHECK, whose report goes to stdout
  CHECK(rc == 0);
  return text;
}

// A 32-unit LSTM without dropout; validation reads the first 6,000 characters of valid as 60
// streams of 100, each after a burn-in of 300 characters.
Json small_lm(i64 steps) {
  Json cfg = load_config("configs/ptb/lstm-1000.json",
                         {"model.hidden=32", "model.input_dropout=0", "model.output_dropout=0", "model.recurrent_dropout=0", "train.batch=16",
                          "train.seq=50", "train.steps=" + std::to_string(steps), "train.eval_every=20", "train.checkpoint_every=20",
                          "train.eval_chars=6000", "train.eval_batch=60", "train.eval_burn_in=300", "train.threads=1",
                          "train.lr={\"type\":\"constant\",\"lr\":0.05}", "name=\"burn-in\""});
  cfg["data_dir"] = ptb_root();
  return cfg;
}

}  // namespace

TEST_CASE("validation after a burn-in reads short streams as one stream does, and picks the step one stream prefers") {
  if (!have_ptb()) {
    MESSAGE("no Penn Treebank under $HYPERTRAIN_DATA or ../shared/data: skipped");
    return;
  }
  const std::string dir = ht::test::scratch_root("validation") + "/run";
  std::filesystem::remove_all(dir);
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  o.final_eval = false;
  // Trained 20 steps at a time (a resume is exact), each checkpoint evaluated three ways on the
  // validation prefix the trainer reads: one stream (after a burn-in on train's end: the
  // reference), 60 streams from a zero state, 60 streams after a burn-in (the trainer's figure).
  const int kEvals = 8;
  std::vector<double> one, zero, burned;
  TrainSummary last;
  CharLMTask eval(small_lm(20));
  ParamStore ps;
  eval.build(ps);
  Rng rng(0);
  ps.finalize(rng);
  const auto& valid = eval.corpus().valid;
  const std::vector<std::int32_t> prefix(valid.begin(), valid.begin() + 6000);
  const StreamStart start{300, &eval.corpus().train};
  for (int k = 1; k <= kEvals; ++k) {
    const Json cfg = small_lm(20 * k);
    CharLMTask task(cfg);
    o.resume = k > 1;
    last = run_training(cfg, task, o);
    REQUIRE(last.last_step == 20 * k);
    restore_params(ps, load_checkpoint(dir + "/checkpoint.safetensors"));
    one.push_back(charlm_evaluate(eval.model(), ps, prefix, 1, 100, start).metric);
    EvalSums z;
    const StreamStart both{300, &eval.corpus().train, &z};
    burned.push_back(EvalResult::from(charlm_evaluate_sums(eval.model(), ps, prefix, 60, 100, {}, both)).metric);
    zero.push_back(EvalResult::from(z).metric);
    // the zero-state twin computed in the same batch is the plain zero-state evaluation
    CHECK(zero.back() == doctest::Approx(charlm_evaluate(eval.model(), ps, prefix, 60, 100).metric).epsilon(1e-5));
    MESSAGE("step " << 20 * k << ": one stream " << one.back() << ", 60 streams from zero " << zero.back() << ", after a burn-in "
                    << burned.back());
  }
  // The trainer's validation figure is the burn-in one (to float rounding: it ran on one thread).
  const auto rows = read_jsonl(dir + "/metrics.jsonl");
  REQUIRE(rows.size() == std::size_t(kEvals));
  for (int k = 0; k < kEvals; ++k) CHECK(rows[std::size_t(k)]["valid_bpc"].get<double>() == doctest::Approx(burned[std::size_t(k)]).epsilon(1e-5));
  int best_one = 0, best_zero = 0;
  for (int k = 0; k < kEvals; ++k) {
    // From zero, a stream of 100 reads its first characters without context: once the model
    // uses context (step 60 on) the two starts differ (0.012-0.033 bpc here), by more than the
    // burn-in figure differs from one stream's (0.004-0.006: the 60 streams leave out each
    // stream's first character).
    if (k >= 2) CHECK(zero[std::size_t(k)] - burned[std::size_t(k)] > 0.008);
    CHECK(std::abs(burned[std::size_t(k)] - one[std::size_t(k)]) < 0.008);
    if (one[std::size_t(k)] < one[std::size_t(best_one)]) best_one = k;
    if (zero[std::size_t(k)] < zero[std::size_t(best_zero)]) best_zero = k;
  }
  // On this small model the three agree (and the curve falls, so the best step is the last); the
  // LN-LSTM of the README is where the zero-state figure chose a wrong step.
  MESSAGE("best step: one stream " << 20 * (best_one + 1) << ", zero-state streams " << 20 * (best_zero + 1) << ", trainer "
                                   << last.best_step);
  CHECK(last.best_step == 20 * (best_one + 1));
}

TEST_CASE("eval --burn-in reports both starts; a run stops at its time budget") {
  if (!have_ptb()) {
    MESSAGE("no Penn Treebank under $HYPERTRAIN_DATA or ../shared/data: skipped");
    return;
  }
  const std::string dir = ht::test::scratch_root("validation") + "/budget";
  std::filesystem::remove_all(dir);
  Json cfg = small_lm(100000);
  cfg["train"]["max_seconds"] = 1.0;
  cfg["train"]["eval_every"] = 100000;
  cfg["train"]["final_streams"] = 16;
  CharLMTask task(cfg);
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  const TrainSummary s = run_training(cfg, task, o);
  CHECK(s.out_of_time);
  CHECK(s.last_step < 100000);
  CHECK(s.results["stopped_at_time_budget"] == true);
  CHECK(s.results["train_seconds"].get<double>() >= 1.0);
  CHECK(s.results["train_seconds"].get<double>() < 10.0);
  CHECK(s.best_step == s.last_step);  // the step that crossed the budget was evaluated and kept
  CHECK(file_exists(dir + "/best.safetensors"));

  auto json_of = [](const std::vector<std::string>& args) { return Json::parse(stdout_of(cmd_eval, args)); };
  Json test = json_of({"eval", "--checkpoint", dir, "--split", "test", "--burn-in", "500", "--json"});
  CHECK(test["burn_in"] == 500);
  CHECK(test["zero_start_bpc"].get<double>() != test["bpc"].get<double>());
  CHECK(std::abs(test["zero_start_bpc"].get<double>() - test["bpc"].get<double>()) < 0.05);  // one long stream: a small difference
  Json streams = json_of({"eval", "--checkpoint", dir, "--split", "test", "--burn-in", "500", "--streams", "64", "--json"});
  CHECK(streams["zero_start_bpc"].get<double>() != streams["bpc"].get<double>());  // (a model of one second uses little context)
  CHECK(std::abs(streams["bpc"].get<double>() - test["bpc"].get<double>()) < 0.01);
  // Nothing comes before the training split, so no burn-in there (checked on the task: a pass
  // over its 5M characters is too slow under the sanitizers).
  CHECK(task.text_before("train").empty());
  CHECK(StreamStart{500, &task.text_before("train")}.used() == 0);
  CHECK(StreamStart{500, &task.text_before("test")}.used() == 500);
  CHECK_THROWS_WITH(ht::test::run_cmd(cmd_eval, {"eval", "--checkpoint", dir, "--burn-in", "-1"}), doctest::Contains("burn-in"));
  CHECK_THROWS_WITH(ht::test::run_cmd(cmd_eval, {"eval", "--checkpoint", dir, "--burn-in", "10", "--streams", "0"}),
                    doctest::Contains("--streams"));
}
