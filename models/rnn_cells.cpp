#include "models/rnn_cells.h"

#include <stdexcept>

#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/layer_norm.h"
#include "engine/ops/matmul.h"
#include "engine/ops/shape_ops.h"
#include "engine/params.h"

namespace ht {

CellKind cell_kind_from_string(const std::string& s) {
  if (s == "lstm") return CellKind::LSTM;
  if (s == "hyperrnn") return CellKind::HyperRNN;
  if (s == "hyperlstm") return CellKind::HyperLSTM;
  throw std::invalid_argument("unknown cell '" + s + "' (lstm, hyperrnn, hyperlstm)");
}

const char* cell_kind_name(CellKind k) {
  switch (k) {
    case CellKind::LSTM: return "lstm";
    case CellKind::HyperRNN: return "hyperrnn";
    case CellKind::HyperLSTM: return "hyperlstm";
  }
  return "?";
}

RnnCell::RnnCell(const Scope& scope, const CellSpec& spec) : spec_(spec), prefix_(scope.prefix()) {
  const i64 X = spec.input, H = spec.hidden, Hh = spec.hyper, Nz = spec.embed;
  if (X <= 0 || H <= 0) throw std::invalid_argument(scope.prefix() + ": a cell needs input > 0 and hidden > 0");
  const bool hyper = spec.kind != CellKind::LSTM;
  if (hyper && (Hh <= 0 || Nz <= 0)) throw std::invalid_argument(scope.prefix() + ": a hyper cell needs hyper > 0 and embed > 0");
  if (spec.kind == CellKind::HyperRNN && spec.layer_norm)
    throw std::invalid_argument(scope.prefix() + ": the HyperRNN has no layer-norm variant here (use hyperlstm)");
  for (double p : {spec.recurrent_dropout, spec.hyper_recurrent_dropout})
    if (p < 0 || p >= 1) throw std::invalid_argument(scope.prefix() + ": dropout probabilities must be in [0, 1)");
  const int G = spec.kind == CellKind::HyperRNN ? 1 : 4;  // gates: i, g, f, o (or the single RNN pre-activation)

  // Main cell (Appendix A.2.3: W_h, W_x orthogonal, one block per gate; b_0 = 0). The bias is kept
  // with layer norm too, as in the authors' cell (the parameter counts of Table 3 include it).
  scope.param("w_x", {X, G * H}, Init::block_orthogonal(G));
  scope.param("w_h", {H, G * H}, Init::block_orthogonal(G));
  scope.param("b", {G * H}, Init::zeros());
  if (spec.layer_norm) {
    scope.param("ln_gain", {G * H}, Init::constant(1));
    scope.param("ln_bias", {G * H}, Init::zeros());
    scope.param("lnc_gain", {H}, Init::constant(1));
    scope.param("lnc_bias", {H}, Init::zeros());
  }
  if (hyper) {
    // Hyper cell on [x_t; h_{t-1}]: an (LN-)LSTM for the HyperLSTM, a tanh RNN for the HyperRNN;
    // orthogonal weights, zero biases; with layer norm it has no bias (LN's own bias replaces it).
    Scope hs = scope.sub("hyper");
    hs.param("w_x", {X, G * Hh}, Init::block_orthogonal(G));
    hs.param("w_hin", {H, G * Hh}, Init::block_orthogonal(G));
    hs.param("w_h", {Hh, G * Hh}, Init::block_orthogonal(G));
    if (!spec.layer_norm) hs.param("b", {G * Hh}, Init::zeros());
    if (spec.layer_norm) {
      hs.param("ln_gain", {G * Hh}, Init::constant(1));
      hs.param("ln_bias", {G * Hh}, Init::zeros());
      hs.param("lnc_gain", {Hh}, Init::constant(1));
      hs.param("lnc_bias", {Hh}, Init::zeros());
    }
    // Eq. 11, one N_z block per gate: z_x, z_h with weights 0 and biases 1; z_b normal(0.01), no bias.
    scope.param("zx_w", {Hh, G * Nz}, Init::zeros());
    scope.param("zx_b", {G * Nz}, Init::constant(1));
    scope.param("zh_w", {Hh, G * Nz}, Init::zeros());
    scope.param("zh_b", {G * Nz}, Init::constant(1));
    scope.param("zb_w", {Hh, G * Nz}, Init::normal(0.01));
    // Eq. 12: d_x = W_xz z_x, d_h = W_hz z_h, rows [y*N_z, (y+1)*N_z) for gate y, constant 0.1/N_z,
    // so every scaling vector starts at exactly N_z * 1 * 0.1/N_z = 0.1; W_bz = 0.
    scope.param("alpha_x", {G * Nz, H}, Init::constant(0.1 / double(Nz)));
    scope.param("alpha_h", {G * Nz, H}, Init::constant(0.1 / double(Nz)));
    scope.param("beta", {G * Nz, H}, Init::zeros());
  }
}

std::vector<Shape> RnnCell::state_shapes(i64 batch) const {
  const i64 H = spec_.hidden, Hh = spec_.hyper;
  switch (spec_.kind) {
    case CellKind::LSTM: return {{batch, H}, {batch, H}};
    case CellKind::HyperRNN: return {{batch, H}, {batch, Hh}};
    case CellKind::HyperLSTM: return {{batch, H}, {batch, H}, {batch, Hh}, {batch, Hh}};
  }
  return {};
}

RnnCell::Weights RnnCell::bind(Tape& t, const ParamStore& ps) const {
  // The names the constructor registered, under the same conditions; a missing one is an error
  // naming it.
  auto var = [&](const char* name) { return ps.var(t, ps.index(prefix_ + name)); };
  const bool hyper = spec_.kind != CellKind::LSTM, ln = spec_.layer_norm;
  Weights w;
  LstmWeights& m = w.main;
  m.w_x = var("w_x");
  m.w_h = var("w_h");
  m.b = var("b");
  if (ln) {
    m.ln_gain = var("ln_gain");
    m.ln_bias = var("ln_bias");
    m.lnc_gain = var("lnc_gain");
    m.lnc_bias = var("lnc_bias");
  }
  if (!hyper) return w;
  HyperWeights& h = w.hyper;
  h.w_x = var("hyper.w_x");
  h.w_hin = var("hyper.w_hin");
  h.w_h = var("hyper.w_h");
  if (ln) {
    h.ln_gain = var("hyper.ln_gain");
    h.ln_bias = var("hyper.ln_bias");
    h.lnc_gain = var("hyper.lnc_gain");
    h.lnc_bias = var("hyper.lnc_bias");
  } else {
    h.b = var("hyper.b");
  }
  h.zx_w = var("zx_w");
  h.zx_b = var("zx_b");
  h.zh_w = var("zh_w");
  h.zh_b = var("zh_b");
  h.zb_w = var("zb_w");
  h.alpha_x = var("alpha_x");
  h.alpha_h = var("alpha_h");
  h.beta = var("beta");
  return w;
}

Var RnnCell::project(Tape& t, const Var& w, const CellInput& x) const {
  if (!x.one_hot()) return matmul(t, x.dense, w);
  Var rows = embedding(t, w, x.ids);  // one-hot x times W is row x of W
  return x.scale == 1.0 ? rows : scale(t, rows, x.scale);
}

Var RnnCell::per_gate(Tape& t, const Var& z, const Var& w, int gates) const {
  const i64 Nz = spec_.embed;
  std::vector<Var> parts;
  for (int y = 0; y < gates; ++y)
    parts.push_back(matmul(t, slice(t, z, 1, y * Nz, (y + 1) * Nz), slice(t, w, 0, y * Nz, (y + 1) * Nz)));
  return gates == 1 ? parts[0] : concat(t, parts, 1);
}

std::vector<Var> RnnCell::lstm_tail(Tape& t, const Var& gates, const Var& c_prev, i64 n, const Var& ln_gain, const Var& ln_bias,
                                    const Var& lnc_gain, const Var& lnc_bias, double drop, Rng* rng, bool training) const {
  // y in {i, g, f, o}: y = LN_y(pre-activation) with its own gain and bias (or the pre-activation).
  Var y[4];
  for (int k = 0; k < 4; ++k) {
    y[k] = slice(t, gates, 1, k * n, (k + 1) * n);
    if (ln_gain.valid())
      y[k] = layer_norm(t, y[k], slice(t, ln_gain, 0, k * n, (k + 1) * n), slice(t, ln_bias, 0, k * n, (k + 1) * n), spec_.ln_eps);
  }
  Var i = sigmoid(t, y[0]), f = sigmoid(t, add_scalar(t, y[2], spec_.forget_bias)), o = sigmoid(t, y[3]);
  Var g = tanh(t, y[1]);
  if (training && drop > 0) g = dropout(t, g, drop, *rng, true);  // Eq. 13
  Var c = add(t, mul(t, f, c_prev), mul(t, i, g));
  Var c_out = lnc_gain.valid() ? layer_norm(t, c, lnc_gain, lnc_bias, spec_.ln_eps) : c;
  Var h = mul(t, o, tanh(t, c_out));
  return {h, c};
}

std::vector<Var> RnnCell::step(Tape& t, const Weights& w, const CellInput& x, const std::vector<Var>& state, Rng* rng, bool training,
                               StepTrace* trace) const {
  if ((training && (spec_.recurrent_dropout > 0 || spec_.hyper_recurrent_dropout > 0)) && !rng)
    throw std::invalid_argument("RnnCell::step: recurrent dropout needs an rng");
  const i64 H = spec_.hidden, Hh = spec_.hyper;
  const LstmWeights& m = w.main;
  const HyperWeights& hw = w.hyper;

  if (spec_.kind == CellKind::LSTM) {
    // Eq. 9: all four gates in one product per input.
    Var gates = bias_add(t, add(t, project(t, m.w_x, x), matmul(t, state[0], m.w_h)), m.b);
    return lstm_tail(t, gates, state[1], H, m.ln_gain, m.ln_bias, m.lnc_gain, m.lnc_bias, spec_.recurrent_dropout, rng, training);
  }

  const Var& h_prev = state[0];
  const int G = spec_.kind == CellKind::HyperRNN ? 1 : 4;
  // Hyper cell (Eq. 6 / Eq. 10) on x̂_t = [x_t; h_{t-1}].
  Var hat_pre = add(t, add(t, project(t, hw.w_x, x), matmul(t, h_prev, hw.w_hin)),
                    matmul(t, state[spec_.kind == CellKind::HyperRNN ? 1 : 2], hw.w_h));
  if (hw.b.valid()) hat_pre = bias_add(t, hat_pre, hw.b);
  std::vector<Var> hyper_state;
  if (spec_.kind == CellKind::HyperRNN) {
    hyper_state = {tanh(t, hat_pre)};
  } else {
    hyper_state = lstm_tail(t, hat_pre, state[3], Hh, hw.ln_gain, hw.ln_bias, hw.lnc_gain, hw.lnc_bias,
                            spec_.hyper_recurrent_dropout, rng, training);
  }
  const Var& h_hat = hyper_state[0];  // ĥ_t (decision 1)

  // Eq. 11: per-gate embeddings from ĥ_t.
  Var z_x = bias_add(t, matmul(t, h_hat, hw.zx_w), hw.zx_b);
  Var z_h = bias_add(t, matmul(t, h_hat, hw.zh_w), hw.zh_b);
  Var z_b = matmul(t, h_hat, hw.zb_w);
  // Eq. 12: d_x^y = W_xz^y z_x^y, d_h^y = W_hz^y z_h^y, b^y = W_bz^y z_b^y + b_0^y.
  Var d_x = per_gate(t, z_x, hw.alpha_x, G);
  Var d_h = per_gate(t, z_h, hw.alpha_h, G);
  Var b_z = per_gate(t, z_b, hw.beta, G);
  if (trace) {
    trace->d_x = d_x.value().clone();
    trace->d_h = d_h.value().clone();
  }
  // Eq. 8 / Eq. 12: W(z) h = d(z) ⊙ (W h), so the weights are never materialised.
  Var pre = add(t, add(t, mul(t, d_x, project(t, m.w_x, x)), mul(t, d_h, matmul(t, h_prev, m.w_h))), b_z);
  pre = bias_add(t, pre, m.b);

  std::vector<Var> out;
  if (spec_.kind == CellKind::HyperRNN) {
    out = {tanh(t, pre), hyper_state[0]};  // Eq. 5 with φ = tanh
  } else {
    out = lstm_tail(t, pre, state[1], H, m.ln_gain, m.ln_bias, m.lnc_gain, m.lnc_bias, spec_.recurrent_dropout, rng, training);
    out.push_back(hyper_state[0]);
    out.push_back(hyper_state[1]);
  }
  if (trace) {
    trace->z_h = z_h.value().clone();
    trace->h_hat = h_hat.value().clone();
    if (spec_.kind == CellKind::HyperLSTM) {
      trace->c_hat = hyper_state[1].value().clone();
      trace->c = out[1].value().clone();
    }
  }
  return out;
}

}  // namespace ht
