// Image sets shared by every image data set (MNIST, Fashion-MNIST, CIFAR-10): examples with
// labels, the train / valid / test split, a reproducible shuffled batcher with random-crop and
// flip augmentation, and in-order batches for evaluation.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace ht {

struct ImageSet {
  Tensor images;                     // [N, C, H, W] float32
  std::vector<std::int32_t> labels;  // [N], 0..9
  i64 size() const { return i64(labels.size()); }
  ImageSet slice(i64 begin, i64 end) const;  // examples [begin, end); images share this set's data
};

struct ImageSplits {
  ImageSet train, valid, test;
  std::string source;  // the directory the files were read from
};

// Training-time augmentation: zero-pad by `pad` on every side and take a random crop of the
// original size (offsets 0..2*pad per axis), then mirror left-right with probability 1/2 when
// `flip`. MNIST (§4.1): pad 1, the paper's 30x30 -> 28x28. CIFAR-10 (§4.2): pad 4 and flip.
struct ImageAugment {
  int pad = 0;
  bool flip = false;
  bool any() const { return pad > 0 || flip; }
};

// Mini-batches of an ImageSet. With shuffle, epoch e visits the examples in a permutation that
// depends on (seed, e) only, and the last partial batch is dropped; without, examples come in
// order and the last batch may be short. Augmentation draws come from an Rng that depends on
// (seed, epoch, batch index) only.
class ImageBatcher {
 public:
  ImageBatcher(const ImageSet& set, i64 batch, std::uint64_t seed, bool shuffle, ImageAugment augment = {});
  ~ImageBatcher();
  ImageBatcher(ImageBatcher&&) noexcept;
  ImageBatcher& operator=(ImageBatcher&&) noexcept;

  i64 batches_per_epoch() const;
  i64 batch_size() const { return batch_; }
  i64 num_examples() const { return set_.size(); }

  // images: [B, C, H, W] float32 (B = batch, or less for the last unshuffled batch), reused when
  // it already has that shape and dtype, else reallocated. labels: resized to B. With a row range
  // [row_begin, row_end) only those rows of the batch are produced (B = row_end - row_begin),
  // exactly as the whole batch would hold them (row_end -1: to the end).
  void get(i64 epoch, i64 index, Tensor& images, std::vector<std::int32_t>& labels, i64 row_begin = 0, i64 row_end = -1) const;

  // Example indices in the order epoch `epoch` visits them (all N, before dropping a partial batch).
  std::vector<i64> epoch_order(i64 epoch) const;

 private:
  struct OrderCache;
  ImageSet set_;
  i64 batch_;
  std::uint64_t seed_;
  bool shuffle_;
  ImageAugment augment_;
  std::unique_ptr<OrderCache> cache_;  // last epoch's permutation, guarded by a mutex
};

// Calls fn(part, begin) on [begin, begin + batch) of `set` in order, the last part possibly
// short. Parts share the set's data (no copy). For evaluation.
void for_each_batch(const ImageSet& set, i64 batch, const std::function<void(const ImageSet& part, i64 begin)>& fn);

}  // namespace ht
