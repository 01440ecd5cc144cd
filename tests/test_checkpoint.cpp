#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "tests/check.h"
#include "tests/files.h"

using namespace ht;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// A unique path under /tmp, removed (with its .tmp) when the test ends.
struct TmpPath {
  std::string path;
  explicit TmpPath(const std::string& tag)
      : path("/tmp/ht_test_checkpoint_" + tag + "_" + std::to_string(::getpid()) + ".ckpt") {
    cleanup();
  }
  ~TmpPath() { cleanup(); }
  void cleanup() {
    std::error_code ec;
    fs::remove(path, ec);
    fs::remove(path + ".tmp", ec);
  }
  operator const std::string&() const { return path; }
};



Tensor filled(const Shape& s, DType dt, Rng& rng) {
  Tensor t = Tensor::empty(s, dt);
  for (i64 i = 0; i < t.numel(); ++i) {
    switch (dt) {
      case DType::F32: t.data<float>()[i] = float(rng.normal()); break;
      case DType::F64: t.data<double>()[i] = rng.normal(); break;
      case DType::I32: t.data<std::int32_t>()[i] = std::int32_t(rng.next_u64()); break;
    }
  }
  return t;
}

NamedTensors sample_tensors() {
  Rng rng(11);
  return {{"param.w", filled({2, 3}, DType::F32, rng)},       {"param.b", filled({5}, DType::F64, rng)},
          {"tokens", filled({7}, DType::I32, rng)},           {"scalar", filled(Shape{}, DType::F64, rng)},
          {"empty", Tensor::zeros({0, 4}, DType::F32)},       {"four_d", filled({2, 1, 3, 5}, DType::F32, rng)},
          {"adam.t", Tensor::full({1}, 17, DType::F64)}};
}

ParamStore make_model(const std::vector<std::pair<std::string, Shape>>& params, std::uint64_t seed) {
  ParamStore ps(DType::F32);
  for (auto& [n, s] : params) ps.add(n, s, Init::uniform(-1, 1));
  Rng rng(seed);
  ps.finalize(rng);
  return ps;
}

// Where the data starts: after the 8-byte header length and the header.
std::uint64_t data_start(const std::string& bytes) {
  std::uint64_t h = 0;
  for (int i = 0; i < 8; ++i) h |= std::uint64_t((unsigned char)bytes[std::size_t(i)]) << (8 * i);
  return 8 + h;
}

std::string le_bytes(std::uint64_t v, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += char((v >> (8 * i)) & 0xff);
  return out;
}

// A checkpoint in the format hypertrain wrote before safetensors (checkpoint.bin, "HTCKPT01"),
// built here byte by byte since nothing writes it any more.
std::string legacy_bin(const std::vector<float>& w, const json& meta) {
  std::string data(reinterpret_cast<const char*>(w.data()), w.size() * sizeof(float));
  const auto crc = [](const std::string& b) { return std::uint32_t(::crc32(0, reinterpret_cast<const Bytef*>(b.data()), uInt(b.size()))); };
  json header = {{"format", "hypertrain-checkpoint"}, {"meta", meta},
                 {"tensors", json::array({{{"name", "param.w"}, {"dtype", "f32"}, {"shape", {w.size()}}, {"offset", 0}, {"nbytes", data.size()}}})},
                 {"data_bytes", data.size()}, {"data_crc32", crc(data)}};
  std::string text = header.dump();
  text.append(round_up64(24 + text.size()) - 24 - text.size(), ' ');
  return "HTCKPT01" + le_bytes(1, 4) + le_bytes(text.size(), 8) + le_bytes(crc(text), 4) + text + data;
}

}  // namespace

