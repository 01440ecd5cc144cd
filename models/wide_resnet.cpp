#include "models/wide_resnet.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "engine/ops/conv.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape_ops.h"

namespace ht {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

}  // namespace

int WideResNet::add_conv(const Scope& scope, const std::string& name, i64 in, i64 out, i64 f, int stride) {
  Conv c{name, in, out, f, stride};
  bool generated = false;
  for (const std::string& p : spec_.hyper) {
    if (name == p) {
      if (f != 3)
        throw std::invalid_argument("model.hyper names layer '" + name + "', a " + std::to_string(f) + "x" + std::to_string(f) + "x" +
                                    std::to_string(in) + "x" + std::to_string(out) + " convolution; the hypernetwork writes 3x3 kernels");
      generated = true;
    } else if (starts_with(name, p + ".") && f == 3) {
      generated = true;
    }
  }
  Scope s = scope.sub(name);
  if (generated) {
    if (in % spec_.basic != 0 || out % spec_.basic != 0)
      throw std::invalid_argument("layer '" + name + "' (3x3x" + std::to_string(in) + "x" + std::to_string(out) +
                                  ") cannot be generated: its channels are not multiples of the " + std::to_string(spec_.basic) + "x" +
                                  std::to_string(spec_.basic) + " basic block");
    c.hyper = int(hyper_convs_.size());
    c.gain = std::sqrt(2.0 / double(9 * in));
    hyper_convs_.emplace_back(s, *hyper_, in, out, Init::normal(1.0));
    hyper_blocks_ += hyper_convs_.back().blocks_in() * hyper_convs_.back().blocks_out();
  } else {
    c.weight = s.param("weight", {out, in, f, f}, Init::normal(std::sqrt(2.0 / double(f * f * in))));  // He
  }
  convs_.push_back(c);
  return int(convs_.size()) - 1;
}

WideResNet::WideResNet(const Scope& scope, const WideResNetSpec& spec) : spec_(spec) {
  if (spec.depth < 10 || (spec.depth - 4) % 6 != 0)
    throw std::invalid_argument("model.depth must be 6N + 4 with N >= 1 (10, 16, 22, 28, 40, ...), got " + std::to_string(spec.depth));
  if (spec.widen < 1) throw std::invalid_argument("model.widen must be at least 1, got " + std::to_string(spec.widen));
  if (spec.in_channels < 1 || spec.classes < 2) throw std::invalid_argument("WideResNet: need input channels >= 1 and classes >= 2");
  if (spec.dropout < 0 || spec.dropout >= 1) throw std::invalid_argument("model.dropout must be in [0, 1)");
  if (!spec.hyper.empty())
    hyper_ = std::make_unique<KernelHyperNetwork>(scope.sub("hyper"), spec.nz, spec.basic, spec.basic, 3, 0,
                                                  KernelHyperNetwork::InitStyle::Unit);
  const int n = (spec.depth - 4) / 6;
  const i64 k = spec.widen;
  add_conv(scope, "conv1", spec.in_channels, 16, 3, 1);
  i64 width = 16;
  const i64 widths[3] = {16 * k, 32 * k, 64 * k};
  for (int stage = 0; stage < 3; ++stage)
    for (int b = 0; b < n; ++b) {
      const std::string name = "conv" + std::to_string(stage + 2) + "." + std::to_string(b);
      const int stride = (stage > 0 && b == 0) ? 2 : 1;
      const i64 out = widths[stage];
      Scope bs = scope.sub(name);
      Block blk{BatchNorm(bs.sub("bn_a"), width), BatchNorm(bs.sub("bn_b"), out), -1, -1, -1};
      blk.conv_a = add_conv(scope, name + ".conv_a", width, out, 3, stride);
      blk.conv_b = add_conv(scope, name + ".conv_b", out, out, 3, 1);
      if (width != out || stride != 1) blk.shortcut = add_conv(scope, name + ".shortcut", width, out, 1, stride);
      blocks_.push_back(std::move(blk));
      width = out;
    }
  for (const std::string& p : spec.hyper) {
    bool used = false;
    for (const Conv& c : convs_) used = used || (c.hyper >= 0 && (c.name == p || starts_with(c.name, p + ".")));
    if (!used) throw std::invalid_argument("model.hyper names '" + p + "', which matches no 3x3 layer (conv1, conv2 .. conv4, conv3.0.conv_a, ...)");
  }
  bn_out_ = std::make_unique<BatchNorm>(scope.sub("bn_out"), width);
  fc_w_ = scope.param("fc_w", {width, spec.classes}, Init::glorot_uniform());
  fc_b_ = scope.param("fc_b", {spec.classes}, Init::zeros());
}

