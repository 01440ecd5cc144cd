#include "data/io.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>

namespace ht {

namespace fs = std::filesystem;

static std::string with_commas(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = int(s.size()) - 3; i > 0; i -= 3) s.insert(std::size_t(i), ",");
  return s;
}

static std::string read_plain(const std::string& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw DataError(path + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fileno(f.get()), &st) == 0) {
    if (S_ISDIR(st.st_mode)) throw DataError(path + ": cannot open: is a directory, not a file");
  }
  std::string out;
  if (S_ISREG(st.st_mode) && st.st_size > 0) out.reserve(std::size_t(st.st_size));
  char buf[1 << 16];
  for (;;) {
    std::size_t n = std::fread(buf, 1, sizeof buf, f.get());
    out.append(buf, n);
    if (n < sizeof buf) {
      if (std::ferror(f.get())) throw DataError(path + ": read error after " + with_commas(out.size()) + " bytes: " + std::strerror(errno));
      break;
    }
  }
  return out;
}

static bool has_gzip_magic(const std::string& s, std::size_t at = 0) {
  return s.size() >= at + 2 && static_cast<unsigned char>(s[at]) == 0x1f && static_cast<unsigned char>(s[at + 1]) == 0x8b;
}

// Inflates every gzip member of `gz`; bytes after the last member that do not start another are ignored.
static std::string gunzip(const std::string& gz, const std::string& path) {
  auto fail = [&](const std::string& detail) {
    return DataError(path + ": corrupt or truncated gzip stream (" + detail + ")");
  };
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw DataError(path + ": zlib inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);

  // ISIZE (last 4 bytes, little-endian) is the decompressed size mod 2^32 of the last member;
  // used only as a first guess, capped by deflate's best ratio (about 1032:1).
  std::string out;
  std::size_t guess = gz.size() * 4;
  if (gz.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(gz.data() + gz.size() - 4);
    std::size_t isize = std::size_t(t[0]) | std::size_t(t[1]) << 8 | std::size_t(t[2]) << 16 | std::size_t(t[3]) << 24;
    if (isize <= gz.size() * 1032 + 1024) guess = isize + 1;
  }
  out.resize(std::max<std::size_t>(guess, 1 << 16));

  const auto* in_base = reinterpret_cast<const Bytef*>(gz.data());
  auto* out_base = reinterpret_cast<Bytef*>(out.data());
  zs.next_in = const_cast<Bytef*>(in_base);
  zs.next_out = out_base;
  zs.avail_out = uInt(std::min<std::size_t>(out.size(), 1u << 30));
  constexpr std::size_t kChunk = std::size_t(1) << 30;  // avail_in / avail_out are 32-bit

  for (;;) {
    std::size_t in_pos = std::size_t(zs.next_in - in_base);
    std::size_t out_pos = std::size_t(zs.next_out - out_base);
    if (zs.avail_in == 0) zs.avail_in = uInt(std::min(gz.size() - in_pos, kChunk));
    if (zs.avail_out == 0) {
      if (out_pos == out.size()) {
        out.resize(out.size() * 2);
        out_base = reinterpret_cast<Bytef*>(out.data());
        zs.next_out = out_base + out_pos;
      }
      zs.avail_out = uInt(std::min(out.size() - out_pos, kChunk));
    }
    int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      std::size_t end = std::size_t(zs.next_in - in_base);
      if (!has_gzip_magic(gz, end)) break;
      inflateReset(&zs);
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR) {
      std::size_t used = std::size_t(zs.next_in - in_base);
      if (zs.avail_in == 0 && used == gz.size())
        throw fail("the compressed data ends after " + with_commas(gz.size()) + " bytes, before the end of the stream; " +
                   with_commas(std::size_t(zs.next_out - out_base)) + " bytes decompressed so far");
      continue;
    }
    if (rc == Z_MEM_ERROR) throw DataError(path + ": out of memory while decompressing");
    std::string why = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
    throw fail(why + " at compressed byte " + with_commas(std::size_t(zs.next_in - in_base)) + " of " + with_commas(gz.size()));
  }
  out.resize(std::size_t(zs.next_out - out_base));
  return out;
}

