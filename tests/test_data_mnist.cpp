#include <doctest/doctest.h>
#include <stdlib.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "data/idx.h"
#include "data/io.h"
#include "data/mnist.h"
#include "engine/rng.h"
#include "tests/files.h"

using namespace ht;
namespace fs = std::filesystem;
using ht::test::EnvGuard;
using ht::test::has;
using ht::test::TempDir;
using ht::test::write_gz;
using ht::test::write_plain;

namespace {

std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data, std::uint8_t type = 0x08) {
  std::string s{char(0), char(0), char(type), char(dims.size())};
  for (std::uint32_t d : dims)
    for (int sh = 24; sh >= 0; sh -= 8) s.push_back(char((d >> sh) & 0xff));
  s.append(data.begin(), data.end());
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// n images whose pixel (r, c) of image i is (i * 31 + r * 7 + c * 3) % 256, labels i % 10.
struct Fake {
  std::vector<std::uint8_t> pixels, labels;
  explicit Fake(int n) {
    for (int i = 0; i < n; ++i) {
      labels.push_back(std::uint8_t(i % 10));
      for (int r = 0; r < 28; ++r)
        for (int c = 0; c < 28; ++c) pixels.push_back(std::uint8_t((i * 31 + r * 7 + c * 3) % 256));
    }
  }
  std::string images_idx() const { return idx_bytes({std::uint32_t(labels.size()), 28, 28}, pixels); }
  std::string labels_idx() const { return idx_bytes({std::uint32_t(labels.size())}, labels); }
};

// Writes the four MNIST files for `train` and `test` into dir, gzipped or plain.
void write_mnist(const std::string& dir, const Fake& train, const Fake& test, bool gz) {
  auto put = [&](const std::string& stem, const std::string& bytes) {
    if (gz) write_gz(dir + "/" + stem + ".gz", bytes); else write_plain(dir + "/" + stem, bytes);
  };
  put("train-images-idx3-ubyte", train.images_idx());
  put("train-labels-idx1-ubyte", train.labels_idx());
  put("t10k-images-idx3-ubyte", test.images_idx());
  put("t10k-labels-idx1-ubyte", test.labels_idx());
}

void check_set(const ImageSet& s, const Fake& f, int first) {
  REQUIRE(s.images.shape() == Shape{s.size(), 1, 28, 28});
  for (i64 i = 0; i < s.size(); ++i) {
    CHECK(s.labels[std::size_t(i)] == f.labels[std::size_t(first + i)]);
    int wrong = 0;
    for (i64 p = 0; p < 784; ++p) wrong += s.images.at(i * 784 + p) != float(f.pixels[std::size_t((first + i) * 784 + p)]) / 255.0f;
    CHECK(wrong == 0);
  }
}

// An in-memory set of n images; image i has pixel 0 = (i + 1) / 255 so it can be identified,
// and every other pixel in 1/255..255/255 (nonzero), labels i % 10.
ImageSet numbered_set(int n) {
  ImageSet s;
  s.images = Tensor::empty({n, 1, 28, 28});
  float* p = s.images.data<float>();
  for (int i = 0; i < n; ++i) {
    p[i * 784] = float(i + 1) / 255.0f;
    for (int k = 1; k < 784; ++k) p[i * 784 + k] = float((i * 13 + k * 5) % 255 + 1) / 255.0f;
    s.labels.push_back(i % 10);
  }
  return s;
}

// doctest::Contains copies its argument; this takes a std::string.

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (i64 i = 0; i < a.numel(); ++i)
    if (a.at(i) != b.at(i)) return false;
  return true;
}

int identify(const Tensor& batch, i64 b) { return int(batch.at(b * 784) * 255.0f + 0.5f) - 1; }

}  // namespace

// ---- io ----

TEST_CASE("read_file_maybe_gz reads plain and gzip files, told apart by content") {
  TempDir d;
  std::string payload;
  Rng rng(3);
  for (int i = 0; i < 300000; ++i) payload.push_back(char(rng.below(7)));
  write_plain(d / "plain.gz", payload);  // the name says .gz, the bytes do not
  write_gz(d / "packed.bin", payload);
  CHECK(read_file_maybe_gz(d / "plain.gz") == payload);
  CHECK(read_file_maybe_gz(d / "packed.bin") == payload);

  // Two concatenated gzip members decompress to both payloads.
  std::string both = slurp(d / "packed.bin") + slurp(d / "packed.bin");
  write_plain(d / "two.gz", both);
  CHECK(read_file_maybe_gz(d / "two.gz") == payload + payload);

  write_plain(d / "empty", "");
  CHECK(read_file_maybe_gz(d / "empty").empty());
}

