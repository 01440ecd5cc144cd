// Subwords (data/bpe.h), the length-bucketing sampler of sentence pairs and the parallel-text
// loaders: encode then decode returns the input, for training lines, unseen words and characters
// the alphabet never saw; the file format round trip and its errors; the real Multi30k files.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>

#include "data/bpe.h"
#include "data/io.h"
#include "data/parallel_text.h"
#include "data/samplers.h"
#include "tests/files.h"

using namespace ht;
using ht::test::has;

namespace {

const std::vector<std::string> kEnglish = {
    "Two young, White males are outside near many bushes.", "Several men in hard hats are operating a giant pulley system.",
    "A little girl climbing into a wooden playhouse.",       "A man in a blue shirt is standing on a ladder cleaning windows.",
    "Two men are at the stove preparing food.",              "A man in green holds a guitar while the other man observes his shirt.",
    "A man is smiling at a stuffed lion",                    "A trendy girl talking on her cellphone while gliding slowly down the street."};
const std::vector<std::string> kFrench = {
    "Deux jeunes hommes blancs sont dehors près de buissons.", "Plusieurs hommes en casque font fonctionner un système de poulies géant.",
    "Une petite fille grimpe dans une maisonnette en bois.",    "Un homme en chemise bleue se tient sur une échelle pour nettoyer les vitres.",
    "Deux hommes sont aux fourneaux et préparent à manger.",    "Un homme en vert tient une guitare tandis que l'autre homme observe sa chemise.",
    "Un homme sourit à un lion en peluche.",                     "Une fille branchée parle sur son portable tout en glissant lentement dans la rue."};

// The line as decode(encode()) gives it back: ASCII whitespace runs made single spaces, trimmed.
std::string normalised(const std::string& line) {
  std::string out, word;
  for (char c : line + " ") {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      if (!word.empty()) out += (out.empty() ? "" : " ") + word;
      word.clear();
    } else {
      word += c;
    }
  }
  return out;
}

std::string shared_data() {
  if (const char* e = std::getenv("HYPERTRAIN_DATA"); e && *e && std::filesystem::exists(std::string(e) + "/multi30k")) return e;
  for (const char* p : {"../shared/data", "/work/shared/data"})
    if (std::filesystem::exists(std::string(p) + "/multi30k/train.en.gz")) return p;
  return "";
}

}  // namespace

TEST_CASE("BPE: exact vocabulary size, specials and bytes first, encode then decode returns the input") {
  Bpe bpe = Bpe::learn({&kEnglish, &kFrench}, 400);
  CHECK(bpe.size() == 400);
  CHECK(bpe.piece(Bpe::kPad) == "<pad>");
  CHECK(bpe.piece(Bpe::kBos) == "<s>");
  CHECK(bpe.piece(Bpe::kEos) == "</s>");
  CHECK(bpe.piece(Bpe::kFirstByte + 0xE2) == "<0xE2>");
  CHECK(bpe.piece(Bpe::kFirstChar) == "\xE2\x96\x81");
  CHECK(bpe.merges() > 20);
  for (auto* side : {&kEnglish, &kFrench})
    for (auto& line : *side) {
      auto ids = bpe.encode(line);
      CHECK(bpe.decode(ids) == line);
      CHECK(ids.size() < line.size());  // merges shorten the training lines
    }
  // Unseen words, characters never seen (CJK, an emoji, a literal boundary mark, a stray byte): their bytes.
  for (std::string s : {"Zebras zigzag.", "東京 の 猫", "a \xF0\x9F\x98\x80 smile", "x\xE2\x96\x81y", "bad \xFF byte", "é"}) {
    auto ids = bpe.encode(s);
    CHECK(bpe.decode(ids) == s);
    for (auto id : ids) CHECK((id >= Bpe::kFirstByte && id < bpe.size()));
  }
  // Whitespace: runs become one space, none at the ends; nothing at all gives nothing.
  CHECK(bpe.decode(bpe.encode("  Two \t men\n")) == "Two men");
  CHECK(bpe.encode("").empty());
  CHECK(bpe.encode(" \t ").empty());
  CHECK(bpe.decode({Bpe::kBos, Bpe::kPad, Bpe::kEos}) == "");
  CHECK_THROWS_WITH(bpe.decode({400}), has("outside the vocabulary of 400"));
}

