// A recurrent cell run by the engine's fused sequence op (engine/ops/fused_lstm.h): one tape node
// per layer per segment instead of the reference cell's per-step ops, for the LSTM, LN-LSTM,
// HyperLSTM and LN-HyperLSTM (the HyperRNN has no fused op). tests/test_fused_rnn.cpp holds the
// two paths to the same numbers.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/ops/fused_lstm.h"
#include "models/rnn_cells.h"

namespace ht {

// Runs `cell` over the segment from `state0` (RnnCell::state_shapes order) with the weights
// cell.bind() gave. Returns every step's h as [T*B, H] (row t*B + b); `final_state` receives owned
// copies of the state after the last step. When training, recurrent dropout at step t uses the
// keys main_keys[t] (main cell's candidate) and hyper_keys[t] (the hyper cell's), the masks the
// reference cell draws with them (fused_lstm).
Var fused_rnn_layer(Tape& t, const RnnCell& cell, const RnnCell::Weights& w, const FusedInput& in, const std::vector<Var>& state0,
                    const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys, bool training,
                    std::vector<Tensor>* final_state);

}  // namespace ht
