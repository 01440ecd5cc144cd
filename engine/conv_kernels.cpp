#include "engine/conv_kernels.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

#include <tbb/task_arena.h>

#include "engine/parallel.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace ht {

namespace {

constexpr i64 kL = 16;        // output channels per panel
constexpr i64 kChunks = 16;   // weight-gradient partials (fixed, so sums do not depend on threads)

i64 round16(i64 n) { return (n + 15) / 16 * 16; }
i64 panels(i64 O) { return (O + kL - 1) / kL; }

// Where each part of the scratch starts (floats, every part 64-byte aligned).
struct Layout {
  i64 Hp, Wp, Opad;
  std::size_t wpack, per_worker, xp, tile, partials, total;
};

Layout layout(const ConvShape& g, int workers) {
  Layout L;
  L.Hp = g.Ho + g.kh - 1;
  L.Wp = g.Wo + g.kw - 1;
  L.Opad = panels(g.O) * kL;
  L.wpack = std::size_t(round16(L.Opad * g.K()));
  L.xp = std::size_t(round16(g.C * L.Hp * L.Wp + 16));  // + slack: a tile may read past a row's end
  L.tile = std::size_t(round16(g.Ho * g.Wo * L.Opad));
  L.per_worker = L.xp + L.tile;
  L.partials = std::size_t(kChunks) * std::size_t(round16(g.K() * L.Opad));
  L.total = L.wpack + std::size_t(workers) * L.per_worker + L.partials;
  return L;
}

void check(const ConvShape& g, const float* scratch) {
  if (g.pad_top < 0 || g.pad_left < 0 || g.Ho < 1 || g.Wo < 1 || g.kh < 1 || g.kw < 1)
    throw std::invalid_argument("conv_direct: pads must be >= 0 and extents positive");
  if (reinterpret_cast<std::uintptr_t>(scratch) % 64 != 0) throw std::invalid_argument("conv_direct: scratch must be 64-byte aligned");
}

// xp[c, yy, xx] = x[c, yy - pad_top, xx - pad_left], zero outside: the plane every output of the
// image reads, [C, Hp, Wp] with Hp = Ho + kh - 1, Wp = Wo + kw - 1. The slack after it is zeroed.
void pad_image(float* xp, const float* x, const ConvShape& g, const Layout& L) {
  std::memset(xp, 0, L.xp * sizeof(float));
  for (i64 c = 0; c < g.C; ++c)
    for (i64 yy = 0; yy < L.Hp; ++yy) {
      const i64 iy = yy - g.pad_top;
      if (iy < 0 || iy >= g.H) continue;
      const i64 lo = std::max<i64>(0, g.pad_left), hi = std::min<i64>(L.Wp, g.W + g.pad_left);
      if (lo < hi) std::memcpy(xp + (c * L.Hp + yy) * L.Wp + lo, x + (c * g.H + iy) * g.W + (lo - g.pad_left), std::size_t(hi - lo) * sizeof(float));
    }
}

// wpack[p, k, l] = w[p*16 + l, k] (0 for channels past O).
void pack_kernel(float* wpack, const float* w, const ConvShape& g, const Layout& L) {
  const i64 K = g.K();
  std::memset(wpack, 0, std::size_t(L.Opad * K) * sizeof(float));
  for (i64 o = 0; o < g.O; ++o)
    for (i64 k = 0; k < K; ++k) wpack[((o / kL) * K + k) * kL + o % kL] = w[o * K + k];
}

// out[r, 0..16) = sum over taps of row(c, i)[j + r] * wp[k, 0..16) for MR output pixels r, one
// panel of 16 output channels. rowbase points at xp[0, oy, ox0]; out's rows are `ldo` apart.
#if defined(__AVX512F__)
constexpr int kMR = 12;
template <int MR>
void fwd_tile(const float* xbase, const i64* tap, i64 K, const float* wp, float* out, i64 ldo) {
  __m512 acc[MR];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
  for (i64 k = 0; k < K; ++k) {
    const float* x = xbase + tap[k];
    const __m512 w0 = _mm512_load_ps(wp + k * kL);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(x[r]), w0, acc[r]);
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) _mm512_storeu_ps(out + r * ldo, acc[r]);
}
// acc[r, 0..16) = sum over pixels of xp[tap_r + pixel] * dyt[pixel, 0..16), added to part[r].
template <int MR>
void wgrad_tile(const float* xp, const i64* tap, const i64* pix, i64 npix, const float* dyt, i64 ldd, float* part) {
  __m512 acc[MR];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_ps();
  const float* xs[MR];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) xs[r] = xp + tap[r];
  for (i64 q = 0; q < npix; ++q) {
    const __m512 d0 = _mm512_load_ps(dyt + q * ldd);
    const i64 at = pix[q];
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(xs[r][at]), d0, acc[r]);
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) _mm512_store_ps(part + r * kL, _mm512_add_ps(_mm512_load_ps(part + r * kL), acc[r]));
}
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int kMR = 6;
template <int MR>
void fwd_tile(const float* xbase, const i64* tap, i64 K, const float* wp, float* out, i64 ldo) {
  __m256 acc[MR][2];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (i64 k = 0; k < K; ++k) {
    const float* x = xbase + tap[k];
    const __m256 w0 = _mm256_load_ps(wp + k * kL), w1 = _mm256_load_ps(wp + k * kL + 8);
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(x + r);
      acc[r][0] = _mm256_fmadd_ps(a, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, w1, acc[r][1]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm256_storeu_ps(out + r * ldo, acc[r][0]);
    _mm256_storeu_ps(out + r * ldo + 8, acc[r][1]);
  }
}
template <int MR>
void wgrad_tile(const float* xp, const i64* tap, const i64* pix, i64 npix, const float* dyt, i64 ldd, float* part) {
  __m256 acc[MR][2];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* xs[MR];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) xs[r] = xp + tap[r];
  for (i64 q = 0; q < npix; ++q) {
    const __m256 d0 = _mm256_load_ps(dyt + q * ldd), d1 = _mm256_load_ps(dyt + q * ldd + 8);
    const i64 at = pix[q];
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m256 a = _mm256_broadcast_ss(xs[r] + at);
      acc[r][0] = _mm256_fmadd_ps(a, d0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(a, d1, acc[r][1]);
    }
  }
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(part + r * kL, _mm256_add_ps(_mm256_load_ps(part + r * kL), acc[r][0]));
    _mm256_store_ps(part + r * kL + 8, _mm256_add_ps(_mm256_load_ps(part + r * kL + 8), acc[r][1]));
  }
}
#else
constexpr int kMR = 4;
template <int MR>
void fwd_tile(const float* xbase, const i64* tap, i64 K, const float* wp, float* out, i64 ldo) {
  float acc[MR][kL] = {};
  for (i64 k = 0; k < K; ++k)
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
      for (i64 l = 0; l < kL; ++l) acc[r][l] += xbase[tap[k] + r] * wp[k * kL + l];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) std::memcpy(out + r * ldo, acc[r], sizeof(acc[r]));
}
template <int MR>
void wgrad_tile(const float* xp, const i64* tap, const i64* pix, i64 npix, const float* dyt, i64 ldd, float* part) {
  float acc[MR][kL] = {};
  for (i64 q = 0; q < npix; ++q)
    #pragma GCC unroll 16
    for (int r = 0; r < MR; ++r)
      for (i64 l = 0; l < kL; ++l) acc[r][l] += xp[tap[r] + pix[q]] * dyt[q * ldd + l];
  #pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
    for (i64 l = 0; l < kL; ++l) part[r * kL + l] += acc[r][l];
}
#endif

