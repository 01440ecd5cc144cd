#include "engine/blas.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace ht {

void gemm(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, float alpha, const float* A,
          std::int64_t lda, const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
              alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

void gemm(bool ta, bool tb, std::int64_t M, std::int64_t N, std::int64_t K, double alpha, const double* A,
          std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc) {
  if (M == 0 || N == 0) return;
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
              alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

const char* blas_core() { return openblas_get_corename(); }

BlasEnvironment plan_blas_environment(const char* env_coretype, const char* env_thread_timeout, const char* env_keep,
                                      const char* loaded_core, bool cpu_has_avx512) {
  BlasEnvironment plan;
  if (env_keep != nullptr && std::strcmp(env_keep, "keep") == 0) return plan;
  const bool avx2_set = loaded_core != nullptr && (std::strcmp(loaded_core, "Haswell") == 0 || std::strcmp(loaded_core, "Zen") == 0);
  if (env_coretype == nullptr && avx2_set && cpu_has_avx512) plan.coretype = "SkylakeX";
  if (env_thread_timeout == nullptr) plan.thread_timeout = "20";
  return plan;
}

bool cpu_has_avx512_kernels() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

void select_blas_environment(char** argv) {
  const BlasEnvironment plan = plan_blas_environment(std::getenv("OPENBLAS_CORETYPE"), std::getenv("OPENBLAS_THREAD_TIMEOUT"),
                                                     std::getenv("HYPERTRAIN_BLAS_ENV"), blas_core(), cpu_has_avx512_kernels());
  if (!plan.any()) return;
  if (plan.coretype != nullptr && setenv("OPENBLAS_CORETYPE", plan.coretype, 1) != 0) return;
  if (plan.thread_timeout != nullptr && setenv("OPENBLAS_THREAD_TIMEOUT", plan.thread_timeout, 1) != 0) return;
  execv("/proc/self/exe", argv);
  // exec failed: carry on with the library as loaded, and leave the environment as it was
  if (plan.coretype != nullptr) unsetenv("OPENBLAS_CORETYPE");
  if (plan.thread_timeout != nullptr) unsetenv("OPENBLAS_THREAD_TIMEOUT");
}

}  // namespace ht
