#include "bench/fma_peak.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include <tbb/task_arena.h>

#include "bench/machine.h"

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

namespace ht {

namespace {

constexpr long kIters = 20'000'000;  // per thread: 12 x kIters FMAs on full registers
constexpr int kChains = 12;          // independent accumulators: enough to cover 2 units x 4-6 cycles of latency

// Runs kIters rounds of kChains FMAs; returns a value that depends on every chain so nothing is
// optimised away.
float chains() {
#if defined(__AVX512F__)
  __m512 acc[kChains];
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  for (long i = 0; i < kIters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  __m512 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm512_add_ps(s, acc[c]);
  return _mm512_reduce_add_ps(s);
#elif defined(__AVX2__) && defined(__FMA__)
  __m256 acc[kChains];
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c));
  for (long i = 0; i < kIters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  __m256 s = acc[0];
  for (int c = 1; c < kChains; ++c) s = _mm256_add_ps(s, acc[c]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
#else
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = float(c);
  for (long i = 0; i < kIters; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999999f + 1e-7f;
  float s = 0;
  for (float v : acc) s += v;
  return s;
#endif
}

}  // namespace

FmaPeak measure_fma_peak(int threads, int reps) {
  FmaPeak p;
#if defined(__AVX512F__)
  p.lanes = 16, p.isa = "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  p.lanes = 8, p.isa = "AVX2+FMA";
#endif
  p.threads = threads > 0 ? threads : tbb::this_task_arena::max_concurrency();
  std::atomic<float> sink{0};
  double best = 1e30;
  for (int r = 0; r < std::max(1, reps); ++r) {
    std::vector<std::thread> pool;
    const double t0 = seconds_now();
    for (int t = 0; t < p.threads; ++t) pool.emplace_back([&] { sink = sink + chains(); });
    for (auto& th : pool) th.join();
    best = std::min(best, seconds_now() - t0);
  }
  p.flops = 2.0 * double(p.lanes) * double(kChains) * double(kIters) * double(p.threads) / best;
  return p;
}

}  // namespace ht
