#include "models/beam_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "engine/params.h"

namespace ht {

namespace {

// Sources padded into [S, N] (pad 0) with their lengths.
void source_batch(const std::vector<Ids>& sources, Tensor& x, Tensor& lengths) {
  const i64 N = i64(sources.size());
  i64 S = 1;
  for (auto& s : sources) {
    if (s.empty()) throw std::invalid_argument("decoding: an empty source sentence (translate it as an empty line instead)");
    S = std::max(S, i64(s.size()));
  }
  x = Tensor::zeros({S, N}, DType::I32);
  lengths = Tensor::empty({N}, DType::I32);
  for (i64 n = 0; n < N; ++n) {
    for (std::size_t s = 0; s < sources[std::size_t(n)].size(); ++s) x.data<std::int32_t>()[i64(s) * N + n] = sources[std::size_t(n)][s];
    lengths.data<std::int32_t>()[n] = std::int32_t(sources[std::size_t(n)].size());
  }
}

// The encoder's tensors (owned copies), each source row repeated `k` times.
struct EncodedRows {
  Tensor states, keys, lengths;
};

EncodedRows encode_rows(const Seq2Seq& model, const ParamStore& ps, const std::vector<Ids>& sources, i64 k) {
  Tensor x, len;
  source_batch(sources, x, len);
  Tape t;
  Tape::NoGrad ng(t);
  EncoderOutput e = model.encode(t, ps, x, len, nullptr, false);
  const Tensor &st = e.states.value(), &ky = e.keys.value();
  const i64 N = st.dim(0), S = st.dim(1), E = st.dim(2), A = ky.dim(2);
  EncodedRows r;
  r.states = Tensor::empty({N * k, S, E}, st.dtype());
  r.keys = Tensor::empty({N * k, S, A}, ky.dtype());
  r.lengths = Tensor::empty({N * k}, DType::I32);
  for (i64 n = 0; n < N; ++n)
    for (i64 j = 0; j < k; ++j) {
      r.states.rows(n * k + j, n * k + j + 1).copy_from(st.rows(n, n + 1));
      r.keys.rows(n * k + j, n * k + j + 1).copy_from(ky.rows(n, n + 1));
      r.lengths.data<std::int32_t>()[n * k + j] = len.data<std::int32_t>()[n];
    }
  return r;
}

// One decoder step on a fresh tape: log-probabilities [R, V] copied out, the state advanced.
Tensor decode_step(const Seq2Seq& model, const ParamStore& ps, const EncodedRows& enc, const Tensor& previous, DecoderState& state,
                   Tape& t, Tensor* attention) {
  t.reset();
  Tape::NoGrad ng(t);
  EncoderOutput e;
  e.states = t.input(enc.states);
  e.keys = t.input(enc.keys);
  e.lengths = enc.lengths;
  return model.step(t, ps, e, previous, state, attention).value();
}

i64 max_length(const Ids& source, const SearchOptions& opt) {
  return std::max<i64>(1, i64(std::floor(opt.max_ratio * double(source.size()))) + opt.max_extra);
}

}  // namespace

double length_penalty(std::int64_t length, double alpha) { return std::pow((5.0 + double(length)) / 6.0, alpha); }

std::vector<Ids> greedy_search(const Seq2Seq& model, const ParamStore& ps, const std::vector<Ids>& sources, const SearchOptions& opt) {
  const i64 N = i64(sources.size());
  std::vector<Ids> out(static_cast<std::size_t>(N));
  if (N == 0) return out;
  const EncodedRows enc = encode_rows(model, ps, sources, 1);
  DecoderState state = model.zero_state(N, ps.dtype());
  Tensor previous = Tensor::full({N}, model.spec().bos, DType::I32);
  std::vector<char> done(static_cast<std::size_t>(N), 0);
  i64 limit = 0, left = N;
  for (auto& s : sources) limit = std::max(limit, max_length(s, opt));
  Tape t;
  for (i64 step = 0; step < limit && left > 0; ++step) {
    const Tensor logp = decode_step(model, ps, enc, previous, state, t, nullptr);
    const i64 V = logp.dim(1);
    for (i64 n = 0; n < N; ++n) {
      if (done[std::size_t(n)]) continue;
      i64 best = 0;
      for (i64 v = 1; v < V; ++v)
        if (logp.at(n * V + v) > logp.at(n * V + best)) best = v;
      previous.data<std::int32_t>()[n] = std::int32_t(best);
      if (best == model.spec().eos) {
        done[std::size_t(n)] = 1, --left;
        continue;
      }
      out[std::size_t(n)].push_back(std::int32_t(best));
      if (step + 1 >= max_length(sources[std::size_t(n)], opt)) done[std::size_t(n)] = 1, --left;
    }
  }
  return out;
}

std::vector<Ids> beam_search(const Seq2Seq& model, const ParamStore& ps, const std::vector<Ids>& sources, const SearchOptions& opt) {
  if (opt.beam < 1) throw std::invalid_argument("beam_search: the beam must be at least 1, got " + std::to_string(opt.beam));
  const i64 N = i64(sources.size()), K = opt.beam;
  std::vector<Ids> out(static_cast<std::size_t>(N));
  if (N == 0) return out;
  const EncodedRows enc = encode_rows(model, ps, sources, K);
  const i64 R = N * K, S = enc.states.dim(1);
  const double kDead = -std::numeric_limits<double>::infinity();
  DecoderState state = model.zero_state(R, ps.dtype());
  Tensor previous = Tensor::full({R}, model.spec().bos, DType::I32);
  std::vector<double> score(static_cast<std::size_t>(R), kDead);  // log P of each live row's hypothesis
  for (i64 n = 0; n < N; ++n) score[std::size_t(n * K)] = 0;      // one live hypothesis to start
  std::vector<Ids> words(static_cast<std::size_t>(R));
  const bool coverage = opt.beta != 0;
  std::vector<double> cover(coverage ? std::size_t(R * S) : 0, 0.0);
  struct Finished { Ids words; double value; };
  std::vector<std::vector<Finished>> finished(static_cast<std::size_t>(N));
  std::vector<char> done(static_cast<std::size_t>(N), 0);
  auto finish = [&](i64 n, i64 row, const Ids& w, double logp, i64 length) {
    double v = logp / length_penalty(length, opt.alpha);
    if (coverage) {
      const i64 len = enc.lengths.data<std::int32_t>()[row];
      for (i64 j = 0; j < len; ++j) v += opt.beta * std::log(std::min(cover[std::size_t(row * S + j)], 1.0));
    }
    finished[std::size_t(n)].push_back({w, v});
  };
  i64 limit = 0, left = N;
  for (auto& s : sources) limit = std::max(limit, max_length(s, opt));
  Tape t;
  Tensor attention;
  struct Cand { double score; i64 k, v; };
  std::vector<Cand> cand;
  std::vector<i64> from(static_cast<std::size_t>(R));
  for (i64 step = 0; step < limit && left > 0; ++step) {
    const Tensor logp = decode_step(model, ps, enc, previous, state, t, coverage ? &attention : nullptr);
    const i64 V = logp.dim(1);
    if (coverage)
      for (i64 r = 0; r < R; ++r)
        for (i64 j = 0; j < S; ++j) cover[std::size_t(r * S + j)] += attention.at(r * S + j);
    std::vector<double> next_score(score);
    std::vector<Ids> next_words(words);
    for (i64 r = 0; r < R; ++r) from[std::size_t(r)] = r;
    for (i64 n = 0; n < N; ++n) {
      if (done[std::size_t(n)]) continue;
      cand.clear();
      for (i64 k = 0; k < K; ++k) {
        const i64 row = n * K + k;
        if (score[std::size_t(row)] == kDead) continue;
        for (i64 v = 0; v < V; ++v) cand.push_back({score[std::size_t(row)] + logp.at(row * V + v), k, v});
      }
      const std::size_t top = std::min<std::size_t>(cand.size(), std::size_t(2 * K));
      auto better = [](const Cand& a, const Cand& b) {
        return a.score > b.score || (a.score == b.score && (a.k < b.k || (a.k == b.k && a.v < b.v)));
      };
      std::partial_sort(cand.begin(), cand.begin() + std::ptrdiff_t(top), cand.end(), better);
      i64 live = 0;
      const bool at_limit = step + 1 >= max_length(sources[std::size_t(n)], opt);
      for (std::size_t c = 0; c < top && live < K; ++c) {
        const Cand& x = cand[c];
        const i64 row = n * K + x.k;
        if (x.v == model.spec().eos) {
          if (i64(c) < K) finish(n, row, words[std::size_t(row)], x.score, i64(words[std::size_t(row)].size()) + 1);
          continue;
        }
        const i64 dst = n * K + live++;
        from[std::size_t(dst)] = row;
        next_score[std::size_t(dst)] = x.score;
        next_words[std::size_t(dst)] = words[std::size_t(row)];
        next_words[std::size_t(dst)].push_back(std::int32_t(x.v));
        previous.data<std::int32_t>()[dst] = std::int32_t(x.v);
      }
      for (i64 k = live; k < K; ++k) next_score[std::size_t(n * K + k)] = kDead;
      if (i64(finished[std::size_t(n)].size()) >= K || live == 0) {
        done[std::size_t(n)] = 1, --left;
      } else if (at_limit) {  // the length limit: the live hypotheses finish as they are
        for (i64 k = 0; k < live; ++k)
          finish(n, n * K + k, next_words[std::size_t(n * K + k)], next_score[std::size_t(n * K + k)],
                 i64(next_words[std::size_t(n * K + k)].size()));
        done[std::size_t(n)] = 1, --left;
      }
    }
    // Rows take the state (and coverage) of the hypothesis they continue.
    bool identity = true;
    for (i64 r = 0; r < R; ++r) identity = identity && from[std::size_t(r)] == r;
    if (!identity) {
      for (auto& layer : state)
        for (auto& x : layer) {
          Tensor old = x.clone();
          for (i64 r = 0; r < R; ++r) x.rows(r, r + 1).copy_from(old.rows(from[std::size_t(r)], from[std::size_t(r)] + 1));
        }
      if (coverage) {
        std::vector<double> old(cover);
        for (i64 r = 0; r < R; ++r)
          std::memcpy(&cover[std::size_t(r * S)], &old[std::size_t(from[std::size_t(r)] * S)], std::size_t(S) * sizeof(double));
      }
    }
    score.swap(next_score);
    words.swap(next_words);
  }
  for (i64 n = 0; n < N; ++n) {
    auto& f = finished[std::size_t(n)];
    if (f.empty()) continue;
    std::size_t best = 0;
    for (std::size_t i = 1; i < f.size(); ++i)
      if (f[i].value > f[best].value) best = i;
    out[std::size_t(n)] = f[best].words;
  }
  return out;
}

}  // namespace ht
