// Wide residual networks (Zagoruyko & Komodakis 2016) and their hyper versions (Ha et al. 2016,
// §4.2, Eq. 3, Appendix A.2.1), one model with a per-layer switch.
//
// WRN-d-k, N = (d - 4) / 6 blocks per stage, pre-activation blocks:
//   conv1     3x3, in -> 16                                              [N, 16, H, W]
//   conv2     N blocks of width 16k, stride 1                            [N, 16k, H, W]
//   conv3     N blocks of width 32k, the first with stride 2             [N, 32k, H/2, W/2]
//   conv4     N blocks of width 64k, the first with stride 2             [N, 64k, H/4, W/4]
//   BN, ReLU, global average pool, fc -> classes
// block:  a = ReLU(BN_a(x));  y = conv_a(a, stride);  y = conv_b(ReLU(BN_b(y)))  (dropout between
//         the two convs when model.dropout > 0);  out = y + (x, or shortcut(a): a 1x1 conv with
//         the block's stride where the width or the stride changes).
// Convolutions have no bias (batch norm follows each), SAME padding (TensorFlow's).
//
// Layers are named conv1, conv2.0.conv_a, conv2.0.conv_b, conv2.0.shortcut, ..., fc. A layer
// whose name starts with one of spec.hyper (e.g. "conv2", or "conv3.1.conv_b") has its 3x3 kernel
// generated from its own embeddings by one KernelHyperNetwork shared by the whole model (Eq. 2,
// N_z = 64, 16x16 basic blocks tiled as Eq. 3); the paper's hyper WRN names conv2, conv3, conv4
// (36 layers). A prefix matches only the 3x3 convolutions under it; a layer named exactly that is
// not 3x3, or whose channels are not multiples of the basic block, is an error naming the layer and
// its shape. Every generated kernel of a forward pass comes out of one batched generation (two
// GEMMs over all layers' embeddings).
//
// Initialisation: learned kernels He-normal (std sqrt(2 / (9 C))); the fc layer Glorot uniform,
// zero bias; batch norm gain 1, bias 0. The generator: z ~ N(0, 1), W_i ~ N(0, 1/N_z),
// W_out ~ N(0, 1/d), biases 0, so generated entries start near N(0, 1); each generated kernel is
// then multiplied by a fixed (not learned) sqrt(2 / (9 C)), so it starts at He's scale too. The
// paper gives no initialisation for its CIFAR hypernetwork; this factor is ours.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/batch_norm.h"
#include "models/classifier.h"
#include "models/hyper_conv.h"
#include "models/kernel_hypernet.h"
#include "models/module.h"

namespace ht {

struct WideResNetSpec {
  int depth = 40;                  // 6N + 4
  int widen = 1;                   // k
  i64 in_channels = 3, classes = 10;
  std::vector<std::string> hyper;  // layer-name prefixes whose 3x3 kernels are generated
  i64 nz = 64, basic = 16;         // N_z (= d) and the basic block's N_in = N_out
  double dropout = 0;              // between a block's two convolutions (the paper uses none)
};

class WideResNet : public ImageClassifier {
 public:
  WideResNet(const Scope& scope, const WideResNetSpec& spec);
  WideResNet(const WideResNet&) = delete;
  WideResNet& operator=(const WideResNet&) = delete;

  Var forward(Tape& t, const ParamStore& ps, const Var& images, bool training, Rng& rng) const override;
  std::string describe() const override;
  // Generated and learned 3x3 kernels side by side (Appendix A.2.1): the first 16x16 block of one
  // layer per stage.
  std::vector<std::pair<std::string, Tensor>> kernels(const ParamStore& ps) const override;
  // Hyper: {"hypernetwork + embeddings + other layers", all}; normal: {"all parameters", all}.
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;

  // Every generated kernel [O, C, 3, 3] of the model, in layer order, from one batched generation.
  std::vector<Var> generated_kernels(Tape& t, const ParamStore& ps) const;
  i64 generated_blocks() const { return hyper_blocks_; }  // basic blocks the generator writes per pass
  const KernelHyperNetwork* hypernetwork() const { return hyper_.get(); }

  struct Conv {
    std::string name;
    i64 in, out, f;
    int stride;
    int weight = -1;     // learned kernel [out, in, f, f], or
    int hyper = -1;      // index into hyper_convs_ (generated)
    double gain = 1;     // fixed factor on a generated kernel
  };
  const std::vector<Conv>& convs() const { return convs_; }

 private:
  struct Block {
    BatchNorm bn_a, bn_b;
    int conv_a, conv_b, shortcut = -1;  // indices into convs_
  };
  int add_conv(const Scope& scope, const std::string& name, i64 in, i64 out, i64 f, int stride);
  Var conv(Tape& t, const ParamStore& ps, const Var& x, int c, const std::vector<Var>& generated) const;

  WideResNetSpec spec_;
  std::unique_ptr<KernelHyperNetwork> hyper_;
  std::vector<HyperConv2d> hyper_convs_;
  std::vector<int> hyper_z_;  // embedding parameter of each hyper conv
  i64 hyper_blocks_ = 0;
  std::vector<Conv> convs_;
  std::vector<Block> blocks_;
  std::unique_ptr<BatchNorm> bn_out_;
  int fc_w_ = -1, fc_b_ = -1;
};

}  // namespace ht
