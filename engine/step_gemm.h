// The recurrent per-step product C = A W (or A W^T) on a weight that stays the same for a whole
// segment: float packs W once per segment for the weight-stationary kernel (packed_gemm.h), double
// and short segments split W's columns across the cores, each part a single-threaded BLAS call on
// the calling oneTBB worker (inside a BlasOnCaller scope). Splitting columns keeps the total
// packing of W what one BLAS call would do.
#pragma once
#include <memory>
#include <type_traits>

#include "engine/blas.h"
#include "engine/packed_gemm.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

namespace ht {

struct StepWeight {
  const void* w = nullptr;  // W [K, N] (row stride ld), or [N, K] when trans
  i64 K = 0, N = 0, ld = 0;
  bool trans = false;
  std::shared_ptr<PackedMatrix> packed;  // float over enough steps only
};

// Packing costs about one product's worth of memory traffic, so it pays from a few steps on;
// one-step calls (sampling) use BLAS directly.
constexpr i64 kPackFromSteps = 4;

template <class T> StepWeight step_weight(const T* W, i64 K, i64 N, i64 ld, bool trans, i64 steps) {
  StepWeight s{W, K, N, ld, trans, nullptr};
  if constexpr (std::is_same_v<T, float>) {
    if (steps < kPackFromSteps) return s;
    s.packed = std::make_shared<PackedMatrix>();
    s.packed->pack(W, K, N, ld, trans);
  }
  return s;
}

// C[M, N] = A[M, K] op(W) + beta C, op(B)'s columns in up to two parts of whole 16-column panels.
template <class T>
void split_gemm(bool tb, i64 M, i64 N, i64 K, const T* A, i64 lda, const T* W, i64 ldw, T beta, T* C, i64 ldc) {
  const i64 parts = N >= 512 ? 2 : 1;
  parallel_for(parts, 1, [&](i64 p0, i64 p1) {
    for (i64 p = p0; p < p1; ++p) {
      const i64 n0 = (N * p / parts) / 16 * 16, n1 = p + 1 == parts ? N : (N * (p + 1) / parts) / 16 * 16;
      gemm(false, tb, M, n1 - n0, K, T(1), A, lda, tb ? W + n0 * ldw : W + n0, ldw, beta, C + n0, ldc);
    }
  });
}

// C[M, N] = A[M, K] op(W) + beta C.
template <class T> void step_gemm(i64 M, const T* A, i64 lda, const StepWeight& w, T beta, T* C, i64 ldc) {
  if constexpr (std::is_same_v<T, float>)
    if (w.packed) return packed_gemm(M, A, lda, *w.packed, beta, C, ldc);
  split_gemm<T>(w.trans, M, w.N, w.K, A, lda, static_cast<const T*>(w.w), w.ld, beta, C, ldc);
}

}  // namespace ht
