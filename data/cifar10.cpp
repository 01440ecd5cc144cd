#include "data/cifar10.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "data/io.h"

namespace ht {

namespace {

constexpr i64 kSide = 32, kPlane = kSide * kSide, kRecord = 1 + 3 * kPlane;  // 3,073 bytes
constexpr i64 kPerFile = 10000;

std::string find_batch(const std::string& name, const std::string& data_flag) {
  DataFile help;
  help.name = "cifar-10-binary.tar.gz";
  help.url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
  help.note = "md5 of the archive c32a1d4ab5d03f1284b67883e8d87530, 170,052,171 bytes; it unpacks to cifar-10-batches-bin/ "
              "holding data_batch_1.bin .. data_batch_5.bin and test_batch.bin";
  const std::string nested = "cifar-10-batches-bin/" + name;
  return find_data_file("cifar10", {name + ".gz", name, nested + ".gz", nested}, data_flag, help);
}

ImageSet concat(const std::vector<ImageSet>& parts) {
  i64 n = 0;
  for (const auto& p : parts) n += p.size();
  ImageSet out;
  out.images = Tensor::empty({n, 3, kSide, kSide});
  float* dst = out.images.data<float>();
  for (const auto& p : parts) {
    std::memcpy(dst, p.images.data<float>(), p.images.nbytes());
    dst += p.images.numel();
    out.labels.insert(out.labels.end(), p.labels.begin(), p.labels.end());
  }
  return out;
}

}  // namespace

ImageSet parse_cifar10_batch(const std::string& bytes, const std::string& path) {
  const i64 size = i64(bytes.size());
  if (size == 0 || size % kRecord != 0)
    throw DataError(path + ": " + std::to_string(size) + " bytes is not a whole number of CIFAR-10 records of " +
                    std::to_string(kRecord) + " bytes (1 label + 3x32x32 pixels); truncated or not a CIFAR-10 binary batch");
  const i64 n = size / kRecord;
  ImageSet s;
  s.images = Tensor::empty({n, 3, kSide, kSide});
  s.labels.resize(std::size_t(n));
  float* dst = s.images.data<float>();
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());
  for (i64 i = 0; i < n; ++i) {
    const unsigned char* rec = src + i * kRecord;
    if (rec[0] > 9)
      throw DataError(path + ": record " + std::to_string(i) + " has label " + std::to_string(int(rec[0])) + ", outside 0..9");
    s.labels[std::size_t(i)] = rec[0];
    for (i64 k = 0; k < 3 * kPlane; ++k) dst[i * 3 * kPlane + k] = float(rec[1 + k]) / 255.0f;
  }
  return s;
}

CifarSplits load_cifar10(const std::string& data_flag, i64 n_valid) {
  std::vector<ImageSet> train_parts;
  for (int k = 1; k <= 5; ++k) {
    const std::string path = find_batch("data_batch_" + std::to_string(k) + ".bin", data_flag);
    train_parts.push_back(parse_cifar10_batch(read_file_maybe_gz(path), path));
    // The real batches hold 10,000 records each; all five must hold the same number, so a file
    // cut at a record boundary is caught too.
    if (train_parts.back().size() != train_parts.front().size())
      throw DataError(path + ": " + std::to_string(train_parts.back().size()) + " records, data_batch_1.bin holds " +
                      std::to_string(train_parts.front().size()) + " (a CIFAR-10 batch holds " + std::to_string(kPerFile) + ")");
  }
  const std::string test_path = find_batch("test_batch.bin", data_flag);
  CifarSplits out;
  out.source = std::filesystem::path(test_path).parent_path().string();
  ImageSet all = concat(train_parts);
  if (n_valid < 0 || n_valid >= all.size())
    throw std::invalid_argument("train.valid_size = " + std::to_string(n_valid) + " must be in [0, " + std::to_string(all.size()) + ")");
  out.test = parse_cifar10_batch(read_file_maybe_gz(test_path), test_path);

  // Per-channel mean and standard deviation of the training part, then every split normalised.
  const i64 n_train = all.size() - n_valid;
  for (int c = 0; c < 3; ++c) {
    double s = 0, ss = 0;
    for (i64 i = 0; i < n_train; ++i) {
      const float* p = all.images.data<float>() + (i * 3 + c) * kPlane;
      for (i64 k = 0; k < kPlane; ++k) s += p[k], ss += double(p[k]) * p[k];
    }
    const double m = s / double(n_train * kPlane);
    out.mean[c] = float(m);
    out.std[c] = float(std::sqrt(std::max(ss / double(n_train * kPlane) - m * m, 1e-12)));
  }
  for (ImageSet* set : {&all, &out.test}) {
    float* p = set->images.data<float>();
    for (i64 i = 0; i < set->size(); ++i)
      for (int c = 0; c < 3; ++c)
        for (i64 k = 0; k < kPlane; ++k, ++p) *p = (*p - out.mean[c]) / out.std[c];
  }
  out.train = all.slice(0, n_train);
  out.valid = all.slice(n_train, all.size());
  return out;
}

}  // namespace ht
