// The step kernels of the fused LSTM / HyperLSTM sequence op (fused_lstm.h): one time step of the
// hyper cell and of the main cell, forward and backward, for the B rows of the batch, and the
// weight gradients over the whole segment. llm.c style: outputs first, then inputs, then weights,
// then sizes; gradients carry a d prefix; a buffer marked "in/out" is read and then overwritten.
// The kernels allocate nothing: the caller hands them scratch.
//
// Shapes: B rows, H main units, K = Ĥ hyper units, N_z embedding width, gates i, g, f, o side by
// side ([B, 4H]); the hyper embeddings z = [z_x | z_h | z_b] are [B, 12 N_z], one N_z block per
// gate in each third.
#pragma once
#include <cstdint>

#include "engine/tensor.h"

namespace ht {

// Rows of the batch per task in the forward step kernels; each block of rows uses its own scratch.
constexpr i64 kRowGrain = 8;
inline i64 row_blocks(i64 B) { return (B + kRowGrain - 1) / kRowGrain; }
// Scratch of a forward step kernel over n units: 4n per block of rows.
inline i64 forward_scratch(i64 B, i64 n) { return row_blocks(B) * 4 * n; }
// Scratch of the LSTM tail's backward over n units, in multiples of n.
constexpr i64 kTailBackwardScratch = 7;

// x_t W for row b of a step: a row of W picked by a one-hot id and multiplied by the
// input-dropout scale (id -1: a dropped symbol, no row), or a row of the segment's dense
// projection x W (scale 1).
template <class T> struct InputRows {
  const T* dense = nullptr;           // [B, n] rows of x W, or
  const std::int32_t* ids = nullptr;  // [B] one-hot ids into
  const T* w = nullptr;               // [V, n] W
  T scale = 1;
  i64 n = 0;
  const T* row(i64 b) const {
    if (dense) return dense + b * n;
    return ids[b] >= 0 ? w + i64(ids[b]) * n : nullptr;
  }
};

// The gradients that rows add into in the backward (every other weight gradient is one GEMM over
// the segment). Each chunk of the batch adds into its own copy, and the copies are summed in
// chunk order after the loop, so the result does not depend on scheduling. Null: not wanted.
template <class T> struct RowGrads {
  T* b = nullptr;               // [4H]
  T* ln_gain = nullptr;         // [4H]
  T* ln_bias = nullptr;         // [4H]
  T* lnc_gain = nullptr;        // [H]
  T* lnc_bias = nullptr;        // [H]
  T* w_x = nullptr;             // [V, 4H]    one-hot input: the rows it gathered
  T* alpha_x = nullptr;         // [4N_z, H]
  T* alpha_h = nullptr;         // [4N_z, H]
  T* beta = nullptr;            // [4N_z, H]
  T* zx_b = nullptr;            // [4N_z]
  T* zh_b = nullptr;            // [4N_z]
  T* hyper_b = nullptr;         // [4K]
  T* hyper_ln_gain = nullptr;   // [4K]
  T* hyper_ln_bias = nullptr;   // [4K]
  T* hyper_lnc_gain = nullptr;  // [K]
  T* hyper_lnc_bias = nullptr;  // [K]
  T* hyper_w_x = nullptr;       // [V, 4K]    one-hot input
};

// f(a's field, b's field, elements) for every field of RowGrads, in the order above (V: the
// one-hot vocabulary).
template <class T, class F> void each_row_grad(RowGrads<T>& a, RowGrads<T>& b, i64 V, i64 H, i64 K, i64 Nz, F&& f) {
  f(a.b, b.b, 4 * H);
  f(a.ln_gain, b.ln_gain, 4 * H);
  f(a.ln_bias, b.ln_bias, 4 * H);
  f(a.lnc_gain, b.lnc_gain, H);
  f(a.lnc_bias, b.lnc_bias, H);
  f(a.w_x, b.w_x, V * 4 * H);
  f(a.alpha_x, b.alpha_x, 4 * Nz * H);
  f(a.alpha_h, b.alpha_h, 4 * Nz * H);
  f(a.beta, b.beta, 4 * Nz * H);
  f(a.zx_b, b.zx_b, 4 * Nz);
  f(a.zh_b, b.zh_b, 4 * Nz);
  f(a.hyper_b, b.hyper_b, 4 * K);
  f(a.hyper_ln_gain, b.hyper_ln_gain, 4 * K);
  f(a.hyper_ln_bias, b.hyper_ln_bias, 4 * K);
  f(a.hyper_lnc_gain, b.hyper_lnc_gain, K);
  f(a.hyper_lnc_bias, b.hyper_lnc_bias, K);
  f(a.hyper_w_x, b.hyper_w_x, V * 4 * K);
}

// One chunk of the batch in the backward: its rows, its share of the row gradients, its scratch.
template <class T> struct BackwardChunk {
  i64 b0 = 0, b1 = 0;  // rows [b0, b1)
  RowGrads<T> grads;
  T* dh = nullptr;     // [H]    d(loss)/d(h_t) of the row
  T* dpre = nullptr;   // [4H]   d(loss)/d(main pre-activations)
  T* z = nullptr;      // [12 N_z]  the row's z (its saved row is overwritten with dz)
  T* d_x = nullptr;    // [4H]   the row's scaling vectors, recomputed from z
  T* d_h = nullptr;    // [4H]
  T* b_z = nullptr;    // [4H]   the row's generated bias, recomputed from z (layer norm)
  T* pre = nullptr;    // [4H]   the row's pre-activations, recomputed (layer norm)
  T* dd_x = nullptr;   // [4H]   their gradients
  T* dd_h = nullptr;   // [4H]
  T* dhpre = nullptr;  // [4K]   d(loss)/d(hyper pre-activations)
  T* tail = nullptr;   // [kTailBackwardScratch * max(H, K)]
};

// Eq. 10 for the B rows of one step, after the step's products: ŷ = LN(pre + x_t W_x̂ + b̂) per
// gate, ĉ_t = σ(f̂) ĉ_{t-1} + σ(î) (mask ⊙ tanh ĝ), ĥ_t = σ(ô) tanh(LN(ĉ_t)) (no layer norm when
// ln_gain is null; no bias when b is null; no dropout when mask is null).
// pre [B, 4K] in: h_{t-1} W_hin + ĥ_{t-1} W_ĥ, out: the pre-activations. act [B, 4K]: σ(î),
// tanh ĝ (before the mask), σ(f̂ + forget_bias), σ(ô). stats [B, 10]: mean and rstd of each
// gate's layer norm, then of ĉ's. scratch: forward_scratch(B, K).
template <class T>
void hyper_cell_forward(T* hh, T* hc, T* act, T* stats, T* pre, T* scratch,
                        const InputRows<T>& x, const T* hc_prev, const T* mask,
                        const T* b, const T* ln_gain, const T* ln_bias, const T* lnc_gain, const T* lnc_bias,
                        i64 B, i64 K, T eps, T forget_bias);

// Eq. 11 for the B rows of one step: z = [ĥ_t W_ĥx + b_ĥx | ĥ_t W_ĥh + b_ĥh | ĥ_t W_ĥb] [B, 12 N_z].
template <class T>
void hyper_embedding_forward(T* z, const T* hh, const T* zx_w, const T* zx_b, const T* zh_w, const T* zh_b, const T* zb_w, i64 B, i64 K,
                             i64 Nz);

// What Eq. 12 needs for a step: z [B, 12 N_z] and the projections W_xz, W_hz, W_bz (α_x, α_h, β,
// each [4 N_z, H]). Per gate y: d_x^y = z_x^y α_x^y, d_h^y = z_h^y α_h^y, b_z^y = z_b^y β^y. A null
// z means a plain LSTM (Eq. 9).
template <class T> struct Scaling {
  const T *z = nullptr, *alpha_x = nullptr, *alpha_h = nullptr, *beta = nullptr;
  i64 Nz = 0;
};

// Eq. 12 (or Eq. 9 when sv.z is null) and Eq. 13 for the B rows of one step:
//   pre = d_x ⊙ (x_t W_x) + d_h ⊙ (h_{t-1} W_h) + b_z + b   (plain LSTM: x_t W_x + h_{t-1} W_h + b)
//   y = LN(pre) per gate, c_t = σ(f) c_{t-1} + σ(i) (mask ⊙ tanh g), h_t = σ(o) tanh(LN(c_t)).
// wh [B, 4H]: h_{t-1} W_h. d_x, d_h, b_z are formed from sv in column blocks as each row needs
// them (never stored). pre [B, 4H] receives the pre-activations; act, stats as in
// hyper_cell_forward. scratch: forward_scratch(B, H).
template <class T>
void main_cell_forward(T* h, T* c, T* act, T* stats, T* pre, T* scratch,
                       const InputRows<T>& x, const T* wh, const Scaling<T>& sv, const T* c_prev, const T* mask,
                       const T* b, const T* ln_gain, const T* ln_bias, const T* lnc_gain, const T* lnc_bias,
                       i64 B, i64 H, T eps, T forget_bias);

// Backward of main_cell_forward for rows [ck.b0, ck.b1) of one step. With layer norm the row's
// pre-activations are recomputed from what is saved anyway (x_t W_x, h_{t-1} W_h, z_t, the biases),
// exactly as main_cell_forward formed them, so the forward does not keep them (S*B*4H values: 205
// MB at batch 128, 100 steps, 1000 units). dc [B, H] in: d(loss)/d(c_t),
// out: d(loss)/d(c_{t-1}). wh [B, 4H] in: h_{t-1} W_h, out: its gradient. Dense input: xw [B, 4H]
// in: x_t W_x, out: its gradient; one-hot input: x.ids' rows of ck.grads.w_x receive it (times
// the input-dropout scale). Hyper: z [B, 12 N_z] in: z_t, out: dz_t. dout [B, H]: the gradient of
// the output h_t, dh_next [B, H]: what step t+1 sent back into h_t. Adds into ck.grads (b, layer
// norm, alpha_x, alpha_h, beta, z biases).
template <class T>
void main_cell_backward(BackwardChunk<T>& ck, T* dc, T* wh, T* xw, T* z,
                        const T* dout, const T* dh_next, const InputRows<T>& x, const T* c_prev, const T* c,
                        const T* act, const T* stats, const T* mask,
                        const T* b, const T* ln_gain, const T* lnc_gain, const T* lnc_bias, const T* alpha_x, const T* alpha_h, const T* beta,
                        i64 H, i64 Nz);

// Backward of Eq. 11's products for the B rows of one step: dhh = dhh_next + dz_x W_ĥx^T +
// dz_h W_ĥh^T + dz_b W_ĥb^T, [B, K].
template <class T>
void hyper_embedding_backward(T* dhh, const T* dz, const T* dhh_next, const T* zx_w, const T* zh_w, const T* zb_w, i64 B, i64 K,
                              i64 Nz);

// Backward of hyper_cell_forward for rows [ck.b0, ck.b1) of one step. dhc [B, K] in: d(loss)/d(ĉ_t),
// out: d(loss)/d(ĉ_{t-1}). pre [B, 4K] in: the pre-activations, out: their gradient. dhh [B, K]:
// d(loss)/d(ĥ_t). Adds into ck.grads: the hyper bias and layer norm, and for a one-hot input (ids
// [B], x_scale its input-dropout scale) the gathered rows of hyper_w_x.
template <class T>
void hyper_cell_backward(BackwardChunk<T>& ck, T* dhc, T* pre,
                         const T* dhh, const std::int32_t* ids, T x_scale, const T* hc_prev, const T* hc, const T* act, const T* stats,
                         const T* mask, const T* ln_gain, const T* lnc_gain, const T* lnc_bias, i64 K);

// The weight gradients of the segment's S*B rows (row t*B + b), one GEMM each, added:
//   dw_h += h_{t-1}^T dwh; hyper: dw_hin += h_{t-1}^T dhpre, dw_hh += ĥ_{t-1}^T dhpre,
//   dzx_w, dzh_w, dzb_w += ĥ_t^T dz (by thirds). Null outputs are skipped.
// h_prev [S*B, H], hh_prev, hh [S*B, K]: h_{t-1}, ĥ_{t-1}, ĥ_t; dwh [S*B, 4H], dhpre [S*B, 4K],
// dz [S*B, 12 N_z].
template <class T>
void recurrent_weight_gradients(T* dw_h, T* dw_hin, T* dw_hh, T* dzx_w, T* dzh_w, T* dzb_w,
                                const T* h_prev, const T* hh_prev, const T* hh, const T* dwh, const T* dhpre, const T* dz,
                                i64 SB, i64 H, i64 K, i64 Nz);

// The gradients of a dense input x [S*B, X] and of its projections, added:
//   dw_x += x^T dxw, dw_x̂ += x^T dhpre, dx += dxw W_x^T + dhpre W_x̂^T (hyper terms when K > 0).
template <class T>
void dense_input_gradients(T* dw_x, T* dhw_x, T* dx,
                           const T* x, const T* dxw, const T* dhpre, const T* w_x, const T* hw_x,
                           i64 SB, i64 X, i64 H, i64 K);

}  // namespace ht
