// Bad inputs refused before any data is read or any step runs (issue 12, items 7-9): every config
// key's type, range and cross-key constraints, config files that are not configs, --set values
// (JSON taken whole, numbers that overflow), stray command-line arguments, and sizes that would
// overflow a count. Each case must be refused with a message naming the key, file or shape.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/args.h"
#include "cli/commands.h"
#include "train/config.h"
#include "train/config_check.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "tests/faults.h"
#include "tests/files.h"

using namespace ht;
using ht::test::expect_refused;
using ht::test::run_cmd;
using ht::test::TempDir;
using ht::test::write_plain;

namespace {

struct Case {
  const char* task;
  std::vector<std::string> sets;      // --set overrides over the task's defaults
  std::vector<std::string> expected;  // what the message must name
};

// Each row: a config that must be refused by resolve_config, before anything is loaded.
const std::vector<Case> kConfigCases = {
    // the trainer's keys (train/trainer.cpp, beside trainer_defaults)
    {"image", {"train.steps=0"}, {"'train.steps'", "[1, 1000000000]"}},
    {"image", {"train.steps=-1"}, {"'train.steps'", "(= -1)"}},
    {"image", {"train.steps=1000000001"}, {"'train.steps'"}},
    {"image", {"train.steps=1e5"}, {"'train.steps'", "must be an integer"}},
    {"image", {"train.batch=99.7"}, {"'train.batch'", "must be an integer", "99.7"}},
    {"image", {"train.eval_every=0"}, {"'train.eval_every'"}},
    {"image", {"train.checkpoint_every=0"}, {"'train.checkpoint_every'"}},
    {"image", {"train.patience=-1"}, {"'train.patience'"}},
    {"image", {"train.seed=-3"}, {"'train.seed'"}},
    {"image", {"train.threads=-1"}, {"'train.threads'"}},
    {"image", {"train.threads=5000"}, {"'train.threads'", "1024"}},
    {"image", {"train.optimizer=rmsprop"}, {"'train.optimizer'", "adam, sgd"}},
    {"image", {"train.beta1=1"}, {"'train.beta1'", "below 1"}},
    {"image", {"train.beta2=1.5"}, {"'train.beta2'"}},
    {"image", {"train.eps=0"}, {"'train.eps'"}},
    {"image", {"train.momentum=-0.1"}, {"'train.momentum'"}},
    {"image", {"train.weight_decay=-1"}, {"'train.weight_decay'"}},
    {"image", {"train.clip=-1"}, {"'train.clip'"}},
    {"image", {"train.lr={\"type\":\"constant\",\"lr\":-1}"}, {"'train.lr'", "'lr'"}},
    {"image", {"train.lr={\"type\":\"cosine\"}"}, {"'train.lr'", "cosine"}},
    {"image", {"train.lr.lr=1e999"}, {"train.lr.lr", "not a finite number"}},
    {"image", {"train.lr.lr=-1e999"}, {"train.lr.lr", "not a finite number"}},
    {"image", {"train.nesterov=1"}, {"'train.nesterov'"}},
    {"image", {"name=3"}, {"'name'"}},
    {"image", {"paper=[1]"}, {"'paper'", "object"}},
    {"image", {"train.stepz=3"}, {"'train.stepz'", "unknown"}},
    {"image", {"nosuchkey"}, {"key=value", "nosuchkey"}},
    // the image task's keys (train/image_task.cpp, beside kImageTask)
    {"image", {"data=svhn"}, {"'data'", "mnist, fashion-mnist, cifar10"}},
    {"image", {"model.arch=resnet"}, {"'model.arch'"}},
    {"image", {"data=cifar10"}, {"'model.arch'", "cifar10"}},
    {"image", {"model.nz=0"}, {"'model.nz'"}},
    {"image", {"model.channels=0"}, {"'model.channels'"}},
    {"image", {"model.f=0"}, {"'model.f'"}},
    {"image", {"model.hidden=0"}, {"'model.hidden'"}},
    {"image", {"model.hidden=4611686018427387904"}, {"'model.hidden'", "65536"}},
    {"image", {"model.arch=coord-hyperfc", "model.hidden=20"}, {"'model'", "hidden=20", "perfect square"}},
    {"image", {"data=cifar10", "model.arch=wrn", "model.depth=11"}, {"'model'", "model.depth must be 6N + 4"}},
    {"image", {"data=cifar10", "model.arch=wrn", "model.widen=0"}, {"'model.widen'"}},
    {"image", {"data=cifar10", "model.arch=wrn", "model.hyper=[\"conv9\"]"}, {"'model'", "'conv9'"}},
    {"image", {"data=cifar10", "model.arch=wrn", "model.hyper=[\"conv1\"]"}, {"'model'", "layer 'conv1'"}},
    {"image", {"model.hyper=[1]"}, {"'model.hyper'", "layer names"}},
    {"image", {"model.hyper=\"conv2\""}, {"'model.hyper'", "array"}},
    {"image", {"data=cifar10", "model.arch=wrn", "model.depth=1000", "model.widen=64"}, {"'model'", "parameters, above the limit"}},
    {"image", {"model.dropout=1"}, {"'model.dropout'", "[0, 1)"}},
    {"image", {"train.eval_batch=0"}, {"'train.eval_batch'"}},
    {"image", {"train.valid_size=0"}, {"'train.valid_size'"}},
    {"image", {"train.augment=\"yes\""}, {"'train.augment'"}},
    // the character task's keys (train/charlm_task.cpp, beside kCharLMTask)
    {"charlm", {"data=wiki"}, {"'data'", "ptb, enwik8"}},
    {"charlm", {"model.cell=gru"}, {"'model.cell'", "lstm, hyperrnn, hyperlstm"}},
    {"charlm", {"model.hidden=0"}, {"'model.hidden'"}},
    {"charlm", {"model.hidden=65537"}, {"'model.hidden'"}},
    {"charlm", {"model.hyper=0"}, {"'model.hyper'", "[1, 65536]"}},
    {"charlm", {"model.embed=0"}, {"'model.embed'"}},
    {"charlm", {"model.layers=0"}, {"'model.layers'"}},
    {"charlm", {"model.layers=1e9"}, {"'model.layers'", "must be an integer"}},
    {"charlm", {"model.layers=1000000000"}, {"'model.layers'", "[1, 64]"}},
    {"charlm", {"model.cell=hyperrnn", "model.layer_norm=true"}, {"'model.layer_norm'", "hyperrnn"}},
    {"charlm", {"model.input_dropout=1.0"}, {"'model.input_dropout'"}},
    {"charlm", {"model.recurrent_dropout=-0.1"}, {"'model.recurrent_dropout'"}},
    {"charlm", {"model.ln_eps=0"}, {"'model.ln_eps'"}},
    {"charlm", {"model.fused=\"no\""}, {"'model.fused'"}},
    {"charlm", {"model.hidden=65536", "model.layers=64"}, {"'model'", "parameters, above the limit"}},
    {"charlm", {"train.seq=0"}, {"'train.seq'"}},
    {"charlm", {"train.seq=2000000"}, {"'train.seq'"}},
    {"charlm", {"train.eval_seq=0"}, {"'train.eval_seq'"}},
    {"charlm", {"train.eval_batch=0"}, {"'train.eval_batch'"}},
    {"charlm", {"train.eval_chars=-1"}, {"'train.eval_chars'"}},
    {"charlm", {"train.batch=0"}, {"'train.batch'"}},
    {"charlm", {"enwik8_splits=[1,2]"}, {"'enwik8_splits'", "three"}},
    {"charlm", {"enwik8_splits=[90000000,5000000,1]"}, {"'enwik8_splits'"}},
    // the handwriting task's keys (train/handwriting_task.cpp, beside kHandwritingTask)
    {"handwriting", {"data=mnist"}, {"'data'", "iam_ondb"}},
    {"handwriting", {"min_points=1"}, {"'min_points'"}},
    {"handwriting", {"model.mixtures=0"}, {"'model.mixtures'"}},
    {"handwriting", {"model.mixtures=1001"}, {"'model.mixtures'"}},
    {"handwriting", {"model.input_dropout=0.1"}, {"'model.input_dropout'", "must be 0"}},
    {"handwriting", {"model.hyper=0"}, {"'model.hyper'"}},
    {"handwriting", {"train.augment=1.5"}, {"'train.augment'"}},
    {"handwriting", {"train.eval_lines=-1"}, {"'train.eval_lines'"}},
    {"handwriting", {"train.eval_seq=0"}, {"'train.eval_seq'"}},
};

}  // namespace

