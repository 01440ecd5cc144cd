#include "engine/ops/matmul.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "engine/blas.h"
#include "engine/ops/broadcast.h"
#include "engine/parallel.h"
#include "engine/ops/elementwise.h"

namespace ht {

namespace {

struct MatDims { i64 batch, M, N, K; bool shared_b; };

MatDims matmul_dims(const Shape& a, const Shape& b, bool ta, bool tb) {
  const char* op = "matmul";
  if (a.nd != 2 && a.nd != 3) shape_error(op, "A must be 2-D or 3-D, got " + a.str());
  if (b.nd != 2 && b.nd != 3) shape_error(op, "B must be 2-D or 3-D, got " + b.str());
  if (a.nd == 2 && b.nd == 3) shape_error(op, "2-D A with batched B " + b.str() + " is not supported");
  i64 batch = a.nd == 3 ? a[0] : 1;
  if (b.nd == 3 && b[0] != batch) shape_error(op, "batch sizes differ: " + a.str() + " vs " + b.str());
  int ai = a.nd - 2, bi = b.nd - 2;
  i64 M = ta ? a[ai + 1] : a[ai], Ka = ta ? a[ai] : a[ai + 1];
  i64 Kb = tb ? b[bi + 1] : b[bi], N = tb ? b[bi] : b[bi + 1];
  if (Ka != Kb)
    shape_error(op, "inner dimensions differ: A " + a.str() + (ta ? "^T" : "") + " times B " + b.str() + (tb ? "^T" : ""));
  return {batch, M, N, Ka, b.nd == 2};
}

}  // namespace

Var matmul(Tape& t, const Var& a, const Var& b, bool ta, bool tb) {
  check_same_dtype("matmul", a, b);
  Tensor A = a.value(), B = b.value();
  MatDims d = matmul_dims(A.shape(), B.shape(), ta, tb);
  Shape out_shape = A.ndim() == 3 ? Shape{d.batch, d.M, d.N} : Shape{d.M, d.N};
  Tensor C = t.alloc(out_shape, A.dtype());
  dispatch_float(A.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (i64 s = 0; s < d.batch; ++s)
      gemm_dense<T>(ta, tb, d.M, d.N, d.K, T(1), A.data<T>() + s * d.M * d.K, B.data<T>() + (d.shared_b ? 0 : s * d.K * d.N),
                    T(0), C.data<T>() + s * d.M * d.N);
  });
  return t.record("matmul", C, {a, b}, [a, b, ta, tb, d, A, B](const Tensor& dC) {
    dispatch_float(A.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* dc = dC.data<T>();
      // C = op(A) op(B):  d op(A) = dC op(B)^T,  d op(B) = op(A)^T dC.
      bool assign = false;
      if (a.needs_grad()) {
        T* da = a.grad_for_write(&assign).template data<T>();
        const T beta = assign ? T(0) : T(1);
        for (i64 s = 0; s < d.batch; ++s) {
          const T* bs = B.data<T>() + (d.shared_b ? 0 : s * d.K * d.N);
          const T* dcs = dc + s * d.M * d.N;
          T* das = da + s * d.M * d.K;
          if (!ta) gemm_dense<T>(false, !tb, d.M, d.K, d.N, T(1), dcs, bs, beta, das);  // dA[M,K] = dC op(B)^T
          else gemm_dense<T>(tb, true, d.K, d.M, d.N, T(1), bs, dcs, beta, das);        // dA[K,M] = op(B) dC^T
        }
      }
      if (b.needs_grad()) {
        T* db = b.grad_for_write(&assign).template data<T>();
        // A B shared across the batch accumulates over s: only its first product may assign.
        for (i64 s = 0; s < d.batch; ++s) {
          const T beta = assign && (s == 0 || !d.shared_b) ? T(0) : T(1);
          const T* as = A.data<T>() + s * d.M * d.K;
          const T* dcs = dc + s * d.M * d.N;
          T* dbs = db + (d.shared_b ? 0 : s * d.K * d.N);
          if (!tb) gemm_dense<T>(!ta, false, d.K, d.N, d.M, T(1), as, dcs, beta, dbs);  // dB[K,N] = op(A)^T dC
          else gemm_dense<T>(true, ta, d.N, d.K, d.M, T(1), dcs, as, beta, dbs);        // dB[N,K] = dC^T op(A)
        }
      }
    });
  });
}

// One node for x W + b when x is [rows, In] and W is 2-D:
// the bias rows are written into y first and the GEMM adds x W to them (beta 1), and the backward
// reads dy in place, where matmul + bias_add made two more passes over y forward (OpenBLAS's
// zeroing for beta 0, then y + b into a new tensor) and copied dy backward. The gradients are
// matmul + bias_add's bit for bit (the same GEMMs on the same dy; db through the same column sums).
// y may differ in the last bits: where OpenBLAS splits a long K into blocks, b now joins the sum
// after the first block rather than after the last.
Var linear(Tape& t, const Var& x, const Var& w, const Var& b) {
  if (!b.valid()) return matmul(t, x, w);
  const Shape xs = x.shape(), ws = w.shape();
  // A 3-D x keeps matmul's product per batch entry (one GEMM over all rows would round differently
  // from the results already measured with it).
  if (xs.nd != 2 || ws.nd != 2) return bias_add(t, matmul(t, x, w), b);
  check_same_dtype("linear", x, w);
  check_same_dtype("linear", x, b);
  const MatDims d = matmul_dims(xs, ws, false, false);  // names both shapes when they do not fit
  const i64 K = d.K, N = d.N;
  if (b.shape().nd != 1 || b.shape()[0] != N)
    shape_error("linear", "bias " + b.shape().str() + " does not match W " + ws.str() + "'s " + std::to_string(N) + " outputs");
  const i64 rows = d.M;
  const Shape ys{rows, N};
  Tensor X = x.value(), W = w.value(), Bv = b.value();
  Tensor Y = t.alloc(ys, X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = Y.data<T>();
    const T* bias = Bv.data<T>();
    parallel_for(rows, std::max<i64>(1, kElementGrain / std::max<i64>(1, N)), [&](i64 r0, i64 r1) {
      for (i64 r = r0; r < r1; ++r) std::memcpy(y + r * N, bias, std::size_t(N) * sizeof(T));
    });
    gemm_dense<T>(false, false, rows, N, K, T(1), X.data<T>(), W.data<T>(), T(1), y);
  });
  return t.record("linear", Y, {x, w, b}, [x, w, b, rows, K, N, X, W](const Tensor& dY) {
    dispatch_float(X.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* dy = dY.data<T>();
      bool assign = false;
      if (x.needs_grad()) {  // dx = dy W^T
        T* dx = x.grad_for_write(&assign).template data<T>();
        gemm_dense<T>(false, true, rows, K, N, T(1), dy, W.data<T>(), assign ? T(0) : T(1), dx);
      }
      if (w.needs_grad()) {  // dW = x^T dy
        T* dw = w.grad_for_write(&assign).template data<T>();
        gemm_dense<T>(true, false, K, N, rows, T(1), X.data<T>(), dy, assign ? T(0) : T(1), dw);
      }
      if (b.needs_grad()) sum_to_add<T>(b.grad().template data<T>(), Shape{N}, dy, nullptr, Shape{rows, N}, T(1));
    });
  });
}

}  // namespace ht
