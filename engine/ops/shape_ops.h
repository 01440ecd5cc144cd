// Shape ops: reshape (a view), transpose, concat, split, slice, embedding gather.
#pragma once
#include <vector>

#include "engine/tape.h"

namespace ht {

Var reshape(Tape& t, const Var& x, const Shape& s);             // shares x's data
Var transpose(Tape& t, const Var& x);                           // swaps the last two dims (2-D or 3-D)
Var concat(Tape& t, const std::vector<Var>& xs, int axis);
Var slice(Tape& t, const Var& x, int axis, i64 begin, i64 end); // [begin, end) along axis
std::vector<Var> split(Tape& t, const Var& x, const std::vector<i64>& sizes, int axis);

// rows of table [V, D] picked by ids (i32, any shape S): output S + [D]. Backward scatter-adds.
// An id of -1 gives a row of zeros and no gradient (a dropped one-hot input).
Var embedding(Tape& t, const Var& table, const Tensor& ids);

}  // namespace ht
