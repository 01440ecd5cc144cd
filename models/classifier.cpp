#include "models/classifier.h"

#include <stdexcept>

#include "models/mnist_models.h"
#include "models/wide_resnet.h"

namespace ht {

std::unique_ptr<ImageClassifier> make_image_classifier(const ImageModelSpec& spec, const Scope& scope) {
  if (spec.arch == "conv") return std::make_unique<MnistConvNet>(scope, false, spec.nz, spec.channels, spec.f);
  if (spec.arch == "hyperconv") return std::make_unique<MnistConvNet>(scope, true, spec.nz, spec.channels, spec.f);
  if (spec.arch == "fc") return std::make_unique<MnistFC>(scope, false, spec.hidden);
  if (spec.arch == "coord-hyperfc") return std::make_unique<MnistFC>(scope, true, spec.hidden, spec.coord_init);
  if (spec.arch == "wrn") {
    WideResNetSpec w;
    w.depth = spec.depth;
    w.widen = spec.widen;
    w.in_channels = spec.in_channels;
    w.classes = spec.classes;
    w.hyper = spec.hyper;
    w.nz = spec.nz;
    w.dropout = spec.dropout;
    return std::make_unique<WideResNet>(scope, w);
  }
  throw std::invalid_argument("unknown image model arch '" + spec.arch + "'; valid: conv, hyperconv, fc, coord-hyperfc, wrn");
}

}  // namespace ht
