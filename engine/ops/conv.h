// 2-D convolution and 2x2 max pooling, NCHW layout. Two paths compute conv2d: the reference, im2col
// + GEMM over chunks of images (any dtype, any stride), and the direct kernels of
// engine/conv_kernels.h (float, stride 1), chosen by default where they apply; tests hold the
// second to the first.
#pragma once
#include <cstddef>

#include "engine/tape.h"

namespace ht {

enum class Padding { Same, Valid };

// Column buffer budget per batch chunk in conv2d (at least one image per chunk).
constexpr std::size_t kConvChunkBytes = std::size_t(4) << 20;

// y[n,o,oy,ox] = sum_{c,i,j} w[o,c,i,j] * x[n,c, oy*stride - pad_top + i, ox*stride - pad_left + j]
// (zero outside x). x [N,C,H,W], w [O,C,kh,kw], y [N,O,Ho,Wo].
//   Valid: Ho = (H - kh)/stride + 1, no padding (H >= kh required).
//   Same (TensorFlow): Ho = ceil(H/stride), total pad = max((Ho-1)*stride + kh - H, 0),
//         pad_top = total/2, the odd one at the bottom. Likewise for W.
// The batch is processed in chunks whose column buffer [C*kh*kw, nimg*Ho*Wo] fits in
// `chunk_bytes` (tests lower it to exercise several chunks).
Var conv2d(Tape& t, const Var& x, const Var& w, int stride, Padding pad, std::size_t chunk_bytes = kConvChunkBytes);

// Which path conv2d takes: Auto (direct kernels for float stride-1 convolutions, the reference
// otherwise) or Reference everywhere (tests and benchmarks compare the two). Process-wide.
enum class ConvPath { Auto, Reference };
void set_conv_path(ConvPath p);
ConvPath conv_path();
// Sets the path for its lifetime.
class ConvPathScope {
 public:
  explicit ConvPathScope(ConvPath p) : prev_(conv_path()) { set_conv_path(p); }
  ~ConvPathScope() { set_conv_path(prev_); }
  ConvPathScope(const ConvPathScope&) = delete;
  ConvPathScope& operator=(const ConvPathScope&) = delete;

 private:
  ConvPath prev_;
};

// y[n,c,oy,ox] = max over x[n,c, 2oy..2oy+1, 2ox..2ox+1]. x [N,C,H,W], y [N,C,H/2,W/2] (floor:
// an odd last row/column is dropped). Ties go to the first element in row-major window order.
Var max_pool2x2(Tape& t, const Var& x);

}  // namespace ht
