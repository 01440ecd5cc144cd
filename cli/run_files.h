// Files of a run directory, written so a crash never leaves half a file.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ht {

void write_text_atomic(const std::string& path, const std::string& text);  // tmp file + rename
std::string read_text(const std::string& path);                            // throws naming the path
void append_jsonl(const std::string& path, const nlohmann::json& row);
std::vector<nlohmann::json> read_jsonl(const std::string& path);          // empty when absent
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);                                   // throws naming the path
// The checkpoint a finished run is judged by: DIR/best.bin when it exists, else DIR/checkpoint.bin.
std::string run_checkpoint(const std::string& dir);

}  // namespace ht
