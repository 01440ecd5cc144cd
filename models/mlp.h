// Multilayer perceptron: Linear -> ReLU -> ... -> Linear (logits).
#pragma once
#include <vector>

#include "engine/tape.h"
#include "models/module.h"

namespace ht {

class MLP {
 public:
  // sizes = {in, hidden..., out}; parameters "fc<i>.weight" [in, out] (Glorot) and "fc<i>.bias".
  MLP(const Scope& scope, const std::vector<i64>& sizes);
  Var forward(Tape& t, const ParamStore& ps, const Var& x) const;  // x [N, in] -> logits [N, out]
  const std::vector<i64>& sizes() const { return sizes_; }
  // GEMM FLOPs of one training step at batch n: forward, weight gradients, and input gradients of
  // every layer but the first (the input needs none).
  double train_step_flops(i64 n) const;

 private:
  std::vector<i64> sizes_;
  std::vector<int> w_, b_;
};

}  // namespace ht
