#include "models/fused_rnn.h"

#include <cmath>
#include <cstring>
#include <memory>
#include <optional>
#include <type_traits>
#include <stdexcept>

#include "engine/blas.h"
#include "engine/fastmath.h"
#include "engine/packed_gemm.h"
#include "engine/ops/dropout.h"
#include "engine/ops/layer_norm.h"
#include "engine/parallel.h"
#include "engine/params.h"

namespace ht {

namespace {

template <class T> inline T sigm(T x) { return fast_sigmoid(x); }

// The LSTM tail of one row (n units, gates i, g, f, o): optional layer norm per gate on the
// pre-activations, the nonlinearities (forget bias inside the sigmoid), dropout on g, the new c,
// optional layer norm on c, and h. Saves what the backward needs: gate stats (mean, rstd per
// gate, then c's), activations (i, tanh g before the mask, f, o).
template <class T>
void tail_forward(i64 n, const T* pre, bool ln, const T* lng, const T* lnb, const T* lncg, const T* lncb, T eps, T fb, const T* mask,
                  const T* c_prev, T* stats, T* act, T* c, T* h, T* tmp) {
  const T* y = pre;
  if (ln) {
    for (int g = 0; g < 4; ++g)
      layer_norm_row_forward<T>(tmp + g * n, stats + 2 * g, stats + 2 * g + 1, pre + g * n, lng + g * n, lnb + g * n, n, eps);
    y = tmp;
  }
  for (i64 j = 0; j < n; ++j) {
    T i = sigm(y[j]), g = fast_tanh(y[n + j]), f = sigm(y[2 * n + j] + fb), o = sigm(y[3 * n + j]);
    act[j] = i;
    act[n + j] = g;
    act[2 * n + j] = f;
    act[3 * n + j] = o;
    c[j] = f * c_prev[j] + i * (mask ? g * mask[j] : g);
  }
  const T* hc = c;
  if (ln) {
    layer_norm_row_forward<T>(tmp, stats + 8, stats + 9, c, lncg, lncb, n, eps);
    hc = tmp;
  }
  for (i64 j = 0; j < n; ++j) h[j] = act[3 * n + j] * fast_tanh(hc[j]);
}

// Backward of tail_forward for one row. dh: d(loss)/d(h_t); dc: in d(loss)/d(c_t) from the next
// step, out d(loss)/d(c_{t-1}). dpre receives d(loss)/d(pre-activations) (overwritten). Layer-norm
// parameter gradients are accumulated. tmp: scratch of 7n.
template <class T>
void tail_backward(i64 n, const T* pre, bool ln, const T* lng, const T* lncg, const T* lncb, const T* mask, const T* c_prev,
                   const T* stats, const T* act, const T* c, const T* dh, T* dc, T* dpre, T* dlng, T* dlnb, T* dlncg, T* dlncb, T* tmp) {
  T *hc = tmp, *dhc = tmp + n, *dy = ln ? tmp + 3 * n : dpre;
  if (ln) {
    const T m = stats[8], r = stats[9];
    for (i64 j = 0; j < n; ++j) hc[j] = lncg[j] * (c[j] - m) * r + lncb[j];
  } else {
    std::memcpy(hc, c, static_cast<std::size_t>(n) * sizeof(T));
  }
  for (i64 j = 0; j < n; ++j) {
    const T th = fast_tanh(hc[j]), o = act[3 * n + j];
    dy[3 * n + j] = dh[j] * th * o * (1 - o);
    dhc[j] = dh[j] * o * (1 - th * th);
  }
  if (ln) {
    T* dcl = tmp + 2 * n;
    std::memset(dcl, 0, static_cast<std::size_t>(n) * sizeof(T));
    layer_norm_row_backward<T>(dcl, dlncg, dlncb, dhc, c, stats[8], stats[9], lncg, n);
    for (i64 j = 0; j < n; ++j) dc[j] += dcl[j];
  } else {
    for (i64 j = 0; j < n; ++j) dc[j] += dhc[j];
  }
  for (i64 j = 0; j < n; ++j) {
    const T i = act[j], g = act[n + j], f = act[2 * n + j], mk = mask ? mask[j] : T(1);
    const T dct = dc[j];
    dy[j] = dct * g * mk * i * (1 - i);
    dy[n + j] = dct * i * mk * (1 - g * g);
    dy[2 * n + j] = dct * c_prev[j] * f * (1 - f);
    dc[j] = dct * f;
  }
  if (ln) {
    std::memset(dpre, 0, static_cast<std::size_t>(4 * n) * sizeof(T));
    for (int g = 0; g < 4; ++g)
      layer_norm_row_backward<T>(dpre + g * n, dlng + g * n, dlnb + g * n, dy + g * n, pre + g * n, stats[2 * g], stats[2 * g + 1],
                                 lng + g * n, n);
  }
}

template <class T> T* ptr(const Tensor& t) { return t ? t.data<T>() : nullptr; }

// C = A op(B) (+ beta C) with op(B)'s columns split across the cores, each part a single-threaded
// BLAS call on the calling oneTBB worker (inside a BlasOnCaller scope). Splitting columns keeps
// the total packing of B what one call would do.
template <class T>
void par_gemm(bool tb, i64 M, i64 N, i64 K, const T* A, i64 lda, const T* Bm, i64 ldb, T beta, T* C, i64 ldc) {
  const i64 parts = N >= 512 ? 2 : 1;
  parallel_for(parts, 1, [&](i64 p0, i64 p1) {
    for (i64 p = p0; p < p1; ++p) {
      const i64 n0 = (N * p / parts) / 16 * 16, n1 = p + 1 == parts ? N : (N * (p + 1) / parts) / 16 * 16;
      gemm(false, tb, M, n1 - n0, K, T(1), A, lda, tb ? Bm + n0 * ldb : Bm + n0, ldb, beta, C + n0, ldc);
    }
  });
}

// The per-step product C = A W (or A W^T) on a weight that is fixed for the segment: float uses
// the packed weight-stationary kernel (packed once per segment), double the BLAS split above.
struct StepWeight {
  const void* w = nullptr;
  i64 K = 0, N = 0, ld = 0;
  bool trans = false;
  std::shared_ptr<PackedMatrix> packed;  // float only
};

// Packing costs about one product's worth of memory traffic, so it pays from a few steps on;
// one-step calls (sampling) use BLAS directly.
constexpr i64 kPackFromSteps = 4;

template <class T> StepWeight step_weight(const T* W, i64 K, i64 N, i64 ld, bool trans, i64 steps) {
  StepWeight s{W, K, N, ld, trans, nullptr};
  if constexpr (std::is_same_v<T, float>) {
    if (steps < kPackFromSteps) return s;
    s.packed = std::make_shared<PackedMatrix>();
    s.packed->pack(W, K, N, ld, trans);
  }
  return s;
}

template <class T> void step_gemm(i64 M, const T* A, i64 lda, const StepWeight& w, T beta, T* C, i64 ldc) {
  if constexpr (std::is_same_v<T, float>)
    if (w.packed) return packed_gemm(M, A, lda, *w.packed, beta, C, ldc);
  par_gemm<T>(w.trans, M, w.N, w.K, A, lda, static_cast<const T*>(w.w), w.ld, beta, C, ldc);
}

// Rows of the batch per task in the per-step loops: two halves at batch 32 on two cores.
constexpr i64 kRowGrain = 8;
// Chunks of the batch in the backward loop (two cores; each chunk owns its gradient buffers).
constexpr i64 kBackwardChunks = 2;

template <class T>
Var run(Tape& t, const RnnCell& cell, const RnnCell::Weights& w, const FusedInput& in, const std::vector<Var>& s0,
        const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys, bool training,
        std::vector<Tensor>* final_state) {
  const CellSpec& sp = cell.spec();
  const bool hyper = sp.kind == CellKind::HyperLSTM, ln = sp.layer_norm, one_hot = !in.dense.valid();
  const i64 S = in.steps, B = in.batch, H = sp.hidden, K = hyper ? sp.hyper : 0, Nz = hyper ? sp.embed : 0, X = sp.input;
  const i64 H4 = 4 * H, K4 = 4 * K, Z = 12 * Nz, SB = S * B;
  const DType dt = dtype_of<T>();
  const T eps = T(sp.ln_eps), fb = T(sp.forget_bias), scale = T(in.scale);
  const double p_main = training ? sp.recurrent_dropout : 0, p_hyp = training ? sp.hyper_recurrent_dropout : 0;
  if (p_main > 0 && i64(main_keys.size()) < S) throw std::invalid_argument("fused_rnn_layer: one main dropout key per step needed");
  if (p_hyp > 0 && i64(hyper_keys.size()) < S) throw std::invalid_argument("fused_rnn_layer: one hyper dropout key per step needed");

  const LstmWeights& m = w.main;
  const HyperWeights& hw = w.hyper;
  auto V = [](const Var& v) -> const T* { return v.valid() ? v.value().template data<T>() : nullptr; };
  const T *Wx = V(m.w_x), *Wh = V(m.w_h), *bias = V(m.b), *lng = V(m.ln_gain), *lnb = V(m.ln_bias), *lncg = V(m.lnc_gain),
          *lncb = V(m.lnc_bias);
  const T *hWx = V(hw.w_x), *hWhin = V(hw.w_hin), *hWh = V(hw.w_h), *hb = V(hw.b), *hlng = V(hw.ln_gain), *hlnb = V(hw.ln_bias),
          *hlncg = V(hw.lnc_gain), *hlncb = V(hw.lnc_bias);
  const T *zxw = V(hw.zx_w), *zxb = V(hw.zx_b), *zhw = V(hw.zh_w), *zhb = V(hw.zh_b), *zbw = V(hw.zb_w), *ax = V(hw.alpha_x),
          *ah = V(hw.alpha_h), *bt = V(hw.beta);

  const std::int32_t* ids = one_hot ? in.ids.data<std::int32_t>() : nullptr;
  Tensor Xd = one_hot ? Tensor() : in.dense.value();

  // Activations, in the tape's arena (they live until the tape is reset).
  Tensor hist = t.alloc({(S + 1) * B, H}, dt), chist = t.alloc({(S + 1) * B, H}, dt), act = t.alloc({SB, H4}, dt),
         whs = t.alloc({SB, H4}, dt), pre = ln ? t.alloc({SB, H4}, dt) : Tensor(), stats = t.alloc({SB, 10}, dt);
  Tensor hhist, hchist, hact, hpre, hstats, zs, xm_all, xh_all;
  if (hyper) {
    hhist = t.alloc({(S + 1) * B, K}, dt);
    hchist = t.alloc({(S + 1) * B, K}, dt);
    hact = t.alloc({SB, K4}, dt);
    hpre = t.alloc({SB, K4}, dt);
    hstats = t.alloc({SB, 10}, dt);
    zs = t.alloc({SB, Z}, dt);
  }
  if (!one_hot) {  // the whole segment's input projections in one GEMM each
    xm_all = t.alloc({SB, H4}, dt);
    gemm_dense<T>(false, false, SB, H4, X, T(1), Xd.data<T>(), Wx, T(0), xm_all.data<T>());
    if (hyper) {
      xh_all = t.alloc({SB, K4}, dt);
      gemm_dense<T>(false, false, SB, K4, X, T(1), Xd.data<T>(), hWx, T(0), xh_all.data<T>());
    }
  }
  std::memcpy(ptr<T>(hist), s0[0].value().data<T>(), static_cast<std::size_t>(B * H) * sizeof(T));
  std::memcpy(ptr<T>(chist), s0[1].value().data<T>(), static_cast<std::size_t>(B * H) * sizeof(T));
  if (hyper) {
    std::memcpy(ptr<T>(hhist), s0[2].value().data<T>(), static_cast<std::size_t>(B * K) * sizeof(T));
    std::memcpy(ptr<T>(hchist), s0[3].value().data<T>(), static_cast<std::size_t>(B * K) * sizeof(T));
  }
  // x W_x for row (s, b), column j: a gathered row of W_x times the input-dropout scale, or the
  // segment GEMM's row.
  auto xm_row = [&](i64 s, i64 b, const T* W, i64 n, const Tensor& all) -> const T* {
    if (!one_hot) return all.data<T>() + (s * B + b) * n;
    const std::int32_t v = ids[s * B + b];
    return v >= 0 ? W + i64(v) * n : nullptr;
  };

  const i64 nmax = std::max(H, K);
  std::vector<T> prebuf(ln ? 0 : static_cast<std::size_t>(B * H4)), dxv(static_cast<std::size_t>(hyper ? B * H4 : 0)),
      dhv(dxv.size()), bzv(dxv.size());
  Tensor mmask = p_main > 0 ? Tensor::empty({B, H}, dt) : Tensor(), hmask = p_hyp > 0 ? Tensor::empty({B, K}, dt) : Tensor();

  const StepWeight pWh = step_weight<T>(Wh, H, H4, H4, false, S);
  const StepWeight pWhin = hyper ? step_weight<T>(hWhin, H, K4, K4, false, S) : StepWeight();
  const StepWeight pWhh = hyper ? step_weight<T>(hWh, K, K4, K4, false, S) : StepWeight();
  std::optional<BlasOnCaller> serial_blas(std::in_place);  // per-step GEMMs: parts on oneTBB's workers
  for (i64 s = 0; s < S; ++s) {
    const T* hprev = ptr<T>(hist) + s * B * H;
    if (hyper) {
      // Hyper cell on [x_t; h_{t-1}] from ĥ_{t-1}.
      T* hp = ptr<T>(hpre) + s * B * K4;
      step_gemm<T>(B, hprev, H, pWhin, T(0), hp, K4);
      step_gemm<T>(B, ptr<T>(hhist) + s * B * K, K, pWhh, T(1), hp, K4);
      if (p_hyp > 0) dropout_mask(hmask, p_hyp, hyper_keys[static_cast<std::size_t>(s)]);
      parallel_for(B, kRowGrain, [&](i64 b0, i64 b1) {
        std::vector<T> scratch(static_cast<std::size_t>(8 * nmax));
        for (i64 b = b0; b < b1; ++b) {
          const T* xr = xm_row(s, b, hWx, K4, xh_all);
          T* row = hp + b * K4;
          const T sc = one_hot ? scale : T(1);
          if (xr)
            for (i64 j = 0; j < K4; ++j) row[j] += xr[j] * sc;
          if (hb)
            for (i64 j = 0; j < K4; ++j) row[j] += hb[j];
          tail_forward<T>(K, row, ln, hlng, hlnb, hlncg, hlncb, eps, fb, p_hyp > 0 ? ptr<T>(hmask) + b * K : nullptr,
                          ptr<T>(hchist) + (s * B + b) * K, ptr<T>(hstats) + (s * B + b) * 10, ptr<T>(hact) + (s * B + b) * K4,
                          ptr<T>(hchist) + ((s + 1) * B + b) * K, ptr<T>(hhist) + ((s + 1) * B + b) * K, scratch.data());
        }
      });
      // Eq. 11 from ĥ_t: z = [z_x | z_h | z_b], one N_z block per gate in each.
      const T* hh = ptr<T>(hhist) + (s + 1) * B * K;
      T* z = ptr<T>(zs) + s * B * Z;
      gemm(false, false, B, 4 * Nz, K, T(1), hh, K, zxw, 4 * Nz, T(0), z, Z);
      gemm(false, false, B, 4 * Nz, K, T(1), hh, K, zhw, 4 * Nz, T(0), z + 4 * Nz, Z);
      gemm(false, false, B, 4 * Nz, K, T(1), hh, K, zbw, 4 * Nz, T(0), z + 8 * Nz, Z);
      // Eq. 12: d_x^y = z_x^y W_xz^y, d_h^y = z_h^y W_hz^y, b^y = z_b^y W_bz^y.
      parallel_for(B, kRowGrain, [&](i64 b0, i64 b1) {
        for (i64 b = b0; b < b1; ++b) {
          T* zr = z + b * Z;
          for (i64 k = 0; k < 4 * Nz; ++k) {
            zr[k] += zxb[k];
            zr[4 * Nz + k] += zhb[k];
          }
          std::fill(dxv.begin() + b * H4, dxv.begin() + (b + 1) * H4, T(0));
          std::fill(dhv.begin() + b * H4, dhv.begin() + (b + 1) * H4, T(0));
          std::fill(bzv.begin() + b * H4, bzv.begin() + (b + 1) * H4, T(0));
          for (i64 y = 0; y < 4; ++y)
            for (i64 k = 0; k < Nz; ++k) {
              const i64 r = y * Nz + k;
              const T zx = zr[r], zh = zr[4 * Nz + r], zb = zr[8 * Nz + r];
              T *dx = dxv.data() + b * H4 + y * H, *dh = dhv.data() + b * H4 + y * H, *bz = bzv.data() + b * H4 + y * H;
              const T *a1 = ax + r * H, *a2 = ah + r * H, *a3 = bt + r * H;
              for (i64 j = 0; j < H; ++j) {
                dx[j] += zx * a1[j];
                dh[j] += zh * a2[j];
                bz[j] += zb * a3[j];
              }
            }
        }
      });
    }
    T* wh = ptr<T>(whs) + s * B * H4;
    step_gemm<T>(B, hprev, H, pWh, T(0), wh, H4);
    T* pr = ln ? ptr<T>(pre) + s * B * H4 : prebuf.data();
    if (p_main > 0) dropout_mask(mmask, p_main, main_keys[static_cast<std::size_t>(s)]);
    parallel_for(B, kRowGrain, [&](i64 b0, i64 b1) {
      std::vector<T> scratch(static_cast<std::size_t>(8 * nmax));
      for (i64 b = b0; b < b1; ++b) {
        const T* xr = xm_row(s, b, Wx, H4, xm_all);
        const T sc = one_hot ? scale : T(1);
        T* row = pr + b * H4;
        const T* whr = wh + b * H4;
        if (hyper) {
          const T *dx = dxv.data() + b * H4, *dh = dhv.data() + b * H4, *bz = bzv.data() + b * H4;
          for (i64 j = 0; j < H4; ++j) row[j] = (dx[j] * (xr ? xr[j] * sc : T(0)) + dh[j] * whr[j]) + bz[j] + bias[j];
        } else {
          for (i64 j = 0; j < H4; ++j) row[j] = ((xr ? xr[j] * sc : T(0)) + whr[j]) + bias[j];
        }
        tail_forward<T>(H, row, ln, lng, lnb, lncg, lncb, eps, fb, p_main > 0 ? ptr<T>(mmask) + b * H : nullptr,
                        ptr<T>(chist) + (s * B + b) * H, ptr<T>(stats) + (s * B + b) * 10, ptr<T>(act) + (s * B + b) * H4,
                        ptr<T>(chist) + ((s + 1) * B + b) * H, ptr<T>(hist) + ((s + 1) * B + b) * H, scratch.data());
      }
    });
  }

  serial_blas.reset();
  // Forward scratch is not needed by the backward (which the closure below would copy).
  std::vector<T>().swap(prebuf);
  std::vector<T>().swap(dxv);
  std::vector<T>().swap(dhv);
  std::vector<T>().swap(bzv);
  mmask = Tensor();
  hmask = Tensor();
  if (final_state) {
    final_state->clear();
    final_state->push_back(hist.rows(S * B, (S + 1) * B).clone());
    final_state->push_back(chist.rows(S * B, (S + 1) * B).clone());
    if (hyper) {
      final_state->push_back(hhist.rows(S * B, (S + 1) * B).clone());
      final_state->push_back(hchist.rows(S * B, (S + 1) * B).clone());
    }
  }
  Tensor out = hist.rows(B, (S + 1) * B);

  std::vector<Var> inputs;
  for (const std::vector<Var>& vars : {m.vars(), hw.vars()})
    for (const Var& v : vars)
      if (v.valid()) inputs.push_back(v);
  for (auto& v : s0) inputs.push_back(v);
  if (!one_hot) inputs.push_back(in.dense);

  Tensor ids_copy;
  if (one_hot) {
    ids_copy = t.alloc(in.ids.shape(), DType::I32);
    ids_copy.copy_from(in.ids);
  }
  auto keys_m = main_keys, keys_h = hyper_keys;
  return t.record(hyper ? "fused_hyperlstm" : "fused_lstm", out, inputs,
                  [=](const Tensor& dout) {
    auto G = [](const Var& v) -> T* { return v.valid() && v.needs_grad() ? v.grad().template data<T>() : nullptr; };
    const LstmWeights& m = w.main;
    const HyperWeights& hw = w.hyper;
    T *gWx = G(m.w_x), *gWh = G(m.w_h), *gb = G(m.b), *glng = G(m.ln_gain), *glnb = G(m.ln_bias), *glncg = G(m.lnc_gain),
      *glncb = G(m.lnc_bias);
    T *ghWx = G(hw.w_x), *ghWhin = G(hw.w_hin), *ghWh = G(hw.w_h), *ghb = G(hw.b), *ghlng = G(hw.ln_gain), *ghlnb = G(hw.ln_bias),
      *ghlncg = G(hw.lnc_gain), *ghlncb = G(hw.lnc_bias);
    T *gzxw = G(hw.zx_w), *gzxb = G(hw.zx_b), *gzhw = G(hw.zh_w), *gzhb = G(hw.zh_b), *gzbw = G(hw.zb_w), *gax = G(hw.alpha_x),
      *gah = G(hw.alpha_h), *gbt = G(hw.beta);
    const std::int32_t* idv = one_hot ? ids_copy.data<std::int32_t>() : nullptr;
    const T* dH = dout.data<T>();
    auto vec = [](i64 n) { return std::vector<T>(static_cast<std::size_t>(n), T(0)); };
    std::vector<T> dh = vec(B * H), dh_next = vec(B * H), dc = vec(B * H), dhh = vec(B * K), dhh_next = vec(B * K), dhc = vec(B * K);
    Tensor mm = p_main > 0 ? Tensor::empty({B, H}, dt) : Tensor(), hm = p_hyp > 0 ? Tensor::empty({B, K}, dt) : Tensor();

    // The batch is cut into NC fixed chunks run in parallel; every gradient the rows add into
    // (biases, layer-norm gains, W_xz, W_hz, W_bz, z biases, one-hot rows of W_x) goes to the
    // chunk's own buffer first and is summed in chunk order at the end, so results do not depend
    // on scheduling.
    const i64 NC = std::min<i64>(B, kBackwardChunks);
    struct Chunk {
      std::vector<T> buf, dpre, dhp, ddx, ddh, dxr, dhr, zrow, scratch;
      T *gb = nullptr, *glng = nullptr, *glnb = nullptr, *glncg = nullptr, *glncb = nullptr, *gax = nullptr, *gah = nullptr,
        *gbt = nullptr, *gzxb = nullptr, *gzhb = nullptr, *gWx = nullptr, *ghb = nullptr, *ghlng = nullptr, *ghlnb = nullptr,
        *ghlncg = nullptr, *ghlncb = nullptr, *ghWx = nullptr;
    };
    const i64 V = one_hot ? X : 0;
    // (real gradient, chunk field, size) for every accumulated gradient
    std::vector<std::pair<T*, i64>> fields = {{gb, H4}, {glng, H4}, {glnb, H4}, {glncg, H}, {glncb, H}, {gax, 4 * Nz * H},
                                              {gah, 4 * Nz * H}, {gbt, 4 * Nz * H}, {gzxb, 4 * Nz}, {gzhb, 4 * Nz}, {one_hot ? gWx : nullptr, V * H4},
                                              {ghb, K4}, {ghlng, K4}, {ghlnb, K4}, {ghlncg, K}, {ghlncb, K}, {one_hot ? ghWx : nullptr, V * K4}};
    std::vector<Chunk> chunks(static_cast<std::size_t>(NC));
    for (auto& c : chunks) {
      i64 total = 0;
      for (auto& f : fields)
        if (f.first) total += f.second;
      c.buf = vec(total);
      T* q = c.buf.data();
      T** slots[] = {&c.gb, &c.glng, &c.glnb, &c.glncg, &c.glncb, &c.gax, &c.gah, &c.gbt, &c.gzxb, &c.gzhb, &c.gWx,
                     &c.ghb, &c.ghlng, &c.ghlnb, &c.ghlncg, &c.ghlncb, &c.ghWx};
      for (std::size_t k = 0; k < fields.size(); ++k)
        if (fields[k].first) {
          *slots[k] = q;
          q += fields[k].second;
        }
      c.dpre = vec(H4);
      c.dhp = vec(K4);
      c.ddx = vec(H4);
      c.ddh = vec(H4);
      c.dxr = vec(H4);
      c.dhr = vec(H4);
      c.zrow = vec(Z);
      c.scratch = vec(8 * nmax);
    }
    auto for_chunks = [&](auto&& body) {
      parallel_for(NC, 1, [&](i64 c0, i64 c1) {
        for (i64 c = c0; c < c1; ++c) body(chunks[static_cast<std::size_t>(c)], c * B / NC, (c + 1) * B / NC);
      });
    };

    // W^T for the per-step products of the backward, packed once.
    const StepWeight tWh = step_weight<T>(Wh, H4, H, H4, true, S);
    const StepWeight tWhin = hyper ? step_weight<T>(hWhin, K4, H, K4, true, S) : StepWeight();
    const StepWeight tWhh = hyper ? step_weight<T>(hWh, K4, K, K4, true, S) : StepWeight();
    std::optional<BlasOnCaller> serial_blas(std::in_place);
    for (i64 s = S - 1; s >= 0; --s) {
      if (p_main > 0) dropout_mask(mm, p_main, keys_m[static_cast<std::size_t>(s)]);
      T* wh = ptr<T>(whs) + s * B * H4;  // W_h h_{t-1}, overwritten with d(loss)/d(W_h h_{t-1})
      T* z = hyper ? ptr<T>(zs) + s * B * Z : nullptr;  // z_t, overwritten with d(loss)/d(z_t)
      for_chunks([&](Chunk& ck, i64 b0, i64 b1) {
        for (i64 i = b0 * H; i < b1 * H; ++i) dh[static_cast<std::size_t>(i)] = dH[s * B * H + i] + dh_next[static_cast<std::size_t>(i)];
        T* dpre = ck.dpre.data();
        for (i64 b = b0; b < b1; ++b) {
          const i64 r = s * B + b;
          tail_backward<T>(H, ln ? ptr<T>(pre) + r * H4 : nullptr, ln, lng, lncg, lncb, p_main > 0 ? ptr<T>(mm) + b * H : nullptr,
                           ptr<T>(chist) + r * H, ptr<T>(stats) + r * 10, ptr<T>(act) + r * H4, ptr<T>(chist) + (r + B) * H,
                           dh.data() + b * H, dc.data() + b * H, dpre, ck.glng, ck.glnb, ck.glncg, ck.glncb, ck.scratch.data());
          const T* xr = one_hot ? (idv[r] >= 0 ? Wx + i64(idv[r]) * H4 : nullptr) : ptr<T>(xm_all) + r * H4;
          const T sc = one_hot ? scale : T(1);
          T* whr = wh + b * H4;
          T* dxm = one_hot ? (idv[r] >= 0 && ck.gWx ? ck.gWx + i64(idv[r]) * H4 : nullptr) : ptr<T>(xm_all) + r * H4;
          if (hyper) {
            // Recompute d_x, d_h of this row from z_t.
            T *zrow = ck.zrow.data(), *dxr = ck.dxr.data(), *dhr = ck.dhr.data(), *ddx = ck.ddx.data(), *ddh = ck.ddh.data();
            std::copy(z + b * Z, z + (b + 1) * Z, zrow);
            std::fill(dxr, dxr + H4, T(0));
            std::fill(dhr, dhr + H4, T(0));
            for (i64 y = 0; y < 4; ++y)
              for (i64 k = 0; k < Nz; ++k) {
                const i64 q = y * Nz + k;
                const T zx = zrow[q], zh = zrow[4 * Nz + q];
                const T *a1 = ax + q * H, *a2 = ah + q * H;
                for (i64 j = 0; j < H; ++j) {
                  dxr[y * H + j] += zx * a1[j];
                  dhr[y * H + j] += zh * a2[j];
                }
              }
            for (i64 j = 0; j < H4; ++j) {
              const T dp = dpre[j], xv = xr ? xr[j] * sc : T(0);
              ddx[j] = dp * xv;
              ddh[j] = dp * whr[j];
              if (ck.gb) ck.gb[j] += dp;
              const T dx_in = dp * dxr[j];
              whr[j] = dp * dhr[j];
              if (one_hot) {
                if (dxm) dxm[j] += dx_in * sc;
              } else {
                dxm[j] = dx_in;
              }
            }
            // d alpha, d beta and d z: per gate block, rows q = y*N_z + k.
            T* dz = z + b * Z;
            for (i64 y = 0; y < 4; ++y)
              for (i64 k = 0; k < Nz; ++k) {
                const i64 q = y * Nz + k;
                const T zx = zrow[q], zh = zrow[4 * Nz + q], zb = zrow[8 * Nz + q];
                const T *a1 = ax + q * H, *a2 = ah + q * H, *a3 = bt + q * H;
                const T *e1 = ddx + y * H, *e2 = ddh + y * H, *e3 = dpre + y * H;
                T s1 = 0, s2 = 0, s3 = 0;
                for (i64 j = 0; j < H; ++j) {
                  s1 += e1[j] * a1[j];
                  s2 += e2[j] * a2[j];
                  s3 += e3[j] * a3[j];
                }
                if (ck.gax) for (i64 j = 0; j < H; ++j) ck.gax[q * H + j] += zx * e1[j];
                if (ck.gah) for (i64 j = 0; j < H; ++j) ck.gah[q * H + j] += zh * e2[j];
                if (ck.gbt) for (i64 j = 0; j < H; ++j) ck.gbt[q * H + j] += zb * e3[j];
                dz[q] = s1;
                dz[4 * Nz + q] = s2;
                dz[8 * Nz + q] = s3;
                if (ck.gzxb) ck.gzxb[q] += s1;
                if (ck.gzhb) ck.gzhb[q] += s2;
              }
          } else {
            for (i64 j = 0; j < H4; ++j) {
              const T dp = dpre[j];
              if (ck.gb) ck.gb[j] += dp;
              whr[j] = dp;
              if (one_hot) {
                if (dxm) dxm[j] += dp * sc;
              } else {
                dxm[j] = dp;
              }
            }
          }
        }
      });
      if (hyper) {
        // d ĥ_t = dz W_z^T (three blocks) + what step t+1 sent back.
        std::copy(dhh_next.begin(), dhh_next.end(), dhh.begin());
        gemm(false, true, B, K, 4 * Nz, T(1), z, Z, zxw, 4 * Nz, T(1), dhh.data(), K);
        gemm(false, true, B, K, 4 * Nz, T(1), z + 4 * Nz, Z, zhw, 4 * Nz, T(1), dhh.data(), K);
        gemm(false, true, B, K, 4 * Nz, T(1), z + 8 * Nz, Z, zbw, 4 * Nz, T(1), dhh.data(), K);
        if (p_hyp > 0) dropout_mask(hm, p_hyp, keys_h[static_cast<std::size_t>(s)]);
        T* hp = ptr<T>(hpre) + s * B * K4;  // overwritten with d(loss)/d(hyper pre-activations)
        for_chunks([&](Chunk& ck, i64 b0, i64 b1) {
          T* dhp = ck.dhp.data();
          for (i64 b = b0; b < b1; ++b) {
            const i64 r = s * B + b;
            tail_backward<T>(K, hp + b * K4, ln, hlng, hlncg, hlncb, p_hyp > 0 ? ptr<T>(hm) + b * K : nullptr, ptr<T>(hchist) + r * K,
                             ptr<T>(hstats) + r * 10, ptr<T>(hact) + r * K4, ptr<T>(hchist) + (r + B) * K, dhh.data() + b * K,
                             dhc.data() + b * K, dhp, ck.ghlng, ck.ghlnb, ck.ghlncg, ck.ghlncb, ck.scratch.data());
            std::copy(dhp, dhp + K4, hp + b * K4);
            if (ck.ghb) for (i64 j = 0; j < K4; ++j) ck.ghb[j] += dhp[j];
            if (ck.ghWx && idv[r] >= 0)
              for (i64 j = 0; j < K4; ++j) ck.ghWx[i64(idv[r]) * K4 + j] += dhp[j] * scale;
          }
        });
        step_gemm<T>(B, hp, K4, tWhh, T(0), dhh_next.data(), K);
        step_gemm<T>(B, hp, K4, tWhin, T(0), dh_next.data(), H);
        step_gemm<T>(B, wh, H4, tWh, T(1), dh_next.data(), H);
      } else {
        step_gemm<T>(B, wh, H4, tWh, T(0), dh_next.data(), H);
      }
    }
    serial_blas.reset();  // the weight-gradient GEMMs below use every BLAS thread
    // The chunks' accumulated gradients, in chunk order.
    for (auto& c : chunks) {
      const T* q = c.buf.data();
      for (auto& f : fields)
        if (f.first) {
          for (i64 i = 0; i < f.second; ++i) f.first[i] += q[i];
          q += f.second;
        }
    }
    // Weight gradients: one GEMM over all T*B rows each.
    const T* hprev_all = ptr<T>(hist);  // rows 0 .. SB: h_{t-1} for every (t, b)
    if (gWh) gemm_dense<T>(true, false, H, H4, SB, T(1), hprev_all, ptr<T>(whs), T(1), gWh);
    if (hyper) {
      if (ghWhin) gemm_dense<T>(true, false, H, K4, SB, T(1), hprev_all, ptr<T>(hpre), T(1), ghWhin);
      if (ghWh) gemm_dense<T>(true, false, K, K4, SB, T(1), ptr<T>(hhist), ptr<T>(hpre), T(1), ghWh);
      const T* hcur = ptr<T>(hhist) + B * K;  // ĥ_t for every (t, b)
      if (gzxw) gemm(true, false, K, 4 * Nz, SB, T(1), hcur, K, ptr<T>(zs), Z, T(1), gzxw, 4 * Nz);
      if (gzhw) gemm(true, false, K, 4 * Nz, SB, T(1), hcur, K, ptr<T>(zs) + 4 * Nz, Z, T(1), gzhw, 4 * Nz);
      if (gzbw) gemm(true, false, K, 4 * Nz, SB, T(1), hcur, K, ptr<T>(zs) + 8 * Nz, Z, T(1), gzbw, 4 * Nz);
    }
    if (!one_hot) {
      const T* x = Xd.data<T>();
      if (gWx) gemm_dense<T>(true, false, X, H4, SB, T(1), x, ptr<T>(xm_all), T(1), gWx);
      if (hyper && ghWx) gemm_dense<T>(true, false, X, K4, SB, T(1), x, ptr<T>(hpre), T(1), ghWx);
      if (in.dense.needs_grad()) {
        T* gx = in.dense.grad().template data<T>();
        gemm_dense<T>(false, true, SB, X, H4, T(1), ptr<T>(xm_all), Wx, T(1), gx);
        if (hyper) gemm_dense<T>(false, true, SB, X, K4, T(1), ptr<T>(hpre), hWx, T(1), gx);
      }
    }
    auto add_state = [&](std::size_t k, const std::vector<T>& g) {
      if (k < s0.size() && s0[k].needs_grad()) {
        T* d = s0[k].grad().template data<T>();
        for (std::size_t i = 0; i < g.size(); ++i) d[i] += g[i];
      }
    };
    add_state(0, dh_next);
    add_state(1, dc);
    if (hyper) {
      add_state(2, dhh_next);
      add_state(3, dhc);
    }
  });
}

}  // namespace

Var fused_rnn_layer(Tape& t, const RnnCell& cell, const RnnCell::Weights& w, const FusedInput& in, const std::vector<Var>& state0,
                    const std::vector<std::uint64_t>& main_keys, const std::vector<std::uint64_t>& hyper_keys, bool training,
                    std::vector<Tensor>* final_state) {
  const CellSpec& sp = cell.spec();
  if (sp.kind == CellKind::HyperRNN) throw std::invalid_argument("fused_rnn_layer: the HyperRNN has no fused op (use the reference cell)");
  const i64 S = in.steps, B = in.batch;
  if (S <= 0 || B <= 0) throw std::invalid_argument("fused_rnn_layer: steps and batch must be positive");
  if (in.dense.valid()) {
    if (in.dense.shape() != Shape{S * B, sp.input})
      throw std::invalid_argument("fused_rnn_layer: dense input " + in.dense.shape().str() + ", expected [" + std::to_string(S * B) +
                                  ", " + std::to_string(sp.input) + "]");
  } else if (in.ids.shape() != Shape{S, B} || in.ids.dtype() != DType::I32) {
    throw std::invalid_argument("fused_rnn_layer: ids must be i32 [" + std::to_string(S) + ", " + std::to_string(B) + "]");
  }
  auto shapes = cell.state_shapes(B);
  if (state0.size() != shapes.size()) throw std::invalid_argument("fused_rnn_layer: wrong number of state tensors");
  for (std::size_t k = 0; k < shapes.size(); ++k)
    if (state0[k].shape() != shapes[k])
      throw std::invalid_argument("fused_rnn_layer: state " + std::to_string(k) + " is " + state0[k].shape().str() + ", expected " +
                                  shapes[k].str());
  const DType dt = w.main.w_h.dtype();
  if (dt == DType::F64) return run<double>(t, cell, w, in, state0, main_keys, hyper_keys, training, final_state);
  return run<float>(t, cell, w, in, state0, main_keys, hyper_keys, training, final_state);
}

}  // namespace ht
