#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/ops/batch_norm.h"
#include "engine/ops/conv.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/parallel.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::random_tensor;

namespace {

// Direct convolution in double: y[n,o,oy,ox] = sum_{c,i,j} w[o,c,i,j] x[n,c,oy*s-pt+i,ox*s-pl+j].
Tensor naive_conv(const Tensor& x, const Tensor& w, int s, Padding pad) {
  i64 N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3), O = w.dim(0), kh = w.dim(2), kw = w.dim(3);
  i64 Ho, Wo, pt = 0, pl = 0;
  if (pad == Padding::Valid) {
    Ho = (H - kh) / s + 1;
    Wo = (W - kw) / s + 1;
  } else {
    Ho = (H + s - 1) / s;
    Wo = (W + s - 1) / s;
    pt = std::max<i64>((Ho - 1) * s + kh - H, 0) / 2;
    pl = std::max<i64>((Wo - 1) * s + kw - W, 0) / 2;
  }
  Tensor y = Tensor::zeros({N, O, Ho, Wo}, DType::F64);
  double* yv = y.data<double>();
  for (i64 n = 0; n < N; ++n)
    for (i64 o = 0; o < O; ++o)
      for (i64 oy = 0; oy < Ho; ++oy)
        for (i64 ox = 0; ox < Wo; ++ox) {
          double acc = 0;
          for (i64 c = 0; c < C; ++c)
            for (i64 i = 0; i < kh; ++i)
              for (i64 j = 0; j < kw; ++j) {
                i64 iy = oy * s - pt + i, ix = ox * s - pl + j;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += w.at(((o * C + c) * kh + i) * kw + j) * x.at(((n * C + c) * H + iy) * W + ix);
              }
          yv[((n * O + o) * Ho + oy) * Wo + ox] = acc;
        }
  return y;
}

Tensor conv_forward(const Tensor& x, const Tensor& w, int s, Padding pad, std::size_t chunk = kConvChunkBytes) {
  Tape t;
  return conv2d(t, t.input(x), t.input(w), s, pad, chunk).value().clone();
}

// Distinct values (a shuffled ramp with step 0.01), so max pooling has a unique argmax.
Tensor distinct_tensor(const Shape& s, Rng& rng) {
  Tensor x = Tensor::empty(s, DType::F64);
  i64 n = x.numel();
  std::vector<double> v(n);
  for (i64 i = 0; i < n; ++i) v[i] = 0.01 * double(i) - 0.005 * double(n);
  for (i64 i = n - 1; i > 0; --i) std::swap(v[i], v[rng.below(std::uint64_t(i + 1))]);
  std::copy(v.begin(), v.end(), x.data<double>());
  return x;
}

struct ConvCase { Shape x, w; int stride; Padding pad; };

std::string name(const ConvCase& c) {
  return std::string(c.pad == Padding::Same ? "SAME" : "VALID") + " s=" + std::to_string(c.stride) + " x" + c.x.str() +
         " w" + c.w.str();
}

std::vector<ConvCase> conv_cases() {
  std::vector<ConvCase> cs;
  for (Padding p : {Padding::Same, Padding::Valid})
    for (int s : {1, 2}) {
      cs.push_back({{2, 3, 7, 5}, {4, 3, 3, 3}, s, p});
      cs.push_back({{2, 3, 7, 5}, {4, 3, 2, 2}, s, p});
      cs.push_back({{2, 3, 7, 5}, {4, 3, 2, 3}, s, p});
      cs.push_back({p == Padding::Same ? Shape{2, 3, 7, 5} : Shape{2, 3, 9, 8}, {4, 3, 7, 7}, s, p});
    }
  return cs;
}

}  // namespace

TEST_CASE("conv2d forward matches a direct convolution loop") {
  Rng rng(11);
  for (const ConvCase& c : conv_cases()) {
    Tensor x = random_tensor(c.x, rng), w = random_tensor(c.w, rng);
    Tensor expect = naive_conv(x, w, c.stride, c.pad);
    check_close("conv2d f64 " + name(c), conv_forward(x, w, c.stride, c.pad), expect, 1e-12, 1e-12);
    Tensor yf = conv_forward(x.to(DType::F32), w.to(DType::F32), c.stride, c.pad);
    CHECK(yf.dtype() == DType::F32);
    check_close("conv2d f32 " + name(c), yf, expect, 1e-5, 1e-5);
  }
}

