#include "engine/checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <thread>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>
#include <unordered_map>

namespace ht {

using nlohmann::json;

namespace {

constexpr char kMagic[8] = {'H', 'T', 'C', 'K', 'P', 'T', '0', '1'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kPreamble = 24;  // magic 8 + version 4 + header length 8 + header crc 4
constexpr const char* kFormat = "hypertrain-checkpoint";  // the legacy header's format
constexpr const char* kSafeFormat = "hypertrain-safetensors-1";
constexpr const char* kHeaderCrcKey = "header_crc32";
constexpr const char* kDataCrcKey = "data_crc32";
constexpr const char* kFormatKey = "format";

std::uint32_t crc_update(std::uint32_t crc, const void* data, std::size_t n) {
  auto* p = static_cast<const Bytef*>(data);
  while (n) {
    uInt k = uInt(std::min<std::size_t>(n, std::size_t(1) << 30));
    crc = std::uint32_t(::crc32(crc, p, k));
    p += k;
    n -= k;
  }
  return crc;
}

void put_le(unsigned char* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = (unsigned char)(v >> (8 * i));
}

std::uint64_t get_le(const unsigned char* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t(in[i]) << (8 * i);
  return v;
}

std::string errno_text(int e) { return e ? std::strerror(e) : "unknown error"; }

std::string hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

const unsigned char kZeros[64] = {};

// Owns a FILE*; closes it on scope exit if still open.
struct File {
  std::FILE* f = nullptr;
  ~File() {
    if (f) std::fclose(f);
  }
};

// A checkpoint file opened for reading (a regular file, its size known); reads and errors name it.
struct CheckpointReader {
  std::string path;
  File file;
  std::uint64_t size = 0;

  explicit CheckpointReader(const std::string& p) : path(p) {
    file.f = std::fopen(path.c_str(), "rb");
    if (!file.f) throw std::runtime_error("cannot open checkpoint '" + path + "': " + errno_text(errno));
    struct stat st;
    if (::fstat(fileno(file.f), &st) != 0) throw bad("cannot stat: " + errno_text(errno));
    if (!S_ISREG(st.st_mode)) throw bad("not a regular file");
    size = std::uint64_t(st.st_size);
  }
  std::runtime_error bad(const std::string& why) const { return std::runtime_error("checkpoint '" + path + "': " + why); }
  // Exactly n bytes, or an error saying which part (`what`) was cut short.
  void read(void* p, std::size_t n, const char* what) {
    if (n && std::fread(p, 1, n, file.f) != n) {
      if (std::ferror(file.f)) throw bad(std::string("read error in the ") + what + ": " + errno_text(errno));
      throw bad(std::string("truncated while reading the ") + what);
    }
  }
};

bool parse_dtype(const std::string& s, DType& dt) {
  for (DType d : {DType::F32, DType::F64, DType::I32})
    if (s == dtype_name(d)) {
      dt = d;
      return true;
    }
  return false;
}

}  // namespace

// ---- save (safetensors) -------------------------------------------------------------------

namespace {

const char* safe_dtype(DType d) {
  switch (d) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I32: return "I32";
  }
  return "?";
}

bool parse_safe_dtype(const std::string& s, DType& dt) {
  for (DType d : {DType::F32, DType::F64, DType::I32})
    if (s == safe_dtype(d)) {
      dt = d;
      return true;
    }
  return false;
}

bool reserved_meta_key(const std::string& k) { return k == kHeaderCrcKey || k == kDataCrcKey || k == kFormatKey; }

// Where the 8 hex digits of __metadata__.header_crc32 start in the header text: after the first
// `"header_crc32"`, optional spaces, ':', optional spaces and '"'. npos when absent or malformed.
// (Inside a JSON string the key would read \"header_crc32\", so a meta value cannot fake it, and
// the writer puts __metadata__ and this key first.)
std::size_t header_crc_digits(const std::string& text) {
  const std::string key = std::string("\"") + kHeaderCrcKey + "\"";
  std::size_t i = text.find(key);
  if (i == std::string::npos) return i;
  i += key.size();
  auto skip_space = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) ++i;
  };
  skip_space();
  if (i >= text.size() || text[i] != ':') return std::string::npos;
  ++i;
  skip_space();
  if (i >= text.size() || text[i] != '"') return std::string::npos;
  ++i;
  if (i + 9 > text.size() || text[i + 8] != '"') return std::string::npos;
  return i;
}

