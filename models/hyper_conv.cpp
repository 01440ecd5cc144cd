#include "models/hyper_conv.h"

#include <stdexcept>

#include "engine/ops/gather.h"

namespace ht {

namespace {

std::string layer_name(const Scope& scope) {
  std::string p = scope.prefix();
  if (!p.empty() && p.back() == '.') p.pop_back();
  return p.empty() ? std::string("(unnamed)") : p;
}

}  // namespace

HyperConv2d::HyperConv2d(const Scope& scope, const KernelHyperNetwork& hyper, i64 in_channels, i64 out_channels, const Init& z_init)
    : hyper_(&hyper), name_(layer_name(scope)), C_(in_channels), O_(out_channels) {
  i64 n_in = hyper.n_in(), n_out = hyper.n_out(), f = hyper.f();
  if (C_ <= 0 || O_ <= 0 || C_ % n_in != 0 || O_ % n_out != 0)
    throw std::invalid_argument("HyperConv2d '" + name_ + "': " + std::to_string(C_) + " input and " + std::to_string(O_) +
                                " output channels must be positive multiples of the basic block " + std::to_string(n_in) +
                                " x " + std::to_string(n_out));
  Bi_ = C_ / n_in;
  Bo_ = O_ / n_out;
  z_ = scope.param("z", {Bi_ * Bo_, hyper.nz()}, z_init);
  // blocks, read as [Bi, Bo, N_in, f(ky), N_out, f(kx)], transposed to [Bo, N_out, Bi, N_in, f, f]
  // = [O, C, f, f].
  index_ = permutation_index({Bi_, Bo_, n_in, f, n_out, f}, {1, 4, 0, 2, 3, 5});
}

Var HyperConv2d::arrange(Tape& t, const Var& blocks) const {
  i64 f = hyper_->f();
  Shape want{Bi_ * Bo_, hyper_->n_in(), f * hyper_->n_out() * f};
  if (blocks.shape() != want)
    shape_error("HyperConv2d", "layer '" + name_ + "' expects generated blocks " + want.str() + ", got " + blocks.shape().str());
  return gather_flat(t, blocks, index_, {O_, C_, f, f});
}

Var HyperConv2d::kernel(Tape& t, const ParamStore& ps) const { return arrange(t, hyper_->generate(t, ps, ps.var(t, z_))); }

Var HyperConv2d::forward(Tape& t, const ParamStore& ps, const Var& x, int stride, Padding pad) const {
  return conv2d(t, x, kernel(t, ps), stride, pad);
}

}  // namespace ht
