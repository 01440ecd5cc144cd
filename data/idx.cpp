#include "data/idx.h"

#include <cstdio>

#include "data/io.h"

namespace ht {

static std::uint32_t be32(const unsigned char* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | std::uint32_t(p[3]);
}

std::string idx_dims_str(const std::vector<std::int64_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

IdxArray read_idx(const std::string& path) {
  const std::string bytes = read_file_maybe_gz(path);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  if (n < 4)
    throw DataError(path + ": truncated header: the file has " + std::to_string(n) +
                    " bytes, an IDX header needs at least 4 (magic 00 00 <type> <ndims>)");
  if (p[0] != 0 || p[1] != 0) {
    char magic[32];
    std::snprintf(magic, sizeof magic, "%02x %02x %02x %02x", p[0], p[1], p[2], p[3]);
    throw DataError(path + ": bad magic " + magic + ": not an IDX file (an IDX file starts 00 00 <type> <ndims>)");
  }
  if (p[2] != 0x08) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", p[2]);
    throw DataError(path + ": unsupported IDX type " + type + " (only 0x08, unsigned byte, is supported)");
  }
  const int nd = p[3];
  if (nd == 0 || nd > 4)
    throw DataError(path + ": IDX header declares " + std::to_string(nd) + " dimensions; expected 1 to 4");
  const std::size_t header = 4 + 4 * std::size_t(nd);
  if (n < header)
    throw DataError(path + ": truncated header: " + std::to_string(nd) + " dimensions need a " + std::to_string(header) +
                    "-byte header, the file has " + std::to_string(n) + " bytes");

  IdxArray a;
  unsigned __int128 expect = 1;
  for (int i = 0; i < nd; ++i) {
    a.dims.push_back(be32(p + 4 + 4 * i));
    expect *= std::uint64_t(a.dims.back());
  }
  const std::size_t have = n - header;
  if (expect != have) {
    std::string says = expect > (unsigned __int128)UINT64_MAX ? std::string("more than 2^64") : std::to_string(std::uint64_t(expect));
    throw DataError(path + ": header says " + says + " bytes of data (" + idx_dims_str(a.dims) + "), file has " +
                    std::to_string(have) + (have < expect ? " (truncated file?)" : " (trailing bytes?)"));
  }
  a.data.assign(p + header, p + n);
  return a;
}

}  // namespace ht