// The header checksum: CRC32 of the header bytes (padding included) with the 8 digits of
// header_crc32 read as "00000000".
std::uint32_t header_crc(std::string text, std::size_t digits) {
  text.replace(digits, 8, "00000000");
  return crc_update(0, text.data(), text.size());
}

}  // namespace

void save_checkpoint(const std::string& path, const NamedTensors& tensors, const json& meta) {
  auto fail = [&](const std::string& why) { return std::runtime_error("cannot write checkpoint '" + path + "': " + why); };
  if (!meta.is_object() && !meta.is_null()) throw std::invalid_argument("checkpoint '" + path + "': meta must be a JSON object");

  // __metadata__ first, and header_crc32 first inside it (see header_crc_digits); every meta
  // value is stored as its JSON text, since safetensors' metadata holds strings only.
  nlohmann::ordered_json header;
  auto& md = header["__metadata__"];
  md[kHeaderCrcKey] = "00000000";
  md[kDataCrcKey] = "00000000";
  md[kFormatKey] = kSafeFormat;
  if (meta.is_object())
    for (auto& [k, v] : meta.items()) {
      if (reserved_meta_key(k)) throw std::invalid_argument("checkpoint '" + path + "': meta key '" + k + "' is reserved");
      try {
        md[k] = v.dump();
      } catch (const json::exception& e) {
        throw fail("meta '" + k + "' cannot be written as JSON: " + e.what());
      }
    }

  std::set<std::string> seen;
  std::uint64_t pos = 0;
  std::uint32_t data_crc = 0;
  for (auto& [name, t] : tensors) {
    if (name.empty()) throw std::invalid_argument("checkpoint '" + path + "': a tensor has an empty name");
    if (name == "__metadata__") throw std::invalid_argument("checkpoint '" + path + "': a tensor cannot be named __metadata__");
    if (!seen.insert(name).second) throw std::invalid_argument("checkpoint '" + path + "': tensor '" + name + "' appears twice");
    if (!t.raw() && t.numel() != 0) throw std::invalid_argument("checkpoint '" + path + "': tensor '" + name + "' has no data");
    if (t.nbytes()) data_crc = crc_update(data_crc, t.raw(), t.nbytes());
    nlohmann::ordered_json shape = nlohmann::ordered_json::array();
    for (int d = 0; d < t.ndim(); ++d) shape.push_back(t.dim(d));
    header[name] = {{"dtype", safe_dtype(t.dtype())}, {"shape", shape}, {"data_offsets", {pos, pos + t.nbytes()}}};
    pos += t.nbytes();
  }
  header["__metadata__"][kDataCrcKey] = hex32(data_crc);  // not through md: adding tensors may move it

  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {
    throw fail(std::string("the header cannot be written as JSON: ") + e.what());
  }
  text.append(round_up64(8 + text.size()) - 8 - text.size(), ' ');  // the data starts 64-byte aligned
  const std::size_t digits = header_crc_digits(text);
  if (digits == std::string::npos) throw std::logic_error("save_checkpoint: header_crc32 not found in the header it wrote");
  text.replace(digits, 8, hex32(header_crc(text, digits)));

  unsigned char pre[8];
  put_le(pre, text.size(), 8);

  const std::string tmp = path + ".tmp";
  File file;
  file.f = std::fopen(tmp.c_str(), "wb");
  if (!file.f) throw fail("cannot open '" + tmp + "': " + errno_text(errno));
  auto failed = [&](const std::string& why) {
    std::fclose(file.f);
    file.f = nullptr;
    std::remove(tmp.c_str());
    return fail(why);
  };
  auto write = [&](const void* p, std::size_t n) {
    if (n && std::fwrite(p, 1, n, file.f) != n) throw failed("short write to '" + tmp + "': " + errno_text(errno));
  };
  write(pre, 8);
  write(text.data(), text.size());
  for (auto& [name, t] : tensors) write(t.raw(), t.nbytes());
  if (std::fflush(file.f) != 0) throw failed("flush of '" + tmp + "' failed: " + errno_text(errno));
  if (::fsync(fileno(file.f)) != 0) throw failed("fsync of '" + tmp + "' failed: " + errno_text(errno));
  int rc = std::fclose(file.f);
  file.f = nullptr;
  if (rc != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    throw fail("close of '" + tmp + "' failed: " + errno_text(e));
  }
  if (const char* slow = std::getenv("HYPERTRAIN_TEST_SLOW_CHECKPOINT_MS"); slow && *slow)
    std::this_thread::sleep_for(std::chrono::milliseconds(std::atol(slow)));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    std::remove(tmp.c_str());
    throw fail("rename of '" + tmp + "' failed: " + errno_text(e));
  }
  // Make the rename itself durable.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/') + 1);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

