#include "data/mnist.h"

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <stdexcept>

#include "data/idx.h"
#include "data/io.h"
#include "engine/rng.h"

namespace ht {

namespace {

constexpr i64 kSide = 28;
constexpr int kNumClasses = 10;

struct KnownFile {
  const char* stem;        // decompressed file name
  const char* mnist_md5;   // md5 of the decompressed MNIST file
  const char* mnist_sha256;  // sha256 of ../shared/data/mnist/<stem>.gz (recompressed with gzip -9 -n)
  const char* fashion_md5;   // md5 of the decompressed Fashion-MNIST file
};

// Order: train images, train labels, test images, test labels.
constexpr KnownFile kFiles[4] = {
    {"train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb",
     "0b367032e93c5d0cea0925647cfdb18614af8ee15f83e6f2fc2ad904a6835971", "f4a8712d7a061bf5bd6d2ca38dc4d50a"},
    {"train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624",
     "1787548bbe0bff1ec2ecdc0ef292b02df999e2d1a6002d27500982c652b17203", "9018921c3c673c538a1fc5bad174d6f9"},
    {"t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea",
     "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be", "8181f5470baa50b63fa0f6fddb340f0a"},
    {"t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637",
     "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b", "15d484375f8d13e6eb1aabb0c3f46965"},
};

const char* kFashionDebianDir = "/usr/share/datasets/fashion-mnist";

std::string find_file(const std::string& which, const KnownFile& f, const std::string& data_flag) {
  const std::string stem = f.stem, gz = stem + ".gz";
  DataFile help;
  help.name = gz;
  std::vector<std::string> extra;
  if (which == "mnist") {
    help.url = "http://yann.lecun.com/exdb/mnist/" + gz;
    help.sha256 = std::string(f.mnist_sha256) +
                  " (of the project's shared copy, recompressed with gzip -9 -n; the yann.lecun.com .gz differs,"
                  " and the sha256 of the decompressed file is not known offline)";
    help.note = "md5 of the decompressed " + stem + ": " + f.mnist_md5;
  } else {
    help.url = "https://github.com/zalandoresearch/fashion-mnist (data/fashion/" + gz + ")";
    help.note = "md5 of the decompressed " + stem + ": " + f.fashion_md5 +
                "; or `apt-get install dataset-fashion-mnist`, which installs it in " + kFashionDebianDir + "/";
    extra.push_back(kFashionDebianDir);
  }
  return find_data_file(which, {gz, stem}, data_flag, help, extra);
}

}  // namespace

ImageSet load_idx_images(const std::string& images_path, const std::string& labels_path) {
  IdxArray im = read_idx(images_path);
  if (im.dims.size() != 3 || im.dims[1] != kSide || im.dims[2] != kSide)
    throw DataError(images_path + ": expected 28x28 images (IDX dims N x 28 x 28), got dims " + idx_dims_str(im.dims));
  IdxArray lb = read_idx(labels_path);
  if (lb.dims.size() != 1)
    throw DataError(labels_path + ": expected labels (IDX dims N), got dims " + idx_dims_str(lb.dims));
  const i64 n = im.dims[0];
  if (lb.dims[0] != n)
    throw DataError("image and label counts differ: " + images_path + " has " + std::to_string(n) + " images, " +
                    labels_path + " has " + std::to_string(lb.dims[0]) + " labels");

  ImageSet s;
  s.labels.resize(std::size_t(n));
  for (i64 i = 0; i < n; ++i) {
    int v = lb.data[std::size_t(i)];
    if (v >= kNumClasses)
      throw DataError(labels_path + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                      " is outside 0.." + std::to_string(kNumClasses - 1));
    s.labels[std::size_t(i)] = v;
  }
  float lut[256];
  for (int v = 0; v < 256; ++v) lut[v] = float(v) / 255.0f;
  s.images = Tensor::empty({n, 1, kSide, kSide}, DType::F32);
  float* dst = s.images.data<float>();
  for (std::size_t i = 0; i < im.data.size(); ++i) dst[i] = lut[im.data[i]];
  return s;
}

ImageSplits load_mnist(const std::string& which, const std::string& data_flag, i64 n_valid) {
  if (which != "mnist" && which != "fashion-mnist")
    throw std::invalid_argument("load_mnist: unknown dataset '" + which + "' (expected mnist or fashion-mnist)");
  if (n_valid < 0) throw std::invalid_argument("load_mnist: n_valid = " + std::to_string(n_valid) + " is negative");
  std::string path[4];
  for (int k = 0; k < 4; ++k) path[k] = find_file(which, kFiles[k], data_flag);

  ImageSplits out;
  ImageSet train_all = load_idx_images(path[0], path[1]);
  const i64 n = train_all.size();
  if (n_valid >= n)
    throw DataError(path[0] + ": " + std::to_string(n) + " training images leave none for training after " +
                    std::to_string(n_valid) + " validation images");
  out.train = train_all.slice(0, n - n_valid);
  out.valid = train_all.slice(n - n_valid, n);
  out.test = load_idx_images(path[2], path[3]);
  out.source = std::filesystem::path(path[0]).parent_path().string();
  return out;
}

}  // namespace ht
