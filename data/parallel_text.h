// Parallel text for translation (paper §4.6): sentence pairs, one sentence a line, aligned line
// by line, in three splits. Raw text: tokenisation into subwords is data/bpe.h's job.
//
//   Multi30k (task 1, raw): ../shared/data/multi30k/{train,val,test_2016_flickr}.{en,de,fr}.gz
//   WMT'14 English-French: newstest2013 for validation, newstest2014 for test (as GNMT), the
//     training text concatenated from the WMT'14 corpora into one file per language.
#pragma once
#include <string>
#include <vector>

namespace ht {

struct ParallelCorpus {
  std::string name;          // "multi30k", "wmt14"
  std::string source, target;  // language codes: "en", "fr"
  struct Split { std::vector<std::string> source, target; };
  Split train, valid, test;
  const Split& split(const std::string& which) const;  // "train", "valid", "test"
};

// Lines of a file's text: split on '\n', a trailing '\r' removed, no line after a final '\n'.
std::vector<std::string> text_lines(const std::string& text);

// The two files of one split, line by line; different line counts are an error naming both files.
ParallelCorpus::Split read_parallel(const std::string& source_path, const std::string& target_path);

// Multi30k in the dataset directory "multi30k" (data/io.h lookup order): source and target are
// two of en, de, fr.
ParallelCorpus load_multi30k(const std::string& data_flag, const std::string& source, const std::string& target);

// WMT'14 in the dataset directory "wmt14": train.{en,fr}, newstest2013.{en,fr}, newstest2014.{en,fr}
// (plain or .gz). A missing file is an error naming the corpora to download and how to assemble
// these files from them.
ParallelCorpus load_wmt14(const std::string& data_flag, const std::string& source, const std::string& target);

}  // namespace ht
