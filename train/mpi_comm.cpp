#include "train/mpi_comm.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "engine/parallel.h"

#ifdef HT_WITH_MPI
#include <mpi.h>
#endif

namespace ht {

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' && x > 0 && x < INT_MAX ? int(x) : fallback;
}

// The world's size as the launcher announced it (0: no launcher).
int launcher_world() {
  if (int n = env_int("OMPI_COMM_WORLD_SIZE", 0)) return n;
  if (int n = env_int("PMI_SIZE", 0)) return n;
  if (std::getenv("PMIX_RANK")) return env_int("PMIX_SIZE", 1);  // PMIx launchers need not say the size
  return 0;
}

}  // namespace

bool launched_by_mpi() { return launcher_world() > 0; }

int ranks_on_this_machine() {
  if (!launched_by_mpi()) return 1;
  if (int n = env_int("OMPI_COMM_WORLD_LOCAL_SIZE", 0)) return n;
  if (int n = env_int("MPI_LOCALNRANKS", 0)) return n;  // MPICH's Hydra
  return env_int("SLURM_NTASKS_PER_NODE", 1);
}

int default_threads_per_rank() { return std::max(1, default_thread_count() / ranks_on_this_machine()); }

#ifdef HT_WITH_MPI

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw std::runtime_error(std::string(what) + " failed: " + std::string(text, std::size_t(len)));
}

// MPI counts are int: a call moves at most this many elements.
constexpr std::int64_t kMaxCount = INT_MAX / 2;

template <class T> void allreduce_buckets(T* data, std::int64_t n, MPI_Datatype type, MPI_Op op, std::int64_t bucket) {
  for (std::int64_t i = 0; i < n; i += bucket) {
    const int count = int(std::min(bucket, n - i));
    check(MPI_Allreduce(MPI_IN_PLACE, data + i, count, type, op, MPI_COMM_WORLD), "MPI_Allreduce");
  }
}

}  // namespace

MpiComm::MpiComm() {
  int provided = 0;
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes, so each becomes an exception naming the call, and from there the
  // rank's message and MPI_Abort (abort_job).
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_);
}

MpiComm::~MpiComm() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiComm::sum(float* data, std::int64_t n) {
  allreduce_buckets(data, n, MPI_FLOAT, MPI_SUM, kAllreduceBucketBytes / std::int64_t(sizeof(float)));
}
void MpiComm::sum(double* data, std::int64_t n) {
  allreduce_buckets(data, n, MPI_DOUBLE, MPI_SUM, kAllreduceBucketBytes / std::int64_t(sizeof(double)));
}
void MpiComm::max(int* data, std::int64_t n) { allreduce_buckets(data, n, MPI_INT, MPI_MAX, kMaxCount); }

void MpiComm::broadcast(void* data, std::int64_t bytes) {
  for (std::int64_t i = 0; i < bytes; i += kMaxCount)
    check(MPI_Bcast(static_cast<char*>(data) + i, int(std::min(kMaxCount, bytes - i)), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
}

void MpiComm::gather(const void* mine, std::int64_t bytes, void* all) {
  if (bytes > kMaxCount) throw std::runtime_error("MpiComm::gather: " + std::to_string(bytes) + " bytes per rank is above the limit of one call");
  check(MPI_Gather(mine, int(bytes), MPI_BYTE, all, int(bytes), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Gather");
}

std::unique_ptr<Comm> launched_comm() {
  if (!launched_by_mpi()) return nullptr;
  return std::make_unique<MpiComm>();
}

void abort_job(const Comm& comm, const std::string& cmd, const std::string& message) {
  std::fprintf(stderr, "hypertrain %s: rank %d of %d: error: %s\n", cmd.c_str(), comm.rank(), comm.world(), message.c_str());
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);  // MPI_Abort does not return; should it, this process still ends
}

#else  // built without MPI

std::unique_ptr<Comm> launched_comm() {
  const int world = launcher_world();
  if (world > 1)
    throw std::runtime_error("an MPI launcher started " + std::to_string(world) +
                             " processes, but this hypertrain was built without MPI (install libopenmpi-dev, run scripts/build.sh again)");
  return nullptr;
}

void abort_job(const Comm& comm, const std::string& cmd, const std::string& message) {
  std::fprintf(stderr, "hypertrain %s: rank %d of %d: error: %s\n", cmd.c_str(), comm.rank(), comm.world(), message.c_str());
  std::_Exit(1);
}

#endif

}  // namespace ht
