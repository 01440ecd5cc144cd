// Character corpora (data/text.h): the PTB character format, enwik8 byte splits, and the
// StreamBatcher that cuts one sequence into parallel streams for truncated BPTT.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "data/io.h"
#include "data/text.h"
#include "tests/files.h"

using namespace ht;
namespace fs = std::filesystem;
using ht::test::EnvGuard;
using ht::test::has;
using ht::test::TempDir;
using ht::test::write_gz;
using ht::test::write_plain;

namespace {

// Points $HYPERTRAIN_DATA and $HOME at empty directories, so no lookup can find real data.
struct NoRealData {
  TempDir env_dir, home_dir;
  EnvGuard env{"HYPERTRAIN_DATA", env_dir.path.string()};
  EnvGuard home{"HOME", home_dir.path.string()};
};

// Message of the exception `f` throws as E ("" when it throws nothing).
template <class E, class F> std::string message_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// The three PTB character files under root/ptb; train is gzipped, valid and test are plain.
void write_ptb(const std::string& root, const std::string& train, const std::string& valid, const std::string& test) {
  write_gz(root + "/ptb/ptb.char.train.txt.gz", train);
  write_plain(root + "/ptb/ptb.char.valid.txt", valid);
  write_plain(root + "/ptb/ptb.char.test.txt", test);
}

const std::string kTrain = " a b _ c \n d _ a \n e _ b \n";
const std::string kValid = " a _ b \n c \n";
const std::string kTest = " d _ e _ a \n";

}  // namespace

// ---- PTB characters ----

TEST_CASE("parse_ptb_chars: space-separated symbols, end of line is a symbol, '\\r' ignored") {
  std::vector<std::string> syms;
  auto ids = parse_ptb_chars(" a b _ c \n d _ a \n ", "x.txt", syms, true);
  CHECK(syms == std::vector<std::string>{"a", "b", "_", "c", "\n", "d"});  // order of first appearance
  CHECK(ids == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 2, 0, 4});

  // Windows line ends and a last line without "\n" read the same.
  auto crlf = parse_ptb_chars(" a b _ c \r\n d _ a", "y.txt", syms, false);
  CHECK(crlf == std::vector<std::int32_t>{0, 1, 2, 3, 4, 5, 2, 0});
  CHECK(syms.size() == 6);  // grow = false never adds

  // A symbol may sit directly before the end of line.
  CHECK(parse_ptb_chars("a\nb\n", "z.txt", syms, false) == std::vector<std::int32_t>{0, 4, 1, 4});
}

TEST_CASE("parse_ptb_chars: malformed text is a DataError naming the file and line") {
  std::vector<std::string> syms;
  std::string m = message_of<DataError>([&] { parse_ptb_chars("abc\n", "/some/where/ptb.char.train.txt", syms, true); });
  CHECK(m.find("/some/where/ptb.char.train.txt") != std::string::npos);
  CHECK(m.find("'ab'") != std::string::npos);
  CHECK(m.find("line 1") != std::string::npos);

  syms.clear();
  m = message_of<DataError>([&] { parse_ptb_chars(" a \n b \n c \t e \n", "f.txt", syms, true); });
  CHECK(m.find("f.txt") != std::string::npos);
  CHECK(m.find("line 3") != std::string::npos);
  CHECK(m.find("control byte 9") != std::string::npos);

  syms = {"a", "\n"};
  m = message_of<DataError>([&] { parse_ptb_chars(" a \n a \n a z \n", "v.txt", syms, false); });
  CHECK(m.find("v.txt: line 3") != std::string::npos);
  CHECK(m.find("'z'") != std::string::npos);
  CHECK(syms.size() == 2);

  syms.clear();
  CHECK_THROWS_WITH_AS(parse_ptb_chars("   ", "empty.txt", syms, true), has("empty.txt: no symbols"), DataError);
}

