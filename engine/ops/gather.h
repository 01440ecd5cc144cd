// Flat gather: rearrange (or pick) elements of a tensor by a precomputed index, e.g. the
// permutation that turns generated kernel blocks into a conv kernel [O, C, f, f] (Eq. 3 tiling).
#pragma once
#include <vector>

#include "engine/tape.h"

namespace ht {

// out.flat[k] = x.flat[index.flat[k]] for k in [0, out_shape.numel()).
// index: i32, any shape, index.numel() == out_shape.numel(), values in [0, x.numel()).
// Backward: dx.flat[index[k]] += dout.flat[k]. When the index is injective (a permutation or a
// selection without repeats, checked at record time) the scatter runs in parallel, each dx
// element written by one k; otherwise it runs sequentially in k order (deterministic).
Var gather_flat(Tape& t, const Var& x, const Tensor& index, const Shape& out_shape);

// The index that makes gather_flat equal to a transpose of logical axes (numpy's
// x.transpose(perm)): x is read as a row-major array of `in_extents` (up to 6 axes, product
// = x.numel()), and the result has extents out[k] = in_extents[perm[k]], row-major.
// Returns an i32 tensor of shape [product of extents].
Tensor permutation_index(const std::vector<i64>& in_extents, const std::vector<int>& perm);

}  // namespace ht
