// Helpers of the fault suites (tests/test_faults_*.cpp): a counter of the bad inputs tried, tiny
// MNIST-format data written into a directory, the real hypertrain binary run as a child process,
// and stderr captured around an in-process call.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/rng.h"
#include "tests/files.h"

namespace ht::test {

// ---- bad inputs ----

// How many bad inputs this executable tried; each suite prints it at its end (README: "What a run
// promises" sums them).
inline int& bad_inputs_tried() {
  static int n = 0;
  return n;
}

// One bad input: `f` must throw, and the message must hold every one of `expected` (the file, key,
// layer or value it names).
template <class F> void expect_refused(const std::string& label, F&& f, const std::vector<std::string>& expected) {
  ++bad_inputs_tried();
  CAPTURE(label);
  std::string message;
  try {
    f();
  } catch (const std::exception& e) {
    message = e.what();
  }
  INFO("message: " << message);
  if (std::getenv("HT_SHOW_MESSAGES")) std::printf("%s\n    -> %s\n", label.c_str(), message.c_str());  // for reading them all
  CHECK_MESSAGE(!message.empty(), "accepted: " << label);
  for (const auto& s : expected) CHECK_MESSAGE(message.find(s) != std::string::npos, "message lacks '" << s << "'");
}

// ---- tiny data ----

inline std::string idx_file(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data) {
  std::string s{char(0), char(0), char(8), char(dims.size())};
  for (std::uint32_t d : dims)
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(char((d >> sh) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

// MNIST-format files under dir/mnist: images whose bright pixels depend on the label (so a model
// learns something), labels i % 10.
inline void write_tiny_mnist(const std::string& dir, int n_train, int n_test) {
  Rng r(11);
  auto put = [&](const std::string& images, const std::string& labels, int n) {
    std::vector<std::uint8_t> px, lb;
    for (int i = 0; i < n; ++i) {
      const int label = i % 10;
      lb.push_back(std::uint8_t(label));
      for (int k = 0; k < 784; ++k) px.push_back(std::uint8_t((k / 78 == label ? 160 : 0) + r.below(90)));
    }
    write_plain(dir + "/mnist/" + images, idx_file({std::uint32_t(n), 28, 28}, px));
    write_plain(dir + "/mnist/" + labels, idx_file({std::uint32_t(n)}, lb));
  };
  put("train-images-idx3-ubyte", "train-labels-idx1-ubyte", n_train);
  put("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", n_test);
}

// A config of the MNIST fully connected model small enough to run in a few hundred ms.
inline std::string tiny_fc_config(int steps, int eval_every = 10, int checkpoint_every = 5) {
  std::ostringstream s;
  s << R"({"name": "tiny-fc", "data": "mnist", "model": {"arch": "fc", "hidden": 16},
  "train": {"batch": 10, "steps": )"
    << steps << R"(, "eval_every": )" << eval_every << R"(, "checkpoint_every": )" << checkpoint_every
    << R"(, "eval_batch": 50, "valid_size": 50, "augment": true, "threads": 1, "lr": {"type": "constant", "lr": 0.01}}})";
  return s.str();
}

// ---- the real binary ----

// build/hypertrain: the executable beside this test's (they share the build directory).
inline std::string hypertrain_binary() {
  return (std::filesystem::canonical("/proc/self/exe").parent_path() / "hypertrain").string();
}

struct Child {
  pid_t pid = -1;
  std::string err_path;  // its stderr
};

// Starts `args` (args[0] the executable's path) with `env` ("NAME=value") added to this
// environment, stdout discarded and stderr written to err_path.
inline Child spawn(const std::vector<std::string>& args, const std::string& err_path, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv_s = args;
  std::vector<std::string> env_s;  // this environment, with `env` replacing variables of the same name
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    bool replaced = false;
    for (const auto& x : env) replaced |= kv.substr(0, kv.find('=') + 1) == x.substr(0, x.find('=') + 1);
    if (!replaced) env_s.push_back(kv);
  }
  env_s.insert(env_s.end(), env.begin(), env.end());
  std::vector<char*> argv, envp;  // built before fork: the child only calls async-signal-safe functions
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  Child c;
  c.err_path = err_path;
  c.pid = ::fork();
  REQUIRE(c.pid >= 0);
  if (c.pid == 0) {
    int out = ::open("/dev/null", O_WRONLY), err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) ::_exit(126);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  return c;
}

// Starts hypertrain with `args` (argv[1]...), as spawn().
inline Child spawn_hypertrain(const std::vector<std::string>& args, const std::string& err_path,
                              const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv = {hypertrain_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return spawn(argv, err_path, env);
}

struct Finished {
  int exit_code = -1;  // when it exited
  int signal = 0;      // when a signal killed it
  std::string err;     // its stderr
};

inline Finished wait_child(const Child& c) {
  int status = 0;
  REQUIRE(::waitpid(c.pid, &status, 0) == c.pid);
  Finished f;
  if (WIFEXITED(status)) f.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) f.signal = WTERMSIG(status);
  std::ifstream in(c.err_path);
  std::stringstream s;
  s << in.rdbuf();
  f.err = s.str();
  return f;
}

inline Finished run_hypertrain(const std::vector<std::string>& args, const std::string& err_path, const std::vector<std::string>& env = {}) {
  return wait_child(spawn_hypertrain(args, err_path, env));
}

// Waits up to `seconds` for `ready()`; false on timeout.
inline bool wait_for(const std::function<bool()>& ready, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return ready();
}

// ---- stderr of an in-process call ----

// Redirects fd 2 to a file for its lifetime (tests/files.h, CaptureFd); text() reads what was
// written so far.
struct CaptureStderr : CaptureFd {
  CaptureStderr() : CaptureFd(2) {}
};

// Every tensor of two checkpoints bit for bit, and the fields of meta that are not timing.
inline void check_same_checkpoint(const std::string& a, const std::string& b) {
  CAPTURE(a);
  Checkpoint x = load_checkpoint(a), y = load_checkpoint(b);
  REQUIRE(x.tensors.size() == y.tensors.size());
  for (std::size_t i = 0; i < x.tensors.size(); ++i) {
    CAPTURE(x.tensors[i].first);
    CHECK(x.tensors[i].first == y.tensors[i].first);
    REQUIRE(x.tensors[i].second.nbytes() == y.tensors[i].second.nbytes());
    CHECK(std::memcmp(x.tensors[i].second.raw(), y.tensors[i].second.raw(), x.tensors[i].second.nbytes()) == 0);
  }
  for (const char* k : {"step", "rng", "best_metric", "best_step", "bad_evals", "window_loss", "window_steps"}) {
    CAPTURE(k);
    CHECK(x.meta[k] == y.meta[k]);
  }
}

}  // namespace ht::test