TEST_CASE("BPE: per language, the file round trip and its errors") {
  Bpe en = Bpe::learn({&kEnglish}, 330), fr = Bpe::learn({&kFrench}, 330);
  CHECK(en.size() == 330);
  CHECK(fr.decode(fr.encode(kFrench[3])) == kFrench[3]);
  // Too many merges asked of a tiny corpus: unused slots fill the vocabulary.
  Bpe big = Bpe::learn({&kEnglish}, 5000);
  CHECK(big.size() == 5000);
  CHECK(big.piece(4999) == "<unused>");
  CHECK(big.decode(big.encode(kEnglish[0])) == kEnglish[0]);
  Bpe back = Bpe::parse(en.serialize(), "mem");
  CHECK(back.serialize() == en.serialize());
  for (auto& l : kEnglish) CHECK(back.encode(l) == en.encode(l));
  ht::test::TempDir d;
  en.save(d / "bpe.model");
  CHECK(Bpe::load(d / "bpe.model").encode(kFrench[1]) == en.encode(kFrench[1]));
  CHECK_THROWS_WITH_AS(Bpe::parse("hello\n", "x.model"), has("x.model:1: expected the header"), DataError);
  CHECK_THROWS_WITH_AS(Bpe::parse("hypertrain-bpe 1\nsize 10 chars 1 merges 0\n", "x.model"), has("x.model:2"), DataError);
  CHECK_THROWS_WITH_AS(Bpe::parse("hypertrain-bpe 1\nsize 300 chars 2 merges 1\nc \xE2\x96\x81\nc a\nm 259 900\n", "x.model"),
                       has("x.model:5: expected a merge line"), DataError);
  CHECK_THROWS_WITH(Bpe::learn({&kEnglish}, 100), has("cannot hold"));
}

TEST_CASE("PairSampler: bucketed batches cover the epoch, shards add up, lengths and </s>") {
  TokenPairs p;
  for (int i = 0; i < 40; ++i) {
    p.source.push_back(std::vector<std::int32_t>(std::size_t(1 + i % 9), 10 + i));
    p.target.push_back(std::vector<std::int32_t>(std::size_t(1 + (i * 7) % 5), 100 + i));
  }
  PairSampler one(p, 8, 2, 0, 2, 5, Shard{});
  CHECK(one.steps_per_epoch() == 5);
  std::set<i64> seen;
  for (i64 s = 0; s < 5; ++s) {
    auto pairs = one.step_pairs(s);
    CHECK(pairs.size() == 8);
    seen.insert(pairs.begin(), pairs.end());
    // Bucketed: a batch's source lengths span less than the whole range (pools of 16 pairs sorted).
    Batch b;
    one.get(s, b);
    CHECK(b.x.shape() == Shape{b.x.dim(0), 8});
    for (i64 j = 0; j < 8; ++j) {
      const auto& src = p.source[std::size_t(pairs[std::size_t(j)])];
      const auto& tgt = p.target[std::size_t(pairs[std::size_t(j)])];
      CHECK(b.x_lengths.data<std::int32_t>()[j] == i64(src.size()));
      CHECK(b.y_lengths.data<std::int32_t>()[j] == i64(tgt.size()) + 1);
      CHECK(b.y.data<std::int32_t>()[i64(tgt.size()) * 8 + j] == 2);  // </s>
      for (i64 k = i64(src.size()); k < b.x.dim(0); ++k) CHECK(b.x.data<std::int32_t>()[k * 8 + j] == 0);  // padding
    }
    CHECK(b.share == 1.0);
  }
  CHECK(seen.size() == 40);  // every pair once in the epoch
  CHECK(one.step_pairs(5) != one.step_pairs(0));  // a new shuffle next epoch
  // Two shards: their columns are the global batch's, their shares add to 1.
  PairSampler r0(p, 8, 2, 0, 2, 5, Shard{0, 2}), r1(p, 8, 2, 0, 2, 5, Shard{1, 2});
  Batch a, b, all;
  r0.get(3, a);
  r1.get(3, b);
  one.get(3, all);
  CHECK(a.share + b.share == doctest::Approx(1.0));
  for (i64 j = 0; j < 4; ++j) {
    CHECK(a.x_lengths.data<std::int32_t>()[j] == all.x_lengths.data<std::int32_t>()[j]);
    CHECK(b.y_lengths.data<std::int32_t>()[j] == all.y_lengths.data<std::int32_t>()[4 + j]);
  }
  CHECK_THROWS_WITH(PairSampler(p, 7, 2, 0, 2, 5, Shard{0, 2}), has("does not divide"));
}

