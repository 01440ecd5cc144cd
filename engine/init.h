// Parameter initialisers, described by value so a model's spec can be printed and tested.
#pragma once
#include <string>

#include "engine/rng.h"
#include "engine/tensor.h"

namespace ht {

struct Init {
  enum Kind { Zeros, Constant, Normal, TruncatedNormal, Uniform, GlorotUniform, Orthogonal } kind = Zeros;
  double a = 0, b = 0;  // constant: a; normal: mean a, std b; uniform: [a, b); orthogonal: gain a

  static Init zeros() { return {Zeros, 0, 0}; }
  static Init constant(double v) { return {Constant, v, 0}; }
  static Init normal(double stddev, double mean = 0) { return {Normal, mean, stddev}; }
  static Init truncated_normal(double stddev, double mean = 0) { return {TruncatedNormal, mean, stddev}; }  // within 2 std
  static Init uniform(double lo, double hi) { return {Uniform, lo, hi}; }
  static Init glorot_uniform() { return {GlorotUniform, 0, 0}; }  // fan in/out from the last two dims
  static Init orthogonal(double gain = 1.0) { return {Orthogonal, gain, 0}; }  // 2-D (rows x cols)
  // Columns cut into `blocks` equal blocks, each orthogonal on its own (an LSTM's [H, 4H] weights:
  // one orthogonal H x H matrix per gate, as the authors' code initialises them).
  static Init block_orthogonal(int blocks, double gain = 1.0) { return {Orthogonal, gain, double(blocks)}; }
  std::string str() const;
};

// Fill `t` (f32 or f64) as `init` says, drawing from `rng`.
void apply_init(const Init& init, Tensor& t, Rng& rng);

}  // namespace ht
