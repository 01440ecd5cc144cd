// Image classification on MNIST / Fashion-MNIST (paper §4.1 and Appendix A.1).
#pragma once
#include <memory>

#include "train/config.h"
#include "train/task.h"
#include "data/mnist.h"
#include "models/classifier.h"

namespace ht {

class ImageTask : public Task {
 public:
  // Loads the data named by cfg["data"] unless `load_data` is false (building only, for `list`).
  ImageTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  std::unique_ptr<Sampler> make_sampler(const Shard& shard, std::uint64_t seed) override;
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override;
  // Every image of the split (this shard's contiguous part): loss summed, errors counted.
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) override;
  Metric metric() const override { return {"error", false}; }
  const char* item_name() const override { return "images"; }
  std::string describe() const override;
  std::string data_source() const override { return data_ ? data_->source : ""; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  const ImageClassifier& model() const { return *model_; }

 private:
  Json cfg_;
  i64 batch_;
  std::unique_ptr<ImageSplits> data_;
  std::unique_ptr<ImageClassifier> model_;
};

}  // namespace ht
