#include "data/bpe.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <queue>
#include <sstream>
#include <stdexcept>
#include <unordered_set>

#include "data/io.h"

namespace ht {

namespace {

const std::string kMark = "\xE2\x96\x81";  // U+2581, the word-boundary mark

bool ascii_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::vector<std::string> words_of(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && ascii_space(line[i])) ++i;
    std::size_t j = i;
    while (j < line.size() && !ascii_space(line[j])) ++j;
    if (j > i) out.emplace_back(line, i, j - i);
    i = j;
  }
  return out;
}

// The UTF-8 characters of a word (a byte that starts no valid sequence is a character of its own).
std::vector<std::string> chars_of(const std::string& w) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < w.size();) {
    const unsigned char c = static_cast<unsigned char>(w[i]);
    std::size_t n = c >= 0xF0 && c <= 0xF7 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 1;
    if (i + n > w.size()) n = 1;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(w[i + k]) & 0xC0) != 0x80) n = 1;
    out.emplace_back(w, i, n);
    i += n;
  }
  return out;
}

std::uint64_t pair_key(std::int32_t a, std::int32_t b) { return (std::uint64_t(std::uint32_t(a)) << 32) | std::uint32_t(b); }

}  // namespace

void Bpe::add_char(const std::string& ch) {
  char_id_[ch] = std::int32_t(pieces_.size());
  pieces_.push_back(ch);
  ++chars_;
}

void Bpe::add_merge(std::int32_t left, std::int32_t right) {
  merge_rank_[pair_key(left, right)] = std::int32_t(merges_.size());
  merges_.emplace_back(left, right);
  pieces_.push_back(pieces_[std::size_t(left)] + pieces_[std::size_t(right)]);
}

void Bpe::finish(std::int64_t size) {
  while (std::int64_t(pieces_.size()) < size) pieces_.push_back("<unused>");
}

