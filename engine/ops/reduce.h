// Reductions. An axis reduction removes the axis from the shape.
#pragma once
#include "engine/tape.h"

namespace ht {

Var sum(Tape& t, const Var& x, int axis);
Var mean(Tape& t, const Var& x, int axis);
Var sum_all(Tape& t, const Var& x);   // one element, shape []
Var mean_all(Tape& t, const Var& x);

// [outer, n, inner] extents of x around `axis` (negative counts from the end).
struct AxisSplit { i64 outer, n, inner; int axis; };
AxisSplit split_at_axis(const char* op, const Shape& s, int axis);

}  // namespace ht