TEST_CASE("read_file_maybe_gz: missing file, directory, truncated and corrupt gzip") {
  TempDir d;
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d / "nope.gz"),
                       has((d / "nope.gz") + ": cannot open: No such file or directory"), DataError);
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d.path.string()), has("is a directory"), DataError);

  std::string payload(200000, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 7) payload[i] = char(i % 251);
  write_gz(d / "full.gz", payload);
  const std::string gz = slurp(d / "full.gz");
  REQUIRE(gz.size() > 100);

  write_plain(d / "half.gz", gz.substr(0, gz.size() / 2));
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d / "half.gz"),
                       has((d / "half.gz") + ": corrupt or truncated gzip stream"), DataError);
  write_plain(d / "notrailer.gz", gz.substr(0, gz.size() - 3));  // missing part of the crc32/size trailer
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d / "notrailer.gz"), has("corrupt or truncated gzip stream"), DataError);
  write_plain(d / "magiconly.gz", gz.substr(0, 2));
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d / "magiconly.gz"), has("corrupt or truncated gzip stream"), DataError);

  std::string bad = gz;
  for (std::size_t i = gz.size() / 3; i < gz.size() / 3 + 16; ++i) bad[i] = char(bad[i] ^ 0x5a);
  write_plain(d / "flipped.gz", bad);
  CHECK_THROWS_WITH_AS(read_file_maybe_gz(d / "flipped.gz"),
                       has((d / "flipped.gz") + ": corrupt or truncated gzip stream"), DataError);
}

TEST_CASE("find_data_file: lookup order, .gz first, a flat --data dir, one directory per data set, and messages naming it") {
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  const DataFile help{"thing.gz", "https://example.org/thing.gz", "abc123", "md5 of the decompressed thing: def456"};
  const std::vector<std::string> names{"thing.gz", "thing"};

  write_plain(d / "home/.cache/hypertrain/ds/thing", "h");
  CHECK(find_data_file("ds", names, "", help) == d / "home/.cache/hypertrain/ds/thing");
  write_plain(d / "env/ds/thing", "e");
  CHECK(find_data_file("ds", names, "", help) == d / "env/ds/thing");
  write_plain(d / "env/ds/thing.gz", "e");
  CHECK(find_data_file("ds", names, "", help) == d / "env/ds/thing.gz");
  write_plain(d / "flag/thing", "f");  // --data pointing straight at the files
  CHECK(find_data_file("ds", names, d / "flag", help) == d / "flag/thing");
  write_plain(d / "flag/ds/thing", "f");
  CHECK(find_data_file("ds", names, d / "flag", help) == d / "flag/ds/thing");
  write_plain(d / "extra/other", "x");
  CHECK(find_data_file("ds2", {"other.gz", "other"}, "", help, {d / "extra"}) == d / "extra/other");

  // A --data that does not exist is an error naming it; nothing else is searched (issue 12: it
  // used to fall back to $HYPERTRAIN_DATA and ~/.cache, file by file).
  write_plain(d / "home/.cache/hypertrain/ds5/thing", "h");
  try {
    find_data_file("ds5", names, d / "missing", help, {d / "extra"});
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find("--data " + (d / "missing") + " is not a directory (it does not exist)") != std::string::npos);
    CHECK(m.find(d / "home") == std::string::npos);
    CHECK(m.find(d / "env") == std::string::npos);
    CHECK(m.find("https://example.org/thing.gz") != std::string::npos);
    CHECK(m.find("sha256: abc123") != std::string::npos);
    CHECK(m.find("def456") != std::string::npos);
  }
  // Without --data the first data-set directory that exists is the only one read: $HYPERTRAIN_DATA's
  // ds5, though it lacks the file and ~/.cache has it.
  fs::create_directories(d / "env/ds5/thing.gz");  // a directory named like the file is skipped
  try {
    find_data_file("ds5", names, "", help, {d / "extra"});
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    INFO(m);
    CHECK(m.find("cannot find thing.gz or thing in " + (d / "env/ds5")) != std::string::npos);
    CHECK(m.find("  " + (d / "env/ds5/thing.gz") + "  (exists but is not a regular file)\n") != std::string::npos);
    CHECK(m.find("  " + (d / "env/ds5/thing") + "\n") != std::string::npos);
    CHECK(m.find(d / "home") == std::string::npos);
    CHECK(m.find("https://example.org/thing.gz") != std::string::npos);
  }
  // No data-set directory anywhere: every directory tried is listed.
  try {
    find_data_file("ds4", names, "", help, {d / "extra4"});
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    INFO(m);
    for (const std::string& p : {d / "env/ds4", d / "home/.cache/hypertrain/ds4", d / "extra4"})
      CHECK(m.find("  " + p + "/\n") != std::string::npos);
    CHECK(m.find("sha256: abc123") != std::string::npos);
  }
  EnvGuard unset("HYPERTRAIN_DATA", std::nullopt);
  CHECK_THROWS_WITH_AS(find_data_file("ds3", names, "", help), has("$HYPERTRAIN_DATA is not set"), DataError);
}

