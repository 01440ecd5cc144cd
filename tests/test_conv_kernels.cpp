// The direct convolution kernels against plain loops in double: odd shapes, pads of every kind
// (none, SAME, "full"), rows that end in a short tile, output channels that do not fill a panel,
// beta 0 and 1; the flipped kernel giving the input gradient as a convolution of the output
// gradient; and the weight gradient.
#include <doctest/doctest.h>

#include <tbb/task_arena.h>

#include <vector>

#include "engine/conv_kernels.h"
#include "engine/rng.h"
#include "engine/tensor.h"

using namespace ht;

namespace {

// y[n,o,oy,ox] = sum w[o,c,i,j] x[n,c,oy-pt+i,ox-pl+j], in double.
std::vector<double> direct(const std::vector<float>& x, const std::vector<float>& w, const ConvShape& g) {
  std::vector<double> y(std::size_t(g.N * g.O * g.Ho * g.Wo), 0.0);
  for (i64 n = 0; n < g.N; ++n)
    for (i64 o = 0; o < g.O; ++o)
      for (i64 oy = 0; oy < g.Ho; ++oy)
        for (i64 ox = 0; ox < g.Wo; ++ox) {
          double s = 0;
          for (i64 c = 0; c < g.C; ++c)
            for (i64 i = 0; i < g.kh; ++i)
              for (i64 j = 0; j < g.kw; ++j) {
                const i64 iy = oy - g.pad_top + i, ix = ox - g.pad_left + j;
                if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                s += double(w[std::size_t(((o * g.C + c) * g.kh + i) * g.kw + j)]) *
                     x[std::size_t(((n * g.C + c) * g.H + iy) * g.W + ix)];
              }
          y[std::size_t(((n * g.O + o) * g.Ho + oy) * g.Wo + ox)] = s;
        }
  return y;
}

std::vector<float> random_floats(std::size_t n, Rng& r) {
  std::vector<float> v(n);
  for (auto& e : v) e = float(r.uniform(-1, 1));
  return v;
}

float* aligned(std::vector<float>& v) {  // 64-byte aligned start inside an over-allocated vector
  auto p = reinterpret_cast<std::uintptr_t>(v.data());
  return v.data() + ((64 - p % 64) % 64) / sizeof(float);
}

}  // namespace

TEST_CASE("conv_direct_forward equals the direct loop on odd shapes and pads, beta 0 and 1") {
  const int workers = tbb::this_task_arena::max_concurrency();
  const ConvShape shapes[] = {
      {2, 3, 7, 5, 4, 3, 3, 7, 5, 1, 1},      // SAME 3x3, panels straddle rows (Wo = 5)
      {1, 1, 28, 28, 16, 7, 7, 28, 28, 3, 3},  // MNIST conv1
      {3, 16, 14, 14, 16, 7, 7, 14, 14, 3, 3},  // MNIST conv2, last panel short (196 = 12*16 + 4)
      {2, 5, 6, 9, 7, 3, 3, 4, 7, 0, 0},      // VALID
      {1, 4, 4, 3, 3, 3, 3, 6, 5, 2, 2},      // "full" (the input gradient of a VALID conv)
      {2, 6, 5, 5, 17, 1, 1, 5, 5, 0, 0},     // 1x1, O not a multiple of the register tile
      {1, 2, 3, 4, 5, 2, 2, 3, 4, 0, 0},      // even kernel, SAME-like with the odd pad at the end
  };
  Rng r(11);
  for (const auto& g : shapes) {
    auto x = random_floats(std::size_t(g.N * g.C * g.H * g.W), r), w = random_floats(std::size_t(g.O * g.K()), r);
    std::vector<double> want = direct(x, w, g);
    std::vector<float> scratch(conv_direct_scratch_floats(g, workers) + 16);
    for (float beta : {0.0f, 1.0f}) {
      std::vector<float> y = random_floats(want.size(), r), y0 = y;
      conv_direct_forward(y.data(), x.data(), w.data(), g, beta, aligned(scratch), workers);
      double worst = 0;
      for (std::size_t k = 0; k < y.size(); ++k) worst = std::max(worst, std::abs(double(y[k]) - (want[k] + (beta ? y0[k] : 0.0))));
      CHECK_MESSAGE(worst < 1e-4, "N" << g.N << " C" << g.C << " " << g.H << "x" << g.W << " O" << g.O << " k" << g.kh << "x" << g.kw
                                      << " pads " << g.pad_top << "," << g.pad_left << " beta " << beta << ": max error " << worst);
    }
  }
}

