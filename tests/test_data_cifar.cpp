// CIFAR-10 binary batches (written here in the real record format, as the data set itself cannot
// be had offline): records read plane by plane, the 45,000 / 5,000 split by position, per-channel
// normalisation from the training part, errors that name the file, and the pad-4 crop with flip.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <string>

#include "data/cifar10.h"
#include "data/io.h"
#include "engine/rng.h"
#include "tests/files.h"

using namespace ht;
using ht::test::has;
using ht::test::TempDir;
using ht::test::write_gz;
using ht::test::write_plain;

namespace {

// Record i: label i % 10; pixel k of channel c is (i + 3c + k) % 256.
std::string records(int first, int n) {
  std::string s;
  for (int i = first; i < first + n; ++i) {
    s.push_back(char(i % 10));
    for (int c = 0; c < 3; ++c)
      for (int k = 0; k < 1024; ++k) s.push_back(char((i + 3 * c + k) % 256));
  }
  return s;
}

// Five training batches and a test batch of `n` records each (the real ones hold 10,000).
void write_cifar(const std::string& dir, bool nested, int n) {
  const std::string base = dir + "/cifar10/" + (nested ? "cifar-10-batches-bin/" : "");
  for (int k = 1; k <= 5; ++k) {
    if (k == 2) write_gz(base + "data_batch_2.bin.gz", records(n, n));  // a gzipped copy reads the same
    else write_plain(base + "data_batch_" + std::to_string(k) + ".bin", records((k - 1) * n, n));
  }
  write_plain(base + "test_batch.bin", records(5 * n, n));
}

}  // namespace

TEST_CASE("parse_cifar10_batch reads labels and the three planes of every record") {
  ImageSet s = parse_cifar10_batch(records(7, 3), "b.bin");
  REQUIRE(s.images.shape() == Shape{3, 3, 32, 32});
  CHECK(s.labels == std::vector<std::int32_t>{7, 8, 9});
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c)
      for (int k : {0, 31, 32, 1023}) CHECK(s.images.at((i * 3 + c) * 1024 + k) == float((7 + i + 3 * c + k) % 256) / 255.0f);
}

TEST_CASE("parse_cifar10_batch refuses a truncated file and a bad label, naming the file") {
  std::string two = records(0, 2);
  CHECK_THROWS_WITH_AS(parse_cifar10_batch(two.substr(0, two.size() - 1), "cut.bin"), has("cut.bin: 6145 bytes is not a whole number"), DataError);
  CHECK_THROWS_WITH_AS(parse_cifar10_batch("", "empty.bin"), has("empty.bin"), DataError);
  std::string bad = records(0, 2);
  bad[3073] = char(12);
  CHECK_THROWS_WITH_AS(parse_cifar10_batch(bad, "lab.bin"), has("lab.bin: record 1 has label 12"), DataError);
}

TEST_CASE("load_cifar10: the last n_valid training records validate, normalised per channel from the training part") {
  for (bool nested : {false, true}) {
    TempDir d;
    write_cifar(d.path.string(), nested, 40);  // 200 training records, 40 test
    CifarSplits s = load_cifar10(d.path.string(), 20);
    CHECK(s.train.size() == 180);
    CHECK(s.valid.size() == 20);
    CHECK(s.test.size() == 40);
    CHECK(s.valid.labels[0] == 180 % 10);
    CHECK(s.test.labels[3] == 3);
    for (int c = 0; c < 3; ++c) {  // the training part has mean 0 and variance 1 per channel
      double m = 0, v = 0;
      const i64 n = s.train.size() * 1024;
      for (i64 i = 0; i < s.train.size(); ++i)
        for (i64 k = 0; k < 1024; ++k) {
          const double x = s.train.images.at((i * 3 + c) * 1024 + k);
          m += x, v += x * x;
        }
      CHECK(std::fabs(m / double(n)) < 1e-3);
      CHECK(v / double(n) == doctest::Approx(1.0).epsilon(1e-3));
    }
    // a test pixel is normalised with the training numbers
    const double raw = double((200 + 0 + 5) % 256) / 255.0;
    CHECK(s.test.images.at(5) == doctest::Approx((raw - s.mean[0]) / s.std[0]).epsilon(1e-5));
  }
}

TEST_CASE("load_cifar10: a missing file names the archive's URL and md5; a short batch names the file") {
  TempDir d;
  ht::test::EnvGuard env("HYPERTRAIN_DATA", std::nullopt), home("HOME", d.path.string());
  CHECK_THROWS_WITH_AS(load_cifar10(d / "nowhere"), has("cifar-10-binary.tar.gz"), DataError);
  CHECK_THROWS_WITH_AS(load_cifar10(d / "nowhere"), has("c32a1d4ab5d03f1284b67883e8d87530"), DataError);
  write_cifar(d.path.string(), false, 30);
  write_plain(d / "cifar10/data_batch_4.bin", records(0, 29));
  CHECK_THROWS_WITH_AS(load_cifar10(d.path.string(), 10), has("data_batch_4.bin: 29 records, data_batch_1.bin holds 30"), DataError);
}

TEST_CASE("ImageBatcher with pad 4 and flip: every image is a crop of its padded self, mirrored about half the time") {
  ImageSet set;
  set.images = Tensor::empty({32, 3, 8, 8});
  Rng r(1);
  for (i64 i = 0; i < set.images.numel(); ++i) set.images.data<float>()[i] = float(1 + r.below(1000));
  for (int i = 0; i < 32; ++i) set.labels.push_back(i % 10);
  ImageBatcher bt(set, 32, 5, false, ImageAugment{4, true});
  Tensor im;
  std::vector<std::int32_t> lb;
  bt.get(0, 0, im, lb);
  int mirrored = 0;
  std::set<std::pair<int, int>> offsets;
  for (int j = 0; j < 32; ++j) {
    const float* in = set.images.data<float>() + j * 192;
    const float* out = im.data<float>() + j * 192;
    int matches = 0;
    for (int flip = 0; flip < 2; ++flip)
      for (int dy = 0; dy < 9; ++dy)
        for (int dx = 0; dx < 9; ++dx) {
          bool same = true;
          for (int c = 0; c < 3 && same; ++c)
            for (int y = 0; y < 8 && same; ++y)
              for (int x = 0; x < 8 && same; ++x) {
                const int sy = y + dy - 4, sx = (flip ? 7 - x : x) + dx - 4;
                const float want = (sy >= 0 && sy < 8 && sx >= 0 && sx < 8) ? in[c * 64 + sy * 8 + sx] : 0.0f;
                same = out[c * 64 + y * 8 + x] == want;
              }
          if (same) {
            ++matches;
            mirrored += flip;
            offsets.insert({dy, dx});
          }
        }
    CHECK(matches == 1);  // pixels are distinct enough that exactly one crop and flip explains the output
  }
  CHECK(mirrored > 4);
  CHECK(mirrored < 28);
  CHECK(offsets.size() > 10);
}
