// Static hypernetwork (Eq. 2), kernel tiling (Eq. 3), gather_flat, and the four MNIST models:
// hand-computed values, block placement, gradients against central differences (double), the
// paper's parameter counts, error messages, and a forward/backward through every model.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <set>
#include <string>

#include "engine/ops/conv.h"
#include "engine/ops/gather.h"
#include "engine/ops/loss.h"
#include "engine/ops/shape_ops.h"
#include "models/hyper_conv.h"
#include "models/kernel_hypernet.h"
#include "models/mnist_models.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_close;
using ht::test::check_gradients;
using ht::test::count_mismatches;
using ht::test::param_gradient_mismatches;
using ht::test::random_tensor;

namespace {

void set_values(ParamStore& ps, const std::string& name, std::initializer_list<double> v) {
  Tensor t = ps.value(ps.index(name));
  REQUIRE(i64(v.size()) == t.numel());
  i64 i = 0;
  for (double x : v) t.data<double>()[i++] = x;
}

void randomise(ParamStore& ps, Rng& rng) {
  for (int i = 0; i < ps.size(); ++i) {
    Tensor v = ps.value(i);
    for (i64 k = 0; k < v.numel(); ++k) v.data<double>()[k] = rng.uniform(-1, 1);
  }
}

Tensor i32_tensor(std::initializer_list<int> v, Shape s) {
  Tensor t = Tensor::empty(s, DType::I32);
  int i = 0;
  for (int x : v) t.data<std::int32_t>()[i++] = x;
  return t;
}

int count_nodes(const Tape& t, const std::string& op) {
  int n = 0;
  for (auto& name : t.node_names()) n += name == op;
  return n;
}


}  // namespace

TEST_CASE("Eq. 2 on a hand-computed case: N_z = d = 2, N_in = 2, N_out = 1, f = 2") {
  ParamStore ps(DType::F64);
  KernelHyperNetwork hyper(Scope(ps, "hyper."), 2, 2, 1, 2);
  Rng rng(1);
  ps.finalize(rng);
  // W_1 = I, B_1 = (0, 1);  W_2 = [[0,1],[1,0]], B_2 = (1, 0). w_in column i*d + r holds row r of W_i.
  set_values(ps, "hyper.w_in", {1, 0, 0, 1,  //
                                0, 1, 1, 0});
  set_values(ps, "hyper.b_in", {0, 1, 1, 0});
  set_values(ps, "hyper.w_out", {1, 2, 3, 4,  //
                                 0, 1, 0, -1});
  set_values(ps, "hyper.b_out", {0.5, 0, 0, 0});
  Tensor z = Tensor::empty({1, 2}, DType::F64);
  z.data<double>()[0] = 1;
  z.data<double>()[1] = 2;
  Tape t;
  Var k = hyper.generate(t, ps, t.input(z));
  REQUIRE(k.shape() == Shape{1, 2, 4});
  // a_1 = W_1 z + B_1 = (1, 3), a_2 = W_2 z + B_2 = (3, 1);
  // K_1 = 1*(1,2,3,4) + 3*(0,1,0,-1) + B_out = (1.5, 5, 3, 1); K_2 = 3*(1,2,3,4) + (0,1,0,-1) + B_out.
  const double expected[8] = {1.5, 5, 3, 1, 3.5, 7, 9, 11};
  for (int i = 0; i < 8; ++i) CHECK(k.value().at(i) == expected[i]);
}

