// Fused sequence op: one recurrent layer (LSTM, LN-LSTM, HyperLSTM, LN-HyperLSTM; paper §3.2,
// Eq. 9-13) over a whole segment as a single tape node with a hand-written backward. The reference
// cells (models/rnn_cells.h) compose the same step from engine ops and stay the oracle;
// tests/test_fused_rnn.cpp holds the two to the same numbers.
//
// What it does differently from stepping the reference cell (paper-notes §3):
//  - a one-hot input is a row gather of W_x (and of the hyper cell's W_x) read in place;
//    a dense input is projected for the whole segment in one GEMM per weight;
//  - per step, one GEMM per weight on h_{t-1} (main W_h and the hyper cell's W_hin) and one on
//    ĥ_{t-1}; the twelve z -> d projections, the scaling, the bias, layer norm over the four
//    gates, the nonlinearities and recurrent dropout are plain loops over the batch
//    (fused_lstm_kernels.h);
//  - activations live in buffers of the tape's arena, written once per step;
//  - every weight gradient is one GEMM over all T*B rows after the backward loop; only the
//    gradients flowing into h_{t-1}, c_{t-1}, ĥ_{t-1}, ĉ_{t-1} are per step.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/ops/lstm_weights.h"

namespace ht {

// The layer's sizes and constants (paper-notes §1.5: decisions 5 to 7).
struct FusedLstmConfig {
  i64 hidden = 0;            // H
  i64 hyper = 0;             // Ĥ, the hyper cell's units: 0 for a plain (LN-)LSTM
  i64 embed = 0;             // N_z (hyper only)
  bool layer_norm = false;   // on each gate's pre-activations and on c, in both cells
  double ln_eps = 1e-3;
  double forget_bias = 1.0;  // added inside σ(f)
  double dropout = 0;        // recurrent dropout on the main cell's candidate g (0: none, as when not training)
  double hyper_dropout = 0;  // the same inside the hyper cell
};

struct FusedInput {
  Tensor ids;          // one-hot: i32 [T, B] (-1 = dropped symbol, a zero row), or
  Var dense;           // dense: [T*B, X], row t*B + b
  double scale = 1.0;  // one-hot only: multiplies the gathered rows (1/keep under input dropout)
  i64 steps = 0, batch = 0;
};

// Runs the layer over the segment from state0 = (h, c) [B, H] each, then (ĥ, ĉ) [B, Ĥ] each for a
// hyper cell. `main` must hold w_x [X, 4H] (X: the dense width, or the vocabulary of one-hot ids),
// w_h, b and, with layer norm, the four layer-norm fields; `hyper` everything a HyperLSTM has
// (lstm_weights.h) when cfg.hyper > 0. Returns every step's h as [T*B, H] (row t*B + b),
// differentiable with respect to the weights, the initial state and a dense input; `final_state`
// receives owned copies of the state after the last step. Recurrent dropout at step t uses the
// mask that dropout_mask(mask [B, n], p, key) gives with key = main_keys[t] (main cell's
// candidate) and hyper_keys[t] (the hyper cell's), so a reference cell can reproduce it.
Var fused_lstm(Tape& t, const FusedLstmConfig& cfg, const LstmWeights& main, const HyperWeights& hyper, const FusedInput& in,
               const std::vector<Var>& state0, const std::vector<std::uint64_t>& main_keys,
               const std::vector<std::uint64_t>& hyper_keys, std::vector<Tensor>* final_state);

}  // namespace ht
