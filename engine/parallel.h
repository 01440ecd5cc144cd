// Explicit threading: the CLI fixes the thread count once (Threads), kernels split rows with
// parallel_for. No op starts threads of its own. BLAS is called inside parallel_for only under a
// BlasOnCaller scope, which keeps every OpenBLAS call on its calling thread (conv2d's batch chunks,
// the fused recurrent op's per-step products); any other GEMM runs outside parallel_for on
// OpenBLAS's own threads.
#pragma once
#include <cstdint>
#include <memory>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

namespace ht {

// Sets oneTBB's and OpenBLAS's thread counts for its lifetime (0 = every core).
class Threads {
 public:
  explicit Threads(int n);
  ~Threads();
  int count() const { return n_; }

 private:
  int n_;
  std::shared_ptr<void> control_;
};

int default_thread_count();
void set_blas_threads(int n);
int blas_threads();

// For its lifetime OpenBLAS runs every call on the calling thread, so oneTBB tasks may call BLAS
// (one pool for both: no OpenBLAS worker spinning beside oneTBB's). Restores the count after.
class BlasOnCaller {
 public:
  BlasOnCaller() : prev_(blas_threads()) { if (prev_ != 1) set_blas_threads(1); }
  ~BlasOnCaller() { if (prev_ != 1) set_blas_threads(prev_); }
  BlasOnCaller(const BlasOnCaller&) = delete;
  BlasOnCaller& operator=(const BlasOnCaller&) = delete;

 private:
  int prev_;
};

// f(begin, end) over [0, n) in chunks of at least `grain` items; runs inline when n <= grain.
template <class F> void parallel_for(std::int64_t n, std::int64_t grain, F&& f) {
  if (n <= 0) return;
  if (n <= grain) { f(std::int64_t(0), n); return; }
  tbb::parallel_for(tbb::blocked_range<std::int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<std::int64_t>& r) { f(r.begin(), r.end()); });
}

// Grain for elementwise loops between GEMMs: 1M elements (4 MiB of floats) per task. Smaller
// pieces lost time on this 2-core machine: a oneTBB worker woken for them competes with
// OpenBLAS's threads, which spin (sched_yield) for a while after every GEMM. Measured with
// `hypertrain bench --engine`: forward+backward overhead over the GEMMs fell from about 10% to 6%.
constexpr std::int64_t kElementGrain = 1 << 20;

}  // namespace ht
