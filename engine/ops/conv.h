// 2-D convolution (im2col + GEMM) and 2x2 max pooling, NCHW layout.
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

// y[n,c,oy,ox] = max over x[n,c, 2oy..2oy+1, 2ox..2ox+1]. x [N,C,H,W], y [N,C,H/2,W/2] (floor:
// an odd last row/column is dropped). Ties go to the first element in row-major window order.
Var max_pool2x2(Tape& t, const Var& x);

}  // namespace ht
