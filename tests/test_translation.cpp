// The translation task end to end on a tiny made-up corpus in Multi30k's layout: training writes
// the subword vocabulary, BLEU with its signature and the translations; a checkpoint reloads and
// translates identically; `hypertrain translate` and `hypertrain eval`; bad input (empty lines,
// characters never seen, an over-long sentence) has a defined result; the configs' parameter
// counts.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "train/config.h"
#include "train/run_files.h"
#include "train/tasks.h"
#include "train/trainer.h"
#include "train/translation_task.h"
#include "data/io.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "tests/files.h"

using namespace ht;
using ht::test::has;
using ht::test::run_cmd;

namespace {

// A made-up language pair: English words and their "French" words, sentences of 2 to 7 words.
std::pair<std::string, std::string> corpus_side(int lines, int seed) {
  static const char* en[] = {"a", "dog", "runs", "the", "man", "sees", "red", "ball", "two", "girls", "play", "in", "park", "near", "water"};
  static const char* fr[] = {"un", "chien", "court", "le", "homme", "voit", "rouge", "balle", "deux", "filles", "jouent", "dans", "parc", "près", "eau"};
  Rng r{std::uint64_t(seed)};
  std::string s, t;
  for (int l = 0; l < lines; ++l) {
    const int n = 2 + int(r.below(6));
    for (int k = 0; k < n; ++k) {
      const auto w = r.below(15);
      s += std::string(k ? " " : "") + en[w];
      t += std::string(k ? " " : "") + fr[w];
    }
    s += " .\n";
    t += " .\n";
  }
  return {s, t};
}

std::string temp_root() { return ht::test::scratch_root("translation"); }

std::string data_dir() {
  static const std::string d = [] {
    const std::string root = temp_root() + "/data";
    int seed = 1;
    for (auto [split, n] : std::vector<std::pair<std::string, int>>{{"train", 240}, {"val", 16}, {"test_2016_flickr", 12}}) {
      auto [en, fr] = corpus_side(n, seed++);
      ht::test::write_gz(root + "/multi30k/" + split + ".en.gz", en);
      ht::test::write_gz(root + "/multi30k/" + split + ".fr.gz", fr);
    }
    return root;
  }();
  return d;
}

Json tiny_config(const std::string& cell) {
  Json user = {{"name", "tiny-" + cell},
               {"task", "translation"},
               {"data_dir", data_dir()},
               {"max_source", 12},
               {"bpe", {{"vocab", 300}}},
               {"model", {{"cell", cell}, {"hidden", 12}, {"hyper", 6}, {"embed", 3}, {"word_embed", 8}, {"dropout", 0.1}}},
               {"decode", {{"beam", 2}, {"batch", 8}}},
               {"train", {{"batch", 8}, {"steps", 6}, {"eval_every", 3}, {"checkpoint_every", 3}, {"eval_sentences", 8}, {"threads", 1}}}};
  return resolve_config(user, "test");
}

// A finished run of the tiny config, made once per cell.
std::string tiny_run(const std::string& cell) {
  const std::string dir = temp_root() + "/run-" + cell;
  if (file_exists(dir + "/results.json")) return dir;
  Json cfg = tiny_config(cell);
  TranslationTask task(cfg);
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  run_training(cfg, task, o);
  return dir;
}

// Runs a subcommand with std::cout captured.
std::string captured(int (*cmd)(int, char**), std::vector<std::string> args, int* status = nullptr) {
  std::ostringstream out;
  auto* old = std::cout.rdbuf(out.rdbuf());
  int rc = -1;
  try {
    rc = run_cmd(cmd, args);
  } catch (...) {
    std::cout.rdbuf(old);
    throw;
  }
  std::cout.rdbuf(old);
  if (status) *status = rc;
  return out.str();
}

}  // namespace

