// Character corpora for language modelling (paper §4.3-4.4) and the batching of one long stream
// into parallel streams with the state carried from segment to segment (truncated BPTT).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace ht {

struct CharCorpus {
  std::string name;                  // "ptb", "enwik8"
  std::string source;                // the directory the files were read from
  std::vector<std::string> symbols;  // id -> printable symbol ("\n" for end of line)
  std::vector<std::int32_t> train, valid, test;
  i64 vocab() const { return i64(symbols.size()); }
  const std::vector<std::int32_t>& split(const std::string& which) const;  // "train", "valid", "test"
  // Text -> ids with this vocabulary (by byte for enwik8, by character for PTB, where ' ' reads as
  // '_'); throws naming the first symbol outside the vocabulary.
  std::vector<std::int32_t> encode(const std::string& text) const;
  std::string decode(const std::vector<std::int32_t>& ids) const;
};

// Mikolov's Penn Treebank characters: ptb.char.{train,valid,test}.txt(.gz) in the dataset
// directory "ptb", found as find_data_file describes. Symbols are separated by single spaces;
// every end of line is a symbol too (50 in all). The vocabulary is the sorted set of the training
// file's symbols; a valid/test symbol outside it is an error naming the file.
CharCorpus load_ptb_chars(const std::string& data_flag);

// A file's text in the PTB character format, as ids over `symbols` (which grows when `grow`).
std::vector<std::int32_t> parse_ptb_chars(const std::string& text, const std::string& path, std::vector<std::string>& symbols,
                                          bool grow);

// enwik8: the file "enwik8" (or enwik8.gz) in the dataset directory "enwik8"; train / valid / test
// are the first splits[0] bytes, the next splits[1] and the next splits[2] (the paper: 90M / 5M /
// 5M of the 100M). Symbols are the bytes that occur in those splits (205 in enwik8). A file shorter
// than the splits is an error naming the file and both sizes.
CharCorpus load_enwik8(const std::string& data_flag, const std::vector<i64>& splits);

// One sequence cut into `batch` parallel streams of equal length (the tail that does not fill a
// stream is dropped); segment s of length `seq` gives inputs [seq, batch] and targets (the next
// symbols) [seq, batch]. Segment s of stream b continues where segment s-1 of stream b stopped,
// so the state carried between them is the true history. The last segment may be shorter.
class StreamBatcher {
 public:
  StreamBatcher(const std::vector<std::int32_t>& data, i64 batch, i64 seq);
  i64 segments() const { return segments_; }
  i64 stream_length() const { return len_; }
  i64 segment_length(i64 s) const;
  // (Re)allocates to [segment_length(s), b1 - b0]: streams [b0, b1) of segment s (b1 -1: all).
  void get(i64 s, Tensor& inputs, Tensor& targets, i64 b0 = 0, i64 b1 = -1) const;

 private:
  const std::vector<std::int32_t>* data_;
  i64 batch_, seq_, len_, segments_;
};

}  // namespace ht