TEST_CASE("parallel text: line alignment, errors naming the files, the WMT'14 download hint") {
  ht::test::TempDir d;
  ht::test::write_gz(d / "multi30k/train.en.gz", "a\nb\r\nc\n");
  ht::test::write_gz(d / "multi30k/train.fr.gz", "x\ny\n");
  CHECK(text_lines("a\nb\r\n\nc") == std::vector<std::string>{"a", "b", "", "c"});
  CHECK_THROWS_WITH_AS(read_parallel(d / "multi30k/train.en.gz", d / "multi30k/train.fr.gz"), has("has 3 lines but"), DataError);
  ht::test::EnvGuard env("HYPERTRAIN_DATA", std::nullopt);
  CHECK_THROWS_WITH_AS(load_multi30k(d.path.string(), "en", "fr"), has("train.fr.gz"), DataError);
  CHECK_THROWS_WITH(load_multi30k(d.path.string(), "en", "xx"), has("'xx'"));
  try {
    load_wmt14(d.path.string(), "en", "fr");
    FAIL("no error");
  } catch (const DataError& e) {
    const std::string m = e.what();
    CHECK(m.find("train.en") != std::string::npos);
    CHECK(m.find("https://www.statmt.org/wmt14/training-parallel-nc-v9.tgz") != std::string::npos);
    CHECK(m.find("https://www.statmt.org/wmt10/training-giga-fren.tar") != std::string::npos);
    CHECK(m.find("not known to us") != std::string::npos);
  }
}

TEST_CASE("Multi30k (real files): line counts, and a joint BPE that returns every training line") {
  const std::string root = shared_data();
  if (root.empty()) {
    MESSAGE("skipped: no multi30k under $HYPERTRAIN_DATA, ../shared/data or /work/shared/data");
    return;
  }
  ParallelCorpus c = load_multi30k(root, "en", "fr");
  CHECK(c.train.source.size() == 29000);
  CHECK(c.valid.source.size() == 1014);
  CHECK(c.test.source.size() == 1000);
  CHECK(c.train.source[0] == "Two young, White males are outside near many bushes.");
  CHECK(c.train.target[0] == "Deux jeunes hommes blancs sont dehors près de buissons.");
  Bpe bpe = Bpe::learn({&c.train.source, &c.train.target}, 8000);
  CHECK(bpe.size() == 8000);
  i64 bad = 0, pieces = 0, words = 0, uneven = 0;
  for (auto* side : {&c.train.source, &c.train.target, &c.test.source, &c.test.target})
    for (auto& line : *side) {
      auto ids = bpe.encode(line);
      pieces += i64(ids.size());
      if (bpe.decode(ids) != normalised(line)) ++bad;
      uneven += normalised(line) != line;
      for (char ch : line) words += ch == ' ';
    }
  CHECK(bad == 0);
  CHECK(uneven == 78);  // lines with doubled or trailing spaces in the files, given back with single spaces
  MESSAGE("joint BPE of 8000 pieces: " << bpe.merges() << " merges, " << pieces << " pieces for " << words << " spaces");
}