TEST_CASE("every config key's type, range and cross-key constraints are checked before anything is loaded") {
  for (const Case& c : kConfigCases) {
    std::string label = std::string(c.task) + ":";
    for (const auto& s : c.sets) label += " --set " + s;
    expect_refused(label, [&] { resolve_config({{"task", c.task}}, "case.json", c.sets); }, c.expected);
  }
  // The same checks hold for a config file (not only --set), naming the file.
  expect_refused("a float in a file", [] { resolve_config({{"train", {{"batch", 10.5}}}}, "mine.json"); },
                 {"mine.json", "'train.batch'", "must be an integer"});
  expect_refused("a range in a file", [] { resolve_config({{"train", {{"steps", 0}}}}, "mine.json"); }, {"mine.json", "'train.steps'"});
  expect_refused("an unknown task", [] { resolve_config({{"task", "speech"}}, "mine.json"); }, {"unknown task 'speech'"});
  expect_refused("a config that is not an object", [] { resolve_config(Json::array({1, 2}), "mine.json"); }, {"mine.json", "JSON object"});
}

TEST_CASE("the shipped configs and the defaults of every task pass the checks") {
  for (const char* task : {"image", "charlm", "handwriting"}) CHECK_NOTHROW(resolve_config({{"task", task}}, "defaults"));
  for (const char* d : {"configs/mnist", "configs/ptb", "configs/enwik8", "configs/iam", "configs/cifar10"})
    for (auto& e : std::filesystem::directory_iterator(d)) CHECK_NOTHROW(load_config(e.path().string()));
}

