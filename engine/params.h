// ParamStore: every named parameter of a model in one flat, aligned buffer (values), with a
// parallel flat buffer for gradients, so the optimizer, clipping, zero-grad and checkpoints are
// single loops. Names are dotted paths ("layers.0.hyper.w_hz"), unique, insertion-ordered.
//
//   ParamStore ps;
//   int w = ps.add("fc1.weight", {784, 1024}, Init::glorot_uniform());
//   ps.finalize(rng);                 // allocate and initialise; no add() after this
//   Var wv = ps.var(tape, w);         // on a tape: gradient accumulates into ps.grad(w)
#pragma once
#include <string>
#include <vector>

#include "engine/init.h"
#include "engine/tape.h"

namespace ht {

class ParamStore {
 public:
  explicit ParamStore(DType dtype = DType::F32) : dtype_(dtype) {}

  // Declare a parameter; returns its index. Names must be non-empty and unique.
  int add(const std::string& name, const Shape& shape, const Init& init);
  // Allocate the flat buffers and run every initialiser in declaration order.
  void finalize(Rng& rng);
  bool finalized() const { return bool(values_); }

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

  // Flat views over every parameter, padding included (padding stays zero).
  Tensor flat_values() const { return values_; }
  Tensor flat_grads() const { return grads_; }
  DType dtype() const { return dtype_; }
  void zero_grad() { grads_.zero(); }

 private:
  struct Entry { std::string name; Shape shape; Init init; i64 offset; };
  DType dtype_;
  std::vector<Entry> entries_;
  i64 total_ = 0;  // elements, padded so every parameter starts 64-byte aligned
  Tensor values_, grads_;
};

}  // namespace ht
