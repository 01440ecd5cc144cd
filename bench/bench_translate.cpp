#include "bench/bench_translate.h"

#include <cstdio>

#include "bench/bench_charlm.h"
#include "bench/bench_engine.h"
#include "bench/fma_peak.h"
#include "bench/machine.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "models/seq2seq.h"

namespace ht {

nlohmann::json run_translate_bench(const TranslateBenchOptions& o) {
  Threads threads(o.threads);
  if (o.batch <= 0 || o.source <= 0 || o.target <= 0 || o.hidden <= 0 || o.vocab <= 3)
    throw std::invalid_argument("bench: --batch, --seq (source and target lengths), --hidden must be positive and --vocab > 3");
  Seq2SeqSpec s;
  if (o.cell == "lstm" || o.cell == "ln-lstm") s.cell.kind = CellKind::LSTM;
  else if (o.cell == "hyperlstm" || o.cell == "ln-hyperlstm") s.cell.kind = CellKind::HyperLSTM;
  else throw std::invalid_argument("unknown translation cell '" + o.cell + "' (lstm, ln-lstm, hyperlstm, ln-hyperlstm)");
  s.cell.layer_norm = o.cell.rfind("ln-", 0) == 0;
  s.cell.hidden = o.hidden;
  s.cell.hyper = o.hyper;
  s.cell.embed = o.embed;
  s.embed = o.word_embed;
  s.source_vocab = s.target_vocab = o.vocab;
  s.encoder_layers = o.encoder_layers;
  s.decoder_layers = o.decoder_layers;
  s.dropout = 0.2;  // the Multi30k configs' setting, so the step pays for its masks
  if (!o.quiet) std::fprintf(stderr, "bench --model translation-%s: sgemm 2048^3 and FMA peaks...\n", o.cell.c_str());
  const double peak = measure_sgemm_flops(2048, 2048, 2048, 5);
  const FmaPeak fma = measure_fma_peak(threads.count());

  ParamStore ps;
  Seq2Seq model(Scope(ps), s);
  Rng rng(42);
  ps.finalize(rng);
  Adam adam(ps, {});
  const long B = o.batch, S = o.source, T = o.target;
  Tensor x = Tensor::empty({S, B}, DType::I32), y = Tensor::empty({T, B}, DType::I32);
  Tensor xl = Tensor::full({B}, double(S), DType::I32), yl = Tensor::full({B}, double(T), DType::I32);
  for (i64 i = 0; i < x.numel(); ++i) x.data<std::int32_t>()[i] = std::int32_t(3 + rng.below(std::uint64_t(o.vocab - 3)));
  for (i64 i = 0; i < y.numel(); ++i) y.data<std::int32_t>()[i] = std::int32_t(3 + rng.below(std::uint64_t(o.vocab - 3)));

  // Dense forward FLOPs of one pair: cells (bench_charlm's count with no softmax), attention, softmax.
  const bool hyper = s.cell.kind == CellKind::HyperLSTM;
  const long H = o.hidden, D = o.word_embed, E = s.encoder_width(), A = s.attention_width();
  auto cell = [&](long X) { return charlm_forward_flops(hyper, X, H, o.hyper, o.embed, 0); };
  double enc = 2 * cell(D);
  for (int l = 1; l < o.encoder_layers; ++l) enc += cell(l == 1 ? 2 * H : H);
  double dec = cell(D);
  for (int l = 1; l < o.decoder_layers; ++l) dec += cell(H + E);
  const double pair = double(S) * (enc + 2.0 * E * A) + double(T) * (dec + 2.0 * H * A + double(S) * (3.0 * A + 2.0 * E) + 2.0 * H * o.vocab);
  const double flops_step = 3 * pair * double(B);

  Tape tape;
  auto step = [&] {
    tape.reset();
    ps.zero_grad();
    Var loss = model.loss(tape, ps, x, xl, y, yl, &rng, true);
    tape.backward(loss);
    clip_grad_norm(ps, 5.0);
    adam.step(ps, 1e-4);
  };
  if (!o.quiet)
    std::fprintf(stderr, "bench --model translation-%s: training step, batch %ld, source %ld, target %ld, hidden %ld...\n", o.cell.c_str(), B, S,
                 T, H);
  const double t = median_seconds(std::max(3, o.iters), step);
  nlohmann::json r;
  r["benchmark"] = "translation";
  r["model"] = "translation-" + o.cell;
  r["describe"] = model.describe();
  r["parameters"] = ps.count();
  r["batch"] = B;
  r["source_length"] = S;
  r["target_length"] = T;
  r["iters"] = o.iters;
  r["machine"] = machine_info(threads.count());
  r["sgemm_2048_gflops"] = peak / 1e9;
  r["fma_peak_gflops"] = fma.flops / 1e9;
  r["fma_isa"] = fma.isa;
  r["flops_per_step"] = flops_step;
  r["step_ms"] = t * 1e3;
  r["target_tokens_per_second"] = double(B * T) / t;
  r["source_and_target_tokens_per_second"] = double(B * (S + T)) / t;
  r["gflops"] = flops_step / t / 1e9;
  r["efficiency"] = flops_step / t / peak;
  r["efficiency_fma"] = flops_step / t / fma.flops;
  r["peak_arena_bytes"] = tape.arena().peak();
  return r;
}

void print_translate_bench(const nlohmann::json& r) {
  std::printf("translation benchmark: %s (%lld parameters)\n  batch %lld pairs of %lld source and %lld target tokens, %d threads, median of %d, machine %s\n",
              r["describe"].get<std::string>().c_str(), (long long)r["parameters"].get<long long>(), (long long)r["batch"].get<long>(),
              (long long)r["source_length"].get<long>(), (long long)r["target_length"].get<long>(), r["machine"]["threads"].get<int>(),
              r["iters"].get<int>(), machine_label(r["machine"]).c_str());
  std::printf("  sgemm 2048^3 peak  %8.1f GFLOP/s\n  FMA peak (%s)    %8.1f GFLOP/s\n", r["sgemm_2048_gflops"].get<double>(),
              r["fma_isa"].get<std::string>().c_str(), r["fma_peak_gflops"].get<double>());
  std::printf("  training step %.1f ms: %.0f target tokens/s (%.0f source + target), %.1f GFLOP/s = %.1f%% of the sgemm peak, %.1f%% of the FMA peak; arena %.1f MB\n",
              r["step_ms"].get<double>(), r["target_tokens_per_second"].get<double>(), r["source_and_target_tokens_per_second"].get<double>(),
              r["gflops"].get<double>(), 100 * r["efficiency"].get<double>(), 100 * r["efficiency_fma"].get<double>(),
              r["peak_arena_bytes"].get<double>() / 1e6);
}

}  // namespace ht
