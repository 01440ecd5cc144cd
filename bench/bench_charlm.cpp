#include "bench/bench_charlm.h"

#include <sys/resource.h>

#include <algorithm>
#include <cstdio>

#include "bench/bench_engine.h"
#include "bench/fma_peak.h"
#include "bench/machine.h"
#include "engine/ops/loss.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "engine/profile.h"
#include "models/recurrent_stack.h"

namespace ht {

double charlm_forward_flops(bool hyper, long X, long H, long Hh, long Nz, long V) {
  double f = 2.0 * 4 * H * double(X + H) + 2.0 * H * V;  // main LSTM gates, softmax layer
  if (hyper) f += 2.0 * 4 * Hh * double(X + H + Hh) + 2.0 * Hh * 12 * Nz + 2.0 * 12 * Nz * H;
  return f;
}

namespace {

double max_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) * 1024.0;
}

RecurrentStackSpec bench_spec(const std::string& model, const CharBenchOptions& o) {
  RecurrentStackSpec s;
  if (model == "lstm" || model == "ln-lstm") s.cell.kind = CellKind::LSTM;
  else if (model == "hyperlstm" || model == "ln-hyperlstm") s.cell.kind = CellKind::HyperLSTM;
  else throw std::invalid_argument("unknown --model '" + model + "' (known: lstm, ln-lstm, hyperlstm, ln-hyperlstm, mnist-conv, mnist-hyperconv)");
  s.cell.layer_norm = model.rfind("ln-", 0) == 0;
  s.cell.hidden = o.hidden;
  s.cell.hyper = o.hyper;
  s.cell.embed = o.embed;
  s.cell.recurrent_dropout = 0.1;  // the paper's PTB setting, so the step pays for its masks
  s.input_dropout = 0.1;
  s.output_dropout = 0.1;
  s.symbols = s.outputs = o.vocab;
  return s;
}

// Tokens per second of sampling one step at a time (no gradient), `streams` at once.
double sampling_rate(const RecurrentStack& lm, const ParamStore& ps, long streams, long steps) {
  RnnState state = lm.zero_state(streams, ps.dtype()), next;
  Tensor x = Tensor::zeros({1, streams}, DType::I32);
  Tape t;
  auto one = [&] {
    t.reset();
    Tape::NoGrad ng(t);
    lm.forward(t, ps, x, state, &next, nullptr, false);
    state.swap(next);
  };
  one();
  double t0 = seconds_now();
  for (long i = 0; i < steps; ++i) one();
  return double(streams * steps) / (seconds_now() - t0);
}

// Where a step's time goes, from `steps` more steps with the fused op's phase clocks on (engine/
// profile.h): milliseconds per step in each phase, and "rest" for everything outside them (the
// output layer and loss, the input projections, clipping, Adam, zeroing the gradients).
template <class F> nlohmann::json phase_breakdown(F&& step, int steps) {
  profile::reset();
  profile::enable(true);
  const double t0 = seconds_now();
  for (int i = 0; i < steps; ++i) step();
  const double total = seconds_now() - t0;
  profile::enable(false);
  nlohmann::json p;
  double inside = 0;
  for (int k = 0; k < profile::kPhases; ++k) {
    p[profile::phase_key(k)] = 1e3 * profile::seconds(k) / steps;
    inside += profile::seconds(k);
  }
  p["rest"] = 1e3 * (total - inside) / steps;
  p["step"] = 1e3 * total / steps;
  return p;
}

}  // namespace

