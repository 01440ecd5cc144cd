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

namespace ht {

// ---- translation pairs ----

PairSampler::PairSampler(const TokenPairs& pairs, i64 batch, i64 pool, std::int32_t pad, std::int32_t eos, std::uint64_t seed,
                         const Shard& shard)
    : pairs_(pairs), batch_(batch), pool_(std::max<i64>(1, pool)), pad_(pad), eos_(eos), seed_(seed), shard_(shard) {
  if (batch <= 0) throw std::invalid_argument("train.batch must be positive, got " + std::to_string(batch));
  if (pairs.source.size() != pairs.target.size()) throw std::invalid_argument("PairSampler: source and target counts differ");
  if (i64(pairs.source.size()) < batch)
    throw std::invalid_argument("train.batch = " + std::to_string(batch) + " is more than the " + std::to_string(pairs.source.size()) +
                                " training pairs");
  shard.check_divides(batch, "train.batch");
}

const std::vector<i64>& PairSampler::epoch_plan(i64 epoch) {
  if (epoch == plan_epoch_) return plan_;
  const i64 n = i64(pairs_.source.size());
  std::vector<i64> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), i64(0));
  Rng r(seed_ * 0x9E3779B97F4A7C15ull + std::uint64_t(epoch) + 7);
  for (i64 i = n - 1; i > 0; --i) std::swap(order[std::size_t(i)], order[std::size_t(r.below(std::uint64_t(i + 1)))]);
  const i64 batches = n / batch_, used = batches * batch_;
  order.resize(std::size_t(used));
  auto key = [&](i64 p) { return std::make_pair(pairs_.source[std::size_t(p)].size(), pairs_.target[std::size_t(p)].size()); };
  for (i64 p0 = 0; p0 < used; p0 += batch_ * pool_) {
    auto first = order.begin() + p0, last = order.begin() + std::min(used, p0 + batch_ * pool_);
    std::stable_sort(first, last, [&](i64 a, i64 b) { return key(a) < key(b); });
  }
  std::vector<i64> batch_order(static_cast<std::size_t>(batches));
  std::iota(batch_order.begin(), batch_order.end(), i64(0));
  for (i64 i = batches - 1; i > 0; --i) std::swap(batch_order[std::size_t(i)], batch_order[std::size_t(r.below(std::uint64_t(i + 1)))]);
  plan_.clear();
  for (i64 k : batch_order) plan_.insert(plan_.end(), order.begin() + k * batch_, order.begin() + (k + 1) * batch_);
  plan_epoch_ = epoch;
  return plan_;
}

std::vector<i64> PairSampler::step_pairs(i64 step) {
  const std::vector<i64>& plan = epoch_plan(step / steps_per_epoch());
  const i64 k = step % steps_per_epoch();
  return std::vector<i64>(plan.begin() + k * batch_, plan.begin() + (k + 1) * batch_);
}

void PairSampler::get(i64 step, Batch& b) {
  b.step = step;
  b.epoch = step / steps_per_epoch();
  b.index = step % steps_per_epoch();
  b.restart = false;
  const std::vector<i64> all = step_pairs(step);
  const i64 c0 = shard_.begin(batch_), c1 = shard_.end(batch_), B = c1 - c0;
  i64 S = 1, T = 1, tokens = 0, mine = 0;
  for (i64 j = 0; j < batch_; ++j) {
    const i64 tl = i64(pairs_.target[std::size_t(all[std::size_t(j)])].size()) + 1;
    tokens += tl;
    if (j >= c0 && j < c1) {
      S = std::max(S, i64(pairs_.source[std::size_t(all[std::size_t(j)])].size()));
      T = std::max(T, tl);
      mine += tl;
    }
  }
  b.x = Tensor::full({S, B}, pad_, DType::I32);
  b.y = Tensor::full({T, B}, pad_, DType::I32);
  b.x_lengths = Tensor::empty({B}, DType::I32);
  b.y_lengths = Tensor::empty({B}, DType::I32);
  std::int32_t *x = b.x.data<std::int32_t>(), *y = b.y.data<std::int32_t>();
  for (i64 j = 0; j < B; ++j) {
    const auto& src = pairs_.source[std::size_t(all[std::size_t(c0 + j)])];
    const auto& tgt = pairs_.target[std::size_t(all[std::size_t(c0 + j)])];
    for (std::size_t s = 0; s < src.size(); ++s) x[i64(s) * B + j] = src[s];
    for (std::size_t s = 0; s < tgt.size(); ++s) y[i64(s) * B + j] = tgt[s];
    y[i64(tgt.size()) * B + j] = eos_;
    b.x_lengths.data<std::int32_t>()[j] = std::int32_t(src.size());
    b.y_lengths.data<std::int32_t>()[j] = std::int32_t(tgt.size() + 1);
  }
  b.share = double(mine) / double(tokens);
}

}  // namespace ht
