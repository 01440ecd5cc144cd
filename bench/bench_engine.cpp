#include "bench/bench_engine.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/fma_peak.h"
#include "bench/machine.h"
#include "engine/blas.h"
#include "engine/ops/loss.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "models/mlp.h"

namespace ht {

namespace {

Tensor random_f32(const Shape& s, Rng& rng) {
  Tensor t = Tensor::empty(s, DType::F32);
  for (i64 i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(rng.uniform(-1, 1));
  return t;
}

}  // namespace

SgemmProbe::SgemmProbe(long M, long N, long K)
    : M_(M), N_(N), K_(K), a_(std::size_t(M * K)), b_(std::size_t(K * N)), c_(std::size_t(M * N)) {
  Rng rng(1);
  for (auto& v : a_) v = float(rng.uniform(-1, 1));
  for (auto& v : b_) v = float(rng.uniform(-1, 1));
}

void SgemmProbe::run() { gemm_dense<float>(false, false, M_, N_, K_, 1.f, a_.data(), b_.data(), 0.f, c_.data()); }

double measure_sgemm_flops(long M, long N, long K, int reps) {
  SgemmProbe probe(M, N, K);
  probe.run();
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    double t0 = seconds_now();
    probe.run();
    best = std::min(best, seconds_now() - t0);
  }
  return probe.flops() / best;
}

nlohmann::json run_engine_bench(const EngineBenchOptions& opt) {
  Threads threads(opt.threads);
  const std::vector<i64> sizes{784, 1024, 1024, 10};
  const i64 B = opt.batch;
  if (!opt.quiet) std::fprintf(stderr, "bench --engine: sgemm 2048^3 peak...\n");
  double peak = measure_sgemm_flops(2048, 2048, 2048, 5);
  const FmaPeak fma = measure_fma_peak(threads.count());

  ParamStore ps;
  MLP mlp(Scope(ps), sizes);
  Rng rng(42);
  ps.finalize(rng);
  Adam adam(ps, {});
  Tensor x = random_f32({B, sizes[0]}, rng);
  Tensor y = Tensor::empty({B}, DType::I32);
  for (i64 i = 0; i < B; ++i) y.data<std::int32_t>()[i] = std::int32_t(rng.below(std::uint64_t(sizes.back())));
  Tape tape;

  auto forward_backward = [&] {
    tape.reset();
    ps.zero_grad();
    Var loss = softmax_cross_entropy(tape, mlp.forward(tape, ps, tape.input(x)), y);
    tape.backward(loss);
  };
  auto step = [&] {
    forward_backward();
    adam.step(ps, 1e-4);
  };
  // The same GEMMs on buffers of the same shapes, nothing else.
  std::vector<Tensor> acts{x}, dacts{Tensor::zeros({B, sizes[0]})};
  for (std::size_t i = 1; i < sizes.size(); ++i) {
    acts.push_back(Tensor::zeros({B, sizes[i]}));
    dacts.push_back(random_f32({B, sizes[i]}, rng));
  }
  std::vector<Tensor> ws, dws;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    ws.push_back(random_f32({sizes[i], sizes[i + 1]}, rng));
    dws.push_back(Tensor::zeros({sizes[i], sizes[i + 1]}));
  }
  auto gemms = [&] {
    for (std::size_t i = 0; i + 1 < sizes.size(); ++i)  // forward: act[i+1] = act[i] W_i
      gemm_dense<float>(false, false, B, sizes[i + 1], sizes[i], 1.f, acts[i].data<float>(), ws[i].data<float>(), 0.f, acts[i + 1].data<float>());
    for (std::size_t i = sizes.size() - 1; i-- > 0;) {  // backward: dW_i += act[i]^T dact[i+1]; dact[i] = dact[i+1] W_i^T
      gemm_dense<float>(true, false, sizes[i], sizes[i + 1], B, 1.f, acts[i].data<float>(), dacts[i + 1].data<float>(), 1.f, dws[i].data<float>());
      if (i > 0)
        gemm_dense<float>(false, true, B, sizes[i], sizes[i + 1], 1.f, dacts[i + 1].data<float>(), ws[i].data<float>(), 0.f, dacts[i].data<float>());
    }
  };
  if (!opt.quiet) std::fprintf(stderr, "bench --engine: MLP step (forward, backward, Adam) and its GEMMs alone, interleaved...\n");
  const std::vector<double> t = interleaved_medians(opt.iters, step, forward_backward, gemms);
  const double t_step = t[0], t_fb = t[1], t_gemm = t[2];
  double t_adam = median_seconds(opt.iters, [&] { adam.step(ps, 1e-4); });
  double t_zero = median_seconds(opt.iters, [&] { ps.zero_grad(); });  // part of forward_backward
  double flops = mlp.train_step_flops(B);

