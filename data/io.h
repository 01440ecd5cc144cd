// File helpers shared by every loader: whole-file reads (plain or gzip, told apart by the 1f 8b
// magic) and the data lookup order of DESIGN.md: --data DIR, $HYPERTRAIN_DATA, ~/.cache/hypertrain.
#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace ht {

// A data file that is missing, unreadable, truncated, corrupt or not in the expected format.
// The message names the file and what is wrong.
class DataError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads `path` fully. A file starting with 1f 8b is gunzipped (concatenated members included);
// anything else is returned as is. Throws DataError "<path>: cannot open: <strerror>", or
// "<path>: corrupt or truncated gzip stream (<detail>)".
std::string read_file_maybe_gz(const std::string& path);

// Where a user gets a file, for the message of a failed lookup.
struct DataFile {
  std::string name;    // file to download, e.g. "train-images-idx3-ubyte.gz"
  std::string url;
  std::string sha256;  // of the downloadable file; empty when not known
  std::string note;    // anything else that helps: decompressed md5, a package that ships it
};

// Returns the first regular file among, for each root in order,
//   data_flag/dataset_dir/NAME, data_flag/NAME     (when data_flag is non-empty)
//   $HYPERTRAIN_DATA/dataset_dir/NAME              (when set and non-empty)
//   $HOME/.cache/hypertrain/dataset_dir/NAME       (when HOME is set)
//   extra_dir/NAME                                 (for each of extra_dirs, e.g. a distro's copy)
// with NAME taken from `names` in order (".gz" first, then plain, by convention). Otherwise
// throws DataError listing every path tried and where to get the file (url, sha256, note).
std::string find_data_file(const std::string& dataset_dir, const std::vector<std::string>& names,
                           const std::string& data_flag, const DataFile& help,
                           const std::vector<std::string>& extra_dirs = {});

}  // namespace ht
