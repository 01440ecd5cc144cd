// Tensor: contiguous, 64-byte aligned storage of float32, float64 or int32 with up to 4 dims.
// A tensor either owns its buffer (shared, so copies are cheap aliases) or points into memory it
// does not own (a tape's arena, a flat parameter buffer). Views (reshape, row ranges) share data.
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>

namespace ht {

using i64 = std::int64_t;

enum class DType : std::uint8_t { F32, F64, I32 };

const char* dtype_name(DType dt);
std::size_t dtype_size(DType dt);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<std::int32_t>() { return DType::I32; }

// Up to four extents; nd == 0 is a scalar (numel 1).
struct Shape {
  static constexpr int kMaxDims = 4;
  i64 d[kMaxDims] = {0, 0, 0, 0};
  int nd = 0;

  Shape() = default;
  Shape(std::initializer_list<i64> dims);
  i64 numel() const;  // throws std::overflow_error naming the shape when the product overflows
  i64 operator[](int i) const { return d[i]; }
  i64& operator[](int i) { return d[i]; }
  i64 back() const { return nd ? d[nd - 1] : 1; }
  i64 rows() const { return nd ? numel() / back() : 1; }  // product of all but the last dim
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3]"
};

class Tensor {
 public:
  Tensor() = default;
  static Tensor empty(const Shape& s, DType dt = DType::F32);  // owned, uninitialised
  static Tensor zeros(const Shape& s, DType dt = DType::F32);
  static Tensor full(const Shape& s, double v, DType dt = DType::F32);
  static Tensor wrap(void* data, const Shape& s, DType dt);  // non-owning

  bool defined() const { return data_ != nullptr || shape_.numel() == 0; }
  explicit operator bool() const { return data_ != nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  i64 numel() const { return shape_.numel(); }
  int ndim() const { return shape_.nd; }
  i64 dim(int i) const { return shape_.d[i < 0 ? shape_.nd + i : i]; }
  std::size_t nbytes() const { return std::size_t(numel()) * dtype_size(dtype_); }
  void* raw() const { return data_; }

  template <class T> T* data() const {
    if (dtype_ != dtype_of<T>()) throw std::runtime_error(std::string("tensor holds ") + dtype_name(dtype_) + ", accessed as " + dtype_name(dtype_of<T>()));
    return static_cast<T*>(data_);
  }

  Tensor view(const Shape& s) const;              // same data, new shape of equal numel
  Tensor rows(i64 begin, i64 end) const;          // [begin, end) along dim 0, shared data
  Tensor clone() const;                           // owned deep copy
  void copy_from(const Tensor& src);              // same shape and dtype required
  void fill(double v);
  void zero() { if (data_) std::memset(data_, 0, nbytes()); }
  double item() const;                            // numel must be 1
  double at(i64 flat_index) const;                // any dtype, as double (tests, printing)
  Tensor to(DType dt) const;                      // converted owned copy

 private:
  void* data_ = nullptr;
  std::shared_ptr<void> owner_;
  Shape shape_;
  DType dtype_ = DType::F32;
};

// 64-byte aligned allocation shared by tensors and arenas.
void* aligned_alloc64(std::size_t bytes);
void aligned_free64(void* p);
inline std::size_t round_up64(std::size_t n) { return (n + 63) & ~std::size_t(63); }

// Dispatch a generic lambda on a floating dtype: f(float{}) or f(double{}).
template <class F> decltype(auto) dispatch_float(DType dt, F&& f) {
  if (dt == DType::F32) return f(float{});
  if (dt == DType::F64) return f(double{});
  throw std::runtime_error(std::string("expected a floating dtype, got ") + dtype_name(dt));
}

}  // namespace ht
