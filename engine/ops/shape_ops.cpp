#include "engine/ops/shape_ops.h"

#include <cstring>

#include "engine/ops/reduce.h"
#include "engine/parallel.h"

namespace ht {

Var reshape(Tape& t, const Var& x, const Shape& s) {
  if (s.numel() != x.value().numel()) shape_error("reshape", "cannot reshape " + x.shape().str() + " to " + s.str());
  Tensor Y = x.value().view(s);
  return t.record("reshape", Y, {x}, [x](const Tensor& dout) {
    Tensor dx = x.grad();
    dispatch_float(dx.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* d = dx.data<T>();
      const T* g = dout.data<T>();
      parallel_for(dx.numel(), kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) d[i] += g[i]; });
    });
  });
}

Var transpose(Tape& t, const Var& x) {
  const Shape& s = x.shape();
  if (s.nd != 2 && s.nd != 3) shape_error("transpose", "expects 2-D or 3-D, got " + s.str());
  i64 B = s.nd == 3 ? s[0] : 1, M = s[s.nd - 2], N = s[s.nd - 1];
  Shape out_shape = s.nd == 3 ? Shape{B, N, M} : Shape{N, M};
  Tensor X = x.value(), Y = t.alloc(out_shape, X.dtype());
  auto transpose_add = [](auto* dst, const auto* src, i64 B, i64 M, i64 N, bool accumulate) {
    // dst[b, n, m] (+)= src[b, m, n]
    parallel_for(B * N, 16, [&](i64 lo, i64 hi) {
      for (i64 bn = lo; bn < hi; ++bn) {
        i64 b = bn / N, n = bn % N;
        for (i64 m = 0; m < M; ++m) {
          auto v = src[(b * M + m) * N + n];
          if (accumulate) dst[bn * M + m] += v; else dst[bn * M + m] = v;
        }
      }
    });
  };
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    transpose_add(Y.data<T>(), X.data<T>(), B, M, N, false);
  });
  return t.record("transpose", Y, {x}, [x, B, M, N, transpose_add](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      transpose_add(x.grad().template data<T>(), dout.data<T>(), B, N, M, true);
    });
  });
}

namespace {

// big[o, offset:offset+n, :] (+)= small[o, :, :], with big [outer, total, inner] and small [outer, n, inner].
template <class T>
void block_into_big(T* big, const T* small, i64 outer, i64 total, i64 n, i64 inner, i64 offset, bool accumulate) {
  parallel_for(outer, 1, [&](i64 lo, i64 hi) {
    for (i64 o = lo; o < hi; ++o) {
      T* b = big + (o * total + offset) * inner;
      const T* sm = small + o * n * inner;
      if (accumulate) for (i64 i = 0; i < n * inner; ++i) b[i] += sm[i];
      else std::memcpy(b, sm, std::size_t(n * inner) * sizeof(T));
    }
  });
}

template <class T>
void block_add_from_big(T* small, const T* big, i64 outer, i64 total, i64 n, i64 inner, i64 offset) {
  parallel_for(outer, 1, [&](i64 lo, i64 hi) {
    for (i64 o = lo; o < hi; ++o) {
      const T* b = big + (o * total + offset) * inner;
      T* sm = small + o * n * inner;
      for (i64 i = 0; i < n * inner; ++i) sm[i] += b[i];
    }
  });
}

}  // namespace

Var concat(Tape& t, const std::vector<Var>& xs, int axis) {
  if (xs.empty()) shape_error("concat", "no inputs");
  Shape s = xs[0].shape();
  AxisSplit sp = split_at_axis("concat", s, axis);
  i64 total = 0;
  for (const Var& v : xs) {
    check_same_dtype("concat", xs[0], v);
    Shape vs = v.shape();
    bool ok = vs.nd == s.nd;
    for (int i = 0; ok && i < s.nd; ++i) ok = i == sp.axis || vs[i] == s[i];
    if (!ok) shape_error("concat", "cannot concatenate " + vs.str() + " with " + s.str() + " along axis " + std::to_string(axis));
    total += vs[sp.axis];
  }
  Shape out_shape = s;
  out_shape[sp.axis] = total;
  Tensor Y = t.alloc(out_shape, xs[0].dtype());
  std::vector<i64> offsets;
  i64 off = 0;
  for (const Var& v : xs) {
    offsets.push_back(off);
    i64 n = v.shape()[sp.axis];
    dispatch_float(Y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      block_into_big<T>(Y.data<T>(), v.value().data<T>(), sp.outer, total, n, sp.inner, off, false);
    });
    off += n;
  }
  return t.record("concat", Y, xs, [xs, offsets, sp, total](const Tensor& dout) {
    for (std::size_t k = 0; k < xs.size(); ++k) {
      if (!xs[k].needs_grad()) continue;
      i64 n = xs[k].shape()[sp.axis];
      dispatch_float(dout.dtype(), [&](auto tag) {
        using T = decltype(tag);
        block_add_from_big<T>(xs[k].grad().template data<T>(), dout.data<T>(), sp.outer, total, n, sp.inner, offsets[k]);
      });
    }
  });
}