TEST_CASE("load_ptb_chars: sorted vocabulary of the training file, gz and plain files, ids decode back") {
  NoRealData guard;
  TempDir d;
  write_ptb(d.path.string(), kTrain, kValid, kTest);
  CharCorpus c = load_ptb_chars(d.path.string());
  CHECK(c.name == "ptb");

  std::set<std::string> train_set;
  for (char ch : kTrain)
    if (ch != ' ') train_set.insert(std::string(1, ch));
  CHECK(c.symbols == std::vector<std::string>(train_set.begin(), train_set.end()));
  CHECK(std::is_sorted(c.symbols.begin(), c.symbols.end()));
  CHECK(c.vocab() == 7);  // \n _ a b c d e
  CHECK(c.symbols.front() == "\n");

  auto strip = [](const std::string& s) {  // the PTB text as decode gives it: no separators, '_' -> ' '
    std::string out;
    for (char ch : s)
      if (ch != ' ') out.push_back(ch == '_' ? ' ' : ch);
    return out;
  };
  CHECK(c.train.size() == 13);
  CHECK(c.valid.size() == 6);
  CHECK(c.test.size() == 6);
  CHECK(c.decode(c.train) == strip(kTrain));
  CHECK(c.decode(c.valid) == strip(kValid));
  CHECK(c.decode(c.test) == strip(kTest));
  for (const auto* v : {&c.train, &c.valid, &c.test})
    for (auto id : *v) CHECK((id >= 0 && id < c.vocab()));
  CHECK(&c.split("train") == &c.train);
  CHECK(&c.split("valid") == &c.valid);
  CHECK(&c.split("test") == &c.test);
  CHECK_THROWS_AS(c.split("dev"), std::invalid_argument);

  // The ids do not depend on the order symbols first appear in the training file.
  TempDir d2;
  write_ptb(d2.path.string(), " e _ b \n d _ a \n a b _ c \n", kValid, kTest);
  CharCorpus c2 = load_ptb_chars(d2.path.string());
  CHECK(c2.symbols == c.symbols);
  CHECK(c2.valid == c.valid);
  CHECK(c2.test == c.test);
}

TEST_CASE("load_ptb_chars: a valid/test symbol outside the training vocabulary names the file and symbol") {
  NoRealData guard;
  {
    TempDir d;
    write_ptb(d.path.string(), kTrain, " a _ b \n q \n", kTest);
    std::string m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
    CHECK(m.find(d / "ptb/ptb.char.valid.txt") != std::string::npos);
    CHECK(m.find("'q'") != std::string::npos);
    CHECK(m.find("line 2") != std::string::npos);
  }
  {
    TempDir d;
    write_ptb(d.path.string(), kTrain, kValid, " a _ b \n c _ Z \n");
    std::string m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
    CHECK(m.find(d / "ptb/ptb.char.test.txt") != std::string::npos);
    CHECK(m.find("'Z'") != std::string::npos);
  }
  {
    TempDir d;  // "\n" itself outside the vocabulary: a training file of a single line without end
    write_ptb(d.path.string(), " a b _ c", " a \n", " a");
    std::string m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
    CHECK(m.find("ptb.char.valid.txt") != std::string::npos);
    CHECK(m.find("'\\n'") != std::string::npos);
  }
}

TEST_CASE("load_ptb_chars: a file without spaces between symbols is a DataError naming it") {
  NoRealData guard;
  TempDir d;
  write_ptb(d.path.string(), kTrain, kValid, "abc\n");
  std::string m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
  CHECK(m.find(d / "ptb/ptb.char.test.txt") != std::string::npos);
  CHECK(m.find("without a space") != std::string::npos);

  TempDir d2;  // the same in the gzipped training file
  write_ptb(d2.path.string(), "hello world\n", kValid, kTest);
  m = message_of<DataError>([&] { load_ptb_chars(d2.path.string()); });
  CHECK(m.find(d2 / "ptb/ptb.char.train.txt.gz") != std::string::npos);
  CHECK(m.find("'he'") != std::string::npos);
}