TEST_CASE("a checkpoint round-trips bit for bit: values, shapes, dtypes, meta, RNG") {
  TmpPath path("roundtrip");
  NamedTensors tensors = sample_tensors();
  Rng rng(2024);
  for (int i = 0; i < 10; ++i) rng.next_u64();
  json meta = {{"step", 1234}, {"rng", rng_to_json(rng)}, {"config", {{"model", "hyperlstm"}, {"lr", 0.001}, {"layers", {1, 2}}}},
               {"loss", 1.2345678901234567}, {"note", "ünïcode"}};
  std::vector<std::uint64_t> next;
  for (int i = 0; i < 5; ++i) next.push_back(rng.next_u64());

  save_checkpoint(path, tensors, meta);
  CHECK_FALSE(fs::exists(path.path + ".tmp"));
  Checkpoint ck = load_checkpoint(path);
  CHECK(ck.path == path.path);
  CHECK(ck.meta == meta);
  REQUIRE(ck.tensors.size() == tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& [name, t] = tensors[i];
    INFO(name);
    CHECK(ck.tensors[i].first == name);
    const Tensor* got = ck.find(name);
    REQUIRE(got != nullptr);
    CHECK(got->shape() == t.shape());
    CHECK(got->ndim() == t.ndim());
    CHECK(got->dtype() == t.dtype());
    CHECK(std::memcmp(got->raw(), t.raw(), t.nbytes()) == 0);
  }
  CHECK(ck.find("nope") == nullptr);

  Rng resumed(0);
  rng_from_json(resumed, ck.meta["rng"]);
  for (int i = 0; i < 5; ++i) CHECK(resumed.next_u64() == next[std::size_t(i)]);
}

TEST_CASE("the file layout is safetensors: header length, JSON header with __metadata__ first, contiguous data") {
  TmpPath path("layout");
  save_checkpoint(path, sample_tensors(), {{"step", 1}, {"name", "run"}});
  std::string bytes = ht::test::read_bytes(path);
  REQUIRE(bytes.size() > 8);
  const std::uint64_t start = data_start(bytes);
  CHECK(start % 64 == 0);
  const std::string text = bytes.substr(8, start - 8);
  CHECK(text.rfind("{\"__metadata__\":{\"header_crc32\":\"", 0) == 0);
  json header = json::parse(text);
  const json& md = header["__metadata__"];
  for (auto& [k, v] : md.items()) CHECK_MESSAGE(v.is_string(), k);  // safetensors' rule
  CHECK(md["format"] == "hypertrain-safetensors-1");
  CHECK(md["step"] == "1");
  CHECK(md["name"] == "\"run\"");
  CHECK(md["data_crc32"].get<std::string>().size() == 8);
  std::uint64_t end = 0;
  for (auto& [name, t] : sample_tensors()) {  // in the order saved, back to back
    INFO(name);
    const json& e = header.at(name);
    CHECK(e["data_offsets"] == json({end, end + t.nbytes()}));
    end += t.nbytes();
  }
  CHECK(header["param.w"]["dtype"] == "F32");
  CHECK(header["param.w"]["shape"] == json({2, 3}));
  CHECK(header["tokens"]["dtype"] == "I32");
  CHECK(header["param.b"]["dtype"] == "F64");
  CHECK(bytes.size() == start + end);
}

TEST_CASE("a second reader, Python with NumPy only, reads every tensor and the metadata and checks both CRC32s") {
  ht::test::TempDir d;
  const std::string file = d / "model.safetensors", out = d / "read.json";
  const NamedTensors tensors = sample_tensors();
  save_checkpoint(file, tensors, {{"step", 42}, {"rng", {"1", "2", "3", "4"}}});
  // Debian's interpreter, which has python3-numpy (a python3 earlier on PATH, e.g. pyenv's, may not).
  const std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const std::string cmd = python + " scripts/read_safetensors.py " + file + " --json " + out + " > " + d / "log" + " 2>&1";
  const int rc = std::system(cmd.c_str());
  INFO(cmd << "\n" << ht::test::read_bytes(d / "log"));
  REQUIRE_MESSAGE(rc == 0, "python3 with NumPy (Debian python3-numpy, installed by scripts/deps.sh) must read the checkpoint");
  const json got = json::parse(ht::test::read_bytes(out));
  CHECK(got["metadata"]["step"] == "42");
  CHECK(json::parse(got["metadata"]["rng"].get<std::string>()) == json({"1", "2", "3", "4"}));
  REQUIRE(got["tensors"].size() == tensors.size());
  for (auto& [name, t] : tensors) {
    INFO(name);
    const json& e = got["tensors"].at(name);
    json shape = json::array();
    for (int k = 0; k < t.ndim(); ++k) shape.push_back(t.dim(k));
    CHECK(e["shape"] == shape);
    CHECK(e["dtype"] == (t.dtype() == DType::F32 ? "float32" : t.dtype() == DType::F64 ? "float64" : "int32"));
    REQUIRE(e["values"].size() == std::size_t(t.numel()));
    for (i64 i = 0; i < t.numel(); ++i) {
      const json& v = e["values"][std::size_t(i)];
      if (t.dtype() == DType::I32) CHECK(v.get<std::int64_t>() == t.data<std::int32_t>()[i]);
      else if (t.dtype() == DType::F32) CHECK(float(v.get<double>()) == t.data<float>()[i]);
      else CHECK(v.get<double>() == t.data<double>()[i]);
    }
  }
  // The second reader refuses a flipped data byte too: the checksums are independent of our code.
  std::string bytes = ht::test::read_bytes(file);
  bytes[std::size_t(data_start(bytes) + 3)] ^= 0x20;
  ht::test::write_plain(file, bytes);
  CHECK(std::system((python + " scripts/read_safetensors.py " + file + " > /dev/null 2>&1").c_str()) != 0);
}

