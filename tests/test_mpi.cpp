// Training across processes (issue 11): the real hypertrain binary under mpirun, 2 ranks on this
// machine, against one process on the same global batch.
//
//   - the MNIST hyper ConvNet and a small HyperLSTM (character model on a slice of Penn Treebank)
//     end with the same parameters, optimizer state and carried state, to float tolerance;
//   - a 2-rank checkpoint resumes on 1 process and matches the 2-rank continuation;
//   - a 2-rank job SIGKILLed mid-run (every process of it at once) resumes and matches;
//   - SIGTERM sent to one rank only: all ranks stop at the same step, one checkpoint, exact resume;
//   - a rank that throws, or dies of SIGKILL, ends the job within seconds with a message naming it;
//   - a batch that does not divide among the ranks is an error naming both numbers.
//
// The equality tests train with SGD, not Adam: 2 ranks sum the gradient in another order than one
// process, and Adam's update m / (sqrt(v) + eps) turns a rounding-sized gradient into a step of
// the learning rate's size whose sign is that rounding's, so tolerances would mean nothing.
// Each run is a few steps of a tiny model with one thread per rank.
#include <doctest/doctest.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "train/config.h"
#include "train/run_files.h"
#include "data/io.h"
#include "engine/checkpoint.h"
#include "tests/faults.h"
#include "tests/files.h"

using namespace ht;
using ht::test::TempDir;

namespace {

// Every process whose parent chain leads to `pid` (mpirun's ranks), read from /proc.
std::vector<pid_t> descendants(pid_t pid) {
  std::vector<std::pair<pid_t, pid_t>> all;  // (pid, parent)
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      const pid_t p = pid_t(std::atoi(e->d_name));
      if (p <= 0) continue;
      std::ifstream f("/proc/" + std::string(e->d_name) + "/stat");
      std::string line;
      std::getline(f, line);
      const auto close = line.rfind(')');
      if (close == std::string::npos) continue;
      std::istringstream rest(line.substr(close + 2));
      char state;
      pid_t parent = 0;
      rest >> state >> parent;
      all.emplace_back(p, parent);
    }
    ::closedir(d);
  }
  std::vector<pid_t> out;
  std::set<pid_t> tree = {pid};
  for (bool grew = true; grew;) {
    grew = false;
    for (auto& [p, parent] : all)
      if (tree.count(parent) && !tree.count(p)) tree.insert(p), out.push_back(p), grew = true;
  }
  return out;
}

// The rank of a process started by mpirun (its OMPI_COMM_WORLD_RANK), -1 for any other.
int rank_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string kv;
  while (std::getline(f, kv, '\0'))
    if (kv.rfind("OMPI_COMM_WORLD_RANK=", 0) == 0) return std::atoi(kv.c_str() + 21);
  return -1;
}

// The pid of rank `rank` of the job mpirun `launcher` runs, waiting for it to start.
pid_t rank_pid(pid_t launcher, int rank) {
  pid_t found = 0;
  ht::test::wait_for([&] {
    for (pid_t p : descendants(launcher))
      if (rank_of(p) == rank) found = p;
    return found != 0;
  }, 60);
  return found;
}

// `mpirun -np ranks hypertrain args...` (ranks = 0: hypertrain alone, no launcher).
ht::test::Child start(int ranks, const std::vector<std::string>& args, const std::string& err_path,
                      const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv;
  if (ranks > 0)
    argv = {HT_MPIEXEC, "-np", std::to_string(ranks), "--oversubscribe", "--bind-to", "none", "--mca", "odls_base_sigkill_timeout", "2"};
  argv.push_back(ht::test::hypertrain_binary());
  argv.insert(argv.end(), args.begin(), args.end());
  // As root Open MPI wants the first two. The third: containers often forbid the cross-process
  // memory calls of Open MPI's shared-memory transport, which then copies through a buffer.
  std::vector<std::string> all_env = {"OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1", "OMPI_MCA_btl_vader_single_copy_mechanism=none"};
  all_env.insert(all_env.end(), env.begin(), env.end());
  return ht::test::spawn(argv, err_path, all_env);
}

