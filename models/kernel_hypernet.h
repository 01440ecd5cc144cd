// Static hypernetwork (Ha et al. 2016, §3.1, Eq. 2): a two-layer linear generator, shared by every
// layer, that turns an embedding z in R^{N_z} into one basic conv kernel of N_in x N_out filters
// of size f x f.
//
//   a_i = W_i z + B_i                  i = 1..N_in,  W_i in R^{d x N_z},  B_i in R^d
//   K_i = <W_out, a_i> + B_out         W_out in R^{f x N_out*f x d},  B_out in R^{f x N_out*f}
//   K   = (K_1 K_2 ... K_{N_in})       in R^{N_in*f x N_out*f}
//
// Storage: w_in [N_z, N_in*d] (columns i*d..i*d+d-1 hold W_i^T), b_in [N_in*d], w_out
// [d, f*N_out*f], b_out [f*N_out*f]; W_out and B_out are shared across i. The last axis of w_out is
// the paper's f x N_out*f slice flattened row-major, so K_i[ky, o*f + kx] is column
// (ky*N_out + o)*f + kx. Parameter count d*(N_z+1)*N_in + f*N_out*f*(d+1) (4240 for MNIST:
// N_z = d = 4, N_in = N_out = 16, f = 7); the embeddings belong to the layers that use them.
#pragma once
#include <array>

#include "engine/tape.h"
#include "models/module.h"

namespace ht {

class KernelHyperNetwork {
 public:
  // How the generator's weights start: the notebook's truncated normal (std 0.01), or "unit",
  // W_i ~ N(0, 1/N_z) and W_out ~ N(0, 1/d), so unit-variance embeddings give entries near N(0, 1).
  enum class InitStyle { Notebook, Unit };
  // d = 0 means d = N_z, as in the paper. Registers w_in, b_in, w_out, b_out under `scope`.
  KernelHyperNetwork(const Scope& scope, i64 nz, i64 n_in, i64 n_out, i64 f, i64 d = 0, InitStyle init = InitStyle::Notebook);

  // z [D, N_z] (one embedding per basic block) -> [D, N_in, f*N_out*f]: entry [b, i, :] is K_i of
  // block b, so entry [b] viewed as [N_in*f, N_out*f] is the paper's K^b. Two GEMMs for all D.
  Var generate(Tape& t, const ParamStore& ps, const Var& z) const;

  // Eq. 2 on explicit vars (tests, gradient checks): z [D, N_z], w_in [N_z, N_in*d], b_in
  // [N_in*d], w_out [d, F], b_out [F] -> [D, N_in, F] with F = f*N_out*f.
  static Var apply(Tape& t, const Var& z, const Var& w_in, const Var& b_in, const Var& w_out, const Var& b_out);

  // The notebook's embedding initialiser, tf.truncated_normal_initializer(0.01): its first
  // argument is the MEAN, so z ~ 0.01 + N(0, 1) truncated at 2 std.
  static Init embedding_init() { return Init::truncated_normal(1.0, 0.01); }

  i64 nz() const { return nz_; }
  i64 d() const { return d_; }
  i64 n_in() const { return n_in_; }
  i64 n_out() const { return n_out_; }
  i64 f() const { return f_; }
  i64 kernel_numel() const { return n_in_ * n_out_ * f_ * f_; }  // one basic block
  // d*(N_z+1)*N_in + f*N_out*f*(d+1), the generator alone.
  i64 num_parameters() const { return d_ * (nz_ + 1) * n_in_ + f_ * n_out_ * f_ * (d_ + 1); }
  // ParamStore indices of w_in, b_in, w_out, b_out.
  std::array<int, 4> parameter_ids() const { return {w_in_, b_in_, w_out_, b_out_}; }

 private:
  i64 nz_, d_, n_in_, n_out_, f_;
  int w_in_, b_in_, w_out_, b_out_;
};

}  // namespace ht