// ---- idx ----

TEST_CASE("read_idx reads plain and gzipped files") {
  TempDir d;
  Fake f(3);
  write_plain(d / "im", f.images_idx());
  write_gz(d / "im.gz", f.images_idx());
  for (const std::string& p : {d / "im", d / "im.gz"}) {
    IdxArray a = read_idx(p);
    CHECK(a.dims == std::vector<std::int64_t>{3, 28, 28});
    CHECK(a.data == f.pixels);
  }
  write_plain(d / "lb", f.labels_idx());
  IdxArray l = read_idx(d / "lb");
  CHECK(l.dims == std::vector<std::int64_t>{3});
  CHECK(l.data == f.labels);
}

TEST_CASE("read_idx errors name the file and the problem") {
  TempDir d;
  Fake f(2);
  auto expect = [&](const std::string& name, const std::string& bytes, const std::string& what) {
    write_plain(d / name, bytes);
    CHECK_THROWS_WITH_AS(read_idx(d / name), has((d / name) + ": " + what), DataError);
  };
  expect("short", std::string("\0\0\x08", 3), "truncated header");
  expect("short_dims", f.images_idx().substr(0, 10), "truncated header: 3 dimensions need a 16-byte header, the file has 10 bytes");
  expect("magic", "\x01\x02\x08\x03" + f.images_idx().substr(4), "bad magic 01 02 08 03");
  expect("type", idx_bytes({2, 28, 28}, f.pixels, 0x0D), "unsupported IDX type 0x0d");
  expect("nodims", std::string("\0\0\x08\0", 4), "IDX header declares 0 dimensions; expected 1 to 4");
  expect("fivedims", idx_bytes({1, 1, 1, 1, 1}, {7}), "IDX header declares 5 dimensions");
  expect("lies_long", idx_bytes({3, 28, 28}, f.pixels), "header says 2352 bytes of data (3 x 28 x 28), file has 1568");
  expect("lies_short", idx_bytes({1, 28, 28}, f.pixels), "header says 784 bytes of data (1 x 28 x 28), file has 1568");

  // The same lie inside a gzip file is reported the same way.
  write_gz(d / "lies.gz", idx_bytes({3, 28, 28}, f.pixels));
  CHECK_THROWS_WITH_AS(read_idx(d / "lies.gz"), has((d / "lies.gz") + ": header says 2352 bytes"), DataError);
}

// ---- mnist ----

TEST_CASE("load_mnist: plain, gzipped and flat directories give the right pixels, labels and split") {
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  Fake train(7), test(3);
  write_mnist(d / "plain/mnist", train, test, false);
  write_mnist(d / "gz/mnist", train, test, true);
  write_mnist(d / "flat", train, test, true);
  write_mnist(d / "env/fashion-mnist", train, test, false);
  for (const std::string& root : {d / "plain", d / "gz", d / "flat"}) {
    CAPTURE(root);
    ImageSplits s = load_mnist("mnist", root, 2);
    CHECK(s.train.size() == 5);
    CHECK(s.valid.size() == 2);
    CHECK(s.test.size() == 3);
    check_set(s.train, train, 0);
    check_set(s.valid, train, 5);
    check_set(s.test, test, 0);
  }
  ImageSplits fa = load_mnist("fashion-mnist", "", 0);
  CHECK(fa.train.size() == 7);
  CHECK(fa.valid.size() == 0);
  CHECK_THROWS_WITH_AS(load_mnist("fashion-mnist", "", 7), has("7 training images leave none for training"), DataError);
  CHECK_THROWS_AS(load_mnist("cifar", "", 1), std::invalid_argument);
}

