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
// The checkpoint a finished run is judged by: DIR/best.bin when it exists, else DIR/checkpoint.bin.
std::string run_checkpoint(const std::string& dir);

}  // namespace ht
