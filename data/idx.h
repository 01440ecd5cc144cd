// IDX files (LeCun's MNIST format): magic 00 00 <type> <ndims>, then ndims big-endian uint32
// extents, then the elements in row-major order. Only type 0x08 (unsigned byte) is read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace ht {

struct IdxArray {
  std::vector<std::int64_t> dims;  // e.g. {60000, 28, 28} for images, {60000} for labels
  std::vector<std::uint8_t> data;  // product(dims) bytes
};

// Reads a plain or gzipped IDX file. Throws DataError naming the path for a truncated header, a
// bad magic, an unsupported type, 0 or more than 4 dims, or data whose size is not the header's.
IdxArray read_idx(const std::string& path);

std::string idx_dims_str(const std::vector<std::int64_t>& dims);  // "60000 x 28 x 28"

}  // namespace ht
