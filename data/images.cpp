#include "data/images.h"

#include <algorithm>
#include <mutex>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/rng.h"

namespace ht {

ImageSet ImageSet::slice(i64 begin, i64 end) const {
  if (begin < 0 || end > size() || begin > end)
    throw std::out_of_range("ImageSet::slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of a set of " +
                            std::to_string(size()));
  return {images.rows(begin, end), std::vector<std::int32_t>(labels.begin() + begin, labels.begin() + end)};
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

ImageBatcher::ImageBatcher(const ImageSet& set, i64 batch, std::uint64_t seed, bool shuffle, ImageAugment augment)
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
  Rng aug(augment_.any() ? augment_seed(seed_, epoch, index) : 0);
  const std::uint64_t span = std::uint64_t(2 * augment_.pad + 1);
  for (i64 row = 0; row < row_end; ++row) {
    // Every row's crop is drawn, in order, so a row range holds what the whole batch holds there.
    const i64 dy = augment_.pad > 0 ? i64(aug.below(span)) : augment_.pad, dx = augment_.pad > 0 ? i64(aug.below(span)) : augment_.pad;
    const bool mirror = augment_.flip && aug.below(2) == 1;
    if (row < row_begin) continue;
    const i64 b = row - row_begin, ex = (*order)[std::size_t(begin + row)];
    labels[std::size_t(b)] = set_.labels[std::size_t(ex)];
    const float* in = src + ex * per;
    float* out = dst + b * per;
    if (!augment_.any()) {
      std::copy(in, in + per, out);
      continue;
    }
    // out[y][x] = padded[y + dy][x' + dx] with x' = W-1-x when mirrored, padded = in with `pad`
    // rings of zeros: in[y + dy - pad][x' + dx - pad] or 0.
    const i64 pad = augment_.pad;
    for (i64 c = 0; c < C; ++c)
      for (i64 y = 0; y < H; ++y) {
        float* orow = out + c * plane + y * W;
        const i64 sy = y + dy - pad;
        if (sy < 0 || sy >= H) {
          std::fill(orow, orow + W, 0.0f);
          continue;
        }
        const float* irow = in + c * plane + sy * W;
        for (i64 x = 0; x < W; ++x) {
          const i64 sx = (mirror ? W - 1 - x : x) + dx - pad;
          orow[x] = (sx >= 0 && sx < W) ? irow[sx] : 0.0f;
        }
      }
  }
}

}  // namespace ht
