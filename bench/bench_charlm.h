// `hypertrain bench --model lstm|ln-lstm|hyperlstm|ln-hyperlstm`: the character model's training
// step (forward, backward, Adam) on random symbols, and one-step sampling, against the sgemm peak
// measured in the same run. Efficiency = model FLOP/s over that peak, with model FLOPs counted as
// 3x the dense forward FLOPs (paper-notes §3: main cell, hyper cell, z and d projections, softmax).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ht {

struct CharBenchOptions {
  std::string model = "hyperlstm";
  long batch = 32, seq = 100, hidden = 1000, hyper = 128, embed = 4, vocab = 50;
  int threads = 0, iters = 5;
  bool sampling = true;   // also time one-step sampling at batch 1 and 64
  bool reference = true;  // also time the reference path (slow: per-step ops)
  bool quiet = false;
};

nlohmann::json run_charlm_bench(const CharBenchOptions& opt);
void print_charlm_bench(const nlohmann::json& r);

// Dense forward FLOPs per token of one layer (what the efficiency counts, times 3 for a step).
double charlm_forward_flops(bool hyper, long X, long H, long Hh, long Nz, long V);

}  // namespace ht
