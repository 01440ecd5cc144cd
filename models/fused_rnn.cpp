#include "models/fused_rnn.h"

#include <stdexcept>

namespace ht {

Var fused_rnn_layer(Tape& t, const RnnCell& cell, const RnnCell::Weights& w, const FusedInput& in, const std::vector<Var>& state0,
                    const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys, bool training,
                    std::vector<Tensor>* final_state) {
  const CellSpec& sp = cell.spec();
  if (sp.kind == CellKind::HyperRNN) throw std::invalid_argument("fused_rnn_layer: the HyperRNN has no fused op (use the reference cell)");
  const bool hyper = sp.kind == CellKind::HyperLSTM;
  FusedLstmConfig cfg;
  cfg.hidden = sp.hidden;
  cfg.hyper = hyper ? sp.hyper : 0;
  cfg.embed = hyper ? sp.embed : 0;
  cfg.layer_norm = sp.layer_norm;
  cfg.ln_eps = sp.ln_eps;
  cfg.forget_bias = sp.forget_bias;
  cfg.dropout = training ? sp.recurrent_dropout : 0;
  cfg.hyper_dropout = training && hyper ? sp.hyper_recurrent_dropout : 0;
  return fused_lstm(t, cfg, w.main, w.hyper, in, state0, main_keys, hyper_keys, final_state);
}

}  // namespace ht
