#include "models/recurrent_stack.h"

#include <cstring>
#include <sstream>
#include <stdexcept>

#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"
#include "engine/ops/shape_ops.h"
#include "engine/params.h"
#include "models/fused_rnn.h"

namespace ht {

RecurrentStack::RecurrentStack(const Scope& scope, const RecurrentStackSpec& spec) : spec_(spec) {
  if (spec.outputs <= 0) throw std::invalid_argument("RecurrentStack: the output width must be positive");
  if ((spec.symbols > 0) == (spec.features > 0) || spec.symbols < 0 || spec.features < 0)
    throw std::invalid_argument("RecurrentStack: exactly one of symbols (one-hot input) and features (dense input) must be positive");
  if (spec.features > 0 && spec.input_dropout > 0)
    throw std::invalid_argument("RecurrentStack: input dropout drops one-hot symbols; a dense-input model has none");
  if (spec.layers < 1) throw std::invalid_argument("model.layers must be at least 1, got " + std::to_string(spec.layers));
  for (double p : {spec.input_dropout, spec.output_dropout})
    if (p < 0 || p >= 1) throw std::invalid_argument("RecurrentStack: dropout probabilities must be in [0, 1)");
  for (int l = 0; l < spec.layers; ++l) {
    CellSpec c = spec.cell;
    c.input = l == 0 ? (spec.features > 0 ? spec.features : spec.symbols) : spec.cell.hidden;
    layers_.emplace_back(scope.sub("rnn" + std::to_string(l)), c);
  }
  // Softmax layer: the authors' default (Glorot) weights, zero bias.
  w_out_ = scope.param("out_w", {spec.cell.hidden, spec.outputs}, Init::glorot_uniform());
  b_out_ = scope.param("out_b", {spec.outputs}, Init::zeros());
}

RnnState RecurrentStack::zero_state(i64 batch, DType dt) const {
  RnnState s;
  for (auto& cell : layers_) {
    std::vector<Tensor> parts;
    for (auto& shape : cell.state_shapes(batch)) parts.push_back(Tensor::zeros(shape, dt));
    s.push_back(std::move(parts));
  }
  return s;
}

Var RecurrentStack::forward(Tape& t, const ParamStore& ps, const Tensor& inputs, const RnnState& state, RnnState* next, Rng* rng,
                    bool training, std::vector<StepTrace>* trace) const {
  if (inputs.ndim() != 2 || inputs.dtype() != DType::I32)
    throw std::invalid_argument("RecurrentStack::forward: inputs must be i32 [T, B], got " + inputs.shape().str());
  if (spec_.features > 0) throw std::invalid_argument("RecurrentStack::forward: this model reads dense inputs (forward_dense)");
  return run(t, ps, &inputs, nullptr, inputs.dim(0), inputs.dim(1), state, next, rng, training, trace);
}

Var RecurrentStack::forward_dense(Tape& t, const ParamStore& ps, const Var& x, i64 steps, i64 batch, const RnnState& state,
                          RnnState* next, Rng* rng, bool training, std::vector<StepTrace>* trace) const {
  if (spec_.features <= 0) throw std::invalid_argument("RecurrentStack::forward_dense: this model reads one-hot symbols (forward)");
  if (steps <= 0 || batch <= 0 || x.shape() != Shape{steps * batch, spec_.features})
    throw std::invalid_argument("RecurrentStack::forward_dense: x must be [T*B, " + std::to_string(spec_.features) + "] = [" +
                                std::to_string(steps * batch) + ", " + std::to_string(spec_.features) + "], got " + x.shape().str());
  return run(t, ps, nullptr, &x, steps, batch, state, next, rng, training, trace);
}

Var RecurrentStack::run(Tape& t, const ParamStore& ps, const Tensor* inputs, const Var* dense, i64 T, i64 B, const RnnState& state,
                RnnState* next, Rng* rng, bool training, std::vector<StepTrace>* trace) const {
  const i64 L = i64(layers_.size());
  if (i64(state.size()) != L) throw std::invalid_argument("RecurrentStack::forward: state has " + std::to_string(state.size()) + " layers, the model " + std::to_string(L));
  if ((training && (spec_.input_dropout > 0 || spec_.output_dropout > 0)) && !rng)
    throw std::invalid_argument("RecurrentStack::forward: dropout needs an rng");

  for (i64 l = 0; l < L; ++l) {
    auto shapes = layers_[std::size_t(l)].state_shapes(B);
    if (state[std::size_t(l)].size() != shapes.size())
      throw std::invalid_argument("RecurrentStack::forward: layer " + std::to_string(l) + " state has the wrong number of tensors");
    for (std::size_t k = 0; k < shapes.size(); ++k)
      if (state[std::size_t(l)][k].shape() != shapes[k])
        throw std::invalid_argument("RecurrentStack::forward: layer " + std::to_string(l) + " state " + std::to_string(k) + " is " +
                                    state[std::size_t(l)][k].shape().str() + ", expected " + shapes[k].str());
  }

  if (spec_.fused && !trace && spec_.cell.kind != CellKind::HyperRNN)
    return forward_fused(t, ps, inputs, dense, T, B, state, next, rng, training);

  std::vector<RnnCell::Weights> bound;
  std::vector<std::vector<Var>> s(static_cast<std::size_t>(L));
  for (i64 l = 0; l < L; ++l) {
    bound.push_back(layers_[std::size_t(l)].bind(t, ps));
    for (const Tensor& x : state[std::size_t(l)]) s[std::size_t(l)].push_back(t.input(x));
  }

  const bool in_drop = training && spec_.input_dropout > 0, out_drop = training && spec_.output_dropout > 0;
  std::vector<Var> tops;
  Tensor ids = Tensor::empty({B}, DType::I32);
  for (i64 step = 0; step < T; ++step) {
    CellInput x;
    if (dense) {
      x.dense = T == 1 ? *dense : slice(t, *dense, 0, step * B, (step + 1) * B);
    } else {
      std::memcpy(ids.data<std::int32_t>(), inputs->data<std::int32_t>() + step * B, std::size_t(B) * sizeof(std::int32_t));
      x.ids = ids;
    }
    if (in_drop) {  // dropout on the one-hot input: a dropped symbol reads as all zeros
      const std::uint64_t key = rng->next_u64();
      for (i64 b = 0; b < B; ++b)
        if (hash_uniform(key, std::uint64_t(b)) < spec_.input_dropout) ids.data<std::int32_t>()[b] = -1;
      x.scale = 1.0 / (1.0 - spec_.input_dropout);
    }
    for (i64 l = 0; l < L; ++l) {
      const RnnCell& cell = layers_[std::size_t(l)];
      StepTrace tr;
      s[std::size_t(l)] = cell.step(t, bound[std::size_t(l)], x, s[std::size_t(l)], rng, training, trace && l == 0 ? &tr : nullptr);
      if (trace && l == 0) trace->push_back(std::move(tr));
      Var h = s[std::size_t(l)][0];
      if (out_drop) h = dropout(t, h, spec_.output_dropout, *rng, true);
      if (l + 1 < L) {
        x = CellInput();
        x.dense = h;
      } else {
        tops.push_back(h);
      }
    }
  }
  if (next) {
    next->assign(std::size_t(L), {});
    for (i64 l = 0; l < L; ++l)
      for (auto& v : s[std::size_t(l)]) (*next)[std::size_t(l)].push_back(v.value().clone());
  }
  Var hs = tops.size() == 1 ? tops[0] : concat(t, tops, 0);  // [T*B, H]
  return linear(t, hs, ps.var(t, w_out_), ps.var(t, b_out_));
}

Var RecurrentStack::forward_fused(Tape& t, const ParamStore& ps, const Tensor* inputs, const Var* dense, i64 T, i64 B, const RnnState& state,
                          RnnState* next, Rng* rng, bool training) const {
  const i64 L = i64(layers_.size());
  const bool in_drop = training && spec_.input_dropout > 0, out_drop = training && spec_.output_dropout > 0;
  const bool hyper = spec_.cell.kind == CellKind::HyperLSTM;
  const bool main_drop = training && spec_.cell.recurrent_dropout > 0, hyper_drop = training && hyper && spec_.cell.hyper_recurrent_dropout > 0;
  // Draw every key in the order the reference path draws them, step by step: the input's, then
  // for each layer the hyper cell's, the main cell's and the output dropout's.
  Tensor ids;
  if (inputs) {
    ids = t.alloc({T, B}, DType::I32);
    ids.copy_from(*inputs);
  }
  std::vector<std::vector<std::uint64_t>> mkeys(static_cast<std::size_t>(L)), hkeys(static_cast<std::size_t>(L)), okeys(static_cast<std::size_t>(L));
  for (i64 s = 0; s < T; ++s) {
    if (in_drop) {
      const std::uint64_t key = rng->next_u64();
      for (i64 b = 0; b < B; ++b)
        if (hash_uniform(key, std::uint64_t(b)) < spec_.input_dropout) ids.data<std::int32_t>()[s * B + b] = -1;
    }
    for (i64 l = 0; l < L; ++l) {
      if (hyper_drop) hkeys[std::size_t(l)].push_back(rng->next_u64());
      if (main_drop) mkeys[std::size_t(l)].push_back(rng->next_u64());
      if (out_drop) okeys[std::size_t(l)].push_back(rng->next_u64());
    }
  }
  if (next) next->assign(std::size_t(L), {});
  Var x;
  for (i64 l = 0; l < L; ++l) {
    const RnnCell& cell = layers_[std::size_t(l)];
    RnnCell::Weights w = cell.bind(t, ps);
    std::vector<Var> s0;
    for (auto& v : state[std::size_t(l)]) s0.push_back(t.input(v));
    FusedInput in;
    in.steps = T;
    in.batch = B;
    if (l == 0 && dense) {
      in.dense = *dense;
    } else if (l == 0) {
      in.ids = ids;
      in.scale = in_drop ? 1.0 / (1.0 - spec_.input_dropout) : 1.0;
    } else {
      in.dense = x;
    }
    x = fused_rnn_layer(t, cell, w, in, s0, mkeys[std::size_t(l)], hkeys[std::size_t(l)], training, next ? &(*next)[std::size_t(l)] : nullptr);
    if (out_drop) {
      Tensor mask = t.alloc({T * B, spec_.cell.hidden}, x.dtype());
      for (i64 s = 0; s < T; ++s) {
        Tensor part = mask.rows(s * B, (s + 1) * B);
        dropout_mask(part, spec_.output_dropout, okeys[std::size_t(l)][std::size_t(s)]);
      }
      x = mul(t, x, t.input(mask));
    }
  }
  return linear(t, x, ps.var(t, w_out_), ps.var(t, b_out_));
}

std::string RecurrentStack::describe() const {
  const CellSpec& c = spec_.cell;
  std::ostringstream s;
  if (spec_.layers > 1) s << spec_.layers << "-layer ";
  if (c.layer_norm) s << "LN ";
  s << (c.kind == CellKind::LSTM ? "LSTM" : c.kind == CellKind::HyperLSTM ? "HyperLSTM" : "HyperRNN") << " " << c.hidden;
  if (c.kind != CellKind::LSTM) s << " (hyper " << c.hyper << ", embedding " << c.embed << ")";
  if (spec_.features > 0) s << ", " << spec_.features << " inputs, " << spec_.outputs << " outputs";
  else s << ", vocabulary " << spec_.symbols;
  return s.str();
}

}  // namespace ht
