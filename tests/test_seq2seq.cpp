// The attention encoder-decoder (models/seq2seq.h) and its decoding (models/beam_search.h): the
// attention ops and the whole model against central differences in double; padding changes
// nothing at a real position (a padded batch equals each sentence alone); beam search of width
// 1 is greedy search; the fused and reference paths agree.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/ops/attention.h"
#include "engine/params.h"
#include "models/beam_search.h"
#include "models/seq2seq.h"
#include "tests/check.h"

using namespace ht;
using ht::test::check_gradients;
using ht::test::random_tensor;

namespace {

Seq2SeqSpec tiny_spec(const std::string& cell, int layers) {
  Seq2SeqSpec s;
  s.cell.kind = cell.find("hyper") != std::string::npos ? CellKind::HyperLSTM : CellKind::LSTM;
  s.cell.layer_norm = cell.rfind("ln-", 0) == 0;
  s.cell.hidden = 5;
  s.cell.hyper = 3;
  s.cell.embed = 2;
  s.source_vocab = 11;
  s.target_vocab = 9;
  s.embed = 4;
  s.attention = 3;
  s.encoder_layers = layers;
  s.decoder_layers = layers;
  return s;
}

Tensor ids(const std::vector<std::vector<std::int32_t>>& cols, i64 rows) {
  const i64 B = i64(cols.size());
  Tensor t = Tensor::zeros({rows, B}, DType::I32);
  for (i64 b = 0; b < B; ++b)
    for (std::size_t i = 0; i < cols[std::size_t(b)].size(); ++i) t.data<std::int32_t>()[i64(i) * B + b] = cols[std::size_t(b)][i];
  return t;
}

Tensor lengths(const std::vector<std::vector<std::int32_t>>& cols) {
  Tensor t = Tensor::empty({i64(cols.size())}, DType::I32);
  for (std::size_t b = 0; b < cols.size(); ++b) t.data<std::int32_t>()[b] = std::int32_t(cols[b].size());
  return t;
}

const std::vector<std::vector<std::int32_t>> kSources = {{3, 4, 5, 6, 7}, {8, 9}, {10, 3, 5}};
const std::vector<std::vector<std::int32_t>> kTargets = {{3, 4, 2}, {5, 6, 7, 8, 2}, {4, 2}};  // </s> = 2 last

}  // namespace

TEST_CASE("additive attention scores and the masked softmax: gradients in double, padding gets exactly 0") {
  Rng rng(3);
  check_gradients("additive_scores",
                  [](Tape& t, const std::vector<Var>& v) { return additive_scores(t, v[0], v[1], v[2]); },
                  {random_tensor({2, 4, 3}, rng), random_tensor({2, 3, 3}, rng), random_tensor({3}, rng)});
  Tensor len = Tensor::empty({2}, DType::I32);
  len.data<std::int32_t>()[0] = 4;
  len.data<std::int32_t>()[1] = 2;
  check_gradients("masked_softmax", [&](Tape& t, const std::vector<Var>& v) { return masked_softmax(t, v[0], len); },
                  {random_tensor({2, 3, 4}, rng, -2, 2)});
  Tape t;
  Var p = masked_softmax(t, t.input(random_tensor({2, 3, 4}, rng)), len);
  for (i64 i = 0; i < 3; ++i) {
    double s0 = 0, s1 = 0;
    for (i64 j = 0; j < 4; ++j) s0 += p.value().at(i * 4 + j), s1 += p.value().at(12 + i * 4 + j);
    CHECK(s0 == doctest::Approx(1));
    CHECK(s1 == doctest::Approx(1));
    CHECK(p.value().at(12 + i * 4 + 2) == 0);
    CHECK(p.value().at(12 + i * 4 + 3) == 0);
  }
  Tensor bad = Tensor::zeros({2}, DType::I32);
  CHECK_THROWS_WITH(masked_softmax(t, t.input(random_tensor({2, 3, 4}, rng)), bad), doctest::Contains("length 0 of row 0 outside [1, 4]"));
  CHECK_THROWS_WITH(additive_scores(t, t.input(random_tensor({2, 4, 3}, rng)), t.input(random_tensor({2, 3, 2}, rng)),
                                    t.input(random_tensor({3}, rng))),
                    doctest::Contains("additive_scores"));
}

