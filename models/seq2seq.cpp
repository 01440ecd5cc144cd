#include "models/seq2seq.h"

#include <sstream>
#include <stdexcept>

#include "engine/ops/attention.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gather.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/ops/shape_ops.h"
#include "engine/params.h"
#include "models/fused_rnn.h"

namespace ht {

Seq2Seq::Seq2Seq(const Scope& scope, const Seq2SeqSpec& spec) : spec_(spec) {
  const i64 H = spec.cell.hidden, D = spec.embed, A = spec.attention_width(), E = spec.encoder_width();
  if (spec.source_vocab <= 3 || spec.target_vocab <= 3) throw std::invalid_argument("Seq2Seq: both vocabularies need more than 3 symbols");
  if (D <= 0 || H <= 0) throw std::invalid_argument("Seq2Seq: model.embed and model.hidden must be positive");
  if (spec.encoder_layers < 1) throw std::invalid_argument("model.encoder_layers must be at least 1 (the bidirectional layer)");
  if (spec.decoder_layers < 2)
    throw std::invalid_argument("model.decoder_layers must be at least 2: the attention context goes to the layers above the bottom one");
  if (spec.residual_from < 2)
    throw std::invalid_argument("model.residual_from must be at least 2 (encoder layer 1 reads the 2H-wide bidirectional layer)");
  if (spec.dropout < 0 || spec.dropout >= 1) throw std::invalid_argument("model.dropout must be in [0, 1)");
  // Embeddings start at N(0, 1), as PyTorch's nn.Embedding does. With GNMT's uniform(-0.1, 0.1)
  // the cells' orthogonal input weights passed the first layer a signal of about 0.05 per unit and
  // the model learned ten times slower: on one fixed batch of 32 Multi30k pairs (LSTM 128,
  // embeddings 64, Adam 0.003) 3.85 nats after 200 steps against 0.23 now, and a plain PyTorch
  // LSTM language model of the same sizes behaved the same way under the same two inits.
  scope.param("src_embed", {spec.source_vocab, D}, Init::normal(1.0));
  scope.param("tgt_embed", {spec.target_vocab, D}, Init::normal(1.0));
  auto cell = [&](const Scope& s, i64 input) {
    CellSpec c = spec.cell;
    c.input = input;
    return RnnCell(s, c);
  };
  Scope es = scope.sub("enc"), ds = scope.sub("dec");
  enc_.push_back(cell(es.sub("l0_fwd"), D));
  enc_.push_back(cell(es.sub("l0_bwd"), D));
  for (int l = 1; l < spec.encoder_layers; ++l) enc_.push_back(cell(es.sub("l" + std::to_string(l)), l == 1 ? 2 * H : H));
  dec_.push_back(cell(ds.sub("l0"), D));
  for (int l = 1; l < spec.decoder_layers; ++l) dec_.push_back(cell(ds.sub("l" + std::to_string(l)), H + E));
  Scope as = scope.sub("attn");
  w_key_ = as.param("w_key", {E, A}, Init::glorot_uniform());
  w_query_ = as.param("w_query", {H, A}, Init::glorot_uniform());
  b_att_ = as.param("b", {A}, Init::zeros());
  v_att_ = as.param("v", {A}, Init::uniform(-0.1, 0.1));
  w_out_ = scope.param("out_w", {H, spec.target_vocab}, Init::glorot_uniform());
  b_out_ = scope.param("out_b", {spec.target_vocab}, Init::zeros());
  src_emb_ = scope.store().index(scope.prefix() + "src_embed");
  tgt_emb_ = scope.store().index(scope.prefix() + "tgt_embed");
}

Var Seq2Seq::drop(Tape& t, const Var& x, Rng* rng, bool training) const {
  if (!training || spec_.dropout == 0) return x;
  if (!rng) throw std::invalid_argument("Seq2Seq: dropout needs an rng when training");
  return dropout(t, x, spec_.dropout, *rng, true);
}

Var Seq2Seq::run_layer(Tape& t, const ParamStore& ps, const RnnCell& cell, const Var& x, i64 T, i64 B, const std::vector<Tensor>& state0,
                       Rng* rng, bool training, std::vector<Tensor>* last) const {
  const CellSpec& c = cell.spec();
  const RnnCell::Weights w = cell.bind(t, ps);
  std::vector<Var> s;
  for (const Tensor& v : state0) s.push_back(t.input(v));
  const bool hyper = c.kind == CellKind::HyperLSTM;
  const bool main_drop = training && c.recurrent_dropout > 0, hyper_drop = training && hyper && c.hyper_recurrent_dropout > 0;
  if ((main_drop || hyper_drop || (training && c.kind == CellKind::HyperRNN && c.recurrent_dropout > 0)) && !rng)
    throw std::invalid_argument("Seq2Seq: recurrent dropout needs an rng when training");
  if (spec_.fused && c.kind != CellKind::HyperRNN) {
    // The keys in the order the reference cell draws them, step by step: the hyper cell's, the main cell's.
    std::vector<std::uint64_t> mkeys, hkeys;
    for (i64 k = 0; k < T; ++k) {
      if (hyper_drop) hkeys.push_back(rng->next_u64());
      if (main_drop) mkeys.push_back(rng->next_u64());
    }
    FusedInput in;
    in.dense = x;
    in.steps = T;
    in.batch = B;
    return fused_rnn_layer(t, cell, w, in, s, mkeys, hkeys, training, last);
  }
  std::vector<Var> hs;
  for (i64 k = 0; k < T; ++k) {
    CellInput ci;
    ci.dense = T == 1 ? x : slice(t, x, 0, k * B, (k + 1) * B);
    s = cell.step(t, w, ci, s, rng, training);
    hs.push_back(s[0]);
  }
  if (last) {
    last->clear();
    for (auto& v : s) last->push_back(v.value().clone());
  }
  return hs.size() == 1 ? hs[0] : concat(t, hs, 0);
}

static std::vector<Tensor> zeros_for(const RnnCell& cell, i64 B, DType dt) {
  std::vector<Tensor> out;
  for (auto& shape : cell.state_shapes(B)) out.push_back(Tensor::zeros(shape, dt));
  return out;
}

EncoderOutput Seq2Seq::encode(Tape& t, const ParamStore& ps, const Tensor& source, const Tensor& lengths, Rng* rng, bool training) const {
  if (source.ndim() != 2 || source.dtype() != DType::I32)
    throw std::invalid_argument("Seq2Seq::encode: source must be i32 [S, B], got " + source.shape().str());
  const i64 S = source.dim(0), B = source.dim(1), D = spec_.embed, E = spec_.encoder_width(), A = spec_.attention_width();
  if (lengths.dtype() != DType::I32 || lengths.numel() != B)
    throw std::invalid_argument("Seq2Seq::encode: lengths must be i32 [" + std::to_string(B) + "], got " + lengths.shape().str());
  const std::int32_t* len = lengths.data<std::int32_t>();
  const std::int32_t* src = source.data<std::int32_t>();
  // The backward direction reads each sentence reversed within its own length (padding stays
  // after it); `back` puts its outputs back in source order.
  Tensor rev = Tensor::empty({S, B}, DType::I32), back = Tensor::empty({S * B}, DType::I32);
  for (i64 b = 0; b < B; ++b) {
    if (len[b] < 1 || len[b] > S)
      throw std::invalid_argument("Seq2Seq::encode: source length " + std::to_string(len[b]) + " of column " + std::to_string(b) +
                                  " outside [1, " + std::to_string(S) + "]");
    for (i64 s = 0; s < S; ++s) {
      const i64 from = s < len[b] ? len[b] - 1 - s : s;
      rev.data<std::int32_t>()[s * B + b] = src[from * B + b];
      back.data<std::int32_t>()[s * B + b] = std::int32_t(from * B + b);
    }
  }
  const DType dt = ps.dtype();
  Var table = ps.var(t, src_emb_);
  Var fwd_in = drop(t, reshape(t, embedding(t, table, source), {S * B, D}), rng, training);
  Var bwd_in = drop(t, reshape(t, embedding(t, table, rev), {S * B, D}), rng, training);
  Var hf = run_layer(t, ps, enc_[0], fwd_in, S, B, zeros_for(enc_[0], B, dt), rng, training, nullptr);
  Var hr = run_layer(t, ps, enc_[1], bwd_in, S, B, zeros_for(enc_[1], B, dt), rng, training, nullptr);
  Var x = concat(t, {hf, embedding(t, hr, back)}, 1);  // [S*B, 2H]
  for (int l = 1; l < spec_.encoder_layers; ++l) {
    const RnnCell& cell = enc_[std::size_t(l + 1)];
    Var h = run_layer(t, ps, cell, drop(t, x, rng, training), S, B, zeros_for(cell, B, dt), rng, training, nullptr);
    x = l >= spec_.residual_from ? add(t, h, x) : h;
  }
  EncoderOutput out;
  out.states = gather_flat(t, x, permutation_index({S, B, E}, {1, 0, 2}), {B, S, E});  // batch-major
  out.keys = reshape(t, matmul(t, reshape(t, out.states, {B * S, E}), ps.var(t, w_key_)), {B, S, A});
  out.lengths = lengths.view({B});
  return out;
}

Var Seq2Seq::attend(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Var& y_prev, i64 T, i64 B, Tensor* weights) const {
  const i64 A = spec_.attention_width(), E = spec_.encoder_width();
  if (enc.states.shape()[0] != B)
    throw std::invalid_argument("Seq2Seq: the encoder output has " + std::to_string(enc.states.shape()[0]) + " rows, the decoder " +
                                std::to_string(B));
  Var q = linear(t, y_prev, ps.var(t, w_query_), ps.var(t, b_att_));  // [T*B, A]
  Var qb = T == 1 ? reshape(t, q, {B, 1, A}) : gather_flat(t, q, permutation_index({T, B, A}, {1, 0, 2}), {B, T, A});
  Var p = masked_softmax(t, additive_scores(t, enc.keys, qb, ps.var(t, v_att_)), enc.lengths);  // [B, T, S]
  if (weights) *weights = p.value().clone();
  Var ctx = matmul(t, p, enc.states);  // [B, T, E]
  if (T == 1) return reshape(t, ctx, {B, E});
  return reshape(t, gather_flat(t, ctx, permutation_index({B, T, E}, {1, 0, 2}), {T, B, E}), {T * B, E});
}

Var Seq2Seq::decode(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Tensor& inputs, Rng* rng, bool training) const {
  if (inputs.ndim() != 2 || inputs.dtype() != DType::I32)
    throw std::invalid_argument("Seq2Seq::decode: inputs must be i32 [T, B], got " + inputs.shape().str());
  const i64 T = inputs.dim(0), B = inputs.dim(1), D = spec_.embed, H = spec_.cell.hidden;
  const DType dt = ps.dtype();
  Var e = drop(t, reshape(t, embedding(t, ps.var(t, tgt_emb_), inputs), {T * B, D}), rng, training);
  Var y0 = run_layer(t, ps, dec_[0], e, T, B, zeros_for(dec_[0], B, dt), rng, training, nullptr);
  // y_{i-1}: the bottom layer's output one step earlier, its zero initial state before the first.
  Var zero = t.input(t.alloc_zeros({B, H}, dt));
  Var y_prev = T == 1 ? zero : concat(t, {zero, slice(t, y0, 0, 0, (T - 1) * B)}, 0);
  Var ctx = attend(t, ps, enc, y_prev, T, B, nullptr);
  Var x = y0;
  for (int l = 1; l < spec_.decoder_layers; ++l) {
    const RnnCell& cell = dec_[std::size_t(l)];
    Var h = run_layer(t, ps, cell, concat(t, {drop(t, x, rng, training), ctx}, 1), T, B, zeros_for(cell, B, dt), rng, training, nullptr);
    x = l >= spec_.residual_from ? add(t, h, x) : h;
  }
  return x;
}

Var Seq2Seq::logits(Tape& t, const ParamStore& ps, const Var& top, const Tensor& rows, Rng* rng, bool training) const {
  return linear(t, drop(t, embedding(t, top, rows), rng, training), ps.var(t, w_out_), ps.var(t, b_out_));
}

Var Seq2Seq::loss(Tape& t, const ParamStore& ps, const Tensor& source, const Tensor& source_lengths, const Tensor& targets,
                  const Tensor& target_lengths, Rng* rng, bool training) const {
  if (targets.ndim() != 2 || targets.dtype() != DType::I32 || target_lengths.numel() != targets.dim(1))
    throw std::invalid_argument("Seq2Seq::loss: targets must be i32 [T, B] with B target lengths");
  const i64 T = targets.dim(0), B = targets.dim(1);
  EncoderOutput enc = encode(t, ps, source, source_lengths, rng, training);
  const std::int32_t *y = targets.data<std::int32_t>(), *len = target_lengths.data<std::int32_t>();
  Tensor inputs = t.alloc({T, B}, DType::I32);
  std::int32_t* in = inputs.data<std::int32_t>();
  i64 n = 0;
  for (i64 b = 0; b < B; ++b) {
    if (len[b] < 1 || len[b] > T)
      throw std::invalid_argument("Seq2Seq::loss: target length " + std::to_string(len[b]) + " outside [1, " + std::to_string(T) + "]");
    n += len[b];
    in[b] = spec_.bos;
    for (i64 i = 1; i < T; ++i) in[i * B + b] = y[(i - 1) * B + b];
  }
  Tensor rows = t.alloc({n}, DType::I32), tg = t.alloc({n}, DType::I32);
  i64 k = 0;
  for (i64 i = 0; i < T; ++i)
    for (i64 b = 0; b < B; ++b)
      if (i < len[b]) {
        rows.data<std::int32_t>()[k] = std::int32_t(i * B + b);
        tg.data<std::int32_t>()[k++] = y[i * B + b];
      }
  Var top = decode(t, ps, enc, inputs, rng, training);
  return softmax_cross_entropy(t, logits(t, ps, top, rows, rng, training), tg);
}

DecoderState Seq2Seq::zero_state(i64 rows, DType dt) const {
  DecoderState s;
  for (auto& cell : dec_) s.push_back(zeros_for(cell, rows, dt));
  return s;
}

Var Seq2Seq::step(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Tensor& previous, DecoderState& state,
                  Tensor* attention) const {
  const i64 R = previous.numel();
  if (previous.dtype() != DType::I32) throw std::invalid_argument("Seq2Seq::step: previous words must be i32");
  if (state.size() != dec_.size()) throw std::invalid_argument("Seq2Seq::step: the state has the wrong number of layers");
  Tensor ctx_weights;
  Var ctx = attend(t, ps, enc, t.input(state[0][0]), 1, R, attention ? &ctx_weights : nullptr);
  if (attention) *attention = ctx_weights.view({R, ctx_weights.numel() / R});
  std::vector<Tensor> last;
  Var x = run_layer(t, ps, dec_[0], embedding(t, ps.var(t, tgt_emb_), previous.view({R})), 1, R, state[0], nullptr, false, &last);
  state[0] = last;
  for (int l = 1; l < spec_.decoder_layers; ++l) {
    Var h = run_layer(t, ps, dec_[std::size_t(l)], concat(t, {x, ctx}, 1), 1, R, state[std::size_t(l)], nullptr, false, &last);
    state[std::size_t(l)] = last;
    x = l >= spec_.residual_from ? add(t, h, x) : h;
  }
  return log_softmax(t, linear(t, x, ps.var(t, w_out_), ps.var(t, b_out_)));
}

std::string Seq2Seq::describe() const {
  const CellSpec& c = spec_.cell;
  std::ostringstream s;
  s << "encoder-decoder, " << spec_.encoder_layers << "+" << spec_.decoder_layers << " layers of " << (c.layer_norm ? "LN " : "")
    << (c.kind == CellKind::LSTM ? "LSTM" : c.kind == CellKind::HyperLSTM ? "HyperLSTM" : "HyperRNN") << " " << c.hidden;
  if (c.kind != CellKind::LSTM) s << " (hyper " << c.hyper << ", embedding " << c.embed << ")";
  s << ", word embeddings " << spec_.embed << ", additive attention " << spec_.attention_width() << ", vocabularies "
    << spec_.source_vocab << "/" << spec_.target_vocab;
  return s.str();
}

}  // namespace ht
