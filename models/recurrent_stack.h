// A stack of recurrent cells with a linear output layer: the body of every recurrent model here.
// It reads one-hot symbols (forward: the character language model of §4.3-4.4, a softmax over
// `outputs` = the vocabulary) or dense features (forward_dense: the handwriting model of §4.5, pen
// offsets in and mixture density parameters out), with input dropout on symbols, dropout between
// layers and on the top layer's output, and the recurrent state carried in and out.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "models/rnn_cells.h"

namespace ht {

struct RecurrentStackSpec {
  CellSpec cell;          // every layer's cell (cell.input is set per layer from the fields below)
  int layers = 1;         // layer l > 0 reads layer l-1's h (cell.input = hidden)
  i64 symbols = 0;        // one-hot inputs over this many symbols (forward), or
  i64 features = 0;       // dense inputs of this width per step (forward_dense); exactly one is > 0
  i64 outputs = 0;        // width of the output layer (softmax classes, or mixture parameters)
  double input_dropout = 0;   // drop probability of a one-hot input (the whole symbol)
  double output_dropout = 0;  // on the top layer's h before the softmax, and between layers
  // One fused tape node per layer per segment (models/fused_rnn.h) instead of the reference
  // cells' per-step ops; the same numbers, drawn from the same random keys. The HyperRNN and
  // traced runs (plot scaling) always use the reference cells.
  bool fused = true;
};

// The carried state: for each layer, the cell's state tensors (RnnCell::state_shapes order).
using RnnState = std::vector<std::vector<Tensor>>;

class RecurrentStack {
 public:
  RecurrentStack(const Scope& scope, const RecurrentStackSpec& spec);
  const RecurrentStackSpec& spec() const { return spec_; }
  void set_fused(bool fused) { spec_.fused = fused; }  // both paths share the parameters
  const RnnCell& layer(int l) const { return layers_[std::size_t(l)]; }

  RnnState zero_state(i64 batch, DType dt) const;

  // Reads inputs [T, B] (i32 symbol ids) from `state`, returns logits [T*B, V] (row s*B + b is
  // stream b after step s) and, when `next` is given, the state after the last step (owned copies,
  // so they outlive the tape). rng drives every dropout when training. `trace`, when given,
  // receives the first layer's scaling vectors of each step (hyper cells).
  Var forward(Tape& t, const ParamStore& ps, const Tensor& inputs, const RnnState& state, RnnState* next, Rng* rng,
              bool training, std::vector<StepTrace>* trace = nullptr) const;
  // The same for dense inputs x [T*B, spec.input] (row s*B + b: stream b at step s); needs
  // spec.input > 0. x may carry a gradient.
  Var forward_dense(Tape& t, const ParamStore& ps, const Var& x, i64 steps, i64 batch, const RnnState& state, RnnState* next,
                    Rng* rng, bool training, std::vector<StepTrace>* trace = nullptr) const;

  // Parameters the paper counts: all of them (Tables 3 and 4 count the whole model).
  std::string describe() const;

 private:
  // ids (one-hot) or dense is given.
  Var run(Tape& t, const ParamStore& ps, const Tensor* ids, const Var* dense, i64 T, i64 B, const RnnState& state, RnnState* next,
          Rng* rng, bool training, std::vector<StepTrace>* trace) const;
  Var forward_fused(Tape& t, const ParamStore& ps, const Tensor* inputs, const Var* dense, i64 T, i64 B, const RnnState& state,
                    RnnState* next, Rng* rng, bool training) const;
  RecurrentStackSpec spec_;
  std::vector<RnnCell> layers_;
  int w_out_ = -1, b_out_ = -1;
};

}  // namespace ht
