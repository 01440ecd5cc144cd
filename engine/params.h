// ParamStore: every named parameter of a model in one flat, aligned buffer (values), with a
// parallel flat buffer for gradients, so the optimizer, clipping, zero-grad and checkpoints are
// single loops. Buffers are named state that is not trained (batch norm's running statistics):
// a flat buffer of their own and no gradient, so the optimizers, clipping and zero_grad (which
// see flat_values() and flat_grads() only) never touch them and count() leaves them out;
// checkpoints save and restore them beside the parameters (param_tensors, restore_params).
// Names are dotted paths ("layers.0.hyper.w_hz"), unique across parameters and buffers,
// insertion-ordered.
//
//   ParamStore ps;
//   int w = ps.add("fc1.weight", {784, 1024}, Init::glorot_uniform());
//   int m = ps.add_buffer("bn1.running_mean", {1024}, Init::zeros());
//   ps.finalize(rng);                 // allocate and initialise; no add() after this
//   Var wv = ps.var(tape, w);         // on a tape: gradient accumulates into ps.grad(w)
//   Tensor mean = ps.buffer(m);       // a view, updated in place by the op that owns it
#pragma once
#include <string>
#include <vector>

#include "engine/init.h"
#include "engine/tape.h"

namespace ht {

class ParamStore {
 public:
  explicit ParamStore(DType dtype = DType::F32) : dtype_(dtype) {}

  // Declare a parameter; returns its index. Names must be non-empty and unique (buffers included).
  int add(const std::string& name, const Shape& shape, const Init& init);
  // Declare a buffer (not trained, no gradient); returns its index among the buffers. Same naming
  // rules as add().
  int add_buffer(const std::string& name, const Shape& shape, const Init& init);
  // Allocate the flat buffers and run every initialiser: the parameters' in declaration order,
  // then the buffers' (so declaring a buffer never changes what a parameter draws from rng).
  void finalize(Rng& rng);
  bool finalized() const { return finalized_; }

  int size() const { return int(entries_.size()); }
  const std::string& name(int i) const { return entries_[std::size_t(i)].name; }
  const Shape& shape(int i) const { return entries_[std::size_t(i)].shape; }
  const Init& init(int i) const { return entries_[std::size_t(i)].init; }
  int find(const std::string& name) const;  // -1 when absent
  int index(const std::string& name) const; // throws naming the parameter when absent

  Tensor value(int i) const;
  Tensor grad(int i) const;
  Var var(Tape& t, int i) const { return t.param(value(i), grad(i)); }

  // Number of trainable scalars (padding excluded).
  i64 count() const;
  i64 count(const std::string& prefix) const;  // parameters whose name starts with prefix

  // Flat views over every parameter, padding included (padding stays zero). Buffers excluded.
  Tensor flat_values() const { return values_; }
  Tensor flat_grads() const { return grads_; }
  DType dtype() const { return dtype_; }
  void zero_grad() { grads_.zero(); }

  // Buffers, indexed from 0 in declaration order; the same dtype as the parameters.
  int num_buffers() const { return int(buffers_.size()); }
  const std::string& buffer_name(int i) const { return buffers_[std::size_t(i)].name; }
  const Shape& buffer_shape(int i) const { return buffers_[std::size_t(i)].shape; }
  int find_buffer(const std::string& name) const;   // -1 when absent
  int buffer_index(const std::string& name) const;  // throws naming the buffer when absent
  Tensor buffer(int i) const;                       // a view into flat_buffers()
  i64 buffer_count() const;                         // scalars in buffers (padding excluded)
  Tensor flat_buffers() const { return buffer_values_; }

 private:
  struct Entry { std::string name; Shape shape; Init init; i64 offset; };
  // Appends an entry at the padded end of `total` (every entry starts 64-byte aligned).
  void append(std::vector<Entry>& list, i64& total, const char* kind, const std::string& name, const Shape& shape,
              const Init& init);
  DType dtype_;
  std::vector<Entry> entries_, buffers_;
  i64 total_ = 0, buffer_total_ = 0;  // elements, padded
  Tensor values_, grads_, buffer_values_;
  bool finalized_ = false;
};

}  // namespace ht
