#include "engine/profile.h"

#include <array>
#include <chrono>

namespace ht {

double seconds_now() {
  static const auto start = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace ht

namespace ht::profile {

namespace {

bool on = false;
std::array<double, kPhases> totals{};

}  // namespace

const char* phase_key(int phase) {
  static const char* const keys[kPhases] = {"pack",          "step_gemm_forward", "cell_forward",
                                            "step_gemm_backward", "cell_backward", "weight_gradients"};
  return phase >= 0 && phase < kPhases ? keys[phase] : "?";
}

void enable(bool v) { on = v; }
void reset() { totals.fill(0); }
double seconds(int phase) { return phase >= 0 && phase < kPhases ? totals[std::size_t(phase)] : 0; }

Scope::Scope(int phase) : phase_(phase), timing_(on), t0_(timing_ ? seconds_now() : 0) {}
Scope::~Scope() {
  if (timing_) totals[std::size_t(phase_)] += seconds_now() - t0_;
}

}  // namespace ht::profile
