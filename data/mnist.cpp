#include "data/mnist.h"

#include <algorithm>
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

ImageSet ImageSet::slice(i64 begin, i64 end) const {
  if (begin < 0 || end > size() || begin > end)
    throw std::out_of_range("ImageSet::slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of a set of " +
                            std::to_string(size()));
  return {images.rows(begin, end), std::vector<std::int32_t>(labels.begin() + begin, labels.begin() + end)};
}

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

MnistSplits load_mnist(const std::string& which, const std::string& data_flag, i64 n_valid) {
  if (which != "mnist" && which != "fashion-mnist")
    throw std::invalid_argument("load_mnist: unknown dataset '" + which + "' (expected mnist or fashion-mnist)");
  if (n_valid < 0) throw std::invalid_argument("load_mnist: n_valid = " + std::to_string(n_valid) + " is negative");
  std::string path[4];
  for (int k = 0; k < 4; ++k) path[k] = find_file(which, kFiles[k], data_flag);

  MnistSplits out;
  ImageSet train_all = load_idx_images(path[0], path[1]);
  const i64 n = train_all.size();
  if (n_valid >= n)
    throw DataError(path[0] + ": " + std::to_string(n) + " training images leave none for training after " +
                    std::to_string(n_valid) + " validation images");
  out.train = train_all.slice(0, n - n_valid);
  out.valid = train_all.slice(n - n_valid, n);
  out.test = load_idx_images(path[2], path[3]);
  return out;
}

void for_each_batch(const ImageSet& set, i64 batch, const std::function<void(const ImageSet& part, i64 begin)>& fn) {
  if (batch <= 0) throw std::invalid_argument("for_each_batch: batch size " + std::to_string(batch) + " must be positive");
  for (i64 b = 0; b < set.size(); b += batch) fn(set.slice(b, std::min(set.size(), b + batch)), b);
}

// ---- ImageBatcher ----

struct ImageBatcher::OrderCache {
  std::mutex mu;
  i64 epoch = -1;
  std::shared_ptr<const std::vector<i64>> order;
};

namespace {

constexpr std::uint64_t kEpochMix = 0x9E3779B97F4A7C15ull;
constexpr std::uint64_t kAugSalt = 0xA5A5C3C3D2B4E1F7ull;
constexpr std::uint64_t kBatchMix = 0xD1B54A32D192ED03ull;

std::uint64_t permutation_seed(std::uint64_t seed, i64 epoch) { return seed ^ (std::uint64_t(epoch) * kEpochMix); }

std::uint64_t augment_seed(std::uint64_t seed, i64 epoch, i64 index) {
  Rng r(seed ^ kAugSalt ^ (std::uint64_t(epoch) * kEpochMix));
  return r.next_u64() ^ (std::uint64_t(index + 1) * kBatchMix);
}

}  // namespace

ImageBatcher::ImageBatcher(const ImageSet& set, i64 batch, std::uint64_t seed, bool shuffle, bool augment)
    : set_(set), batch_(batch), seed_(seed), shuffle_(shuffle), augment_(augment), cache_(std::make_unique<OrderCache>()) {
  const Tensor& im = set_.images;
  if (im.ndim() != 4 || im.dtype() != DType::F32 || im.dim(0) != set_.size())
    throw std::invalid_argument("ImageBatcher: images must be [N, C, H, W] float32 with N = " + std::to_string(set_.size()) +
                                " labels, got " + im.shape().str() + " " + dtype_name(im.dtype()));
  if (batch <= 0) throw std::invalid_argument("ImageBatcher: batch size " + std::to_string(batch) + " must be positive");
  if (shuffle && batch > set_.size())
    throw std::invalid_argument("ImageBatcher: batch size " + std::to_string(batch) + " exceeds the " +
                                std::to_string(set_.size()) + " examples, so an epoch would have no full batch");
}

