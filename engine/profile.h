// Wall-clock accounting of the fused recurrent op's phases, for `hypertrain bench`: where a
// training step's time goes (the per-step products, the elementwise passes over the gates, the
// weight-gradient GEMMs). Off unless a benchmark turns it on; a phase scope then costs two clock
// reads. The phases run on the calling thread (their inner work may be parallel), so the
// accumulators need no locking; the fused op is not run from several threads at once.
//
//   profile::reset(); profile::enable(true);
//   ... training steps ...
//   profile::enable(false);
//   double ms = 1e3 * profile::seconds(profile::kStepGemmForward) / steps;
#pragma once

namespace ht {

// Seconds since the first call (steady clock): the project's one wall clock (the trainer's
// speed and ETA, the benchmarks, the phase clocks below).
double seconds_now();

}  // namespace ht

namespace ht::profile {

enum Phase : int {
  kPack,              // packing W (and W^T) for the weight-stationary per-step kernel
  kStepGemmForward,   // h_{t-1} W_h and the hyper cell's products, step by step
  kCellForward,       // the gates, layer norms, c and h; the hyper embedding and scaling vectors
  kStepGemmBackward,  // d h_{t-1} = d pre W_h^T and the hyper cell's, step by step
  kCellBackward,      // the gates' backward, per-row gradients (biases, gains, one-hot rows)
  kWeightGradients,   // the segment's weight-gradient GEMMs and the chunk sums
  kPhases
};

const char* phase_key(int phase);  // a JSON key, e.g. "step_gemm_forward"
void enable(bool on);
void reset();
double seconds(int phase);

// Adds the scope's wall time to `phase` when profiling is on.
class Scope {
 public:
  explicit Scope(int phase);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  int phase_;
  bool timing_;  // profiling was on when the scope began
  double t0_;
};

}  // namespace ht::profile