using FwdTile = void (*)(const float*, const i64*, i64, const float*, float*, i64);
using WgradTile = void (*)(const float*, const i64*, const i64*, i64, const float*, i64, float*);

// Offset of every tap k = (c*kh + i)*kw + j in the padded plane [C, Hp, Wp].
std::vector<i64> tap_offsets(const ConvShape& g, const Layout& L) {
  std::vector<i64> tap(std::size_t(g.K() + kMR), 0);
  for (i64 c = 0; c < g.C; ++c)
    for (i64 i = 0; i < g.kh; ++i)
      for (i64 j = 0; j < g.kw; ++j) tap[std::size_t((c * g.kh + i) * g.kw + j)] = (c * L.Hp + i) * L.Wp + j;
  return tap;
}

template <int... R> FwdTile fwd_fn(int mr, std::integer_sequence<int, R...>) {
  FwdTile f = nullptr;
  ((mr == R + 1 ? (f = fwd_tile<R + 1>, 0) : 0), ...);
  return f;
}
template <int... R> WgradTile wgrad_fn(int mr, std::integer_sequence<int, R...>) {
  WgradTile f = nullptr;
  ((mr == R + 1 ? (f = wgrad_tile<R + 1>, 0) : 0), ...);
  return f;
}

// n items in `tiles` register tiles of sizes as even as possible (the larger first): a short last
// tile would hold too few independent accumulators to hide the FMA latency.
int tile_rows(i64 n, i64 tiles, i64 t) { return int(n / tiles + (t < n % tiles ? 1 : 0)); }

int worker_slot(int workers) { return std::clamp(tbb::this_task_arena::current_thread_index(), 0, workers - 1); }

}  // namespace

std::size_t conv_direct_scratch_floats(const ConvShape& g, int workers) { return layout(g, workers).total; }

ConvShape conv_input_grad_shape(const ConvShape& g) {
  return {g.N, g.O, g.Ho, g.Wo, g.C, g.kh, g.kw, g.H, g.W, g.kh - 1 - g.pad_top, g.kw - 1 - g.pad_left};
}