NonFinite first_nonfinite(const NamedTensors& tensors) {
  for (auto& [name, t] : tensors) {
    if (t.dtype() == DType::I32) continue;
    const i64 n = t.numel();
    NonFinite bad;
    dispatch_float(t.dtype(), [&](auto tag) {
      const auto* p = t.data<decltype(tag)>();
      for (i64 i = 0; i < n; ++i)
        if (!std::isfinite(p[i])) {
          bad = {name, i, double(p[i])};
          return;
        }
    });
    if (bad.index >= 0) return bad;
  }
  return {};
}

// ---- load ---------------------------------------------------------------------------------

namespace {

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  std::uint64_t offset, nbytes;
};

// Validates one header entry against the blob size. `bad` builds the error.
template <class Bad> Entry parse_entry(const json& e, std::uint64_t data_bytes, std::size_t index, Bad&& bad) {
  std::string where = "tensor entry " + std::to_string(index);
  if (!e.is_object()) throw bad(where + " is not an object");
  for (const char* k : {"name", "dtype", "shape", "offset", "nbytes"})
    if (!e.contains(k)) throw bad(where + " has no '" + k + "'");
  if (!e["name"].is_string() || e["name"].get<std::string>().empty()) throw bad(where + " has no valid name");
  Entry out;
  out.name = e["name"].get<std::string>();
  where = "tensor '" + out.name + "'";
  if (!e["dtype"].is_string() || !parse_dtype(e["dtype"].get<std::string>(), out.dtype))
    throw bad(where + " has an unknown dtype " + e["dtype"].dump());
  const json& sh = e["shape"];
  if (!sh.is_array() || sh.size() > std::size_t(Shape::kMaxDims)) throw bad(where + " has an invalid shape " + sh.dump());
  std::uint64_t numel = 1;
  bool overflow = false;
  for (const json& d : sh) {
    if (!d.is_number_integer() || d.get<i64>() < 0) throw bad(where + " has an invalid shape " + sh.dump());
    i64 v = d.get<i64>();
    out.shape.d[out.shape.nd++] = v;
    overflow |= __builtin_mul_overflow(numel, std::uint64_t(v), &numel);
  }
  if (!e["offset"].is_number_unsigned() || !e["nbytes"].is_number_unsigned())
    throw bad(where + " has an invalid offset or nbytes");
  out.offset = e["offset"].get<std::uint64_t>();
  out.nbytes = e["nbytes"].get<std::uint64_t>();
  std::uint64_t expect = 0;
  overflow |= __builtin_mul_overflow(numel, std::uint64_t(dtype_size(out.dtype)), &expect);
  if (overflow || expect != out.nbytes)
    throw bad(where + ": shape " + out.shape.str() + " " + dtype_name(out.dtype) + " does not match nbytes " + std::to_string(out.nbytes));
  if (out.offset % 64 != 0) throw bad(where + ": offset " + std::to_string(out.offset) + " is not 64-byte aligned");
  if (out.offset > data_bytes || out.nbytes > data_bytes - out.offset)
    throw bad(where + ": bytes [" + std::to_string(out.offset) + ", " + std::to_string(out.offset + out.nbytes) +
              ") lie outside the data blob of " + std::to_string(data_bytes) + " bytes");
  return out;
}

}  // namespace

