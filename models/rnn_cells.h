// Reference recurrent cells, one time step at a time, composed from engine ops and written to be
// read beside the paper (§3.2, Eq. 4-13, Appendix A.2.2-A.2.3):
//
//   LSTM            Eq. 9, optionally with layer norm on each gate and on c (Ba et al.)
//   HyperRNN        Eq. 5-8: a tanh RNN whose weights are rescaled at every step by d(z)
//   HyperLSTM       Eq. 10-13: an LSTM whose gates are rescaled by a small (LN-)LSTM's embeddings
//
// These cells are the oracle: slow (dozens of tape nodes per step) but obviously right.
//
// Decisions on the paper's ambiguities (paper-notes §1.5), each in one place:
//  1. Eq. 11 writes z from ĥ_{t-1}; we use ĥ_t, the hyper cell's output after it has read
//     [h_{t-1}; x_t], as every implementation by the authors does (otherwise the embedding
//     could not depend on the current input, and Eq. 6's x̂_t would be pointless).
//  2. Eq. 6's W_x̂ is [N_ĥ x (N_h + N_x)] (the paper's N_z is a typo).
//  3. The hyper input is [x_t; h_{t-1}]; the order only matters for loading foreign weights, and
//     we keep the two halves as separate parameters (hyper.w_x, hyper.w_hin) so a one-hot x is a
//     row gather.
//  4. W_x: the paper says orthogonal; the authors' code uses Glorot. We follow the paper (one
//     orthogonal block per gate) so the initialisation is Appendix A.2.3 as written.
//  5. A forget-gate bias of +1 inside the sigmoid (all of the authors' cells have it; it is a
//     constant, not a parameter, so the counts do not move). `forget_bias` in the spec.
//  6. Layer-norm epsilon 1e-3 (the authors' value). `ln_eps` in the spec.
//  7. Recurrent dropout (Semeniuta et al.) on the candidate g only, a fresh mask every step.
//  8. The plain HyperLSTM's hyper cell is a plain LSTM with a bias, no layer norm. Eq. 10 and
//     Appendix A.2.3 describe a layer-norm LSTM there; the authors' supercell code applies layer
//     norm to the hyper cell only in its layer-norm variant, and Table 3's parameter counts
//     (4.91 M for the HyperLSTM, 4.92 M for the LN-HyperLSTM) are reproduced exactly only this
//     way (paper-notes §1.4). The LN-HyperLSTM normalises both cells.
#pragma once
#include <string>
#include <vector>

#include "engine/ops/lstm_weights.h"
#include "engine/rng.h"
#include "engine/tape.h"
#include "models/module.h"

namespace ht {

enum class CellKind { LSTM, HyperRNN, HyperLSTM };
CellKind cell_kind_from_string(const std::string& s);  // "lstm", "hyperrnn", "hyperlstm"
const char* cell_kind_name(CellKind k);

struct CellSpec {
  CellKind kind = CellKind::LSTM;
  i64 input = 0;        // N_x: width of x (the vocabulary when the input is one-hot ids)
  i64 hidden = 0;       // N_h
  i64 hyper = 128;      // N_ĥ (hyper cells)
  i64 embed = 4;        // N_z (hyper cells)
  bool layer_norm = false;
  double recurrent_dropout = 0;        // drop probability on the main cell's candidate g
  double hyper_recurrent_dropout = 0;  // the same inside the hyper cell (the paper's enwik8 2048)
  double ln_eps = 1e-3;
  double forget_bias = 1.0;
};

// The input of one step: dense x [B, N_x], or one-hot ids [B] (i32; -1 = a dropped input, a zero
// row) times `scale` (1/keep under input dropout).
struct CellInput {
  Var dense;
  Tensor ids;
  double scale = 1.0;
  bool one_hot() const { return !dense.valid(); }
};

// What a hyper cell computed at a step, for pictures and `plot scaling --stats`: the main cell's
// scaling vectors [B, 4H] (gate order i, g, f, o; HyperRNN: [B, H]), the embedding z_h [B, 4 N_z]
// they come from, the hyper cell's output ĥ and cell ĉ [B, N_ĥ] (ĉ: HyperLSTM only), and the
// main cell's c [B, H] (HyperLSTM only).
struct StepTrace {
  Tensor d_h, d_x;
  Tensor z_h, h_hat, c_hat, c;
};

class RnnCell {
 public:
  RnnCell(const Scope& scope, const CellSpec& spec);
  const CellSpec& spec() const { return spec_; }

  // State tensors of a step, in order: LSTM (h, c); HyperRNN (h, ĥ); HyperLSTM (h, c, ĥ, ĉ).
  // The cell's output is state[0].
  std::vector<Shape> state_shapes(i64 batch) const;

  // The parameters as tape variables, looked up by name under the cell's scope once per segment
  // and reused by every step; an invalid Var where the cell has no such parameter (hyper is all
  // invalid for an LSTM).
  struct Weights {
    LstmWeights main;
    HyperWeights hyper;
  };
  Weights bind(Tape& t, const ParamStore& ps) const;

  // One step. rng is used for recurrent dropout when training (may be null otherwise).
  std::vector<Var> step(Tape& t, const Weights& w, const CellInput& x, const std::vector<Var>& state, Rng* rng, bool training,
                        StepTrace* trace = nullptr) const;

 private:
  Var project(Tape& t, const Var& w, const CellInput& x) const;  // x W, a row gather for one-hot x
  // LSTM tail on pre-activations [B, 4n]: layer norm per gate (when ln_gain is valid), the
  // nonlinearities, dropout on g. Returns {h, c}.
  std::vector<Var> lstm_tail(Tape& t, const Var& gates, const Var& c_prev, i64 n, const Var& ln_gain, const Var& ln_bias,
                             const Var& lnc_gain, const Var& lnc_bias, double drop, Rng* rng, bool training) const;
  // d = concat over gates y of z^y W^y: z [B, G*N_z], w [G*N_z, n] -> [B, G*n].
  Var per_gate(Tape& t, const Var& z, const Var& w, int gates) const;

  CellSpec spec_;
  std::string prefix_;  // the cell's scope: its parameters are named prefix_ + "w_x", ...
};

}  // namespace ht
