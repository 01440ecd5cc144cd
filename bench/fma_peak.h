// The physical limit of the cores in use: their fused multiply-add throughput, measured by a tiny
// probe that runs 12 independent FMA chains per thread on the widest vector registers compiled in
// (AVX-512, else AVX2, else scalar), one thread per core, for a fixed number of iterations. Every
// benchmark reports its model FLOP/s over this beside the sgemm peak.
#pragma once

namespace ht {

struct FmaPeak {
  double flops = 0;  // FLOP/s over all threads (an FMA counts 2 per lane)
  int lanes = 1;     // floats per register (16, 8 or 1)
  const char* isa = "scalar";
  int threads = 1;
};

// Best of `reps` runs on `threads` threads (0: oneTBB's max concurrency).
FmaPeak measure_fma_peak(int threads = 0, int reps = 5);

}  // namespace ht
