// Row-major GEMM through cblas: C = alpha * op(A) op(B) + beta * C, op(X) = X or X^T.
// A is M x K after op, B is K x N after op, C is M x N; lda/ldb/ldc are row strides.
#pragma once
#include <cstdint>

namespace ht {

void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, float alpha,
          const float* A, std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc);
void gemm(bool trans_a, bool trans_b, std::int64_t M, std::int64_t N, std::int64_t K, double alpha,
          const double* A, std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc);

// Leading dimensions for dense operands: op(A) is M x K, so A is stored K x M when transposed.
template <class T>
void gemm_dense(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, T alpha, const T* A, const T* B, T beta, T* C) {
  gemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N);
}

}  // namespace ht
