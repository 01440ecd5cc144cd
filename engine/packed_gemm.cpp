#include "engine/packed_gemm.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "engine/blas.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace ht {

namespace {
constexpr std::int64_t kPanel = 16;  // columns per panel: one AVX-512 register of floats
constexpr int kMR = 8, kNR = 3;      // register tile: 8 rows x 3 panels = 24 accumulators
}  // namespace

void PackedMatrix::pack(const float* W, std::int64_t K, std::int64_t N, std::int64_t ldw, bool transpose) {
  if (K <= 0 || N <= 0) throw std::invalid_argument("PackedMatrix::pack: empty matrix");
  const std::int64_t panels = (N + kPanel - 1) / kPanel, need = panels * K * kPanel;
  if (need > capacity_) {
    data_ = std::unique_ptr<float, void (*)(void*)>(static_cast<float*>(aligned_alloc64(std::size_t(need) * sizeof(float))),
                                                    aligned_free64);
    capacity_ = need;
  }
  K_ = K;
  N_ = N;
  ld_ = ldw;
  trans_ = transpose;
  src_ = W;
  float* out = data_.get();
  parallel_for(panels, 4, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t p = p0; p < p1; ++p) {
      float* dst = out + p * K * kPanel;
      const std::int64_t n0 = p * kPanel, width = std::min(kPanel, N - n0);
      for (std::int64_t k = 0; k < K; ++k) {
        float* d = dst + k * kPanel;
        if (!transpose) {
          std::memcpy(d, W + k * ldw + n0, std::size_t(width) * sizeof(float));
        } else {
          for (std::int64_t c = 0; c < width; ++c) d[c] = W[(n0 + c) * ldw + k];
        }
        for (std::int64_t c = width; c < kPanel; ++c) d[c] = 0.0f;
      }
    }
  });
}

#if defined(__AVX512F__)

bool packed_gemm_native() { return true; }

namespace {

// C tile [MR rows, NR panels] = A rows times the NR panels starting at `wp` (+ beta C). The last
// panel's store is masked to `last` columns.
template <int MR, int NR>
void tile(std::int64_t K, const float* A, std::int64_t lda, const float* wp, std::int64_t pstride, float beta, float* C,
          std::int64_t ldc, __mmask16 last) {
  __m512 acc[MR][NR];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int n = 0; n < NR; ++n) acc[r][n] = _mm512_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    __m512 w[NR];
    #pragma GCC unroll 16
    for (int n = 0; n < NR; ++n) w[n] = _mm512_load_ps(wp + n * pstride + k * kPanel);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 a = _mm512_set1_ps(A[r * lda + k]);
      #pragma GCC unroll 16
      for (int n = 0; n < NR; ++n) acc[r][n] = _mm512_fmadd_ps(a, w[n], acc[r][n]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 16
    for (int n = 0; n < NR; ++n) {
      const __mmask16 m = n == NR - 1 ? last : __mmask16(0xFFFF);
      float* c = C + r * ldc + n * kPanel;
      __m512 v = acc[r][n];
      if (beta != 0.0f) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
      _mm512_mask_storeu_ps(c, m, v);
    }
}

using TileFn = void (*)(std::int64_t, const float*, std::int64_t, const float*, std::int64_t, float, float*, std::int64_t, __mmask16);

template <int MR> constexpr TileFn pick(int nr) { return nr == 1 ? tile<MR, 1> : nr == 2 ? tile<MR, 2> : tile<MR, 3>; }

TileFn tile_fn(int mr, int nr) {
  switch (mr) {
    case 1: return pick<1>(nr);
    case 2: return pick<2>(nr);
    case 3: return pick<3>(nr);
    case 4: return pick<4>(nr);
    case 5: return pick<5>(nr);
    case 6: return pick<6>(nr);
    case 7: return pick<7>(nr);
    default: return pick<8>(nr);
  }
}

}  // namespace

void packed_gemm(std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& W, float beta, float* C, std::int64_t ldc) {
  if (beta != 0.0f && beta != 1.0f) throw std::invalid_argument("packed_gemm: beta must be 0 or 1");
  const std::int64_t K = W.rows(), N = W.cols(), panels = (N + kPanel - 1) / kPanel, groups = (panels + kNR - 1) / kNR;
  const std::int64_t pstride = K * kPanel;
  parallel_for(groups, std::max<std::int64_t>(1, groups / 8), [&](std::int64_t g0, std::int64_t g1) {
    for (std::int64_t g = g0; g < g1; ++g) {
      const std::int64_t p0 = g * kNR, nr = std::min<std::int64_t>(kNR, panels - p0);
      const std::int64_t last_cols = std::min<std::int64_t>(kPanel, N - (p0 + nr - 1) * kPanel);
      const __mmask16 last = __mmask16((1u << last_cols) - 1u);
      const float* wp = W.panels() + p0 * pstride;
      for (std::int64_t r0 = 0; r0 < M; r0 += kMR) {
        const int mr = int(std::min<std::int64_t>(kMR, M - r0));
        tile_fn(mr, int(nr))(K, A + r0 * lda, lda, wp, pstride, beta, C + r0 * ldc + p0 * kPanel, ldc, last);
      }
    }
  });
}

#elif defined(__AVX2__) && defined(__FMA__)

bool packed_gemm_native() { return true; }

