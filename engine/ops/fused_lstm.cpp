#include "engine/ops/fused_lstm.h"

#include <algorithm>
#include <array>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "engine/blas.h"
#include "engine/ops/dropout.h"
#include "engine/ops/fused_lstm_kernels.h"
#include "engine/parallel.h"
#include "engine/profile.h"
#include "engine/step_gemm.h"

namespace ht {

namespace {

// What the forward keeps for the backward, in the tape's arena. Rows are t*B + b; a history has
// S+1 blocks of B rows, block 0 the initial state. Buffers marked "then" are overwritten with
// their gradient by the backward.
struct Saved {
  i64 S = 0, B = 0, X = 0, H = 0, K = 0, Nz = 0;  // steps, batch, input width, units, hyper units (0: LSTM), N_z
  Tensor h;       // [(S+1)*B, H]   h_t
  Tensor c;       // [(S+1)*B, H]   c_t
  Tensor act;     // [S*B, 4H]      σ(i), tanh(g) before the dropout mask, σ(f + forget bias), σ(o)
  Tensor stats;   // [S*B, 10]      mean and rstd of each gate's layer norm, then of c's (layer norm)
  Tensor wh;      // [S*B, 4H]      h_{t-1} W_h, then its gradient
  Tensor xw;      // [S*B, 4H]      x_t W_x of a dense input, then its gradient
  Tensor ids;     // i32 [S, B]     a one-hot input (-1: a dropped symbol)
  double x_scale = 1;              // the input-dropout scale of the rows it gathers
  Tensor hh;      // [(S+1)*B, K]   ĥ_t
  Tensor hc;      // [(S+1)*B, K]   ĉ_t
  Tensor hact;    // [S*B, 4K]      as act, in the hyper cell
  Tensor hstats;  // [S*B, 10]      as stats, in the hyper cell
  Tensor hpre;    // [S*B, 4K]      the hyper cell's pre-activations, then their gradient
  Tensor z;       // [S*B, 12 N_z]  [z_x | z_h | z_b], then dz
  double p_main = 0, p_hyper = 0;                    // recurrent dropout: the backward regenerates
  std::vector<std::uint64_t> main_keys, hyper_keys;  // each step's masks from its key
};

Saved allocate_saved(Tape& t, DType dt, i64 S, i64 B, i64 X, i64 H, i64 K, i64 Nz, bool ln, bool dense) {
  Saved sv;
  sv.S = S, sv.B = B, sv.X = X, sv.H = H, sv.K = K, sv.Nz = Nz;
  const i64 SB = S * B;
  sv.h = t.alloc({(S + 1) * B, H}, dt);
  sv.c = t.alloc({(S + 1) * B, H}, dt);
  sv.act = t.alloc({SB, 4 * H}, dt);
  sv.stats = t.alloc({SB, 10}, dt);
  sv.wh = t.alloc({SB, 4 * H}, dt);
  if (dense) sv.xw = t.alloc({SB, 4 * H}, dt);
  if (K > 0) {
    sv.hh = t.alloc({(S + 1) * B, K}, dt);
    sv.hc = t.alloc({(S + 1) * B, K}, dt);
    sv.hact = t.alloc({SB, 4 * K}, dt);
    sv.hstats = t.alloc({SB, 10}, dt);
    sv.hpre = t.alloc({SB, 4 * K}, dt);
    sv.z = t.alloc({SB, 12 * Nz}, dt);
  }
  return sv;
}

template <class T> T* ptr(const Tensor& t) { return t ? t.data<T>() : nullptr; }
template <class T> const T* value(const Var& v) { return v.valid() ? v.value().template data<T>() : nullptr; }
template <class T> T* grad(const Var& v) { return v.valid() && v.needs_grad() ? v.grad().template data<T>() : nullptr; }

// x_t W (n columns) for the rows of step s: rows of W gathered by the one-hot ids, or rows of the
// segment's dense projection.
template <class T> InputRows<T> input_rows(const Saved& sv, i64 s, const T* w, const Tensor& projection, i64 n) {
  InputRows<T> x;
  x.n = n;
  if (sv.ids) {
    x.ids = sv.ids.data<std::int32_t>() + s * sv.B;
    x.w = w;
    x.scale = T(sv.x_scale);
  } else {
    x.dense = ptr<T>(projection) + s * sv.B * n;
  }
  return x;
}

// The gradient buffers the backward's rows add into: null where the op has no such weight, it
// needs no gradient, or a GEMM computes it (W_x and the hyper cell's W_x of a dense input).
template <class T> RowGrads<T> row_grads(const LstmWeights& m, const HyperWeights& hw, bool one_hot) {
  RowGrads<T> g;
  g.b = grad<T>(m.b);
  g.ln_gain = grad<T>(m.ln_gain);
  g.ln_bias = grad<T>(m.ln_bias);
  g.lnc_gain = grad<T>(m.lnc_gain);
  g.lnc_bias = grad<T>(m.lnc_bias);
  g.w_x = one_hot ? grad<T>(m.w_x) : nullptr;
  g.alpha_x = grad<T>(hw.alpha_x);
  g.alpha_h = grad<T>(hw.alpha_h);
  g.beta = grad<T>(hw.beta);
  g.zx_b = grad<T>(hw.zx_b);
  g.zh_b = grad<T>(hw.zh_b);
  g.hyper_b = grad<T>(hw.b);
  g.hyper_ln_gain = grad<T>(hw.ln_gain);
  g.hyper_ln_bias = grad<T>(hw.ln_bias);
  g.hyper_lnc_gain = grad<T>(hw.lnc_gain);
  g.hyper_lnc_bias = grad<T>(hw.lnc_bias);
  g.hyper_w_x = one_hot ? grad<T>(hw.w_x) : nullptr;
  return g;
}

// Chunks of the batch in the backward loop (two cores; each chunk owns its gradient buffers).
constexpr i64 kBackwardChunks = 2;

// Elements per task of the per-step dropout masks ([B, H], 32k-128k elements, below the default
// grain): inside the step loop OpenBLAS runs on the caller, so splitting them costs no contention.
constexpr i64 kMaskGrain = 8192;

// Rows [b0, b1) with a zeroed copy of every gradient `total` wants, and their scratch, from the arena.
template <class T>
BackwardChunk<T> backward_chunk(Tape& t, RowGrads<T>& total, i64 b0, i64 b1, i64 V, i64 H, i64 K, i64 Nz, bool ln) {
  const DType dt = dtype_of<T>();
  auto buffer = [&](i64 n) { return t.alloc({n}, dt).template data<T>(); };
  BackwardChunk<T> ck;
  ck.b0 = b0;
  ck.b1 = b1;
  each_row_grad(ck.grads, total, V, H, K, Nz, [&](T*& part, T* sum, i64 n) {
    if (sum) part = t.alloc_zeros({n}, dt).template data<T>();
  });
  ck.dh = buffer(H);
  ck.dpre = buffer(4 * H);
  if (ln) ck.pre = buffer(4 * H);
  if (K > 0) {
    ck.z = buffer(12 * Nz);
    if (ln) ck.b_z = buffer(4 * H);
    ck.d_x = buffer(4 * H);
    ck.d_h = buffer(4 * H);
    ck.dd_x = buffer(4 * H);
    ck.dd_h = buffer(4 * H);
    ck.dhpre = buffer(4 * K);
  }
  ck.tail = buffer(kTailBackwardScratch * std::max(H, K));
  return ck;
}

// The backward: step by step in reverse through the saved record, then the weight gradients.
template <class T>
void backward(Tape& t, const Saved& sv, const LstmWeights& m, const HyperWeights& hw, const std::vector<Var>& state0, const Var& dense,
              const Tensor& dout) {
  const DType dt = dtype_of<T>();
  const i64 S = sv.S, B = sv.B, H = sv.H, K = sv.K, Nz = sv.Nz, H4 = 4 * H, K4 = 4 * K, Z = 12 * Nz;
  const bool hyper = K > 0, one_hot = bool(sv.ids);
  const T *w_x = value<T>(m.w_x), *w_h = value<T>(m.w_h), *b = value<T>(m.b), *ln_gain = value<T>(m.ln_gain),
          *lnc_gain = value<T>(m.lnc_gain), *lnc_bias = value<T>(m.lnc_bias);
  const T *hw_x = value<T>(hw.w_x), *hw_hin = value<T>(hw.w_hin), *hw_h = value<T>(hw.w_h), *hln_gain = value<T>(hw.ln_gain),
          *hlnc_gain = value<T>(hw.lnc_gain), *hlnc_bias = value<T>(hw.lnc_bias);
  const T *zx_w = value<T>(hw.zx_w), *zh_w = value<T>(hw.zh_w), *zb_w = value<T>(hw.zb_w), *alpha_x = value<T>(hw.alpha_x),
          *alpha_h = value<T>(hw.alpha_h), *beta = value<T>(hw.beta);
  const T *h = ptr<T>(sv.h), *c = ptr<T>(sv.c), *act = ptr<T>(sv.act), *stats = ptr<T>(sv.stats);
  const T *hh = ptr<T>(sv.hh), *hc = ptr<T>(sv.hc), *hact = ptr<T>(sv.hact), *hstats = ptr<T>(sv.hstats);
  const T* dh_out = dout.data<T>();

  // The gradients flowing back into the state, carried from step to step.
  Tensor dh_next = t.alloc_zeros({B, H}, dt), dc = t.alloc_zeros({B, H}, dt);
  Tensor dhh = hyper ? t.alloc({B, K}, dt) : Tensor(), dhh_next = hyper ? t.alloc_zeros({B, K}, dt) : Tensor(),
         dhc = hyper ? t.alloc_zeros({B, K}, dt) : Tensor();
  Tensor mask = sv.p_main > 0 ? t.alloc({B, H}, dt) : Tensor(), hmask = sv.p_hyper > 0 ? t.alloc({B, K}, dt) : Tensor();

  // The batch is cut into NC fixed chunks run in parallel, each adding into its own gradient
  // buffers, summed in chunk order at the end.
  RowGrads<T> total = row_grads<T>(m, hw, one_hot);
  const i64 V = one_hot ? sv.X : 0, NC = std::min<i64>(B, kBackwardChunks);
  std::array<BackwardChunk<T>, kBackwardChunks> chunks;
  for (i64 k = 0; k < NC; ++k) chunks[std::size_t(k)] = backward_chunk<T>(t, total, k * B / NC, (k + 1) * B / NC, V, H, K, Nz, ln_gain != nullptr);
  auto for_chunks = [&](auto&& body) {
    parallel_for(NC, 1, [&](i64 k0, i64 k1) {
      for (i64 k = k0; k < k1; ++k) body(chunks[std::size_t(k)]);
    });
  };

  // W^T for the per-step products, packed once.
  std::optional<profile::Scope> packing(std::in_place, profile::kPack);
  const StepWeight tWh = step_weight<T>(w_h, H4, H, H4, true, S);
  const StepWeight tWhin = hyper ? step_weight<T>(hw_hin, K4, H, K4, true, S) : StepWeight();
  const StepWeight tWhh = hyper ? step_weight<T>(hw_h, K4, K, K4, true, S) : StepWeight();
  packing.reset();
  {
    BlasOnCaller serial_blas;  // per-step GEMMs: parts on oneTBB's workers
    for (i64 s = S - 1; s >= 0; --s) {
      const i64 r0 = s * B;  // the step's first row
      std::optional<profile::Scope> cell(std::in_place, profile::kCellBackward);
      if (mask) dropout_mask(mask, sv.p_main, sv.main_keys[std::size_t(s)], kMaskGrain);
      const InputRows<T> x = input_rows<T>(sv, s, w_x, sv.xw, H4);
      T* wh = ptr<T>(sv.wh) + r0 * H4;
      T* xw = one_hot ? nullptr : ptr<T>(sv.xw) + r0 * H4;
      T* z = hyper ? ptr<T>(sv.z) + r0 * Z : nullptr;
      for_chunks([&](BackwardChunk<T>& ck) {
        main_cell_backward<T>(ck, ptr<T>(dc), wh, xw, z, dh_out + r0 * H, ptr<T>(dh_next), x, c + r0 * H,
                              c + (r0 + B) * H, act + r0 * H4, stats + r0 * 10, ptr<T>(mask), b, ln_gain, lnc_gain, lnc_bias, alpha_x,
                              alpha_h, beta, H, Nz);
      });
      if (!hyper) {
        cell.reset();
        profile::Scope gemms(profile::kStepGemmBackward);
        step_gemm<T>(B, wh, H4, tWh, T(0), ptr<T>(dh_next), H);  // d h_{t-1} = d(h_{t-1} W_h) W_h^T
        continue;
      }
      hyper_embedding_backward<T>(ptr<T>(dhh), z, ptr<T>(dhh_next), zx_w, zh_w, zb_w, B, K, Nz);
      if (hmask) dropout_mask(hmask, sv.p_hyper, sv.hyper_keys[std::size_t(s)], kMaskGrain);
      T* hp = ptr<T>(sv.hpre) + r0 * K4;
      const std::int32_t* ids = one_hot ? sv.ids.data<std::int32_t>() + r0 : nullptr;
      for_chunks([&](BackwardChunk<T>& ck) {
        hyper_cell_backward<T>(ck, ptr<T>(dhc), hp, ptr<T>(dhh), ids, T(sv.x_scale), hc + r0 * K, hc + (r0 + B) * K, hact + r0 * K4,
                               hstats + r0 * 10, ptr<T>(hmask), hln_gain, hlnc_gain, hlnc_bias, K);
      });
      cell.reset();
      // d ĥ_{t-1} and d h_{t-1} through the step's products (Eq. 10's and the main cell's)
      profile::Scope gemms(profile::kStepGemmBackward);
      step_gemm<T>(B, hp, K4, tWhh, T(0), ptr<T>(dhh_next), K);
      step_gemm<T>(B, hp, K4, tWhin, T(0), ptr<T>(dh_next), H);
      step_gemm<T>(B, wh, H4, tWh, T(1), ptr<T>(dh_next), H);
    }
  }  // the weight-gradient GEMMs below use every BLAS thread

  profile::Scope weight_gradients(profile::kWeightGradients);
  for (i64 k = 0; k < NC; ++k)
    each_row_grad(chunks[std::size_t(k)].grads, total, V, H, K, Nz, [](T* part, T* sum, i64 n) {
      if (sum)
        for (i64 i = 0; i < n; ++i) sum[i] += part[i];
    });
  recurrent_weight_gradients<T>(grad<T>(m.w_h), grad<T>(hw.w_hin), grad<T>(hw.w_h), grad<T>(hw.zx_w), grad<T>(hw.zh_w), grad<T>(hw.zb_w),
                                h, hh, hyper ? hh + B * K : nullptr, ptr<T>(sv.wh), ptr<T>(sv.hpre), ptr<T>(sv.z), S * B, H, K, Nz);
  if (!one_hot)
    dense_input_gradients<T>(grad<T>(m.w_x), hyper ? grad<T>(hw.w_x) : nullptr, grad<T>(dense), dense.value().data<T>(), ptr<T>(sv.xw),
                             ptr<T>(sv.hpre), w_x, hw_x, S * B, sv.X, H, K);
  const Tensor* dstate[] = {&dh_next, &dc, &dhh_next, &dhc};  // state0's order
  for (std::size_t k = 0; k < state0.size(); ++k)
    if (T* d = grad<T>(state0[k])) {
      const T* g = ptr<T>(*dstate[k]);
      for (i64 i = 0; i < dstate[k]->numel(); ++i) d[i] += g[i];
    }
}

template <class T>
Var run(Tape& t, const FusedLstmConfig& cfg, const LstmWeights& m, const HyperWeights& hw, const FusedInput& in,
        const std::vector<Var>& state0, const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys,
        std::vector<Tensor>* final_state) {
  const DType dt = dtype_of<T>();
  const bool hyper = cfg.hyper > 0, dense = in.dense.valid(), ln = cfg.layer_norm;
  Saved sv = allocate_saved(t, dt, in.steps, in.batch, m.w_x.shape()[0], cfg.hidden, cfg.hyper, hyper ? cfg.embed : 0, ln, dense);
  const i64 S = sv.S, B = sv.B, X = sv.X, H = sv.H, K = sv.K, Nz = sv.Nz, H4 = 4 * H, K4 = 4 * K, Z = 12 * Nz, SB = S * B;
  if (!dense) {
    sv.ids = t.alloc({S, B}, DType::I32);
    sv.ids.copy_from(in.ids);
    sv.x_scale = in.scale;
  }
  sv.p_main = cfg.dropout;
  sv.p_hyper = hyper ? cfg.hyper_dropout : 0;
  if (sv.p_main > 0) sv.main_keys = main_keys;
  if (sv.p_hyper > 0) sv.hyper_keys = hyper_keys;

  const T eps = T(cfg.ln_eps), fb = T(cfg.forget_bias);
  const T *w_x = value<T>(m.w_x), *w_h = value<T>(m.w_h), *b = value<T>(m.b), *ln_gain = value<T>(m.ln_gain),
          *ln_bias = value<T>(m.ln_bias), *lnc_gain = value<T>(m.lnc_gain), *lnc_bias = value<T>(m.lnc_bias);
  const T *hw_x = value<T>(hw.w_x), *hw_hin = value<T>(hw.w_hin), *hw_h = value<T>(hw.w_h), *hb = value<T>(hw.b),
          *hln_gain = value<T>(hw.ln_gain), *hln_bias = value<T>(hw.ln_bias), *hlnc_gain = value<T>(hw.lnc_gain),
          *hlnc_bias = value<T>(hw.lnc_bias);
  const T *zx_w = value<T>(hw.zx_w), *zx_b = value<T>(hw.zx_b), *zh_w = value<T>(hw.zh_w), *zh_b = value<T>(hw.zh_b),
          *zb_w = value<T>(hw.zb_w), *alpha_x = value<T>(hw.alpha_x), *alpha_h = value<T>(hw.alpha_h), *beta = value<T>(hw.beta);
  T *h = ptr<T>(sv.h), *c = ptr<T>(sv.c), *act = ptr<T>(sv.act), *stats = ptr<T>(sv.stats);
  T *hh = ptr<T>(sv.hh), *hc = ptr<T>(sv.hc), *hact = ptr<T>(sv.hact), *hstats = ptr<T>(sv.hstats), *hpre = ptr<T>(sv.hpre),
    *z = ptr<T>(sv.z);

  // Forward-only buffers, from the arena too.
  Tensor hxw = dense && hyper ? t.alloc({SB, K4}, dt) : Tensor();  // x_t W_x̂ of a dense input
  Tensor pre_step = t.alloc({B, H4}, dt);                            // a step's pre-activations (the backward recomputes them)
  Tensor scratch = t.alloc({forward_scratch(B, std::max(H, K))}, dt);
  Tensor mask = sv.p_main > 0 ? t.alloc({B, H}, dt) : Tensor(), hmask = sv.p_hyper > 0 ? t.alloc({B, K}, dt) : Tensor();

  if (dense) {  // the whole segment's input projections in one GEMM each
    const T* x = in.dense.value().template data<T>();
    gemm_dense<T>(false, false, SB, H4, X, T(1), x, w_x, T(0), ptr<T>(sv.xw));
    if (hyper) gemm_dense<T>(false, false, SB, K4, X, T(1), x, hw_x, T(0), ptr<T>(hxw));
  }
  Tensor* hist[] = {&sv.h, &sv.c, &sv.hh, &sv.hc};  // state0's order
  for (std::size_t k = 0; k < state0.size(); ++k) hist[k]->rows(0, B).copy_from(state0[k].value());

  std::optional<profile::Scope> packing(std::in_place, profile::kPack);
  const StepWeight pWh = step_weight<T>(w_h, H, H4, H4, false, S);
  const StepWeight pWhin = hyper ? step_weight<T>(hw_hin, H, K4, K4, false, S) : StepWeight();
  const StepWeight pWhh = hyper ? step_weight<T>(hw_h, K, K4, K4, false, S) : StepWeight();
  packing.reset();
  {
    BlasOnCaller serial_blas;  // per-step GEMMs: parts on oneTBB's workers
    for (i64 s = 0; s < S; ++s) {
      const i64 r0 = s * B;  // the step's first row
      const T* h_prev = h + r0 * H;
      if (hyper) {
        // Eq. 10's products on h_{t-1} and ĥ_{t-1}; the kernel adds x_t W_x̂ and b̂.
        T* hp = hpre + r0 * K4;
        {
          profile::Scope gemms(profile::kStepGemmForward);
          step_gemm<T>(B, h_prev, H, pWhin, T(0), hp, K4);
          step_gemm<T>(B, hh + r0 * K, K, pWhh, T(1), hp, K4);
        }
        profile::Scope cell(profile::kCellForward);
        if (hmask) dropout_mask(hmask, sv.p_hyper, sv.hyper_keys[std::size_t(s)], kMaskGrain);
        hyper_cell_forward<T>(hh + (r0 + B) * K, hc + (r0 + B) * K, hact + r0 * K4, hstats + r0 * 10, hp, ptr<T>(scratch),
                              input_rows<T>(sv, s, hw_x, hxw, K4), hc + r0 * K, ptr<T>(hmask), hb, hln_gain, hln_bias, hlnc_gain,
                              hlnc_bias, B, K, eps, fb);
        hyper_embedding_forward<T>(z + r0 * Z, hh + (r0 + B) * K, zx_w, zx_b, zh_w, zh_b, zb_w, B, K, Nz);
      }
      T* wh = ptr<T>(sv.wh) + r0 * H4;
      const Scaling<T> scaling{hyper ? z + r0 * Z : nullptr, alpha_x, alpha_h, beta, Nz};
      {
        profile::Scope gemms(profile::kStepGemmForward);
        step_gemm<T>(B, h_prev, H, pWh, T(0), wh, H4);
      }
      profile::Scope cell(profile::kCellForward);
      if (mask) dropout_mask(mask, sv.p_main, sv.main_keys[std::size_t(s)], kMaskGrain);
      main_cell_forward<T>(h + (r0 + B) * H, c + (r0 + B) * H, act + r0 * H4, stats + r0 * 10, ptr<T>(pre_step),
                           ptr<T>(scratch), input_rows<T>(sv, s, w_x, sv.xw, H4), wh, scaling, c + r0 * H,
                           ptr<T>(mask), b, ln_gain, ln_bias, lnc_gain, lnc_bias, B, H, eps, fb);
    }
  }

  if (final_state) {
    final_state->clear();
    for (std::size_t k = 0; k < state0.size(); ++k) final_state->push_back(hist[k]->rows(S * B, (S + 1) * B).clone());
  }
  const Tensor out = sv.h.rows(B, (S + 1) * B);
  std::vector<Var> inputs;
  for (const std::vector<Var>& vars : {m.vars(), hw.vars()})
    for (const Var& v : vars)
      if (v.valid()) inputs.push_back(v);
  inputs.insert(inputs.end(), state0.begin(), state0.end());
  if (dense) inputs.push_back(in.dense);
  // The node keeps the saved record, the weights, and the initial state and dense input whose
  // gradients it adds into.
  return t.record(hyper ? "fused_hyperlstm" : "fused_lstm", out, inputs,
                  [&t, sv = std::move(sv), m, hw, state0, input = in.dense](const Tensor& dout) {
                    backward<T>(t, sv, m, hw, state0, input, dout);
                  });
}

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("fused_lstm: " + what); }

// Every weight the config needs, with its shape and dtype; the input; the state; the dropout keys.
void check_args(const FusedLstmConfig& cfg, const LstmWeights& m, const HyperWeights& hw, const FusedInput& in,
                const std::vector<Var>& state0, std::size_t main_keys, std::size_t hyper_keys) {
  const i64 S = in.steps, B = in.batch, H = cfg.hidden, K = cfg.hyper, Nz = cfg.embed;
  if (S <= 0 || B <= 0) fail("steps and batch must be positive");
  if (H <= 0 || K < 0 || (K > 0 && Nz <= 0)) fail("hidden must be positive, and a hyper cell needs embed > 0");
  if (!m.w_x.valid() || m.w_x.shape().nd != 2) fail("main.w_x must be a matrix [X, 4H]");
  const i64 X = m.w_x.shape()[0];
  const DType dt = m.w_x.dtype();
  auto expect = [&](const char* name, const Var& v, const Shape& s) {
    if (!v.valid()) fail(std::string(name) + " is missing (expected " + s.str() + ")");
    if (v.shape() != s || v.dtype() != dt)
      fail(std::string(name) + " is " + v.shape().str() + " " + dtype_name(v.dtype()) + ", expected " + s.str() + " " + dtype_name(dt));
  };
  expect("main.w_x", m.w_x, {X, 4 * H});
  expect("main.w_h", m.w_h, {H, 4 * H});
  expect("main.b", m.b, {4 * H});
  if (cfg.layer_norm) {
    expect("main.ln_gain", m.ln_gain, {4 * H});
    expect("main.ln_bias", m.ln_bias, {4 * H});
    expect("main.lnc_gain", m.lnc_gain, {H});
    expect("main.lnc_bias", m.lnc_bias, {H});
  }
  if (K > 0) {
    expect("hyper.w_x", hw.w_x, {X, 4 * K});
    expect("hyper.w_hin", hw.w_hin, {H, 4 * K});
    expect("hyper.w_h", hw.w_h, {K, 4 * K});
    if (hw.b.valid()) expect("hyper.b", hw.b, {4 * K});
    if (cfg.layer_norm) {
      expect("hyper.ln_gain", hw.ln_gain, {4 * K});
      expect("hyper.ln_bias", hw.ln_bias, {4 * K});
      expect("hyper.lnc_gain", hw.lnc_gain, {K});
      expect("hyper.lnc_bias", hw.lnc_bias, {K});
    }
    expect("hyper.zx_w", hw.zx_w, {K, 4 * Nz});
    expect("hyper.zx_b", hw.zx_b, {4 * Nz});
    expect("hyper.zh_w", hw.zh_w, {K, 4 * Nz});
    expect("hyper.zh_b", hw.zh_b, {4 * Nz});
    expect("hyper.zb_w", hw.zb_w, {K, 4 * Nz});
    expect("hyper.alpha_x", hw.alpha_x, {4 * Nz, H});
    expect("hyper.alpha_h", hw.alpha_h, {4 * Nz, H});
    expect("hyper.beta", hw.beta, {4 * Nz, H});
  }
  if (in.dense.valid()) {
    if (in.dense.shape() != Shape{S * B, X} || in.dense.dtype() != dt)
      fail("dense input " + in.dense.shape().str() + ", expected [" + std::to_string(S * B) + ", " + std::to_string(X) + "]");
  } else if (in.ids.shape() != Shape{S, B} || in.ids.dtype() != DType::I32) {
    fail("ids must be i32 [" + std::to_string(S) + ", " + std::to_string(B) + "]");
  }
  const std::vector<Shape> shapes = K > 0 ? std::vector<Shape>{{B, H}, {B, H}, {B, K}, {B, K}} : std::vector<Shape>{{B, H}, {B, H}};
  if (state0.size() != shapes.size()) fail("wrong number of state tensors");
  for (std::size_t k = 0; k < shapes.size(); ++k)
    if (state0[k].shape() != shapes[k] || state0[k].dtype() != dt)
      fail("state " + std::to_string(k) + " is " + state0[k].shape().str() + ", expected " + shapes[k].str());
  if (cfg.dropout > 0 && i64(main_keys) < S) fail("one main dropout key per step needed");
  if (K > 0 && cfg.hyper_dropout > 0 && i64(hyper_keys) < S) fail("one hyper dropout key per step needed");
}

}  // namespace

Var fused_lstm(Tape& t, const FusedLstmConfig& cfg, const LstmWeights& main, const HyperWeights& hyper, const FusedInput& in,
               const std::vector<Var>& state0, const std::vector<std::uint64_t>& main_keys,
               const std::vector<std::uint64_t>& hyper_keys, std::vector<Tensor>* final_state) {
  check_args(cfg, main, hyper, in, state0, main_keys.size(), hyper_keys.size());
  const HyperWeights& hw = cfg.hyper > 0 ? hyper : HyperWeights{};  // a plain LSTM reads none
  if (main.w_x.dtype() == DType::F64) return run<double>(t, cfg, main, hw, in, state0, main_keys, hyper_keys, final_state);
  return run<float>(t, cfg, main, hw, in, state0, main_keys, hyper_keys, final_state);
}

}  // namespace ht
