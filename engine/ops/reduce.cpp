#include "engine/ops/reduce.h"

#include "engine/parallel.h"

namespace ht {

AxisSplit split_at_axis(const char* op, const Shape& s, int axis) {
  int a = axis < 0 ? s.nd + axis : axis;
  if (a < 0 || a >= s.nd) shape_error(op, "axis " + std::to_string(axis) + " out of range for " + s.str());
  AxisSplit r{1, s[a], 1, a};
  for (int i = 0; i < a; ++i) r.outer *= s[i];
  for (int i = a + 1; i < s.nd; ++i) r.inner *= s[i];
  return r;
}

namespace {

Shape drop_axis(const Shape& s, int a) {
  Shape r;
  for (int i = 0; i < s.nd; ++i)
    if (i != a) r.d[r.nd++] = s[i];
  return r;
}

// out[o, i] = f * sum_k x[o, k, i]; summed in index order, so the result is deterministic.
Var reduce_axis(Tape& t, const char* name, const Var& x, int axis, bool average) {
  Tensor X = x.value();
  AxisSplit sp = split_at_axis(name, X.shape(), axis);
  Tensor out = t.alloc(drop_axis(X.shape(), sp.axis), X.dtype());
  double f = average ? 1.0 / double(sp.n) : 1.0;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* y = out.data<T>();
    parallel_for(sp.outer * sp.inner, 1024, [&](i64 lo, i64 hi) {
      for (i64 j = lo; j < hi; ++j) {
        i64 o = j / sp.inner, i = j % sp.inner;
        T s = 0;
        for (i64 k = 0; k < sp.n; ++k) s += xv[(o * sp.n + k) * sp.inner + i];
        y[j] = T(f) * s;
      }
    });
  });
  return t.record(name, out, {x}, [x, sp, f](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = dout.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(sp.outer * sp.n, 64, [&](i64 lo, i64 hi) {
        for (i64 r = lo; r < hi; ++r) {
          i64 o = r / sp.n;
          for (i64 i = 0; i < sp.inner; ++i) dx[r * sp.inner + i] += T(f) * g[o * sp.inner + i];
        }
      });
    });
  });
}

Var reduce_all(Tape& t, const char* name, const Var& x, bool average) {
  Tensor X = x.value();
  i64 n = X.numel();
  Tensor out = t.alloc(Shape{}, X.dtype());
  double f = average ? 1.0 / double(n) : 1.0;
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    double s = 0;
    for (i64 i = 0; i < n; ++i) s += double(xv[i]);
    out.data<T>()[0] = T(f * s);
  });
  return t.record(name, out, {x}, [x, n, f](const Tensor& dout) {
    dispatch_float(dout.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T g = T(f) * dout.data<T>()[0];
      T* dx = x.grad().template data<T>();
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) { for (i64 i = lo; i < hi; ++i) dx[i] += g; });
    });
  });
}

}  // namespace

Var sum(Tape& t, const Var& x, int axis) { return reduce_axis(t, "sum", x, axis, false); }
Var mean(Tape& t, const Var& x, int axis) { return reduce_axis(t, "mean", x, axis, true); }
Var sum_all(Tape& t, const Var& x) { return reduce_all(t, "sum_all", x, false); }
Var mean_all(Tape& t, const Var& x) { return reduce_all(t, "mean_all", x, true); }

}  // namespace ht
