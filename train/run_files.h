// Files of a run directory, written so a crash never leaves half a file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ht {

// path + ".tmp", then a rename over path; on any failure the .tmp is removed and the error names it.
void write_text_atomic(const std::string& path, const std::string& text);
std::string read_text(const std::string& path);                            // throws naming the path
// One line; a failed write (a full disk shows only at flush or close) throws naming the path.
void append_jsonl(const std::string& path, const nlohmann::json& row);
// Every line that holds a JSON object; a torn line is skipped with a warning on stderr naming the
// file and line, and the lines after it are kept. Empty when the file is absent.
std::vector<nlohmann::json> read_jsonl(const std::string& path);
bool file_exists(const std::string& path);
// Removes every DIR/*.tmp (the half-written files of a process that died mid-write).
void remove_tmp_files(const std::string& dir);
void make_dirs(const std::string& path);                                   // throws naming the path
// A run's checkpoints: DIR/checkpoint.safetensors (the latest) and DIR/best.safetensors (the best
// on validation). Runs written before the safetensors layout hold checkpoint.bin and best.bin,
// which are still read (engine/checkpoint.h).
inline constexpr const char* kLatestCheckpoint = "checkpoint.safetensors";
inline constexpr const char* kBestCheckpoint = "best.safetensors";
// The checkpoint a finished run is judged by: DIR/best.safetensors when it exists, else
// DIR/checkpoint.safetensors, else an older run's best.bin or checkpoint.bin; the first name when
// there is none.
std::string run_checkpoint(const std::string& dir);
// The checkpoint a resume starts from: DIR/checkpoint.safetensors, else an older run's
// checkpoint.bin; empty when there is neither.
std::string resume_checkpoint(const std::string& dir);
// A --checkpoint argument: a run directory, or a checkpoint file (*.safetensors, *.bin) inside
// one. Throws std::invalid_argument when the directory has no config.json or no checkpoint yet.
struct RunCheckpoint {
  std::string dir, file;
};
RunCheckpoint locate_checkpoint(const std::string& path);

}  // namespace ht
