#include "data/text.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "data/io.h"

namespace ht {

const std::vector<std::int32_t>& CharCorpus::split(const std::string& which) const {
  if (which == "train") return train;
  if (which == "valid") return valid;
  if (which == "test") return test;
  throw std::invalid_argument("unknown split '" + which + "' (train, valid, test)");
}

std::vector<std::int32_t> CharCorpus::encode(const std::string& text) const {
  std::map<std::string, std::int32_t> index;
  for (std::size_t i = 0; i < symbols.size(); ++i) index[symbols[i]] = std::int32_t(i);
  std::vector<std::int32_t> out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string sym(1, text[i]);
    if (name == "ptb" && sym == " ") sym = "_";
    auto it = index.find(sym);
    if (it == index.end()) {
      std::string shown = sym == "\n" ? "\\n" : sym;
      throw std::invalid_argument("the text has '" + shown + "' at position " + std::to_string(i) + ", which is not in the " +
                                  name + " vocabulary of " + std::to_string(symbols.size()) + " symbols");
    }
    out.push_back(it->second);
  }
  return out;
}

std::string CharCorpus::decode(const std::vector<std::int32_t>& ids) const {
  std::string s;
  for (auto id : ids) {
    if (id < 0 || id >= vocab()) throw std::invalid_argument("decode: id " + std::to_string(id) + " outside the vocabulary");
    const std::string& sym = symbols[std::size_t(id)];
    s += name == "ptb" && sym == "_" ? std::string(" ") : sym;
  }
  return s;
}

std::vector<std::int32_t> parse_ptb_chars(const std::string& text, const std::string& path, std::vector<std::string>& symbols,
                                          bool grow) {
  std::map<std::string, std::int32_t> index;
  for (std::size_t i = 0; i < symbols.size(); ++i) index[symbols[i]] = std::int32_t(i);
  std::vector<std::int32_t> ids;
  ids.reserve(text.size() / 2 + 1);
  i64 line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == ' ' || c == '\r') continue;
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n')
      throw DataError(path + ": line " + std::to_string(line) + ": control byte " + std::to_string(int(static_cast<unsigned char>(c))) +
                      "; not a Penn Treebank character file (symbols separated by spaces)");
    if (i + 1 < text.size() && c != '\n' && text[i + 1] != ' ' && text[i + 1] != '\n' && text[i + 1] != '\r')
      throw DataError(path + ": line " + std::to_string(line) + ": '" + text.substr(i, 2) +
                      "' is two symbols without a space; not a Penn Treebank character file (e.g. ptb.char.train.txt)");
    std::string sym(1, c);
    auto it = index.find(sym);
    if (it == index.end()) {
      if (!grow)
        throw DataError(path + ": line " + std::to_string(line) + ": symbol '" + (c == '\n' ? std::string("\\n") : sym) +
                        "' does not occur in the training file");
      it = index.emplace(sym, std::int32_t(symbols.size())).first;
      symbols.push_back(sym);
    }
    ids.push_back(it->second);
    if (c == '\n') ++line;
  }
  if (ids.empty()) throw DataError(path + ": no symbols");
  return ids;
}

CharCorpus load_ptb_chars(const std::string& data_flag) {
  CharCorpus c;
  c.name = "ptb";
  auto find = [&](const std::string& split) {
    std::string stem = "ptb.char." + split + ".txt";
    DataFile help;
    help.name = "simple-examples.tgz";
    help.url = "http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz";
    help.note = "the character files are data/" + stem + " inside it; md5 of the decompressed files: train 874909f99060142f6b88cc74c34baaa2, "
                "valid 9e0fe5bec2a8bf43fd686dc23d5ab8bb, test 1f9a2d1afe00f76e8bfbe09a65439681";
    return find_data_file("ptb", {stem + ".gz", stem}, data_flag, help);
  };
  std::string tr = find("train"), va = find("valid"), te = find("test");
  std::vector<std::string> syms;
  c.train = parse_ptb_chars(read_file_maybe_gz(tr), tr, syms, true);
  // Sorted vocabulary, so ids do not depend on the order symbols first appear in.
  std::vector<std::string> sorted = syms;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int32_t> remap(syms.size());
  for (std::size_t i = 0; i < syms.size(); ++i)
    remap[i] = std::int32_t(std::lower_bound(sorted.begin(), sorted.end(), syms[i]) - sorted.begin());
  for (auto& id : c.train) id = remap[std::size_t(id)];
  c.symbols = sorted;
  c.valid = parse_ptb_chars(read_file_maybe_gz(va), va, c.symbols, false);
  c.test = parse_ptb_chars(read_file_maybe_gz(te), te, c.symbols, false);
  c.source = std::filesystem::path(tr).parent_path().string();
  return c;
}

