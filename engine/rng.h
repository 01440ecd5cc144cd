// Seeded random numbers: xoshiro256** for sequential draws, and a counter-based hash for masks
// drawn in parallel (the same seed gives the same mask whatever the thread count).
#pragma once
#include <array>
#include <cstdint>

namespace ht {

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
  void reseed(std::uint64_t seed);
  std::uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);
  double normal();                       // standard normal (Box-Muller, no cached spare)
  std::uint64_t below(std::uint64_t n);  // uniform integer in [0, n)

  using State = std::array<std::uint64_t, 4>;
  State state() const { return s_; }
  void set_state(const State& s) { s_ = s; }

 private:
  State s_{};
};

// Stateless 53 random bits from (key, index): splitmix64 of the pair, top 53 bits.
inline std::uint64_t hash_bits53(std::uint64_t key, std::uint64_t index) {
  std::uint64_t z = key + 0x9E3779B97F4A7C15ull * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return z >> 11;
}

// Stateless uniform in [0, 1) from (key, index): hash_bits53 * 2^-53 (exact).
inline double hash_uniform(std::uint64_t key, std::uint64_t index) { return double(hash_bits53(key, index)) * 0x1.0p-53; }

}  // namespace ht