std::string read_file_maybe_gz(const std::string& path) {
  std::string raw = read_plain(path);
  if (has_gzip_magic(raw)) return gunzip(raw, path);
  return raw;
}

namespace {

std::string where_to_get(const std::string& dataset_dir, const std::string& first_name, const DataFile& help) {
  std::string msg = "Get " + (help.name.empty() ? first_name : help.name) + " from " + help.url + "\n";
  msg += "  sha256: " + (help.sha256.empty() ? std::string("not known") : help.sha256) + "\n";
  if (!help.note.empty()) msg += "  " + help.note + "\n";
  msg += "and put it in DIR/" + dataset_dir + "/ with DIR given by --data DIR or $HYPERTRAIN_DATA, or in ~/.cache/hypertrain/" +
         dataset_dir + "/.";
  return msg;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

}  // namespace

std::string find_data_dir(const std::string& dataset_dir, const std::string& data_flag, const DataFile& help,
                          const std::vector<std::string>& extra_dirs) {
  if (!data_flag.empty()) {
    if (!is_dir(data_flag))
      throw DataError(dataset_dir + ": --data " + data_flag + " is not a directory" +
                      (fs::exists(data_flag) ? " (it is a file)" : " (it does not exist)") +
                      "; no other place is searched when --data is given.\n" + where_to_get(dataset_dir, help.name, help));
    const fs::path sub = fs::path(data_flag) / dataset_dir;
    return is_dir(sub) ? sub.string() : data_flag;
  }
  std::vector<std::string> tried, notes;
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HYPERTRAIN_DATA"); env && *env) candidates.push_back(fs::path(env) / dataset_dir);
  else notes.push_back("$HYPERTRAIN_DATA is not set");
  if (const char* home = std::getenv("HOME"); home && *home) candidates.push_back(fs::path(home) / ".cache" / "hypertrain" / dataset_dir);
  else notes.push_back("$HOME is not set, so ~/.cache/hypertrain was not searched");
  for (const auto& d : extra_dirs) candidates.push_back(d);
  for (const auto& c : candidates) {
    if (is_dir(c)) return c.string();
    tried.push_back(c.string() + "/" + (fs::exists(c) ? "  (exists but is not a directory)" : ""));
  }
  std::string msg = dataset_dir + ": no data directory found. Tried:\n";
  for (const auto& t : tried) msg += "  " + t + "\n";
  for (const auto& n : notes) msg += "  (" + n + ")\n";
  throw DataError(msg + where_to_get(dataset_dir, help.name, help));
}

std::string find_data_file(const std::string& dataset_dir, const std::vector<std::string>& names,
                           const std::string& data_flag, const DataFile& help,
                           const std::vector<std::string>& extra_dirs) {
  const std::string dir = find_data_dir(dataset_dir, data_flag, help, extra_dirs);
  std::vector<std::string> tried;
  if (!data_flag.empty() && dir == data_flag)  // a flat --data directory: its dataset subdirectory was looked for first
    for (const auto& name : names)
      tried.push_back((fs::path(data_flag) / dataset_dir / name).string() + "  (no directory " +
                      (fs::path(data_flag) / dataset_dir).string() + ")");
  for (const auto& name : names) {
    const fs::path p = fs::path(dir) / name;
    std::error_code ec;
    const fs::file_status st = fs::status(p, ec);
    if (fs::is_regular_file(st)) return p.string();
    tried.push_back(p.string() + (fs::exists(st) ? "  (exists but is not a regular file)" : ""));
  }
  std::string wanted;
  for (std::size_t i = 0; i < names.size(); ++i) wanted += (i ? i + 1 == names.size() ? " or " : ", " : "") + names[i];
  std::string msg = dataset_dir + ": cannot find " + wanted + " in " + dir + " (" +
                    (data_flag.empty() ? "the first data directory found" : "from --data " + data_flag) +
                    "; every file of a data set is read from one directory). Tried:\n";
  for (const auto& t : tried) msg += "  " + t + "\n";
  throw DataError(msg + where_to_get(dataset_dir, names.front(), help));
}

}  // namespace ht
