// Samplers: the training batches of every task, one global batch per step, cut into the shards of
// the processes that train together. A Sampler is built for one shard (rank, world) and one seed;
// get(step) fills the shard's part of global step `step`, whose epoch is step / steps_per_epoch().
// The global batch depends on (seed, step) only, and the world's shards are disjoint parts of it
// in rank order, so N processes together see exactly the batch one process sees.
//
//   ImageSampler   images of a shuffled epoch, random crops          x [B, C, H, W]  y [B] i32
//   StreamSampler  segments of parallel text streams (truncated BPTT) x [T, B] i32   y [T, B] i32
//   StrokeSampler  random windows of handwriting lines, scaled        x [T*B, 3]     y [T*B, 3], weight [T*B]
//   PairSampler    sentence pairs of similar length (translation)     x [S, B] i32   y [T, B] i32, x_lengths, y_lengths [B]
//
// B is the shard's share of the global batch (batch / world); a global batch that does not divide
// by the world is an error naming both numbers.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "data/images.h"
#include "data/strokes.h"
#include "data/text.h"
#include "engine/tensor.h"

namespace ht {

// This process's place among the processes training together.
struct Shard {
  int rank = 0, world = 1;
  // [begin, end) of n items for this rank: contiguous, in rank order, sizes differing by at most
  // 1, the larger parts first (one item goes to rank 0).
  i64 begin(i64 n) const { return (n * rank + world - 1) / world; }
  i64 end(i64 n) const { return (n * (rank + 1) + world - 1) / world; }
  // Throws naming both numbers unless `n` (what = "train.batch", ...) divides by the world.
  void check_divides(i64 n, const char* what) const;
};

struct Batch {
  i64 step = 0, epoch = 0, index = 0;  // global step, its epoch, its place in the epoch
  Tensor x, y;    // inputs and targets, shaped as the sampler says
  Tensor weight;  // per-row weights of y where rows differ (handwriting: 1/real points, 0 padding)
  Tensor x_lengths, y_lengths;  // variable-length columns of x and y (translation): i32 [B], the real lengths
  double share = 1;       // this shard's rows over the global batch's (a mean loss times share
                          // is this shard's part of the global mean)
  bool restart = false;   // text streams start over from their beginning: zero the carried state
};

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual i64 steps_per_epoch() const = 0;
  virtual i64 items_per_step() const = 0;  // items of the global batch (images, characters, points)
  // Fills `b` (reusing its tensors when the shapes match) with this shard's part of global step `step`.
  virtual void get(i64 step, Batch& b) = 0;
};

class ImageSampler : public Sampler {
 public:
  ImageSampler(const ImageSet& train, i64 batch, std::uint64_t seed, ImageAugment augment, const Shard& shard);
  i64 steps_per_epoch() const override { return batcher_.batches_per_epoch(); }
  i64 items_per_step() const override { return batch_; }
  void get(i64 step, Batch& b) override;

 private:
  ImageBatcher batcher_;
  i64 batch_;
  Shard shard_;
  std::vector<std::int32_t> labels_;
};

// The training text cut into `batch` streams; this shard reads streams [begin, end).
class StreamSampler : public Sampler {
 public:
  StreamSampler(const std::vector<std::int32_t>& text, i64 batch, i64 seq, const Shard& shard);
  i64 steps_per_epoch() const override { return batcher_.segments(); }
  i64 items_per_step() const override { return batch_ * seq_; }
  void get(i64 step, Batch& b) override;

 private:
  StreamBatcher batcher_;
  i64 batch_, seq_;
  Shard shard_;
};

// Each step takes `batch` training lines of a seeded per-epoch order (the last step of an epoch
// wraps around to its first lines) and from each a window of `seq` (input, next point) pairs at
// a random offset (a shorter line whole, padded and weighted 0), its dx and dy scaled by
// 1 + U(-augment, augment). Offsets and scales are drawn per line from (seed, step, row), so
// they do not depend on the shard. Weights are 1 / (real pairs in the global batch).
class StrokeSampler : public Sampler {
 public:
  StrokeSampler(const StrokeData& data, i64 batch, i64 seq, double augment, std::uint64_t seed, const Shard& shard);
  i64 steps_per_epoch() const override { return (i64(data_.train.size()) + batch_ - 1) / batch_; }
  i64 items_per_step() const override { return batch_ * seq_; }
  void get(i64 step, Batch& b) override;

 private:
  struct Window { const StrokeLine* line; i64 start, pairs; double sx, sy; };
  Window window(i64 step, i64 row) const;
  const std::vector<i64>& epoch_order(i64 epoch);
  const StrokeData& data_;
  i64 batch_, seq_;
  double augment_;
  std::uint64_t seed_;
  Shard shard_;
  i64 order_epoch_ = -1;
  std::vector<i64> order_;
};

// Sentence pairs as token ids, for PairSampler.
struct TokenPairs {
  std::vector<std::vector<std::int32_t>> source, target;
};

// Translation batches bucketed by length: every epoch a seeded shuffle of the pairs, cut into
// pools of `batch * pool` pairs, each pool sorted by (source length, target length) and cut into
// batches of `batch`, then the epoch's batches shuffled (the pairs that fill no batch wait for the
// next epoch's shuffle). x: the source ids [S, B] time-major, padded with `pad` after each
// sentence's end; y: the target ids with `eos` appended, [T, B], padded the same way; x_lengths
// and y_lengths (eos included) [B]. A shard takes columns [begin, end) of the global batch, and
// share = its target tokens over the global batch's (so per-token mean losses add up).
class PairSampler : public Sampler {
 public:
  PairSampler(const TokenPairs& pairs, i64 batch, i64 pool, std::int32_t pad, std::int32_t eos, std::uint64_t seed, const Shard& shard);
  i64 steps_per_epoch() const override { return i64(pairs_.source.size()) / batch_; }
  i64 items_per_step() const override { return batch_; }  // sentence pairs
  void get(i64 step, Batch& b) override;
  // The pairs (indices into `pairs`) of global step `step`, in batch order.
  std::vector<i64> step_pairs(i64 step);

 private:
  const std::vector<i64>& epoch_plan(i64 epoch);
  const TokenPairs& pairs_;
  i64 batch_, pool_;
  std::int32_t pad_, eos_;
  std::uint64_t seed_;
  Shard shard_;
  i64 plan_epoch_ = -1;
  std::vector<i64> plan_;  // the epoch's pairs, batch after batch
};

}  // namespace ht
