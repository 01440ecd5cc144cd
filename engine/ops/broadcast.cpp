#include "engine/ops/broadcast.h"

#include <string>

namespace ht {

namespace {

// Extent of dimension k of s counted from the last (k = 0 is the last); 1 beyond its rank.
i64 from_back(const Shape& s, int k) { return k < s.nd ? s[s.nd - 1 - k] : 1; }

}  // namespace

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  Shape out;
  out.nd = std::max(a.nd, b.nd);
  for (int k = 0; k < out.nd; ++k) {
    i64 ea = from_back(a, k), eb = from_back(b, k);
    if (ea != eb && ea != 1 && eb != 1)
      shape_error(op, "cannot broadcast " + a.str() + " with " + b.str() + ": dimension " + std::to_string(out.nd - 1 - k) +
                          " of the result would need " + std::to_string(ea) + " and " + std::to_string(eb) +
                          " (shapes align at their last dimension; each pair of extents must be equal or 1)");
    out[out.nd - 1 - k] = ea == 1 ? eb : ea;
  }
  return out;
}

bool broadcasts_to(const Shape& small, const Shape& big) {
  if (small.nd > big.nd) return false;  // the result would have small's rank
  for (int k = 0; k < small.nd; ++k) {
    i64 e = from_back(small, k);
    if (e != 1 && e != from_back(big, k)) return false;
  }
  return true;
}

BroadcastDims broadcast_dims(const Shape& out, const Shape& a, const Shape& b) {
  // Merged groups, innermost first: extent, whether each operand is read along it, its strides.
  struct Group { i64 n, sa, sb; bool along_a, along_b; };
  Group g[4];
  int groups = 0;
  i64 stride_a = 1, stride_b = 1;  // element strides of the current dimension in a and in b
  for (int k = 0; k < out.nd; ++k) {
    const i64 e = from_back(out, k), ea = from_back(a, k), eb = from_back(b, k);
    if (e != 1) {
      const bool along_a = ea == e, along_b = eb == e;
      if (groups > 0 && g[groups - 1].along_a == along_a && g[groups - 1].along_b == along_b)
        g[groups - 1].n *= e;  // contiguous with the group inside it, for both operands
      else
        g[groups++] = {e, along_a ? stride_a : 0, along_b ? stride_b : 0, along_a, along_b};
    }
    stride_a *= ea;
    stride_b *= eb;
  }
  BroadcastDims d;
  for (int i = 0; i < groups; ++i) {
    d.n[3 - i] = g[i].n;
    d.sa[3 - i] = g[i].sa;
    d.sb[3 - i] = g[i].sb;
  }
  return d;
}