TEST_CASE("load_mnist: a missing file lists the paths tried and where to get it") {
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  fs::create_directories(d / "empty");
  try {
    load_mnist("mnist", d / "empty");
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    INFO(m);
    for (const std::string& p : {d / "empty/mnist/train-images-idx3-ubyte.gz", d / "empty/mnist/train-images-idx3-ubyte",
                                d / "empty/train-images-idx3-ubyte.gz", d / "empty/train-images-idx3-ubyte"})
      CHECK(m.find(p) != std::string::npos);
    CHECK(m.find(d / "env") == std::string::npos);  // --data given: nothing else is searched
    CHECK(m.find(d / "home") == std::string::npos);
    CHECK(m.find("http://yann.lecun.com/exdb/mnist/") != std::string::npos);
    CHECK(m.find("6bbc9ace898e44ae57da46a324031adb") != std::string::npos);
    CHECK(m.find("0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971") != std::string::npos);
  }
  // The first three files present, the test labels missing: the message is about that file.
  Fake f(3);
  write_mnist(d / "partial", f, f, true);
  fs::remove(d / "partial/t10k-labels-idx1-ubyte.gz");
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "partial", 1),
                       has("27ae3e4e09519cfbb04c329615203637"), DataError);
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "partial", 1),
                       has("cannot find t10k-labels-idx1-ubyte.gz or t10k-labels-idx1-ubyte"), DataError);
}

TEST_CASE("load_mnist: a missing Fashion-MNIST file points at the project and the Debian package") {
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  DataFile help{"x.gz", "https://github.com/zalandoresearch/fashion-mnist", "", "or apt-get install dataset-fashion-mnist"};
  // load_mnist also searches /usr/share/datasets/fashion-mnist, so check the message through a name nobody has.
  try {
    find_data_file("fashion-mnist", {"no-such-file.gz"}, "", help, {"/usr/share/datasets/fashion-mnist"});
    FAIL("expected DataError");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("/usr/share/datasets/fashion-mnist/no-such-file.gz") != std::string::npos);
    CHECK(m.find("sha256: not known") != std::string::npos);
  }
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    CHECK_THROWS_WITH_AS(load_mnist("fashion-mnist", d / "nothing"),
                         has("apt-get install dataset-fashion-mnist"), DataError);
    CHECK_THROWS_WITH_AS(load_mnist("fashion-mnist", d / "nothing"),
                         has("https://github.com/zalandoresearch/fashion-mnist"), DataError);
  }
}

TEST_CASE("load_mnist: bad contents are errors that name the files") {
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  Fake f(4), g(3);

  write_mnist(d / "count", f, f, false);
  write_plain(d / "count/train-labels-idx1-ubyte", g.labels_idx());
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "count", 1),
                       has("image and label counts differ: " + (d / "count/train-images-idx3-ubyte") + " has 4 images, " +
                                         (d / "count/train-labels-idx1-ubyte") + " has 3 labels"),
                       DataError);

  Fake bad(4);
  bad.labels[2] = 10;
  write_mnist(d / "label", f, bad, true);
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "label", 1),
                       has((d / "label/t10k-labels-idx1-ubyte.gz") + ": label 10 at index 2 is outside 0..9"), DataError);

  write_mnist(d / "size", f, f, false);
  write_plain(d / "size/t10k-images-idx3-ubyte", idx_bytes({4, 14, 56}, f.pixels));
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "size", 1),
                       has((d / "size/t10k-images-idx3-ubyte") + ": expected 28x28 images"), DataError);

  write_mnist(d / "swapped", f, f, false);
  write_plain(d / "swapped/train-labels-idx1-ubyte", f.images_idx());
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "swapped", 1),
                       has((d / "swapped/train-labels-idx1-ubyte") + ": expected labels (IDX dims N), got dims 4 x 28 x 28"),
                       DataError);

  write_mnist(d / "trunc", f, f, true);
  const std::string gz = slurp(d / "trunc/train-images-idx3-ubyte.gz");
  write_plain(d / "trunc/train-images-idx3-ubyte.gz", gz.substr(0, gz.size() / 2));
  CHECK_THROWS_WITH_AS(load_mnist("mnist", d / "trunc", 1),
                       has((d / "trunc/train-images-idx3-ubyte.gz") + ": corrupt or truncated gzip stream"), DataError);
}

