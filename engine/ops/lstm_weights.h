// The weights of a recurrent cell as tape variables, one named field per parameter: a model binds
// them once per segment by name, and the reference cells and the fused sequence op
// (engine/ops/fused_lstm.h) read the same fields for values and gradients. A field the cell does
// not have is an invalid Var.
//
// Field names are the parameter names: LstmWeights' under the cell's scope ("rnn0.w_x"),
// HyperWeights' hyper-cell fields under its "hyper." scope ("rnn0.hyper.w_x"), its z and scaling
// projections under the cell's scope ("rnn0.zx_w"). Shapes: X inputs, H main units, Ĥ hyper units,
// N_z embedding width, G gates side by side (4 for an LSTM: i, g, f, o; 1 for the HyperRNN).
#pragma once
#include <vector>

#include "engine/tape.h"

namespace ht {

// The main cell: Eq. 9 (with layer norm as Ba et al.), or Eq. 12's W_x, W_h and b_0 in a hyper cell.
struct LstmWeights {
  Var w_x;       // [X, G*H]
  Var w_h;       // [H, G*H]
  Var b;         // [G*H]
  Var ln_gain;   // [G*H]   layer norm on each gate's pre-activations (layer-norm cells)
  Var ln_bias;   // [G*H]
  Var lnc_gain;  // [H]     layer norm on c (layer-norm cells)
  Var lnc_bias;  // [H]

  // Every field, valid or not (a tape node's input list keeps the valid ones).
  std::vector<Var> vars() const { return {w_x, w_h, b, ln_gain, ln_bias, lnc_gain, lnc_bias}; }
};

// The hyper cell on x̂_t = [x_t; h_{t-1}] (Eq. 6 / Eq. 10) and the projections from its output to
// the main cell's scaling vectors and bias (Eq. 11-12).
struct HyperWeights {
  Var w_x;       // hyper.w_x       [X, G*Ĥ]   x_t's half of W_x̂
  Var w_hin;     // hyper.w_hin     [H, G*Ĥ]   h_{t-1}'s half of W_x̂
  Var w_h;       // hyper.w_h       [Ĥ, G*Ĥ]   W_ĥ on ĥ_{t-1}
  Var b;         // hyper.b         [G*Ĥ]      b̂ (no layer norm; with it, LN's bias replaces b̂)
  Var ln_gain;   // hyper.ln_gain   [G*Ĥ]      (layer-norm cells)
  Var ln_bias;   // hyper.ln_bias   [G*Ĥ]
  Var lnc_gain;  // hyper.lnc_gain  [Ĥ]
  Var lnc_bias;  // hyper.lnc_bias  [Ĥ]
  Var zx_w;      // [Ĥ, G*N_z]   Eq. 11: z_x = ĥ_t W_ĥx + b_ĥx, one N_z block per gate
  Var zx_b;      // [G*N_z]
  Var zh_w;      // [Ĥ, G*N_z]   z_h = ĥ_t W_ĥh + b_ĥh
  Var zh_b;      // [G*N_z]
  Var zb_w;      // [Ĥ, G*N_z]   z_b = ĥ_t W_ĥb (no bias)
  Var alpha_x;   // [G*N_z, H]   Eq. 12: d_x^y = z_x^y W_xz^y (rows y*N_z .. (y+1)*N_z for gate y)
  Var alpha_h;   // [G*N_z, H]   d_h^y = z_h^y W_hz^y
  Var beta;      // [G*N_z, H]   b^y = z_b^y W_bz^y (+ b_0, LstmWeights::b)

  std::vector<Var> vars() const {
    return {w_x, w_hin, w_h, b, ln_gain, ln_bias, lnc_gain, lnc_bias, zx_w, zx_b, zh_w, zh_b, zb_w, alpha_x, alpha_h, beta};
  }
};

}  // namespace ht
