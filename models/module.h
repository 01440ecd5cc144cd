// Scope: a dotted name prefix over a ParamStore, so a module registers "w" and gets
// "layers.0.hyper.w" (PyTorch's register_parameter / named_parameters, flattened).
#pragma once
#include <string>

#include "engine/params.h"

namespace ht {

class Scope {
 public:
  Scope(ParamStore& ps, std::string prefix = "") : ps_(&ps), prefix_(std::move(prefix)) {}
  int param(const std::string& name, const Shape& shape, const Init& init) const {
    if (name.empty() || name.find('.') != std::string::npos)
      throw std::invalid_argument("parameter name '" + name + "' must be non-empty and contain no dot");
    return ps_->add(prefix_ + name, shape, init);
  }
  Scope sub(const std::string& name) const { return Scope(*ps_, prefix_ + name + "."); }
  ParamStore& store() const { return *ps_; }
  const std::string& prefix() const { return prefix_; }

 private:
  ParamStore* ps_;
  std::string prefix_;
};

}  // namespace ht