nlohmann::json run_charlm_bench(const CharBenchOptions& o) {
  Threads threads(o.threads);
  if (o.batch <= 0 || o.seq <= 0 || o.hidden <= 0 || o.vocab <= 1) throw std::invalid_argument("bench: --batch, --seq, --hidden must be positive and --vocab > 1");
  if (!o.quiet) std::fprintf(stderr, "bench --model %s: sgemm 2048^3 and FMA peaks...\n", o.model.c_str());
  const double peak = measure_sgemm_flops(2048, 2048, 2048, 5);
  const FmaPeak fma = measure_fma_peak(threads.count());
  const RecurrentStackSpec spec = bench_spec(o.model, o);
  const bool hyper = spec.cell.kind == CellKind::HyperLSTM;
  const double flops_per_token = 3 * charlm_forward_flops(hyper, o.vocab, o.hidden, o.hyper, o.embed, o.vocab);

  ParamStore ps;
  RecurrentStack lm(Scope(ps), spec);
  Rng rng(42);
  ps.finalize(rng);
  Adam adam(ps, {});
  Tensor x = Tensor::empty({o.seq, o.batch}, DType::I32), y = Tensor::empty({o.seq * o.batch}, DType::I32);
  for (i64 i = 0; i < x.numel(); ++i) x.data<std::int32_t>()[i] = std::int32_t(rng.below(std::uint64_t(o.vocab)));
  for (i64 i = 0; i < y.numel(); ++i) y.data<std::int32_t>()[i] = std::int32_t(rng.below(std::uint64_t(o.vocab)));
  RnnState state = lm.zero_state(o.batch, DType::F32), next;
  const double tokens = double(o.batch * o.seq);
  nlohmann::json r;
  r["benchmark"] = "charlm";
  r["model"] = o.model;
  r["describe"] = lm.describe();
  r["parameters"] = ps.count();
  r["batch"] = o.batch;
  r["seq"] = o.seq;
  r["hidden"] = o.hidden;
  r["hyper"] = o.hyper;
  r["embed"] = o.embed;
  r["vocab"] = o.vocab;
  r["iters"] = o.iters;
  r["machine"] = machine_info(threads.count());
  r["sgemm_2048_gflops"] = peak / 1e9;
  r["fma_peak_gflops"] = fma.flops / 1e9;
  r["fma_isa"] = fma.isa;
  r["flops_per_token"] = flops_per_token;
  r["implementations"] = nlohmann::json::array();
  for (bool fused : {true, false}) {
    if (!fused && !o.reference) continue;
    lm.set_fused(fused);
    Tape tape;
    auto step = [&] {
      tape.reset();
      ps.zero_grad();
      Var loss = softmax_cross_entropy(tape, lm.forward(tape, ps, x, state, &next, &rng, true), y);
      tape.backward(loss);
      clip_grad_norm(ps, 1.0);
      adam.step(ps, 1e-4);
      state.swap(next);
    };
    if (!o.quiet)
      std::fprintf(stderr, "bench --model %s: %s training step, batch %ld, sequence %ld, hidden %ld...\n", o.model.c_str(),
                   fused ? "fused" : "reference", o.batch, o.seq, o.hidden);
    // The first step after the warm-up still touches fresh arena pages (the arena merges its chunks
    // into one), so the median needs at least three timed steps.
    const double t = median_seconds(fused ? std::max(3, o.iters) : std::max(3, o.iters / 2), step);
    nlohmann::json m;
    m["implementation"] = fused ? "fused (one node per layer)" : "reference (per-step ops)";
    m["step_ms"] = t * 1e3;
    m["tokens_per_second"] = tokens / t;
    m["gflops"] = flops_per_token * tokens / t / 1e9;
    m["efficiency"] = flops_per_token * tokens / t / peak;
    m["efficiency_fma"] = flops_per_token * tokens / t / fma.flops;
    m["peak_arena_bytes"] = tape.arena().peak();
    m["max_rss_bytes"] = max_rss_bytes();
    if (fused) m["phases_ms"] = phase_breakdown(step, std::max(3, o.iters));
    if (fused) {
      // The same step in rounds with one sgemm 2048^3 call each (after the memory figures above: the
      // probe's 48 MB are not the model's). On a shared machine the head-of-run peak and the steps
      // can meet different neighbours; here both medians see the same ones.
      SgemmProbe probe(2048);
      const std::vector<double> ti = interleaved_medians(std::max(3, o.iters), step, [&] { probe.run(); });
      const double sgemm = probe.flops() / ti[1], model = flops_per_token * tokens / ti[0];
      m["interleaved"] = {{"step_ms", ti[0] * 1e3}, {"sgemm_gflops", sgemm / 1e9}, {"efficiency", model / sgemm},
                          {"efficiency_fma", model / fma.flops}};
    }
    r["implementations"].push_back(m);
  }
  lm.set_fused(true);
  if (o.sampling) {
    if (!o.quiet) std::fprintf(stderr, "bench --model %s: one-step sampling...\n", o.model.c_str());
    nlohmann::json s;
    for (long b : {1L, 64L}) s["batch_" + std::to_string(b)] = sampling_rate(lm, ps, b, b == 1 ? 200 : 50);
    if (hyper) {  // beside the LSTM of the same width
      CharBenchOptions lo = o;
      ParamStore lps;
      RecurrentStack lstm(Scope(lps), bench_spec(spec.cell.layer_norm ? "ln-lstm" : "lstm", lo));
      Rng r2(1);
      lps.finalize(r2);
      for (long b : {1L, 64L}) s["lstm_batch_" + std::to_string(b)] = sampling_rate(lstm, lps, b, b == 1 ? 200 : 50);
    }
    r["sampling_tokens_per_second"] = s;
  }
  return r;
}