const std::string& Bpe::piece(std::int32_t id) const {
  if (id < 0 || id >= std::int32_t(pieces_.size()))
    throw std::out_of_range("bpe: id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(pieces_.size()));
  return pieces_[std::size_t(id)];
}

Bpe Bpe::learn(const std::vector<const std::vector<std::string>*>& corpora, std::int64_t size, std::int64_t min_char_count) {
  if (size < kFirstChar + 1)
    throw std::invalid_argument("bpe: a vocabulary of " + std::to_string(size) + " cannot hold the 3 specials, the 256 byte pieces and the boundary mark (" +
                                std::to_string(kFirstChar + 1) + " at least)");
  Bpe bpe;
  for (const char* s : {"<pad>", "<s>", "</s>"}) bpe.pieces_.push_back(s);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    bpe.pieces_.push_back(buf);
  }
  // Word counts over every corpus, then character counts weighted by them.
  std::map<std::string, std::int64_t> word_count;
  for (const auto* lines : corpora)
    for (const auto& line : *lines)
      for (auto& w : words_of(line)) ++word_count[w];
  std::map<std::string, std::int64_t> char_count;
  for (auto& [w, n] : word_count)
    for (auto& c : chars_of(w))
      if (c != kMark) char_count[c] += n;
  std::vector<std::pair<std::string, std::int64_t>> alphabet(char_count.begin(), char_count.end());
  std::stable_sort(alphabet.begin(), alphabet.end(), [](auto& a, auto& b) { return a.second > b.second; });
  bpe.add_char(kMark);
  for (auto& [c, n] : alphabet)
    if (n >= min_char_count && std::int64_t(bpe.pieces_.size()) < size) bpe.add_char(c);

  // Every word type as a sequence of symbols, with its count.
  struct Word { std::vector<std::int32_t> s; std::int64_t n; };
  std::vector<Word> words;
  for (auto& [w, n] : word_count) {
    Word x{{}, n};
    bpe.encode_word(w, x.s);
    words.push_back(std::move(x));
  }
  std::unordered_map<std::uint64_t, std::int64_t> count;
  std::unordered_map<std::uint64_t, std::vector<std::int32_t>> where;  // may list a word twice or stale
  auto mergeable = [](std::int32_t a, std::int32_t b) { return a >= kFirstChar && b >= kFirstChar; };
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& s = words[i].s;
    for (std::size_t k = 0; k + 1 < s.size(); ++k)
      if (mergeable(s[k], s[k + 1])) {
        count[pair_key(s[k], s[k + 1])] += words[i].n;
        where[pair_key(s[k], s[k + 1])].push_back(std::int32_t(i));
      }
  }
  // Best pair first: the highest count, ties to the smaller (left, right) ids. Entries go stale
  // when a count changes; a popped entry counts only when it still equals the pair's count.
  using Entry = std::pair<std::int64_t, std::uint64_t>;
  auto worse = [](const Entry& a, const Entry& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); };
  std::priority_queue<Entry, std::vector<Entry>, decltype(worse)> heap(worse);
  for (auto& [k, n] : count) heap.push({n, k});
  std::vector<std::int64_t> seen(words.size(), -1);
  while (std::int64_t(bpe.pieces_.size()) < size && !heap.empty()) {
    auto [n, key] = heap.top();
    heap.pop();
    auto it = count.find(key);
    if (it == count.end() || it->second != n) continue;  // stale
    if (n < 2) break;                                    // nothing seen twice is left
    const std::int32_t a = std::int32_t(key >> 32), b = std::int32_t(key & 0xFFFFFFFFu), id = std::int32_t(bpe.pieces_.size());
    bpe.add_merge(a, b);
    std::unordered_set<std::uint64_t> changed;
    const std::vector<std::int32_t> list = std::move(where[key]);
    where.erase(key);
    for (std::int32_t wi : list) {
      if (seen[std::size_t(wi)] == id) continue;
      seen[std::size_t(wi)] = id;
      Word& w = words[std::size_t(wi)];
      auto& s = w.s;
      bool has = false;
      for (std::size_t k = 0; k + 1 < s.size() && !has; ++k) has = s[k] == a && s[k + 1] == b;
      if (!has) continue;
      for (std::size_t k = 0; k + 1 < s.size(); ++k)
        if (mergeable(s[k], s[k + 1])) {
          const std::uint64_t p = pair_key(s[k], s[k + 1]);
          count[p] -= w.n;
          changed.insert(p);
        }
      std::vector<std::int32_t> merged;
      for (std::size_t k = 0; k < s.size();) {
        if (k + 1 < s.size() && s[k] == a && s[k + 1] == b) merged.push_back(id), k += 2;
        else merged.push_back(s[k++]);
      }
      s.swap(merged);
      for (std::size_t k = 0; k + 1 < s.size(); ++k)
        if (mergeable(s[k], s[k + 1])) {
          const std::uint64_t p = pair_key(s[k], s[k + 1]);
          count[p] += w.n;
          changed.insert(p);
          if (s[k] == id || s[k + 1] == id) where[p].push_back(wi);
        }
    }
    count.erase(key);
    changed.erase(key);
    for (std::uint64_t p : changed) {
      auto c = count.find(p);
      if (c == count.end()) continue;
      if (c->second <= 0) count.erase(c);
      else heap.push({c->second, p});
    }
  }
  bpe.finish(size);
  return bpe;
}

void Bpe::encode_word(const std::string& word, std::vector<std::int32_t>& out) const {
  std::vector<std::int32_t> s;
  s.push_back(char_id_.at(kMark));
  for (auto& c : chars_of(word)) {
    auto it = char_id_.find(c);
    if (it != char_id_.end() && c != kMark) {
      s.push_back(it->second);
    } else {  // outside the alphabet: its bytes
      for (unsigned char byte : c) s.push_back(kFirstByte + std::int32_t(byte));
    }
  }
  // Apply merges by rank: the lowest-ranked pair present, every occurrence left to right.
  for (;;) {
    std::int32_t best = -1;
    for (std::size_t k = 0; k + 1 < s.size(); ++k) {
      auto it = merge_rank_.find(pair_key(s[k], s[k + 1]));
      if (it != merge_rank_.end() && (best < 0 || it->second < best)) best = it->second;
    }
    if (best < 0) break;
    const auto [a, b] = merges_[std::size_t(best)];
    const std::int32_t id = kFirstChar + std::int32_t(chars_) + best;
    std::vector<std::int32_t> merged;
    for (std::size_t k = 0; k < s.size();) {
      if (k + 1 < s.size() && s[k] == a && s[k + 1] == b) merged.push_back(id), k += 2;
      else merged.push_back(s[k++]);
    }
    s.swap(merged);
  }
  out.insert(out.end(), s.begin(), s.end());
}

