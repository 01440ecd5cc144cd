#include "engine/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/parallel.h"

namespace ht {

namespace {

enum class Bcast { Same, Row, Scalar };
enum class BinOp { Add, Sub, Mul };

Bcast broadcast_kind(const char* op, const Shape& a, const Shape& b) {
  if (a == b) return Bcast::Same;
  if (b.numel() == 1) return Bcast::Scalar;
  if (b.numel() == a.back() && (b.nd == 1 || (b.nd == 2 && b[0] == 1))) return Bcast::Row;
  shape_error(op, "cannot broadcast " + b.str() + " against " + a.str() + " (same shape, a row of " +
                      std::to_string(a.back()) + ", or a scalar)");
}

template <BinOp op, class T> inline T apply(T x, T y) {
  if constexpr (op == BinOp::Add) return x + y;
  else if constexpr (op == BinOp::Sub) return x - y;
  else return x * y;
}

// Calls f(std::integral_constant<BinOp, op>) for the runtime op, so kernels get it as a constant.
template <class F> void with_binop(BinOp op, F&& f) {
  switch (op) {
    case BinOp::Add: f(std::integral_constant<BinOp, BinOp::Add>{}); break;
    case BinOp::Sub: f(std::integral_constant<BinOp, BinOp::Sub>{}); break;
    case BinOp::Mul: f(std::integral_constant<BinOp, BinOp::Mul>{}); break;
  }
}

// out = a (op) b with b broadcast as `kind` says; a is viewed as [n / cols, cols]. Row-broadcast
// loops go row by row so the inner loop is contiguous in both operands and vectorises.
template <BinOp op, class T>
void binary_forward(Bcast kind, T* out, const T* a, const T* b, i64 n, i64 cols) {
  if (kind == Bcast::Row) {
    i64 rows = n / cols;
    parallel_for(rows, std::max<i64>(1, kElementGrain / cols), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) {
        const T* ar = a + r * cols;
        T* o = out + r * cols;
        for (i64 c = 0; c < cols; ++c) o[c] = apply<op>(ar[c], b[c]);
      }
    });
    return;
  }
  parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
    if (kind == Bcast::Same)
      for (i64 i = lo; i < hi; ++i) out[i] = apply<op>(a[i], b[i]);
    else
      for (i64 i = lo; i < hi; ++i) out[i] = apply<op>(a[i], b[0]);
  });
}

// da += g (add, sub) or g * b (mul), b broadcast as `kind` says; da = ... when `assign`.
template <BinOp op, class T>
void binary_backward_a(Bcast kind, T* da, const T* g, const T* b, i64 n, i64 cols, bool assign) {
  if constexpr (op != BinOp::Mul) {
    if (assign) std::memcpy(da, g, std::size_t(n) * sizeof(T));
    else parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) da[i] += g[i]; });
  } else if (assign) {
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) da[i] = g[i] * (kind == Bcast::Same ? b[i] : kind == Bcast::Row ? b[i % cols] : b[0]);
    });
  } else if (kind == Bcast::Row) {
    i64 rows = n / cols;
    parallel_for(rows, std::max<i64>(1, kElementGrain / cols), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r)
        for (i64 c = 0; c < cols; ++c) da[r * cols + c] += g[r * cols + c] * b[c];
    });
  } else {
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      if (kind == Bcast::Same)
        for (i64 i = lo; i < hi; ++i) da[i] += g[i] * b[i];
      else
        for (i64 i = lo; i < hi; ++i) da[i] += g[i] * b[0];
    });
  }
}

// d(b) for a broadcast b: sum over rows of g (g = dout, or dout * a for mul), times sign.
template <class T>
void reduce_to_b(Bcast kind, T* db, const T* dout, const T* a_or_null, i64 n, i64 cols, T sign) {
  if (kind == Bcast::Same) {
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      if (a_or_null) for (i64 i = lo; i < hi; ++i) db[i] += sign * dout[i] * a_or_null[i];
      else for (i64 i = lo; i < hi; ++i) db[i] += sign * dout[i];
    });
  } else if (kind == Bcast::Row) {
    i64 rows = n / cols;
    // Parallel over columns: each task owns its columns, so the sum order is fixed.
    parallel_for(cols, 64, [&](i64 c0, i64 c1) {
      for (i64 r = 0; r < rows; ++r) {
        const T* g = dout + r * cols;
        if (a_or_null) for (i64 c = c0; c < c1; ++c) db[c] += sign * g[c] * a_or_null[r * cols + c];
        else for (i64 c = c0; c < c1; ++c) db[c] += sign * g[c];
      }
    });
  } else {
    double s = 0;
    for (i64 i = 0; i < n; ++i) s += double(dout[i]) * (a_or_null ? double(a_or_null[i]) : 1.0);
    db[0] += sign * T(s);
  }
}

