#include "engine/ops/elementwise.h"

#include <cmath>

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

template <class T> inline T apply(BinOp op, T x, T y) {
  return op == BinOp::Add ? x + y : op == BinOp::Sub ? x - y : x * y;
}

// out = a (op) b with b broadcast as `kind` says; n = a.numel(), cols = a.shape().back().
template <class T>
void binary_forward(BinOp op, Bcast kind, T* out, const T* a, const T* b, i64 n, i64 cols) {
  parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
    for (i64 i = lo; i < hi; ++i) {
      T bv = kind == Bcast::Same ? b[i] : kind == Bcast::Row ? b[i % cols] : b[0];
      out[i] = apply(op, a[i], bv);
    }
  });
}

// d(b) for a broadcast b: sum over rows of g (g = dout, or dout * a for mul), times sign.
template <class T>
void reduce_to_b(Bcast kind, T* db, const T* dout, const T* a_or_null, i64 n, i64 cols, T sign) {
  if (kind == Bcast::Same) {
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) db[i] += sign * dout[i] * (a_or_null ? a_or_null[i] : T(1));
    });
  } else if (kind == Bcast::Row) {
    i64 rows = n / cols;
    // Parallel over columns: each task owns its columns, so the sum order is fixed.
    parallel_for(cols, 64, [&](i64 c0, i64 c1) {
      for (i64 r = 0; r < rows; ++r) {
        const T* g = dout + r * cols;
        const T* av = a_or_null ? a_or_null + r * cols : nullptr;
        for (i64 c = c0; c < c1; ++c) db[c] += sign * g[c] * (av ? av[c] : T(1));
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
    binary_forward<T>(op, kind, out.data<T>(), A.data<T>(), B.data<T>(), n, cols);
  });
  return t.record(name, out, {a, b}, [a, b, op, kind, n, cols, A, B](const Tensor& dout) {
    dispatch_float(A.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      if (a.needs_grad()) {
        // d a = g (add, sub) or g * b (mul)
        T* da = a.grad().template data<T>();
        const T* bv = B.data<T>();
        parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
          for (i64 i = lo; i < hi; ++i) {
            T f = op == BinOp::Mul ? (kind == Bcast::Same ? bv[i] : kind == Bcast::Row ? bv[i % cols] : bv[0]) : T(1);
            da[i] += g[i] * f;
          }
        });
      }
      if (b.needs_grad()) {
        // d b = sum over broadcast of g (add), -g (sub), g * a (mul)
        reduce_to_b<T>(kind, b.grad().template data<T>(), g, op == BinOp::Mul ? A.data<T>() : nullptr, n, cols,
                       op == BinOp::Sub ? T(-1) : T(1));
      }
    });
  });
}

enum class Unary { Sigmoid, Tanh, Relu, Exp, Log };

template <class T> inline T unary_f(Unary u, T x) {
  switch (u) {
    case Unary::Sigmoid: return x >= 0 ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
    case Unary::Tanh: return std::tanh(x);
    case Unary::Relu: return x > 0 ? x : T(0);
    case Unary::Exp: return std::exp(x);
    case Unary::Log: return std::log(x);
  }
  return x;
}

// dy/dx from the input x and output y.
template <class T> inline T unary_df(Unary u, T x, T y) {
  switch (u) {
    case Unary::Sigmoid: return y * (T(1) - y);
    case Unary::Tanh: return T(1) - y * y;
    case Unary::Relu: return x > 0 ? T(1) : T(0);
    case Unary::Exp: return y;
    case Unary::Log: return T(1) / x;
  }
  return T(0);
}

Var unary(Tape& t, const char* name, Unary u, const Var& x) {
  Tensor X = x.value();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  i64 n = X.numel();
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* yv = Y.data<T>();
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) yv[i] = unary_f(u, xv[i]);
    });
  });
  // Saved: sigmoid, tanh and exp need only their output; relu and log their input.
  return t.record(name, Y, {x}, [x, u, n, X, Y](const Tensor& dout) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *g = dout.data<T>(), *xv = X.data<T>(), *yv = Y.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
        for (i64 i = lo; i < hi; ++i) dx[i] += g[i] * unary_df(u, xv[i], yv[i]);
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
