#include "engine/profile.h"

#include <array>
#include <chrono>

namespace ht::profile {

namespace {

bool on = false;
std::array<double, kPhases> totals{};

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

const char* phase_key(int phase) {
  static const char* const keys[kPhases] = {"pack",          "step_gemm_forward", "cell_forward",
                                            "step_gemm_backward", "cell_backward", "weight_gradients"};
  return phase >= 0 && phase < kPhases ? keys[phase] : "?";
}

void enable(bool v) { on = v; }
bool enabled() { return on; }
void reset() { totals.fill(0); }
double seconds(int phase) { return phase >= 0 && phase < kPhases ? totals[std::size_t(phase)] : 0; }

Scope::Scope(int phase) : phase_(phase), t0_(on ? now() : 0) {}
Scope::~Scope() {
  if (on && t0_ > 0) totals[std::size_t(phase_)] += now() - t0_;
}

}  // namespace ht::profile