// The version-1 format (checkpoint.bin, before safetensors): still read, never written.
// `in` is read again from its first byte.
static Checkpoint load_legacy_bin(CheckpointReader& in) {
  const std::string& path = in.path;
  const std::uint64_t size = in.size;
  auto bad = [&](const std::string& why) { return in.bad(why); };
  auto read = [&](void* p, std::size_t n, const char* what) { in.read(p, n, what); };
  std::rewind(in.file.f);

  unsigned char pre[kPreamble] = {};
  std::size_t got = std::fread(pre, 1, kPreamble, in.file.f);
  if (got < 8 || std::memcmp(pre, kMagic, 8) != 0) throw bad("not a hypertrain checkpoint (bad magic)");
  if (got < kPreamble)
    throw bad("truncated: expected at least " + std::to_string(kPreamble) + " bytes, found " + std::to_string(size));
  std::uint32_t version = std::uint32_t(get_le(pre + 8, 4));
  if (version != kVersion)
    throw bad("unsupported version " + std::to_string(version) + " (this build reads version " + std::to_string(kVersion) + ")");
  std::uint64_t header_len = get_le(pre + 12, 8);
  std::uint32_t header_crc = std::uint32_t(get_le(pre + 20, 4));
  if (header_len > size - kPreamble)
    throw bad("truncated: expected at least " + std::to_string(kPreamble + header_len) + " bytes (header), found " +
              std::to_string(size));

  std::string text(std::size_t(header_len), '\0');
  read(text.data(), text.size(), "header");
  std::uint32_t crc = crc_update(0, text.data(), text.size());
  if (crc != header_crc)
    throw bad("header checksum mismatch (stored " + hex32(header_crc) + ", computed " + hex32(crc) + "): the file is corrupt");

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    throw bad(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object() || !header.contains("format") || header["format"] != kFormat)
    throw bad("not a hypertrain checkpoint (header format is not '" + std::string(kFormat) + "')");
  for (const char* k : {"data_bytes", "data_crc32"})
    if (!header.contains(k) || !header[k].is_number_unsigned()) throw bad(std::string("header has no valid '") + k + "'");
  if (!header.contains("tensors") || !header["tensors"].is_array()) throw bad("header has no 'tensors' array");
  const std::uint64_t data_bytes = header["data_bytes"].get<std::uint64_t>();
  const std::uint32_t data_crc = header["data_crc32"].get<std::uint32_t>();

  const std::uint64_t data_start = kPreamble + header_len;
  if (data_bytes > size - data_start)
    throw bad("truncated: expected " + std::to_string(data_start + data_bytes) + " bytes, found " + std::to_string(size));
  if (data_bytes < size - data_start)
    throw bad("size mismatch: expected " + std::to_string(data_start + data_bytes) + " bytes, found " + std::to_string(size) +
              " (trailing data)");

  std::vector<Entry> entries;
  std::set<std::string> names;
  const json& list = header["tensors"];
  for (std::size_t i = 0; i < list.size(); ++i) {
    entries.push_back(parse_entry(list[i], data_bytes, i, bad));
    if (!names.insert(entries.back().name).second) throw bad("tensor '" + entries.back().name + "' appears twice");
    if (i && entries[i].offset < entries[i - 1].offset + entries[i - 1].nbytes)
      throw bad("tensor '" + entries[i].name + "' overlaps the one before it");
  }

  Checkpoint ck;
  ck.path = path;
  ck.meta = header.contains("meta") ? header["meta"] : json::object();
  std::uint32_t crc_data = 0;
  std::uint64_t pos = 0;
  std::vector<unsigned char> gap;
  auto skip_to = [&](std::uint64_t target) {
    gap.resize(std::size_t(target - pos));
    read(gap.data(), gap.size(), "data");
    crc_data = crc_update(crc_data, gap.data(), gap.size());
    pos = target;
  };
  for (const Entry& e : entries) {
    skip_to(e.offset);
    Tensor t = Tensor::empty(e.shape, e.dtype);
    read(t.raw(), std::size_t(e.nbytes), "data");
    crc_data = crc_update(crc_data, t.raw(), std::size_t(e.nbytes));
    pos += e.nbytes;
    ck.tensors.emplace_back(e.name, std::move(t));
  }
  skip_to(data_bytes);
  if (crc_data != data_crc)
    throw bad("data checksum mismatch (stored " + hex32(data_crc) + ", computed " + hex32(crc_data) + "): the file is corrupt");
  return ck;
}

