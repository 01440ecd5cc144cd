// File helpers shared by every loader: whole-file reads (plain or gzip, told apart by the 1f 8b
// magic) and the data lookup of DESIGN.md: --data DIR alone when given, else $HYPERTRAIN_DATA,
// then ~/.cache/hypertrain; one directory per data set.
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

// The one directory a data set's files are read from, so files of two copies never pair up:
//   data_flag non-empty: data_flag/dataset_dir when that is a directory, else data_flag itself
//     (a flat directory). data_flag must be a directory; nothing else is searched.
//   data_flag empty: the first directory that exists among
//     $HYPERTRAIN_DATA/dataset_dir (when set and non-empty), $HOME/.cache/hypertrain/dataset_dir
//     (when HOME is set), then each of extra_dirs (e.g. a distro's copy).
// Throws DataError naming data_flag when it is not a directory, or listing every directory tried
// and where to get the data (help).
std::string find_data_dir(const std::string& dataset_dir, const std::string& data_flag, const DataFile& help,
                          const std::vector<std::string>& extra_dirs = {});

// The first regular file among `names` (".gz" first, then plain, by convention) in
// find_data_dir(dataset_dir, data_flag, help, extra_dirs). Otherwise throws DataError naming the
// directory, every path tried and where to get the file (url, sha256, note).
std::string find_data_file(const std::string& dataset_dir, const std::vector<std::string>& names,
                           const std::string& data_flag, const DataFile& help,
                           const std::vector<std::string>& extra_dirs = {});

}  // namespace ht
