#include "engine/ops/gather.h"

#include <cstdint>
#include <limits>
#include <string>

#include "engine/parallel.h"

namespace ht {

namespace {

// y[k] = x[idx[k]], k in [0, n).
template <class T> void gather_flat_forward(T* y, const T* x, const std::int32_t* idx, i64 n) {
  parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
    for (i64 k = lo; k < hi; ++k) y[k] = x[idx[k]];
  });
}

// dx[idx[k]] += dy[k]. Parallel only when idx has no repeats (no two k write one element).
template <class T> void gather_flat_backward(T* dx, const T* dy, const std::int32_t* idx, i64 n, bool injective) {
  if (injective) {
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      for (i64 k = lo; k < hi; ++k) dx[idx[k]] += dy[k];
    });
  } else {
    for (i64 k = 0; k < n; ++k) dx[idx[k]] += dy[k];
  }
}

std::string extents_str(const std::vector<i64>& e) {
  std::string s = "[";
  for (std::size_t i = 0; i < e.size(); ++i) s += (i ? ", " : "") + std::to_string(e[i]);
  return s + "]";
}

}  // namespace

Var gather_flat(Tape& t, const Var& x, const Tensor& index, const Shape& out_shape) {
  const char* op = "gather_flat";
  if (index.dtype() != DType::I32) shape_error(op, std::string("index must be i32, got ") + dtype_name(index.dtype()));
  i64 n = out_shape.numel(), nx = x.value().numel();
  if (index.numel() != n)
    shape_error(op, "index " + index.shape().str() + " has " + std::to_string(index.numel()) + " elements, output " +
                        out_shape.str() + " needs " + std::to_string(n));
  const std::int32_t* idx = index.data<std::int32_t>();
  // Range check, and injectivity (decides whether the scatter-add may run in parallel).
  std::vector<std::uint8_t> seen(std::size_t(nx), 0);
  bool injective = true;
  for (i64 k = 0; k < n; ++k) {
    std::int32_t i = idx[k];
    if (i < 0 || i64(i) >= nx)
      shape_error(op, "index " + std::to_string(i) + " at position " + std::to_string(k) + " outside [0, " + std::to_string(nx) +
                          ") for x " + x.shape().str());
    if (seen[std::size_t(i)]) injective = false;
    seen[std::size_t(i)] = 1;
  }
  Tensor X = x.value(), Y = t.alloc(out_shape, X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    gather_flat_forward<T>(Y.data<T>(), X.data<T>(), idx, n);
  });
  // Saved: a copy of the index (the caller may reuse its buffer), and whether it is injective.
  Tensor saved = t.alloc(index.shape(), DType::I32);
  saved.copy_from(index);
  return t.record(op, Y, {x}, [x, saved, n, injective](const Tensor& dout) {
    if (!x.needs_grad()) return;
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      gather_flat_backward<T>(x.grad().template data<T>(), dout.data<T>(), saved.data<std::int32_t>(), n, injective);
    });
  });
}

Tensor permutation_index(const std::vector<i64>& in, const std::vector<int>& perm) {
  constexpr int kMaxAxes = 6;
  const char* op = "permutation_index";
  int nd = int(in.size());
  if (nd == 0 || nd > kMaxAxes) shape_error(op, "expects 1 to 6 axes, got extents " + extents_str(in));
  if (int(perm.size()) != nd)
    shape_error(op, "perm has " + std::to_string(perm.size()) + " entries for extents " + extents_str(in));
  bool used[kMaxAxes] = {};
  for (int k = 0; k < nd; ++k) {
    if (perm[k] < 0 || perm[k] >= nd || used[perm[k]])
      shape_error(op, "perm entry " + std::to_string(perm[k]) + " at position " + std::to_string(k) +
                          " is out of range or repeated for extents " + extents_str(in));
    used[perm[k]] = true;
  }
  i64 total = 1;
  for (i64 e : in) {
    if (e <= 0) shape_error(op, "extents " + extents_str(in) + " must be positive");
    total *= e;
  }
  if (total > std::numeric_limits<std::int32_t>::max()) shape_error(op, "extents " + extents_str(in) + " too large for i32 indices");
  // Row-major strides of the input; the output walks its own extents in row-major order and
  // reads the input at sum_k o_k * in_stride[perm[k]].
  i64 in_stride[kMaxAxes], out_ext[kMaxAxes], step[kMaxAxes];
  in_stride[nd - 1] = 1;
  for (int a = nd - 2; a >= 0; --a) in_stride[a] = in_stride[a + 1] * in[std::size_t(a + 1)];
  for (int k = 0; k < nd; ++k) {
    out_ext[k] = in[std::size_t(perm[k])];
    step[k] = in_stride[perm[k]];
  }
  Tensor index = Tensor::empty({total}, DType::I32);
  std::int32_t* out = index.data<std::int32_t>();
  i64 o[kMaxAxes] = {}, src = 0;
  for (i64 k = 0; k < total; ++k) {
    out[k] = std::int32_t(src);
    for (int a = nd - 1; a >= 0; --a) {  // odometer increment of the output multi-index
      src += step[a];
      if (++o[a] < out_ext[a]) break;
      src -= step[a] * out_ext[a];
      o[a] = 0;
    }
  }
  return index;
}

}  // namespace ht
