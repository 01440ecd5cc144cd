#include "engine/params.h"

#include <stdexcept>

namespace ht {

void ParamStore::append(std::vector<Entry>& list, i64& total, const char* kind, const std::string& name, const Shape& shape,
                        const Init& init) {
  if (finalized()) throw std::logic_error(std::string(kind) + " '" + name + "' added after finalize()");
  if (name.empty()) throw std::invalid_argument(std::string(kind) + " name is empty");
  const bool is_buffer = &list == &buffers_;
  if (find(name) >= 0)
    throw std::invalid_argument(std::string(kind) + " '" + name + "' already defined" + (is_buffer ? " as a parameter" : ""));
  if (find_buffer(name) >= 0)
    throw std::invalid_argument(std::string(kind) + " '" + name + "' already defined" + (is_buffer ? "" : " as a buffer"));
  const i64 per_line = 64 / i64(dtype_size(dtype_));
  i64 n = 0, padded = 0, next = 0;
  try {
    n = shape.numel();
  } catch (const std::overflow_error& e) {
    throw std::overflow_error(std::string(kind) + " '" + name + "': " + e.what());
  }
  if (__builtin_add_overflow(n, per_line - 1, &padded) || __builtin_add_overflow(total, padded / per_line * per_line, &next))
    throw std::overflow_error(std::string(kind) + " '" + name + "' of shape " + shape.str() + ": the store's element count overflows");
  list.push_back({name, shape, init, total});
  total = next;
}

int ParamStore::add(const std::string& name, const Shape& shape, const Init& init) {
  append(entries_, total_, "parameter", name, shape, init);
  return int(entries_.size()) - 1;
}

int ParamStore::add_buffer(const std::string& name, const Shape& shape, const Init& init) {
  append(buffers_, buffer_total_, "buffer", name, shape, init);
  return int(buffers_.size()) - 1;
}

void ParamStore::finalize(Rng& rng) {
  if (finalized()) throw std::logic_error("ParamStore::finalize() called twice");
  values_ = Tensor::zeros({total_}, dtype_);
  grads_ = Tensor::zeros({total_}, dtype_);
  buffer_values_ = Tensor::zeros({buffer_total_}, dtype_);
  finalized_ = true;
  for (int i = 0; i < size(); ++i) {
    Tensor v = value(i);
    apply_init(entries_[std::size_t(i)].init, v, rng);
  }
  for (int i = 0; i < num_buffers(); ++i) {
    Tensor b = buffer(i);
    apply_init(buffers_[std::size_t(i)].init, b, rng);
  }
}

int ParamStore::find(const std::string& name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return int(i);
  return -1;
}

int ParamStore::index(const std::string& name) const {
  int i = find(name);
  if (i < 0) throw std::out_of_range("no parameter named '" + name + "'" + (find_buffer(name) >= 0 ? " ('" + name + "' is a buffer)" : ""));
  return i;
}

int ParamStore::find_buffer(const std::string& name) const {
  for (std::size_t i = 0; i < buffers_.size(); ++i)
    if (buffers_[i].name == name) return int(i);
  return -1;
}

int ParamStore::buffer_index(const std::string& name) const {
  int i = find_buffer(name);
  if (i < 0) throw std::out_of_range("no buffer named '" + name + "'" + (find(name) >= 0 ? " ('" + name + "' is a parameter)" : ""));
  return i;
}

static Tensor slice_flat(const Tensor& flat, i64 offset, const Shape& s) {
  if (!flat) throw std::logic_error("parameter or buffer accessed before ParamStore::finalize()");
  return flat.rows(offset, offset + s.numel()).view(s);
}

Tensor ParamStore::value(int i) const { return slice_flat(values_, entries_.at(std::size_t(i)).offset, entries_[std::size_t(i)].shape); }
Tensor ParamStore::grad(int i) const { return slice_flat(grads_, entries_.at(std::size_t(i)).offset, entries_[std::size_t(i)].shape); }
Tensor ParamStore::buffer(int i) const {
  return slice_flat(buffer_values_, buffers_.at(std::size_t(i)).offset, buffers_[std::size_t(i)].shape);
}

i64 ParamStore::count() const {
  i64 n = 0;
  for (auto& e : entries_) n += e.shape.numel();
  return n;
}

i64 ParamStore::buffer_count() const {
  i64 n = 0;
  for (auto& e : buffers_) n += e.shape.numel();
  return n;
}

i64 ParamStore::count(const std::string& prefix) const {
  i64 n = 0;
  for (auto& e : entries_)
    if (e.name.rfind(prefix, 0) == 0) n += e.shape.numel();
  return n;
}

}  // namespace ht
