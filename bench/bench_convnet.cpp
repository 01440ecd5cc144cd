// `hypertrain bench --model mnist-conv|mnist-hyperconv|wrn40-1|hyperwrn40-1|wrn40-2|hyperwrn40-2`:
// a convolutional network's training step (forward, backward, Adam) on random images, against the
// sgemm peak and the cores' FMA peak measured in the same run; for hyper networks, the share of
// the step spent generating kernels.
#include <cstdio>

#include "bench/bench_engine.h"
#include "bench/fma_peak.h"
#include "bench/machine.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/reduce.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "models/classifier.h"
#include "models/wide_resnet.h"

namespace ht {

namespace {

struct ConvBench {
  ImageModelSpec spec;
  i64 C, H, W;    // input
  i64 batch;      // default batch
};

ConvBench conv_bench(const std::string& model) {
  ConvBench b;
  if (model == "mnist-conv" || model == "mnist-hyperconv") {
    b.spec.arch = model == "mnist-conv" ? "conv" : "hyperconv";
    b.C = 1, b.H = b.W = 28, b.batch = 1000;
    return b;
  }
  for (int k : {1, 2})
    for (bool hyper : {false, true})
      if (model == std::string(hyper ? "hyperwrn40-" : "wrn40-") + std::to_string(k)) {
        b.spec.arch = "wrn";
        b.spec.depth = 40;
        b.spec.widen = k;
        b.spec.nz = 64;
        b.spec.in_channels = 3;
        if (hyper) b.spec.hyper = {"conv2", "conv3", "conv4"};
        b.C = 3, b.H = b.W = 32, b.batch = 128;
        return b;
      }
  throw std::invalid_argument("unknown --model '" + model + "' (known: mnist-conv, mnist-hyperconv, wrn40-1, hyperwrn40-1, wrn40-2, hyperwrn40-2)");
}

// Convolution and fc FLOPs of one image's training step: every layer's forward and weight
// gradient, and the input gradient of every layer but the first (the images need none).
double step_flops_per_image(const ConvBench& b, const ImageClassifier& net) {
  if (const auto* wrn = dynamic_cast<const WideResNet*>(&net)) {
    double f = 0;
    i64 h = b.H, w = b.W;
    for (const auto& c : wrn->convs()) {
      if (c.stride == 2 && c.name.find("conv_a") != std::string::npos) h = (h + 1) / 2, w = (w + 1) / 2;
      const double fwd = 2.0 * double(c.out * c.in * c.f * c.f) * double(h * w);
      f += (c.name == "conv1" ? 2 : 3) * fwd;
    }
    const double fc = 2.0 * double(64 * b.spec.widen * 10);
    return f + 3 * fc;
  }
  // MNIST ConvNet: conv1 28x28 outputs, conv2 14x14, fc 784 -> 10.
  const double C = 16, f = 7, conv1 = 2.0 * C * 1 * f * f * 28 * 28, conv2 = 2.0 * C * C * f * f * 14 * 14, fc = 2.0 * 7 * 7 * C * 10;
  return 2 * conv1 + 3 * conv2 + 3 * fc;
}

}  // namespace

nlohmann::json run_convnet_bench(const std::string& model, const EngineBenchOptions& opt) {
  const ConvBench b = conv_bench(model);
  Threads threads(opt.threads);
  const i64 B = opt.batch > 0 ? opt.batch : b.batch;
  if (!opt.quiet) std::fprintf(stderr, "bench --model %s: sgemm 2048^3 and FMA peaks...\n", model.c_str());
  const double peak = measure_sgemm_flops(2048, 2048, 2048, 5);
  const FmaPeak fma = measure_fma_peak(threads.count());

  ParamStore ps;
  auto net = make_image_classifier(b.spec, Scope(ps));
  Rng rng(42);
  ps.finalize(rng);
  Adam adam(ps, {});
  Tensor x = Tensor::empty({B, b.C, b.H, b.W});
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
  const double t = median_seconds(opt.iters, step);
  double t_ref = 0;
  if (opt.reference) {
    if (!opt.quiet) std::fprintf(stderr, "bench --model %s: the same with the reference convolution...\n", model.c_str());
    ConvPathScope ref(ConvPath::Reference);
    t_ref = median_seconds(std::max(3, opt.iters / 2), step);
  }
  // Generating every kernel of a pass (forward and backward of the generator alone).
  double t_gen = 0;
  if (const auto* wrn = dynamic_cast<const WideResNet*>(net.get()); wrn && wrn->hypernetwork()) {
    Tape g;
    t_gen = median_seconds(opt.iters, [&] {
      g.reset();
      std::vector<Var> ks = wrn->generated_kernels(g, ps);
      std::vector<Var> sums;
      for (const Var& k : ks) sums.push_back(sum_all(g, k));
      Var total = sums[0];
      for (std::size_t i = 1; i < sums.size(); ++i) total = add(g, total, sums[i]);
      g.backward(total);
    });
  }
  const double flops = double(B) * step_flops_per_image(b, *net);
  nlohmann::json r;
  r["benchmark"] = "model";
  r["model"] = model + ": " + net->describe();
  r["batch"] = B;
  r["iters"] = opt.iters;
  r["machine"] = machine_info(threads.count());
  r["sgemm_2048_gflops"] = peak / 1e9;
  r["fma_peak_gflops"] = fma.flops / 1e9;
  r["fma_isa"] = fma.isa;
  r["step_flops"] = flops;
  r["step_ms"] = t * 1e3;
  r["step_gflops"] = flops / t / 1e9;
  r["efficiency"] = flops / t / peak;
  r["efficiency_fma"] = flops / t / fma.flops;
  r["images_per_second"] = double(B) / t;
  r["peak_arena_bytes"] = tape.arena().peak();
  if (opt.reference) {
    r["reference_step_ms"] = t_ref * 1e3;
    r["reference_efficiency"] = flops / t_ref / peak;
    r["reference_images_per_second"] = double(B) / t_ref;
  }
  if (t_gen > 0) {
    r["generation_ms"] = t_gen * 1e3;
    r["generation_share"] = t_gen / t;
  }
  return r;
}

void print_convnet_bench(const nlohmann::json& r) {
  std::printf("model benchmark: %s\n  batch %lld, %d threads, median of %d, machine %s\n", r["model"].get<std::string>().c_str(),
              (long long)r["batch"].get<long>(), r["machine"]["threads"].get<int>(), r["iters"].get<int>(),
              machine_label(r["machine"]).c_str());
  std::printf("  sgemm 2048^3 peak       %8.1f GFLOP/s\n", r["sgemm_2048_gflops"].get<double>());
  std::printf("  FMA peak (%s)    %8.1f GFLOP/s\n", r["fma_isa"].get<std::string>().c_str(), r["fma_peak_gflops"].get<double>());
  std::printf("  training step           %8.2f ms   %6.1f GFLOP/s   %5.1f%% of sgemm   %5.1f%% of FMA   %.0f images/s\n",
              r["step_ms"].get<double>(), r["step_gflops"].get<double>(), 100 * r["efficiency"].get<double>(),
              100 * r["efficiency_fma"].get<double>(), r["images_per_second"].get<double>());
  if (r.contains("reference_step_ms"))
    std::printf("  reference convolution   %8.2f ms                     %5.1f%% of sgemm                    %.0f images/s\n",
                r["reference_step_ms"].get<double>(), 100 * r["reference_efficiency"].get<double>(),
                r["reference_images_per_second"].get<double>());
  if (r.contains("generation_ms"))
    std::printf("  generating the kernels  %8.2f ms   %.2f%% of the step\n", r["generation_ms"].get<double>(),
                100 * r["generation_share"].get<double>());
}

}  // namespace ht