TEST_CASE("conv2d gradients against central differences") {
  Rng rng(12);
  for (const ConvCase& c : conv_cases())
    check_gradients("conv2d " + name(c),
                    [&](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], c.stride, c.pad); },
                    {random_tensor(c.x, rng), random_tensor(c.w, rng)});
}

TEST_CASE("conv2d splits the batch into chunks without changing the result") {
  Rng rng(13);
  for (Padding p : {Padding::Same, Padding::Valid})
    for (int s : {1, 2}) {
      Shape xs{5, 2, 6, 5}, ws{3, 2, 3, 2};
      Tensor x = random_tensor(xs, rng), w = random_tensor(ws, rng);
      Tensor expect = naive_conv(x, w, s, p);
      // One column buffer of one image is K * Ho*Wo doubles.
      std::size_t per_image = std::size_t(2 * 3 * 2 * expect.dim(2) * expect.dim(3)) * sizeof(double);
      for (std::size_t budget : {std::size_t(1), 2 * per_image, 3 * per_image + 7}) {
        std::string label = "conv2d chunk budget " + std::to_string(budget) + (p == Padding::Same ? " SAME" : " VALID") +
                            " s=" + std::to_string(s);
        check_close(label, conv_forward(x, w, s, p, budget), expect, 1e-12, 1e-12);
        check_gradients(label, [&](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], s, p, budget); },
                        {x, w});
      }
    }
}

TEST_CASE("conv2d output and gradients do not depend on the thread count") {
  Rng rng(14);
  Tensor x = random_tensor({9, 3, 8, 7}, rng).to(DType::F32), w = random_tensor({4, 3, 3, 3}, rng).to(DType::F32);
  Tensor seed = random_tensor({9, 4, 8, 7}, rng).to(DType::F32);
  auto run = [&](int threads, Tensor& y, Tensor& dx, Tensor& dw) {
    Threads th(threads);
    Tape t;
    Var xv = t.input(x, true), wv = t.input(w, true);
    Var out = conv2d(t, xv, wv, 1, Padding::Same, 3 * 3 * 3 * 8 * 7 * sizeof(float) * 2);  // 2 images a chunk
    t.backward(out, seed);
    y = out.value().clone();
    dx = xv.grad().clone();
    dw = wv.grad().clone();
  };
  Tensor y1, dx1, dw1, y2, dx2, dw2;
  run(1, y1, dx1, dw1);
  run(2, y2, dx2, dw2);
  check_close("y threads", y2, y1, 0, 0);
  check_close("dx threads", dx2, dx1, 0, 0);
  check_close("dw threads", dw2, dw1, 0, 0);
}

