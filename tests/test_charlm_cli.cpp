// `hypertrain sample` and `hypertrain plot scaling` on a tiny hyperlstm (and lstm) run trained on a
// tiny corpus in the Penn Treebank character format.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "train/charlm_task.h"
#include "cli/commands.h"
#include "train/config.h"
#include "train/run_files.h"
#include "train/trainer.h"
#include "tests/files.h"

using namespace ht;
using ht::test::run_cmd;

namespace {

std::string temp_root() { return ht::test::scratch_root("charlm_cli"); }

// "the cat sat on the mat" and friends, one sentence a line, symbols separated by spaces.
std::string ptb_chars(int lines, int offset) {
  static const char* sentences[] = {"the cat sat on the mat", "a dog ate the hat", "the rat and the cat", "we see a bat"};
  std::string out;
  for (int l = 0; l < lines; ++l) {
    std::string s = sentences[(l + offset) % 4];
    for (char c : s) {
      out += ' ';
      out += c == ' ' ? '_' : c;
    }
    out += " \n";
  }
  return out;
}

std::string data_dir() {
  static const std::string d = [] {
    std::string root = temp_root() + "/data";
    make_dirs(root + "/ptb");
    write_text_atomic(root + "/ptb/ptb.char.train.txt", ptb_chars(24, 0));
    write_text_atomic(root + "/ptb/ptb.char.valid.txt", ptb_chars(6, 1));
    write_text_atomic(root + "/ptb/ptb.char.test.txt", ptb_chars(6, 2));
    return root;
  }();
  return d;
}

// A trained run of the given cell, made once per cell.
std::string tiny_run(const std::string& cell) {
  std::string dir = temp_root() + "/run_" + cell;
  if (file_exists(dir + "/config.json")) return dir;
  Json user = {{"name", "tiny-" + cell},
               {"task", "charlm"},
               {"data_dir", data_dir()},
               {"model", {{"cell", cell}, {"hidden", 8}, {"hyper", 4}, {"embed", 2}}},
               {"train", {{"batch", 2}, {"seq", 5}, {"steps", 4}, {"eval_every", 2}, {"eval_batch", 2}, {"eval_seq", 5}, {"threads", 1}}}};
  Json cfg = resolve_config(user, "test");
  CharLMTask task(cfg);
  TrainOptions o;
  o.run_dir = dir;
  o.quiet = true;
  run_training(cfg, task, o);
  REQUIRE(file_exists(dir + "/config.json"));
  return dir;
}

}  // namespace

TEST_CASE("sample continues the prime with the requested number of characters, reproducibly") {
  const std::string run = tiny_run("hyperlstm");
  const std::string out1 = temp_root() + "/s1.txt", out2 = temp_root() + "/s2.txt", out3 = temp_root() + "/s3.txt";
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "the cat", "--length", "37", "--temperature", "0.8",
                             "--seed", "5", "--out", out1}) == 0);
  REQUIRE(file_exists(out1));
  std::string a = read_text(out1);
  CHECK(a.size() == 7 + 37);
  CHECK(a.rfind("the cat", 0) == 0);
  CHECK_FALSE(file_exists(out1 + ".tmp"));

  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "the cat", "--length", "37", "--temperature", "0.8",
                             "--seed", "5", "--out", out2}) == 0);
  CHECK(read_text(out2) == a);  // same seed, same text

  // a .bin inside the run names the run too; temperature 0 is argmax and needs no seed
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run + "/checkpoint.safetensors", "--prime", "a", "--length", "10",
                             "--temperature", "0", "--out", out3}) == 0);
  CHECK(read_text(out3).size() == 11);

  // the vocabulary comes from --data when given
  CHECK(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "we", "--length", "3", "--data", data_dir(), "--out",
                             out3}) == 0);
  CHECK(read_text(out3).size() == 5);
}

TEST_CASE("sample refuses what it cannot do, saying why") {
  const std::string run = tiny_run("hyperlstm");
  const std::string out = temp_root() + "/bad.txt";
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "the zebra", "--out", out}),
                    doctest::Contains("'z'"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "", "--out", out}),
                    doctest::Contains("prime"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--out", out}), doctest::Contains("prime"));
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", run, "--prime", "a", "--temperature", "-1", "--out", out}),
                    doctest::Contains("temperature"));
  CHECK_FALSE(file_exists(out));

  // not a run; not a charlm run
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", temp_root(), "--prime", "a"}),
                    doctest::Contains("no config.json"));
  const std::string image_run = temp_root() + "/image_run";
  make_dirs(image_run);
  write_text_atomic(image_run + "/config.json", config_defaults("image").dump());
  write_text_atomic(image_run + "/checkpoint.safetensors", "x");
  CHECK_THROWS_WITH(run_cmd(cmd_sample, {"sample", "--checkpoint", image_run, "--prime", "a"}), doctest::Contains("'image'"));
}

TEST_CASE("plot scaling draws a hyper cell's scaling vectors and refuses an lstm") {
  const std::string run = tiny_run("hyperlstm");
  const std::string text = temp_root() + "/text.txt";
  write_text_atomic(text, "the cat sat on the hat\nwe see a rat\n");

  auto png_signature = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    char b[8] = {};
    f.read(b, 8);
    return f.gcount() == 8 && std::memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0;
  };

  CHECK(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", text}) == 0);
  CHECK(png_signature(run + "/scaling.png"));
  const std::string out = temp_root() + "/scaling_norm.png";
  CHECK(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", text, "--out", out, "--max-chars", "10", "--gate",
                           "f", "--lines", "norm", "--center"}) == 0);
  CHECK(png_signature(out));

  // a character outside the vocabulary names it
  write_text_atomic(temp_root() + "/zebra.txt", "a zebra");
  CHECK_THROWS_WITH(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", temp_root() + "/zebra.txt", "--out", out}),
                    doctest::Contains("'z'"));

  const std::string lstm = tiny_run("lstm");
  CHECK_THROWS_WITH(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", lstm, "--text", text}),
                    doctest::Contains(("plot scaling needs a hyper cell (hyperlstm or hyperrnn); " + lstm + " holds an lstm").c_str()));
  CHECK_FALSE(file_exists(lstm + "/scaling.png"));
}

TEST_CASE("plot scaling works for a hyperrnn (one scaling vector per step)") {
  const std::string run = tiny_run("hyperrnn");
  const std::string text = temp_root() + "/text_rnn.txt";
  write_text_atomic(text, "a dog ate the hat");
  const std::string out = temp_root() + "/scaling_rnn.png";
  CHECK(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", text, "--out", out}) == 0);
  CHECK(file_exists(out));
  // a vector picture by the extension; an unknown one is refused naming the accepted ones
  const std::string svg = temp_root() + "/scaling_rnn.svg";
  CHECK(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", text, "--out", svg}) == 0);
  const std::string body = read_text(svg);
  CHECK(body.find("<svg") != std::string::npos);
  CHECK(body.find("<path") != std::string::npos);
  CHECK_THROWS_WITH(run_cmd(cmd_plot, {"plot", "scaling", "--checkpoint", run, "--text", text, "--out", temp_root() + "/s.gif"}),
                    doctest::Contains(".png, .svg or .pdf"));
  CHECK_FALSE(file_exists(temp_root() + "/s.gif"));
}