std::vector<Var> WideResNet::generated_kernels(Tape& t, const ParamStore& ps) const {
  std::vector<Var> out;
  if (hyper_convs_.empty()) return out;
  std::vector<Var> zs;
  for (const HyperConv2d& h : hyper_convs_) zs.push_back(ps.var(t, h.embedding_id()));
  Var blocks = hyper_->generate(t, ps, zs.size() == 1 ? zs[0] : concat(t, zs, 0));  // [D, N_in, f*N_out*f], all layers
  i64 row = 0;
  for (const Conv& c : convs_) {
    if (c.hyper < 0) continue;
    const HyperConv2d& h = hyper_convs_[std::size_t(c.hyper)];
    const i64 n = h.blocks_in() * h.blocks_out();
    out.push_back(scale(t, h.arrange(t, slice(t, blocks, 0, row, row + n)), c.gain));
    row += n;
  }
  return out;
}

Var WideResNet::conv(Tape& t, const ParamStore& ps, const Var& x, int c, const std::vector<Var>& generated) const {
  const Conv& cv = convs_[std::size_t(c)];
  Var w = cv.hyper >= 0 ? generated[std::size_t(cv.hyper)] : ps.var(t, cv.weight);
  return conv2d(t, x, w, cv.stride, Padding::Same);
}

Var WideResNet::forward(Tape& t, const ParamStore& ps, const Var& images, bool training, Rng& rng) const {
  const Shape& s = images.shape();
  if (s.nd != 4 || s[1] != spec_.in_channels)
    shape_error("WideResNet", "images must be [N, " + std::to_string(spec_.in_channels) + ", H, W], got " + s.str());
  const std::vector<Var> generated = generated_kernels(t, ps);
  Var x = conv(t, ps, images, 0, generated);
  for (const Block& b : blocks_) {
    Var a = b.bn_a.forward_relu(t, ps, x, training);
    Var y = conv(t, ps, a, b.conv_a, generated);
    y = b.bn_b.forward_relu(t, ps, y, training);
    if (training && spec_.dropout > 0) y = dropout(t, y, spec_.dropout, rng, true);
    y = conv(t, ps, y, b.conv_b, generated);
    x = add(t, y, b.shortcut >= 0 ? conv(t, ps, a, b.shortcut, generated) : x);
  }
  x = bn_out_->forward_relu(t, ps, x, training);
  const Shape& xs = x.shape();
  Var pooled = mean(t, reshape(t, x, {xs[0], xs[1], xs[2] * xs[3]}), 2);  // global average pool -> [N, C]
  return linear(t, pooled, ps.var(t, fc_w_), ps.var(t, fc_b_));
}

std::string WideResNet::describe() const {
  std::ostringstream o;
  o << (hyper_ ? "Hyper " : "") << "WRN-" << spec_.depth << "-" << spec_.widen;
  if (hyper_)
    o << " (" << hyper_convs_.size() << " of " << convs_.size() << " convolutions generated from " << hyper_blocks_
      << " embeddings of " << spec_.nz << ", " << spec_.basic << "x" << spec_.basic << " basic blocks)";
  if (spec_.dropout > 0) o << ", dropout " << spec_.dropout;
  return o.str();
}

std::vector<std::pair<std::string, Tensor>> WideResNet::kernels(const ParamStore& ps) const {
  Tape t;
  Tape::NoGrad ng(t);
  const std::vector<Var> generated = generated_kernels(t, ps);
  std::vector<std::pair<std::string, Tensor>> out;
  const int n = (spec_.depth - 4) / 6;
  for (int stage = 0; stage < 3; ++stage) {
    const std::string name = "conv" + std::to_string(stage + 2) + "." + std::to_string(std::min(1, n - 1)) + ".conv_b";
    for (const Conv& c : convs_) {
      if (c.name != name) continue;
      Tensor k = c.hyper >= 0 ? generated[std::size_t(c.hyper)].value() : ps.value(c.weight);
      const i64 bo = std::min<i64>(spec_.basic, c.out), bi = std::min<i64>(spec_.basic, c.in);
      Tensor block = Tensor::empty({bo, bi, 3, 3}, k.dtype());
      for (i64 o = 0; o < bo; ++o)  // the first basic block: outputs [0, 16) x inputs [0, 16)
        std::memcpy(static_cast<char*>(block.raw()) + std::size_t(o * bi * 9) * dtype_size(k.dtype()),
                    static_cast<const char*>(k.raw()) + std::size_t(o * c.in * 9) * dtype_size(k.dtype()),
                    std::size_t(bi * 9) * dtype_size(k.dtype()));
      out.emplace_back(name + (c.hyper >= 0 ? " (generated)" : " (learned)"), block);
    }
  }
  return out;
}

std::pair<std::string, i64> WideResNet::counted_parameters(const ParamStore& ps) const {
  return {hyper_ ? "all (hypernetwork, embeddings, other layers)" : "all parameters", ps.count()};
}

}  // namespace ht
