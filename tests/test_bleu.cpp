// BLEU as sacreBLEU computes it by default: the 13a tokenisation against Python's `re` running
// sacreBLEU's own expressions, corpus scores against NLTK's corpus_bleu with the same smoothing
// (both printed by scripts/bleu_reference.py), and hand-computed cases for clipping, smoothing,
// the brevity penalty and the empty output.
#include <doctest/doctest.h>

#include <cmath>

#include "data/bleu.h"

using namespace ht;

namespace {

const std::vector<std::string> kFrenchHyps = {
    "Un homme en t-shirt bleu fait du vélo dans la rue.", "Deux chiens jouent dans l'herbe, près d'un lac.",
    "Une femme (en rouge) vend 3-4 fruits pour 1,50 euros.", "Des enfants \"souriants\" regardent la caméra&amp;rient !"};
const std::vector<std::string> kFrenchRefs = {
    "Un homme portant un t-shirt bleu fait du vélo dans une rue.", "Deux chiens jouent dans l'herbe près d'un lac.",
    "Une femme en rouge vend des fruits pour 1,50 euro.", "Des enfants souriants regardent la caméra et rient !"};

}  // namespace

TEST_CASE("13a tokenisation equals sacreBLEU's expressions run by Python's re") {
  // Expected strings printed by scripts/bleu_reference.py.
  CHECK(tokenize_13a(kFrenchHyps[0]) == "Un homme en t-shirt bleu fait du vélo dans la rue .");
  CHECK(tokenize_13a(kFrenchHyps[1]) == "Deux chiens jouent dans l'herbe , près d'un lac .");
  CHECK(tokenize_13a(kFrenchHyps[2]) == "Une femme ( en rouge ) vend 3 - 4 fruits pour 1,50 euros .");
  CHECK(tokenize_13a(kFrenchHyps[3]) == "Des enfants \" souriants \" regardent la caméra & rient !");
  CHECK(tokenize_13a("A dog runs.") == "A dog runs .");
  // Whitespace: collapsed, trimmed (a no-break space is whitespace to Python's str.split()).
  CHECK(tokenize_13a("  a\t b \xC2\xA0 c \n") == "a b c");
  CHECK(tokenize_13a("") == "");
  // Digits keep their separators; a period before a non-digit splits; entities in order.
  CHECK(tokenize_13a("pi is 3.14, e is 2.71.") == "pi is 3.14 , e is 2.71 .");
  CHECK(tokenize_13a("&amp;lt; x &lt;skipped&gt;") == "< x < skipped >");
  CHECK(tokenize_13a("a<skipped>b") == "ab");
}

TEST_CASE("corpus BLEU equals NLTK's corpus_bleu with exp smoothing") {
  // scripts/bleu_reference.py: french 36.2078867129, short 27.2302170163
  CHECK(corpus_bleu(kFrenchHyps, kFrenchRefs).score == doctest::Approx(36.2078867129).epsilon(1e-9));
  BleuScore s = corpus_bleu({"A dog runs.", "Two men talk on the street near a car."},
                            {"A brown dog runs across the green field.", "Two men are talking on the street near a red car."});
  CHECK(s.score == doctest::Approx(27.2302170163).epsilon(1e-9));
  CHECK(s.sys_len == 14);
  CHECK(s.ref_len == 21);
  CHECK(s.bp == doctest::Approx(std::exp(1 - 21.0 / 14.0)));
}

TEST_CASE("BLEU by hand: identity, clipping, smoothing, the empty output") {
  CHECK(corpus_bleu({"the cat sat on the mat ."}, {"the cat sat on the mat ."}).score == doctest::Approx(100));
  // p = 3/4, 2/3, 1/2, and 0/1 smoothed to 1/(2*1): (75 * 66.67 * 50 * 50)^(1/4)
  BleuScore a = corpus_bleu({"a b c d"}, {"a b c e"});
  CHECK(a.precisions[3] == doctest::Approx(50));
  CHECK(a.score == doctest::Approx(std::pow(75.0 * 200.0 / 3.0 * 50.0 * 50.0, 0.25)));
  // Clipping: 'the' counts twice at most; no bigram matches, so k = 1, 2, 3 for orders 2, 3, 4.
  BleuScore c = corpus_bleu({"the the the the the the the"}, {"the cat is on the mat"});
  CHECK(c.precisions[0] == doctest::Approx(100.0 * 2 / 7));
  CHECK(c.precisions[1] == doctest::Approx(100.0 / (2 * 6)));
  CHECK(c.precisions[2] == doctest::Approx(100.0 / (4 * 5)));
  CHECK(c.precisions[3] == doctest::Approx(100.0 / (8 * 4)));
  CHECK(c.bp == 1);
  CHECK(c.score == doctest::Approx(std::exp((std::log(200.0 / 7) + std::log(100.0 / 12) + std::log(5.0) + std::log(3.125)) / 4)));
  // Nothing produced: no n-grams of any order, score 0, brevity penalty 0.
  BleuScore e = corpus_bleu({""}, {"a b c"});
  CHECK(e.score == 0);
  CHECK(e.bp == 0);
  // A hypothesis shorter than 4 tokens over the whole corpus has no 4-grams: score 0 (sacreBLEU).
  CHECK(corpus_bleu({"a b c"}, {"a b c"}).score == 0);
  CHECK_THROWS_WITH(corpus_bleu({"a"}, {}), doctest::Contains("1 hypotheses for 0 references"));
}

TEST_CASE("BLEU sums of parts add to the whole's") {
  BleuStats whole, first, second;
  for (std::size_t i = 0; i < kFrenchHyps.size(); ++i) {
    whole.add(kFrenchHyps[i], kFrenchRefs[i]);
    (i < 2 ? first : second).add(kFrenchHyps[i], kFrenchRefs[i]);
  }
  double a[BleuStats::kFields], b[BleuStats::kFields];
  first.to_array(a);
  second.to_array(b);
  for (int k = 0; k < BleuStats::kFields; ++k) a[k] += b[k];
  CHECK(bleu_from_stats(BleuStats::from_array(a)).score == doctest::Approx(bleu_from_stats(whole).score).epsilon(1e-12));
  CHECK(bleu_from_stats(whole).format().rfind("BLEU = 36.21 ", 0) == 0);
  CHECK(std::string(bleu_signature()) == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:hypertrain");
}
