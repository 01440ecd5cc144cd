// Inverted dropout with a counter-based mask (independent of the thread count).
#pragma once
#include <cstdint>

#include "engine/parallel.h"
#include "engine/rng.h"
#include "engine/tape.h"

namespace ht {

// mask[i] = 1/(1-p) if hash_uniform(key, i) >= p, else 0. mask: any float dtype and shape;
// 0 <= p_drop <= 1 (p_drop = 1 gives an all-zero mask). `grain`: elements per parallel task (the
// fused recurrent op, where no OpenBLAS thread is spinning, splits its per-step masks finer).
void dropout_mask(Tensor& mask, double p_drop, std::uint64_t key, std::int64_t grain = kElementGrain);

// y = x * mask with key = rng.next_u64() (one draw per call). Returns x itself, with no node and no
// draw, when !training or p_drop == 0.
Var dropout(Tape& t, const Var& x, double p_drop, Rng& rng, bool training);

}  // namespace ht
