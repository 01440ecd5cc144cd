// Elementwise ops. Binary ops take b either with a's shape, as a row broadcast over a's last
// dimension (b has a.shape().back() elements), or as a scalar (one element).
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