TEST_CASE("conv2d's direct path equals the reference path: outputs and every gradient, odd shapes, stride 2, batch 1") {
  struct Case { Shape x, w; int stride; Padding pad; };
  const Case cases[] = {{{1, 3, 7, 5}, {4, 3, 3, 3}, 1, Padding::Same},   {{3, 16, 14, 14}, {16, 16, 7, 7}, 1, Padding::Same},
                        {{2, 5, 9, 6}, {7, 5, 3, 2}, 1, Padding::Valid},  {{2, 6, 5, 5}, {17, 6, 1, 1}, 1, Padding::Same},
                        {{1, 2, 6, 7}, {3, 2, 2, 4}, 1, Padding::Same},   {{2, 4, 9, 8}, {5, 4, 3, 3}, 2, Padding::Same},
                        {{1, 4, 8, 8}, {6, 4, 1, 1}, 2, Padding::Same}};
  Rng rng(21);
  for (const Case& c : cases) {
    Tensor x = random_tensor(c.x, rng), w = random_tensor(c.w, rng);
    const std::string label = "conv2d " + c.x.str() + " * " + c.w.str() + " s" + std::to_string(c.stride);
    auto run = [&](DType dt, ConvPath path, Tensor& y, Tensor& dx, Tensor& dw) {
      ConvPathScope scope(path);
      Tape t;
      Var xv = t.input(x.to(dt), true), wv = t.input(w.to(dt), true);
      Var out = conv2d(t, xv, wv, c.stride, c.pad);
      Rng seed_rng(5);
      t.backward(out, random_tensor(out.shape(), seed_rng).to(dt));
      y = out.value().to(DType::F64);
      dx = xv.grad().to(DType::F64);
      dw = wv.grad().to(DType::F64);
    };
    Tensor y, dx, dw, ry, rdx, rdw, ty, tdx, tdw;
    run(DType::F32, ConvPath::Auto, y, dx, dw);
    run(DType::F32, ConvPath::Reference, ry, rdx, rdw);
    run(DType::F64, ConvPath::Reference, ty, tdx, tdw);  // the truth, in double
    CHECK(check_close(label + " y vs reference", y, ry, 1e-5, 1e-5));
    CHECK(check_close(label + " dx vs reference", dx, rdx, 1e-5, 1e-5));
    CHECK(check_close(label + " dw vs reference", dw, rdw, 1e-4, 1e-5));
    CHECK(check_close(label + " y vs double", y, ty, 1e-5, 1e-5));
    CHECK(check_close(label + " dx vs double", dx, tdx, 1e-5, 1e-5));
    CHECK(check_close(label + " dw vs double", dw, tdw, 1e-4, 1e-5));
  }
}

TEST_CASE("conv2d output shapes: SAME is ceil(H/stride), VALID floors") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 7, 5}));
  CHECK(conv2d(t, x, t.input(Tensor::zeros({4, 3, 3, 3})), 2, Padding::Same).shape() == Shape{2, 4, 4, 3});
  CHECK(conv2d(t, x, t.input(Tensor::zeros({4, 3, 2, 2})), 2, Padding::Same).shape() == Shape{2, 4, 4, 3});
  CHECK(conv2d(t, x, t.input(Tensor::zeros({4, 3, 7, 7})), 2, Padding::Same).shape() == Shape{2, 4, 4, 3});
  CHECK(conv2d(t, x, t.input(Tensor::zeros({4, 3, 3, 3})), 2, Padding::Valid).shape() == Shape{2, 4, 3, 2});
  CHECK(conv2d(t, x, t.input(Tensor::zeros({4, 3, 3, 3})), 1, Padding::Same).shape() == Shape{2, 4, 7, 5});
}

TEST_CASE("conv2d SAME with an even kernel puts the extra padding at the bottom and right") {
  // 4x4 ones, 2x2 ones kernel, stride 1: total pad 1 per axis, pad_top = pad_left = 0.
  Tape t;
  Tensor y = conv2d(t, t.input(Tensor::full({1, 1, 4, 4}, 1.0, DType::F64)),
                    t.input(Tensor::full({1, 1, 2, 2}, 1.0, DType::F64)), 1, Padding::Same).value();
  REQUIRE(y.shape() == Shape{1, 1, 4, 4});
  CHECK(y.at(0) == 4.0);       // top-left window lies fully inside
  CHECK(y.at(3) == 2.0);       // right column: one padded column
  CHECK(y.at(12) == 2.0);      // bottom row: one padded row
  CHECK(y.at(15) == 1.0);      // bottom-right corner
}

TEST_CASE("conv2d: an input used twice receives the sum of both gradients") {
  Rng rng(14);
  check_gradients("conv2d twice",
                  [](Tape& t, const std::vector<Var>& v) {
                    // x enters both convolutions and the residual, w both convolutions
                    Var y = add(t, conv2d(t, v[0], v[1], 1, Padding::Same), conv2d(t, v[0], v[1], 1, Padding::Same));
                    return add(t, y, v[0]);
                  },
                  {random_tensor({1, 2, 5, 5}, rng), random_tensor({2, 2, 3, 3}, rng)});
  // Only w needs a gradient: the x branch of the backward is skipped.
  check_gradients("conv2d w only", [](Tape& t, const std::vector<Var>& v) { return conv2d(t, v[0], v[1], 1, Padding::Valid); },
                  {random_tensor({2, 2, 5, 4}, rng), random_tensor({3, 2, 3, 3}, rng)}, {false, true});
}

