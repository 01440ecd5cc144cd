// MNIST and Fashion-MNIST: the four IDX files and the paper's 55,000 / 5,000 / 10,000 split
// (§4.1). Batching and augmentation of any image set live in data/images.h.
#pragma once
#include <string>

#include "data/images.h"

namespace ht {

// which: "mnist" or "fashion-mnist". Files are looked up as find_data_file describes, in the
// dataset directory named `which`; Fashion-MNIST is also looked for, last, in
// /usr/share/datasets/fashion-mnist/ (Debian's dataset-fashion-mnist). train = the first
// N_train - n_valid training images, valid = the last n_valid, test = the test file.
// Images and train/valid share one buffer. Throws DataError naming the file for any bad data.
ImageSplits load_mnist(const std::string& which, const std::string& data_flag, i64 n_valid = 5000);

// One image file ([N, 28, 28] ubyte) and its label file ([N] ubyte, values 0..9).
ImageSet load_idx_images(const std::string& images_path, const std::string& labels_path);

}  // namespace ht
