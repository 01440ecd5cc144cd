// Direct stride-1 convolution kernels (float), without a column matrix: the kernel is packed once
// per call into panels of 16 output channels ([panel][k][16], k = (c*kh + i)*kw + j), each image
// is copied once into a zero-padded plane, and a register tile of MR output pixels x 16 output
// channels accumulates over k, its input values read straight from the padded image (the MR
// pixels of a tile are neighbours in one output row, so tap (c, i, j) reads MR consecutive
// floats). The tile is written pixel-major and transposed into NCHW per image.
//
//   forward   y[n, o, oy, ox] (+)= sum_{c,i,j} w[o, c, i, j] * x[n, c, oy - pad_top + i, ox - pad_left + j]
//   dx        the same with the kernel flipped and transposed (conv_flip_kernel) and pads
//             kh-1-pad_top, kw-1-pad_left: the input gradient of a stride-1 convolution
//   dw        dw[o, c, i, j] (+)= sum_{n,oy,ox} dy[n, o, oy, ox] * x[n, c, oy - pad_top + i, ox - pad_left + j]
//
// x is zero outside [0, H) x [0, W). Images are split across oneTBB's workers; dw sums per-chunk
// partials in chunk order, so results do not depend on the thread count.
#pragma once
#include <cstddef>

#include "engine/tensor.h"

namespace ht {

struct ConvShape {
  i64 N, C, H, W;        // x [N, C, H, W]
  i64 O, kh, kw;         // w [O, C, kh, kw]
  i64 Ho, Wo;            // y [N, O, Ho, Wo]
  i64 pad_top, pad_left;  // >= 0
  i64 K() const { return C * kh * kw; }
};

// Scratch every call below needs, in floats (64-byte aligned): packed kernel, padded images and
// output tiles for `workers` threads, dw partials for its chunks.
std::size_t conv_direct_scratch_floats(const ConvShape& g, int workers);

// y = conv(x, w) (beta 0) or y += conv(x, w) (beta 1).
void conv_direct_forward(float* y, const float* x, const float* w, const ConvShape& g, float beta, float* scratch, int workers);

// dw = (beta 0) or += (beta 1) the weight gradient from x and dy [N, O, Ho, Wo].
void conv_direct_weight_grad(float* dw, const float* x, const float* dy, const ConvShape& g, float beta, float* scratch, int workers);

// wt[c, o, kh-1-i, kw-1-j] = w[o, c, i, j]: the kernel of the input gradient.
void conv_flip_kernel(float* wt, const float* w, i64 O, i64 C, i64 kh, i64 kw);

// The shape of the input gradient as a forward convolution of dy (stride 1).
ConvShape conv_input_grad_shape(const ConvShape& g);

}  // namespace ht
