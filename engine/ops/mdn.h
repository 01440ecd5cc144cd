// Mixture density output for pen strokes (Graves 2013, §4.1; the paper's handwriting model,
// §4.5): a mixture of M bivariate Gaussians over the next pen offset and a Bernoulli over the
// pen lifting after it.
//
// A row of params has 6M + 1 columns, in blocks:
//   [0]              ê        pen-up logit, e = sigmoid(ê)
//   [1, 1+M)         π̂_j      mixture logits, π = softmax(π̂)
//   [1+M, 1+2M)      μ1_j     means of dx
//   [1+2M, 1+3M)     μ2_j     means of dy
//   [1+3M, 1+4M)     σ̂1_j     σ1 = exp(σ̂1)
//   [1+4M, 1+5M)     σ̂2_j     σ2 = exp(σ̂2)
//   [1+5M, 1+6M)     ρ̂_j      correlation ρ = tanh(ρ̂)
// A target row is (dx, dy, pen) with pen 0 or 1. The negative log-likelihood of a row is
//   -log sum_j π_j N(dx, dy | μ_j, σ_j, ρ_j) - log(e if pen else 1 - e),
// computed in double with a log-sum-exp over the components, whatever the tensors' dtype.
#pragma once
#include "engine/tape.h"

namespace ht {

// Components M of a params width (6M + 1); throws naming the width otherwise.
i64 mdn_components(i64 width);

// sum_r weights[r] * nll_r over the rows of params [N, 6M+1]; target [N, 3] and weights [N]
// (0 leaves a padded row out) are constants of params' dtype. The backward is analytic.
Var mdn_loss(Tape& t, const Var& params, const Tensor& target, const Tensor& weights);

// Per-row nll without recording (evaluation).
void mdn_nll_rows(const Tensor& params, const Tensor& target, double* out);

// One draw (dx, dy, pen) from a row of params. bias >= 0 sharpens the draw as Graves' sampling
// bias does: π ∝ exp(π̂ (1 + bias)), σ = exp(σ̂ - bias). u are uniforms in [0, 1): 4 of them.
void mdn_sample_row(const double* params, i64 M, double bias, const double u[4], double out[3]);

}  // namespace ht