TEST_CASE("a checkpoint in the earlier format (HTCKPT01, checkpoint.bin) is still read") {
  TmpPath path("legacy");
  ht::test::write_plain(path, legacy_bin({1.5f, -2.0f, 3.25f}, {{"step", 9}}));
  const Checkpoint ck = load_checkpoint(path);
  CHECK(ck.meta["step"] == 9);
  REQUIRE(ck.tensors.size() == 1);
  CHECK(ck.tensors[0].first == "param.w");
  CHECK(ck.tensors[0].second.at(2) == 3.25);
  std::string bytes = ht::test::read_bytes(path);
  bytes.back() ^= 0x01;
  ht::test::write_plain(path, bytes);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("checksum"), std::runtime_error);
}

TEST_CASE("saving over an existing checkpoint replaces it and leaves no .tmp") {
  TmpPath path("overwrite");
  save_checkpoint(path, sample_tensors(), {{"step", 1}});
  save_checkpoint(path, {{"x", Tensor::full({3}, 2.0, DType::F64)}}, {{"step", 2}});
  CHECK_FALSE(fs::exists(path.path + ".tmp"));
  Checkpoint ck = load_checkpoint(path);
  CHECK(ck.meta["step"] == 2);
  REQUIRE(ck.tensors.size() == 1);
  CHECK(ck.tensors[0].second.at(2) == 2.0);
}

TEST_CASE("a flipped byte in the data or the header is refused as a checksum mismatch") {
  TmpPath path("flip");
  save_checkpoint(path, sample_tensors(), {{"step", 3}});
  std::string good = ht::test::read_bytes(path);
  std::uint64_t start = data_start(good);

  std::string bad = good;
  bad[std::size_t(start + 5)] ^= 0x10;  // inside param.w
  ht::test::write_plain(path, bad);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("checksum"), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(path.path.c_str()), std::runtime_error);

  bad = good;
  bad.back() ^= 0x01;  // last byte of the blob
  ht::test::write_plain(path, bad);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("checksum"), std::runtime_error);

  bad = good;
  const std::size_t shape_at = good.find("\"shape\":[2,3]");  // param.w's entry in the header
  REQUIRE(shape_at != std::string::npos);
  bad[shape_at + 11] ^= 0x01;  // 3 -> 2
  ht::test::write_plain(path, bad);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("header checksum mismatch"), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(path.path.c_str()), std::runtime_error);
}

TEST_CASE("a truncated checkpoint is refused with the expected and found sizes") {
  TmpPath path("truncated");
  save_checkpoint(path, sample_tensors(), {{"step", 3}});
  std::string good = ht::test::read_bytes(path);
  for (std::size_t keep : {good.size() - 1, std::size_t(data_start(good)) + 10, std::size_t(100), std::size_t(20)}) {
    INFO("kept " << keep << " bytes");
    ht::test::write_plain(path, good.substr(0, keep));
    CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("truncated"), std::runtime_error);
    CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(std::to_string(keep).c_str()), std::runtime_error);
  }
  ht::test::write_plain(path, good + "x");
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("size mismatch"), std::runtime_error);
}

