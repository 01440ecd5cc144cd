// SIGKILL at random moments (issue 12, "What it must show"): the real hypertrain binary trains a
// tiny MNIST fully connected model on synthetic IDX files, is killed with SIGKILL again and again
// (at least five times, at least once while a checkpoint is being written: the test makes each
// save pause between its finished temporary file and the rename), resumed each time, and must end
// with checkpoints, metrics and results bit-identical to a run that was never interrupted.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "train/config.h"
#include "train/run_files.h"
#include "engine/checkpoint.h"
#include "tests/faults.h"
#include "tests/files.h"

using namespace ht;
using ht::test::TempDir;

namespace {

std::vector<Json> rows_without_timing(const std::string& path) {
  std::vector<Json> rows = read_jsonl(path);
  for (auto& r : rows) r.erase("seconds"), r.erase("images_per_second");
  return rows;
}

}  // namespace

TEST_CASE("SIGKILL at random moments, once or more mid-checkpoint: the resumed run ends bit-identical to an uninterrupted one") {
  TempDir d;
  const std::string data = d / "data", cfg = d / "tiny.json", ref = d / "ref", run = d / "run";
  ht::test::write_tiny_mnist(data, 300, 50);
  ht::test::write_plain(cfg, ht::test::tiny_fc_config(1500, 10, 5));

  // The uninterrupted run; how long it takes to write its first checkpoint sets the range of the
  // kill delays (a sanitizer build starts far slower than a Release one).
  const auto t0 = std::chrono::steady_clock::now();
  auto ref_child = ht::test::spawn_hypertrain({"train", "--config", cfg, "--out", ref, "--data", data, "--quiet"}, d / "ref.err");
  REQUIRE(ht::test::wait_for([&] { return file_exists(ref + "/checkpoint.safetensors"); }, 120));
  const int first_ms = int(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  auto reference = ht::test::wait_child(ref_child);
  INFO(reference.err);
  REQUIRE(reference.exit_code == 0);

  const unsigned seed = std::random_device{}();
  MESSAGE("kill delays drawn with seed " << seed << " from [5, " << first_ms + 250 << "] ms");
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> delay_ms(5, first_ms + 250);
  const std::vector<std::string> slow = {"HYPERTRAIN_TEST_SLOW_CHECKPOINT_MS=4"};
  int kills = 0, mid_write = 0, before_checkpoint = 0, finished_early = 0;
  for (int attempt = 0; attempt < 60 && (kills < 5 || mid_write < 1); ++attempt) {
    // A run killed before it wrote its config is started again; any other is resumed.
    const bool started = file_exists(run + "/config.json");
    std::vector<std::string> args = started ? std::vector<std::string>{"train", "--resume", run, "--quiet"}
                                            : std::vector<std::string>{"train", "--config", cfg, "--out", run, "--data", data, "--quiet"};
    auto child = ht::test::spawn_hypertrain(args, d / "run.err", slow);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(gen)));
    ::kill(child.pid, SIGKILL);
    auto f = ht::test::wait_child(child);
    if (f.signal != SIGKILL) {  // it ended before the kill: the run is complete
      INFO(f.err);
      REQUIRE(f.exit_code == 0);
      ++finished_early;
      break;
    }
    ++kills;
    if (file_exists(run + "/checkpoint.safetensors.tmp") || file_exists(run + "/best.safetensors.tmp")) ++mid_write;
    if (!file_exists(run + "/checkpoint.safetensors")) ++before_checkpoint;
    // Whatever the moment, the checkpoints on disk are whole and finite.
    for (const char* name : {"/checkpoint.safetensors", "/best.safetensors"})
      if (file_exists(run + name)) {
        Checkpoint ck = load_checkpoint(run + name);
        CHECK(first_nonfinite(ck.tensors).name.empty());
      }
  }
  MESSAGE(kills << " kills: " << mid_write << " while a checkpoint was being written, " << before_checkpoint
                << " before the first checkpoint");
  CHECK(kills >= 5);
  CHECK(mid_write >= 1);

  if (!finished_early) {
    auto last = ht::test::run_hypertrain({"train", "--resume", run, "--quiet"}, d / "last.err");
    INFO(last.err);
    REQUIRE(last.exit_code == 0);
  }
  ht::test::check_same_checkpoint(run + "/checkpoint.safetensors", ref + "/checkpoint.safetensors");
  ht::test::check_same_checkpoint(run + "/best.safetensors", ref + "/best.safetensors");
  CHECK(rows_without_timing(run + "/metrics.jsonl") == rows_without_timing(ref + "/metrics.jsonl"));
  Json a = read_json_file(run + "/results.json", "results"), b = read_json_file(ref + "/results.json", "results");
  for (const char* k : {"valid_error", "valid_loss", "test_error", "test_loss", "best_step", "steps"}) {
    CAPTURE(k);
    CHECK(a[k] == b[k]);
  }
  for (const auto& e : std::filesystem::directory_iterator(run)) CHECK(e.path().extension() != ".tmp");
}
