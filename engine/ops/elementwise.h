// Elementwise ops. Binary ops broadcast their operands as NumPy does (engine/ops/broadcast.h):
// shapes aligned at the last dimension, each pair of extents equal or 1 in either operand; the
// result has the broadcast shape, and each operand's gradient is summed back to its own shape
// (sum_to). Three patterns keep their dedicated loops: b with a's shape, and, when the result has
// a's shape, b as a row over a's last dimension ([C], [1, C]) or b of one element. Every other
// pattern goes through one strided kernel.
#pragma once
#include "engine/tape.h"

namespace ht {

Var add(Tape& t, const Var& a, const Var& b);
Var sub(Tape& t, const Var& a, const Var& b);
Var mul(Tape& t, const Var& a, const Var& b);
Var bias_add(Tape& t, const Var& x, const Var& bias);  // x [..., N] + bias [N]
Var scale(Tape& t, const Var& x, double c);            // c * x
Var add_scalar(Tape& t, const Var& x, double c);       // x + c

Var sigmoid(Tape& t, const Var& x);
Var tanh(Tape& t, const Var& x);
Var relu(Tape& t, const Var& x);
Var exp(Tape& t, const Var& x);
Var log(Tape& t, const Var& x);  // natural log; x must be positive

}  // namespace ht
