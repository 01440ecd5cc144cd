// The seam where training across processes plugs in. The trainer asks its Comm who it is (rank
// and world, for the sampler's shard and the evaluation's part), writes files only on the root,
// and sums the flat gradient buffer and the evaluation sums across processes through it. The
// single-process Comm below does nothing: a run without a launcher makes no call to anyone.
// train/mpi_comm.h implements it over MPI.
//
// Every call but rank(), world() and abort() is collective: each process of the world makes the
// same calls in the same order, or the job hangs. The trainer keeps that rule by deciding
// everything that leads to a call from numbers all processes share (the step, reduced sums, the
// agreed signal count).
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

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
  // In place: every process ends with the elementwise maximum.
  virtual void max(int* data, std::int64_t n) {}
  // The root's `bytes` bytes at `data` copied into every process's `data`.
  virtual void broadcast(void* data, std::int64_t bytes) {}
  // The root receives every process's `bytes` bytes at `mine` in rank order at `all` (world x
  // bytes; other processes may pass nullptr).
  virtual void gather(const void* mine, std::int64_t bytes, void* all) {
    if (bytes > 0) std::memcpy(all, mine, std::size_t(bytes));
  }
};

// The root's string in every process (its length first, then its bytes).
inline void broadcast_string(Comm& comm, std::string& s) {
  std::int64_t n = std::int64_t(s.size());
  comm.broadcast(&n, sizeof n);
  s.resize(std::size_t(n));
  comm.broadcast(s.data(), n);
}

// The root's flag in every process.
inline bool root_says(Comm& comm, bool flag) {
  int v = flag ? 1 : 0;
  comm.broadcast(&v, sizeof v);
  return v != 0;
}

}  // namespace ht
