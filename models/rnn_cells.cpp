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

RnnCell::RnnCell(const Scope& scope, const CellSpec& spec) : spec_(spec) {
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
  ids_.w_x = scope.param("w_x", {X, G * H}, Init::block_orthogonal(G));
  ids_.w_h = scope.param("w_h", {H, G * H}, Init::block_orthogonal(G));
  ids_.b = scope.param("b", {G * H}, Init::zeros());
  if (spec.layer_norm) {
    ids_.ln_gain = scope.param("ln_gain", {G * H}, Init::constant(1));
    ids_.ln_bias = scope.param("ln_bias", {G * H}, Init::zeros());
    ids_.lnc_gain = scope.param("lnc_gain", {H}, Init::constant(1));
    ids_.lnc_bias = scope.param("lnc_bias", {H}, Init::zeros());
  }
  if (hyper) {
    // Hyper cell on [x_t; h_{t-1}]: an (LN-)LSTM for the HyperLSTM, a tanh RNN for the HyperRNN;
    // orthogonal weights, zero biases; with layer norm it has no bias (LN's own bias replaces it).
    Scope hs = scope.sub("hyper");
    ids_.hw_x = hs.param("w_x", {X, G * Hh}, Init::block_orthogonal(G));
    ids_.hw_hin = hs.param("w_hin", {H, G * Hh}, Init::block_orthogonal(G));
    ids_.hw_h = hs.param("w_h", {Hh, G * Hh}, Init::block_orthogonal(G));
    if (!spec.layer_norm) ids_.hb = hs.param("b", {G * Hh}, Init::zeros());
    if (spec.layer_norm) {
      ids_.hln_gain = hs.param("ln_gain", {G * Hh}, Init::constant(1));
      ids_.hln_bias = hs.param("ln_bias", {G * Hh}, Init::zeros());
      ids_.hlnc_gain = hs.param("lnc_gain", {Hh}, Init::constant(1));
      ids_.hlnc_bias = hs.param("lnc_bias", {Hh}, Init::zeros());
    }
    // Eq. 11, one N_z block per gate: z_x, z_h with weights 0 and biases 1; z_b normal(0.01), no bias.
    ids_.zx_w = scope.param("zx_w", {Hh, G * Nz}, Init::zeros());
    ids_.zx_b = scope.param("zx_b", {G * Nz}, Init::constant(1));
    ids_.zh_w = scope.param("zh_w", {Hh, G * Nz}, Init::zeros());
    ids_.zh_b = scope.param("zh_b", {G * Nz}, Init::constant(1));
    ids_.zb_w = scope.param("zb_w", {Hh, G * Nz}, Init::normal(0.01));
    // Eq. 12: d_x = W_xz z_x, d_h = W_hz z_h, rows [y*N_z, (y+1)*N_z) for gate y, constant 0.1/N_z,
    // so every scaling vector starts at exactly N_z * 1 * 0.1/N_z = 0.1; W_bz = 0.
    ids_.alpha_x = scope.param("alpha_x", {G * Nz, H}, Init::constant(0.1 / double(Nz)));
    ids_.alpha_h = scope.param("alpha_h", {G * Nz, H}, Init::constant(0.1 / double(Nz)));
    ids_.beta = scope.param("beta", {G * Nz, H}, Init::zeros());
  }
  for (int id : ids_.all())
    if (id >= 0) order_.push_back(id);
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

RnnCell::Bound RnnCell::bind(Tape& t, const ParamStore& ps) const {
  Bound b;
  b.v.resize(std::size_t(ps.size()));
  for (int id : order_) b.v[std::size_t(id)] = ps.var(t, id);
  return b;
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

std::vector<Var> RnnCell::lstm_tail(Tape& t, const Var& gates, const Var& c_prev, i64 n, const Var* ln_gain, const Var* ln_bias,
                                    const Var* lnc_gain, const Var* lnc_bias, double drop, Rng* rng, bool training) const {
  // y in {i, g, f, o}: y = LN_y(pre-activation) with its own gain and bias (or the pre-activation).
  Var y[4];
  for (int k = 0; k < 4; ++k) {
    y[k] = slice(t, gates, 1, k * n, (k + 1) * n);
    if (ln_gain)
      y[k] = layer_norm(t, y[k], slice(t, *ln_gain, 0, k * n, (k + 1) * n), slice(t, *ln_bias, 0, k * n, (k + 1) * n), spec_.ln_eps);
  }
  Var i = sigmoid(t, y[0]), f = sigmoid(t, add_scalar(t, y[2], spec_.forget_bias)), o = sigmoid(t, y[3]);
  Var g = tanh(t, y[1]);
  if (training && drop > 0) g = dropout(t, g, drop, *rng, true);  // Eq. 13
  Var c = add(t, mul(t, f, c_prev), mul(t, i, g));
  Var c_out = lnc_gain ? layer_norm(t, c, *lnc_gain, *lnc_bias, spec_.ln_eps) : c;
  Var h = mul(t, o, tanh(t, c_out));
  return {h, c};
}

std::vector<Var> RnnCell::step(Tape& t, const Bound& w, const CellInput& x, const std::vector<Var>& state, Rng* rng, bool training,
                               StepTrace* trace) const {
  auto P = [&](int id) -> const Var& { return w.v[std::size_t(id)]; };
  const bool ln = spec_.layer_norm;
  if ((training && (spec_.recurrent_dropout > 0 || spec_.hyper_recurrent_dropout > 0)) && !rng)
    throw std::invalid_argument("RnnCell::step: recurrent dropout needs an rng");
  const i64 H = spec_.hidden, Hh = spec_.hyper;

  if (spec_.kind == CellKind::LSTM) {
    // Eq. 9: all four gates in one product per input.
    Var gates = bias_add(t, add(t, project(t, P(ids_.w_x), x), matmul(t, state[0], P(ids_.w_h))), P(ids_.b));
    return ln ? lstm_tail(t, gates, state[1], H, &P(ids_.ln_gain), &P(ids_.ln_bias), &P(ids_.lnc_gain), &P(ids_.lnc_bias),
                          spec_.recurrent_dropout, rng, training)
              : lstm_tail(t, gates, state[1], H, nullptr, nullptr, nullptr, nullptr, spec_.recurrent_dropout, rng, training);
  }

  const Var& h_prev = state[0];
  const int G = spec_.kind == CellKind::HyperRNN ? 1 : 4;
  // Hyper cell (Eq. 6 / Eq. 10) on x̂_t = [x_t; h_{t-1}].
  Var hat_pre = add(t, add(t, project(t, P(ids_.hw_x), x), matmul(t, h_prev, P(ids_.hw_hin))),
                    matmul(t, state[spec_.kind == CellKind::HyperRNN ? 1 : 2], P(ids_.hw_h)));
  if (!ln) hat_pre = bias_add(t, hat_pre, P(ids_.hb));
  std::vector<Var> hyper_state;
  if (spec_.kind == CellKind::HyperRNN) {
    hyper_state = {tanh(t, hat_pre)};
  } else {
    hyper_state = ln ? lstm_tail(t, hat_pre, state[3], Hh, &P(ids_.hln_gain), &P(ids_.hln_bias), &P(ids_.hlnc_gain),
                                 &P(ids_.hlnc_bias), spec_.hyper_recurrent_dropout, rng, training)
                     : lstm_tail(t, hat_pre, state[3], Hh, nullptr, nullptr, nullptr, nullptr, spec_.hyper_recurrent_dropout, rng,
                                 training);
  }
  const Var& h_hat = hyper_state[0];  // ĥ_t (decision 1)

  // Eq. 11: per-gate embeddings from ĥ_t.
  Var z_x = bias_add(t, matmul(t, h_hat, P(ids_.zx_w)), P(ids_.zx_b));
  Var z_h = bias_add(t, matmul(t, h_hat, P(ids_.zh_w)), P(ids_.zh_b));
  Var z_b = matmul(t, h_hat, P(ids_.zb_w));
  // Eq. 12: d_x^y = W_xz^y z_x^y, d_h^y = W_hz^y z_h^y, b^y = W_bz^y z_b^y + b_0^y.
  Var d_x = per_gate(t, z_x, P(ids_.alpha_x), G);
  Var d_h = per_gate(t, z_h, P(ids_.alpha_h), G);
  Var b_z = per_gate(t, z_b, P(ids_.beta), G);
  if (trace) {
    trace->d_x = d_x.value().clone();
    trace->d_h = d_h.value().clone();
  }
  // Eq. 8 / Eq. 12: W(z) h = d(z) ⊙ (W h), so the weights are never materialised.
  Var pre = add(t, add(t, mul(t, d_x, project(t, P(ids_.w_x), x)), mul(t, d_h, matmul(t, h_prev, P(ids_.w_h)))), b_z);
  pre = bias_add(t, pre, P(ids_.b));

  std::vector<Var> out;
  if (spec_.kind == CellKind::HyperRNN) {
    out = {tanh(t, pre), hyper_state[0]};  // Eq. 5 with φ = tanh
  } else {
    out = ln ? lstm_tail(t, pre, state[1], H, &P(ids_.ln_gain), &P(ids_.ln_bias), &P(ids_.lnc_gain), &P(ids_.lnc_bias),
                         spec_.recurrent_dropout, rng, training)
             : lstm_tail(t, pre, state[1], H, nullptr, nullptr, nullptr, nullptr, spec_.recurrent_dropout, rng, training);
    out.push_back(hyper_state[0]);
    out.push_back(hyper_state[1]);
  }
  return out;
}

}  // namespace ht
