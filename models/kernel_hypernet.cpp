#include "models/kernel_hypernet.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "engine/ops/matmul.h"
#include "engine/ops/shape_ops.h"

namespace ht {

KernelHyperNetwork::KernelHyperNetwork(const Scope& scope, i64 nz, i64 n_in, i64 n_out, i64 f, i64 d, InitStyle init)
    : nz_(nz), d_(d == 0 ? nz : d), n_in_(n_in), n_out_(n_out), f_(f) {
  if (nz <= 0 || n_in <= 0 || n_out <= 0 || f <= 0 || d_ <= 0)
    throw std::invalid_argument("KernelHyperNetwork '" + scope.prefix() + "': sizes must be positive, got N_z=" + std::to_string(nz) +
                                " d=" + std::to_string(d_) + " N_in=" + std::to_string(n_in) + " N_out=" + std::to_string(n_out) +
                                " f=" + std::to_string(f));
  // Notebook (hardmaru/supercell MNIST_Static_HyperNetwork_Example): weights truncated normal
  // std 0.01, biases 0.
  const bool unit = init == InitStyle::Unit;
  w_in_ = scope.param("w_in", {nz_, n_in_ * d_}, unit ? Init::normal(1.0 / std::sqrt(double(nz_))) : Init::truncated_normal(0.01));
  b_in_ = scope.param("b_in", {n_in_ * d_}, Init::zeros());
  w_out_ = scope.param("w_out", {d_, f_ * n_out_ * f_}, unit ? Init::normal(1.0 / std::sqrt(double(d_))) : Init::truncated_normal(0.01));
  b_out_ = scope.param("b_out", {f_ * n_out_ * f_}, Init::zeros());
}

Var KernelHyperNetwork::apply(Tape& t, const Var& z, const Var& w_in, const Var& b_in, const Var& w_out, const Var& b_out) {
  const Shape &zs = z.shape(), &wi = w_in.shape(), &wo = w_out.shape();
  if (zs.nd != 2 || wi.nd != 2 || wo.nd != 2 || zs[1] != wi[0] || wo[0] <= 0 || wi[1] % wo[0] != 0)
    shape_error("KernelHyperNetwork", "expects z [D, N_z], w_in [N_z, N_in*d], w_out [d, F]; got z " + zs.str() + ", w_in " +
                                          wi.str() + ", w_out " + wo.str());
  i64 D = zs[0], d = wo[0], n_in = wi[1] / d, F = wo[1];
  // a[b, i*d + r] = (W_i z_b + B_i)[r]: one GEMM [D, N_z] @ [N_z, N_in*d] for every block and i.
  Var a = linear(t, z, w_in, b_in);
  // Each row (b, i) is a_i of block b: [D*N_in, d] @ [d, F] + B_out gives every K_i (Eq. 2).
  Var k = linear(t, reshape(t, a, {D * n_in, d}), w_out, b_out);
  return reshape(t, k, {D, n_in, F});
}

Var KernelHyperNetwork::generate(Tape& t, const ParamStore& ps, const Var& z) const {
  if (z.shape().nd != 2 || z.shape()[1] != nz_)
    shape_error("KernelHyperNetwork", "z must be [D, " + std::to_string(nz_) + "], got " + z.shape().str());
  return apply(t, z, ps.var(t, w_in_), ps.var(t, b_in_), ps.var(t, w_out_), ps.var(t, b_out_));
}

}  // namespace ht
