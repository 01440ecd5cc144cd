// CIFAR-10, binary version (Krizhevsky 2009; paper §4.2): data_batch_1..5.bin and test_batch.bin,
// each 10,000 records of one label byte (0..9) and 3,072 pixel bytes (the 32x32 red plane, then
// green, then blue, each row-major). The split is the paper's 45,000 / 5,000 / 10,000: the last
// n_valid training records are validation. Pixels are normalised per channel with the mean and
// standard deviation of the training part (validation and test use the same numbers).
#pragma once
#include <string>

#include "data/images.h"

namespace ht {

struct CifarSplits : ImageSplits {
  float mean[3] = {0, 0, 0}, std[3] = {1, 1, 1};  // per channel, of pixel / 255 over the training part
};

// Files are looked up as find_data_file describes, in the dataset directory "cifar10", flat or in
// the archive's own folder cifar-10-batches-bin/. A missing file names the archive's URL and md5;
// a file whose size is not a whole number of records, a training batch whose record count differs
// from the first's, or a label outside 0..9, names the file.
CifarSplits load_cifar10(const std::string& data_flag, i64 n_valid = 5000);

// One batch file's bytes as [n, 3, 32, 32] pixels / 255 and labels; `path` names it in errors.
ImageSet parse_cifar10_batch(const std::string& bytes, const std::string& path);

}  // namespace ht
