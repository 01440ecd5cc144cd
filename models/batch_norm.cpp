#include "models/batch_norm.h"

#include <stdexcept>
#include <string>

#include "engine/ops/batch_norm.h"

namespace ht {

BatchNorm::BatchNorm(const Scope& scope, i64 channels, double momentum, double eps)
    : C_(channels), momentum_(momentum), eps_(eps) {
  if (channels <= 0)
    throw std::invalid_argument("BatchNorm '" + scope.prefix() + "': channels must be positive, got " + std::to_string(channels));
  gamma_ = scope.param("gamma", {C_}, Init::constant(1.0));
  beta_ = scope.param("beta", {C_}, Init::zeros());
  mean_ = scope.buffer("running_mean", {C_}, Init::zeros());
  var_ = scope.buffer("running_var", {C_}, Init::constant(1.0));
}

Var BatchNorm::forward(Tape& t, const ParamStore& ps, const Var& x, bool training) const {
  return batch_norm(t, x, ps.var(t, gamma_), ps.var(t, beta_), ps.buffer(mean_), ps.buffer(var_), training, momentum_, eps_);
}

Var BatchNorm::forward_relu(Tape& t, const ParamStore& ps, const Var& x, bool training) const {
  return batch_norm_relu(t, x, ps.var(t, gamma_), ps.var(t, beta_), ps.buffer(mean_), ps.buffer(var_), training, momentum_, eps_);
}

}  // namespace ht
