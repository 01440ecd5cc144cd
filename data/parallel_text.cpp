#include "data/parallel_text.h"

#include <stdexcept>

#include "data/io.h"

namespace ht {

const ParallelCorpus::Split& ParallelCorpus::split(const std::string& which) const {
  if (which == "train") return train;
  if (which == "valid") return valid;
  if (which == "test") return test;
  throw std::invalid_argument("unknown split '" + which + "' (train, valid, test)");
}

std::vector<std::string> text_lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string::npos ? text.size() : nl;
    std::string line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(std::move(line));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

ParallelCorpus::Split read_parallel(const std::string& source_path, const std::string& target_path) {
  ParallelCorpus::Split s;
  s.source = text_lines(read_file_maybe_gz(source_path));
  s.target = text_lines(read_file_maybe_gz(target_path));
  if (s.source.size() != s.target.size())
    throw DataError(source_path + " has " + std::to_string(s.source.size()) + " lines but " + target_path + " has " +
                    std::to_string(s.target.size()) + ": the two sides of a parallel corpus must align line by line");
  if (s.source.empty()) throw DataError(source_path + ": no lines");
  return s;
}

static void check_language(const std::string& lang, const std::vector<std::string>& known, const std::string& corpus) {
  for (auto& k : known)
    if (lang == k) return;
  std::string list;
  for (auto& k : known) list += (list.empty() ? "" : ", ") + k;
  throw std::invalid_argument("config keys 'source' and 'target' name languages of " + corpus + " (" + list + "), got '" + lang + "'");
}

ParallelCorpus load_multi30k(const std::string& data_flag, const std::string& source, const std::string& target) {
  for (auto* l : {&source, &target}) check_language(*l, {"en", "de", "fr"}, "multi30k");
  if (source == target) throw std::invalid_argument("config keys 'source' and 'target' must differ, both are '" + source + "'");
  auto find = [&](const std::string& stem) {
    DataFile help;
    help.name = stem + ".gz";
    help.url = "https://github.com/multi30k/dataset (data/task1/raw/" + stem + ".gz)";
    help.note = "the raw task 1 files, 29,000 / 1,014 / 1,000 lines for train / val / test_2016_flickr";
    return find_data_file("multi30k", {stem + ".gz", stem}, data_flag, help);
  };
  ParallelCorpus c;
  c.name = "multi30k";
  c.source = source;
  c.target = target;
  c.train = read_parallel(find("train." + source), find("train." + target));
  c.valid = read_parallel(find("val." + source), find("val." + target));
  c.test = read_parallel(find("test_2016_flickr." + source), find("test_2016_flickr." + target));
  return c;
}

ParallelCorpus load_wmt14(const std::string& data_flag, const std::string& source, const std::string& target) {
  for (auto* l : {&source, &target}) check_language(*l, {"en", "fr"}, "wmt14");
  if (source == target) throw std::invalid_argument("config keys 'source' and 'target' must differ, both are '" + source + "'");
  auto find = [&](const std::string& stem) {
    DataFile help;
    help.name = stem;
    help.url =
        "the WMT'14 English-French corpora (GNMT's training set, paper §4.6): "
        "https://www.statmt.org/wmt13/training-parallel-europarl-v7.tgz, "
        "https://www.statmt.org/wmt13/training-parallel-commoncrawl.tgz, "
        "https://www.statmt.org/wmt13/training-parallel-un.tgz, "
        "https://www.statmt.org/wmt14/training-parallel-nc-v9.tgz, "
        "https://www.statmt.org/wmt10/training-giga-fren.tar; "
        "validation and test: https://www.statmt.org/wmt14/dev.tgz (newstest2013), "
        "https://www.statmt.org/wmt14/test-full.tgz (newstest2014-fren-{src,ref}.{en,fr}.sgm)";
    help.sha256 = "not known to us: these archives publish no checksums and none could be checked offline";
    help.note = "concatenate the fr-en training files of every corpus, in the same order on both sides, into train.en and "
                "train.fr; strip the <seg> markup of the test .sgm files into newstest2014.en/.fr; newstest2013.en/.fr are plain "
                "text in dev.tgz (gzip -9 of any file is read too)";
    return find_data_file("wmt14", {stem + ".gz", stem}, data_flag, help);
  };
  ParallelCorpus c;
  c.name = "wmt14";
  c.source = source;
  c.target = target;
  c.train = read_parallel(find("train." + source), find("train." + target));
  c.valid = read_parallel(find("newstest2013." + source), find("newstest2013." + target));
  c.test = read_parallel(find("newstest2014." + source), find("newstest2014." + target));
  return c;
}

}  // namespace ht