TEST_CASE("a file that is not a checkpoint is refused as such") {
  TmpPath path("notckpt");
  for (std::string content : {std::string("{\"step\": 3}\n"), std::string(), std::string("HTCK"), std::string(200, 'z'),
                              le_bytes(4, 8) + "[1] "}) {
    ht::test::write_plain(path, content);
    CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("not a safetensors checkpoint"), std::runtime_error);
  }
}

TEST_CASE("a safetensors file without hypertrain's checksums, or of another format, is refused naming what is missing") {
  TmpPath path("foreign");
  const std::string header = "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  ht::test::write_plain(path, le_bytes(header.size(), 8) + header + std::string(4, '\0'));
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains("no __metadata__.header_crc32"), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(path), doctest::Contains(path.path.c_str()), std::runtime_error);
}

TEST_CASE("a missing file, or an unwritable destination, is an error naming the path") {
  std::string missing = "/tmp/ht_test_checkpoint_missing_" + std::to_string(::getpid()) + "/none.ckpt";
  CHECK_THROWS_WITH_AS(load_checkpoint(missing), doctest::Contains(missing.c_str()), std::runtime_error);
  CHECK_THROWS_WITH_AS(load_checkpoint(missing), doctest::Contains("No such file"), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_checkpoint(missing, sample_tensors(), {}), doctest::Contains(missing.c_str()), std::runtime_error);
  CHECK_THROWS_WITH_AS(save_checkpoint(missing, sample_tensors(), {}), doctest::Contains("No such file"), std::runtime_error);
}

TEST_CASE("save refuses duplicate tensor names") {
  TmpPath path("dupes");
  Tensor t = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(save_checkpoint(path, {{"a", t}, {"a", t}}, {}), doctest::Contains("'a'"), std::invalid_argument);
  CHECK_FALSE(fs::exists(path.path));
  CHECK_FALSE(fs::exists(path.path + ".tmp"));
}

TEST_CASE("parameters round-trip through param_tensors and restore_params") {
  TmpPath path("params");
  std::vector<std::pair<std::string, Shape>> spec = {{"fc.w", {2, 3}}, {"fc.b", {3}}};
  ParamStore a = make_model(spec, 1), b = make_model(spec, 2);
  CHECK(a.value(0).at(0) != b.value(0).at(0));
  NamedTensors list = param_tensors(a);
  REQUIRE(list.size() == 2);
  CHECK(list[0].first == "param.fc.w");
  save_checkpoint(path, list, {{"step", 5}});
  restore_params(b, load_checkpoint(path));
  CHECK(std::memcmp(a.flat_values().raw(), b.flat_values().raw(), a.flat_values().nbytes()) == 0);
}