TEST_CASE("a tiny translation run: subword vocabulary in the run, BLEU with its signature, translations") {
  for (const std::string cell : {"lstm", "ln-hyperlstm"}) {
    const std::string dir = tiny_run(cell);
    CHECK(file_exists(dir + "/bpe.model"));
    CHECK(file_exists(dir + "/translations.txt"));
    Json r = Json::parse(read_text(dir + "/results.json"));
    CHECK(r.contains("valid_bleu"));
    CHECK(r.contains("test_bleu"));
    CHECK(r["test_bleu"].get<double>() >= 0);
    CHECK(r["test_bleu_details"]["signature"] == "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:hypertrain");
    CHECK(r["test_bleu_details"]["score"].get<std::string>().rfind("BLEU = ", 0) == 0);
    CHECK(r["test_loss"].get<double>() > 0);
    auto rows = read_jsonl(dir + "/metrics.jsonl");
    REQUIRE(rows.size() == 2);
    CHECK(rows[1].contains("valid_bleu"));
    CHECK(read_text(dir + "/translations.txt").find("reference:   ") != std::string::npos);
  }
}

TEST_CASE("a checkpoint reloads and translates identically") {
  Json cfg = tiny_config("ln-hyperlstm");
  ht::test::TempDir d;
  TranslationTask task(cfg);
  ParamStore ps;
  task.build(ps);
  Rng init(1);
  ps.finalize(init);
  task.open_run_dir(d.path.string(), true);
  auto sampler = task.make_sampler(Shard{}, 1);
  Adam adam(ps, {});
  Rng rng(2);
  Tape t;
  Batch b;
  for (i64 s = 0; s < 5; ++s) {
    sampler->get(s, b);
    t.reset();
    ps.zero_grad();
    Var loss = task.loss(t, ps, b, rng);
    t.backward(loss);
    adam.step(ps, 0.01);
  }
  const std::vector<std::string> lines = {"a dog runs .", "the man sees two girls near water .", "red ball ."};
  SearchOptions o = search_options(cfg);
  const auto before_beam = task.translate(ps, lines, o);
  o.beam = 1;
  const auto before_greedy = task.translate(ps, lines, o);
  save_checkpoint(d / "model.safetensors", param_tensors(ps), {{"step", 5}});

  TranslationTask again(cfg, false);  // no corpus: the vocabulary comes from the run directory
  ParamStore ps2;
  again.build(ps2);
  Rng other(99);
  ps2.finalize(other);
  restore_params(ps2, load_checkpoint(d / "model.safetensors"));
  again.open_run_dir(d.path.string(), false);
  CHECK(again.translate(ps2, lines, o) == before_greedy);
  o.beam = 2;
  CHECK(again.translate(ps2, lines, o) == before_beam);
  for (i64 i = 0; i < ps.flat_values().numel(); ++i) REQUIRE(ps.flat_values().data<float>()[i] == ps2.flat_values().data<float>()[i]);
  // Without the vocabulary file, translate refuses naming it.
  ht::test::TempDir empty;
  CHECK_THROWS_WITH(again.open_run_dir(empty.path.string(), false), has("has no bpe.model"));
}

TEST_CASE("hypertrain translate and eval on a finished run") {
  const std::string dir = tiny_run("lstm");
  ht::test::TempDir d;
  ht::test::write_plain(d / "in.txt", "a dog runs .\n\nthe man sees two girls .\n");
  int rc = -1;
  const std::string out = captured(cmd_translate, {"translate", "--checkpoint", dir, "--text", d / "in.txt", "--beam", "1", "--threads", "1"}, &rc);
  CHECK(rc == 0);
  auto lines = text_lines(out);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "");  // the empty line stays empty
  // The same run, the same lines, through the task: the same output.
  Json cfg = resolve_config(Json::parse(read_text(dir + "/config.json")), "run");
  TranslationTask task(cfg, false);
  ParamStore ps;
  task.build(ps);
  Rng r(0);
  ps.finalize(r);
  restore_params(ps, load_checkpoint(run_checkpoint(dir)));
  task.open_run_dir(dir, false);
  SearchOptions o = search_options(cfg);
  o.beam = 1;
  CHECK(task.translate(ps, {"a dog runs .", "", "the man sees two girls ."}, o) == lines);
  const std::string ev = captured(cmd_eval, {"eval", "--checkpoint", dir, "--split", "test", "--beam", "1", "--threads", "1"}, &rc);
  CHECK(rc == 0);
  CHECK(ev.find("BLEU = ") != std::string::npos);
  CHECK(ev.find("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:hypertrain") != std::string::npos);
  CHECK(ev.find("beam 1") != std::string::npos);
  CHECK_THROWS_WITH(run_cmd(cmd_translate, {"translate", "--checkpoint", d.path.string()}), has("not a run directory"));
  // report: a BLEU table for translation runs (printf: checked for its status only).
  CHECK(run_cmd(cmd_report, {"report", dir, tiny_run("ln-hyperlstm")}) == 0);
}