TEST_CASE("config files that are not configs are errors naming the file, in our words") {
  TempDir d;
  write_plain(d / "broken.json", "{\"train\": {\"steps\": 3,}}");
  write_plain(d / "empty.json", "");
  write_plain(d / "huge.json", "{\"train\": {\"clip\": 1e999}}");
  write_plain(d / "array.json", "[1, 2]");
  expect_refused("--config a directory", [&] { load_config(d.path.string()); }, {d.path.string(), "is a directory"});
  expect_refused("--config a missing file", [&] { load_config(d / "nope.json"); }, {d / "nope.json", "not found"});
  expect_refused("--config broken JSON", [&] { load_config(d / "broken.json"); }, {d / "broken.json", "not valid JSON", "byte"});
  expect_refused("--config an empty file", [&] { load_config(d / "empty.json"); }, {d / "empty.json", "empty"});
  expect_refused("--config a number too large", [&] { load_config(d / "huge.json"); }, {d / "huge.json", "too large"});
  expect_refused("--config an array", [&] { load_config(d / "array.json"); }, {d / "array.json", "JSON object"});
  for (const std::string& f : {d / "broken.json", d / "empty.json", d / "huge.json"}) {
    std::string m;
    try {
      load_config(f);
    } catch (const std::exception& e) {
      m = e.what();
    }
    CHECK(m.find("json.exception") == std::string::npos);  // not the library's words
  }
}

TEST_CASE("--set values are JSON taken whole: arrays and objects keep their commas") {
  const char* argv[] = {"train", "--set", "model.hyper=[\"conv2.0\",\"conv3.0\"]", "--steps", "3",
                        "--set=train.lr={\"type\":\"exponential\",\"lr\":0.1,\"rate\":0.9}"};
  TakenArgs t = take_option(6, const_cast<char**>(argv), "--set");
  REQUIRE(t.values.size() == 2);
  CHECK(t.values[0] == "model.hyper=[\"conv2.0\",\"conv3.0\"]");
  CHECK(t.rest == std::vector<std::string>{"train", "--steps", "3"});
  Json cfg = resolve_config({{"data", "cifar10"}, {"model", {{"arch", "wrn"}, {"depth", 16}}}}, "t", t.values);
  CHECK(cfg["model"]["hyper"] == Json::array({"conv2.0", "conv3.0"}));
  CHECK(cfg["train"]["lr"]["rate"] == 0.9);
  expect_refused("--set at the end with no value", [] {
    const char* a[] = {"train", "--set"};
    take_option(2, const_cast<char**>(a), "--set");
  }, {"--set needs a value"});
}

