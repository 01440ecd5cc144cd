// The one check of a resolved config, run before any data is read or any step runs: every key's
// type, range and the constraints between keys. The trainer's keys are checked beside
// trainer_defaults() (train/trainer.cpp), each task's beside its TaskKind (its task file);
// validate_config runs both. Errors name the config (a file, a run directory, --set), the key and
// the value given.
#pragma once
#include <string>
#include <vector>

#include "train/config.h"
#include "engine/tensor.h"

namespace ht {

// Bounds on sizes, so nothing a config asks for runs without end or overflows a count.
inline constexpr i64 kMaxSteps = 1'000'000'000;      // train.steps
inline constexpr i64 kMaxBatch = 1'000'000;          // train.batch, train.eval_batch
inline constexpr i64 kMaxLength = 1'000'000;         // sequence lengths (train.seq, train.eval_seq)
inline constexpr i64 kMaxWidth = 65'536;             // hidden units, channels, embedding sizes
inline constexpr i64 kMaxLayers = 64;                // stacked recurrent layers
inline constexpr i64 kMaxParameters = 1'000'000'000; // a model's parameters (4 GB of f32 each for values, gradients, moments)
inline constexpr i64 kMaxThreads = 1024;

class ConfigCheck {
 public:
  ConfigCheck(const Json& cfg, std::string origin) : cfg_(cfg), origin_(std::move(origin)) {}
  const Json& cfg() const { return cfg_; }
  const std::string& origin() const { return origin_; }

  // The value at a dotted key ("train.batch"); an error naming the key when it is absent.
  const Json& at(const std::string& key) const;
  // An integer in [lo, hi] (a float, even 100.0, is refused: integers must be written as integers).
  i64 integer(const std::string& key, i64 lo, i64 hi) const;
  // A finite number in [lo, hi].
  double number(const std::string& key, double lo, double hi) const;
  // A probability of dropping: [0, 1).
  double probability(const std::string& key) const;
  bool boolean(const std::string& key) const;
  std::string text(const std::string& key) const;
  std::string one_of(const std::string& key, const std::vector<std::string>& allowed) const;
  // "<origin>: config key '<key>' (= <value>) <why>"
  [[noreturn]] void fail(const std::string& key, const std::string& why) const;

 private:
  const Json& cfg_;
  std::string origin_;
};

// Checks a resolved config: the trainer's keys, then its task's (tasks.h). Throws
// std::invalid_argument naming `origin`, the key and the value.
void validate_config(const Json& cfg, const std::string& origin);

}  // namespace ht
