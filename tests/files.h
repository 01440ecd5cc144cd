// Test helpers for file and environment fixtures: a temporary directory removed at scope exit,
// an environment variable set for a scope, plain and gzip file writers, a doctest matcher
// built from a std::string, a command runner for the CLI's subcommands, and a file descriptor
// (stdout, stderr) captured around an in-process call.
#pragma once
#include <doctest/doctest.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ht::test {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ht_test_XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& rel) const { return (path / rel).string(); }
};

// /tmp/ht_test_<tag>_<pid>, made empty on first use and removed with everything in it when the
// test executable exits: for runs a test hands to code that outlives one scope.
inline std::string scratch_root(const std::string& tag) {
  struct Scratch {
    std::string path;
    explicit Scratch(std::string p) : path(std::move(p)) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
      std::filesystem::create_directories(path);
    }
    ~Scratch() {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  };
  static std::vector<std::unique_ptr<Scratch>> roots;
  const std::string path = (std::filesystem::temp_directory_path() / ("ht_test_" + tag + "_" + std::to_string(::getpid()))).string();
  for (auto& r : roots)
    if (r->path == path) return path;
  roots.push_back(std::make_unique<Scratch>(path));
  return path;
}

// Sets (or unsets, for nullopt) an environment variable for the lifetime of the guard.
struct EnvGuard {
  std::string name;
  std::optional<std::string> old;
  EnvGuard(const std::string& n, const std::optional<std::string>& value) : name(n) {
    if (const char* v = std::getenv(n.c_str())) old = v;
    if (value) setenv(n.c_str(), value->c_str(), 1); else unsetenv(n.c_str());
  }
  ~EnvGuard() {
    if (old) setenv(name.c_str(), old->c_str(), 1); else unsetenv(name.c_str());
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;
};

inline void write_plain(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(f.good());
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot read " << path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void write_gz(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  gzFile f = gzopen(path.c_str(), "wb9");
  REQUIRE(f != nullptr);
  REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(f) == Z_OK);
}

inline doctest::Contains has(const std::string& s) { return doctest::Contains(s.c_str()); }

// Redirects file descriptor `fd` (1: stdout, 2: stderr) to a file for its lifetime, or until
// restore(); text() reads what was written so far. C stdio and std::cout are flushed at each
// switch, so what a command printed before or after lands on the right side.
struct CaptureFd {
  TempDir dir;
  int fd, saved = -1;
  explicit CaptureFd(int which) : fd(which) {
    flush();
    saved = ::dup(fd);
    int to = ::open((dir / "captured").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(to >= 0);
    ::dup2(to, fd);
    ::close(to);
  }
  ~CaptureFd() { restore(); }
  CaptureFd(const CaptureFd&) = delete;
  CaptureFd& operator=(const CaptureFd&) = delete;
  void restore() {
    if (saved < 0) return;
    flush();
    ::dup2(saved, fd);
    ::close(saved);
    saved = -1;
  }
  std::string text() {
    flush();
    std::ifstream in(dir / "captured");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static void flush() {
    std::cout.flush();
    std::cerr.flush();
    std::fflush(stdout);
    std::fflush(stderr);
  }
};

// Calls a subcommand (cmd_train, cmd_sample, ...) with argv built from strings (argv[0] is the
// subcommand's name).
inline int run_cmd(int (*cmd)(int, char**), std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return cmd(int(args.size()), argv.data());
}

}  // namespace ht::test
