// Broadcasting (NumPy's rule) and its adjoint, sum_to.
//
// Two shapes broadcast when, aligned at their last dimension (a missing leading dimension counts
// as 1), every pair of extents is equal or one of them is 1; the result takes the larger extent
// of each pair. [N, C, H, W] with [C, 1, 1] gives [N, C, H, W]; [3, 1] with [1, 4] gives [3, 4].
// An operand read through a broadcast dimension is read again for every index along it, so its
// gradient is the output's gradient summed over those dimensions: sum_to.
#pragma once
#include <algorithm>

#include "engine/parallel.h"
#include "engine/tape.h"

namespace ht {

// The broadcast shape of a and b; throws std::invalid_argument naming op, both shapes and the
// first dimension that differs when they do not broadcast.
Shape broadcast_shape(const char* op, const Shape& a, const Shape& b);
// True when `small` broadcasts to `big` unchanged: broadcast_shape(small, big) == big.
bool broadcasts_to(const Shape& small, const Shape& big);

// Element strides of two operands over the output of a broadcast, in at most four dimensions:
// output dimensions of extent 1 are dropped, neighbours that both operands read the same way
// (both along, or one of them broadcast) are merged, and the rest is padded with extent 1 in
// front. Element (i0, i1, i2, i3) of the output (row-major over n) reads
// a[i0*sa[0] + ... + i3*sa[3]] and b[i0*sb[0] + ... + i3*sb[3]]; a stride is 0 where the operand is
// broadcast and 1 in the last dimension otherwise.
struct BroadcastDims {
  i64 n[4] = {1, 1, 1, 1};
  i64 sa[4] = {0, 0, 0, 0}, sb[4] = {0, 0, 0, 0};
};
// out must be broadcast_shape(a, b) (or a shape both broadcast to).
BroadcastDims broadcast_dims(const Shape& out, const Shape& a, const Shape& b);

// f(out[i], a[ia(i)], b[ib(i)]) for every output element i, out row-major over d.n (f takes the
// output element by reference: assign or accumulate). Rows of the last dimension are split across
// threads, each element written by one task. `out` may alias an operand that is not broadcast.
template <class T, class F> void broadcast_apply(T* out, const T* a, const T* b, const BroadcastDims& d, F f) {
  const i64 rows = d.n[0] * d.n[1] * d.n[2], cols = d.n[3];
  parallel_for(rows, std::max<i64>(1, kElementGrain / std::max<i64>(cols, 1)), [&](i64 r0, i64 r1) {
    for (i64 r = r0; r < r1; ++r) {
      const i64 i2 = r % d.n[2], i1 = (r / d.n[2]) % d.n[1], i0 = r / (d.n[2] * d.n[1]);
      const T* ar = a + i0 * d.sa[0] + i1 * d.sa[1] + i2 * d.sa[2];
      const T* br = b + i0 * d.sb[0] + i1 * d.sb[1] + i2 * d.sb[2];
      T* o = out + r * cols;
      // The last dimension's strides are 1 or 0; each case gets a contiguous loop that vectorises.
      if (d.sa[3] && d.sb[3]) for (i64 c = 0; c < cols; ++c) f(o[c], ar[c], br[c]);
      else if (d.sa[3]) { const T y = br[0]; for (i64 c = 0; c < cols; ++c) f(o[c], ar[c], y); }
      else if (d.sb[3]) { const T x = ar[0]; for (i64 c = 0; c < cols; ++c) f(o[c], x, br[c]); }
      else for (i64 c = 0; c < cols; ++c) f(o[c], ar[0], br[0]);
    }
  });
}

// Kernel: dst [to] += sign * the sum of src [from] (times factor [from], elementwise, when factor is
// not null) over the dimensions where `to` is broadcast; broadcasts_to(to, from) must hold.
// Deterministic for any thread count: every dst element is owned by one task and receives its
// terms in the row-major order of src. How they are added depends on which dimension is last:
//   last dimension kept (e.g. [R, K] -> [K], the row bias): each term goes straight into dst in T,
//     rows of contiguous columns at a time (columns split across threads);
//   last dimension summed (e.g. [N, C, H*W] -> [C], the scalar): per dst element, a sum in double
//     over eight interleaved partial sums combined in a fixed order, added to dst once at the end
//     (dst elements split across threads);
//   nothing summed (to == from): dst[i] += sign * src[i] (* factor[i]).
template <class T> void sum_to_add(T* dst, const Shape& to, const T* src, const T* factor, const Shape& from, T sign);

// Op: x [from] summed down to `shape`, broadcasts_to(shape, from) required (the error names both).
// Backward: dx += dy broadcast back to x's shape. Saves nothing.
Var sum_to(Tape& t, const Var& x, const Shape& shape);

}  // namespace ht
