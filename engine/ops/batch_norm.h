// Batch normalization over the batch (and spatial) axes, per channel.
#pragma once
#include "engine/tape.h"

namespace ht {

// x [N,C] or [N,C,H,W]; gamma, beta, running_mean, running_var [C] (x's dtype). With S = H*W (1 for
// 2-D x) and M = N*S values per channel c:
//   training: mean_c = sum x / M, var_c = sum (x - mean_c)^2 / M (biased), and in place
//             running_mean = (1-momentum)*running_mean + momentum*mean_c,
//             running_var  = (1-momentum)*running_var  + momentum*var_c*M/(M-1) (unbiased); M > 1.
//   eval:     mean_c = running_mean, var_c = running_var (nothing updated).
//   y = gamma_c * (x - mean_c) * rstd_c + beta_c,  rstd_c = 1/sqrt(var_c + eps).
Var batch_norm(Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
               bool training, double momentum = 0.1, double eps = 1e-5);

// max(0, batch_norm(...)) as one node: one pass over x forward and one fewer buffer; the backward
// reads the ReLU's mask from the saved output (a pre-activation residual block's BN-ReLU).
Var batch_norm_relu(Tape& t, const Var& x, const Var& gamma, const Var& beta, Tensor running_mean, Tensor running_var,
                    bool training, double momentum = 0.1, double eps = 1e-5);

}  // namespace ht