Checkpoint load_checkpoint(const std::string& path) {
  CheckpointReader in(path);
  const std::uint64_t size = in.size;
  auto bad = [&](const std::string& why) { return in.bad(why); };
  auto read = [&](void* p, std::size_t n, const char* what) { in.read(p, n, what); };

  unsigned char pre[8] = {};
  const std::size_t got = std::fread(pre, 1, 8, in.file.f);
  if (got == 8 && std::memcmp(pre, kMagic, 8) == 0) return load_legacy_bin(in);
  if (got < 8) throw bad("not a safetensors checkpoint, or truncated: " + std::to_string(size) + " bytes, less than its 8-byte header length");
  const std::uint64_t header_len = get_le(pre, 8);
  if (header_len < 2 || header_len > size - 8 || header_len > (std::uint64_t(100) << 20))
    throw bad("not a safetensors checkpoint, or truncated: the header length " + std::to_string(header_len) + " does not fit the file's " +
              std::to_string(size) + " bytes");
  std::string text(std::size_t(header_len), '\0');
  read(text.data(), text.size(), "header");
  if (text[0] != '{') throw bad("not a safetensors checkpoint (the header does not start with '{')");
  const std::size_t digits = header_crc_digits(text);
  if (digits == std::string::npos)
    throw bad(std::string("no __metadata__.") + kHeaderCrcKey + ": not written by hypertrain, or its header is damaged");
  const std::string stored = text.substr(digits, 8);
  const std::uint32_t computed = header_crc(text, digits);
  if (stored != hex32(computed))
    throw bad("header checksum mismatch (stored " + stored + ", computed " + hex32(computed) + "): the file is corrupt");

  json header;
  try {
    header = json::parse(text);
  } catch (const json::exception& e) {
    throw bad(std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object() || !header.contains("__metadata__") || !header["__metadata__"].is_object())
    throw bad("the header has no __metadata__ object");
  const json& md = header["__metadata__"];
  for (auto& [k, v] : md.items())
    if (!v.is_string()) throw bad("__metadata__ '" + k + "' is not a string");
  if (!md.contains(kFormatKey) || md[kFormatKey] != kSafeFormat)
    throw bad("__metadata__ format is " + (md.contains(kFormatKey) ? md[kFormatKey].dump() : std::string("missing")) + "; this build reads '" +
              kSafeFormat + "'");
  if (!md.contains(kDataCrcKey) || md[kHeaderCrcKey] != stored) throw bad("__metadata__ has no valid data_crc32 / header_crc32");

  const std::uint64_t data_start = 8 + header_len, data_bytes = size - data_start;
  std::vector<Entry> entries;
  for (auto& [name, e] : header.items()) {
    if (name == "__metadata__") continue;
    const std::string where = "tensor '" + name + "'";
    if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
      throw bad(where + " needs dtype, shape and data_offsets");
    Entry out;
    out.name = name;
    if (!e["dtype"].is_string() || !parse_safe_dtype(e["dtype"].get<std::string>(), out.dtype))
      throw bad(where + " has dtype " + e["dtype"].dump() + " (this build reads F32, F64 and I32)");
    const json& sh = e["shape"];
    if (!sh.is_array() || sh.size() > std::size_t(Shape::kMaxDims)) throw bad(where + " has an invalid shape " + sh.dump());
    std::uint64_t numel = 1;
    bool overflow = false;
    for (const json& d : sh) {
      if (!d.is_number_integer() || d.get<i64>() < 0) throw bad(where + " has an invalid shape " + sh.dump());
      out.shape.d[out.shape.nd++] = d.get<i64>();
      overflow |= __builtin_mul_overflow(numel, std::uint64_t(d.get<i64>()), &numel);
    }
    const json& offs = e["data_offsets"];
    if (!offs.is_array() || offs.size() != 2 || !offs[0].is_number_unsigned() || !offs[1].is_number_unsigned() ||
        offs[1].get<std::uint64_t>() < offs[0].get<std::uint64_t>())
      throw bad(where + " has invalid data_offsets " + offs.dump());
    out.offset = offs[0].get<std::uint64_t>();
    out.nbytes = offs[1].get<std::uint64_t>() - out.offset;
    std::uint64_t expect = 0;
    overflow |= __builtin_mul_overflow(numel, std::uint64_t(dtype_size(out.dtype)), &expect);
    if (overflow || expect != out.nbytes)
      throw bad(where + ": shape " + out.shape.str() + " " + safe_dtype(out.dtype) + " does not match its " + std::to_string(out.nbytes) +
                " bytes");
    entries.push_back(std::move(out));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.offset < b.offset || (a.offset == b.offset && a.nbytes < b.nbytes); });
  std::uint64_t pos = 0;
  for (const Entry& e : entries) {
    if (e.offset != pos)
      throw bad("tensor '" + e.name + "' starts at byte " + std::to_string(e.offset) + " of the data, expected " + std::to_string(pos) +
                " (tensors must cover the data without gaps or overlaps)");
    pos += e.nbytes;
  }
  if (pos > data_bytes)
    throw bad("truncated: expected " + std::to_string(data_start + pos) + " bytes, found " + std::to_string(size));
  if (pos < data_bytes)
    throw bad("size mismatch: expected " + std::to_string(data_start + pos) + " bytes, found " + std::to_string(size) + " (trailing data)");

  Checkpoint ck;
  ck.path = path;
  ck.meta = json::object();
  for (auto& [k, v] : md.items()) {
    if (reserved_meta_key(k)) continue;
    try {
      ck.meta[k] = json::parse(v.get<std::string>());
    } catch (const json::exception& e) {
      throw bad("__metadata__ '" + k + "' is not JSON text: " + e.what());
    }
  }
  std::uint32_t crc_data = 0;
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    read(t.raw(), std::size_t(e.nbytes), "data");
    crc_data = crc_update(crc_data, t.raw(), std::size_t(e.nbytes));
    ck.tensors.emplace_back(e.name, std::move(t));
  }
  if (hex32(crc_data) != md[kDataCrcKey].get<std::string>())
    throw bad("data checksum mismatch (stored " + md[kDataCrcKey].get<std::string>() + ", computed " + hex32(crc_data) +
              "): the file is corrupt");
  return ck;
}

