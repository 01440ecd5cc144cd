// Corpus BLEU as sacreBLEU 2.x computes it by default (Papineni et al. 2002; Post 2018): one
// reference per sentence, case kept, the "13a" tokenisation of mteval-v13a.pl, n-grams of order
// 1 to 4 clipped by the reference's counts, summed over the corpus before the precisions are
// taken, the brevity penalty exp(1 - r/c) when the output is shorter than the references, and
// "exp" smoothing (a zero match count of order n gives precision 100 / (2^k * total_n), k counting
// the zero orders so far). The sums (BleuStats) add across parts of a corpus, so shards of a test
// set evaluated apart give the corpus score exactly.
//
// Score line and signature in sacreBLEU's own format:
//   BLEU = 34.28 66.0/42.1/28.4/19.6 (BP = 0.975 ratio = 0.975 hyp_len = 11754 ref_len = 12058)
//   nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:hypertrain
// (the version field names this implementation, not a sacreBLEU release).
#pragma once
#include <array>
#include <string>
#include <vector>

namespace ht {

// sacreBLEU's Tokenizer13a on one segment (after its rstrip): <skipped> removed, "&quot;",
// "&amp;", "&lt;", "&gt;" unescaped in that order, then the four regular expressions of
// mteval-v13a (symbols split off; '.' and ',' split unless between digits; '-' after a digit),
// whitespace collapsed to single spaces, none at either end.
std::string tokenize_13a(const std::string& line);

// Tokens of a tokenised segment: split on whitespace as Python's str.split() does (Unicode
// whitespace included).
std::vector<std::string> split_whitespace(const std::string& s);

struct BleuStats {
  static constexpr int kOrder = 4;
  std::array<double, kOrder> correct{}, total{};  // clipped matches and hypothesis n-grams, per order
  double sys_len = 0, ref_len = 0;                // tokens
  static constexpr int kFields = 2 * kOrder + 2;  // for sums over a flat array
  // Adds one segment (raw text: tokenised here).
  void add(const std::string& hypothesis, const std::string& reference);
  // Adds one segment already split into tokens.
  void add_tokens(const std::vector<std::string>& hyp, const std::vector<std::string>& ref);
  BleuStats& operator+=(const BleuStats& o);
  void to_array(double* out) const;
  static BleuStats from_array(const double* in);
};

struct BleuScore {
  double score = 0;                              // 0..100
  std::array<double, BleuStats::kOrder> precisions{};  // percent, after smoothing
  double bp = 0, ratio = 0, sys_len = 0, ref_len = 0;
  std::string format() const;  // sacreBLEU's score line
};

BleuScore bleu_from_stats(const BleuStats& s);
// hyps[i] against refs[i]; the sizes must match.
BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs);

// sacreBLEU's signature of these settings.
const char* bleu_signature();

}  // namespace ht
