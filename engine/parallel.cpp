#include "engine/parallel.h"

#include <cblas.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

namespace ht {

int default_thread_count() { return tbb::info::default_concurrency(); }

void set_blas_threads(int n) { openblas_set_num_threads(n); }
int blas_threads() { return openblas_get_num_threads(); }

Threads::Threads(int n) : n_(n > 0 ? n : default_thread_count()) {
  control_ = std::make_shared<tbb::global_control>(tbb::global_control::max_allowed_parallelism, std::size_t(n_));
  set_blas_threads(n_);
}

Threads::~Threads() = default;

}  // namespace ht