const Tensor* Checkpoint::find(const std::string& name) const {
  for (auto& [n, t] : tensors)
    if (n == name) return &t;
  return nullptr;
}

// ---- parameters and state -----------------------------------------------------------------

NamedTensors param_tensors(const ParamStore& ps, const std::string& prefix, const std::string& buffer_prefix) {
  NamedTensors out;
  out.reserve(std::size_t(ps.size() + ps.num_buffers()));
  for (int i = 0; i < ps.size(); ++i) out.emplace_back(prefix + ps.name(i), ps.value(i));
  for (int i = 0; i < ps.num_buffers(); ++i) out.emplace_back(buffer_prefix + ps.buffer_name(i), ps.buffer(i));
  return out;
}

static std::string desc(const Tensor& t) { return t.shape().str() + " " + dtype_name(t.dtype()); }

namespace {

// The model's tensors of one kind ("parameter" or "buffer"), stored under `prefix`.
struct Group {
  const char* kind;
  std::string prefix;
  std::vector<std::pair<std::string, Tensor>> named;  // (name without prefix, destination view)
};

}  // namespace

void restore_params(ParamStore& ps, const Checkpoint& ck, const std::string& prefix, const std::string& buffer_prefix) {
  auto bad = [&](const std::string& why) { return std::runtime_error("checkpoint '" + ck.path + "': " + why); };
  if (prefix.rfind(buffer_prefix, 0) == 0 || buffer_prefix.rfind(prefix, 0) == 0)
    throw std::invalid_argument("restore_params: prefixes '" + prefix + "' and '" + buffer_prefix +
                                "' overlap, so a tensor name could belong to either");
  Group groups[2] = {{"parameter", prefix, {}}, {"buffer", buffer_prefix, {}}};
  for (int i = 0; i < ps.size(); ++i) groups[0].named.emplace_back(ps.name(i), ps.value(i));
  for (int i = 0; i < ps.num_buffers(); ++i) groups[1].named.emplace_back(ps.buffer_name(i), ps.buffer(i));

  std::vector<std::pair<Tensor, const Tensor*>> copies;
  for (const Group& g : groups) {
    std::unordered_map<std::string, const Tensor*> by_name;
    for (auto& [n, t] : ck.tensors)
      if (n.rfind(g.prefix, 0) == 0) by_name.emplace(n, &t);
    for (auto& [name, dst] : g.named) {
      auto it = by_name.find(g.prefix + name);
      if (it == by_name.end())
        throw bad("no tensor '" + g.prefix + name + "' for " + g.kind + " '" + name + "' (model shape " + desc(dst) + ")");
      const Tensor& src = *it->second;
      if (src.shape() != dst.shape() || src.dtype() != dst.dtype())
        throw bad(std::string(g.kind) + " '" + name + "': model shape " + desc(dst) + ", checkpoint shape " + desc(src));
      copies.emplace_back(dst, &src);
      by_name.erase(it);
    }
    if (!by_name.empty()) {
      const std::string* first = nullptr;
      for (auto& [n, t] : ck.tensors)
        if (by_name.count(n)) {
          first = &n;
          break;
        }
      const Tensor& t = *by_name.at(*first);
      throw bad("tensor '" + *first + "' (shape " + desc(t) + ") matches no " + g.kind + " '" + first->substr(g.prefix.size()) +
                "' of the model" + (by_name.size() > 1 ? " (and " + std::to_string(by_name.size() - 1) + " more)" : ""));
    }
  }
  for (auto& [dst, src] : copies) dst.copy_from(*src);
}

