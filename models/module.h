// Scope: a dotted name prefix over a ParamStore, so a module registers "w" and gets
// "layers.0.hyper.w" (PyTorch's register_parameter / register_buffer / named_parameters,
// flattened).
#pragma once
#include <string>

#include "engine/params.h"

namespace ht {

class Scope {
 public:
  Scope(ParamStore& ps, std::string prefix = "") : ps_(&ps), prefix_(std::move(prefix)) {}
  int param(const std::string& name, const Shape& shape, const Init& init) const {
    check_name("parameter", name);
    return ps_->add(prefix_ + name, shape, init);
  }
  // A buffer: state the module updates itself (running statistics), not trained. Returns its
  // index among ps's buffers.
  int buffer(const std::string& name, const Shape& shape, const Init& init) const {
    check_name("buffer", name);
    return ps_->add_buffer(prefix_ + name, shape, init);
  }
  Scope sub(const std::string& name) const { return Scope(*ps_, prefix_ + name + "."); }
  ParamStore& store() const { return *ps_; }
  const std::string& prefix() const { return prefix_; }

 private:
  static void check_name(const char* kind, const std::string& name) {
    if (name.empty() || name.find('.') != std::string::npos)
      throw std::invalid_argument(std::string(kind) + " name '" + name + "' must be non-empty and contain no dot");
  }
  ParamStore* ps_;
  std::string prefix_;
};

}  // namespace ht
