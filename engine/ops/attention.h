// Attention over a variable-length sequence of encoder states (Bahdanau et al. 2015; GNMT, Wu et
// al. 2016, §3: "AttentionFunction in our implementation is a feed forward network with one hidden
// layer"):
//   score[b, i, j] = v · tanh(keys[b, j] + queries[b, i])      keys = x_j W_k, queries = y_i W_q + b
//   p[b, i, :]     = softmax over the real positions j < lengths[b] (0 beyond them)
// The context p[b, i, :] @ states[b] is a batched matmul (ops/matmul.h).
#pragma once
#include "engine/tape.h"

namespace ht {

// keys [B, S, A], queries [B, T, A], v [A] -> scores [B, T, S]. The [B, T, S, A] hidden layer
// is never stored: the backward recomputes tanh. Saves keys, queries, v and a [B, A] buffer for
// the per-row partial gradients of v (summed in row order: deterministic).
Var additive_scores(Tape& t, const Var& keys, const Var& queries, const Var& v);

// x [B, T, S], lengths i32 [B] with 1 <= lengths[b] <= S: softmax over x[b, i, :lengths[b]],
// exactly 0 at j >= lengths[b] (padding gets no weight and no gradient). Saves the output.
Var masked_softmax(Tape& t, const Var& x, const Tensor& lengths);

// Kernels on one row (b, i): s[j] = v · tanh(k[j] + q) for j < S; and its backward, adding into
// dk [S, A], dq [A], dv [A] (each may be null: not wanted) from ds [S].
template <class T> void additive_scores_row(T* s, const T* k, const T* q, const T* v, i64 S, i64 A);
template <class T>
void additive_scores_row_backward(T* dk, T* dq, T* dv, const T* ds, const T* k, const T* q, const T* v, i64 S, i64 A);

}  // namespace ht
