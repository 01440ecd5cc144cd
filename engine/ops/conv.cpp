#include "engine/ops/conv.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include <tbb/task_arena.h>

#include "engine/blas.h"
#include "engine/conv_kernels.h"
#include "engine/parallel.h"

namespace ht {

namespace {

std::atomic<ConvPath> g_conv_path{ConvPath::Auto};

struct ConvGeom {
  i64 N, C, H, W, O, kh, kw, Ho, Wo, stride, pad_top, pad_left;
  i64 K() const { return C * kh * kw; }  // rows of the column matrix
  i64 HW() const { return H * W; }
  i64 HoWo() const { return Ho * Wo; }
};

// One spatial axis: output extent and leading pad.
void conv_axis(Padding pad, i64 in, i64 k, i64 s, i64& out, i64& lead) {
  if (pad == Padding::Valid) {
    out = (in - k) / s + 1;
    lead = 0;
  } else {
    out = (in + s - 1) / s;
    lead = std::max<i64>((out - 1) * s + k - in, 0) / 2;
  }
}

ConvGeom conv_geometry(const Shape& xs, const Shape& ws, int stride, Padding pad) {
  const char* op = "conv2d";
  if (xs.nd != 4) shape_error(op, "x must be [N, C, H, W], got " + xs.str());
  if (ws.nd != 4) shape_error(op, "w must be [O, C, kh, kw], got " + ws.str());
  if (xs[1] != ws[1])
    shape_error(op, "channels differ: x " + xs.str() + " has C=" + std::to_string(xs[1]) + ", w " + ws.str() +
                        " expects C=" + std::to_string(ws[1]));
  if (stride < 1) shape_error(op, "stride must be >= 1, got " + std::to_string(stride));
  if (xs[2] < 1 || xs[3] < 1 || ws[0] < 1 || ws[2] < 1 || ws[3] < 1 || xs[1] < 1)
    shape_error(op, "empty spatial, channel or kernel extent: x " + xs.str() + ", w " + ws.str());
  if (pad == Padding::Valid && (xs[2] < ws[2] || xs[3] < ws[3]))
    shape_error(op, "VALID padding needs the input at least as large as the kernel: x " + xs.str() + ", w " + ws.str());
  ConvGeom g{xs[0], xs[1], xs[2], xs[3], ws[0], ws[2], ws[3], 0, 0, stride, 0, 0};
  conv_axis(pad, g.H, g.kh, stride, g.Ho, g.pad_top);
  conv_axis(pad, g.W, g.kw, stride, g.Wo, g.pad_left);
  return g;
}

// Output columns ox whose input column ix = ox*s - pad + j lies inside [0, W): [lo, hi).
void valid_range(i64 pad, i64 j, i64 s, i64 W, i64 Wo, i64& lo, i64& hi) {
  i64 first = pad - j;                                   // smallest ox*s allowed
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  i64 last = W - 1 + pad - j;                            // largest ox*s allowed
  hi = last < 0 ? 0 : std::min<i64>(Wo, last / s + 1);
  lo = std::min(lo, hi);
}

// col [K, nimg*Ho*Wo] from x [nimg, C, H, W]: row r = (c*kh + i)*kw + j, column n*Ho*Wo + oy*Wo + ox
// holds x[n, c, oy*s - pad_top + i, ox*s - pad_left + j], 0 outside. The valid span of each
// output row is computed once per (r), so the inner loops are plain copies.
template <class T> void im2col_serial(T* col, const T* x, i64 nimg, const ConvGeom& g) {
  i64 P = nimg * g.HoWo(), s = g.stride;
  for (i64 r = 0; r < g.K(); ++r) {
    i64 j = r % g.kw, i = (r / g.kw) % g.kh, c = r / (g.kw * g.kh);
    i64 lo, hi;
    valid_range(g.pad_left, j, s, g.W, g.Wo, lo, hi);
    i64 x0 = lo * s - g.pad_left + j;
    for (i64 n = 0; n < nimg; ++n) {
      const T* src = x + (n * g.C + c) * g.HW();
      T* dst = col + r * P + n * g.HoWo();
      for (i64 oy = 0; oy < g.Ho; ++oy, dst += g.Wo) {
        i64 iy = oy * s - g.pad_top + i;
        if (iy < 0 || iy >= g.H || lo >= hi) { std::fill(dst, dst + g.Wo, T(0)); continue; }
        const T* row = src + iy * g.W + x0;
        std::fill(dst, dst + lo, T(0));
        if (s == 1) std::memcpy(dst + lo, row, sizeof(T) * std::size_t(hi - lo));
        else
          for (i64 ox = lo; ox < hi; ++ox) dst[ox] = row[(ox - lo) * s];
        std::fill(dst + hi, dst + g.Wo, T(0));
      }
    }
  }
}

// dx [nimg, C, H, W] += im2col^T(dcol): the adjoint of im2col, each plane summed in a fixed order.
template <class T> void col2im_add_serial(T* dx, const T* dcol, i64 nimg, const ConvGeom& g) {
  i64 P = nimg * g.HoWo(), s = g.stride;
  for (i64 p = 0; p < nimg * g.C; ++p) {
    i64 n = p / g.C, c = p % g.C;
    T* plane = dx + p * g.HW();
    for (i64 i = 0; i < g.kh; ++i)
      for (i64 j = 0; j < g.kw; ++j) {
        i64 lo, hi;
        valid_range(g.pad_left, j, s, g.W, g.Wo, lo, hi);
        if (lo >= hi) continue;
        i64 x0 = lo * s - g.pad_left + j;
        const T* src = dcol + ((c * g.kh + i) * g.kw + j) * P + n * g.HoWo();
        for (i64 oy = 0; oy < g.Ho; ++oy, src += g.Wo) {
          i64 iy = oy * s - g.pad_top + i;
          if (iy < 0 || iy >= g.H) continue;
          T* row = plane + iy * g.W + x0;
          if (s == 1)
            for (i64 k = 0; k < hi - lo; ++k) row[k] += src[lo + k];
          else
            for (i64 ox = lo; ox < hi; ++ox) row[(ox - lo) * s] += src[ox];
        }
      }
  }
}

// y [nimg, O, HoWo] <- cols [O, nimg*HoWo] (to_nchw) or the reverse.
template <class T> void reorder_cols_serial(T* nchw, T* cols, i64 nimg, i64 O, i64 HoWo, bool to_nchw) {
  {
    for (i64 p = 0; p < nimg * O; ++p) {
      i64 n = p / O, o = p % O;
      T* a = nchw + p * HoWo;
      T* b = cols + (o * nimg + n) * HoWo;
      if (to_nchw) std::memcpy(a, b, sizeof(T) * HoWo);
      else std::memcpy(b, a, sizeof(T) * HoWo);
    }
  }
}

// Images per chunk so that the column buffer stays within `budget` bytes.
i64 images_per_chunk(const ConvGeom& g, DType dt, std::size_t budget) {
  std::size_t per_image = std::size_t(g.K() * g.HoWo()) * dtype_size(dt);
  i64 n = per_image ? i64(budget / per_image) : g.N;
  return std::clamp<i64>(n, 1, std::max<i64>(g.N, 1));
}

// One buffer of `per_slot` elements for each worker slot of the current oneTBB arena
// (max_concurrency() of them), taken from the tape's arena before a parallel loop (the arena is not
// thread-safe); inside the loop a worker uses the buffer of its current_thread_index(). A slot runs
// one chunk at a time, so chunks in flight never share a buffer, and the memory is bounded by one
// chunk's buffer per worker.
template <class T> class WorkerBuffers {
 public:
  WorkerBuffers() = default;
  WorkerBuffers(Tape& t, i64 per_slot)
      : per_slot_(per_slot), slots_(std::max(1, tbb::this_task_arena::max_concurrency())) {
    base_ = t.alloc({i64(slots_) * per_slot_}, dtype_of<T>()).template data<T>();
  }
  T* local() const {
    int i = tbb::this_task_arena::current_thread_index();
    if (i == tbb::task_arena::not_initialized) i = 0;  // outside any arena: the loop ran inline on the caller
    if (i < 0 || i >= slots_)
      throw std::logic_error("conv2d: worker slot " + std::to_string(i) + " outside the " + std::to_string(slots_) +
                             " column buffers allocated before the loop");
    return base_ + i64(i) * per_slot_;
  }

 private:
  T* base_ = nullptr;
  i64 per_slot_ = 0;
  int slots_ = 0;
};

// The direct path (engine/conv_kernels.h): float, stride 1. Scratch comes from the tape's arena,
// sized for every worker slot of the current oneTBB arena.
Var conv2d_direct(Tape& t, const Var& x, const Var& w, const ConvGeom& g0) {
  const ConvShape g{g0.N, g0.C, g0.H, g0.W, g0.O, g0.kh, g0.kw, g0.Ho, g0.Wo, g0.pad_top, g0.pad_left};
  const int workers = std::max(1, tbb::this_task_arena::max_concurrency());
  Tensor X = x.value(), Wt = w.value();
  Tensor Y = t.alloc({g.N, g.O, g.Ho, g.Wo}, DType::F32);
  float* scratch = t.alloc({i64(conv_direct_scratch_floats(g, workers))}, DType::F32).data<float>();
  conv_direct_forward(Y.data<float>(), X.data<float>(), Wt.data<float>(), g, 0.0f, scratch, workers);
  Tape* tape = &t;
  return t.record("conv2d", Y, {x, w}, [x, w, g, X, Wt, workers, tape](const Tensor& dY) {
    if (w.needs_grad()) {
      bool assign = false;
      float* dw = w.grad_for_write(&assign).data<float>();
      float* scratch = tape->alloc({i64(conv_direct_scratch_floats(g, workers))}, DType::F32).data<float>();
      conv_direct_weight_grad(dw, X.data<float>(), dY.data<float>(), g, assign ? 0.0f : 1.0f, scratch, workers);
    }
    if (x.needs_grad()) {
      // dx = conv(dy, w flipped and transposed), the stride-1 input gradient.
      const ConvShape b = conv_input_grad_shape(g);
      float* wt = tape->alloc({g.C * g.O * g.kh * g.kw}, DType::F32).data<float>();
      conv_flip_kernel(wt, Wt.data<float>(), g.O, g.C, g.kh, g.kw);
      float* scratch = tape->alloc({i64(conv_direct_scratch_floats(b, workers))}, DType::F32).data<float>();
      bool assign = false;
      float* dx = x.grad_for_write(&assign).data<float>();
      conv_direct_forward(dx, dY.data<float>(), wt, b, assign ? 0.0f : 1.0f, scratch, workers);
    }
  });
}

}  // namespace

void set_conv_path(ConvPath p) { g_conv_path = p; }
ConvPath conv_path() { return g_conv_path; }

// The batch is cut into chunks of whole images (the cut depends only on the shapes and
// `chunk_bytes`, never on the thread count); oneTBB runs the chunks in parallel, each in its
// worker's column buffers (WorkerBuffers, from the tape's arena) with a single-threaded GEMM
// (BlasOnCaller), so only one thread pool is ever active and every chunk's im2col stays in its
// worker's cache. The backward reuses the forward's buffers and adds one for the input gradient's
// columns. The weight gradient is summed from per-chunk partials in chunk order, so results do not
// depend on the number of threads.
Var conv2d(Tape& t, const Var& x, const Var& w, int stride, Padding pad, std::size_t chunk_bytes) {
  check_same_dtype("conv2d", x, w);
  Tensor X = x.value(), Wt = w.value();
  ConvGeom g = conv_geometry(X.shape(), Wt.shape(), stride, pad);
  DType dt = X.dtype();
  if (dt == DType::F32 && stride == 1 && conv_path() == ConvPath::Auto) return conv2d_direct(t, x, w, g);
  Tensor Y = t.alloc({g.N, g.O, g.Ho, g.Wo}, dt);
  i64 chunk = images_per_chunk(g, dt, chunk_bytes);
  i64 nchunks = g.N == 0 ? 0 : (g.N + chunk - 1) / chunk;
  // Per worker: the chunk's columns [K, chunk*HoWo] and, for chunks of several images, its output
  // in column order [O, chunk*HoWo]; the backward reads its output gradient through the latter.
  Tape* tape = &t;
  return dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    const i64 K = g.K(), HoWo = g.HoWo(), O = g.O;
    WorkerBuffers<T> cols(t, K * chunk * HoWo), ycols(t, chunk > 1 ? O * chunk * HoWo : 0);
    const T* wv = Wt.data<T>();
    {
      BlasOnCaller one_pool;
      parallel_for(nchunks, 1, [&](i64 c0, i64 c1) {
        T* col = cols.local();
        for (i64 c = c0; c < c1; ++c) {
          i64 n0 = c * chunk, nb = std::min(chunk, g.N - n0);
          im2col_serial<T>(col, X.data<T>() + n0 * g.C * g.HW(), nb, g);
          T* y = Y.data<T>() + n0 * O * HoWo;
          // y_cols [O, nb*HoWo] = W [O, K] @ col [K, nb*HoWo]; for one image that is already NCHW.
          if (nb == 1) {
            gemm_dense<T>(false, false, O, HoWo, K, T(1), wv, col, T(0), y);
          } else {
            T* yc = ycols.local();
            gemm_dense<T>(false, false, O, nb * HoWo, K, T(1), wv, col, T(0), yc);
            reorder_cols_serial<T>(y, yc, nb, O, HoWo, true);
          }
        }
      });
    }
    return t.record("conv2d", Y, {x, w}, [x, w, g, chunk, nchunks, X, Wt, cols, ycols, tape](const Tensor& dY) {
      const i64 K = g.K(), HoWo = g.HoWo(), O = g.O;
      bool need_x = x.needs_grad(), need_w = w.needs_grad();
      T* dx = need_x ? x.grad().template data<T>() : nullptr;
      // Per-chunk weight-gradient partials [nchunks, O, K] and, per worker, the input gradient's
      // columns [K, chunk*HoWo].
      T* dw_parts = need_w ? tape->alloc({nchunks * O * K}, dtype_of<T>()).template data<T>() : nullptr;
      WorkerBuffers<T> dcols = need_x ? WorkerBuffers<T>(*tape, K * chunk * HoWo) : WorkerBuffers<T>();
      const T* wv = Wt.data<T>();
      {
        BlasOnCaller one_pool;
        parallel_for(nchunks, 1, [&](i64 c0, i64 c1) {
          for (i64 c = c0; c < c1; ++c) {
            i64 n0 = c * chunk, nb = std::min(chunk, g.N - n0);
            T* dy = dY.data<T>() + n0 * O * HoWo;
            const T* dyc = dy;
            if (nb > 1) {
              T* buf = ycols.local();
              reorder_cols_serial<T>(dy, buf, nb, O, HoWo, false);
              dyc = buf;
            }
            if (need_w) {
              T* col = cols.local();
              im2col_serial<T>(col, X.data<T>() + n0 * g.C * g.HW(), nb, g);
              // dW_c [O,K] = dY_cols col^T
              gemm_dense<T>(false, true, O, K, nb * HoWo, T(1), dyc, col, T(0), dw_parts + c * O * K);
            }
            if (need_x) {
              T* dcol = dcols.local();
              gemm_dense<T>(true, false, K, nb * HoWo, O, T(1), wv, dyc, T(0), dcol);  // dcol [K,P] = W^T dY_cols
              col2im_add_serial<T>(dx + n0 * g.C * g.HW(), dcol, nb, g);
            }
          }
        });
      }
      if (need_w) {
        T* dw = w.grad().template data<T>();
        for (i64 c = 0; c < nchunks; ++c) {
          const T* part = dw_parts + c * O * K;
          for (i64 i = 0; i < O * K; ++i) dw[i] += part[i];
        }
      }
    });
  });
}

