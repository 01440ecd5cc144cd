// An attention encoder-decoder in the spirit of GNMT (Wu et al. 2016, §3), sized by its spec, with
// any of the recurrent cells of rnn_cells.h in every layer (the paper's §4.6 swaps GNMT's LSTMs for
// LN-HyperLSTMs of the same width):
//
//   encoder  layer 0: a bidirectional layer, a forward and a backward cell of `hidden` units each
//            over the source embeddings, outputs concatenated [2H]; layers 1..: unidirectional,
//            each reading the layer below.
//   decoder  layer 0 reads the target embeddings (the previous target word); layers 1.. read
//            [the layer below; the attention context].
//   residual from the third layer up (0-based layer >= residual_from, GNMT's 2) in both stacks:
//            a layer's output is its cell's h plus its input from below.
//   attention additive, as GNMT's paper states ("a feed forward network with one hidden layer"):
//            the context a_i for target step i is computed from the bottom decoder layer's output
//            at the previous step, y_{i-1} (zero before the first), over the top encoder layer's
//            states, and goes to every decoder layer above the bottom one (GNMT Fig. 1):
//              score_ij = v · tanh(W_k x_j + W_q y_{i-1} + b),  p_i = softmax over j < |source|
//   output   a softmax layer on the top decoder layer's output.
//
// Since the bottom decoder layer does not read the context, every layer of both stacks runs over
// a whole sentence in one call, through the fused sequence op (fused_rnn.h) by default, and the
// attention of all target steps is one batched computation.
//
// Variable-length batches: source ids [S, B] and targets [T, B] time-major, padded after each
// sentence's end. Padding never reaches a real position: forward cells see it only after the
// sentence; the backward cell reads each sentence reversed within its own length; the attention's
// softmax gives padded source positions weight 0; the loss reads real target positions only.
#pragma once
#include <string>
#include <vector>

#include "engine/rng.h"
#include "models/module.h"
#include "models/rnn_cells.h"

namespace ht {

struct Seq2SeqSpec {
  CellSpec cell;              // every layer's cell (cell.input is set per layer)
  i64 source_vocab = 0, target_vocab = 0;
  i64 embed = 0;              // embedding width of both sides
  int encoder_layers = 2;     // the first is bidirectional
  int decoder_layers = 2;
  int residual_from = 2;      // 0-based layer from which outputs add their input (GNMT: the third)
  i64 attention = 0;          // hidden width of the additive attention (0: cell.hidden)
  double dropout = 0;         // on the embeddings and on every layer's input from below, and before the softmax
  bool fused = true;          // layers through the fused sequence op (the HyperRNN: always reference cells)
  std::int32_t bos = 1, eos = 2;  // the target side's <s> (first decoder input) and </s>
  i64 encoder_width() const { return encoder_layers == 1 ? 2 * cell.hidden : cell.hidden; }
  i64 attention_width() const { return attention > 0 ? attention : cell.hidden; }
};

// Encoder output for the attention: states [B, S, E] and keys = states W_k [B, S, A] batch-major,
// the source lengths i32 [B].
struct EncoderOutput {
  Var states, keys;
  Tensor lengths;
};

// The decoder's recurrent state between steps: every layer's cell state (RnnCell::state_shapes).
using DecoderState = std::vector<std::vector<Tensor>>;

class Seq2Seq {
 public:
  Seq2Seq(const Scope& scope, const Seq2SeqSpec& spec);
  const Seq2SeqSpec& spec() const { return spec_; }
  void set_fused(bool fused) { spec_.fused = fused; }

  // source [S, B] i32, lengths [B] (1 <= length <= S). rng drives dropout when training.
  EncoderOutput encode(Tape& t, const ParamStore& ps, const Tensor& source, const Tensor& lengths, Rng* rng, bool training) const;

  // Teacher forcing: decoder inputs [T, B] i32 (<s> then the target shifted right) -> the top
  // decoder layer's outputs [T*B, H] (row i*B + b), every step of every row (padding included).
  Var decode(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Tensor& inputs, Rng* rng, bool training) const;

  // Logits [N, V] of the given rows of decode()'s output (dropout before the softmax layer when training).
  Var logits(Tape& t, const ParamStore& ps, const Var& top, const Tensor& rows, Rng* rng, bool training) const;

  // Mean cross-entropy per real target token of a batch: source [S, B], source lengths [B],
  // targets [T, B] (ending with </s>, padded), target lengths [B] (</s> included).
  Var loss(Tape& t, const ParamStore& ps, const Tensor& source, const Tensor& source_lengths, const Tensor& targets,
           const Tensor& target_lengths, Rng* rng, bool training) const;

  // One decoding step for R rows (no gradient wanted; record under Tape::NoGrad): `enc` holds R
  // rows, `previous` i32 [R] the last target word of each row (<s> first), `state` the state
  // before the step (zero_state first), replaced by the state after it. Returns log-probabilities
  // [R, V]; `attention`, when given, receives the step's attention weights [R, S].
  Var step(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Tensor& previous, DecoderState& state,
           Tensor* attention = nullptr) const;
  DecoderState zero_state(i64 rows, DType dt) const;

  std::string describe() const;

 private:
  // One layer over a [T*B, X] input from state0; returns h [T*B, H], `last` gets the final state.
  Var run_layer(Tape& t, const ParamStore& ps, const RnnCell& cell, const Var& x, i64 T, i64 B, const std::vector<Tensor>& state0,
                Rng* rng, bool training, std::vector<Tensor>* last) const;
  Var drop(Tape& t, const Var& x, Rng* rng, bool training) const;
  // Context [R*T rows as b*T + i -> reordered to i*B + b] of queries from y_prev [T*B, H].
  Var attend(Tape& t, const ParamStore& ps, const EncoderOutput& enc, const Var& y_prev, i64 T, i64 B, Tensor* weights) const;

  Seq2SeqSpec spec_;
  std::vector<RnnCell> enc_, dec_;  // enc_[0] forward, enc_[1] backward direction of layer 0, then layers 1..
  int src_emb_ = -1, tgt_emb_ = -1, w_key_ = -1, w_query_ = -1, b_att_ = -1, v_att_ = -1, w_out_ = -1, b_out_ = -1;
};

}  // namespace ht