TEST_CASE("load_ptb_chars: a missing file says where to get simple-examples.tgz") {
  NoRealData guard;
  TempDir d;
  std::string m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
  CHECK(m.find("simple-examples.tgz") != std::string::npos);
  CHECK(m.find("http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz") != std::string::npos);
  CHECK(m.find("ptb.char.train.txt") != std::string::npos);
  CHECK(m.find(d / "ptb/ptb.char.train.txt.gz") != std::string::npos);  // the paths tried are listed

  // Only the test file missing: the error names it, not the others.
  write_gz(d / "ptb/ptb.char.train.txt.gz", kTrain);
  write_plain(d / "ptb/ptb.char.valid.txt", kValid);
  m = message_of<DataError>([&] { load_ptb_chars(d.path.string()); });
  CHECK(m.find("cannot find ptb.char.test.txt.gz or ptb.char.test.txt") != std::string::npos);
  CHECK(m.find("simple-examples.tgz") != std::string::npos);

  // Found through $HYPERTRAIN_DATA when there is no --data.
  write_plain(guard.env_dir / "ptb/ptb.char.train.txt", kTrain);
  write_plain(guard.env_dir / "ptb/ptb.char.valid.txt", kValid);
  write_gz(guard.env_dir / "ptb/ptb.char.test.txt.gz", kTest);
  CHECK(load_ptb_chars("").vocab() == 7);
}

