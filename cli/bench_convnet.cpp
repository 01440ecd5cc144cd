// `hypertrain bench --model mnist-conv|mnist-hyperconv`: the MNIST ConvNet training step
// (forward, backward, Adam) on random images, against the sgemm peak measured in the same run.
#include <cstdio>

#include "cli/bench_engine.h"
#include "cli/machine.h"
#include "engine/ops/loss.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "models/mnist_models.h"

namespace ht {

nlohmann::json run_convnet_bench(const std::string& model, const EngineBenchOptions& opt) {
  if (model != "mnist-conv" && model != "mnist-hyperconv")
    throw std::invalid_argument("unknown --model '" + model + "' (known: mnist-conv, mnist-hyperconv)");
  Threads threads(opt.threads);
  const i64 B = opt.batch, C = 16, f = 7;
  if (!opt.quiet) std::fprintf(stderr, "bench --model %s: sgemm 2048^3 peak...\n", model.c_str());
  double peak = measure_sgemm_flops(2048, 2048, 2048, 5);

  ParamStore ps;
  ImageModelSpec spec;
  spec.arch = model == "mnist-conv" ? "conv" : "hyperconv";
  auto net = make_image_classifier(spec, Scope(ps));
  Rng rng(42);
  ps.finalize(rng);
  Adam adam(ps, {});
  Tensor x = Tensor::empty({B, 1, 28, 28});
  for (i64 i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(rng.uniform());
  Tensor y = Tensor::empty({B}, DType::I32);
  for (i64 i = 0; i < B; ++i) y.data<std::int32_t>()[i] = std::int32_t(rng.below(10));
  Tape tape;
  auto step = [&] {
    tape.reset();
    ps.zero_grad();
    Var loss = softmax_cross_entropy(tape, net->forward(tape, ps, tape.input(x), true, rng), y);
    tape.backward(loss);
    adam.step(ps, 1e-4);
  };
  if (!opt.quiet) std::fprintf(stderr, "bench --model %s: training step at batch %lld...\n", model.c_str(), (long long)B);
  double t = median_seconds(opt.iters, step);
  // Convolution and fc GEMM FLOPs per image: conv1 28x28 outputs, conv2 14x14, fc 784 -> 10.
  // A step runs each forward, its weight gradient, and the input gradient of conv2 and fc
  // (the images need none). The generator's two small GEMMs are per step and left out.
  double conv1 = 2.0 * C * 1 * f * f * 28 * 28, conv2 = 2.0 * C * C * f * f * 14 * 14, fc = 2.0 * 7 * 7 * C * 10;
  double flops = double(B) * (2 * conv1 + 3 * conv2 + 3 * fc);
  nlohmann::json r;
  r["benchmark"] = "model";
  r["model"] = model + ": " + net->describe();
  r["batch"] = B;
  r["iters"] = opt.iters;
  r["machine"] = machine_info(threads.count());
  r["sgemm_2048_gflops"] = peak / 1e9;
  r["step_flops"] = flops;
  r["step_ms"] = t * 1e3;
  r["step_gflops"] = flops / t / 1e9;
  r["efficiency"] = flops / t / peak;
  r["images_per_second"] = double(B) / t;
  r["peak_arena_bytes"] = tape.arena().peak();
  return r;
}

void print_convnet_bench(const nlohmann::json& r) {
  std::printf("model benchmark: %s\n  batch %lld, %d threads, median of %d, machine %s\n", r["model"].get<std::string>().c_str(),
              (long long)r["batch"].get<long>(), r["machine"]["threads"].get<int>(), r["iters"].get<int>(),
              r["machine"]["cpu"].get<std::string>().c_str());
  std::printf("  sgemm 2048^3 peak       %8.1f GFLOP/s\n", r["sgemm_2048_gflops"].get<double>());
  std::printf("  training step           %8.2f ms   %6.1f GFLOP/s   %5.1f%% of peak   %.0f images/s\n", r["step_ms"].get<double>(),
              r["step_gflops"].get<double>(), 100 * r["efficiency"].get<double>(), r["images_per_second"].get<double>());
}

}  // namespace ht