TEST_CASE("Eq. 2 for several blocks at once with d != N_z, against the formula; two GEMMs in all") {
  const i64 nz = 3, d = 2, n_in = 3, n_out = 2, f = 2, D = 4, F = f * n_out * f;
  ParamStore ps(DType::F64);
  KernelHyperNetwork hyper(Scope(ps, "h."), nz, n_in, n_out, f, d);
  CHECK(hyper.d() == d);
  Rng rng(2);
  ps.finalize(rng);
  randomise(ps, rng);
  Tensor z = random_tensor({D, nz}, rng);
  Tape t;
  Var k = hyper.generate(t, ps, t.input(z));
  REQUIRE(k.shape() == Shape{D, n_in, F});
  CHECK(count_nodes(t, "matmul") + count_nodes(t, "linear") == 2);  // the GEMM-bearing nodes
  Tensor w_in = ps.value(ps.index("h.w_in")), b_in = ps.value(ps.index("h.b_in"));
  Tensor w_out = ps.value(ps.index("h.w_out")), b_out = ps.value(ps.index("h.b_out"));
  Tensor expected = Tensor::empty({D, n_in, F}, DType::F64);
  for (i64 b = 0; b < D; ++b)
    for (i64 i = 0; i < n_in; ++i) {
      double a[8];
      for (i64 r = 0; r < d; ++r) {  // a_i = W_i z + B_i,  W_i[r][c] = w_in[c][i*d + r]
        a[r] = b_in.at(i * d + r);
        for (i64 c = 0; c < nz; ++c) a[r] += w_in.at(c * n_in * d + i * d + r) * z.at(b * nz + c);
      }
      for (i64 q = 0; q < F; ++q) {  // K_i = <W_out, a_i> + B_out
        double s = b_out.at(q);
        for (i64 r = 0; r < d; ++r) s += w_out.at(r * F + q) * a[r];
        expected.data<double>()[(b * n_in + i) * F + q] = s;
      }
    }
  check_close("generated kernels", k.value(), expected, 1e-12, 1e-12);
}

TEST_CASE("Eq. 3 tiling: block (i, j) lands at input channels i*N_in.., output channels j*N_out..") {
  const i64 nz = 3, n_in = 2, n_out = 2, f = 2, C = 4, O = 6;
  ParamStore ps(DType::F64);
  KernelHyperNetwork hyper(Scope(ps, "hyper."), nz, n_in, n_out, f);
  HyperConv2d layer(Scope(ps, "layer."), hyper, C, O);
  CHECK(layer.blocks_in() == 2);
  CHECK(layer.blocks_out() == 3);
  CHECK(ps.shape(layer.embedding_id()) == Shape{6, nz});
  Rng rng(3);
  ps.finalize(rng);
  randomise(ps, rng);
  Tensor z = ps.value(layer.embedding_id());
  for (i64 b = 0; b < 6; ++b) z.data<double>()[b * nz] = 10.0 * double(b + 1);  // distinguishable blocks

  Tape t;
  Var kernel = layer.kernel(t, ps);
  REQUIRE(kernel.shape() == Shape{O, C, f, f});
  CHECK(count_nodes(t, "matmul") + count_nodes(t, "linear") == 2);  // every block in one pair of GEMMs (matmul or linear nodes)
  CHECK(count_nodes(t, "gather_flat") == 1);
  std::vector<Tensor> blocks;
  for (i64 b = 0; b < 6; ++b) blocks.push_back(hyper.generate(t, ps, t.input(z.rows(b, b + 1))).value());
  std::set<double> first_elements;
  for (auto& blk : blocks) first_elements.insert(blk.at(0));
  CHECK(first_elements.size() == 6);

  i64 bad = 0;
  for (i64 og = 0; og < O; ++og)
    for (i64 cg = 0; cg < C; ++cg)
      for (i64 ky = 0; ky < f; ++ky)
        for (i64 kx = 0; kx < f; ++kx) {
          i64 i = cg / n_in, c = cg % n_in, j = og / n_out, o = og % n_out;
          // Block (i, j) is z row i*Bo + j; viewed as the paper's K [N_in*f, N_out*f], the
          // filter (c -> o) is K[c*f + ky, o*f + kx].
          const Tensor& K = blocks[std::size_t(i * 3 + j)];
          double want = K.at((c * f + ky) * (n_out * f) + o * f + kx);
          double got = kernel.value().at(((og * C + cg) * f + ky) * f + kx);
          if (std::fabs(got - want) > 1e-12 * (1 + std::fabs(want))) ++bad;
        }
  CHECK(bad == 0);
}

