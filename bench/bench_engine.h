// `hypertrain bench --engine`: the MLP training step against the raw GEMMs it contains and the
// machine's sgemm peak, all measured in the same run.
#pragma once
#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "bench/machine.h"

namespace ht {

struct EngineBenchOptions {
  int threads = 0;     // 0: every core
  int iters = 20;      // timed repetitions of each measurement (median reported)
  long batch = 256;    // 0 in a model benchmark: the model's own default
  bool quiet = false;
  bool reference = true;  // model benchmarks: also time the reference convolution
};

// Measures sgemm 2048^3, the MLP step (forward, backward, Adam) and its GEMMs alone.
nlohmann::json run_engine_bench(const EngineBenchOptions& opt);
// Prints the result as a table on stdout.
void print_engine_bench(const nlohmann::json& r);

// `bench --model mnist-conv|mnist-hyperconv|wrn40-1|hyperwrn40-1|wrn40-2|hyperwrn40-2`: a
// convolutional network's training step on random images (bench/bench_convnet.cpp).
nlohmann::json run_convnet_bench(const std::string& model, const EngineBenchOptions& opt);
void print_convnet_bench(const nlohmann::json& r);

// Median wall time of each of several functions, measured in `iters` interleaved rounds (each
// round calls every function once, after one warm-up round): on a shared machine a slow spell
// then slows every figure alike, and their ratio holds where separately timed medians did not
// (the MLP's overheads over its GEMMs read -3% to +91% in one hour's separate medians).
template <class... F> std::vector<double> interleaved_medians(int iters, F&&... f) {
  (f(), ...);
  std::vector<std::vector<double>> s(sizeof...(F));
  for (int i = 0; i < iters; ++i) {
    std::size_t j = 0;
    auto time = [&](auto& g) {
      const double t0 = seconds_now();
      g();
      s[j++].push_back(seconds_now() - t0);
    };
    (time(f), ...);
  }
  std::vector<double> m;
  for (auto& v : s) {
    std::sort(v.begin(), v.end());
    m.push_back(v[v.size() / 2]);
  }
  return m;
}

// Median wall time of `iters` calls of f, after one warm-up call (sizes the arena, wakes the
// BLAS threads).
template <class F> double median_seconds(int iters, F&& f) { return interleaved_medians(iters, f)[0]; }

// One M x N x K sgemm on random buffers it owns, for the peak probe and for timing beside a
// model's steps.
class SgemmProbe {
 public:
  SgemmProbe(long M, long N, long K);
  explicit SgemmProbe(long n) : SgemmProbe(n, n, n) {}
  void run();
  double flops() const { return 2.0 * double(M_) * double(N_) * double(K_); }

 private:
  long M_, N_, K_;
  std::vector<float> a_, b_, c_;
};

// Best-of-n sgemm FLOP/s for an M x N x K product (also used by the model benchmarks).
double measure_sgemm_flops(long M, long N, long K, int reps);

}  // namespace ht
