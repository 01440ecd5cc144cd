// Decoding a Seq2Seq model: greedy search and batched beam search with GNMT's scoring (Wu et al.
// 2016, §7): a finished hypothesis Y of source X scores
//   s(Y, X) = log P(Y|X) / lp(Y) + cp(X; Y),  lp(Y) = (5 + |Y|)^α / (5 + 1)^α,
//   cp(X; Y) = β Σ_j log(min(Σ_i p_ij, 1))   (p_ij: attention of target word i on source word j)
// with |Y| counting </s>. Hypotheses still growing all have the same length and are ranked by
// log P alone. At each step a sentence's live hypotheses propose their best continuations; a
// continuation ending in </s> that ranks among the top `beam` finishes, the best `beam` others go
// on. A sentence is done when it has `beam` finished hypotheses, or at its length limit, where
// the live ones are finished as they are. With beam 1 this is greedy search step for step.
#pragma once
#include <cstdint>
#include <vector>

#include "models/seq2seq.h"

namespace ht {

struct SearchOptions {
  int beam = 1;
  double alpha = 0.6;      // length normalisation (0: none)
  double beta = 0.0;       // coverage penalty (0: none)
  double max_ratio = 2.0;  // a translation has at most max_ratio * |source| + max_extra words
  std::int64_t max_extra = 10;
};

using Ids = std::vector<std::int32_t>;

// Every source is decoded in one batch (each must be non-empty; ids of the source vocabulary).
// Returns each translation's target ids without </s>.
std::vector<Ids> greedy_search(const Seq2Seq& model, const ParamStore& ps, const std::vector<Ids>& sources, const SearchOptions& opt);
std::vector<Ids> beam_search(const Seq2Seq& model, const ParamStore& ps, const std::vector<Ids>& sources, const SearchOptions& opt);

// GNMT's lp(Y) for a hypothesis of `length` words (</s> included).
double length_penalty(std::int64_t length, double alpha);

}  // namespace ht