Var binary(Tape& t, const char* name, BinOp op, const Var& a, const Var& b) {
  check_same_dtype(name, a, b);
  Tensor A = a.value(), B = b.value();
  Bcast kind = broadcast_kind(name, A.shape(), B.shape());
  Tensor out = t.alloc(A.shape(), A.dtype());
  i64 n = A.numel(), cols = A.shape().back();
  dispatch_float(A.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_binop(op, [&](auto o) { binary_forward<decltype(o)::value, T>(kind, out.data<T>(), A.data<T>(), B.data<T>(), n, cols); });
  });
  // Saved: a and b (their values are read only by mul's backward).
  return t.record(name, out, {a, b}, [a, b, op, kind, n, cols, A, B](const Tensor& dout) {
    dispatch_float(A.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      if (a.needs_grad()) {
        bool assign = false;
        T* da = a.grad_for_write(&assign).template data<T>();
        with_binop(op, [&](auto o) { binary_backward_a<decltype(o)::value, T>(kind, da, g, B.data<T>(), n, cols, assign); });
      }
      if (b.needs_grad())  // d b = sum over broadcast of g (add), -g (sub), g * a (mul)
        reduce_to_b<T>(kind, b.grad().template data<T>(), g, op == BinOp::Mul ? A.data<T>() : nullptr, n, cols,
                       op == BinOp::Sub ? T(-1) : T(1));
    });
  });
}

enum class Unary { Sigmoid, Tanh, Relu, Exp, Log };

template <Unary u, class T> inline T unary_f(T x) {
  if constexpr (u == Unary::Sigmoid) return T(1) / (T(1) + std::exp(-x));
  else if constexpr (u == Unary::Tanh) return std::tanh(x);
  else if constexpr (u == Unary::Relu) return x > 0 ? x : T(0);
  else if constexpr (u == Unary::Exp) return std::exp(x);
  else return std::log(x);
}

// dy/dx from the input x and output y.
template <Unary u, class T> inline T unary_df(T x, T y) {
  if constexpr (u == Unary::Sigmoid) return y * (T(1) - y);
  else if constexpr (u == Unary::Tanh) return T(1) - y * y;
  else if constexpr (u == Unary::Relu) return x > 0 ? T(1) : T(0);
  else if constexpr (u == Unary::Exp) return y;
  else return T(1) / x;
}

template <class F> void with_unary(Unary u, F&& f) {
  switch (u) {
    case Unary::Sigmoid: f(std::integral_constant<Unary, Unary::Sigmoid>{}); break;
    case Unary::Tanh: f(std::integral_constant<Unary, Unary::Tanh>{}); break;
    case Unary::Relu: f(std::integral_constant<Unary, Unary::Relu>{}); break;
    case Unary::Exp: f(std::integral_constant<Unary, Unary::Exp>{}); break;
    case Unary::Log: f(std::integral_constant<Unary, Unary::Log>{}); break;
  }
}

Var unary(Tape& t, const char* name, Unary u, const Var& x) {
  Tensor X = x.value();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  i64 n = X.numel();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* yv = Y.data<T>();
    with_unary(u, [&](auto k) {
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
        for (i64 i = lo; i < hi; ++i) yv[i] = unary_f<decltype(k)::value>(xv[i]);
      });
    });
  });
  // Saved: sigmoid, tanh and exp need only their output; relu and log their input.
  return t.record(name, Y, {x}, [x, u, n, X, Y](const Tensor& dout) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *g = dout.data<T>(), *xv = X.data<T>(), *yv = Y.data<T>();
      bool assign = false;
      T* dx = x.grad_for_write(&assign).template data<T>();
      with_unary(u, [&](auto k) {
        parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
          if (assign)
            for (i64 i = lo; i < hi; ++i) dx[i] = g[i] * unary_df<decltype(k)::value>(xv[i], yv[i]);
          else
            for (i64 i = lo; i < hi; ++i) dx[i] += g[i] * unary_df<decltype(k)::value>(xv[i], yv[i]);
        });
      });
    });
  });
}

}  // namespace

Var add(Tape& t, const Var& a, const Var& b) { return binary(t, "add", BinOp::Add, a, b); }
Var sub(Tape& t, const Var& a, const Var& b) { return binary(t, "sub", BinOp::Sub, a, b); }
Var mul(Tape& t, const Var& a, const Var& b) { return binary(t, "mul", BinOp::Mul, a, b); }

Var bias_add(Tape& t, const Var& x, const Var& bias) {
  if (bias.shape().nd != 1 || bias.shape()[0] != x.shape().back())
    shape_error("bias_add", "bias " + bias.shape().str() + " does not match the last dimension of " + x.shape().str());
  return binary(t, "bias_add", BinOp::Add, x, bias);
}

Var scale(Tape& t, const Var& x, double c) {
  Tensor X = x.value();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  i64 n = X.numel();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* yv = Y.data<T>();
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) yv[i] = T(c) * xv[i]; });
  });
  return t.record("scale", Y, {x}, [x, c, n](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) dx[i] += T(c) * g[i]; });
    });
  });
}

Var add_scalar(Tape& t, const Var& x, double c) {
  Tensor X = x.value();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  i64 n = X.numel();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* yv = Y.data<T>();
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) yv[i] = xv[i] + T(c); });
  });
  return t.record("add_scalar", Y, {x}, [x, n](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) dx[i] += g[i]; });
    });
  });
}

Var sigmoid(Tape& t, const Var& x) { return unary(t, "sigmoid", Unary::Sigmoid, x); }
Var tanh(Tape& t, const Var& x) { return unary(t, "tanh", Unary::Tanh, x); }
Var relu(Tape& t, const Var& x) { return unary(t, "relu", Unary::Relu, x); }
Var exp(Tape& t, const Var& x) { return unary(t, "exp", Unary::Exp, x); }
Var log(Tape& t, const Var& x) { return unary(t, "log", Unary::Log, x); }

}  // namespace ht
