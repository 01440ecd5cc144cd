#include "engine/ops/matmul.h"

#include "engine/blas.h"
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

Var linear(Tape& t, const Var& x, const Var& w, const Var& b) {
  Var y = matmul(t, x, w);
  return b.valid() ? bias_add(t, y, b) : y;
}

}  // namespace ht
