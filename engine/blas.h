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

// The OpenBLAS kernel set in use ("Haswell", "SkylakeX", ...).
const char* blas_core();

// OpenBLAS picks its kernels when the library loads, from a table of the CPUs it knows. Debian's
// 0.3.21 takes AMD family 25 (Zen 3 and Zen 4) for "Zen" and runs its AVX2 kernels, though a Zen 4
// has AVX-512; family 26 (Zen 5) it does give AVX-512 ones (Cooperlake, seen 2026-12-01).
// The AVX2 set halves sgemm on an AVX-512 CPU: 207 against 382 GFLOP/s, 2 threads, Zen 5 (EPYC
// family 26 model 2) with OPENBLAS_CORETYPE=Haswell and SkylakeX, 2026-12-01. When the loaded set
// is Haswell or Zen, the CPU and OS have AVX-512 F/CD/BW/DQ/VL (what the SkylakeX kernels use) and
// OPENBLAS_CORETYPE is unset, this re-executes the program with OPENBLAS_CORETYPE=SkylakeX; it
// returns (doing nothing) otherwise or when exec fails. Call it first thing in main, before any
// thread or MPI starts. HYPERTRAIN_BLAS_CORE=keep turns it off.
void select_blas_core(char** argv);
// The decision above, apart from the CPU and the environment (nullptr = variable unset).
bool should_select_avx512_blas(const char* openblas_coretype, const char* hypertrain_blas_core, const char* loaded_core,
                               bool cpu_has_avx512);

}  // namespace ht
