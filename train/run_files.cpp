#include "train/run_files.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ht {

namespace {

// Writes `text` to `path` through stdio, checking every call (a full disk shows at fflush or
// fclose, not at fwrite); throws naming the path. `mode` "wb" or "ab".
void write_all(const std::string& path, const std::string& text, const char* mode) {
  std::FILE* f = std::fopen(path.c_str(), mode);
  if (!f) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size() && std::fflush(f) == 0;
  const int e = errno;
  if (std::fclose(f) != 0 || !wrote)
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(wrote ? errno : e));
}

}  // namespace

void write_text_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  try {
    write_all(tmp, text, "wb");
  } catch (...) {
    std::remove(tmp.c_str());  // no half-written .tmp left behind
    throw;
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::remove(tmp.c_str());
    throw std::runtime_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(e));
  }
}

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::runtime_error("cannot read " + path + ": it is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path + ": " + std::strerror(errno));
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void append_jsonl(const std::string& path, const nlohmann::json& row) { write_all(path, row.dump() + "\n", "ab"); }

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::vector<nlohmann::json> rows;
  std::ifstream f(path);
  int line_no = 0;
  for (std::string line; std::getline(f, line);) {
    ++line_no;
    if (line.empty()) continue;
    try {
      nlohmann::json row = nlohmann::json::parse(line);
      if (!row.is_object()) throw std::invalid_argument("not an object");
      rows.push_back(std::move(row));
    } catch (const std::exception&) {  // a torn line (a crash mid-append): skipped, the rows after it kept
      std::fprintf(stderr, "warning: %s line %d is not a JSON object (a write cut short?); skipped\n", path.c_str(), line_no);
    }
  }
  return rows;
}

bool file_exists(const std::string& path) { return std::filesystem::exists(path); }

void remove_tmp_files(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".tmp") std::filesystem::remove(e.path(), ec);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throw std::runtime_error("cannot create directory " + path + ": " + ec.message());
}

std::string run_checkpoint(const std::string& dir) {
  for (const char* name : {kBestCheckpoint, kLatestCheckpoint, "best.bin", "checkpoint.bin"})
    if (file_exists(dir + "/" + name)) return dir + "/" + name;
  return dir + "/" + kBestCheckpoint;
}

std::string resume_checkpoint(const std::string& dir) {
  for (const char* name : {kLatestCheckpoint, "checkpoint.bin"})
    if (file_exists(dir + "/" + name)) return dir + "/" + name;
  return "";
}

RunCheckpoint locate_checkpoint(const std::string& path) {
  RunCheckpoint r{path, ""};
  if (path.ends_with(".safetensors") || path.ends_with(".bin")) {
    const auto slash = path.find_last_of('/');
    r.dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    r.file = path;
  }
  while (r.dir.size() > 1 && r.dir.back() == '/') r.dir.pop_back();
  if (!file_exists(r.dir + "/config.json")) throw std::invalid_argument(r.dir + " is not a run directory: no config.json");
  if (r.file.empty()) r.file = run_checkpoint(r.dir);
  if (!file_exists(r.file))
    throw std::invalid_argument(r.file == path ? "no checkpoint file " + path
                                               : r.dir + " holds no checkpoint yet (no " + kBestCheckpoint + " or " + kLatestCheckpoint + ")");
  return r;
}

}  // namespace ht
