#include "engine/ops/fused_lstm_kernels.h"

#include <algorithm>
#include <cstring>

#include "engine/blas.h"
#include "engine/fastmath.h"
#include "engine/ops/layer_norm.h"
#include "engine/parallel.h"

namespace ht {

namespace {

// f(rows b0..b1, that block's scratch) for the blocks of kRowGrain rows, in parallel.
template <class T, class F> void for_row_blocks(i64 B, T* scratch, i64 scratch_per_block, F&& f) {
  parallel_for(row_blocks(B), 1, [&](i64 k0, i64 k1) {
    for (i64 k = k0; k < k1; ++k) f(k * kRowGrain, std::min(B, (k + 1) * kRowGrain), scratch + k * scratch_per_block);
  });
}

// The loops below run over one row's units and vectorise only without a branch or a possibly
// absent operand inside them (GCC would not load through a pointer that a test may have found
// null, nor check the aliasing of this many arrays). So optional operands become functors chosen
// before the loop, and loops carry `#pragma GCC ivdep`: their arrays are distinct rows.
// with_mask: mk(j) = mask[j], or 1 without a mask (x * 1 == x exactly).
template <class T, class F> void with_mask(const T* mask, F&& f) {
  if (mask) f([mask](i64 j) { return mask[j]; });
  else f([](i64) { return T(1); });
}

// with_input: xv(j) = xr[j] * scale, or 0 for a row without input (a one-hot id of -1).
template <class T, class F> void with_input(const T* xr, T scale, F&& f) {
  if (xr) f([xr, scale](i64 j) { return xr[j] * scale; });
  else f([](i64) { return T(0); });
}

// The LSTM tail of one row of n units (Eq. 9-10, 13): layer norm per gate on the pre-activations
// (when ln_gain is given), i = σ(y_i), g = tanh(y_g), f = σ(y_f + forget_bias), o = σ(y_o),
// c = f c_prev + i (mask ⊙ g), h = o tanh(LN(c)). Saves act = (i, g before the mask, f, o) and
// stats = (mean, rstd) of each gate's layer norm, then of c's. tmp: 4n.
template <class T>
void lstm_tail_forward(T* h, T* c, T* act, T* stats, T* tmp,
                       const T* pre, const T* c_prev, const T* mask,
                       const T* ln_gain, const T* ln_bias, const T* lnc_gain, const T* lnc_bias,
                       i64 n, T eps, T forget_bias) {
  const T* y = pre;
  if (ln_gain) {
    for (int g = 0; g < 4; ++g)
      layer_norm_row_forward<T>(tmp + g * n, stats + 2 * g, stats + 2 * g + 1, pre + g * n, ln_gain + g * n, ln_bias + g * n, n, eps);
    y = tmp;
  }
  with_mask(mask, [&](auto mk) {
    #pragma GCC ivdep
    for (i64 j = 0; j < n; ++j) {
      T i = fast_sigmoid(y[j]), g = fast_tanh(y[n + j]), f = fast_sigmoid(y[2 * n + j] + forget_bias), o = fast_sigmoid(y[3 * n + j]);
      act[j] = i;
      act[n + j] = g;
      act[2 * n + j] = f;
      act[3 * n + j] = o;
      c[j] = f * c_prev[j] + i * (g * mk(j));
    }
  });
  const T* hc = c;
  if (ln_gain) {
    layer_norm_row_forward<T>(tmp, stats + 8, stats + 9, c, lnc_gain, lnc_bias, n, eps);
    hc = tmp;
  }
  #pragma GCC ivdep
  for (i64 j = 0; j < n; ++j) h[j] = act[3 * n + j] * fast_tanh(hc[j]);
}

// Backward of lstm_tail_forward for one row. dc in: d(loss)/d(c), out: d(loss)/d(c_prev). dpre
// receives d(loss)/d(pre) (overwritten). Layer-norm parameter gradients are added. tmp: 7n.
template <class T>
void lstm_tail_backward(T* dpre, T* dc, T* dln_gain, T* dln_bias, T* dlnc_gain, T* dlnc_bias, T* tmp,
                        const T* dh, const T* pre, const T* c_prev, const T* c, const T* act, const T* stats, const T* mask,
                        const T* ln_gain, const T* lnc_gain, const T* lnc_bias, i64 n) {
  const bool ln = ln_gain != nullptr;
  T *hc = tmp, *dhc = tmp + n, *dy = ln ? tmp + 3 * n : dpre;
  if (ln) {  // LN(c), recomputed from the saved stats
    const T m = stats[8], r = stats[9];
    for (i64 j = 0; j < n; ++j) hc[j] = lnc_gain[j] * (c[j] - m) * r + lnc_bias[j];
  } else {
    std::memcpy(hc, c, static_cast<std::size_t>(n) * sizeof(T));
  }
  // h = o tanh(hc)
  #pragma GCC ivdep
  for (i64 j = 0; j < n; ++j) {
    const T th = fast_tanh(hc[j]), o = act[3 * n + j];
    dy[3 * n + j] = dh[j] * th * o * (1 - o);
    dhc[j] = dh[j] * o * (1 - th * th);
  }
  if (ln) {
    T* dcl = tmp + 2 * n;
    std::memset(dcl, 0, static_cast<std::size_t>(n) * sizeof(T));
    layer_norm_row_backward<T>(dcl, dlnc_gain, dlnc_bias, dhc, c, stats[8], stats[9], lnc_gain, n);
    for (i64 j = 0; j < n; ++j) dc[j] += dcl[j];
  } else {
    for (i64 j = 0; j < n; ++j) dc[j] += dhc[j];
  }
  // c = f c_prev + i (mask g)
  with_mask(mask, [&](auto mask_at) {
    #pragma GCC ivdep
    for (i64 j = 0; j < n; ++j) {
      const T i = act[j], g = act[n + j], f = act[2 * n + j], mk = mask_at(j);
      const T dct = dc[j];
      dy[j] = dct * g * mk * i * (1 - i);
      dy[n + j] = dct * i * mk * (1 - g * g);
      dy[2 * n + j] = dct * c_prev[j] * f * (1 - f);
      dc[j] = dct * f;
    }
  });
  if (ln) {
    std::memset(dpre, 0, static_cast<std::size_t>(4 * n) * sizeof(T));
    for (int g = 0; g < 4; ++g)
      layer_norm_row_backward<T>(dpre + g * n, dln_gain + g * n, dln_bias + g * n, dy + g * n, pre + g * n, stats[2 * g],
                                 stats[2 * g + 1], ln_gain + g * n, n);
  }
}

// Eq. 12 for one row, gate y and columns j0 .. j0+n (n <= kScaleBlock): sx = Σ_k z_x[y N_z + k]
// α_x[y N_z + k, j0..], sh likewise with z_h, α_h, and sb with z_b, β (when sb is given). The
// terms are added in k order from zero, in small accumulators: one pass over each α row, and the
// callers store or use each value once.
constexpr i64 kScaleBlock = 64;

template <class T>
void scaling_block(T* sx, T* sh, T* sb, const T* z, const T* alpha_x, const T* alpha_h, const T* beta, i64 Nz, i64 H, i64 y, i64 j0,
                   i64 n) {
  const i64 Z4 = 4 * Nz;
  std::fill(sx, sx + n, T(0));
  std::fill(sh, sh + n, T(0));
  if (sb) std::fill(sb, sb + n, T(0));
  for (i64 k = 0; k < Nz; ++k) {
    const i64 q = y * Nz + k;
    const T zx = z[q], zh = z[Z4 + q];
    const T *a1 = alpha_x + q * H + j0, *a2 = alpha_h + q * H + j0;
    for (i64 j = 0; j < n; ++j) {
      sx[j] += zx * a1[j];
      sh[j] += zh * a2[j];
    }
    if (sb) {
      const T zb = z[2 * Z4 + q], *a3 = beta + q * H + j0;
      for (i64 j = 0; j < n; ++j) sb[j] += zb * a3[j];
    }
  }
}

// One row's scaling vectors d_x, d_h [4H] (and b_z when asked) from its z.
template <class T>
void scaling_row(T* d_x, T* d_h, T* b_z, const T* z, const T* alpha_x, const T* alpha_h, const T* beta, i64 Nz, i64 H) {
  for (i64 y = 0; y < 4; ++y)
    for (i64 j0 = 0; j0 < H; j0 += kScaleBlock) {
      const i64 o = y * H + j0;
      scaling_block(d_x + o, d_h + o, b_z ? b_z + o : nullptr, z, alpha_x, alpha_h, beta, Nz, H, y, j0, std::min(kScaleBlock, H - j0));
    }
}

}  // namespace

template <class T>
void hyper_cell_forward(T* hh, T* hc, T* act, T* stats, T* pre, T* scratch,
                        const InputRows<T>& x, const T* hc_prev, const T* mask,
                        const T* b, const T* ln_gain, const T* ln_bias, const T* lnc_gain, const T* lnc_bias,
                        i64 B, i64 K, T eps, T forget_bias) {
  const i64 K4 = 4 * K;
  const T sc = x.scale;
  for_row_blocks(B, scratch, 4 * K, [&](i64 b0, i64 b1, T* tmp) {
    for (i64 r = b0; r < b1; ++r) {
      T* row = pre + r * K4;
      if (const T* xr = x.row(r))
        for (i64 j = 0; j < K4; ++j) row[j] += xr[j] * sc;
      if (b)
        for (i64 j = 0; j < K4; ++j) row[j] += b[j];
      lstm_tail_forward<T>(hh + r * K, hc + r * K, act + r * K4, stats + r * 10, tmp, row, hc_prev + r * K, mask ? mask + r * K : nullptr,
                           ln_gain, ln_bias, lnc_gain, lnc_bias, K, eps, forget_bias);
    }
  });
}

template <class T>
void hyper_embedding_forward(T* z, const T* hh, const T* zx_w, const T* zx_b, const T* zh_w, const T* zh_b, const T* zb_w, i64 B, i64 K,
                             i64 Nz) {
  const i64 Z = 12 * Nz, Z4 = 4 * Nz;
  gemm(false, false, B, Z4, K, T(1), hh, K, zx_w, Z4, T(0), z, Z);
  gemm(false, false, B, Z4, K, T(1), hh, K, zh_w, Z4, T(0), z + Z4, Z);
  gemm(false, false, B, Z4, K, T(1), hh, K, zb_w, Z4, T(0), z + 2 * Z4, Z);
  for (i64 r = 0; r < B; ++r) {
    T* zr = z + r * Z;
    for (i64 k = 0; k < Z4; ++k) {
      zr[k] += zx_b[k];
      zr[Z4 + k] += zh_b[k];
    }
  }
}

template <class T>
void main_cell_forward(T* h, T* c, T* act, T* stats, T* pre, T* scratch,
                       const InputRows<T>& x, const T* wh, const Scaling<T>& sv, const T* c_prev, const T* mask,
                       const T* b, const T* ln_gain, const T* ln_bias, const T* lnc_gain, const T* lnc_bias,
                       i64 B, i64 H, T eps, T forget_bias) {
  const i64 H4 = 4 * H;
  const T sc = x.scale;
  for_row_blocks(B, scratch, 4 * H, [&](i64 b0, i64 b1, T* tmp) {
    for (i64 r = b0; r < b1; ++r) {
      const T* whr = wh + r * H4;
      T* row = pre + r * H4;
      with_input(x.row(r), sc, [&](auto xv) {
        if (sv.z) {  // Eq. 12's d_x, d_h, b_z formed block by block, never stored
          const T* zr = sv.z + r * 12 * sv.Nz;
          for (i64 y = 0; y < 4; ++y)
            for (i64 j0 = 0; j0 < H; j0 += kScaleBlock) {
              const i64 n = std::min(kScaleBlock, H - j0), o = y * H + j0;
              T dx[kScaleBlock], dh[kScaleBlock], bz[kScaleBlock];
              scaling_block(dx, dh, bz, zr, sv.alpha_x, sv.alpha_h, sv.beta, sv.Nz, H, y, j0, n);
              #pragma GCC ivdep
              for (i64 j = 0; j < n; ++j) row[o + j] = (dx[j] * xv(o + j) + dh[j] * whr[o + j]) + bz[j] + b[o + j];
            }
        } else {
          #pragma GCC ivdep
          for (i64 j = 0; j < H4; ++j) row[j] = (xv(j) + whr[j]) + b[j];
        }
      });
      lstm_tail_forward<T>(h + r * H, c + r * H, act + r * H4, stats + r * 10, tmp, row, c_prev + r * H, mask ? mask + r * H : nullptr,
                           ln_gain, ln_bias, lnc_gain, lnc_bias, H, eps, forget_bias);
    }
  });
}

template <class T>
void main_cell_backward(BackwardChunk<T>& ck, T* dc, T* wh, T* xw, T* z,
                        const T* dout, const T* dh_next, const InputRows<T>& x, const T* c_prev, const T* c,
                        const T* act, const T* stats, const T* mask,
                        const T* b, const T* ln_gain, const T* lnc_gain, const T* lnc_bias, const T* alpha_x, const T* alpha_h, const T* beta,
                        i64 H, i64 Nz) {
  const i64 H4 = 4 * H, Z = 12 * Nz, Z4 = 4 * Nz;
  const T sc = x.scale;
  const RowGrads<T>& g = ck.grads;
  const bool ln = ln_gain != nullptr;
  T *dh = ck.dh, *dpre = ck.dpre, *zr = ck.z, *d_x = ck.d_x, *d_h = ck.d_h, *dd_x = ck.dd_x, *dd_h = ck.dd_h, *pre = ck.pre;
  for (i64 r = ck.b0; r < ck.b1; ++r) {
    const T* xr = x.row(r);
    T* whr = wh + r * H4;
    if (z) {  // d_x, d_h (and b_z) of the row, recomputed from z_t
      std::copy(z + r * Z, z + (r + 1) * Z, zr);
      scaling_row(d_x, d_h, ln ? ck.b_z : nullptr, zr, alpha_x, alpha_h, beta, Nz, H);
    }
    if (ln) with_input(xr, sc, [&](auto xv) {  // the pre-activations, as main_cell_forward formed them
      if (z) {
        #pragma GCC ivdep
        for (i64 j = 0; j < H4; ++j) pre[j] = (d_x[j] * xv(j) + d_h[j] * whr[j]) + ck.b_z[j] + b[j];
      } else {
        #pragma GCC ivdep
        for (i64 j = 0; j < H4; ++j) pre[j] = (xv(j) + whr[j]) + b[j];
      }
    });
    for (i64 j = 0; j < H; ++j) dh[j] = dout[r * H + j] + dh_next[r * H + j];
    lstm_tail_backward<T>(dpre, dc + r * H, g.ln_gain, g.ln_bias, g.lnc_gain, g.lnc_bias, ck.tail, dh, ln ? pre : nullptr,
                          c_prev + r * H, c + r * H, act + r * H4, stats + r * 10, mask ? mask + r * H : nullptr, ln_gain, lnc_gain,
                          lnc_bias, H);
    // d(loss)/d(x_t W_x): into the saved row (dense) or the gathered row of W_x (one-hot)
    T* dxw = xw ? xw + r * H4 : (xr && g.w_x ? g.w_x + i64(x.ids[r]) * H4 : nullptr);
    if (g.b) {
      #pragma GCC ivdep
      for (i64 j = 0; j < H4; ++j) g.b[j] += dpre[j];
    }
    // d(x_t W_x) = dpre (Eq. 9) or dpre ⊙ d_x (Eq. 12), into dxw: stored (dense) or added, times
    // the input scale (one-hot)
    const auto input_grad = [&](auto dx_in) {
      if (xw) {
        #pragma GCC ivdep
        for (i64 j = 0; j < H4; ++j) dxw[j] = dx_in(j);
      } else {
        #pragma GCC ivdep
        for (i64 j = 0; j < H4; ++j) dxw[j] += dx_in(j) * sc;
      }
    };
    if (!z) {  // pre = x W_x + h W_h + b
      if (dxw) input_grad([dpre](i64 j) { return dpre[j]; });
      std::copy(dpre, dpre + H4, whr);
      continue;
    }
    // pre = d_x ⊙ (x W_x) + d_h ⊙ (h W_h) + b_z + b. A dense row's x W_x is xw's row, read here
    // before input_grad overwrites it with its gradient.
    with_input(xr, sc, [&](auto xv) {
      #pragma GCC ivdep
      for (i64 j = 0; j < H4; ++j) {
        const T dp = dpre[j];
        dd_x[j] = dp * xv(j);
        dd_h[j] = dp * whr[j];
        whr[j] = dp * d_h[j];
      }
    });
    if (dxw) input_grad([dpre, d_x](i64 j) { return dpre[j] * d_x[j]; });
    // d_x^y = z_x^y W_xz^y etc.: d W_xz, d W_hz, d W_bz and dz, per gate block, rows q = y N_z + k
    T* dz = z + r * Z;
    for (i64 y = 0; y < 4; ++y)
      for (i64 k = 0; k < Nz; ++k) {
        const i64 q = y * Nz + k;
        const T zx = zr[q], zh = zr[Z4 + q], zb = zr[2 * Z4 + q];
        const T *a1 = alpha_x + q * H, *a2 = alpha_h + q * H, *a3 = beta + q * H;
        const T *e1 = dd_x + y * H, *e2 = dd_h + y * H, *e3 = dpre + y * H;
        const T s1 = lane_dot(e1, a1, H), s2 = lane_dot(e2, a2, H), s3 = lane_dot(e3, a3, H);
        if (g.alpha_x) for (i64 j = 0; j < H; ++j) g.alpha_x[q * H + j] += zx * e1[j];
        if (g.alpha_h) for (i64 j = 0; j < H; ++j) g.alpha_h[q * H + j] += zh * e2[j];
        if (g.beta) for (i64 j = 0; j < H; ++j) g.beta[q * H + j] += zb * e3[j];
        dz[q] = s1;
        dz[Z4 + q] = s2;
        dz[2 * Z4 + q] = s3;
        if (g.zx_b) g.zx_b[q] += s1;
        if (g.zh_b) g.zh_b[q] += s2;
      }
  }
}

template <class T>
void hyper_embedding_backward(T* dhh, const T* dz, const T* dhh_next, const T* zx_w, const T* zh_w, const T* zb_w, i64 B, i64 K,
                              i64 Nz) {
  const i64 Z = 12 * Nz, Z4 = 4 * Nz;
  std::copy(dhh_next, dhh_next + B * K, dhh);
  gemm(false, true, B, K, Z4, T(1), dz, Z, zx_w, Z4, T(1), dhh, K);
  gemm(false, true, B, K, Z4, T(1), dz + Z4, Z, zh_w, Z4, T(1), dhh, K);
  gemm(false, true, B, K, Z4, T(1), dz + 2 * Z4, Z, zb_w, Z4, T(1), dhh, K);
}

template <class T>
void hyper_cell_backward(BackwardChunk<T>& ck, T* dhc, T* pre,
                         const T* dhh, const std::int32_t* ids, T x_scale, const T* hc_prev, const T* hc, const T* act, const T* stats,
                         const T* mask, const T* ln_gain, const T* lnc_gain, const T* lnc_bias, i64 K) {
  const i64 K4 = 4 * K;
  const RowGrads<T>& g = ck.grads;
  T* dhp = ck.dhpre;
  for (i64 r = ck.b0; r < ck.b1; ++r) {
    lstm_tail_backward<T>(dhp, dhc + r * K, g.hyper_ln_gain, g.hyper_ln_bias, g.hyper_lnc_gain, g.hyper_lnc_bias, ck.tail, dhh + r * K,
                          pre + r * K4, hc_prev + r * K, hc + r * K, act + r * K4, stats + r * 10, mask ? mask + r * K : nullptr, ln_gain,
                          lnc_gain, lnc_bias, K);
    std::copy(dhp, dhp + K4, pre + r * K4);
    if (g.hyper_b)
      for (i64 j = 0; j < K4; ++j) g.hyper_b[j] += dhp[j];
    if (g.hyper_w_x && ids[r] >= 0) {
      T* dw = g.hyper_w_x + i64(ids[r]) * K4;
      for (i64 j = 0; j < K4; ++j) dw[j] += dhp[j] * x_scale;
    }
  }
}

template <class T>
void recurrent_weight_gradients(T* dw_h, T* dw_hin, T* dw_hh, T* dzx_w, T* dzh_w, T* dzb_w,
                                const T* h_prev, const T* hh_prev, const T* hh, const T* dwh, const T* dhpre, const T* dz,
                                i64 SB, i64 H, i64 K, i64 Nz) {
  const i64 H4 = 4 * H, K4 = 4 * K, Z = 12 * Nz, Z4 = 4 * Nz;
  if (dw_h) gemm_dense<T>(true, false, H, H4, SB, T(1), h_prev, dwh, T(1), dw_h);
  if (K == 0) return;
  if (dw_hin) gemm_dense<T>(true, false, H, K4, SB, T(1), h_prev, dhpre, T(1), dw_hin);
  if (dw_hh) gemm_dense<T>(true, false, K, K4, SB, T(1), hh_prev, dhpre, T(1), dw_hh);
  if (dzx_w) gemm(true, false, K, Z4, SB, T(1), hh, K, dz, Z, T(1), dzx_w, Z4);
  if (dzh_w) gemm(true, false, K, Z4, SB, T(1), hh, K, dz + Z4, Z, T(1), dzh_w, Z4);
  if (dzb_w) gemm(true, false, K, Z4, SB, T(1), hh, K, dz + 2 * Z4, Z, T(1), dzb_w, Z4);
}

template <class T>
void dense_input_gradients(T* dw_x, T* dhw_x, T* dx,
                           const T* x, const T* dxw, const T* dhpre, const T* w_x, const T* hw_x,
                           i64 SB, i64 X, i64 H, i64 K) {
  const i64 H4 = 4 * H, K4 = 4 * K;
  if (dw_x) gemm_dense<T>(true, false, X, H4, SB, T(1), x, dxw, T(1), dw_x);
  if (dhw_x) gemm_dense<T>(true, false, X, K4, SB, T(1), x, dhpre, T(1), dhw_x);
  if (dx) {
    gemm_dense<T>(false, true, SB, X, H4, T(1), dxw, w_x, T(1), dx);
    if (K > 0) gemm_dense<T>(false, true, SB, X, K4, T(1), dhpre, hw_x, T(1), dx);
  }
}

#define HT_FUSED_LSTM_KERNELS(T)                                                                                                      \
  template void hyper_cell_forward<T>(T*, T*, T*, T*, T*, T*, const InputRows<T>&, const T*, const T*, const T*, const T*, const T*,     \
                                      const T*, const T*, i64, i64, T, T);                                                             \
  template void hyper_embedding_forward<T>(T*, const T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64);            \
  template void main_cell_forward<T>(T*, T*, T*, T*, T*, T*, const InputRows<T>&, const T*, const Scaling<T>&, const T*, const T*,      \
                                     const T*, const T*, const T*, const T*, const T*, i64, i64, T, T);                                 \
  template void main_cell_backward<T>(BackwardChunk<T>&, T*, T*, T*, T*, const T*, const T*, const InputRows<T>&, const T*, const T*,   \
                                      const T*, const T*, const T*, const T*, const T*, const T*, const T*, const T*, const T*,         \
                                      const T*, i64, i64);                                                                             \
  template void hyper_embedding_backward<T>(T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64);                       \
  template void hyper_cell_backward<T>(BackwardChunk<T>&, T*, T*, const T*, const std::int32_t*, T, const T*, const T*, const T*,     \
                                       const T*, const T*, const T*, const T*, const T*, i64);                                         \
  template void recurrent_weight_gradients<T>(T*, T*, T*, T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*, i64,  \
                                              i64, i64, i64);                                                                          \
  template void dense_input_gradients<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, i64, i64, i64, i64);
HT_FUSED_LSTM_KERNELS(float)
HT_FUSED_LSTM_KERNELS(double)
#undef HT_FUSED_LSTM_KERNELS

}  // namespace ht
