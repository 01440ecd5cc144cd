#include "engine/ops/loss.h"

#include <cmath>
#include <vector>

#include "engine/parallel.h"

namespace ht {

namespace {

template <class T> T row_logsumexp(const T* x, i64 C) {
  T m = x[0];
  for (i64 c = 1; c < C; ++c) m = x[c] > m ? x[c] : m;
  T s = 0;
  for (i64 c = 0; c < C; ++c) s += std::exp(x[c] - m);
  return m + std::log(s);
}

void check_targets(const char* op, const Tensor& logits, const Tensor& targets) {
  if (targets.dtype() != DType::I32) shape_error(op, std::string("targets must be i32, got ") + dtype_name(targets.dtype()));
  i64 rows = logits.shape().rows(), C = logits.shape().back();
  if (targets.numel() != rows)
    shape_error(op, "logits " + logits.shape().str() + " need " + std::to_string(rows) + " targets, got " + targets.shape().str());
  const std::int32_t* tg = targets.data<std::int32_t>();
  for (i64 r = 0; r < rows; ++r)
    if (tg[r] < 0 || tg[r] >= C)
      shape_error(op, "target " + std::to_string(tg[r]) + " at row " + std::to_string(r) + " outside [0, " + std::to_string(C) + ")");
}

}  // namespace

void softmax_cross_entropy_rows(const Tensor& logits, const Tensor& targets, double* out) {
  check_targets("softmax_cross_entropy", logits, targets);
  i64 rows = logits.shape().rows(), C = logits.shape().back();
  const std::int32_t* tg = targets.data<std::int32_t>();
  dispatch_float(logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = logits.data<T>();
    parallel_for(rows, 16, [&](i64 lo, i64 hi) {
      for (i64 r = lo; r < hi; ++r) out[r] = double(row_logsumexp(x + r * C, C) - x[r * C + tg[r]]);
    });
  });
}

Var softmax_cross_entropy(Tape& t, const Var& logits, const Tensor& targets) {
  Tensor X = logits.value();
  i64 rows = X.shape().rows(), C = X.shape().back();
  std::vector<double> per_row(static_cast<std::size_t>(rows));
  softmax_cross_entropy_rows(X, targets, per_row.data());
  double total = 0;
  for (double v : per_row) total += v;  // in row order: deterministic
  Tensor out = t.alloc(Shape{}, X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) { out.data<decltype(tag)>()[0] = decltype(tag)(total / double(rows)); });
  Tensor saved_targets = t.alloc(targets.shape(), DType::I32);  // the caller may reuse its buffer
  saved_targets.copy_from(targets);
  // Saved: the logits and targets; the softmax is recomputed row by row in the backward.
  return t.record("softmax_cross_entropy", out, {logits}, [logits, X, targets = saved_targets, rows, C](const Tensor& dout) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = X.data<T>();
      const std::int32_t* tg = targets.data<std::int32_t>();
      T g = dout.data<T>()[0] / T(rows);
      T* dx = logits.grad().template data<T>();
      parallel_for(rows, 16, [&](i64 lo, i64 hi) {
        for (i64 r = lo; r < hi; ++r) {
          const T* xr = x + r * C;
          T lse = row_logsumexp(xr, C);
          T* d = dx + r * C;
          for (i64 c = 0; c < C; ++c) d[c] += g * std::exp(xr[c] - lse);
          d[tg[r]] -= g;
        }
      });
    });
  });
}

Var log_softmax(Tape& t, const Var& x) {
  Tensor X = x.value();
  i64 rows = X.shape().rows(), C = X.shape().back();
  Tensor Y = t.alloc(X.shape(), X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* y = Y.data<T>();
    parallel_for(rows, 16, [&](i64 lo, i64 hi) {
      for (i64 r = lo; r < hi; ++r) {
        T lse = row_logsumexp(xv + r * C, C);
        for (i64 c = 0; c < C; ++c) y[r * C + c] = xv[r * C + c] - lse;
      }
    });
  });
  // Saved: the output. dx = dy - softmax * sum(dy), softmax = exp(y).
  return t.record("log_softmax", Y, {x}, [x, Y, rows, C](const Tensor& dout) {
    dispatch_float(Y.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *y = Y.data<T>(), *g = dout.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(rows, 16, [&](i64 lo, i64 hi) {
        for (i64 r = lo; r < hi; ++r) {
          T s = 0;
          for (i64 c = 0; c < C; ++c) s += g[r * C + c];
          for (i64 c = 0; c < C; ++c) dx[r * C + c] += g[r * C + c] - std::exp(y[r * C + c]) * s;
        }
      });
    });
  });
}

}  // namespace ht