CharCorpus load_enwik8(const std::string& data_flag, const std::vector<i64>& splits) {
  if (splits.size() != 3) throw std::invalid_argument("enwik8 splits must be three sizes (train, valid, test)");
  for (i64 s : splits)
    if (s <= 1) throw std::invalid_argument("enwik8 splits must be sizes above 1, got " + std::to_string(s));
  DataFile help;
  help.name = "enwik8.zip";
  help.url = "http://mattmahoney.net/dc/enwik8.zip";
  help.note = "unzip it to a file named enwik8 (100,000,000 bytes, sha256 "
              "2b49720ec4d78c3c9fabaee6e4179a5e997302b3a70029f30f2d582218c024a8); gzip -9 of it is read too";
  std::string path = find_data_file("enwik8", {"enwik8.gz", "enwik8"}, data_flag, help);
  std::string bytes = read_file_maybe_gz(path);
  const i64 need = splits[0] + splits[1] + splits[2];
  if (i64(bytes.size()) < need)
    throw DataError(path + ": " + std::to_string(bytes.size()) + " bytes, but the splits need " + std::to_string(need) + " (" +
                    std::to_string(splits[0]) + " + " + std::to_string(splits[1]) + " + " + std::to_string(splits[2]) + ")");
  bool seen[256] = {};
  for (i64 i = 0; i < need; ++i) seen[static_cast<unsigned char>(bytes[std::size_t(i)])] = true;
  CharCorpus c;
  c.name = "enwik8";
  std::int32_t map[256];
  for (int b = 0; b < 256; ++b) {
    map[b] = -1;
    if (seen[b]) {
      map[b] = std::int32_t(c.symbols.size());
      c.symbols.push_back(std::string(1, char(b)));
    }
  }
  auto cut = [&](i64 begin, i64 n) {
    std::vector<std::int32_t> v(static_cast<std::size_t>(n));
    for (i64 i = 0; i < n; ++i) v[std::size_t(i)] = map[static_cast<unsigned char>(bytes[std::size_t(begin + i)])];
    return v;
  };
  c.train = cut(0, splits[0]);
  c.valid = cut(splits[0], splits[1]);
  c.test = cut(splits[0] + splits[1], splits[2]);
  c.source = std::filesystem::path(path).parent_path().string();
  return c;
}

StreamBatcher::StreamBatcher(const std::vector<std::int32_t>& data, i64 batch, i64 seq) : data_(&data), batch_(batch), seq_(seq) {
  if (batch <= 0 || seq <= 0) throw std::invalid_argument("StreamBatcher: batch and sequence length must be positive");
  len_ = i64(data.size()) / batch;
  if (len_ < 2)
    throw std::invalid_argument("a sequence of " + std::to_string(data.size()) + " symbols is too short for " +
                                std::to_string(batch) + " streams");
  segments_ = (len_ - 1 + seq - 1) / seq;
}

i64 StreamBatcher::segment_length(i64 s) const {
  if (s < 0 || s >= segments_) throw std::out_of_range("segment " + std::to_string(s) + " outside [0, " + std::to_string(segments_) + ")");
  return std::min(seq_, len_ - 1 - s * seq_);
}

void StreamBatcher::get(i64 s, Tensor& inputs, Tensor& targets, i64 b0, i64 b1) const {
  const i64 T = segment_length(s);
  if (b1 < 0) b1 = batch_;
  if (b0 < 0 || b0 >= b1 || b1 > batch_)
    throw std::out_of_range("StreamBatcher::get: streams [" + std::to_string(b0) + ", " + std::to_string(b1) + ") of " + std::to_string(batch_));
  const i64 B = b1 - b0;
  if (inputs.shape() != Shape{T, B} || inputs.dtype() != DType::I32) inputs = Tensor::empty({T, B}, DType::I32);
  if (targets.shape() != Shape{T, B} || targets.dtype() != DType::I32) targets = Tensor::empty({T, B}, DType::I32);
  std::int32_t* x = inputs.data<std::int32_t>();
  std::int32_t* y = targets.data<std::int32_t>();
  const std::int32_t* d = data_->data();
  for (i64 t = 0; t < T; ++t)
    for (i64 b = 0; b < B; ++b) {
      i64 pos = (b0 + b) * len_ + s * seq_ + t;
      x[t * B + b] = d[pos];
      y[t * B + b] = d[pos + 1];
    }
}

}  // namespace ht
