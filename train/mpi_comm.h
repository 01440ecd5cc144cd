// Training across processes over MPI: `mpirun -np N hypertrain train ...` (README, "MPI").
//
// launched_comm() looks at the environment a launcher sets (OMPI_COMM_WORLD_SIZE from Open MPI's
// mpirun, PMI_SIZE from MPICH's Hydra and Slurm's PMI-2, PMIX_RANK from any PMIx launcher). Only
// then is MPI_Init called; a process started without a launcher makes no MPI call at all and gets
// nullptr (the single-process Comm of comm.h).
//
// MpiComm sums the flat gradient buffer with MPI_Allreduce in place, in buckets of kAllreduceBucketBytes:
// a bucket bounds MPI's int element count and its internal staging buffers, and the buckets run
// one after the other after the backward pass. Starting them during the backward pass does not
// pay here, and is not done: the recurrent models' weights are shared by every time step, so no
// bucket of their gradient is final before backpropagation through time reaches the first step,
// i.e. before the backward pass ends; the MNIST ConvNets' gradients are a few thousand to a few
// hundred thousand floats, whose sum is a small part of a step (README, "MPI", has the measured
// numbers: `hypertrain bench --allreduce`).
//
// Threads per rank: train.threads = 0 means every core of this machine shared by the ranks on it
// (cores / OMPI_COMM_WORLD_LOCAL_SIZE, at least 1); a given train.threads is taken as it is.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "train/comm.h"

namespace ht {

// True when an MPI launcher started this process (the environment variables above).
bool launched_by_mpi();

// The world's Comm when launched_by_mpi() (MPI_Init here, MPI_Finalize when it is destroyed);
// otherwise nullptr. Throws when a launcher started a world of more than one process and this
// build has no MPI (CMake found none).
std::unique_ptr<Comm> launched_comm();

// The gradient sum's bucket: 8 MB, 2 M floats per MPI_Allreduce.
inline constexpr std::int64_t kAllreduceBucketBytes = 8 << 20;

// Ranks of this job on this machine (1 without a launcher).
int ranks_on_this_machine();

// The default thread count of one rank: every core of the machine, shared by its ranks.
int default_threads_per_rank();

// Prints "hypertrain CMD: rank R of N: error: MESSAGE" and ends the whole job (MPI_Abort): the
// other ranks stop within seconds wherever they are, even waiting in a collective call.
[[noreturn]] void abort_job(const Comm& comm, const std::string& cmd, const std::string& message);

#ifdef HT_WITH_MPI
class MpiComm : public Comm {
 public:
  MpiComm();   // MPI_Init_thread (funneled: only the main thread calls MPI; TBB's workers never do)
  ~MpiComm() override;  // MPI_Finalize
  int rank() const override { return rank_; }
  int world() const override { return world_; }
  void sum(float* data, std::int64_t n) override;
  void sum(double* data, std::int64_t n) override;
  void max(int* data, std::int64_t n) override;
  void broadcast(void* data, std::int64_t bytes) override;
  void gather(const void* mine, std::int64_t bytes, void* all) override;

 private:
  int rank_ = 0, world_ = 1;
};
#endif

}  // namespace ht
