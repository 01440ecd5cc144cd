// MNIST and Fashion-MNIST: the four IDX files, the paper's 55,000 / 5,000 / 10,000 split (§4.1),
// and a reproducible shuffled batcher with the paper's pad-to-30x30 random-crop augmentation.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ht {

struct ImageSet {
  Tensor images;                     // [N, 1, 28, 28] float32, pixel / 255 in [0, 1]
  std::vector<std::int32_t> labels;  // [N], 0..9
  i64 size() const { return i64(labels.size()); }
  ImageSet slice(i64 begin, i64 end) const;  // examples [begin, end); images share this set's data
};

struct MnistSplits {
  ImageSet train, valid, test;
};

// which: "mnist" or "fashion-mnist". Files are looked up as find_data_file describes, in the
// dataset directory named `which`; Fashion-MNIST is also looked for, last, in
// /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist). train = the first
// N_train - n_valid training images, valid = the last n_valid, test = the test file.
// Images and train/valid share one buffer. Throws DataError naming the file for any bad data.
MnistSplits load_mnist(const std::string& which, const std::string& data_flag, i64 n_valid = 5000);

// One image file ([N, 28, 28] ubyte) and its label file ([N] ubyte, values 0..9).
ImageSet load_idx_images(const std::string& images_path, const std::string& labels_path);

// Mini-batches of an ImageSet. With shuffle, epoch e visits the examples in a permutation that
// depends on (seed, e) only, and the last partial batch is dropped; without, examples come in
// order and the last batch may be short. With augment, each image is zero-padded by 1 on every
// side and a random crop of the original size is taken (offsets 0..2 per axis, the paper's
// 30x30 -> 28x28), drawn from an Rng that depends on (seed, epoch, batch index) only.
class ImageBatcher {
 public:
  ImageBatcher(const ImageSet& set, i64 batch, std::uint64_t seed, bool shuffle, bool augment);
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
  bool shuffle_, augment_;
  std::unique_ptr<OrderCache> cache_;  // last epoch's permutation, guarded by a mutex
};

// Calls fn(part, begin) on [begin, begin + batch) of `set` in order, the last part possibly
// short. Parts share the set's data (no copy). For evaluation.
void for_each_batch(const ImageSet& set, i64 batch, const std::function<void(const ImageSet& part, i64 begin)>& fn);

}  // namespace ht