  nlohmann::json r;
  r["benchmark"] = "engine";
  r["model"] = "MLP 784-1024-1024-10, softmax cross-entropy, Adam";
  r["batch"] = B;
  r["iters"] = opt.iters;
  r["machine"] = machine_info(threads.count());
  r["sgemm_2048_gflops"] = peak / 1e9;
  r["fma_peak_gflops"] = fma.flops / 1e9;
  r["fma_isa"] = fma.isa;
  r["step_flops"] = flops;
  r["step_ms"] = t_step * 1e3;
  r["forward_backward_ms"] = t_fb * 1e3;
  r["adam_ms"] = t_adam * 1e3;
  r["zero_grad_ms"] = t_zero * 1e3;
  r["gemms_ms"] = t_gemm * 1e3;
  r["tape_overhead"] = t_step / t_gemm - 1.0;               // whole step vs its GEMMs alone
  r["tape_overhead_forward_backward"] = t_fb / t_gemm - 1.0;  // without the optimizer
  r["step_gflops"] = flops / t_step / 1e9;
  r["gemms_gflops"] = flops / t_gemm / 1e9;
  r["efficiency"] = flops / t_step / peak;
  r["gemms_efficiency"] = flops / t_gemm / peak;
  r["efficiency_fma"] = flops / t_step / fma.flops;
  r["images_per_second"] = double(B) / t_step;
  r["peak_arena_bytes"] = tape.arena().peak();
  return r;
}

void print_engine_bench(const nlohmann::json& r) {
  std::printf("engine benchmark: %s, batch %lld, %d threads, median of %d\n", r["model"].get<std::string>().c_str(),
              (long long)r["batch"].get<long>(), r["machine"]["threads"].get<int>(), r["iters"].get<int>());
  std::printf("  machine                 %s\n", machine_label(r["machine"]).c_str());
  std::printf("  sgemm 2048^3 peak       %8.1f GFLOP/s   FMA peak (%s) %.1f GFLOP/s\n", r["sgemm_2048_gflops"].get<double>(),
              r["fma_isa"].get<std::string>().c_str(), r["fma_peak_gflops"].get<double>());
  std::printf("  step GEMMs alone        %8.3f ms   %6.1f GFLOP/s   %5.1f%% of peak\n", r["gemms_ms"].get<double>(),
              r["gemms_gflops"].get<double>(), 100 * r["gemms_efficiency"].get<double>());
  std::printf("  training step           %8.3f ms   %6.1f GFLOP/s   %5.1f%% of peak  %5.1f%% of FMA  (%.0f images/s)\n",
              r["step_ms"].get<double>(), r["step_gflops"].get<double>(), 100 * r["efficiency"].get<double>(),
              100 * r["efficiency_fma"].get<double>(), r["images_per_second"].get<double>());
  std::printf("    forward + backward    %8.3f ms\n", r["forward_backward_ms"].get<double>());
  std::printf("    of which zero_grad    %8.3f ms\n", r["zero_grad_ms"].get<double>());
  std::printf("    Adam update           %8.3f ms\n", r["adam_ms"].get<double>());
  std::printf("  tape overhead           %+7.1f%% over the GEMMs (whole step), %+.1f%% without the optimizer\n",
              100 * r["tape_overhead"].get<double>(), 100 * r["tape_overhead_forward_backward"].get<double>());
}

}  // namespace ht