std::vector<std::int32_t> Bpe::encode(const std::string& line) const {
  std::vector<std::int32_t> out;
  for (auto& w : words_of(line)) encode_word(w, out);
  return out;
}

std::string Bpe::decode(const std::vector<std::int32_t>& ids) const {
  std::string out;
  const std::int32_t first_unused = kFirstChar + std::int32_t(chars_ + std::int64_t(merges_.size()));
  for (std::int32_t id : ids) {
    if (id < 0 || id >= std::int32_t(pieces_.size()))
      throw std::out_of_range("bpe decode: id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(pieces_.size()));
    if (id < kFirstByte || id >= first_unused) continue;
    if (id < kFirstChar) {
      out += char(id - kFirstByte);
      continue;
    }
    const std::string& p = pieces_[std::size_t(id)];
    for (std::size_t i = 0; i < p.size();) {
      if (p.compare(i, kMark.size(), kMark) == 0) out += ' ', i += kMark.size();
      else out += p[i++];
    }
  }
  if (!out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

std::string Bpe::serialize() const {
  std::ostringstream s;
  s << "hypertrain-bpe 1\nsize " << pieces_.size() << " chars " << chars_ << " merges " << merges_.size() << "\n";
  for (std::int64_t c = 0; c < chars_; ++c) s << "c " << pieces_[std::size_t(kFirstChar + c)] << "\n";
  for (auto& [a, b] : merges_) s << "m " << a << " " << b << "\n";
  return s.str();
}

Bpe Bpe::parse(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::string line;
  std::int64_t lineno = 0;
  auto fail = [&](const std::string& what) {
    return DataError(origin + ":" + std::to_string(lineno) + ": " + what + " (a subword vocabulary written by hypertrain train)");
  };
  ++lineno;
  if (!std::getline(in, line) || line != "hypertrain-bpe 1") throw fail("expected the header 'hypertrain-bpe 1'");
  ++lineno;
  long long size = 0, chars = 0, merges = 0;
  if (!std::getline(in, line) || std::sscanf(line.c_str(), "size %lld chars %lld merges %lld", &size, &chars, &merges) != 3 ||
      size < kFirstChar + 1 || chars < 1 || merges < 0 || kFirstChar + chars + merges > size)
    throw fail("expected 'size N chars C merges M' with 260 <= 259 + C + M <= N");
  Bpe bpe;
  for (const char* s : {"<pad>", "<s>", "</s>"}) bpe.pieces_.push_back(s);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    bpe.pieces_.push_back(buf);
  }
  for (long long c = 0; c < chars; ++c) {
    ++lineno;
    if (!std::getline(in, line) || line.size() < 3 || line.compare(0, 2, "c ") != 0) throw fail("expected a character line 'c CHAR'");
    bpe.add_char(line.substr(2));
  }
  if (bpe.pieces_[kFirstChar] != kMark) throw fail("the first character must be the boundary mark U+2581");
  for (long long m = 0; m < merges; ++m) {
    ++lineno;
    long long a = -1, b = -1;
    const std::int64_t known = std::int64_t(bpe.pieces_.size());
    if (!std::getline(in, line) || std::sscanf(line.c_str(), "m %lld %lld", &a, &b) != 2 || a < kFirstChar || b < kFirstChar ||
        a >= known || b >= known)
      throw fail("expected a merge line 'm LEFT RIGHT' of two earlier piece ids");
    bpe.add_merge(std::int32_t(a), std::int32_t(b));
  }
  bpe.finish(size);
  return bpe;
}

void Bpe::save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary);
    f << serialize();
    if (!f) throw std::runtime_error("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot rename " + tmp + " to " + path);
}

Bpe Bpe::load(const std::string& path) { return parse(read_file_maybe_gz(path), path); }

}  // namespace ht
