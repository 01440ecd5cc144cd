// Matrix products through cblas.
#pragma once
#include "engine/tape.h"

namespace ht {

// C = op(A) op(B). A: [M,K] ([K,M] if trans_a), B: [K,N] ([N,K] if trans_b), C: [M,N].
// Batched: A [Bt,M,K] and B [Bt,K,N] (same transposes per batch) give C [Bt,M,N]; a 2-D B is
// shared by every batch entry.
Var matmul(Tape& t, const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);

// y = x W + b with x [N,In], W [In,Out], b [Out] (b optional: pass an invalid Var).
Var linear(Tape& t, const Var& x, const Var& w, const Var& b);

}  // namespace ht