namespace {

// Collapsed form of a reduction from `from` to `to`: dimensions of extent 1 in `from` dropped,
// neighbours both kept or both summed merged; n[0] is the innermost group.
struct ReduceGroups {
  i64 n[4];
  bool summed[4];
  int count = 0;
};

ReduceGroups reduce_groups(const Shape& to, const Shape& from) {
  ReduceGroups r;
  for (int k = 0; k < from.nd; ++k) {
    i64 e = from_back(from, k);
    if (e == 1) continue;
    bool summed = from_back(to, k) == 1;
    if (r.count > 0 && r.summed[r.count - 1] == summed) {
      r.n[r.count - 1] *= e;
    } else {
      r.n[r.count] = e;
      r.summed[r.count] = summed;
      ++r.count;
    }
  }
  return r;
}

// Group extent counted from the inside (1 beyond the last group).
i64 group(const ReduceGroups& r, int g) { return g < r.count ? r.n[g] : 1; }

// dst[k1, K2] += sign * sum over (r1, r2) of src[r1, k1, r2, K2] (* factor), columns [c0, c1).
template <class T, bool kFactor>
void sum_rows(T* dst, const T* src, const T* factor, i64 R1, i64 K1, i64 R2, i64 K2, i64 k1, i64 c0, i64 c1, T sign) {
  T* d = dst + k1 * K2;
  for (i64 r1 = 0; r1 < R1; ++r1)
    for (i64 r2 = 0; r2 < R2; ++r2) {
      const i64 off = ((r1 * K1 + k1) * R2 + r2) * K2;
      const T* s = src + off;
      if constexpr (kFactor) {
        const T* f = factor + off;
        for (i64 c = c0; c < c1; ++c) d[c] += sign * s[c] * f[c];
      } else {
        for (i64 c = c0; c < c1; ++c) d[c] += sign * s[c];
      }
    }
}

// dst[k1, k2] += sign * T(sum over (r1, r2) of src[k1, r1, k2, r2] (* factor)), dst elements
// [o0, o1). The sum is in double: element j of each run of R2 goes to partial sum j mod 8 (eight
// independent chains instead of one long dependency), and the partials are combined in a fixed
// order, as grad_norm does.
template <class T, bool kFactor>
void sum_runs(T* dst, const T* src, const T* factor, i64 K1, i64 R1, i64 K2, i64 R2, i64 o0, i64 o1, T sign) {
  for (i64 o = o0; o < o1; ++o) {
    const i64 k1 = o / K2, k2 = o % K2;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (i64 r1 = 0; r1 < R1; ++r1) {
      const i64 off = ((k1 * R1 + r1) * K2 + k2) * R2;
      const T* s = src + off;
      const T* f = kFactor ? factor + off : nullptr;
      auto term = [&](i64 i) {
        if constexpr (kFactor) return double(s[i]) * double(f[i]);
        else return double(s[i]);
      };
      i64 i = 0;
      for (; i + 8 <= R2; i += 8)
        for (int j = 0; j < 8; ++j) acc[j] += term(i + j);
      for (int j = 0; i < R2; ++i, ++j) acc[j] += term(i);
    }
    const double sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    dst[o] += sign * T(sum);
  }
}

template <class T, bool kFactor>
void sum_to_impl(T* dst, const Shape& to, const T* src, const T* factor, const Shape& from, T sign) {
  const ReduceGroups g = reduce_groups(to, from);
  bool any_summed = false;
  for (int i = 0; i < g.count; ++i) any_summed = any_summed || g.summed[i];
  if (!any_summed) {
    parallel_for(from.numel(), kElementGrain, [&](i64 lo, i64 hi) {
      if constexpr (kFactor) for (i64 i = lo; i < hi; ++i) dst[i] += sign * src[i] * factor[i];
      else for (i64 i = lo; i < hi; ++i) dst[i] += sign * src[i];
    });
    return;
  }
  if (!g.summed[0]) {
    // from = [R1, K1, R2, K2], to = [K1, K2] (groups padded with extent 1 in front).
    const i64 K2 = group(g, 0), R2 = group(g, 1), K1 = group(g, 2), R1 = group(g, 3);
    if (K1 == 1)  // one run of columns: split them (64 at least per task, as the row bias always was)
      parallel_for(K2, 64, [&](i64 c0, i64 c1) { sum_rows<T, kFactor>(dst, src, factor, R1, K1, R2, K2, 0, c0, c1, sign); });
    else
      parallel_for(K1, std::max<i64>(1, kElementGrain / std::max<i64>(R1 * R2 * K2, 1)), [&](i64 k0, i64 k1e) {
        for (i64 k1 = k0; k1 < k1e; ++k1) sum_rows<T, kFactor>(dst, src, factor, R1, K1, R2, K2, k1, 0, K2, sign);
      });
  } else {
    // from = [K1, R1, K2, R2], to = [K1, K2].
    const i64 R2 = group(g, 0), K2 = group(g, 1), R1 = group(g, 2), K1 = group(g, 3);
    parallel_for(K1 * K2, std::max<i64>(1, kElementGrain / std::max<i64>(R1 * R2, 1)),
                 [&](i64 o0, i64 o1) { sum_runs<T, kFactor>(dst, src, factor, K1, R1, K2, R2, o0, o1, sign); });
  }
}

}  // namespace

template <class T> void sum_to_add(T* dst, const Shape& to, const T* src, const T* factor, const Shape& from, T sign) {
  if (factor) sum_to_impl<T, true>(dst, to, src, factor, from, sign);
  else sum_to_impl<T, false>(dst, to, src, factor, from, sign);
}

template void sum_to_add<float>(float*, const Shape&, const float*, const float*, const Shape&, float);
template void sum_to_add<double>(double*, const Shape&, const double*, const double*, const Shape&, double);

Var sum_to(Tape& t, const Var& x, const Shape& shape) {
  const Shape from = x.shape();  // a copy: recording may move the tape's slots
  if (!broadcasts_to(shape, from))
    shape_error("sum_to", "cannot sum " + from.str() + " to " + shape.str() + ": " + shape.str() + " does not broadcast to " +
                              from.str() + " (aligned at the last dimension, each extent equal to x's or 1, rank at most x's)");
  Tensor X = x.value();
  Tensor Y = t.alloc_zeros(shape, X.dtype());
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sum_to_add<T>(Y.data<T>(), shape, X.data<T>(), nullptr, from, T(1));
  });
  return t.record("sum_to", Y, {x}, [x, from, shape](const Tensor& dY) {
    dispatch_float(dY.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* dx = x.grad().template data<T>();
      // dx += dy read through the broadcast: an add with dx as its own first operand.
      broadcast_apply<T>(dx, dx, dY.data<T>(), broadcast_dims(from, from, shape), [](T& o, T a, T b) { o = a + b; });
    });
  });
}

}  // namespace ht
