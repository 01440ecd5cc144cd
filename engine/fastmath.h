// Branch-free exp / sigmoid / tanh for float that loops can vectorise (glibc's expf, tanhf are
// scalar calls). exp: Cody-Waite range reduction and Cephes' degree-5 polynomial, within about
// 2 ulp on [-87, 88] (inputs are clamped there). tanh(x) = 1 - 2 / (e^{2x} + 1) away from 0; its
// relative error is a few ulp everywhere (a polynomial near 0). Double stays on std:: (the tests'
// oracle). lane_sum: a row reduction that vectorises without -ffast-math.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ht {

inline float fast_expf(float x) {
  x = std::min(std::max(x, -87.0f), 88.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * r * r + r + 1.0f;
  const std::int32_t bits = (std::int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

template <class T> inline T fast_sigmoid(T x) {
  if constexpr (sizeof(T) == 4) return 1.0f / (1.0f + fast_expf(-x));
  else return T(1) / (T(1) + std::exp(-x));
}

template <class T> inline T fast_tanh(T x) {
  if constexpr (sizeof(T) == 4) {
    // |x| < 0.625: Cephes' odd polynomial (relative error about 1 ulp; 1 - 2/(e^2x + 1) would
    // lose the relative accuracy of small values to cancellation). Both sides are computed and
    // one selected, so the loop stays branch-free.
    const float z = x * x;
    const float small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z -
                         3.33332819422e-1f) * z * x + x;
    const float large = 1.0f - 2.0f / (1.0f + fast_expf(2.0f * x));
    return std::fabs(x) < 0.625f ? small : large;
  } else {
    return std::tanh(x);
  }
}

// Σ_{j<n} term(j) in kSumLanes independent partial sums (lane l takes j ≡ l mod kSumLanes),
// combined pairwise at the end. Without -ffast-math a single running sum is one serial chain of
// adds (a few cycles per element); separate lanes let the compiler keep them in vector registers.
// The order is fixed, so a result does not depend on the ISA or the thread count.
constexpr int kSumLanes = 16;

template <class T, class F> inline T lane_sum(std::int64_t n, F&& term) {
  T acc[kSumLanes] = {};
  std::int64_t j = 0;
  for (; j + kSumLanes <= n; j += kSumLanes)
    for (int l = 0; l < kSumLanes; ++l) acc[l] += term(j + l);
  for (int l = 0; j + l < n; ++l) acc[l] += term(j + l);
  for (int w = kSumLanes / 2; w > 0; w /= 2)
    for (int l = 0; l < w; ++l) acc[l] += acc[l + w];
  return acc[0];
}

template <class T> inline T lane_dot(const T* a, const T* b, std::int64_t n) {
  return lane_sum<T>(n, [&](std::int64_t j) { return a[j] * b[j]; });
}

}  // namespace ht
