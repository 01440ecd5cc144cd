#include "engine/tape.h"

#include <stdexcept>

namespace ht {

void shape_error(const char* op, const std::string& what) { throw std::invalid_argument(std::string(op) + ": " + what); }

void check_same_dtype(const char* op, const Var& a, const Var& b) {
  if (a.dtype() != b.dtype())
    shape_error(op, std::string("dtype mismatch ") + dtype_name(a.dtype()) + " vs " + dtype_name(b.dtype()));
}

#ifndef NDEBUG
void stale_var_error(const char* where, const Var& v) {
  throw std::logic_error((where ? std::string(where) + ": " : std::string()) + "var " + std::to_string(v.id) + " was made in tape generation " +
                         std::to_string(v.generation) + " and used in generation " + std::to_string(v.tape->generation()) +
                         ": it was kept across Tape::reset(), and its slot now belongs to the new step");
}
#endif

Var Tape::make_var(int id) {
  Var v{this, id};
#ifndef NDEBUG
  v.generation = generation_;
#endif
  return v;
}

Var Tape::input(const Tensor& value, bool requires_grad) {
  if (backward_done_) throw std::logic_error("tape used after backward(); call reset() first");
  slots_.push_back({value, Tensor(), requires_grad && grad_enabled_});
  return make_var(int(slots_.size()) - 1);
}

Var Tape::param(const Tensor& value, const Tensor& grad) {
  if (grad && grad.shape() != value.shape())
    throw std::invalid_argument("param: gradient buffer " + grad.shape().str() + " for value " + value.shape().str());
  Var v = input(value, grad_enabled_);
  slots_[v.id].grad = grad;
  return v;
}

Tensor Tape::alloc(const Shape& s, DType dt) {
  return Tensor::wrap(arena_.allocate(std::size_t(s.numel()) * dtype_size(dt)), s, dt);
}

Tensor Tape::alloc_zeros(const Shape& s, DType dt) {
  Tensor t = alloc(s, dt);
  t.zero();
  return t;
}

Tensor& Tape::grad(int id) {
  Slot& s = slots_[id];
  if (!s.grad) s.grad = alloc_zeros(s.value.shape(), s.value.dtype());
  return s.grad;
}

Tensor& Tape::grad_for_write(int id, bool* assign) {
  Slot& s = slots_[id];
  *assign = !s.grad;
  if (!s.grad) s.grad = alloc(s.value.shape(), s.value.dtype());
  return s.grad;
}

template <class It>
Var Tape::record_impl(const char* op, const Tensor& out, It begin, It end, Backward backward) {
  if (backward_done_) throw std::logic_error(std::string(op) + ": tape used after backward(); call reset() first");
#ifndef NDEBUG
  for (It it = begin; it != end; ++it)
    if (it->tape == this && it->generation != generation_) stale_var_error(op, *it);
#endif
  bool any = false;
  if (grad_enabled_)
    for (It it = begin; it != end; ++it) {
      if (it->tape != this) throw std::logic_error(std::string(op) + ": input var belongs to another tape");
      any = any || slots_[it->id].needs_grad;
    }
  slots_.push_back({out, Tensor(), any});
  int id = int(slots_.size()) - 1;
  if (any) {
    int first = int(node_inputs_.size());
    for (It it = begin; it != end; ++it) node_inputs_.push_back(it->id);
    nodes_.push_back({op, id, first, int(node_inputs_.size()) - first, std::move(backward)});
  }
  return make_var(id);
}

Var Tape::record(const char* op, const Tensor& out, std::initializer_list<Var> inputs, Backward backward) {
  return record_impl(op, out, inputs.begin(), inputs.end(), std::move(backward));
}

Var Tape::record(const char* op, const Tensor& out, const std::vector<Var>& inputs, Backward backward) {
  return record_impl(op, out, inputs.begin(), inputs.end(), std::move(backward));
}

void Tape::backward(const Var& loss) {
  if (loss.valid() && loss.tape == this && loss.value().numel() != 1)
    throw std::invalid_argument("backward(): loss must have one element, got shape " + loss.shape().str());
  Tensor seed = Tensor::full(Shape{}, 1.0, loss.valid() ? loss.dtype() : DType::F32);
  backward(loss, seed.view(loss.valid() ? loss.shape() : Shape{}));
}

void Tape::backward(const Var& out, const Tensor& seed) {
  if (backward_done_)
    throw std::logic_error("backward() called twice on one tape: its saved buffers were released after the first; call reset() and record the step again");
  if (out.tape != this) throw std::logic_error("backward(): output var belongs to another tape");
#ifndef NDEBUG
  if (out.generation != generation_) stale_var_error("backward()", out);
#endif
  if (seed.shape() != out.shape() || seed.dtype() != out.dtype())
    throw std::invalid_argument("backward(): seed " + seed.shape().str() + " " + dtype_name(seed.dtype()) +
                                " for output " + out.shape().str() + " " + dtype_name(out.dtype()));
  backward_done_ = true;
  if (slots_[out.id].needs_grad) {
    grad(out.id).copy_from(seed);
    for (auto it = nodes_.rbegin(); it != nodes_.rend(); ++it) {
      if (!slots_[it->output].grad) continue;  // nothing flowed into this output
      it->backward(slots_[it->output].grad);
#ifndef NDEBUG
      // Every gradient must keep its var's shape.
      for (int k = 0; k < it->num_inputs; ++k) {
        const Slot& s = slots_[node_inputs_[it->first_input + k]];
        if (s.grad && s.grad.shape() != s.value.shape())
          throw std::logic_error(std::string(it->op) + " backward left a gradient of shape " + s.grad.shape().str() +
                                 " for a value of shape " + s.value.shape().str());
      }
#endif
      it->backward = nullptr;  // release what the closure saved
    }
  }
  nodes_.clear();
  node_inputs_.clear();
}

void Tape::reset() {
  slots_.clear();
  nodes_.clear();
  node_inputs_.clear();
  arena_.reset();
  backward_done_ = false;
  ++generation_;
}

std::vector<std::string> Tape::node_names() const {
  std::vector<std::string> names;
  for (auto& n : nodes_) names.emplace_back(n.op);
  return names;
}

}  // namespace ht