TEST_CASE("restore_params names the parameter on a wrong shape, a missing name or an extra name") {
  TmpPath path("mismatch");
  ParamStore saved = make_model({{"fc.w", {2, 3}}, {"fc.b", {3}}}, 1);
  NamedTensors list = param_tensors(saved);
  list.emplace_back("adam.t", Tensor::full({1}, 3, DType::F64));  // other prefixes are ignored
  save_checkpoint(path, list, {});
  Checkpoint ck = load_checkpoint(path);

  ParamStore wrong_shape = make_model({{"fc.w", {3, 2}}, {"fc.b", {3}}}, 2);
  Tensor before = wrong_shape.flat_values().clone();
  CHECK_THROWS_WITH_AS(restore_params(wrong_shape, ck), doctest::Contains("'fc.w'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(restore_params(wrong_shape, ck), doctest::Contains("[3, 2]"), std::runtime_error);
  CHECK_THROWS_WITH_AS(restore_params(wrong_shape, ck), doctest::Contains("[2, 3]"), std::runtime_error);

  ParamStore missing = make_model({{"fc.w", {2, 3}}, {"fc.b", {3}}, {"fc.gain", {3}}}, 2);
  CHECK_THROWS_WITH_AS(restore_params(missing, ck), doctest::Contains("'fc.gain'"), std::runtime_error);

  ParamStore extra = make_model({{"fc.w", {2, 3}}}, 2);
  Tensor extra_before = extra.flat_values().clone();
  CHECK_THROWS_WITH_AS(restore_params(extra, ck), doctest::Contains("'fc.b'"), std::runtime_error);
  CHECK_THROWS_WITH_AS(restore_params(extra, ck), doctest::Contains(path.path.c_str()), std::runtime_error);

  // Nothing is copied when the check fails.
  CHECK(std::memcmp(before.raw(), wrong_shape.flat_values().raw(), before.nbytes()) == 0);
  CHECK(std::memcmp(extra_before.raw(), extra.flat_values().raw(), extra_before.nbytes()) == 0);

  ParamStore f64(DType::F64);
  f64.add("fc.w", {2, 3}, Init::zeros());
  f64.add("fc.b", {3}, Init::zeros());
  Rng rng(1);
  f64.finalize(rng);
  CHECK_THROWS_WITH_AS(restore_params(f64, ck), doctest::Contains("f32"), std::runtime_error);
}

namespace {

// Parameters fc.w [2, 3], fc.b [3] and buffers bn.mean [3], bn.var [3], every value random.
ParamStore make_model_with_buffers(std::uint64_t seed, const Shape& var_shape = {3}) {
  ParamStore ps(DType::F32);
  ps.add("fc.w", {2, 3}, Init::uniform(-1, 1));
  ps.add("fc.b", {3}, Init::uniform(-1, 1));
  ps.add_buffer("bn.mean", {3}, Init::uniform(-1, 1));
  ps.add_buffer("bn.var", var_shape, Init::uniform(0, 1));
  Rng rng(seed);
  ps.finalize(rng);
  return ps;
}

}  // namespace

TEST_CASE("buffers round-trip through param_tensors and restore_params under 'buffer.'") {
  TmpPath path("buffers");
  ParamStore a = make_model_with_buffers(1), b = make_model_with_buffers(2);
  NamedTensors list = param_tensors(a);
  REQUIRE(list.size() == 4);
  CHECK(list[1].first == "param.fc.b");
  CHECK(list[2].first == "buffer.bn.mean");
  CHECK(list[3].first == "buffer.bn.var");
  save_checkpoint(path, list, {});
  restore_params(b, load_checkpoint(path));
  CHECK(std::memcmp(a.flat_values().raw(), b.flat_values().raw(), a.flat_values().nbytes()) == 0);
  CHECK(std::memcmp(a.flat_buffers().raw(), b.flat_buffers().raw(), a.flat_buffers().nbytes()) == 0);
}

TEST_CASE("restore_params names a missing, extra or misshapen buffer and copies nothing then") {
  TmpPath path("buffer_mismatch");
  ParamStore saved = make_model_with_buffers(1);
  NamedTensors list = param_tensors(saved);
  save_checkpoint(path, list, {});
  Checkpoint full = load_checkpoint(path);

  // A checkpoint written before the model had buffers (or with one missing).
  NamedTensors no_var(list.begin(), list.begin() + 3);
  save_checkpoint(path, no_var, {});
  Checkpoint missing = load_checkpoint(path);
  ParamStore target = make_model_with_buffers(2);
  Tensor values = target.flat_values().clone(), buffers = target.flat_buffers().clone();
  CHECK_THROWS_WITH_AS(restore_params(target, missing), doctest::Contains("no tensor 'buffer.bn.var' for buffer 'bn.var'"),
                       std::runtime_error);
  CHECK(std::memcmp(values.raw(), target.flat_values().raw(), values.nbytes()) == 0);  // parameters untouched too
  CHECK(std::memcmp(buffers.raw(), target.flat_buffers().raw(), buffers.nbytes()) == 0);

  // The model lacks a buffer the checkpoint has.
  ParamStore fewer(DType::F32);
  fewer.add("fc.w", {2, 3}, Init::zeros());
  fewer.add("fc.b", {3}, Init::zeros());
  fewer.add_buffer("bn.mean", {3}, Init::zeros());
  Rng rng(1);
  fewer.finalize(rng);
  CHECK_THROWS_WITH_AS(restore_params(fewer, full), doctest::Contains("tensor 'buffer.bn.var' (shape [3] f32) matches no buffer 'bn.var'"),
                       std::runtime_error);

  ParamStore wrong = make_model_with_buffers(2, {4});
  CHECK_THROWS_WITH_AS(restore_params(wrong, full), doctest::Contains("buffer 'bn.var': model shape [4] f32, checkpoint shape [3] f32"),
                       std::runtime_error);

  // Parameters and buffers are matched under their own prefixes only.
  ParamStore as_param(DType::F32);
  as_param.add("fc.w", {2, 3}, Init::zeros());
  as_param.add("fc.b", {3}, Init::zeros());
  as_param.add("bn.mean", {3}, Init::zeros());
  as_param.add_buffer("bn.var", {3}, Init::zeros());
  as_param.finalize(rng);
  CHECK_THROWS_WITH_AS(restore_params(as_param, full), doctest::Contains("no tensor 'param.bn.mean' for parameter 'bn.mean'"),
                       std::runtime_error);
  CHECK_THROWS_WITH_AS(restore_params(target, full, "p.", "p.b."), doctest::Contains("overlap"), std::invalid_argument);
}

TEST_CASE("optimizer state saved mid-run resumes to the same parameters as an uninterrupted run") {
  TmpPath path("resume");
  std::vector<std::pair<std::string, Shape>> spec = {{"w", {4, 5}}, {"b", {5}}};
  auto set_grads = [](ParamStore& ps) {
    float* p = ps.flat_values().data<float>();
    float* g = ps.flat_grads().data<float>();
    for (i64 i = 0; i < ps.flat_values().numel(); ++i) g[i] = p[i] != 0 ? 2 * p[i] - 0.25f : 0.0f;
  };

  ParamStore full = make_model(spec, 3);
  Adam full_opt(full);
  for (int k = 0; k < 6; ++k) {
    set_grads(full);
    full_opt.step(full, 0.01);
  }

  ParamStore first = make_model(spec, 3);
  Adam first_opt(first);
  Rng data_rng(77);
  for (int k = 0; k < 3; ++k) {
    set_grads(first);
    first_opt.step(first, 0.01);
  }
  NamedTensors list = param_tensors(first);
  for (auto& s : first_opt.state()) list.push_back(s);
  save_checkpoint(path, list, {{"step", first_opt.steps()}, {"rng", rng_to_json(data_rng)}});

  ParamStore second = make_model(spec, 99);
  Adam second_opt(second);
  Checkpoint ck = load_checkpoint(path);
  restore_params(second, ck);
  restore_tensors(second_opt.state(), ck);
  CHECK(second_opt.steps() == 3);
  CHECK(ck.meta["step"] == 3);
  for (int k = 0; k < 3; ++k) {
    set_grads(second);
    second_opt.step(second, 0.01);
  }
  CHECK(std::memcmp(full.flat_values().raw(), second.flat_values().raw(), full.flat_values().nbytes()) == 0);

  SGD sgd(second, {.momentum = 0.9});
  CHECK_THROWS_WITH_AS(restore_tensors(sgd.state(), ck), doctest::Contains("'sgd."), std::runtime_error);
}

TEST_CASE("RNG state survives JSON exactly, and bad RNG JSON is refused") {
  Rng rng(0);
  rng.set_state({~0ull, 1ull << 63, 12345678901234567890ull, 9007199254740993ull});  // 2^53 + 1
  json j = rng_to_json(rng);
  json parsed = json::parse(j.dump());
  Rng back(5);
  rng_from_json(back, parsed);
  CHECK(back.state() == rng.state());
  CHECK(back.next_u64() == rng.next_u64());
  CHECK_THROWS_AS(rng_from_json(back, json::array({1, 2, 3, 4})), std::invalid_argument);
  CHECK_THROWS_AS(rng_from_json(back, json::array({"1", "2", "3"})), std::invalid_argument);
  CHECK_THROWS_AS(rng_from_json(back, json::array({"1", "2", "3", "-4"})), std::invalid_argument);
  CHECK_THROWS_AS(rng_from_json(back, json::array({"1", "2", "3", "18446744073709551616"})), std::invalid_argument);
  CHECK_THROWS_AS(rng_from_json(back, json::array({"0", "0", "0", "0"})), std::invalid_argument);
}
