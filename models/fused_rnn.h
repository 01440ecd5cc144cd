// Fused sequence op: one recurrent layer (LSTM, LN-LSTM, HyperLSTM, LN-HyperLSTM) over a whole
// segment as a single tape node with a hand-written backward. The reference cells of
// rnn_cells.h stay the oracle; tests/test_fused_rnn.cpp holds the two to the same numbers.
//
// What it does differently from stepping the reference cell (paper-notes §3):
//  - a one-hot input is a row gather of W_x (and of the hyper cell's W_x) read in place;
//    a dense input is projected for the whole segment in one GEMM per weight;
//  - per step, one GEMM per weight on h_{t-1} (main W_h and the hyper cell's W_hin) and one on
//    ĥ_{t-1}; the twelve z -> d projections, the scaling, the bias, layer norm over the four
//    gates, the nonlinearities and recurrent dropout are plain loops over the batch;
//  - activations live in buffers of the tape's arena, written once per step;
//  - every weight gradient is one GEMM over all T*B rows after the backward loop; only the
//    gradients flowing into h_{t-1}, c_{t-1}, ĥ_{t-1}, ĉ_{t-1} are per step.
#pragma once
#include <cstdint>
#include <vector>

#include "models/rnn_cells.h"

namespace ht {

struct FusedInput {
  Tensor ids;          // one-hot: i32 [T, B] (-1 = dropped symbol, a zero row), or
  Var dense;           // dense: [T*B, X], row t*B + b
  double scale = 1.0;  // one-hot only: multiplies the gathered rows (1/keep under input dropout)
  i64 steps = 0, batch = 0;
};

// Runs `cell` (kind LSTM or HyperLSTM) over the segment from `state0` (RnnCell::state_shapes
// order). Returns every step's h as [T*B, H] (row t*B + b), differentiable with respect to the
// parameters, the initial state and a dense input; `final_state` receives owned copies of the
// state after the last step. Recurrent dropout (when training) uses for step t the masks that
// dropout_mask(mask [B, n], p, key) gives with key = main_keys[t] (main cell's candidate) and
// hyper_keys[t] (the hyper cell's), so the reference cell reproduces them exactly.
Var fused_rnn_layer(Tape& t, const RnnCell& cell, const RnnCell::Weights& w, const FusedInput& in, const std::vector<Var>& state0,
                    const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys, bool training,
                    std::vector<Tensor>* final_state);

}  // namespace ht