void conv_direct_forward(float* y, const float* x, const float* w, const ConvShape& g, float beta, float* scratch, int workers) {
  check(g, scratch);
  const Layout L = layout(g, workers);
  float* wpack = scratch;
  pack_kernel(wpack, w, g, L);
  const i64 HoWo = g.Ho * g.Wo, K = g.K(), P = panels(g.O);
  const std::vector<i64> tap = tap_offsets(g, L);
  const i64 row_tiles = (g.Wo + kMR - 1) / kMR;
  parallel_for(g.N, 1, [&](i64 n0, i64 n1) {
    float* mine = scratch + L.wpack + std::size_t(worker_slot(workers)) * L.per_worker;
    float *xp = mine, *tile = mine + L.xp;
    for (i64 n = n0; n < n1; ++n) {
      pad_image(xp, x + n * g.C * g.H * g.W, g, L);
      for (i64 p = 0; p < P; ++p)
        for (i64 oy = 0; oy < g.Ho; ++oy)
          for (i64 t = 0, ox = 0; t < row_tiles; ++t) {
            const int mr = tile_rows(g.Wo, row_tiles, t);
            fwd_fn(mr, std::make_integer_sequence<int, kMR>{})(xp + oy * L.Wp + ox, tap.data(), K, wpack + p * K * kL,
                                                               tile + (oy * g.Wo + ox) * L.Opad + p * kL, L.Opad);
            ox += mr;
          }
      // tile [HoWo, Opad] -> y[n] [O, HoWo]
      float* yn = y + n * g.O * HoWo;
      for (i64 o = 0; o < g.O; ++o) {
        float* yo = yn + o * HoWo;
        const float* t = tile + o;
        if (beta == 0.0f)
          for (i64 q = 0; q < HoWo; ++q) yo[q] = t[q * L.Opad];
        else
          for (i64 q = 0; q < HoWo; ++q) yo[q] += t[q * L.Opad];
      }
    }
  });
}

void conv_direct_weight_grad(float* dw, const float* x, const float* dy, const ConvShape& g, float beta, float* scratch, int workers) {
  check(g, scratch);
  const Layout L = layout(g, workers);
  const i64 HoWo = g.Ho * g.Wo, K = g.K(), P = panels(g.O);
  const std::size_t part_stride = std::size_t(round16(K * L.Opad));
  float* partials = scratch + L.wpack + std::size_t(workers) * L.per_worker;
  const i64 chunks = std::min<i64>(kChunks, g.N);
  const std::vector<i64> tap = tap_offsets(g, L);
  const i64 tap_tiles = (K + kMR - 1) / kMR;
  std::vector<i64> pix(static_cast<std::size_t>(HoWo));  // output pixel q -> its offset oy*Wp + ox in the plane
  for (i64 q = 0; q < HoWo; ++q) pix[std::size_t(q)] = (q / g.Wo) * L.Wp + q % g.Wo;
  parallel_for(chunks, 1, [&](i64 c0, i64 c1) {
    float* mine = scratch + L.wpack + std::size_t(worker_slot(workers)) * L.per_worker;
    float *xp = mine, *dyt = mine + L.xp;
    for (i64 ch = c0; ch < c1; ++ch) {
      float* part = partials + std::size_t(ch) * part_stride;  // [P][K][16]
      std::memset(part, 0, std::size_t(P * K * kL) * sizeof(float));
      for (i64 n = g.N * ch / chunks; n < g.N * (ch + 1) / chunks; ++n) {
        pad_image(xp, x + n * g.C * g.H * g.W, g, L);
        const float* dyn = dy + n * g.O * HoWo;  // -> dyt [HoWo, Opad], zero past O
        for (i64 q = 0; q < HoWo; ++q) {
          float* r = dyt + q * L.Opad;
          for (i64 o = 0; o < g.O; ++o) r[o] = dyn[o * HoWo + q];
          for (i64 o = g.O; o < L.Opad; ++o) r[o] = 0.0f;
        }
        for (i64 p = 0; p < P; ++p)
          for (i64 t = 0, k = 0; t < tap_tiles; ++t) {
            const int mr = tile_rows(K, tap_tiles, t);
            wgrad_fn(mr, std::make_integer_sequence<int, kMR>{})(xp, tap.data() + k, pix.data(), HoWo, dyt + p * kL, L.Opad,
                                                                 part + (p * K + k) * kL);
            k += mr;
          }
      }
    }
  });
  // dw[o, k] (+)= the chunks' partials, in chunk order.
  for (i64 o = 0; o < g.O; ++o)
    for (i64 k = 0; k < K; ++k) {
      float s = 0;
      for (i64 ch = 0; ch < chunks; ++ch) s += partials[std::size_t(ch) * part_stride + std::size_t(((o / kL) * K + k) * kL + o % kL)];
      dw[o * K + k] = beta == 0.0f ? s : dw[o * K + k] + s;
    }
}

void conv_flip_kernel(float* wt, const float* w, i64 O, i64 C, i64 kh, i64 kw) {
  for (i64 o = 0; o < O; ++o)
    for (i64 c = 0; c < C; ++c)
      for (i64 i = 0; i < kh; ++i)
        for (i64 j = 0; j < kw; ++j)
          wt[((c * O + o) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)] = w[((o * C + c) * kh + i) * kw + j];
}

}  // namespace ht