void refuse_nonfinite(const ParamStore& ps, const std::string& path) {
  const NonFinite bad = first_nonfinite(param_tensors(ps));
  if (!bad.name.empty())
    throw std::runtime_error("checkpoint '" + path + "': tensor '" + bad.name + "' holds " + std::to_string(bad.value) + " at element " +
                             std::to_string(bad.index) + "; these weights are not finite (a run that diverged?)");
}

void restore_tensors(const NamedTensors& dst, const Checkpoint& ck) {
  std::vector<const Tensor*> srcs;
  for (auto& [name, t] : dst) {
    const Tensor* src = ck.find(name);
    if (!src) throw std::runtime_error("checkpoint '" + ck.path + "': no tensor '" + name + "' (expected " + desc(t) + ")");
    if (src->shape() != t.shape() || src->dtype() != t.dtype())
      throw std::runtime_error("checkpoint '" + ck.path + "': tensor '" + name + "': expected shape " + desc(t) +
                               ", checkpoint shape " + desc(*src));
    srcs.push_back(src);
  }
  for (std::size_t i = 0; i < dst.size(); ++i) {
    Tensor d = dst[i].second;
    d.copy_from(*srcs[i]);
  }
}

// ---- RNG ----------------------------------------------------------------------------------

json rng_to_json(const Rng& rng) {
  json out = json::array();
  for (std::uint64_t w : rng.state()) out.push_back(std::to_string(w));
  return out;
}

void rng_from_json(Rng& rng, const json& j) {
  if (!j.is_array() || j.size() != 4)
    throw std::invalid_argument("RNG state must be an array of four decimal strings, got " + j.dump());
  Rng::State s{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (!j[i].is_string()) throw std::invalid_argument("RNG state word " + std::to_string(i) + " is not a string: " + j[i].dump());
    const std::string& str = j[i].get_ref<const std::string&>();
    auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), s[i]);
    if (ec != std::errc() || end != str.data() + str.size() || str.empty())
      throw std::invalid_argument("RNG state word " + std::to_string(i) + " is not a uint64: \"" + str + "\"");
  }
  if (s == Rng::State{}) throw std::invalid_argument("RNG state is all zero (xoshiro256** would only return zeros)");
  rng.set_state(s);
}

}  // namespace ht