namespace {

// AVX2: a panel of 16 columns is two 8-float registers. The register tile is MR rows x one panel:
// 2*MR accumulators, two weight registers and a broadcast (15 of the 16 ymm registers at MR = 6).
constexpr int kMR2 = 6;

// NP = 2: the tile spans two panels (pstride apart), both full. A short row tail (1 or 2 rows)
// takes two at once: over one panel it has only 2 MR independent accumulators, fewer than the FMA
// units' latency x throughput (8 on Zen 3), and ran at about half speed (at M = 32 the 2-row tail
// took 9% of the kernel's time for 6% of the work).
// `next`, when given, is the panel the caller will use after this one: one of its lines is
// prefetched into L2 per k, so its first row tile finds it there instead of in memory (a 16 MB
// weight does not stay in this machine's caches between steps; one core's kernel ran at 82-84
// GFLOP/s on it against 95-96 on a weight held in L2).
template <int MR, int NP>
void tile2(std::int64_t K, const float* A, std::int64_t lda, const float* wp, std::int64_t pstride, float beta, float* C,
           std::int64_t ldc, int cols, const float* next) {
  constexpr int NV = 2 * NP;  // 8-float registers across the tile
  __m256 acc[MR][NV];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    #pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (std::int64_t k = 0; k < K; ++k) {
    if (next) _mm_prefetch(reinterpret_cast<const char*>(next + k * kPanel), _MM_HINT_T1);
    __m256 w[NV];
    #pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = _mm256_load_ps(wp + (v / 2) * pstride + k * kPanel + (v % 2) * 8);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
      #pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, w[v], acc[r][v]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* c = C + r * ldc;
    if (NP == 2 || cols == kPanel) {
      #pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        __m256 x = acc[r][v];
        if (beta != 0.0f) x = _mm256_add_ps(x, _mm256_loadu_ps(c + v * 8));
        _mm256_storeu_ps(c + v * 8, x);
      }
    } else {  // the last, partial panel: through a buffer, so nothing past column N is touched
      alignas(32) float buf[kPanel];
      _mm256_store_ps(buf, acc[r][0]);
      _mm256_store_ps(buf + 8, acc[r][1]);
      for (int j = 0; j < cols; ++j) c[j] = beta != 0.0f ? c[j] + buf[j] : buf[j];
    }
  }
}

using Tile2Fn = void (*)(std::int64_t, const float*, std::int64_t, const float*, std::int64_t, float, float*, std::int64_t, int,
                         const float*);

Tile2Fn tile2_fn(int mr) {
  switch (mr) {
    case 1: return tile2<1, 1>;
    case 2: return tile2<2, 1>;
    case 3: return tile2<3, 1>;
    case 4: return tile2<4, 1>;
    case 5: return tile2<5, 1>;
    default: return tile2<6, 1>;
  }
}

}  // namespace

void packed_gemm(std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& W, float beta, float* C, std::int64_t ldc) {
  if (beta != 0.0f && beta != 1.0f) throw std::invalid_argument("packed_gemm: beta must be 0 or 1");
  const std::int64_t K = W.rows(), N = W.cols(), panels = (N + kPanel - 1) / kPanel, pstride = K * kPanel;
  const std::int64_t full = M / kMR2 * kMR2, tail = M - full;  // rows in whole 6-row tiles, and the rest
  const bool pair_tail = tail > 0 && tail <= 2;
  // Prefetching the next panel pays while two panels fit in L2 beside the rows of A; with K = 4000
  // (the backward's W_h^T, 256 KB panels) it did not help (LSTM B32, two alternated pairs: the
  // backward products 185 and 165 ms per step without it, 184 and 180 with it).
  const bool prefetch = pstride * std::int64_t(sizeof(float)) <= (128 << 10);
  // Work items are pairs of panels, so a short tail can take both at once.
  const std::int64_t pairs = (panels + 1) / 2;
  parallel_for(pairs, std::max<std::int64_t>(1, pairs / 8), [&](std::int64_t q0, std::int64_t q1) {
    for (std::int64_t q = q0; q < q1; ++q) {
      const std::int64_t pa = 2 * q, pb = std::min(panels, pa + 2);
      for (std::int64_t p = pa; p < pb; ++p) {
        const int cols = int(std::min<std::int64_t>(kPanel, N - p * kPanel));
        const float* wp = W.panels() + p * pstride;
        const float* next = prefetch && p + 1 < panels ? wp + pstride : nullptr;
        for (std::int64_t r0 = 0; r0 < full; r0 += kMR2)
          tile2<kMR2, 1>(K, A + r0 * lda, lda, wp, pstride, beta, C + r0 * ldc + p * kPanel, ldc, cols, r0 == 0 ? next : nullptr);
      }
      if (tail == 0) continue;
      if (pair_tail && pb - pa == 2 && N - pa * kPanel >= 2 * kPanel) {
        (tail == 1 ? tile2<1, 2> : tile2<2, 2>)(K, A + full * lda, lda, W.panels() + pa * pstride, pstride, beta,
                                                  C + full * ldc + pa * kPanel, ldc, 2 * kPanel, nullptr);
        continue;
      }
      for (std::int64_t p = pa; p < pb; ++p) {
        const int cols = int(std::min<std::int64_t>(kPanel, N - p * kPanel));
        tile2_fn(int(tail))(K, A + full * lda, lda, W.panels() + p * pstride, pstride, beta, C + full * ldc + p * kPanel, ldc, cols,
                            nullptr);
      }
    }
  });
}

#else

bool packed_gemm_native() { return false; }

void packed_gemm(std::int64_t M, const float* A, std::int64_t lda, const PackedMatrix& W, float beta, float* C, std::int64_t ldc) {
  if (beta != 0.0f && beta != 1.0f) throw std::invalid_argument("packed_gemm: beta must be 0 or 1");
  gemm(false, W.transposed(), M, W.cols(), W.rows(), 1.0f, A, lda, W.source(), W.source_ld(), beta, C, ldc);
}

#endif

}  // namespace ht