TEST_CASE("gradients reach z and every generator parameter") {
  Rng rng(4);
  const i64 nz = 3, d = 2, n_in = 2, n_out = 2, f = 3, F = f * n_out * f;
  check_gradients("KernelHyperNetwork::apply",
                  [](Tape& t, const std::vector<Var>& v) { return KernelHyperNetwork::apply(t, v[0], v[1], v[2], v[3], v[4]); },
                  {random_tensor({3, nz}, rng), random_tensor({nz, n_in * d}, rng), random_tensor({n_in * d}, rng),
                   random_tensor({d, F}, rng), random_tensor({F}, rng)});

  // Through the tiling and a convolution: x [2, 4, 5, 5], kernel [6, 4, 3, 3] from 6 blocks.
  ParamStore shapes_only(DType::F64);
  KernelHyperNetwork hyper(Scope(shapes_only, "hyper."), nz, n_in, n_out, f, d);
  HyperConv2d layer(Scope(shapes_only, "layer."), hyper, 4, 6);
  check_gradients("HyperConv2d + conv2d",
                  [&](Tape& t, const std::vector<Var>& v) {
                    Var kernel = layer.arrange(t, KernelHyperNetwork::apply(t, v[1], v[2], v[3], v[4], v[5]));
                    return conv2d(t, v[0], kernel, 1, Padding::Same);
                  },
                  {random_tensor({2, 4, 5, 5}, rng), random_tensor({6, nz}, rng), random_tensor({nz, n_in * d}, rng),
                   random_tensor({n_in * d}, rng), random_tensor({d, F}, rng), random_tensor({F}, rng)});

  // The same through the ParamStore (HyperConv2d::kernel wires z and the generator to ps.grad).
  ParamStore ps(DType::F64);
  KernelHyperNetwork h2(Scope(ps, "hyper."), nz, n_in, n_out, f, d);
  HyperConv2d l2(Scope(ps, "layer."), h2, 4, 2);
  ps.finalize(rng);
  randomise(ps, rng);
  Tensor x = random_tensor({1, 4, 4, 4}, rng);
  i64 bad = param_gradient_mismatches("HyperConv2d::forward via ParamStore", ps, [&](Tape& t) {
    return l2.forward(t, ps, t.input(x), 1, Padding::Same);
  });
  CHECK(bad == 0);
}