TEST_CASE("the flipped kernel turns the input gradient into a convolution of the output gradient") {
  // For y = conv(x, w) with SAME pads, <y, dy> = <x, conv(dy, flip(w), pads kh-1-pt)> for any dy.
  const int workers = tbb::this_task_arena::max_concurrency();
  const ConvShape g{2, 3, 6, 7, 4, 3, 5, 6, 7, 1, 2};
  Rng r(5);
  auto x = random_floats(std::size_t(g.N * g.C * g.H * g.W), r), w = random_floats(std::size_t(g.O * g.K()), r);
  auto dy = random_floats(std::size_t(g.N * g.O * g.Ho * g.Wo), r);
  std::vector<float> y(dy.size()), dx(x.size()), wt(w.size());
  std::vector<float> s1(conv_direct_scratch_floats(g, workers) + 16);
  conv_direct_forward(y.data(), x.data(), w.data(), g, 0.0f, aligned(s1), workers);
  conv_flip_kernel(wt.data(), w.data(), g.O, g.C, g.kh, g.kw);
  const ConvShape b = conv_input_grad_shape(g);
  std::vector<float> s2(conv_direct_scratch_floats(b, workers) + 16);
  conv_direct_forward(dx.data(), dy.data(), wt.data(), b, 0.0f, aligned(s2), workers);
  double lhs = 0, rhs = 0;
  for (std::size_t k = 0; k < y.size(); ++k) lhs += double(y[k]) * dy[k];
  for (std::size_t k = 0; k < x.size(); ++k) rhs += double(x[k]) * dx[k];
  CHECK(lhs == doctest::Approx(rhs).epsilon(1e-5));
}

TEST_CASE("conv_direct_weight_grad equals the direct sum over images and pixels, beta 0 and 1") {
  const int workers = tbb::this_task_arena::max_concurrency();
  const ConvShape shapes[] = {{3, 3, 7, 5, 4, 3, 3, 7, 5, 1, 1}, {20, 16, 14, 14, 16, 7, 7, 14, 14, 3, 3}, {2, 5, 6, 9, 17, 3, 3, 4, 7, 0, 0},
                              {5, 6, 5, 5, 33, 1, 1, 5, 5, 0, 0}};
  Rng r(7);
  for (const auto& g : shapes) {
    auto x = random_floats(std::size_t(g.N * g.C * g.H * g.W), r), dy = random_floats(std::size_t(g.N * g.O * g.Ho * g.Wo), r);
    std::vector<double> want(std::size_t(g.O * g.K()), 0.0);
    for (i64 n = 0; n < g.N; ++n)
      for (i64 o = 0; o < g.O; ++o)
        for (i64 c = 0; c < g.C; ++c)
          for (i64 i = 0; i < g.kh; ++i)
            for (i64 j = 0; j < g.kw; ++j)
              for (i64 oy = 0; oy < g.Ho; ++oy)
                for (i64 ox = 0; ox < g.Wo; ++ox) {
                  const i64 iy = oy - g.pad_top + i, ix = ox - g.pad_left + j;
                  if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
                  want[std::size_t(((o * g.C + c) * g.kh + i) * g.kw + j)] +=
                      double(dy[std::size_t(((n * g.O + o) * g.Ho + oy) * g.Wo + ox)]) * x[std::size_t(((n * g.C + c) * g.H + iy) * g.W + ix)];
                }
    std::vector<float> scratch(conv_direct_scratch_floats(g, workers) + 16);
    for (float beta : {0.0f, 1.0f}) {
      std::vector<float> dw = random_floats(want.size(), r), dw0 = dw;
      conv_direct_weight_grad(dw.data(), x.data(), dy.data(), g, beta, aligned(scratch), workers);
      double worst = 0;
      for (std::size_t k = 0; k < dw.size(); ++k) worst = std::max(worst, std::abs(double(dw[k]) - (want[k] + (beta ? dw0[k] : 0.0))));
      CHECK_MESSAGE(worst < 1e-3, "N" << g.N << " C" << g.C << " O" << g.O << " k" << g.kh << ": max error " << worst);
    }
  }
}
