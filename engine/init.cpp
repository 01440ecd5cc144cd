#include "engine/init.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace ht {

std::string Init::str() const {
  std::ostringstream s;
  switch (kind) {
    case Zeros: s << "zeros"; break;
    case Constant: s << "constant(" << a << ")"; break;
    case Normal: s << "normal(mean=" << a << ", std=" << b << ")"; break;
    case TruncatedNormal: s << "truncated_normal(mean=" << a << ", std=" << b << ")"; break;
    case Uniform: s << "uniform(" << a << ", " << b << ")"; break;
    case GlorotUniform: s << "glorot_uniform"; break;
    case Orthogonal:
      s << "orthogonal(gain=" << a;
      if (b > 1) s << ", blocks=" << b;
      s << ")";
      break;
  }
  return s.str();
}

namespace {

// Orthogonal rows or columns by modified Gram-Schmidt on a Gaussian matrix (in double).
std::vector<double> orthogonal_matrix(i64 rows, i64 cols, Rng& rng) {
  bool tall = rows >= cols;  // orthonormalise the shorter side's vectors
  i64 nv = tall ? cols : rows, len = tall ? rows : cols;
  std::vector<double> q(static_cast<std::size_t>(nv * len));
  for (auto& v : q) v = rng.normal();
  for (i64 i = 0; i < nv; ++i) {
    double* qi = &q[std::size_t(i * len)];
    for (int pass = 0; pass < 2; ++pass)
      for (i64 j = 0; j < i; ++j) {
        const double* qj = &q[std::size_t(j * len)];
        double dot = 0;
        for (i64 k = 0; k < len; ++k) dot += qi[k] * qj[k];
        for (i64 k = 0; k < len; ++k) qi[k] -= dot * qj[k];
      }
    double norm = 0;
    for (i64 k = 0; k < len; ++k) norm += qi[k] * qi[k];
    norm = std::sqrt(norm);
    for (i64 k = 0; k < len; ++k) qi[k] /= norm;
  }
  std::vector<double> out(static_cast<std::size_t>(rows * cols));
  for (i64 r = 0; r < rows; ++r)
    for (i64 c = 0; c < cols; ++c) out[std::size_t(r * cols + c)] = tall ? q[std::size_t(c * len + r)] : q[std::size_t(r * len + c)];
  return out;
}

}  // namespace

void apply_init(const Init& init, Tensor& t, Rng& rng) {
  i64 n = t.numel();
  std::vector<double> v(static_cast<std::size_t>(n));
  const Shape& s = t.shape();
  switch (init.kind) {
    case Init::Zeros: break;
    case Init::Constant: for (auto& x : v) x = init.a; break;
    case Init::Normal: for (auto& x : v) x = init.a + init.b * rng.normal(); break;
    case Init::TruncatedNormal:
      for (auto& x : v) {
        double z;
        do z = rng.normal(); while (std::fabs(z) > 2.0);
        x = init.a + init.b * z;
      }
      break;
    case Init::Uniform: for (auto& x : v) x = rng.uniform(init.a, init.b); break;
    case Init::GlorotUniform: {
      i64 fan_in = s.nd >= 2 ? s[s.nd - 2] : s.back(), fan_out = s.back();
      double lim = std::sqrt(6.0 / double(fan_in + fan_out));
      for (auto& x : v) x = rng.uniform(-lim, lim);
      break;
    }
    case Init::Orthogonal: {
      i64 cols = s.back(), rows = n / (cols ? cols : 1), blocks = std::max<i64>(1, i64(init.b));
      if (cols % blocks) throw std::invalid_argument("block_orthogonal: " + std::to_string(cols) + " columns do not split into " +
                                                     std::to_string(blocks) + " blocks");
      i64 bc = cols / blocks;
      for (i64 k = 0; k < blocks; ++k) {
        std::vector<double> q = orthogonal_matrix(rows, bc, rng);
        for (i64 r = 0; r < rows; ++r)
          for (i64 c = 0; c < bc; ++c) v[std::size_t(r * cols + k * bc + c)] = init.a * q[std::size_t(r * bc + c)];
      }
      break;
    }
  }
  for (i64 i = 0; i < n; ++i) {
    if (t.dtype() == DType::F32) t.data<float>()[i] = float(v[std::size_t(i)]);
    else t.data<double>()[i] = v[std::size_t(i)];
  }
}

}  // namespace ht
