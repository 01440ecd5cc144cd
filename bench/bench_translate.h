// `hypertrain bench --model translation-lstm|translation-ln-lstm|translation-hyperlstm|translation-ln-hyperlstm`:
// the encoder-decoder's training step (forward, backward, clipping, Adam) on random sentence pairs
// of fixed lengths, in target tokens per second, against the sgemm 2048³ peak and the FMA peak
// measured in the same run. Model FLOPs: 3x the dense forward FLOPs (every cell of both stacks, the
// attention's projections, scores and contexts, the softmax layer).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ht {

struct TranslateBenchOptions {
  std::string cell = "lstm";  // lstm, ln-lstm, hyperlstm, ln-hyperlstm
  long batch = 64, source = 14, target = 16, hidden = 256, hyper = 128, embed = 32, word_embed = 256, vocab = 8000;
  int encoder_layers = 2, decoder_layers = 2;
  int threads = 0, iters = 5;
  bool quiet = false;
};

nlohmann::json run_translate_bench(const TranslateBenchOptions& opt);
void print_translate_bench(const nlohmann::json& r);

}  // namespace ht
