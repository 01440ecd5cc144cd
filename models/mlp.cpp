#include "models/mlp.h"

#include "engine/ops/elementwise.h"
#include "engine/ops/matmul.h"

namespace ht {

MLP::MLP(const Scope& scope, const std::vector<i64>& sizes) : sizes_(sizes) {
  if (sizes.size() < 2) throw std::invalid_argument("MLP needs at least an input and an output size");
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    Scope fc = scope.sub("fc" + std::to_string(i + 1));
    w_.push_back(fc.param("weight", {sizes[i], sizes[i + 1]}, Init::glorot_uniform()));
    b_.push_back(fc.param("bias", {sizes[i + 1]}, Init::zeros()));
  }
}

Var MLP::forward(Tape& t, const ParamStore& ps, const Var& x) const {
  Var h = x;
  for (std::size_t i = 0; i < w_.size(); ++i) {
    h = linear(t, h, ps.var(t, w_[i]), ps.var(t, b_[i]));
    if (i + 1 < w_.size()) h = relu(t, h);
  }
  return h;
}

double MLP::train_step_flops(i64 n) const {
  double f = 0;
  for (std::size_t i = 0; i + 1 < sizes_.size(); ++i) {
    double layer = 2.0 * double(n) * double(sizes_[i]) * double(sizes_[i + 1]);
    f += layer * (i == 0 ? 2 : 3);
  }
  return f;
}

}  // namespace ht