Var slice(Tape& t, const Var& x, int axis, i64 begin, i64 end) {
  Shape s = x.shape();
  AxisSplit sp = split_at_axis("slice", s, axis);
  if (begin < 0 || end > sp.n || begin > end)
    shape_error("slice", "range [" + std::to_string(begin) + ", " + std::to_string(end) + ") outside axis " +
                             std::to_string(axis) + " of " + s.str());
  Shape out_shape = s;
  out_shape[sp.axis] = end - begin;
  Tensor X = x.value(), Y = t.alloc(out_shape, X.dtype());
  i64 n = end - begin;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = Y.data<T>();
    const T* xv = X.data<T>();
    parallel_for(sp.outer, 1, [&](i64 lo, i64 hi) {
      for (i64 o = lo; o < hi; ++o)
        std::memcpy(y + o * n * sp.inner, xv + (o * sp.n + begin) * sp.inner, std::size_t(n * sp.inner) * sizeof(T));
    });
  });
  return t.record("slice", Y, {x}, [x, sp, n, begin](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      block_into_big<T>(x.grad().template data<T>(), dout.data<T>(), sp.outer, sp.n, n, sp.inner, begin, true);
    });
  });
}

std::vector<Var> split(Tape& t, const Var& x, const std::vector<i64>& sizes, int axis) {
  AxisSplit sp = split_at_axis("split", x.shape(), axis);
  i64 total = 0;
  for (i64 s : sizes) total += s;
  if (total != sp.n)
    shape_error("split", "sizes add up to " + std::to_string(total) + " but axis " + std::to_string(axis) + " of " +
                             x.shape().str() + " has " + std::to_string(sp.n));
  std::vector<Var> out;
  i64 off = 0;
  for (i64 s : sizes) {
    out.push_back(slice(t, x, axis, off, off + s));
    off += s;
  }
  return out;
}

Var embedding(Tape& t, const Var& table, const Tensor& ids) {
  const Shape& ts = table.shape();
  if (ts.nd != 2) shape_error("embedding", "table must be [V, D], got " + ts.str());
  if (ids.dtype() != DType::I32) shape_error("embedding", std::string("ids must be i32, got ") + dtype_name(ids.dtype()));
  if (ids.ndim() >= Shape::kMaxDims) shape_error("embedding", "ids " + ids.shape().str() + " leave no room for the embedding dim");
  i64 V = ts[0], D = ts[1], n = ids.numel();
  const std::int32_t* id = ids.data<std::int32_t>();
  for (i64 i = 0; i < n; ++i)
    if (id[i] < -1 || id[i] >= V)
      shape_error("embedding", "id " + std::to_string(id[i]) + " at position " + std::to_string(i) + " outside [0, " + std::to_string(V) + ") (-1: a zero row)");
  Shape out_shape = ids.shape();
  out_shape[out_shape.nd++] = D;
  Tensor W = table.value(), Y = t.alloc(out_shape, W.dtype());
  Tensor saved_ids = t.alloc(ids.shape(), DType::I32);  // the caller may reuse its id buffer
  saved_ids.copy_from(ids);
  dispatch_float(W.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* w = W.data<T>();
    T* y = Y.data<T>();
    parallel_for(n, 64, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) {
        if (id[i] < 0) std::memset(y + i * D, 0, std::size_t(D) * sizeof(T));
        else std::memcpy(y + i * D, w + i64(id[i]) * D, std::size_t(D) * sizeof(T));
      }
    });
  });
  // Scatter-add parallel over columns of the table, rows in order: no races, fixed sum order.
  return t.record("embedding", Y, {table}, [table, ids = saved_ids, n, D](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* dw = table.grad().template data<T>();
      const T* g = dout.data<T>();
      const std::int32_t* id = ids.data<std::int32_t>();
      parallel_for(D, 64, [&](i64 c0, i64 c1) {
        for (i64 i = 0; i < n; ++i)
          if (id[i] >= 0)
            for (i64 c = c0; c < c1; ++c) dw[i64(id[i]) * D + c] += g[i * D + c];
      });
    });
  });
}

}  // namespace ht
