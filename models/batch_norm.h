// Batch normalisation as a module (Ioffe & Szegedy 2015; PyTorch's BatchNorm1d/2d): per channel
// c of x [N, C] or [N, C, H, W],
//   y = gamma_c * (x - mean_c) / sqrt(var_c + eps) + beta_c,
// with the batch's statistics in training and the running statistics in evaluation (the engine's
// batch_norm op, engine/ops/batch_norm.h, states the formulas and the running-average update).
// Under its scope it owns the parameters gamma (init 1) and beta (init 0) and the buffers
// running_mean (init 0) and running_var (init 1), all [C]; checkpoints carry the buffers with the
// parameters (param_tensors, restore_params).
#pragma once
#include "engine/params.h"
#include "models/module.h"

namespace ht {

class BatchNorm {
 public:
  BatchNorm(const Scope& scope, i64 channels, double momentum = 0.1, double eps = 1e-5);

  // Training: normalises with the batch's statistics and moves ps's running_mean and running_var
  // toward them, in place (a ParamStore's buffers are written through its const views, as the
  // optimizer writes its values). Evaluation: normalises with the running statistics and changes
  // nothing.
  Var forward(Tape& t, const ParamStore& ps, const Var& x, bool training) const;
  // max(0, forward(...)) as one fused node (engine batch_norm_relu).
  Var forward_relu(Tape& t, const ParamStore& ps, const Var& x, bool training) const;

  i64 channels() const { return C_; }
  int gamma_id() const { return gamma_; }          // parameter index
  int beta_id() const { return beta_; }            // parameter index
  int running_mean_id() const { return mean_; }    // buffer index
  int running_var_id() const { return var_; }      // buffer index

 private:
  i64 C_;
  double momentum_, eps_;
  int gamma_, beta_, mean_, var_;
};

}  // namespace ht