Var max_pool2x2(Tape& t, const Var& x) {
  const Shape& s = x.shape();
  if (s.nd != 4) shape_error("max_pool2x2", "x must be [N, C, H, W], got " + s.str());
  if (s[2] < 2 || s[3] < 2) shape_error("max_pool2x2", "x " + s.str() + " is smaller than the 2x2 window");
  if (s[2] * s[3] > std::numeric_limits<std::int32_t>::max())
    shape_error("max_pool2x2", "plane of x " + s.str() + " too large for int32 indices");
  i64 planes = s[0] * s[1], H = s[2], W = s[3], Ho = H / 2, Wo = W / 2;
  Tensor X = x.value();
  Tensor Y = t.alloc({s[0], s[1], Ho, Wo}, X.dtype());
  // Saved: argmax [N, C, Ho, Wo], the index y*W + x of the max within its input plane.
  Tensor arg = t.alloc(Y.shape(), DType::I32);
  dispatch_float(X.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* xv = X.data<T>();
    T* yv = Y.data<T>();
    std::int32_t* av = arg.data<std::int32_t>();
    parallel_for(planes, std::max<i64>(1, kElementGrain / (H * W)), [&](i64 p0, i64 p1) {
      for (i64 p = p0; p < p1; ++p) {
        const T* xp = xv + p * H * W;
        for (i64 oy = 0; oy < Ho; ++oy)
          for (i64 ox = 0; ox < Wo; ++ox) {
            i64 best = 2 * oy * W + 2 * ox;
            const i64 cand[3] = {best + 1, best + W, best + W + 1};
            for (i64 k : cand)
              if (xp[k] > xp[best]) best = k;
            i64 o = (p * Ho + oy) * Wo + ox;
            yv[o] = xp[best];
            av[o] = std::int32_t(best);
          }
      }
    });
  });
  return t.record("max_pool2x2", Y, {x}, [x, arg, planes, H, W, Ho, Wo](const Tensor& dY) {
    dispatch_float(dY.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (!x.needs_grad()) return;
      const T* g = dY.data<T>();
      const std::int32_t* av = arg.data<std::int32_t>();
      T* dx = x.grad().template data<T>();
      // dx[plane, argmax] += dy; windows do not overlap, one task per plane.
      parallel_for(planes, std::max<i64>(1, kElementGrain / (Ho * Wo + 1)), [&](i64 p0, i64 p1) {
        for (i64 p = p0; p < p1; ++p)
          for (i64 o = p * Ho * Wo; o < (p + 1) * Ho * Wo; ++o) dx[p * H * W + av[o]] += g[o];
      });
    });
  });
}

}  // namespace ht
