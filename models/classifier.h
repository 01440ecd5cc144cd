// The interface every image classifier offers the training loop.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/params.h"
#include "engine/rng.h"
#include "engine/tape.h"

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

}  // namespace ht
