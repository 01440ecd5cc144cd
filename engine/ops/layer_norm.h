// Layer normalisation over the last dimension (Ba et al. 2016):
//   y = gain * (x - mean) * rstd + bias,   rstd = 1 / sqrt(var + eps), biased variance.
#pragma once
#include "engine/tape.h"

namespace ht {

// x [..., H]; gain and bias [H] (either may be an invalid Var: no gain / no bias).
Var layer_norm(Tape& t, const Var& x, const Var& gain, const Var& bias, double eps = 1e-5);

// Kernels (one row of H at a time), shared with fused recurrent cells.
// Forward: writes y, mean and rstd.  Backward: adds into dx, dgain, dbias (may be null).
template <class T>
void layer_norm_row_forward(T* y, T* mean, T* rstd, const T* x, const T* gain, const T* bias, i64 H, T eps);
template <class T>
void layer_norm_row_backward(T* dx, T* dgain, T* dbias, const T* dy, const T* x, T mean, T rstd, const T* gain, i64 H);

}  // namespace ht