// ---- batching ----

TEST_CASE("ImageBatcher: an epoch's order depends on (seed, epoch) only, and covers each example at most once") {
  ImageSet set = numbered_set(50);
  ImageBatcher a(set, 8, 42, true), b(set, 8, 42, true), other(set, 8, 43, true);
  CHECK(a.batches_per_epoch() == 6);  // 48 of 50, the partial batch dropped

  auto epoch_ids = [](const ImageBatcher& bt, i64 epoch) {
    std::vector<int> ids;
    Tensor im;
    std::vector<std::int32_t> lb;
    for (i64 k = 0; k < bt.batches_per_epoch(); ++k) {
      bt.get(epoch, k, im, lb);
      REQUIRE(im.shape() == Shape{8, 1, 28, 28});
      for (i64 j = 0; j < 8; ++j) {
        int id = identify(im, j);
        ids.push_back(id);
        CHECK(lb[std::size_t(j)] == id % 10);
      }
    }
    return ids;
  };
  std::vector<int> e0 = epoch_ids(a, 0), e1 = epoch_ids(a, 1);
  CHECK(e0 == epoch_ids(b, 0));
  CHECK(e1 == epoch_ids(b, 1));
  CHECK(e0 != e1);
  CHECK(e0 != epoch_ids(other, 0));
  CHECK(epoch_ids(a, 0) == e0);  // back to an earlier epoch after the cache moved on
  for (const auto& ids : {e0, e1}) {
    std::set<int> seen(ids.begin(), ids.end());
    CHECK(seen.size() == ids.size());
    CHECK(*seen.begin() >= 0);
    CHECK(*seen.rbegin() < 50);
  }

  // A resumed run: a fresh batcher asked for epoch 1, batch 3 directly gives the same batch.
  Tensor x, y;
  std::vector<std::int32_t> lx, ly;
  a.get(1, 3, x, lx);
  ImageBatcher(set, 8, 42, true).get(1, 3, y, ly);
  CHECK(lx == ly);
  CHECK(same_values(x, y));

  CHECK_THROWS_AS(a.get(0, 6, x, lx), std::out_of_range);
  CHECK_THROWS_AS(ImageBatcher(set, 51, 1, true), std::invalid_argument);
}

TEST_CASE("ImageBatcher without shuffle: in order, the last batch short; for_each_batch the same") {
  ImageSet set = numbered_set(10);
  ImageBatcher bt(set, 4, 0, false);
  CHECK(bt.batches_per_epoch() == 3);
  Tensor im;
  std::vector<std::int32_t> lb;
  std::vector<int> ids;
  for (i64 k = 0; k < 3; ++k) {
    bt.get(7, k, im, lb);
    CHECK(im.dim(0) == (k < 2 ? 4 : 2));
    for (i64 j = 0; j < im.dim(0); ++j) ids.push_back(identify(im, j));
    CHECK(same_values(im, set.images.rows(k * 4, k * 4 + im.dim(0))));
  }
  CHECK(ids == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});

  std::vector<i64> begins, sizes;
  for_each_batch(set, 4, [&](const ImageSet& part, i64 begin) {
    begins.push_back(begin);
    sizes.push_back(part.size());
    CHECK(part.images.dim(0) == part.size());
    CHECK(part.images.raw() == static_cast<const float*>(set.images.raw()) + begin * 784);
    CHECK(part.labels.front() == set.labels[std::size_t(begin)]);
  });
  CHECK(begins == std::vector<i64>{0, 4, 8});
  CHECK(sizes == std::vector<i64>{4, 4, 2});
}

