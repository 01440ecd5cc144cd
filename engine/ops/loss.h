// Losses over the last dimension of logits, fused and numerically stable.
#pragma once
#include "engine/tape.h"

namespace ht {

// Mean over rows of -log softmax(logits)[target]. logits [N, C] (or [..., C]); targets: i32
// tensor with one class index per row. The backward is (softmax - onehot) / N per row.
Var softmax_cross_entropy(Tape& t, const Var& logits, const Tensor& targets);

// y = x - logsumexp(x) over the last dimension.
Var log_softmax(Tape& t, const Var& x);

// Per-row losses without recording (evaluation): out[r] = -log softmax(logits)[target[r]].
void softmax_cross_entropy_rows(const Tensor& logits, const Tensor& targets, double* out);

}  // namespace ht
