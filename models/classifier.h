// The interface every image classifier offers the training loop.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"
#include "models/module.h"

namespace ht {

class ImageClassifier {
 public:
  virtual ~ImageClassifier() = default;
  // images [N, 1, 28, 28] -> logits [N, classes]. `rng` feeds dropout (unused by most models).
  virtual Var forward(Tape& t, const ParamStore& ps, const Var& images, bool training, Rng& rng) const = 0;
  // One line: the architecture and where its weights come from.
  virtual std::string describe() const = 0;
  // Named conv kernels [O, C, kh, kw] worth looking at (e.g. "conv2 (hyper-generated)"),
  // computed without recording. Empty when the model has none.
  virtual std::vector<std::pair<std::string, Tensor>> kernels(const ParamStore& ps) const { return {}; }
  // Parameters that produce the layer the paper counts (e.g. "the second kernel"), for reports.
  virtual std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const = 0;
};

// What a config's "model" block says about an image classifier.
struct ImageModelSpec {
  std::string arch;  // "conv", "hyperconv", "fc", "coord-hyperfc" (MNIST, models/mnist_models.h), "wrn"
  i64 nz = 4;        // N_z of a static hypernetwork
  i64 channels = 16, f = 7;  // MNIST ConvNet
  i64 hidden = 256;          // MNIST fc
  std::string coord_init = "uniform";  // coord-hyperfc's generator: "uniform" or "he" (models/mnist_models.h)
  int depth = 40, widen = 1;        // wide resnet (models/wide_resnet.h)
  std::vector<std::string> hyper;   // wide resnet: layer-name prefixes whose kernels are generated
  double dropout = 0;               // wide resnet
  i64 in_channels = 1, classes = 10;  // of the data
};

// Throws std::invalid_argument naming an unknown arch and listing the valid ones.
std::unique_ptr<ImageClassifier> make_image_classifier(const ImageModelSpec& spec, const Scope& scope);

}  // namespace ht
