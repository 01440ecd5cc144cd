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

bool should_select_avx512_blas(const char* openblas_coretype, const char* hypertrain_blas_core, const char* loaded_core,
                               bool cpu_has_avx512) {
  if (openblas_coretype != nullptr) return false;  // the user's choice, or our own re-exec
  if (hypertrain_blas_core != nullptr && std::strcmp(hypertrain_blas_core, "keep") == 0) return false;
  if (loaded_core == nullptr || (std::strcmp(loaded_core, "Haswell") != 0 && std::strcmp(loaded_core, "Zen") != 0)) return false;
  return cpu_has_avx512;
}

void select_blas_core(char** argv) {
  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") &&
                      __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                      __builtin_cpu_supports("avx512vl");
  if (!should_select_avx512_blas(std::getenv("OPENBLAS_CORETYPE"), std::getenv("HYPERTRAIN_BLAS_CORE"), blas_core(), avx512))
    return;
  if (setenv("OPENBLAS_CORETYPE", "SkylakeX", 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("OPENBLAS_CORETYPE");  // exec failed: carry on with the kernels already loaded
}

}  // namespace ht
