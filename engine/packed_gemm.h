// A weight-stationary single-precision GEMM for the recurrent per-step product C = A W, with A a
// small batch of rows (h_{t-1}: 1 to a few hundred) and W a weight matrix that stays the same for
// a whole segment. W is packed once into panels of 16 columns ([panel][k][16], zero-padded) and
// every step reuses the packing, where OpenBLAS re-packs all of W on each call (paper-notes §3,
// issue 5: 54-66% of peak at 32 rows). With AVX-512 the kernel keeps an 8-row x 48-column tile of
// C in 24 registers; with AVX2 + FMA a 6-row x 16-column tile in 12. Panels are split across
// oneTBB's workers, so it runs inside a BlasOnCaller scope as well as outside. Without either it
// falls back to the BLAS gemm (single-threaded inside BlasOnCaller).
#pragma once
#include <cstdint>
#include <memory>

namespace ht {

class PackedMatrix {
 public:
  // W is [K, N] with row stride ldw; with `transpose`, W is stored [N, K] (row stride ldw) and
  // W^T is what gets packed, so C = A W^T.
  void pack(const float* W, std::int64_t K, std::int64_t N, std::int64_t ldw, bool transpose);
  std::int64_t rows() const { return K_; }  // K
  std::int64_t cols() const { return N_; }  // N
  const float* panels() const { return data_.get(); }
  // The unpacked operand, for the fallback path.
  const float* source() const { return src_; }
  std::int64_t source_ld() const { return ld_; }
  bool transposed() const { return trans_; }

 private:
  std::int64_t K_ = 0, N_ = 0, capacity_ = 0, ld_ = 0;
  bool trans_ = false;
  const float* src_ = nullptr;
  std::unique_ptr<float, void (*)(void*)> data_{nullptr, nullptr};
};

// C[M, N] = A[M, K] (row stride lda) times the packed W, plus beta C (beta 0 or 1).
void packed_gemm(std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& W, float beta, float* C, std::int64_t ldc);

// True when a vector kernel (AVX-512 or AVX2) is compiled in (otherwise packed_gemm calls the BLAS gemm).
bool packed_gemm_native();

}  // namespace ht