TEST_CASE("CharCorpus::encode/decode for PTB: ' ' reads as '_', unknown characters are named") {
  NoRealData guard;
  TempDir d;
  write_ptb(d.path.string(), kTrain, kValid, kTest);
  CharCorpus c = load_ptb_chars(d.path.string());
  auto id = [&](const std::string& s) {
    return std::int32_t(std::find(c.symbols.begin(), c.symbols.end(), s) - c.symbols.begin());
  };
  auto ids = c.encode("ab c\n");
  CHECK(ids == std::vector<std::int32_t>{id("a"), id("b"), id("_"), id("c"), id("\n")});
  CHECK(c.decode(ids) == "ab c\n");
  CHECK(c.encode("_") == c.encode(" "));
  CHECK(c.decode(c.encode("_")) == " ");
  CHECK(c.encode("").empty());

  CHECK_THROWS_WITH_AS(c.encode("ab z"), has("'z' at position 3"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(c.encode("A"), has("'A'"), std::invalid_argument);
  CHECK_THROWS_AS(c.decode({0, std::int32_t(c.vocab())}), std::invalid_argument);
  CHECK_THROWS_AS(c.decode({-1}), std::invalid_argument);
}

// ---- enwik8 ----

namespace {
// 1000 bytes over a varied subset of 0..255 (NULs, high bytes, newlines, not every value).
std::string fake_enwik8() {
  std::string s;
  for (int i = 0; i < 1000; ++i) {
    int v = (i * 73 + (i / 13) * 5) % 211;
    if (v % 7 == 3) v = 0;           // some NULs
    if (i % 50 == 49) v = '\n';
    if (i % 97 == 5) v = 255;
    s.push_back(char(v));
  }
  s[0] = '<';  // not a gzip magic by accident
  s[1] = ' ';
  s[2] = '_';
  return s;
}
}  // namespace

TEST_CASE("load_enwik8: symbols are the distinct bytes in byte order; splits are the right slices") {
  NoRealData guard;
  const std::string bytes = fake_enwik8();
  for (bool gz : {false, true}) {
    CAPTURE(gz);
    TempDir d;
    if (gz) write_gz(d / "enwik8/enwik8.gz", bytes); else write_plain(d / "enwik8/enwik8", bytes);
    CharCorpus c = load_enwik8(d.path.string(), {800, 100, 100});
    CHECK(c.name == "enwik8");

    std::set<unsigned char> distinct(bytes.begin(), bytes.end());
    std::vector<std::string> want;
    for (unsigned char b : distinct) want.push_back(std::string(1, char(b)));
    CHECK(c.symbols == want);
    CHECK(c.vocab() == i64(distinct.size()));
    CHECK(c.vocab() < 256);
    CHECK(c.symbols.front() == std::string(1, '\0'));
    CHECK(c.symbols.back() == std::string(1, char(255)));

    REQUIRE(c.train.size() == 800);
    REQUIRE(c.valid.size() == 100);
    REQUIRE(c.test.size() == 100);
    CHECK(c.decode(c.train) == bytes.substr(0, 800));
    CHECK(c.decode(c.valid) == bytes.substr(800, 100));
    CHECK(c.decode(c.test) == bytes.substr(900, 100));
    CHECK(c.encode(bytes.substr(0, 800)) == c.train);
    CHECK(c.encode(" ") != c.encode("_"));  // the PTB reading of ' ' as '_' is not applied to enwik8
    CHECK(c.decode(c.encode("_ ")) == "_ ");
  }
}

TEST_CASE("load_enwik8: splits larger than the file, bad splits, and a missing file") {
  NoRealData guard;
  TempDir d;
  write_plain(d / "enwik8/enwik8", fake_enwik8());
  std::string m = message_of<DataError>([&] { load_enwik8(d.path.string(), {800, 100, 101}); });
  CHECK(m.find(d / "enwik8/enwik8") != std::string::npos);
  CHECK(m.find("1000 bytes") != std::string::npos);
  CHECK(m.find("need 1001") != std::string::npos);

  CHECK_THROWS_AS(load_enwik8(d.path.string(), {800, 100}), std::invalid_argument);
  CHECK_THROWS_AS(load_enwik8(d.path.string(), {800, 1, 100}), std::invalid_argument);

  TempDir empty;
  m = message_of<DataError>([&] { load_enwik8(empty.path.string(), {800, 100, 100}); });
  CHECK(m.find("http://mattmahoney.net/dc/enwik8.zip") != std::string::npos);
  CHECK(m.find("2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8") != std::string::npos);
  CHECK(m.find(empty / "enwik8/enwik8") != std::string::npos);
}

// ---- StreamBatcher ----

TEST_CASE("StreamBatcher: parallel streams, next-symbol targets, continuity across segments") {
  for (const auto& nbt : std::vector<std::array<i64, 3>>{{103, 4, 5}, {84, 4, 5}, {50, 1, 7}, {8, 4, 3}, {1000, 7, 16}}) {
    const i64 N = nbt[0], B = nbt[1], T = nbt[2];
    CAPTURE(N);
    CAPTURE(B);
    CAPTURE(T);
    std::vector<std::int32_t> data(static_cast<std::size_t>(N));
    for (i64 i = 0; i < N; ++i) data[std::size_t(i)] = std::int32_t(i);
    StreamBatcher sb(data, B, T);
    const i64 len = N / B;
    CHECK(sb.stream_length() == len);
    CHECK(sb.segments() == (len - 1 + T - 1) / T);

    std::vector<std::vector<int>> seen(static_cast<std::size_t>(B), std::vector<int>(static_cast<std::size_t>(len), 0));
    Tensor x, y;  // reused across segments, so a shorter last segment must reallocate
    std::vector<std::int32_t> prev_last(static_cast<std::size_t>(B), -1);
    i64 total = 0;
    for (i64 s = 0; s < sb.segments(); ++s) {
      const i64 Ts = sb.segment_length(s);
      CHECK(Ts == std::min(T, len - 1 - s * T));
      CHECK(Ts >= 1);
      sb.get(s, x, y);
      REQUIRE(x.shape() == Shape{Ts, B});
      REQUIRE(y.shape() == Shape{Ts, B});
      CHECK(x.dtype() == DType::I32);
      CHECK(y.dtype() == DType::I32);
      const std::int32_t* xi = x.data<std::int32_t>();
      const std::int32_t* yi = y.data<std::int32_t>();
      for (i64 b = 0; b < B; ++b) {
        if (s == 0) CHECK(xi[b] == b * len);  // stream b starts at b * len
        else CHECK(xi[b] == prev_last[std::size_t(b)]);  // continues where segment s-1 stopped
        for (i64 t = 0; t < Ts; ++t) {
          const std::int32_t in = xi[t * B + b], out = yi[t * B + b];
          CHECK(out == in + 1);
          CHECK(in == b * len + s * T + t);
          REQUIRE((in >= b * len && in < (b + 1) * len - 1));  // inside stream b, never its last symbol
          ++seen[std::size_t(b)][std::size_t(in - b * len)];
        }
        prev_last[std::size_t(b)] = yi[(Ts - 1) * B + b];
      }
      total += Ts;
    }
    CHECK(total == len - 1);
    for (i64 b = 0; b < B; ++b) {
      CHECK(prev_last[std::size_t(b)] == (b + 1) * len - 1);  // the last target is the stream's last symbol
      for (i64 p = 0; p + 1 < len; ++p) CHECK(seen[std::size_t(b)][std::size_t(p)] == 1);
      CHECK(seen[std::size_t(b)][std::size_t(len - 1)] == 0);
    }
    CHECK_THROWS_AS(sb.segment_length(sb.segments()), std::out_of_range);
    CHECK_THROWS_AS(sb.segment_length(-1), std::out_of_range);
  }
}

TEST_CASE("StreamBatcher: too-short data and bad sizes throw") {
  std::vector<std::int32_t> data(7, 1);
  CHECK_THROWS_WITH_AS(StreamBatcher(data, 4, 5), doctest::Contains("too short"), std::invalid_argument);  // 1 symbol per stream
  CHECK_NOTHROW(StreamBatcher(data, 3, 5));  // 2 per stream: one segment of one step
  CHECK(StreamBatcher(data, 3, 5).segments() == 1);
  std::vector<std::int32_t> one(1, 0), none;
  CHECK_THROWS_AS(StreamBatcher(one, 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(StreamBatcher(none, 1, 1), std::invalid_argument);
  CHECK_THROWS_AS(StreamBatcher(data, 0, 5), std::invalid_argument);
  CHECK_THROWS_AS(StreamBatcher(data, 2, 0), std::invalid_argument);
}

// ---- the real files, when present ----

namespace {
std::string real_ptb_root() {
  if (const char* env = std::getenv("HYPERTRAIN_DATA"); env && *env) return fs::exists(fs::path(env) / "ptb") ? env : "";
  if (fs::exists(fs::path("../shared/data") / "ptb")) return "../shared/data";
  return "";
}
}  // namespace

TEST_CASE("real PTB characters: 50 symbols, 5,017,482 / 393,042 / 442,423") {
  const std::string root = real_ptb_root();
  if (root.empty()) {
    MESSAGE("skipped: no ptb under $HYPERTRAIN_DATA or ../shared/data");
    return;
  }
  CharCorpus c = load_ptb_chars(root);
  CHECK(c.vocab() == 50);
  CHECK(c.train.size() == 5017482);
  CHECK(c.valid.size() == 393042);
  CHECK(c.test.size() == 442423);
  CHECK(std::is_sorted(c.symbols.begin(), c.symbols.end()));
  CHECK(std::find(c.symbols.begin(), c.symbols.end(), "\n") != c.symbols.end());
  CHECK(std::find(c.symbols.begin(), c.symbols.end(), "_") != c.symbols.end());
  CHECK(c.decode(std::vector<std::int32_t>(c.train.begin(), c.train.begin() + 12)) == "aer banknote");
}
