// The seam where training across processes plugs in. The trainer asks its Comm who it is (rank
// and world, for the sampler's shard and the evaluation's part), writes files only on the root,
// and sums the flat gradient buffer and the evaluation sums across processes through it. The
// single-process Comm below does nothing: a run without a launcher makes no call to anyone.
#pragma once
#include <cstdint>

namespace ht {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const { return 0; }
  virtual int world() const { return 1; }
  bool root() const { return rank() == 0; }
  // In place: every process ends with the elementwise sum over all processes.
  virtual void sum(float* data, std::int64_t n) {}
  virtual void sum(double* data, std::int64_t n) {}
};

}  // namespace ht
