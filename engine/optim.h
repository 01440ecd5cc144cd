// Optimizers over a ParamStore's flat parameters and gradients (flat_values(), flat_grads(); its
// named buffers are not trained): one parallel elementwise pass per step, so the result does not
// depend on the thread count. State tensors are flat (same length and dtype as
// ps.flat_values(), padding included) and named, so checkpoints save and restore them by name.
//
//   Adam opt(ps, {.beta1 = 0.9});
//   ... backward ...
//   double norm = clip_grad_norm(ps, 1.0);
//   opt.step(ps, schedule.at(opt.steps()));
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "engine/params.h"

namespace ht {

class Optimizer {
 public:
  virtual ~Optimizer();
  // One update from ps.flat_grads(); grads are read, not cleared.
  virtual void step(ParamStore& ps, double lr) = 0;
  virtual std::string name() const = 0;
  // Named state tensors that alias the optimizer's buffers: restoring = copy_from into them.
  // Throws std::logic_error before the state exists (no ParamStore given yet).
  virtual std::vector<std::pair<std::string, Tensor>> state() = 0;
  // Completed steps; read from the step-counter state tensor, so a restore carries it.
  i64 steps() const { return i64(t_.data<double>()[0]); }

 protected:
  Optimizer() : t_(Tensor::zeros({1}, DType::F64)) {}
  // Allocates zeroed state buffers of ps's flat length and dtype, or checks that existing ones
  // match. Returns false when no allocation was needed.
  bool bind_state(const ParamStore& ps, std::vector<Tensor*> bufs, const char* who);
  Tensor t_;  // [1] f64, completed steps
  i64 n_ = -1;  // flat length the state was allocated for (-1: not yet)
  DType dtype_ = DType::F32;
};

struct SgdOptions {
  double momentum = 0;
  bool nesterov = false;
  double weight_decay = 0;  // L2 added to the gradient
};

// PyTorch semantics (dampening 0):
//   g = grad + wd*p;  v = mu*v + g;  u = nesterov ? g + mu*v : v  (u = g when mu == 0);  p -= lr*u
class SGD : public Optimizer {
 public:
  using Options = SgdOptions;
  explicit SGD(Options o = {});
  SGD(const ParamStore& ps, Options o = {});  // allocates the state now (for restoring before step)
  void init(const ParamStore& ps);            // same; step() calls it on first use
  void step(ParamStore& ps, double lr) override;
  std::string name() const override { return "sgd"; }
  // "sgd.t" and, with momentum, "sgd.velocity".
  std::vector<std::pair<std::string, Tensor>> state() override;
  const Options& options() const { return opt_; }

 private:
  Options opt_;
  Tensor velocity_;
};

struct AdamOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // L2 added to the gradient, as torch.optim.Adam (not AdamW)
};

// t += 1;  g = grad + wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
// p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
class Adam : public Optimizer {
 public:
  using Options = AdamOptions;
  explicit Adam(Options o = {});
  Adam(const ParamStore& ps, Options o = {});
  void init(const ParamStore& ps);
  void step(ParamStore& ps, double lr) override;
  std::string name() const override { return "adam"; }
  // "adam.m", "adam.v", "adam.t".
  std::vector<std::pair<std::string, Tensor>> state() override;
  const Options& options() const { return opt_; }

 private:
  Options opt_;
  Tensor m_, v_;
};

// Global L2 norm of every gradient: sums of squares in double per fixed 16384-element chunk,
// chunk sums added in order, so the value is the same for any thread count.
double grad_norm(const ParamStore& ps);
// Scales every gradient by max_norm / norm when norm > max_norm (and norm is finite).
// Returns the norm before clipping.
double clip_grad_norm(ParamStore& ps, double max_norm);

}  // namespace ht
