#include "data/samplers.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <string>

#include "engine/rng.h"

namespace ht {

void Shard::check_divides(i64 n, const char* what) const {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument("rank " + std::to_string(rank) + " of a world of " + std::to_string(world) + " processes");
  if (n % world != 0)
    throw std::invalid_argument(std::string(what) + " = " + std::to_string(n) + " does not divide among " + std::to_string(world) +
                                " processes; choose a multiple of " + std::to_string(world));
}

// ---- images ----

ImageSampler::ImageSampler(const ImageSet& train, i64 batch, std::uint64_t seed, ImageAugment augment, const Shard& shard)
    : batcher_(train, batch, seed, true, augment), batch_(batch), shard_(shard) {
  shard.check_divides(batch, "train.batch");
}

void ImageSampler::get(i64 step, Batch& b) {
  const i64 per_epoch = batcher_.batches_per_epoch();
  b.step = step;
  b.epoch = step / per_epoch;
  b.index = step % per_epoch;
  const i64 r0 = shard_.begin(batch_), r1 = shard_.end(batch_);
  batcher_.get(b.epoch, b.index, b.x, labels_, r0, r1);
  if (b.y.shape() != Shape{r1 - r0} || b.y.dtype() != DType::I32 || !b.y) b.y = Tensor::empty({r1 - r0}, DType::I32);
  std::copy(labels_.begin(), labels_.end(), b.y.data<std::int32_t>());
  b.share = double(r1 - r0) / double(batch_);
  b.restart = false;
}

// ---- text streams ----

StreamSampler::StreamSampler(const std::vector<std::int32_t>& text, i64 batch, i64 seq, const Shard& shard)
    : batcher_(text, batch, seq), batch_(batch), seq_(seq), shard_(shard) {
  shard.check_divides(batch, "train.batch");
}

void StreamSampler::get(i64 step, Batch& b) {
  const i64 segments = batcher_.segments();
  b.step = step;
  b.epoch = step / segments;
  b.index = step % segments;
  batcher_.get(b.index, b.x, b.y, shard_.begin(batch_), shard_.end(batch_));
  b.share = double(shard_.end(batch_) - shard_.begin(batch_)) / double(batch_);
  b.restart = b.index == 0;  // a new epoch starts every stream from its beginning
}

// ---- handwriting windows ----

StrokeSampler::StrokeSampler(const StrokeData& data, i64 batch, i64 seq, double augment, std::uint64_t seed, const Shard& shard)
    : data_(data), batch_(batch), seq_(seq), augment_(augment), seed_(seed), shard_(shard) {
  shard.check_divides(batch, "train.batch");
  if (data.train.empty()) throw std::invalid_argument("StrokeSampler: the training split holds no lines");
  if (seq <= 0) throw std::invalid_argument("StrokeSampler: the window length must be positive");
}

const std::vector<i64>& StrokeSampler::epoch_order(i64 epoch) {
  if (epoch != order_epoch_) {
    order_.resize(data_.train.size());
    std::iota(order_.begin(), order_.end(), i64(0));
    Rng r(seed_ * 0x9E3779B97F4A7C15ull + std::uint64_t(epoch) + 1);
    for (i64 i = i64(order_.size()) - 1; i > 0; --i) std::swap(order_[std::size_t(i)], order_[std::size_t(r.below(std::uint64_t(i + 1)))]);
    order_epoch_ = epoch;
  }
  return order_;
}

StrokeSampler::Window StrokeSampler::window(i64 step, i64 row) const {
  const i64 k = step % steps_per_epoch();
  const StrokeLine& l = data_.train[std::size_t(order_[std::size_t((k * batch_ + row) % i64(order_.size()))])];
  Rng r(seed_ ^ (std::uint64_t(step) * 0xD1B54A32D192ED03ull) ^ (std::uint64_t(row + 1) * 0x9E3779B97F4A7C15ull));
  Window w;
  w.line = &l;
  const i64 pairs = l.count - 1;  // (input, next point) pairs in the line
  w.pairs = std::min(pairs, seq_);
  w.start = pairs > seq_ ? i64(r.below(std::uint64_t(pairs - seq_ + 1))) : 0;
  w.sx = 1 + augment_ * (2 * r.uniform() - 1);
  w.sy = 1 + augment_ * (2 * r.uniform() - 1);
  return w;
}

void StrokeSampler::get(i64 step, Batch& b) {
  const i64 T = seq_, r0 = shard_.begin(batch_), r1 = shard_.end(batch_), B = r1 - r0;
  b.step = step;
  b.epoch = step / steps_per_epoch();
  b.index = step % steps_per_epoch();
  b.share = double(B) / double(batch_);
  b.restart = true;
  epoch_order(b.epoch);
  i64 real = 0;  // real pairs in the global batch: every shard divides by the same count
  for (i64 row = 0; row < batch_; ++row) real += window(step, row).pairs;
  if (b.x.shape() != Shape{T * B, 3} || !b.x) b.x = Tensor::empty({T * B, 3}, DType::F32);
  if (b.y.shape() != Shape{T * B, 3} || !b.y) b.y = Tensor::empty({T * B, 3}, DType::F32);
  if (b.weight.shape() != Shape{T * B} || !b.weight) b.weight = Tensor::empty({T * B}, DType::F32);
  b.x.zero();
  b.y.zero();
  b.weight.zero();
  float *xv = b.x.data<float>(), *yv = b.y.data<float>(), *wv = b.weight.data<float>();
  for (i64 j = 0; j < B; ++j) {
    const Window w = window(step, r0 + j);
    const float* p = data_.points.data() + 3 * (w.line->first + w.start);
    for (i64 s = 0; s < w.pairs; ++s) {
      const i64 r = s * B + j;  // row s*B + j: stream j at step s
      xv[3 * r] = float(p[3 * s] * w.sx), xv[3 * r + 1] = float(p[3 * s + 1] * w.sy), xv[3 * r + 2] = p[3 * s + 2];
      yv[3 * r] = float(p[3 * (s + 1)] * w.sx), yv[3 * r + 1] = float(p[3 * (s + 1) + 1] * w.sy), yv[3 * r + 2] = p[3 * (s + 1) + 2];
      wv[r] = float(1.0 / double(real));  // the mean over the global batch's real points
    }
  }
}

}  // namespace ht
