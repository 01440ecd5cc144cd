#include "engine/params.h"

#include <stdexcept>

namespace ht {

int ParamStore::add(const std::string& name, const Shape& shape, const Init& init) {
  if (finalized()) throw std::logic_error("parameter '" + name + "' added after finalize()");
  if (name.empty()) throw std::invalid_argument("parameter name is empty");
  if (find(name) >= 0) throw std::invalid_argument("parameter '" + name + "' already defined");
  entries_.push_back({name, shape, init, total_});
  i64 per_line = 64 / i64(dtype_size(dtype_));
  total_ += (shape.numel() + per_line - 1) / per_line * per_line;
  return int(entries_.size()) - 1;
}

void ParamStore::finalize(Rng& rng) {
  if (finalized()) throw std::logic_error("ParamStore::finalize() called twice");
  values_ = Tensor::zeros({total_}, dtype_);
  grads_ = Tensor::zeros({total_}, dtype_);
  for (int i = 0; i < size(); ++i) {
    Tensor v = value(i);
    apply_init(entries_[std::size_t(i)].init, v, rng);
  }
}

int ParamStore::find(const std::string& name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return int(i);
  return -1;
}

int ParamStore::index(const std::string& name) const {
  int i = find(name);
  if (i < 0) throw std::out_of_range("no parameter named '" + name + "'");
  return i;
}

static Tensor slice_flat(const Tensor& flat, i64 offset, const Shape& s) {
  if (!flat) throw std::logic_error("parameter accessed before ParamStore::finalize()");
  return flat.rows(offset, offset + s.numel()).view(s);
}

Tensor ParamStore::value(int i) const { return slice_flat(values_, entries_.at(std::size_t(i)).offset, entries_[std::size_t(i)].shape); }
Tensor ParamStore::grad(int i) const { return slice_flat(grads_, entries_.at(std::size_t(i)).offset, entries_[std::size_t(i)].shape); }

i64 ParamStore::count() const {
  i64 n = 0;
  for (auto& e : entries_) n += e.shape.numel();
  return n;
}

i64 ParamStore::count(const std::string& prefix) const {
  i64 n = 0;
  for (auto& e : entries_)
    if (e.name.rfind(prefix, 0) == 0) n += e.shape.numel();
  return n;
}

}  // namespace ht
