#include "engine/ops/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/ops/broadcast.h"
#include "engine/parallel.h"

namespace ht {

namespace {

enum class BinOp { Add, Sub, Mul };

// The fast paths keep a's shape: Same (b has a's shape), Row (b holds one row over a's last
// dimension: [C], [1, C], ...) and Scalar (b has one element). Anything else that broadcasts,
// a broadcast a included, takes the strided General path.
enum class Bcast { Same, Row, Scalar, General };

Bcast broadcast_kind(const Shape& a, const Shape& b, const Shape& out) {
  if (a == b) return Bcast::Same;
  if (out != a) return Bcast::General;
  if (b.numel() == 1) return Bcast::Scalar;
  if (a.back() > 0 && b.numel() == a.back() && b.back() == a.back()) return Bcast::Row;
  return Bcast::General;
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

// General path, gradient of one operand x whose partner y [ys] was broadcast with it to [out]:
// dx += sign * sum_to(g, x's shape) for add and sub, dx += sum_to(g * y, x's shape) for mul, with y
// read through its broadcast. An x that is not broadcast sets its gradient on the first
// contribution (grad_for_write), as the fast paths do.
template <BinOp op, class T>
void general_backward(const Var& x, const T* g, const Shape& out, const T* y, const Shape& ys, T sign) {
  const Shape xs = x.shape();
  if (xs == out) {
    bool assign = false;
    T* dx = x.grad_for_write(&assign).template data<T>();
    if constexpr (op != BinOp::Mul) {
      if (assign && sign == T(1)) std::memcpy(dx, g, std::size_t(out.numel()) * sizeof(T));
      else parallel_for(out.numel(), kElementGrain, [&](i64 lo, i64 hi) {
        if (assign) for (i64 i = lo; i < hi; ++i) dx[i] = sign * g[i];
        else for (i64 i = lo; i < hi; ++i) dx[i] += sign * g[i];
      });
    } else if (assign) {
      broadcast_apply<T>(dx, g, y, broadcast_dims(out, out, ys), [](T& d, T gi, T yi) { d = gi * yi; });
    } else {
      broadcast_apply<T>(dx, g, y, broadcast_dims(out, out, ys), [](T& d, T gi, T yi) { d += gi * yi; });
    }
    return;
  }
  T* dx = x.grad().template data<T>();
  if constexpr (op != BinOp::Mul) {
    sum_to_add<T>(dx, xs, g, nullptr, out, sign);
  } else if (ys == out) {
    sum_to_add<T>(dx, xs, g, y, out, T(1));
  } else {  // both broadcast: g * y into arena scratch [out], then sum
    T* prod = x.tape->alloc(out, dtype_of<T>()).template data<T>();
    broadcast_apply<T>(prod, g, y, broadcast_dims(out, out, ys), [](T& p, T gi, T yi) { p = gi * yi; });
    sum_to_add<T>(dx, xs, prod, nullptr, out, T(1));
  }
}

Var binary(Tape& t, const char* name, BinOp op, const Var& a, const Var& b) {
  check_same_dtype(name, a, b);
  Tensor A = a.value(), B = b.value();
  const Shape out_shape = broadcast_shape(name, A.shape(), B.shape());
  const Bcast kind = broadcast_kind(A.shape(), B.shape(), out_shape);
  Tensor out = t.alloc(out_shape, A.dtype());
  i64 n = out_shape.numel(), cols = A.shape().back();
  dispatch_float(A.dtype(), [&](auto tag) {
    using T = decltype(tag);
    with_binop(op, [&](auto o) {
      constexpr BinOp k = decltype(o)::value;
      if (kind == Bcast::General)
        broadcast_apply<T>(out.data<T>(), A.data<T>(), B.data<T>(), broadcast_dims(out_shape, A.shape(), B.shape()),
                           [](T& y, T x, T z) { y = apply<k>(x, z); });
      else
        binary_forward<k, T>(kind, out.data<T>(), A.data<T>(), B.data<T>(), n, cols);
    });
  });
  // Saved: a and b (their values are read only by mul's backward).
  if (kind == Bcast::General)
    return t.record(name, out, {a, b}, [a, b, op, out_shape, A, B](const Tensor& dout) {
      dispatch_float(A.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* g = dout.data<T>();
        with_binop(op, [&](auto o) {
          constexpr BinOp k = decltype(o)::value;
          if (a.needs_grad()) general_backward<k, T>(a, g, out_shape, B.data<T>(), B.shape(), T(1));
          if (b.needs_grad()) general_backward<k, T>(b, g, out_shape, A.data<T>(), A.shape(), k == BinOp::Sub ? T(-1) : T(1));
        });
      });
    });
  return t.record(name, out, {a, b}, [a, b, op, kind, n, cols, A, B](const Tensor& dout) {
    dispatch_float(A.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      if (a.needs_grad()) {
        bool assign = false;
        T* da = a.grad_for_write(&assign).template data<T>();
        with_binop(op, [&](auto o) { binary_backward_a<decltype(o)::value, T>(kind, da, g, B.data<T>(), n, cols, assign); });
      }
      if (b.needs_grad())  // d b = sum over the broadcast of g (add), -g (sub), g * a (mul)
        sum_to_add<T>(b.grad().template data<T>(), B.shape(), g, op == BinOp::Mul ? A.data<T>() : nullptr, A.shape(),
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
  // Saved: x and y, both views (no copy), for every unary op; the backward reads only y for
  // sigmoid, tanh and exp (dy/dx from the output) and only x for relu and log.
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
