#include "data/bleu.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <stdexcept>

namespace ht {

namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  std::string out;
  std::size_t pos = 0;
  for (std::size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) out.append(s, pos, hit - pos).append(to);
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// mteval's first class: [\{-\~\[-\` -\&\(-\+\:-\@\/] = { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * + : ; < = > ? @ /
bool is_13a_symbol(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return (u >= '{' && u <= '~') || (u >= '[' && u <= '`') || (u >= ' ' && u <= '&') || (u >= '(' && u <= '+') ||
         (u >= ':' && u <= '@') || u == '/';
}

// The UTF-8 length of a code point starting with byte c (1 for a stray continuation byte).
std::size_t utf8_len(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF7) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC0) return 2;
  return 1;
}

// Python's str.isspace() code points (what str.split() and str.rstrip() split on).
bool is_py_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// The code point at s[i] and its byte length (invalid UTF-8: the byte itself, length 1).
std::uint32_t code_point(const std::string& s, std::size_t i, std::size_t* len) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  std::size_t n = utf8_len(c);
  if (n == 1 || i + n > s.size()) {
    *len = 1;
    return c;
  }
  std::uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    const unsigned char d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) {
      *len = 1;
      return c;
    }
    cp = (cp << 6) | (d & 0x3F);
  }
  *len = n;
  return cp;
}

std::string rstrip_py(const std::string& s) {
  // Scan forward and remember where the last non-space code point ends.
  std::size_t end = 0, len = 0;
  for (std::size_t i = 0; i < s.size(); i += len)
    if (!is_py_space(code_point(s, i, &len))) end = i + len;
  return s.substr(0, end);
}

}  // namespace