// Waits for the job; after `seconds` it kills every process of it and fails: a job must never hang.
ht::test::Finished finish(const ht::test::Child& c, double seconds = 300) {
  int status = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (::waitpid(c.pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > end) {
      for (pid_t p : descendants(c.pid)) ::kill(p, SIGKILL);
      ::kill(c.pid, SIGKILL);
      ::waitpid(c.pid, &status, 0);
      FAIL("the job did not end within " << seconds << " s (killed)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ht::test::Finished f;
  if (WIFEXITED(status)) f.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) f.signal = WTERMSIG(status);
  std::ifstream in(c.err_path);
  std::stringstream s;
  s << in.rdbuf();
  f.err = s.str();
  return f;
}

ht::test::Finished run(int ranks, const std::vector<std::string>& args, const std::string& err_path, const std::vector<std::string>& env = {}) {
  return finish(start(ranks, args, err_path, env));
}

// Every tensor of checkpoint a against b: the same names and shapes, values within
// atol + rtol * |b|; the largest difference is printed. exact: bit for bit.
void check_close(const std::string& a, const std::string& b, bool exact = false) {
  CAPTURE(a);
  Checkpoint x = load_checkpoint(a), y = load_checkpoint(b);
  CHECK(x.meta["step"] == y.meta["step"]);
  REQUIRE(x.tensors.size() == y.tensors.size());
  double worst = 0;
  std::string worst_name;
  for (std::size_t i = 0; i < x.tensors.size(); ++i) {
    const auto& [name, t] = x.tensors[i];
    const Tensor& u = y.tensors[i].second;
    CAPTURE(name);
    REQUIRE(name == y.tensors[i].first);
    REQUIRE(t.shape() == u.shape());
    if (t.dtype() != DType::F32) continue;
    const float *p = t.data<float>(), *q = u.data<float>();
    for (i64 k = 0; k < t.numel(); ++k) {
      const double d = std::fabs(double(p[k]) - double(q[k])), allowed = exact ? 0 : 2e-5 + 2e-4 * std::fabs(double(q[k]));
      if (d > allowed) FAIL_CHECK(name << "[" << k << "]: " << p[k] << " vs " << q[k]);
      if (d > worst) worst = d, worst_name = name;
    }
  }
  MESSAGE(a << " vs " << b << ": largest difference " << worst << (worst_name.empty() ? "" : " in " + worst_name));
}

i64 checkpoint_step(const std::string& path) { return load_checkpoint(path).meta["step"].get<i64>(); }

std::string mnist_config() {
  return R"({"name": "mpi-hyperconv", "data": "mnist", "model": {"arch": "hyperconv", "channels": 8, "f": 5},
  "train": {"batch": 8, "steps": 6, "eval_every": 3, "checkpoint_every": 3, "eval_batch": 25, "valid_size": 50, "augment": true,
            "threads": 1, "optimizer": "sgd", "momentum": 0.9, "lr": {"type": "constant", "lr": 0.05}}})";
}

// A HyperLSTM of 32 units on streams of Penn Treebank characters; no dropout (with dropout the
// ranks draw other masks than one process: README, MPI).
std::string charlm_config(int steps) {
  return R"({"name": "mpi-hyperlstm", "task": "charlm", "data": "ptb",
  "model": {"cell": "hyperlstm", "hidden": 32, "hyper": 8, "embed": 4,
            "input_dropout": 0, "output_dropout": 0, "recurrent_dropout": 0},
  "train": {"batch": 4, "seq": 10, "steps": )" + std::to_string(steps) + R"(, "eval_every": 4, "checkpoint_every": 2,
            "eval_batch": 2, "eval_seq": 20, "eval_chars": 400, "threads": 1, "optimizer": "sgd", "momentum": 0.9,
            "lr": {"type": "constant", "lr": 0.5}, "clip": 1.0}})";
}

// The first lines of the real Penn Treebank character files when $HYPERTRAIN_DATA has them (else
// sentences of our own), written as DIR/ptb/ptb.char.SPLIT.txt; a validation or test line with a
// symbol the training lines lack is left out (the loader refuses those).
void write_ptb_slice(const std::string& dir) {
  const char* root = std::getenv("HYPERTRAIN_DATA");
  std::set<std::string> known;
  for (auto [split, lines] : {std::pair<const char*, int>{"train", 300}, {"valid", 20}, {"test", 20}}) {
    const std::string real = std::string(root ? root : "") + "/ptb/ptb.char." + split + ".txt.gz";
    std::string text, out;
    if (root && file_exists(real)) {
      text = read_file_maybe_gz(real);
    } else {
      for (int l = 0; l < lines; ++l) text += " t h e _ c a t _ s a t _ o n _ t h e _ m a t _ " + std::to_string(l % 10) + " \n";
    }
    std::istringstream in(text);
    std::string line;
    for (int kept = 0; kept < lines && std::getline(in, line);) {
      std::istringstream symbols(line);
      bool ok = true;
      for (std::string sym; symbols >> sym;) {
        if (std::string(split) == "train") known.insert(sym);
        else ok &= known.count(sym) > 0;
      }
      if (ok) out += line + "\n", ++kept;
    }
    ht::test::write_plain(dir + "/ptb/ptb.char." + split + ".txt", out);
  }
}

}  // namespace