TEST_CASE("a stray positional argument is an error naming it, for every command") {
  TempDir d;
  expect_refused("train stray", [&] { run_cmd(cmd_train, {"train", "--config", "configs/mnist/fc.json", "stray"}); }, {"'stray'"});
  expect_refused("eval stray", [&] { run_cmd(cmd_eval, {"eval", "--checkpoint", d.path.string(), "stray"}); }, {"'stray'"});
  expect_refused("sample stray", [&] { run_cmd(cmd_sample, {"sample", "--checkpoint", d.path.string(), "stray"}); }, {"'stray'"});
  expect_refused("plot stray", [&] { run_cmd(cmd_plot, {"plot", "curves", "stray", "--run", d.path.string()}); }, {"'stray'"});
  expect_refused("list stray", [&] { run_cmd(cmd_list, {"list", "stray"}); }, {"'stray'"});
  expect_refused("bench stray", [&] { run_cmd(cmd_bench, {"bench", "stray"}); }, {"'stray'"});
}

TEST_CASE("train's arguments: what --resume may change, what must be given") {
  TempDir d;
  expect_refused("--config and --resume", [&] { run_cmd(cmd_train, {"train", "--config", "configs/mnist/fc.json", "--resume", d.path.string()}); },
                 {"either --config FILE or --resume DIR"});
  expect_refused("neither", [&] { run_cmd(cmd_train, {"train", "--steps", "3"}); }, {"either --config FILE or --resume DIR"});
  expect_refused("--resume with a model change", [&] { run_cmd(cmd_train, {"train", "--resume", d.path.string(), "--set", "model.hidden=3"}); },
                 {"only --steps, --threads and --data may change", "model.hidden=3"});
  expect_refused("--resume of no run", [&] { run_cmd(cmd_train, {"train", "--resume", d / "nothing"}); }, {d / "nothing", "not a run directory"});
  expect_refused("--steps 0", [&] { run_cmd(cmd_train, {"train", "--config", "configs/mnist/fc.json", "--steps", "0"}); }, {"'train.steps'"});
  expect_refused("--steps -1", [&] { run_cmd(cmd_train, {"train", "--config", "configs/mnist/fc.json", "--steps", "-1"}); }, {"'train.steps'"});
  expect_refused("--set with commas in a string", [&] { run_cmd(cmd_train, {"train", "--config", "configs/mnist/fc.json", "--set", "model.hyper=a,b"}); },
                 {"'model.hyper'", "array"});
  expect_refused("--config a directory", [&] { run_cmd(cmd_train, {"train", "--config", "configs"}); }, {"'configs' is a directory"});
}

TEST_CASE("sizes that overflow a count are errors naming the shape or the parameter") {
  const i64 big = i64(1) << 31;
  expect_refused("Shape::numel overflow", [&] { Shape s{big, big, big}; (void)s.numel(); },
                 {"[2147483648, 2147483648, 2147483648]", "more elements than a 64-bit count"});
  expect_refused("Tensor too large to allocate", [&] { Tensor::empty({big, big}); }, {"[2147483648, 2147483648]", "too large to allocate"});
  expect_refused("a parameter whose shape overflows", [&] {
    ParamStore ps;
    ps.add("rnn0.w_h", {big, big, big}, Init::zeros());
  }, {"parameter 'rnn0.w_h'", "[2147483648"});
  expect_refused("parameters whose total overflows", [&] {
    ParamStore ps;
    ps.add("a", {i64(1) << 62}, Init::zeros());
    ps.add("b", {i64(1) << 62}, Init::zeros());
  }, {"parameter 'b'", "overflows"});
  CHECK(Shape({3, 4, 5}).numel() == 60);
  CHECK(Shape({}).numel() == 1);
}

TEST_CASE("bad inputs tried by this suite") {
  MESSAGE("test_faults_config tried " << ht::test::bad_inputs_tried() << " bad inputs");
  CHECK(ht::test::bad_inputs_tried() == 108);  // the README's count (What a run promises) adds this
}