void print_charlm_bench(const nlohmann::json& r) {
  std::printf("charlm benchmark: %s (%lld parameters)\n  batch %lld, sequence %lld, %d threads, median of %d, machine %s\n",
              r["describe"].get<std::string>().c_str(), (long long)r["parameters"].get<long long>(), (long long)r["batch"].get<long>(),
              (long long)r["seq"].get<long>(), r["machine"]["threads"].get<int>(), r["iters"].get<int>(),
              machine_label(r["machine"]).c_str());
  std::printf("  sgemm 2048^3 peak  %8.1f GFLOP/s; FMA peak (%s) %.1f GFLOP/s; model %.2f MFLOP per token (3x dense forward)\n",
              r["sgemm_2048_gflops"].get<double>(), r["fma_isa"].get<std::string>().c_str(), r["fma_peak_gflops"].get<double>(),
              r["flops_per_token"].get<double>() / 1e6);
  std::printf("  %-34s %10s %12s %9s %9s %9s %12s %12s\n", "implementation", "step ms", "tokens/s", "GFLOP/s", "of sgemm", "of FMA", "arena MB",
              "max RSS MB");
  for (auto& i : r["implementations"])
    std::printf("  %-34s %10.1f %12.0f %9.1f %8.1f%% %8.1f%% %12.1f %12.1f\n", i["implementation"].get<std::string>().c_str(),
                i["step_ms"].get<double>(), i["tokens_per_second"].get<double>(), i["gflops"].get<double>(),
                100 * i["efficiency"].get<double>(), 100 * i["efficiency_fma"].get<double>(), i["peak_arena_bytes"].get<double>() / 1e6,
                i["max_rss_bytes"].get<double>() / 1e6);
  for (auto& i : r["implementations"]) {
    if (!i.contains("interleaved")) continue;
    const auto& v = i["interleaved"];
    std::printf("  fused step interleaved with sgemm 2048^3 (medians): step %.1f ms, sgemm %.1f GFLOP/s, %.1f%% of that sgemm, %.1f%% of FMA\n",
                v["step_ms"].get<double>(), v["sgemm_gflops"].get<double>(), 100 * v["efficiency"].get<double>(),
                100 * v["efficiency_fma"].get<double>());
  }
  for (auto& i : r["implementations"]) {
    if (!i.contains("phases_ms")) continue;
    const auto& p = i["phases_ms"];
    std::printf("  fused step, ms per step (phase clocks on, %.1f ms):", p["step"].get<double>());
    for (int k = 0; k < profile::kPhases; ++k)
      std::printf(" %s %.1f,", profile::phase_key(k), p[profile::phase_key(k)].get<double>());
    std::printf(" rest %.1f\n", p["rest"].get<double>());
  }
  if (r.contains("sampling_tokens_per_second")) {
    auto& s = r["sampling_tokens_per_second"];
    std::printf("  sampling, one step at a time: batch 1 %.0f tokens/s, batch 64 %.0f tokens/s", s["batch_1"].get<double>(),
                s["batch_64"].get<double>());
    if (s.contains("lstm_batch_1"))
      std::printf("  (LSTM of the same width: %.0f and %.0f)", s["lstm_batch_1"].get<double>(), s["lstm_batch_64"].get<double>());
    std::printf("\n");
  }
}

}  // namespace ht
