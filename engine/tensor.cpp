#include "engine/tensor.h"

#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <sstream>

namespace ht {

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::I32: return "i32";
  }
  return "?";
}

std::size_t dtype_size(DType dt) { return dt == DType::F64 ? 8 : 4; }

Shape::Shape(std::initializer_list<i64> dims) {
  if (dims.size() > kMaxDims) throw std::runtime_error("shape has more than 4 dimensions");
  for (i64 v : dims) {
    if (v < 0) throw std::runtime_error("negative extent in shape");
    d[nd++] = v;
  }
}

i64 Shape::numel() const {
  i64 n = 1;
  for (int i = 0; i < nd; ++i)
    if (__builtin_mul_overflow(n, d[i], &n)) throw std::overflow_error("shape " + str() + " has more elements than a 64-bit count holds");
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (nd != o.nd) return false;
  for (int i = 0; i < nd; ++i)
    if (d[i] != o.d[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::ostringstream s;
  s << '[';
  for (int i = 0; i < nd; ++i) s << (i ? ", " : "") << d[i];
  s << ']';
  return s.str();
}

void* aligned_alloc64(std::size_t bytes) {
  void* p = std::aligned_alloc(64, round_up64(bytes ? bytes : 64));
  if (!p) throw std::runtime_error("out of memory allocating " + std::to_string(bytes) + " bytes");
  return p;
}

void aligned_free64(void* p) { std::free(p); }

Tensor Tensor::empty(const Shape& s, DType dt) {
  if (s.numel() > i64(PTRDIFF_MAX / 8))
    throw std::overflow_error("shape " + s.str() + " (" + std::to_string(s.numel()) + " elements) is too large to allocate");
  Tensor t;
  t.shape_ = s;
  t.dtype_ = dt;
  void* p = aligned_alloc64(t.nbytes());
  t.owner_ = std::shared_ptr<void>(p, aligned_free64);
  t.data_ = p;
  return t;
}

Tensor Tensor::zeros(const Shape& s, DType dt) {
  Tensor t = empty(s, dt);
  t.zero();
  return t;
}

Tensor Tensor::full(const Shape& s, double v, DType dt) {
  Tensor t = empty(s, dt);
  t.fill(v);
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& s, DType dt) {
  Tensor t;
  t.data_ = data;
  t.shape_ = s;
  t.dtype_ = dt;
  return t;
}

Tensor Tensor::view(const Shape& s) const {
  if (s.numel() != numel())
    throw std::runtime_error("cannot view a tensor of shape " + shape_.str() + " as " + s.str());
  Tensor t = *this;
  t.shape_ = s;
  return t;
}

Tensor Tensor::rows(i64 begin, i64 end) const {
  if (shape_.nd == 0 || begin < 0 || end > shape_.d[0] || begin > end)
    throw std::runtime_error("row range [" + std::to_string(begin) + ", " + std::to_string(end) +
                             ") out of bounds for shape " + shape_.str());
  Tensor t = *this;
  i64 row = numel() / (shape_.d[0] ? shape_.d[0] : 1);
  t.shape_.d[0] = end - begin;
  t.data_ = static_cast<char*>(data_) + std::size_t(begin * row) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_);
  if (nbytes()) std::memcpy(t.data_, data_, nbytes());
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_ || src.dtype_ != dtype_)
    throw std::runtime_error("copy_from: " + src.shape_.str() + " " + dtype_name(src.dtype_) + " into " +
                             shape_.str() + " " + dtype_name(dtype_));
  if (nbytes()) std::memmove(data_, src.data_, nbytes());
}

void Tensor::fill(double v) {
  i64 n = numel();
  switch (dtype_) {
    case DType::F32: { auto* p = static_cast<float*>(data_); for (i64 i = 0; i < n; ++i) p[i] = float(v); break; }
    case DType::F64: { auto* p = static_cast<double*>(data_); for (i64 i = 0; i < n; ++i) p[i] = v; break; }
    case DType::I32: { auto* p = static_cast<std::int32_t*>(data_); for (i64 i = 0; i < n; ++i) p[i] = std::int32_t(v); break; }
  }
}

double Tensor::at(i64 i) const {
  switch (dtype_) {
    case DType::F32: return static_cast<const float*>(data_)[i];
    case DType::F64: return static_cast<const double*>(data_)[i];
    case DType::I32: return static_cast<const std::int32_t*>(data_)[i];
  }
  return 0;
}

double Tensor::item() const {
  if (numel() != 1) throw std::runtime_error("item() on a tensor of shape " + shape_.str());
  return at(0);
}

Tensor Tensor::to(DType dt) const {
  Tensor t = empty(shape_, dt);
  i64 n = numel();
  for (i64 i = 0; i < n; ++i) {
    double v = at(i);
    switch (dt) {
      case DType::F32: static_cast<float*>(t.data_)[i] = float(v); break;
      case DType::F64: static_cast<double*>(t.data_)[i] = v; break;
      case DType::I32: static_cast<std::int32_t*>(t.data_)[i] = std::int32_t(v); break;
    }
  }
  return t;
}

}  // namespace ht