TEST_CASE("MNIST hyper ConvNet: 2 ranks end with the parameters of 1 process on the same global batch") {
  TempDir d;
  const std::string data = d / "data", cfg = d / "cfg.json";
  ht::test::write_tiny_mnist(data, 200, 50);
  ht::test::write_plain(cfg, mnist_config());
  auto one = run(0, {"train", "--config", cfg, "--out", d / "one", "--data", data, "--quiet"}, d / "one.err");
  INFO(one.err);
  REQUIRE(one.exit_code == 0);
  auto two = run(2, {"train", "--config", cfg, "--out", d / "two", "--data", data, "--quiet"}, d / "two.err");
  INFO(two.err);
  REQUIRE(two.exit_code == 0);
  check_close(d / "two/checkpoint.safetensors", d / "one/checkpoint.safetensors");
  // The evaluation is split across the ranks and summed: the same error counts.
  auto r1 = read_jsonl(d / "one/metrics.jsonl"), r2 = read_jsonl(d / "two/metrics.jsonl");
  REQUIRE(r1.size() == r2.size());
  for (std::size_t i = 0; i < r1.size(); ++i) CHECK(r1[i]["valid_error"] == r2[i]["valid_error"]);
  Json a = read_json_file(d / "one/results.json", "results"), b = read_json_file(d / "two/results.json", "results");
  CHECK(a["test_error"] == b["test_error"]);
  CHECK(std::fabs(a["test_loss"].get<double>() - b["test_loss"].get<double>()) < 1e-4);
  // Only rank 0 wrote: no second lock holder, no stray files.
  for (const auto& e : std::filesystem::directory_iterator(d / "two")) CHECK(e.path().extension() != ".tmp");
}

