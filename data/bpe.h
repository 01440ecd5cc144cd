// Byte-pair encoding (Sennrich et al. 2016) learned on the training side of a parallel corpus,
// in the form SentencePiece gives it: a line is split on ASCII whitespace into words, each word
// starts with the boundary mark "▁" (U+2581), and merges of adjacent symbols learned from word
// counts rebuild frequent words and pieces from their characters. Nothing is lost: a character
// outside the learned alphabet (and a literal "▁") is spelled as its UTF-8 bytes with the byte
// pieces <0x00>..<0xFF>, so decode(encode(s)) is s with its whitespace runs made single spaces
// and trimmed at both ends.
//
// Vocabulary: 0 <pad>, 1 <s>, 2 </s>, 3..258 the byte pieces, then the alphabet (the boundary
// mark first, then every training character by falling count, ties by code point), then one
// piece per merge in the order learned, then "<unused>" slots when the counts ran out of pairs
// seen twice. The size is exactly the one asked for, so a model's parameter count is known from
// its config alone.
//
// File (bpe.model in a run directory): a line "hypertrain-bpe 1", a line "size N chars C merges M",
// then C lines "c CHAR" and M lines "m LEFT RIGHT" (ids of the two pieces merged).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ht {

class Bpe {
 public:
  static constexpr std::int32_t kPad = 0, kBos = 1, kEos = 2, kFirstByte = 3, kFirstChar = 3 + 256;

  // Learns a vocabulary of `size` pieces from the lines of every corpus given (one corpus: one
  // language; two: a joint vocabulary). Characters seen fewer than min_char_count times are left
  // to the byte pieces. Throws when `size` cannot hold the specials, the bytes and the alphabet.
  static Bpe learn(const std::vector<const std::vector<std::string>*>& corpora, std::int64_t size, std::int64_t min_char_count = 2);

  std::vector<std::int32_t> encode(const std::string& line) const;  // no <s> or </s>
  // Pieces to text; <pad>, <s>, </s> and unused slots are skipped, byte pieces give their byte.
  std::string decode(const std::vector<std::int32_t>& ids) const;
  std::int64_t size() const { return std::int64_t(pieces_.size()); }
  std::int64_t merges() const { return std::int64_t(merges_.size()); }
  const std::string& piece(std::int32_t id) const;  // "▁the", "<0xE2>", "</s>"

  std::string serialize() const;
  // Throws naming `origin` and the line on anything malformed.
  static Bpe parse(const std::string& text, const std::string& origin);
  void save(const std::string& path) const;  // written to a temporary file and renamed
  static Bpe load(const std::string& path);

 private:
  void add_char(const std::string& ch);
  void add_merge(std::int32_t left, std::int32_t right);
  void finish(std::int64_t size);  // pads with <unused> slots up to `size`
  // One word's pieces ("▁" + the word, merged by rank).
  void encode_word(const std::string& word, std::vector<std::int32_t>& out) const;

  std::vector<std::string> pieces_;
  std::vector<std::pair<std::int32_t, std::int32_t>> merges_;
  std::int64_t chars_ = 0;
  std::unordered_map<std::string, std::int32_t> char_id_;
  std::unordered_map<std::uint64_t, std::int32_t> merge_rank_;  // (left << 32 | right) -> merge index
};

}  // namespace ht
