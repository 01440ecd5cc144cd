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

// OpenBLAS reads its environment once, when the library loads, so two settings that matter here
// can only be made by re-executing the program with them set:
// - Kernels. Debian's 0.3.21 takes AMD family 25 (Zen 3 and Zen 4) for "Zen" and runs its AVX2
//   kernels, though a Zen 4 has AVX-512 (family 26, Zen 5, it does give AVX-512 ones: Cooperlake,
//   seen 2026-12-01). The AVX2 set halves sgemm on an AVX-512 CPU: 207 against 382 GFLOP/s, 2
//   threads, Zen 5 (EPYC family 26 model 2) with OPENBLAS_CORETYPE=Haswell and SkylakeX. When the
//   loaded set is Haswell or Zen, the CPU and OS have AVX-512 F/CD/BW/DQ/VL (what the SkylakeX
//   kernels use) and OPENBLAS_CORETYPE is unset, we set it to SkylakeX.
// - Spinning. After each multi-threaded call OpenBLAS's workers spin (sched_yield) for 2^28 cycles,
//   about 80 ms, before sleeping: through the fused LSTM's step loop, where oneTBB's worker needs
//   the second core. Timeouts of 4, 18 and 22 took the LSTM B32 H1000 training step from 318 and
//   321 ms to 240-286 ms (two alternated rounds, same Zen 5), and 20 (2^20 cycles, about 0.3 ms)
//   from 317 and 298 to 263 and 254; the engine MLP did not move. We set 20 when it is unset.
// select_blas_environment makes those settings the user has not made and re-executes the program
// (/proc/self/exe, same argv) once; it returns, doing nothing, when there is nothing to set, when
// HYPERTRAIN_BLAS_ENV=keep, or when exec fails. Call it first thing in main, before any thread or
// MPI starts.
void select_blas_environment(char** argv);

// What select_blas_environment would set (nullptr: leave it), from the environment (nullptr =
// unset), the kernel set OpenBLAS loaded, and whether the CPU has AVX-512 F/CD/BW/DQ/VL.
struct BlasEnvironment {
  const char* coretype = nullptr;        // OPENBLAS_CORETYPE
  const char* thread_timeout = nullptr;  // OPENBLAS_THREAD_TIMEOUT
  bool any() const { return coretype != nullptr || thread_timeout != nullptr; }
};
// Whether this CPU and OS run what OpenBLAS's SkylakeX kernels use: AVX-512 F, CD, BW, DQ and VL.
bool cpu_has_avx512_kernels();
BlasEnvironment plan_blas_environment(const char* env_coretype, const char* env_thread_timeout, const char* env_keep,
                                      const char* loaded_core, bool cpu_has_avx512);

}  // namespace ht