TEST_CASE("encoder-decoder loss: every parameter's gradient against central differences in double") {
  for (const std::string cell : {"lstm", "ln-hyperlstm"}) {
    for (bool fused : {true, false}) {
      ParamStore ps(DType::F64);
      Seq2SeqSpec spec = tiny_spec(cell, 3);  // 3 layers: the residual of the third layer is in the graph
      spec.fused = fused;
      Seq2Seq m(Scope(ps), spec);
      Rng rng(7);
      ps.finalize(rng);
      // Move every parameter off its special initial value (zeros, the hyper cell's constants).
      for (i64 i = 0; i < ps.flat_values().numel(); ++i) ps.flat_values().data<double>()[i] += 0.05 * rng.normal();
      const Tensor x = ids(kSources, 5), xl = lengths(kSources), y = ids(kTargets, 5), yl = lengths(kTargets);
      const i64 bad = ht::test::param_gradient_mismatches(cell + (fused ? " fused" : " reference"), ps, [&](Tape& t) {
        return m.loss(t, ps, x, xl, y, yl, nullptr, false);
      });
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("padding changes nothing: a padded batch equals each sentence alone") {
  for (const std::string cell : {"lstm", "ln-hyperlstm"}) {
    for (bool fused : {true, false}) {
      ParamStore ps(DType::F64);
      Seq2SeqSpec spec = tiny_spec(cell, 3);
      spec.fused = fused;
      Seq2Seq m(Scope(ps), spec);
      Rng rng(11);
      ps.finalize(rng);
      for (i64 i = 0; i < ps.flat_values().numel(); ++i) ps.flat_values().data<double>()[i] += 0.05 * rng.normal();
      // Padding ids are real words here (not 0), so a leak would show.
      Tensor x = ids(kSources, 7), y = ids(kTargets, 6);
      for (i64 i = 0; i < x.numel(); ++i)
        if (x.data<std::int32_t>()[i] == 0) x.data<std::int32_t>()[i] = 9;
      Tensor xl = lengths(kSources), yl = lengths(kTargets);
      Tensor in = Tensor::empty({6, 3}, DType::I32);  // decoder inputs: <s> then the targets shifted
      for (i64 b = 0; b < 3; ++b) {
        in.data<std::int32_t>()[b] = 1;
        for (i64 i = 1; i < 6; ++i) in.data<std::int32_t>()[i * 3 + b] = y.data<std::int32_t>()[(i - 1) * 3 + b] == 0 ? 7 : y.data<std::int32_t>()[(i - 1) * 3 + b];
      }
      Tape t;
      Tape::NoGrad ng(t);
      Var top = m.decode(t, ps, m.encode(t, ps, x, xl, nullptr, false), in, nullptr, false);
      for (i64 b = 0; b < 3; ++b) {
        const i64 S = i64(kSources[std::size_t(b)].size()), T = i64(kTargets[std::size_t(b)].size());
        Tensor x1 = Tensor::empty({S, 1}, DType::I32), in1 = Tensor::empty({T, 1}, DType::I32), l1 = Tensor::full({1}, double(S), DType::I32);
        for (i64 i = 0; i < S; ++i) x1.data<std::int32_t>()[i] = kSources[std::size_t(b)][std::size_t(i)];
        for (i64 i = 0; i < T; ++i) in1.data<std::int32_t>()[i] = in.data<std::int32_t>()[i * 3 + b];
        Tape t1;
        Tape::NoGrad ng1(t1);
        Var alone = m.decode(t1, ps, m.encode(t1, ps, x1, l1, nullptr, false), in1, nullptr, false);
        Tensor batched = Tensor::empty({T, spec.cell.hidden}, DType::F64);
        for (i64 i = 0; i < T; ++i)
          for (i64 h = 0; h < spec.cell.hidden; ++h) batched.data<double>()[i * spec.cell.hidden + h] = top.value().at((i * 3 + b) * spec.cell.hidden + h);
        ht::test::check_close(cell + " sentence " + std::to_string(b), batched, alone.value(), 1e-12, 1e-10);
      }
      // The loss of the batch is the token-weighted mean of the sentences' own.
      double total = 0, tokens = 0;
      for (i64 b = 0; b < 3; ++b) {
        const auto src = std::vector<std::vector<std::int32_t>>{kSources[std::size_t(b)]}, tgt = std::vector<std::vector<std::int32_t>>{kTargets[std::size_t(b)]};
        Tape t1;
        total += m.loss(t1, ps, ids(src, i64(src[0].size())), lengths(src), ids(tgt, i64(tgt[0].size())), lengths(tgt), nullptr, false).value().item() *
                 double(tgt[0].size());
        tokens += double(tgt[0].size());
      }
      Tape t2;
      CHECK(m.loss(t2, ps, x, xl, y, yl, nullptr, false).value().item() == doctest::Approx(total / tokens).epsilon(1e-12));
      // Decoding a batch gives each sentence's own translation.
      SearchOptions o;
      o.beam = 3;
      auto together = beam_search(m, ps, kSources, o);
      for (std::size_t b = 0; b < kSources.size(); ++b) CHECK(beam_search(m, ps, {kSources[b]}, o)[0] == together[b]);
    }
  }
}

TEST_CASE("fused and reference paths agree in float") {
  for (const std::string cell : {"lstm", "ln-lstm", "hyperlstm", "ln-hyperlstm"}) {
    ParamStore ps;
    Seq2Seq m(Scope(ps), tiny_spec(cell, 3));
    Rng rng(5);
    ps.finalize(rng);
    const Tensor x = ids(kSources, 5), xl = lengths(kSources), y = ids(kTargets, 5), yl = lengths(kTargets);
    Tape a, b;
    const double fused = m.loss(a, ps, x, xl, y, yl, nullptr, false).value().item();
    m.set_fused(false);
    const double ref = m.loss(b, ps, x, xl, y, yl, nullptr, false).value().item();
    CHECK(fused == doctest::Approx(ref).epsilon(1e-5));
  }
}

TEST_CASE("beam search of width 1 is greedy search; wider beams and GNMT's length penalty") {
  for (const std::string cell : {"lstm", "ln-hyperlstm"}) {
    ParamStore ps;
    Seq2SeqSpec spec = tiny_spec(cell, 2);
    spec.cell.hidden = 16;
    Seq2Seq m(Scope(ps), spec);
    Rng rng(9);
    ps.finalize(rng);
    for (i64 i = 0; i < ps.flat_values().numel(); ++i) ps.flat_values().data<float>()[i] += float(0.3 * rng.normal());
    // A random model may end every sentence at once; </s> made less likely keeps the comparisons
    // below about real outputs.
    const int out_b = ps.find("out_b");
    REQUIRE(out_b >= 0);
    ps.value(out_b).data<float>()[spec.eos] -= 3.0f;
    std::vector<Ids> sources;
    for (int n = 0; n < 12; ++n) {
      Ids s;
      for (int k = 0; k < 1 + n % 6; ++k) s.push_back(std::int32_t(3 + rng.below(8)));
      sources.push_back(s);
    }
    SearchOptions o;
    o.max_extra = 6;
    auto greedy = greedy_search(m, ps, sources, o);
    auto beam1 = beam_search(m, ps, sources, o);
    std::size_t words = 0;
    for (std::size_t n = 0; n < sources.size(); ++n) {
      CHECK(beam1[n] == greedy[n]);
      words += greedy[n].size();
      CHECK(i64(greedy[n].size()) <= 2 * i64(sources[n].size()) + 6);  // the length limit
      for (auto w : greedy[n]) CHECK(w != spec.eos);
    }
    CHECK(words > 0);
    o.beam = 4;
    auto beam4 = beam_search(m, ps, sources, o);
    CHECK(beam4.size() == sources.size());
    o.beta = 0.2;  // with the coverage penalty
    CHECK(beam_search(m, ps, sources, o).size() == sources.size());
  }
  CHECK(length_penalty(1, 0.6) == doctest::Approx(1));
  CHECK(length_penalty(10, 0.6) == doctest::Approx(std::pow(15.0 / 6.0, 0.6)));
  CHECK(length_penalty(10, 0) == 1);
}

TEST_CASE("model errors name what is wrong") {
  ParamStore ps;
  Seq2SeqSpec s = tiny_spec("lstm", 2);
  s.decoder_layers = 1;
  CHECK_THROWS_WITH(Seq2Seq(Scope(ps), s), doctest::Contains("decoder_layers must be at least 2"));
  s = tiny_spec("lstm", 2);
  s.residual_from = 1;
  CHECK_THROWS_WITH(Seq2Seq(Scope(ps), s), doctest::Contains("residual_from must be at least 2"));
  ParamStore ok;
  Seq2Seq m(Scope(ok), tiny_spec("lstm", 2));
  Rng rng(1);
  ok.finalize(rng);
  Tape t;
  Tensor x = ids(kSources, 5), zero = Tensor::zeros({3}, DType::I32);
  CHECK_THROWS_WITH(m.encode(t, ok, x, zero, nullptr, false), doctest::Contains("source length 0 of column 0 outside [1, 5]"));
  CHECK_THROWS_WITH(greedy_search(m, ok, {Ids{}}, SearchOptions{}), doctest::Contains("empty source sentence"));
}