ImageBatcher::~ImageBatcher() = default;
ImageBatcher::ImageBatcher(ImageBatcher&&) noexcept = default;
ImageBatcher& ImageBatcher::operator=(ImageBatcher&&) noexcept = default;

i64 ImageBatcher::batches_per_epoch() const {
  const i64 n = set_.size();
  return shuffle_ ? n / batch_ : (n + batch_ - 1) / batch_;
}

std::vector<i64> ImageBatcher::epoch_order(i64 epoch) const {
  std::vector<i64> order(std::size_t(set_.size()));
  std::iota(order.begin(), order.end(), i64(0));
  if (!shuffle_) return order;
  Rng rng(permutation_seed(seed_, epoch));
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);  // Fisher-Yates
  return order;
}

void ImageBatcher::get(i64 epoch, i64 index, Tensor& images, std::vector<std::int32_t>& labels, i64 row_begin, i64 row_end) const {
  if (!cache_) throw std::logic_error("ImageBatcher::get on a moved-from batcher");
  const i64 nb = batches_per_epoch();
  if (index < 0 || index >= nb)
    throw std::out_of_range("ImageBatcher::get: batch " + std::to_string(index) + " of an epoch of " + std::to_string(nb) + " batches");
  std::shared_ptr<const std::vector<i64>> order;
  {
    std::lock_guard<std::mutex> lock(cache_->mu);
    if (cache_->epoch != epoch || !cache_->order) {
      cache_->order = std::make_shared<const std::vector<i64>>(epoch_order(epoch));
      cache_->epoch = epoch;
    }
    order = cache_->order;
  }

  const i64 begin = index * batch_, full = std::min(batch_, set_.size() - begin);
  if (row_end < 0) row_end = full;
  if (row_begin < 0 || row_begin > row_end || row_end > full)
    throw std::out_of_range("ImageBatcher::get: rows [" + std::to_string(row_begin) + ", " + std::to_string(row_end) + ") of a batch of " +
                            std::to_string(full));
  const i64 B = row_end - row_begin;
  const i64 C = set_.images.dim(1), H = set_.images.dim(2), W = set_.images.dim(3), plane = H * W, per = C * plane;
  const Shape shape{B, C, H, W};
  if (images.shape() != shape || images.dtype() != DType::F32 || !images) images = Tensor::empty(shape, DType::F32);
  labels.resize(std::size_t(B));

  const float* src = set_.images.data<float>();
  float* dst = images.data<float>();
  Rng aug(augment_ ? augment_seed(seed_, epoch, index) : 0);
  for (i64 row = 0; row < row_end; ++row) {
    // Every row's crop is drawn, in order, so a row range holds what the whole batch holds there.
    const i64 dy = augment_ ? i64(aug.below(3)) : 0, dx = augment_ ? i64(aug.below(3)) : 0;
    if (row < row_begin) continue;
    const i64 b = row - row_begin, ex = (*order)[std::size_t(begin + row)];
    labels[std::size_t(b)] = set_.labels[std::size_t(ex)];
    const float* in = src + ex * per;
    float* out = dst + b * per;
    if (!augment_) {
      std::copy(in, in + per, out);
      continue;
    }
    // out[y][x] = padded[y + dy][x + dx], padded = in with one ring of zeros: in[y + dy - 1][x + dx - 1] or 0.
    for (i64 c = 0; c < C; ++c)
      for (i64 y = 0; y < H; ++y) {
        float* orow = out + c * plane + y * W;
        const i64 sy = y + dy - 1;
        if (sy < 0 || sy >= H) {
          std::fill(orow, orow + W, 0.0f);
          continue;
        }
        const float* irow = in + c * plane + sy * W;
        for (i64 x = 0; x < W; ++x) {
          const i64 sx = x + dx - 1;
          orow[x] = (sx >= 0 && sx < W) ? irow[sx] : 0.0f;
        }
      }
  }
}

}  // namespace ht
