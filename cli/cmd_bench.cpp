#include <algorithm>
#include <cstdio>
#include <cxxopts.hpp>
#include <fstream>
#include <iostream>

#include "bench/bench_charlm.h"
#include "bench/bench_engine.h"
#include "cli/args.h"
#include "bench/bench_translate.h"
#include "cli/commands.h"
#include "bench/machine.h"
#include "train/mpi_comm.h"
#include "engine/tensor.h"

namespace ht {

// The gradient sum as the trainer does it (MpiComm::sum, in buckets), timed on rank 0: the median of
// `iters` sums of `floats` floats after two untimed ones, the first checked (every element must
// be the number of ranks). "bus_gbit_per_s" is the ring allreduce's traffic per rank, 2(N-1)/N x
// bytes, over the median time: the number to compare with a network's line rate.
static nlohmann::json run_allreduce_bench(Comm& comm, long floats, int iters) {
  if (floats <= 0 || iters <= 0) throw std::invalid_argument("--floats and --iters must be positive");
  std::vector<float> buf(std::size_t(floats), 1.0f);
  comm.sum(buf.data(), floats);
  for (long i = 0; i < floats; i += 4099)
    if (buf[std::size_t(i)] != float(comm.world()))
      throw std::runtime_error("allreduce check: element " + std::to_string(i) + " is " + std::to_string(buf[std::size_t(i)]) + ", expected " +
                               std::to_string(comm.world()));
  comm.sum(buf.data(), floats);
  std::vector<double> ms;
  for (int i = 0; i < iters; ++i) {
    std::fill(buf.begin(), buf.end(), 0.0f);  // no overflow however many sums
    double start = 0;  // every rank enters together (a one-double sum is the barrier)
    comm.sum(&start, 1);
    const double t0 = seconds_now();
    comm.sum(buf.data(), floats);
    ms.push_back((seconds_now() - t0) * 1e3);
  }
  std::sort(ms.begin(), ms.end());
  const double median = ms[ms.size() / 2], bytes = 4.0 * double(floats), n = comm.world();
  return {{"what", "allreduce"}, {"ranks", comm.world()}, {"ranks_on_this_machine", ranks_on_this_machine()}, {"floats", floats},
          {"bytes", bytes}, {"bucket_bytes", kAllreduceBucketBytes}, {"iters", iters}, {"median_ms", median}, {"min_ms", ms.front()},
          {"max_ms", ms.back()}, {"bus_gbit_per_s", 2 * (n - 1) / n * bytes * 8 / (median * 1e-3) / 1e9}, {"machine", machine_info(0)}};
}

static int allreduce_bench(const cxxopts::ParseResult& a) {
  std::unique_ptr<Comm> comm = launched_comm();
  if (!comm) throw std::invalid_argument("--allreduce sums across the ranks of an MPI job: run it as mpirun -np 2 hypertrain bench --allreduce");
  try {
    nlohmann::json r = run_allreduce_bench(*comm, a["floats"].as<long>(), a["iters"].as<int>());
    if (!comm->root()) return 0;
    std::printf("allreduce of %ld floats (%.1f MB) over %d ranks (%d on this machine), buckets of %lld MB: median %.2f ms (min %.2f, max %.2f), "
                "ring traffic %.2f Gbit/s\n",
                a["floats"].as<long>(), r["bytes"].get<double>() / 1e6, comm->world(), ranks_on_this_machine(),
                (long long)(kAllreduceBucketBytes >> 20), r["median_ms"].get<double>(), r["min_ms"].get<double>(), r["max_ms"].get<double>(),
                r["bus_gbit_per_s"].get<double>());
    if (a.count("json")) {
      std::ofstream f(a["json"].as<std::string>());
      f << r.dump(2) << "\n";
      if (!f) throw std::runtime_error("cannot write " + a["json"].as<std::string>());
    }
    return 0;
  } catch (const std::exception& e) {
    abort_job(*comm, "bench", e.what());
  }
}

int cmd_bench(int argc, char** argv) {
  cxxopts::Options o("hypertrain bench", "Throughput and efficiency against the sgemm peak measured in the same run");
  o.add_options()("engine", "MLP 784-1024-1024-10 training step vs its raw GEMMs")(
      "model", "a model's training step: mnist-conv, mnist-hyperconv, wrn40-1, hyperwrn40-1, wrn40-2, hyperwrn40-2, lstm, ln-lstm, hyperlstm, ln-hyperlstm",
      cxxopts::value<std::string>())(
      "seq", "character models: segment length", cxxopts::value<long>()->default_value("100"))(
      "hidden", "character models: main cell width", cxxopts::value<long>()->default_value("1000"))(
      "hyper", "character models: hyper cell width", cxxopts::value<long>()->default_value("128"))(
      "embed", "character models: N_z", cxxopts::value<long>()->default_value("4"))(
      "vocab", "character models: one-hot vocabulary (translation: subword vocabulary, default 8000)", cxxopts::value<long>())(
      "source", "translation: source sentence length (Multi30k averages 14 subwords)", cxxopts::value<long>()->default_value("14"))(
      "target", "translation: target sentence length, </s> included (Multi30k: 16)", cxxopts::value<long>()->default_value("16"))(
      "word-embed", "translation: word embedding width", cxxopts::value<long>()->default_value("256"))(
      "layers", "translation: encoder and decoder layers each", cxxopts::value<int>()->default_value("2"))(
      "no-sampling", "character models: skip the one-step sampling measurement")(
      "no-reference", "time the fast path only (character models: no per-step reference cells; conv nets: no im2col reference)")(
      "json", "write the results as JSON to FILE", cxxopts::value<std::string>())(
      "allreduce", "under mpirun: the gradient sum across ranks (MPI_Allreduce in buckets) of --floats floats")(
      "floats", "--allreduce: floats summed (default 4.9 M, the PTB HyperLSTM-1000's gradient)", cxxopts::value<long>()->default_value("4900000"))(
      "threads", "threads (0: every core)", cxxopts::value<int>()->default_value("0"))(
      "iters", "timed repetitions (median reported)", cxxopts::value<int>()->default_value("20"))(
      "batch", "batch size (default 256 for --engine, 1000 for the MNIST models, 128 for wide resnets, 32 for character models)", cxxopts::value<long>())("h,help", "this help");
  auto a = parse_args(o, argc, argv);
  if (a.count("allreduce")) return allreduce_bench(a);
  if (a.count("help") || (a.count("engine") == 0) == (a.count("model") == 0)) {
    std::cout << o.help() << "\n";
    return a.count("help") ? 0 : 2;
  }
  EngineBenchOptions opt;
  opt.threads = a["threads"].as<int>();
  opt.iters = a["iters"].as<int>();
  bool engine = a.count("engine") > 0;
  opt.batch = a.count("batch") ? a["batch"].as<long>() : engine ? 256 : 0;
  opt.reference = a.count("no-reference") == 0;
  nlohmann::json r;
  const std::string model = engine ? "" : a["model"].as<std::string>();
  const bool conv_model = model.rfind("mnist-", 0) == 0 || model.find("wrn") != std::string::npos;
  if (model.rfind("translation-", 0) == 0) {
    TranslateBenchOptions t;
    t.cell = model.substr(12);
    t.batch = a.count("batch") ? a["batch"].as<long>() : 64;
    t.source = a["source"].as<long>();
    t.target = a["target"].as<long>();
    t.hidden = a.count("hidden") ? a["hidden"].as<long>() : 256;
    t.hyper = a["hyper"].as<long>();
    t.embed = a.count("embed") ? a["embed"].as<long>() : 32;
    t.word_embed = a["word-embed"].as<long>();
    t.vocab = a.count("vocab") ? a["vocab"].as<long>() : 8000;
    t.encoder_layers = t.decoder_layers = a["layers"].as<int>();
    t.threads = opt.threads;
    t.iters = a.count("iters") ? opt.iters : 5;
    r = run_translate_bench(t);
    print_translate_bench(r);
  } else if (!engine && !conv_model) {
    CharBenchOptions c;
    c.model = model;
    c.batch = a.count("batch") ? a["batch"].as<long>() : 32;
    c.seq = a["seq"].as<long>();
    c.hidden = a["hidden"].as<long>();
    c.hyper = a["hyper"].as<long>();
    c.embed = a["embed"].as<long>();
    c.vocab = a.count("vocab") ? a["vocab"].as<long>() : 50;
    c.threads = opt.threads;
    c.iters = a.count("iters") ? opt.iters : 5;
    c.sampling = a.count("no-sampling") == 0;
    c.reference = a.count("no-reference") == 0;
    r = run_charlm_bench(c);
    print_charlm_bench(r);
  } else if (engine) {
    r = run_engine_bench(opt);
    print_engine_bench(r);
  } else {
    r = run_convnet_bench(a["model"].as<std::string>(), opt);
    print_convnet_bench(r);
  }
  if (a.count("json")) {
    std::string path = a["json"].as<std::string>();
    std::ofstream f(path);
    if (!f) throw std::runtime_error("cannot write " + path);
    f << r.dump(2) << "\n";
    std::cerr << "wrote " << path << "\n";
  }
  return 0;
}

}  // namespace ht
