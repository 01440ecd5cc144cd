// Image classification on MNIST / Fashion-MNIST (paper §4.1 and Appendix A.1).
#pragma once
#include <memory>

#include "cli/config.h"
#include "cli/task.h"
#include "data/mnist.h"
#include "models/classifier.h"

namespace ht {

class ImageTask : public Task {
 public:
  // Loads the data named by cfg["data"] unless `load_data` is false (building only, for `list`).
  ImageTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  i64 steps_per_epoch() const override;
  i64 items_per_step() const override { return batch_; }
  const char* item_name() const override { return "images"; }
  const char* metric_name() const override { return "error"; }
  Var loss(Tape& t, const ParamStore& ps, i64 step, Rng& rng) override;
  EvalResult evaluate(const ParamStore& ps, const std::string& split, bool quick = false) override;
  std::string describe() const override;
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  const ImageClassifier& model() const { return *model_; }

 private:
  Json cfg_;
  i64 batch_;
  std::unique_ptr<MnistSplits> data_;
  std::unique_ptr<ImageBatcher> batcher_;
  std::unique_ptr<ImageClassifier> model_;
  Tensor images_;
  std::vector<std::int32_t> labels_;
};

}  // namespace ht