TEST_CASE("HyperLSTM: 2 ranks = 1 process; a 2-rank checkpoint resumes on 1; SIGKILL and SIGTERM of the job resume exactly") {
  // The data, the configs and the two reference runs are made once: doctest runs the test case
  // again for each subcase.
  static TempDir d;
  const std::string data = d / "data", cfg = d / "cfg.json", half = d / "half.json";
  static bool made = false;
  auto train = [&](int ranks, const std::string& config, const std::string& out, const std::vector<std::string>& env = {}) {
    auto f = run(ranks, {"train", "--config", config, "--out", out, "--data", data, "--quiet"}, out + ".err", env);
    INFO(f.err);
    REQUIRE(f.exit_code == 0);
  };
  auto resume = [&](int ranks, const std::string& dir, const std::string& steps) {
    auto f = run(ranks, {"train", "--resume", dir, "--steps", steps, "--quiet"}, dir + ".resume.err");
    INFO(f.err);
    REQUIRE(f.exit_code == 0);
  };
  if (!made) {
    write_ptb_slice(data);
    ht::test::write_plain(cfg, charlm_config(8));
    ht::test::write_plain(half, charlm_config(4));
    train(0, cfg, d / "one");
    train(2, cfg, d / "two");
    made = true;
  }

  SUBCASE("2 ranks and 1 process: parameters, optimizer state and the carried state of the 4 streams") {
    check_close(d / "two/checkpoint.safetensors", d / "one/checkpoint.safetensors");
    Checkpoint ck = load_checkpoint(d / "two/checkpoint.safetensors");
    const Tensor* h = ck.find("task.state.layer0.0");
    REQUIRE(h != nullptr);
    CHECK(h->shape()[0] == 4);  // the global batch's streams, whatever the number of ranks
  }

  SUBCASE("a checkpoint written by 2 ranks resumes on 1 process and on 2, matching the 2-rank run") {
    train(2, half, d / "half");
    CHECK(checkpoint_step(d / "half/checkpoint.safetensors") == 4);
    std::filesystem::copy(d / "half", d / "half2", std::filesystem::copy_options::recursive);
    resume(0, d / "half", "8");
    check_close(d / "half/checkpoint.safetensors", d / "two/checkpoint.safetensors");
    resume(2, d / "half2", "8");
    check_close(d / "half2/checkpoint.safetensors", d / "two/checkpoint.safetensors", true);  // the same ranks: the same sums
  }

  SUBCASE("every process of a 2-rank job SIGKILLed after its first checkpoint: the resumed job matches") {
    // Each save pauses 300 ms, so the job is still running when it is killed.
    auto job = start(2, {"train", "--config", cfg, "--out", d / "killed", "--data", data, "--quiet"}, d / "killed.err",
                     {"HYPERTRAIN_TEST_SLOW_CHECKPOINT_MS=300"});
    REQUIRE(ht::test::wait_for([&] { return file_exists(d / "killed/checkpoint.safetensors"); }, 120));
    for (pid_t p : descendants(job.pid)) ::kill(p, SIGKILL);
    ::kill(job.pid, SIGKILL);
    auto f = finish(job);
    CHECK(f.signal == SIGKILL);
    const i64 at = checkpoint_step(d / "killed/checkpoint.safetensors");
    MESSAGE("killed with checkpoint.safetensors at step " << at);
    CHECK(at < 8);
    resume(2, d / "killed", "8");
    check_close(d / "killed/checkpoint.safetensors", d / "two/checkpoint.safetensors", true);
  }

  SUBCASE("SIGTERM to rank 1 alone: both ranks stop at one step, rank 0 writes one checkpoint, the resumed job matches") {
    auto job = start(2, {"train", "--config", cfg, "--out", d / "term", "--data", data}, d / "term.err",
                     {"HYPERTRAIN_TEST_SLOW_CHECKPOINT_MS=300"});
    REQUIRE(ht::test::wait_for([&] { return file_exists(d / "term/checkpoint.safetensors"); }, 120));
    const pid_t r1 = rank_pid(job.pid, 1);
    REQUIRE(r1 > 0);
    ::kill(r1, SIGTERM);
    auto f = finish(job);
    INFO(f.err);
    CHECK(f.exit_code != 0);  // a job stopped by a signal is not a finished job
    CHECK(f.err.find("interrupted by SIGTERM") != std::string::npos);
    const i64 at = checkpoint_step(d / "term/checkpoint.safetensors");
    MESSAGE("stopped by SIGTERM at step " << at);
    CHECK(at < 8);
    CHECK(!file_exists(d / "term/results.json"));
    resume(2, d / "term", "8");
    check_close(d / "term/checkpoint.safetensors", d / "two/checkpoint.safetensors", true);
  }
}

TEST_CASE("a failing rank ends the job within seconds, naming the rank; a batch that does not divide is refused") {
  TempDir d;
  const std::string data = d / "data", cfg = d / "cfg.json";
  ht::test::write_tiny_mnist(data, 200, 50);
  ht::test::write_plain(cfg, mnist_config());

  SUBCASE("rank 1 throws") {
    const auto t0 = std::chrono::steady_clock::now();
    auto f = run(2, {"train", "--config", cfg, "--out", d / "throw", "--data", data, "--quiet"}, d / "throw.err",
                 {"HYPERTRAIN_TEST_FAULT=1:2:throw"});
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    INFO(f.err);
    CHECK(f.exit_code != 0);
    CHECK(f.err.find("rank 1 of 2: error: HYPERTRAIN_TEST_FAULT: a test fault at step 2") != std::string::npos);
    MESSAGE("the job ended " << s << " s after it started");
  }

  SUBCASE("rank 1 dies of SIGKILL") {
    auto f = run(2, {"train", "--config", cfg, "--out", d / "kill", "--data", data, "--quiet"}, d / "kill.err",
                 {"HYPERTRAIN_TEST_FAULT=1:2:kill"});
    INFO(f.err);
    CHECK(f.exit_code != 0);
    CHECK(f.err.find("rank 1") != std::string::npos);
    CHECK(f.err.find("signal 9") != std::string::npos);
  }

  SUBCASE("train.batch 5 on 2 ranks") {
    auto f = run(2, {"train", "--config", cfg, "--out", d / "odd", "--data", data, "--set", "train.batch=5"}, d / "odd.err");
    INFO(f.err);
    CHECK(f.exit_code != 0);
    CHECK(f.err.find("'train.batch' (= 5) does not divide among the 2 ranks") != std::string::npos);
  }
}