std::vector<std::string> split_whitespace(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  std::size_t len = 0;
  for (std::size_t i = 0; i < s.size(); i += len) {
    if (is_py_space(code_point(s, i, &len))) {
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
    } else {
      cur.append(s, i, len);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Each pass is one of mteval-v13a's substitutions applied as Python's re.sub does: leftmost
// matches, left to right, scanning on after each match. On UTF-8 bytes this gives the same
// output as on code points: every class is ASCII, and a negated class ([^0-9]) that takes one
// byte of a multi-byte character only moves where scanning resumes inside that character,
// whose other bytes match nothing.
std::string tokenize_13a(const std::string& raw) {
  std::string line = rstrip_py(raw);
  replace_all(line, "<skipped>", "");
  replace_all(line, "-\n", "");
  replace_all(line, "\n", " ");
  if (line.find('&') != std::string::npos) {
    replace_all(line, "&quot;", "\"");
    replace_all(line, "&amp;", "&");
    replace_all(line, "&lt;", "<");
    replace_all(line, "&gt;", ">");
  }
  std::string s = " " + line + " ", out;
  out.reserve(s.size() * 2);
  // ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> ' \1 '
  for (char c : s) {
    if (is_13a_symbol(c)) out += ' ', out += c, out += ' ';
    else out += c;
  }
  s.swap(out), out.clear();
  // ([^0-9])([\.,]) -> '\1 \2 '
  for (std::size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && !is_digit(s[i]) && (s[i + 1] == '.' || s[i + 1] == ',')) {
      out += s[i], out += ' ', out += s[i + 1], out += ' ';
      i += 2;
    } else {
      out += s[i++];
    }
  }
  s.swap(out), out.clear();
  // ([\.,])([^0-9]) -> ' \1 \2'
  for (std::size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && !is_digit(s[i + 1])) {
      out += ' ', out += s[i], out += ' ', out += s[i + 1];
      i += 2;
    } else {
      out += s[i++];
    }
  }
  s.swap(out), out.clear();
  // ([0-9])(-) -> '\1 \2 '
  for (std::size_t i = 0; i < s.size();) {
    if (i + 1 < s.size() && is_digit(s[i]) && s[i + 1] == '-') {
      out += s[i], out += ' ', out += '-', out += ' ';
      i += 2;
    } else {
      out += s[i++];
    }
  }
  // ' '.join(line.split())
  std::string joined;
  for (const auto& w : split_whitespace(out)) {
    if (!joined.empty()) joined += ' ';
    joined += w;
  }
  return joined;
}

void BleuStats::add_tokens(const std::vector<std::string>& hyp, const std::vector<std::string>& ref) {
  sys_len += double(hyp.size());
  ref_len += double(ref.size());
  for (int n = 1; n <= kOrder; ++n) {
    std::map<std::vector<std::string>, int> ref_counts, hyp_counts;
    for (std::size_t i = 0; i + std::size_t(n) <= ref.size(); ++i) ++ref_counts[{ref.begin() + i, ref.begin() + i + n}];
    for (std::size_t i = 0; i + std::size_t(n) <= hyp.size(); ++i) ++hyp_counts[{hyp.begin() + i, hyp.begin() + i + n}];
    double matched = 0, count = 0;
    for (auto& [gram, c] : hyp_counts) {
      count += c;
      auto it = ref_counts.find(gram);
      if (it != ref_counts.end()) matched += std::min(c, it->second);
    }
    correct[std::size_t(n - 1)] += matched;
    total[std::size_t(n - 1)] += count;
  }
}

void BleuStats::add(const std::string& hypothesis, const std::string& reference) {
  add_tokens(split_whitespace(tokenize_13a(hypothesis)), split_whitespace(tokenize_13a(reference)));
}

BleuStats& BleuStats::operator+=(const BleuStats& o) {
  for (int n = 0; n < kOrder; ++n) correct[std::size_t(n)] += o.correct[std::size_t(n)], total[std::size_t(n)] += o.total[std::size_t(n)];
  sys_len += o.sys_len;
  ref_len += o.ref_len;
  return *this;
}

void BleuStats::to_array(double* out) const {
  for (int n = 0; n < kOrder; ++n) out[n] = correct[std::size_t(n)], out[kOrder + n] = total[std::size_t(n)];
  out[2 * kOrder] = sys_len;
  out[2 * kOrder + 1] = ref_len;
}

BleuStats BleuStats::from_array(const double* in) {
  BleuStats s;
  for (int n = 0; n < kOrder; ++n) s.correct[std::size_t(n)] = in[n], s.total[std::size_t(n)] = in[kOrder + n];
  s.sys_len = in[2 * kOrder];
  s.ref_len = in[2 * kOrder + 1];
  return s;
}

// sacreBLEU's BLEU.compute_bleu with smooth_method 'exp', effective_order False.
BleuScore bleu_from_stats(const BleuStats& s) {
  BleuScore r;
  r.sys_len = s.sys_len;
  r.ref_len = s.ref_len;
  double smooth = 1;
  for (int n = 0; n < BleuStats::kOrder; ++n) {
    if (s.total[std::size_t(n)] == 0) break;  // no n-grams of this order: precision stays 0
    if (s.correct[std::size_t(n)] == 0) {
      smooth *= 2;
      r.precisions[std::size_t(n)] = 100.0 / (smooth * s.total[std::size_t(n)]);
    } else {
      r.precisions[std::size_t(n)] = 100.0 * s.correct[std::size_t(n)] / s.total[std::size_t(n)];
    }
  }
  r.bp = s.sys_len < s.ref_len ? (s.sys_len > 0 ? std::exp(1 - s.ref_len / s.sys_len) : 0.0) : 1.0;
  r.ratio = s.ref_len > 0 ? s.sys_len / s.ref_len : 0;
  double logs = 0;
  for (double p : r.precisions) logs += p == 0 ? -9999999999.0 : std::log(p);  // sacreBLEU's my_log
  r.score = r.bp * std::exp(logs / BleuStats::kOrder);
  return r;
}

BleuScore corpus_bleu(const std::vector<std::string>& hyps, const std::vector<std::string>& refs) {
  if (hyps.size() != refs.size())
    throw std::invalid_argument("corpus_bleu: " + std::to_string(hyps.size()) + " hypotheses for " + std::to_string(refs.size()) +
                                " references");
  BleuStats s;
  for (std::size_t i = 0; i < hyps.size(); ++i) s.add(hyps[i], refs[i]);
  return bleu_from_stats(s);
}

std::string BleuScore::format() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %lld ref_len = %lld)", score,
                precisions[0], precisions[1], precisions[2], precisions[3], bp, ratio, (long long)sys_len, (long long)ref_len);
  return buf;
}

const char* bleu_signature() { return "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:hypertrain"; }

}  // namespace ht