TEST_CASE("bad input: empty and blank lines, characters never seen, an over-long sentence") {
  const std::string dir = tiny_run("ln-hyperlstm");
  Json cfg = resolve_config(Json::parse(read_text(dir + "/config.json")), "run");
  TranslationTask task(cfg, false);
  ParamStore ps;
  task.build(ps);
  Rng r(0);
  ps.finalize(r);
  restore_params(ps, load_checkpoint(run_checkpoint(dir)));
  task.open_run_dir(dir, false);
  std::string long_line;
  for (int i = 0; i < 300; ++i) long_line += "dog runs ";
  const std::vector<std::string> lines = {"", " \t ", "東 \xFF\x01", long_line, "a dog ."};
  std::vector<std::string> warnings;
  for (int beam : {1, 3}) {
    SearchOptions o = search_options(cfg);
    o.beam = beam;
    warnings.clear();
    auto out = task.translate(ps, lines, o, &warnings);
    REQUIRE(out.size() == lines.size());
    CHECK(out[0] == "");
    CHECK(out[1] == "");
    REQUIRE(warnings.size() == 1);
    CHECK(warnings[0].find("line 4: ") == 0);
    CHECK(warnings[0].find("cut to the first 12 (config key max_source)") != std::string::npos);
    // The cut line is translated from its first 12 subwords, so its output is bounded by them.
    CHECK(text_lines(out[3]).size() <= 1);
  }
  // Characters never seen go in as bytes: the source ids stay inside the vocabulary.
  for (auto id : task.encode_source(lines[2])) CHECK((id >= Bpe::kFirstByte && id < 300));
  CHECK(task.encode_source(long_line).size() == 12);
}

TEST_CASE("translation configs: parameter counts, matched Multi30k pair, the WMT'14 hint, errors") {
  auto count = [](const std::string& path) {
    Json cfg = load_config(path);
    auto task = make_task(cfg, false);
    ParamStore ps;
    task->build(ps);
    return ps.count();
  };
  const i64 lstm = count("configs/multi30k/lstm.json"), hyper = count("configs/multi30k/ln-hyperlstm.json");
  CHECK(lstm == 10616804);
  CHECK(hyper == 10626624);
  CHECK(std::abs(double(lstm - hyper)) / double(hyper) < 0.005);
  CHECK(count("configs/wmt14/gnmt-lstm.json") == 276665600);
  CHECK(count("configs/wmt14/gnmt-ln-hyperlstm.json") == 307520256);
  ht::test::TempDir d;
  ht::test::EnvGuard env("HYPERTRAIN_DATA", std::nullopt), home("HOME", d.path.string());
  Json wmt = load_config("configs/wmt14/gnmt-lstm.json", {"data_dir=\"" + d.path.string() + "\""});
  CHECK_THROWS_WITH_AS(make_task(wmt, true), has("https://www.statmt.org/wmt14/training-parallel-nc-v9.tgz"), DataError);
  Json bad = tiny_config("lstm");
  bad["model"]["cell"] = "gru";
  CHECK_THROWS_WITH(TranslationTask(bad, false), has("model.cell' must be lstm, ln-lstm, hyperlstm or ln-hyperlstm"));
  bad = tiny_config("lstm");
  bad["data"] = "ptb";
  CHECK_THROWS_WITH(TranslationTask(bad, false), has("multi30k or wmt14"));
}