TEST_CASE("gather_flat: permutation values, gradients (injective and repeated), errors") {
  Rng rng(5);
  // permutation_index = numpy transpose: out [4, 2, 3] with out[a][b][c] = x[b][c][a].
  Tensor idx = permutation_index({2, 3, 4}, {2, 0, 1});
  REQUIRE(idx.shape() == Shape{24});
  Tensor x = random_tensor({2, 3, 4}, rng);
  Tape t;
  Var y = gather_flat(t, t.input(x), idx, {4, 2, 3});
  i64 bad = 0;
  for (i64 a = 0; a < 4; ++a)
    for (i64 b = 0; b < 2; ++b)
      for (i64 c = 0; c < 3; ++c) bad += y.value().at((a * 2 + b) * 3 + c) != x.at((b * 3 + c) * 4 + a);
  CHECK(bad == 0);
  // 2-D: equals transpose.
  Tensor m = random_tensor({3, 5}, rng);
  Tensor via_gather = gather_flat(t, t.input(m), permutation_index({3, 5}, {1, 0}), {5, 3}).value();  // copies: the
  Tensor via_transpose = transpose(t, t.input(m)).value();                                              // tape's slots move
  check_close("gather_flat vs transpose", via_gather, via_transpose, 0, 0);
  // 6 axes: every source element used once.
  Tensor idx6 = permutation_index({2, 1, 3, 2, 2, 3}, {5, 3, 1, 0, 4, 2});
  std::set<int> seen;
  for (i64 k = 0; k < idx6.numel(); ++k) seen.insert(idx6.data<std::int32_t>()[k]);
  CHECK(seen.size() == 72);
  CHECK(*seen.rbegin() == 71);
  // out[k5, k3, k1, k0, k4, k2] (extents [3, 2, 1, 2, 2, 3]) reads in[k0..k5]: spot check one.
  {
    i64 k0 = 1, k1 = 0, k2 = 2, k3 = 1, k4 = 0, k5 = 2;
    i64 src = ((((k0 * 1 + k1) * 3 + k2) * 2 + k3) * 2 + k4) * 3 + k5;
    i64 dst = ((((k5 * 2 + k3) * 1 + k1) * 2 + k0) * 2 + k4) * 3 + k2;
    CHECK(idx6.data<std::int32_t>()[dst] == src);
  }

  check_gradients("gather_flat permutation",
                  [&](Tape& t, const std::vector<Var>& v) { return gather_flat(t, v[0], idx, {4, 6}); }, {random_tensor({2, 3, 4}, rng)});
  Tensor rep = i32_tensor({0, 2, 2, 5, 0, 1, 2, 4}, {2, 4});
  check_gradients("gather_flat with repeats", [&](Tape& t, const std::vector<Var>& v) { return gather_flat(t, v[0], rep, {8}); },
                  {random_tensor({2, 3}, rng)});
  // Repeated index: the gradient is the sum (element 2 is read three times).
  {
    Tape t2;
    Var xv = t2.input(Tensor::zeros({6}, DType::F64), true);
    Var g = gather_flat(t2, xv, rep, {8});
    t2.backward(g, Tensor::full({8}, 1.0, DType::F64));
    CHECK(xv.grad().at(2) == 3.0);
    CHECK(xv.grad().at(3) == 0.0);
  }

  Tensor x6 = random_tensor({2, 3}, rng);
  CHECK_THROWS_WITH_AS(gather_flat(t, t.input(x6), i32_tensor({0, 6}, {2}), {2}), doctest::Contains("gather_flat: index 6 at position 1"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(gather_flat(t, t.input(x6), i32_tensor({0, 1}, {2}), {3}), doctest::Contains("output [3] needs 3"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(permutation_index({2, 3}, {0, 0}), doctest::Contains("[2, 3]"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(permutation_index({1, 1, 1, 1, 1, 1, 1}, {0, 1, 2, 3, 4, 5, 6}), doctest::Contains("1 to 6 axes"),
                       std::invalid_argument);
}

TEST_CASE("parameter counts match the paper") {
  {
    ParamStore ps;
    KernelHyperNetwork hyper(Scope(ps, "hyper."), 4, 16, 16, 7);
    CHECK(hyper.num_parameters() == 4240);
    CHECK(ps.count() == 4240);  // 4*5*16 + 7*16*7*5
    HyperConv2d layer(Scope(ps, "conv2."), hyper, 16, 16);
    CHECK(ps.shape(layer.embedding_id()).numel() == 4);
  }
  struct Row { const char* arch; const char* counted; i64 counted_n, total; };
  // Totals: conv1 16*49+16, conv2 (+16 bias), fc 784*10+10; FC nets: fc1 bias 256, fc2 2570.
  const Row rows[] = {{"conv", "conv2 kernel", 12544, 800 + 12544 + 16 + 7850},
                      {"hyperconv", "hypernetwork + embedding", 4244, 800 + 4244 + 16 + 7850},
                      {"fc", "hidden weights", 200704, 200704 + 256 + 2570},
                      {"coord-hyperfc", "coordinate hypernetwork", 801, 801 + 256 + 2570}};
  for (const Row& r : rows) {
    ParamStore ps;
    auto model = make_image_classifier({.arch = r.arch}, Scope(ps, "model."));
    auto counted = model->counted_parameters(ps);
    CHECK(counted.first == r.counted);
    CHECK(counted.second == r.counted_n);
    CHECK(ps.count() == r.total);
    MESSAGE(std::string(r.arch) << ": " << ps.count() << " parameters in total; " << counted.first << " = " << counted.second << "  ("
                   << model->describe() << ")");
  }
  ParamStore ps;
  MnistFC coord(Scope(ps, "m."), true);
  CHECK(ps.count("m.coord.") == 801);
  CHECK(coord.coordinates().shape() == Shape{200704, 4});
  // Row p*256 + h: pixel p = (x, y) on the 28x28 grid, hidden unit h on 16x16, in [-1, 1].
  const Tensor& c = coord.coordinates();
  i64 r = (27 * 28 + 0) * 256 + (15 * 16 + 15);  // pixel (x=0, y=27), hidden (x=15, y=15)
  CHECK(c.at(r * 4 + 0) == -1.0);
  CHECK(c.at(r * 4 + 1) == 1.0);
  CHECK(c.at(r * 4 + 2) == 1.0);
  CHECK(c.at(r * 4 + 3) == 1.0);
}

TEST_CASE("bad channel counts and unknown archs name what is wrong") {
  ParamStore ps;
  KernelHyperNetwork hyper(Scope(ps, "hyper."), 4, 16, 16, 3);
  CHECK_THROWS_WITH_AS(HyperConv2d(Scope(ps, "net.conv3."), hyper, 24, 32), doctest::Contains("'net.conv3': 24 input and 32 output"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(HyperConv2d(Scope(ps, "net.conv4."), hyper, 32, 40), doctest::Contains("net.conv4"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(make_image_classifier({.arch = "resnet"}, Scope(ps, "x.")),
                       doctest::Contains("'resnet'; valid: conv, hyperconv, fc, coord-hyperfc"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(MnistFC(Scope(ps, "y."), true, 200), doctest::Contains("hidden=200"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(MnistFC(Scope(ps, "z."), true, 256, "glorot"), doctest::Contains("coord_init"), std::invalid_argument);
}

TEST_CASE("coord-hyperfc's two initialisations: nn.Linear's uniform, He normal with biases spread over [-1, 1]") {
  for (const char* init : {"uniform", "he"}) {
    CAPTURE(init);
    ParamStore ps;
    MnistFC fc(Scope(ps, "m."), true, 256, init);
    Rng rng(3);
    ps.finalize(rng);
    const Tensor b1 = ps.value(ps.index("m.coord.fc1.bias"));  // 25 biases, fan-in 4
    const Tensor w2 = ps.value(ps.index("m.coord.fc2.weight"));  // 25 x 25, fan-in 25
    double bmax = 0, wss = 0;
    for (i64 i = 0; i < b1.numel(); ++i) bmax = std::max(bmax, std::abs(double(b1.at(i))));
    for (i64 i = 0; i < w2.numel(); ++i) wss += double(w2.at(i)) * w2.at(i);
    const double wrms = std::sqrt(wss / double(w2.numel()));
    if (std::string(init) == "uniform") {
      CHECK(bmax <= 0.5);                                    // U(-1/sqrt(4), 1/sqrt(4))
      CHECK(wrms == doctest::Approx(0.2 / std::sqrt(3.0)).epsilon(0.15));  // U(-0.2, 0.2)
    } else {
      CHECK(bmax > 0.5);
      CHECK(bmax <= 1.0);                                    // U(-1, 1)
      CHECK(wrms == doctest::Approx(std::sqrt(2.0 / 25)).epsilon(0.15));  // N(0, 2 / fan_in)
    }
  }
}

TEST_CASE("every model: [3, 10] logits from 3 images, and one backward reaches every parameter") {
  for (const char* arch : {"conv", "hyperconv", "fc", "coord-hyperfc"}) {
    CAPTURE(arch);
    ParamStore ps;
    auto model = make_image_classifier({.arch = arch}, Scope(ps, "model."));
    Rng rng(6);
    ps.finalize(rng);
    Tensor images = random_tensor({3, 1, 28, 28}, rng, 0, 1, DType::F32);
    Tensor targets = i32_tensor({3, 7, 0}, {3});
    Tape t;
    Var logits = model->forward(t, ps, t.input(images), true, rng);
    REQUIRE(logits.shape() == Shape{3, 10});
    bool finite = true;
    for (i64 i = 0; i < 30; ++i) finite = finite && std::isfinite(logits.value().at(i));
    CHECK(finite);
    ps.zero_grad();
    t.backward(softmax_cross_entropy(t, logits, targets));
    for (int p = 0; p < ps.size(); ++p) {
      Tensor g = ps.grad(p);
      bool nonzero = false;
      for (i64 k = 0; k < g.numel() && !nonzero; ++k) nonzero = g.at(k) != 0.0;
      CHECK_MESSAGE(nonzero, std::string(arch) << ": no gradient on " << ps.name(p));
    }
    auto kernels = model->kernels(ps);
    if (std::string(arch).find("conv") != std::string::npos) {
      REQUIRE(kernels.size() == 1);
      CHECK(kernels[0].second.shape() == Shape{16, 16, 7, 7});
    } else {
      CHECK(kernels.empty());
    }
  }
}

TEST_CASE("whole models against central differences (double, small sizes)") {
  Rng rng(8);
  Tensor images = random_tensor({2, 1, 28, 28}, rng, 0, 1);
  for (bool hyper : {false, true}) {
    ParamStore ps(DType::F64);
    MnistConvNet net(Scope(ps, "net."), hyper, 2, 2, 3);
    ps.finalize(rng);
    randomise(ps, rng);
    Rng unused(0);
    i64 bad = param_gradient_mismatches(hyper ? "hyperconv" : "conv", ps,
                                        [&](Tape& t) { return net.forward(t, ps, t.input(images), true, unused); });
    CHECK(bad == 0);
  }
  ParamStore ps(DType::F64);
  MnistFC fc(Scope(ps, "fc."), true, 4);
  ps.finalize(rng);
  Rng unused(0);
  CHECK(param_gradient_mismatches("coord-hyperfc", ps, [&](Tape& t) { return fc.forward(t, ps, t.input(images), true, unused); }) == 0);
}

TEST_CASE("notebook initialisation: generator weights tn(0.01), biases 0, z mean 0.01 std 1") {
  ParamStore ps;
  MnistConvNet net(Scope(ps, "m."), true);
  Rng rng(9);
  ps.finalize(rng);
  auto stats = [&](const std::string& name) {
    Tensor v = ps.value(ps.index(name));
    double m = 0, s = 0, mx = 0;
    for (i64 i = 0; i < v.numel(); ++i) m += v.at(i) / double(v.numel());
    for (i64 i = 0; i < v.numel(); ++i) {
      s += (v.at(i) - m) * (v.at(i) - m) / double(v.numel());
      mx = std::max(mx, std::fabs(v.at(i)));
    }
    return std::make_tuple(m, std::sqrt(s), mx);
  };
  auto [m_out, s_out, mx_out] = stats("m.hyper.w_out");
  CHECK(s_out == doctest::Approx(0.0088).epsilon(0.1));  // std of N(0, 0.01) truncated at 2 std
  CHECK(mx_out <= 0.02);
  CHECK(std::get<2>(stats("m.hyper.b_in")) == 0.0);
  CHECK(std::get<2>(stats("m.hyper.b_out")) == 0.0);
  CHECK(ps.init(ps.index("m.conv2.z")).a == 0.01);  // mean
  CHECK(ps.init(ps.index("m.conv2.z")).b == 1.0);   // std
  // Scale of the generated kernel at init vs the learned net's He-uniform kernel.
  auto k = net.kernels(ps)[0].second;
  double rms = 0;
  for (i64 i = 0; i < k.numel(); ++i) rms += k.at(i) * k.at(i) / double(k.numel());
  MESSAGE("generated conv2 kernel at init: rms " << std::sqrt(rms) << " (He-uniform conv2 would have rms " << std::sqrt(2.0 / 784.0)
                                                  << ")");
}