TEST_CASE("ImageBatcher augmentation: a shifted copy of the image within the zero-padded 30x30, reproducible") {
  ImageSet set = numbered_set(64);
  ImageBatcher bt(set, 16, 9, false, ImageAugment{1, false});
  std::set<std::pair<int, int>> offsets_seen;
  Tensor im, again;
  std::vector<std::int32_t> lb, lb2;
  for (i64 epoch = 0; epoch < 3; ++epoch)
    for (i64 k = 0; k < bt.batches_per_epoch(); ++k) {
      bt.get(epoch, k, im, lb);
      bt.get(epoch, k, again, lb2);
      CHECK(same_values(im, again));
      for (i64 j = 0; j < 16; ++j) {
        const i64 ex = k * 16 + j;
        const float* in = set.images.data<float>() + ex * 784;
        const float* out = im.data<float>() + j * 784;
        std::set<float> input_values(in, in + 784);
        int foreign = 0;
        for (int p = 0; p < 784; ++p) foreign += !(out[p] == 0.0f || input_values.count(out[p]));
        CHECK(foreign == 0);
        int match = 0;
        for (int dy = 0; dy < 3; ++dy)
          for (int dx = 0; dx < 3; ++dx) {
            bool same = true;
            for (int y = 0; y < 28 && same; ++y)
              for (int x = 0; x < 28 && same; ++x) {
                const int sy = y + dy - 1, sx = x + dx - 1;
                const float want = (sy >= 0 && sy < 28 && sx >= 0 && sx < 28) ? in[sy * 28 + sx] : 0.0f;
                same = out[y * 28 + x] == want;
              }
            if (same) {
              ++match;
              offsets_seen.insert({dy, dx});
            }
          }
        CHECK(match == 1);
        CHECK(lb[std::size_t(j)] == set.labels[std::size_t(ex)]);
      }
    }
  CHECK(offsets_seen.size() == 9);

  // Different epochs crop differently.
  bt.get(0, 0, im, lb);
  bt.get(1, 0, again, lb2);
  CHECK_FALSE(same_values(im, again));
}

// ---- the real files, when present ----

namespace {
std::string real_data_root() {
  if (const char* env = std::getenv("HYPERTRAIN_DATA"); env && *env) return fs::exists(fs::path(env) / "mnist") ? env : "";
  for (const char* p : {"../shared/data", "/work/shared/data"})
    if (fs::exists(fs::path(p) / "mnist")) return p;
  return "";
}
}  // namespace

TEST_CASE("real MNIST: 55,000 / 5,000 / 10,000 with the published label counts") {
  const std::string root = real_data_root();
  if (root.empty()) {
    MESSAGE("skipped: no MNIST under $HYPERTRAIN_DATA, ../shared/data or /work/shared/data");
    return;
  }
  ImageSplits s = load_mnist("mnist", root);
  CHECK(s.train.size() == 55000);
  CHECK(s.valid.size() == 5000);
  CHECK(s.test.size() == 10000);
  CHECK(s.train.labels[0] == 5);
  std::array<int, 10> counts{};
  for (auto l : s.test.labels) ++counts[std::size_t(l)];
  CHECK(counts == std::array<int, 10>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
  std::array<int, 10> train_counts{};
  for (auto l : s.train.labels) ++train_counts[std::size_t(l)];
  for (auto l : s.valid.labels) ++train_counts[std::size_t(l)];
  CHECK(train_counts == std::array<int, 10>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});
  for (const ImageSet* set : {&s.train, &s.valid, &s.test}) {
    const float* p = set->images.data<float>();
    auto [lo, hi] = std::minmax_element(p, p + set->images.numel());
    CHECK(*lo == 0.0f);
    CHECK(*hi == 1.0f);
  }
}

TEST_CASE("real Fashion-MNIST from Debian's dataset-fashion-mnist") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    MESSAGE("skipped: /usr/share/datasets/fashion-mnist not installed (apt-get install dataset-fashion-mnist)");
    return;
  }
  TempDir d;
  EnvGuard env("HYPERTRAIN_DATA", d / "env");
  EnvGuard home("HOME", d / "home");
  ImageSplits s = load_mnist("fashion-mnist", "");
  CHECK(s.train.size() == 55000);
  CHECK(s.valid.size() == 5000);
  CHECK(s.test.size() == 10000);
  std::array<int, 10> counts{};
  for (auto l : s.test.labels) ++counts[std::size_t(l)];
  CHECK(counts == std::array<int, 10>{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000});
}
