#include "engine/ops/dropout.h"

#include <cmath>
#include <string>

#include "engine/parallel.h"

namespace ht {

namespace {

void check_p(double p) {
  if (!(p >= 0 && p <= 1)) shape_error("dropout", "p_drop must be in [0, 1], got " + std::to_string(p));
}

}  // namespace

void dropout_mask(Tensor& mask, double p_drop, std::uint64_t key, std::int64_t grain) {
  check_p(p_drop);
  i64 n = mask.numel();
  dispatch_float(mask.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T keep = p_drop < 1 ? T(1.0 / (1.0 - p_drop)) : T(0);
    T* m = mask.data<T>();
    // hash_uniform(key, i) >= p  <=>  hash_bits53(key, i) >= p 2^53  <=>  bits >= ceil(p 2^53): the same
    // mask as the double comparison (p 2^53 is exact), in integer arithmetic that vectorises.
    const std::uint64_t threshold = std::uint64_t(std::ceil(p_drop * 0x1.0p53));
    parallel_for(n, grain, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) m[i] = hash_bits53(key, std::uint64_t(i)) >= threshold ? keep : T(0);
    });
  });
}

Var dropout(Tape& t, const Var& x, double p_drop, Rng& rng, bool training) {
  check_p(p_drop);
  if (!training || p_drop == 0) return x;
  Tensor X = x.value();
  i64 n = X.numel();
  // Saved: mask [x's shape], the per-element scale 0 or 1/(1-p).
  Tensor mask = t.alloc(X.shape(), X.dtype());
  dropout_mask(mask, p_drop, rng.next_u64());
  Tensor Y = t.alloc(X.shape(), X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T *xv = X.data<T>(), *m = mask.data<T>();
    T* y = Y.data<T>();
    parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
      for (i64 i = lo; i < hi; ++i) y[i] = xv[i] * m[i];
    });
  });
  return t.record("dropout", Y, {x}, [x, mask, n](const Tensor& dY) {
    if (!x.needs_grad()) return;
    dispatch_float(dY.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T *g = dY.data<T>(), *m = mask.data<T>();
      T* dx = x.grad().template data<T>();
      parallel_for(n, kElementGrain, [&](i64 lo, i64 hi) {
        for (i64 i = lo; i < hi; ++i) dx[i] += g[i] * m[i];
      });
    });
  });
}

}  // namespace ht