TEST_CASE("conv2d shape errors name both shapes") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 7, 5}));
  Var w = t.input(Tensor::zeros({4, 2, 3, 3}));
  CHECK_THROWS_WITH_AS(conv2d(t, x, w, 1, Padding::Same), doctest::Contains("[2, 3, 7, 5]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(t, x, w, 1, Padding::Same), doctest::Contains("[4, 2, 3, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(conv2d(t, x, w, 1, Padding::Same), doctest::Contains("conv2d"), std::invalid_argument);
  Var big = t.input(Tensor::zeros({4, 3, 9, 9}));
  CHECK_THROWS_WITH_AS(conv2d(t, x, big, 1, Padding::Valid), doctest::Contains("[4, 3, 9, 9]"), std::invalid_argument);
  CHECK_THROWS_AS(conv2d(t, x, t.input(Tensor::zeros({4, 3, 3, 3})), 0, Padding::Same), std::invalid_argument);
  CHECK_THROWS_AS(conv2d(t, t.input(Tensor::zeros({3, 7, 5})), w, 1, Padding::Same), std::invalid_argument);
}

TEST_CASE("max_pool2x2 forward, odd sizes floor") {
  Rng rng(21);
  for (Shape s : {Shape{2, 3, 6, 4}, Shape{2, 2, 7, 5}}) {
    Tensor x = distinct_tensor(s, rng);
    Tape t;
    Tensor y = max_pool2x2(t, t.input(x)).value();
    i64 Ho = s[2] / 2, Wo = s[3] / 2;
    REQUIRE(y.shape() == Shape{s[0], s[1], Ho, Wo});
    Tensor expect = Tensor::empty(y.shape(), DType::F64);
    for (i64 p = 0; p < s[0] * s[1]; ++p)
      for (i64 oy = 0; oy < Ho; ++oy)
        for (i64 ox = 0; ox < Wo; ++ox) {
          double m = -1e300;
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) m = std::max(m, x.at((p * s[2] + 2 * oy + i) * s[3] + 2 * ox + j));
          expect.data<double>()[(p * Ho + oy) * Wo + ox] = m;
        }
    check_close("max_pool2x2 " + s.str(), y, expect, 0, 0);
    Tensor yf = max_pool2x2(t, t.input(x.to(DType::F32))).value();
    check_close("max_pool2x2 f32 " + s.str(), yf, expect, 1e-6, 1e-6);
  }
}

TEST_CASE("max_pool2x2 gradients against central differences") {
  Rng rng(22);
  for (Shape s : {Shape{2, 3, 6, 4}, Shape{2, 2, 7, 5}, Shape{1, 1, 3, 2}})
    check_gradients("max_pool2x2 " + s.str(), [](Tape& t, const std::vector<Var>& v) { return max_pool2x2(t, v[0]); },
                    {distinct_tensor(s, rng)});
}

TEST_CASE("max_pool2x2 rejects inputs it cannot pool") {
  Tape t;
  CHECK_THROWS_WITH_AS(max_pool2x2(t, t.input(Tensor::zeros({2, 3, 4}))), doctest::Contains("[2, 3, 4]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(max_pool2x2(t, t.input(Tensor::zeros({1, 1, 1, 4}))), doctest::Contains("[1, 1, 1, 4]"), std::invalid_argument);
}

TEST_CASE("batch_norm training gradients against central differences") {
  Rng rng(31);
  for (Shape s : {Shape{6, 4}, Shape{3, 2, 4, 5}}) {
    i64 C = s[1];
    check_gradients("batch_norm train " + s.str(),
                    [C](Tape& t, const std::vector<Var>& v) {
                      return batch_norm(t, v[0], v[1], v[2], Tensor::zeros({C}, DType::F64), Tensor::full({C}, 1.0, DType::F64), true);
                    },
                    {random_tensor(s, rng, -2, 2), random_tensor({C}, rng, 0.5, 1.5), random_tensor({C}, rng)});
  }
}

TEST_CASE("batch_norm_relu: gradients against central differences, and equal to relu(batch_norm) in float") {
  Rng rng(33);
  for (bool training : {true, false})
    for (Shape s : {Shape{6, 4}, Shape{3, 2, 4, 5}}) {
      const i64 C = s[1];
      check_gradients(std::string("batch_norm_relu ") + (training ? "train " : "eval ") + s.str(),
                      [C, training](Tape& t, const std::vector<Var>& v) {
                        return batch_norm_relu(t, v[0], v[1], v[2], Tensor::full({C}, 0.1, DType::F64), Tensor::full({C}, 1.3, DType::F64),
                                               training);
                      },
                      {random_tensor(s, rng, -2, 2), random_tensor({C}, rng, 0.5, 1.5), random_tensor({C}, rng)});
    }
  Shape s{5, 3, 6, 7};
  Tensor x = random_tensor(s, rng, -2, 2).to(DType::F32), g = random_tensor({3}, rng, 0.5, 1.5).to(DType::F32),
         b = random_tensor({3}, rng).to(DType::F32), seed = random_tensor(s, rng).to(DType::F32);
  auto run = [&](bool fused, Tensor& y, Tensor& dx, Tensor& dg) {
    Tape t;
    Var xv = t.input(x, true), gv = t.input(g, true), bv = t.input(b, true);
    Tensor rm = Tensor::zeros({3}), rv = Tensor::full({3}, 1.0);
    Var out = fused ? batch_norm_relu(t, xv, gv, bv, rm, rv, true) : relu(t, batch_norm(t, xv, gv, bv, rm, rv, true));
    t.backward(out, seed);
    y = out.value().clone(), dx = xv.grad().clone(), dg = gv.grad().clone();
  };
  Tensor y1, dx1, dg1, y2, dx2, dg2;
  run(true, y1, dx1, dg1);
  run(false, y2, dx2, dg2);
  CHECK(check_close("fused y", y1, y2, 1e-6, 1e-6));
  CHECK(check_close("fused dx", dx1, dx2, 1e-5, 1e-5));
  CHECK(check_close("fused dgamma", dg1, dg2, 1e-4, 1e-5));
}

TEST_CASE("batch_norm eval gradients against central differences") {
  Rng rng(32);
  for (Shape s : {Shape{5, 3}, Shape{2, 3, 3, 4}}) {
    i64 C = s[1];
    Tensor rm = random_tensor({C}, rng), rv = random_tensor({C}, rng, 0.5, 2);
    Tensor rm0 = rm.clone(), rv0 = rv.clone();
    check_gradients("batch_norm eval " + s.str(),
                    [&](Tape& t, const std::vector<Var>& v) { return batch_norm(t, v[0], v[1], v[2], rm, rv, false); },
                    {random_tensor(s, rng, -2, 2), random_tensor({C}, rng, 0.5, 1.5), random_tensor({C}, rng)});
    check_close("eval leaves running_mean", rm, rm0, 0, 0);
    check_close("eval leaves running_var", rv, rv0, 0, 0);
  }
}

TEST_CASE("batch_norm forward normalizes per channel and updates the running stats") {
  Rng rng(33);
  Shape s{4, 3, 2, 5};
  i64 N = 4, C = 3, S = 10;
  double M = double(N * S), mom = 0.2, eps = 1e-5;
  Tensor x = random_tensor(s, rng, -3, 5);
  Tensor gamma = random_tensor({C}, rng, 0.5, 2), beta = random_tensor({C}, rng);
  Tensor rm = random_tensor({C}, rng), rv = random_tensor({C}, rng, 0.5, 2);
  Tensor rm0 = rm.clone(), rv0 = rv.clone();
  Tape t;
  Tensor y = batch_norm(t, t.input(x), t.input(gamma), t.input(beta), rm, rv, true, mom, eps).value();
  Tensor exp_y = Tensor::empty(s, DType::F64), exp_rm = Tensor::empty({C}, DType::F64), exp_rv = Tensor::empty({C}, DType::F64);
  for (i64 c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) sum += x.at((n * C + c) * S + k);
    double mu = sum / M;
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) sq += std::pow(x.at((n * C + c) * S + k) - mu, 2);
    double var = sq / M;
    for (i64 n = 0; n < N; ++n)
      for (i64 k = 0; k < S; ++k) {
        i64 i = (n * C + c) * S + k;
        exp_y.data<double>()[i] = gamma.at(c) * (x.at(i) - mu) / std::sqrt(var + eps) + beta.at(c);
      }
    exp_rm.data<double>()[c] = (1 - mom) * rm0.at(c) + mom * mu;
    exp_rv.data<double>()[c] = (1 - mom) * rv0.at(c) + mom * var * M / (M - 1);
  }
  check_close("batch_norm train y", y, exp_y, 1e-12, 1e-10);
  check_close("running_mean", rm, exp_rm, 1e-14, 1e-12);
  check_close("running_var (unbiased)", rv, exp_rv, 1e-14, 1e-12);

  // Eval uses the (updated) running stats.
  Tensor ye = batch_norm(t, t.input(x), t.input(gamma), t.input(beta), rm, rv, false, mom, eps).value();
  for (i64 i = 0; i < x.numel(); ++i) {
    i64 c = (i / S) % C;
    exp_y.data<double>()[i] = gamma.at(c) * (x.at(i) - rm.at(c)) / std::sqrt(rv.at(c) + eps) + beta.at(c);
  }
  check_close("batch_norm eval y", ye, exp_y, 1e-12, 1e-10);

  // float path agrees with the double one
  Tensor rmf = rm0.to(DType::F32), rvf = rv0.to(DType::F32);
  Tensor yf = batch_norm(t, t.input(x.to(DType::F32)), t.input(gamma.to(DType::F32)), t.input(beta.to(DType::F32)), rmf, rvf,
                         true, mom, eps).value();
  check_close("batch_norm f32 y", yf, y, 1e-4, 1e-4);
  check_close("running_mean f32", rmf, exp_rm, 1e-5, 1e-5);
}

TEST_CASE("batch_norm shape errors") {
  Tape t;
  Var x = t.input(Tensor::zeros({4, 3}));
  Var g3 = t.input(Tensor::zeros({3})), g2 = t.input(Tensor::zeros({2}));
  Tensor r3 = Tensor::zeros({3}), r2 = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(batch_norm(t, x, g2, g3, r3, r3, true), doctest::Contains("[2]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(batch_norm(t, x, g2, g3, r3, r3, true), doctest::Contains("[4, 3]"), std::invalid_argument);
  CHECK_THROWS_AS(batch_norm(t, x, g3, g3, r2, r3, true), std::invalid_argument);
  CHECK_THROWS_AS(batch_norm(t, t.input(Tensor::zeros({4, 3, 2})), g3, g3, r3, r3, true), std::invalid_argument);
  CHECK_THROWS_AS(batch_norm(t, t.input(Tensor::zeros({1, 3})), g3, g3, r3, r3, true), std::invalid_argument);
}

TEST_CASE("dropout: drop fraction, scaling, same key gives the same mask") {
  Shape s{400, 500};
  double p = 0.3;
  Tensor x = Tensor::full(s, 2.0, DType::F32);
  Rng rng(41);
  Tape t;
  Tensor y = dropout(t, t.input(x), p, rng, true).value();
  i64 zeros = 0;
  bool scaled = true;
  for (i64 i = 0; i < y.numel(); ++i) {
    double v = y.at(i);
    if (v == 0) ++zeros;
    else scaled = scaled && std::fabs(v - 2.0 / (1 - p)) < 1e-6;
  }
  CHECK(scaled);
  double frac = double(zeros) / double(y.numel());
  CHECK(frac == doctest::Approx(p).epsilon(0.02));  // 200k draws: sd of the fraction ~ 0.001

  // Same seed, same key, same mask; dropout_mask rebuilds it from the key alone.
  Rng again(41);
  Tensor y2 = dropout(t, t.input(x), p, again, true).value();
  check_close("same key", y2, y, 0, 0);
  Tensor mask = Tensor::empty(s, DType::F32);
  dropout_mask(mask, p, Rng(41).next_u64());
  for (i64 i = 0; i < mask.numel(); ++i) mask.data<float>()[i] *= 2.0f;
  check_close("dropout_mask", mask, y, 1e-6, 0);
  // The next call draws a new key.
  Tensor y3 = dropout(t, t.input(x), p, rng, true).value();
  i64 same = 0;
  for (i64 i = 0; i < y.numel(); ++i) same += y.at(i) == y3.at(i);
  CHECK(same < y.numel());
}

TEST_CASE("dropout mask does not depend on the thread count") {
  Tensor m1 = Tensor::empty({100000}, DType::F64), m4 = Tensor::empty({100000}, DType::F64);
  {
    Threads th(1);
    dropout_mask(m1, 0.5, 99);
  }
  {
    Threads th(4);
    dropout_mask(m4, 0.5, 99);
  }
  check_close("mask threads", m4, m1, 0, 0);
}

TEST_CASE("dropout mask keeps exactly the elements whose hash_uniform is at least p") {
  // The mask is drawn in integer arithmetic (hash_bits53 against ceil(p 2^53)); element i must be
  // kept exactly when hash_uniform(key, i) >= p, as every saved mask and results file assumes.
  for (double p : {0.0, 1e-12, 0.05, 0.1, 0.25, 1.0 / 3.0, 0.5, 0.999999, 1.0}) {
    Tensor m = Tensor::empty({50000}, DType::F64);
    dropout_mask(m, p, 12345);
    const double keep = p < 1 ? 1.0 / (1.0 - p) : 0.0;
    i64 wrong = 0;
    for (i64 i = 0; i < m.numel(); ++i) wrong += m.data<double>()[i] != (hash_uniform(12345, std::uint64_t(i)) >= p ? keep : 0.0);
    INFO("p = " << p);
    CHECK(wrong == 0);
  }
  // At the boundary: a p equal to one element's draw keeps that element, the next double above
  // drops it. The draw is taken below 1/4, where doubles are finer than 2^-53 and p 2^53 is not
  // an integer (so rounding the threshold the wrong way would keep it).
  std::uint64_t i = 0;
  while (hash_uniform(7, i) >= 0.25) ++i;
  const double u = hash_uniform(7, i);
  Tensor m = Tensor::empty({i64(i) + 1}, DType::F64);
  dropout_mask(m, u, 7);
  CHECK(m.data<double>()[i] != 0.0);
  dropout_mask(m, std::nextafter(u, 1.0), 7);
  CHECK(m.data<double>()[i] == 0.0);
}

TEST_CASE("dropout gradient is mask * dout") {
  Rng rng(42), data(43);
  Shape s{7, 9};
  double p = 0.4;
  Tape t;
  Var x = t.input(random_tensor(s, data), true);
  Rng copy = rng;
  Var y = dropout(t, x, p, rng, true);
  CHECK(t.num_nodes() == 1);
  Tensor seed = random_tensor(s, data);
  t.backward(y, seed);
  Tensor mask = Tensor::empty(s, DType::F64);
  dropout_mask(mask, p, copy.next_u64());
  Tensor expect = Tensor::empty(s, DType::F64);
  for (i64 i = 0; i < seed.numel(); ++i) expect.data<double>()[i] = mask.at(i) * seed.at(i);
  check_close("dropout dx", x.grad(), expect, 1e-15, 0);
  // and central differences agree (the key is fixed per call by reseeding)
  check_gradients("dropout", [](Tape& tp, const std::vector<Var>& v) {
    Rng r(5);
    return dropout(tp, v[0], 0.5, r, true);
  }, {random_tensor(s, data)});
}

TEST_CASE("dropout is the identity when not training or p = 0") {
  Rng rng(44);
  Rng::State before = rng.state();
  Tape t;
  Var x = t.input(Tensor::full({3, 4}, 1.0), true);
  Var a = dropout(t, x, 0.5, rng, false);
  Var b = dropout(t, x, 0.0, rng, true);
  CHECK(a.id == x.id);
  CHECK(b.id == x.id);
  CHECK(t.num_nodes() == 0);
  CHECK(rng.state() == before);
  Var z = dropout(t, x, 1.0, rng, true);
  for (i64 i = 0; i < 12; ++i) CHECK(z.value().at(i) == 0.0);
  CHECK_THROWS_AS(dropout(t, x, 1.5, rng, true), std::invalid_argument);
}
