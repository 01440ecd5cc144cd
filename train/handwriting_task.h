// Handwriting generation on IAM-OnDB (paper §4.5, A.3.5; Graves 2013 §4): an LSTM / HyperLSTM
// stack reads pen points (dx, dy, pen) and a mixture density layer predicts the next one.
//
// Training batches come from a StrokeSampler (data/samplers.h): `batch` training lines a step (a
// fresh seeded order every epoch), from each a window of `seq` points at a random offset (a line
// shorter than that whole, padded and weighted 0), from a zero state, with random scaling of dx
// and dy by up to ±train.augment. The loss is the mean negative log-likelihood per point.
// Evaluation reads every validation line whole, from its first point, the state carried across
// segments of eval_seq points; the headline number is the paper's: the log-loss per line (nats,
// summed over the line's points), here in our units (offsets divided by the training offsets'
// standard deviation, StrokeData::scale).
#pragma once
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "train/config.h"
#include "train/task.h"
#include "data/strokes.h"
#include "models/recurrent_stack.h"

namespace ht {

using StrokePoint = std::array<float, 3>;  // dx, dy, pen

// The model a handwriting config describes: the "model" block's cell, 3 dense inputs, 6M + 1
// outputs (M = model.mixtures; 20 reproduces the paper's parameter counts).
RecurrentStackSpec handwriting_spec(const Json& cfg);

class HandwritingTask : public Task {
 public:
  HandwritingTask(const Json& cfg, bool load_data = true);
  void build(ParamStore& ps) override;
  std::unique_ptr<Sampler> make_sampler(const Shard& shard, std::uint64_t seed) override;
  Var loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) override;
  // quick: the first train.eval_lines validation lines; otherwise all of them. A shard reads a
  // contiguous part of those lines.
  EvalSums evaluate_sums(const ParamStore& ps, const std::string& split, bool quick, const Shard& shard) override;
  Metric metric() const override { return {"logloss", false}; }  // nats per line
  const char* item_name() const override { return "points"; }
  std::vector<std::string> final_splits() const override { return {"valid"}; }
  std::string describe() const override;
  std::string data_source() const override { return data_ ? data_->source : ""; }
  std::pair<std::string, i64> counted_parameters(const ParamStore& ps) const override;
  void after_training(const ParamStore& ps, const std::string& run_dir) override;

  const RecurrentStack& model() const { return *model_; }
  const StrokeData& data() const { return *data_; }

 private:
  Json cfg_;
  i64 batch_, seq_;
  double augment_;
  std::unique_ptr<StrokeData> data_;
  std::unique_ptr<RecurrentStack> model_;
};

// Log-loss of `lines` read whole from a zero state, `batch` lines at a time (sorted by length),
// in segments of `seq` points with the state carried. Sums: loss = nats of every point after a
// line's first, items = those points, metric = the same nats, metric_items = lines.
EvalSums handwriting_evaluate(const RecurrentStack& model, const ParamStore& ps, const StrokeData& d, const std::vector<StrokeLine>& lines,
                                i64 batch, i64 seq);

// `length` points drawn from the model from a zero state, starting from the point (0, 0, 0);
// bias as in mdn_sample_row (0: the model's own distribution).
std::vector<StrokePoint> handwriting_sample(const RecurrentStack& model, const ParamStore& ps, i64 length, double bias, Rng& rng);

// The points of a line of the data set.
std::vector<StrokePoint> stroke_line(const StrokeData& d, const StrokeLine& l);

// The pictures of samples are drawn by plot_strokes (plot/plot.h).

// The raw numbers of `seqs` (points in the model's units, StrokeData::points) written to path,
// the format by its extension; dx and dy are multiplied by `scale` (StrokeData::scale), giving
// the data's own units: whiteboard coordinates, the offsets of ../shared/data/iam_ondb's
// points.i16le.gz as floats. pen_up is 1 on the last point of a stroke (the pen lifts after it),
// else 0, as that file's eos.
//   .json: a list with one object per sequence, {"title": titles[i], "points": [[dx, dy, pen_up], ...]}
//   .npy:  NumPy format 1.0, little-endian float32, shape [sequences, T, 3] with T the longest
//          sequence's length; the rows after a shorter sequence's end are NaN.
// Anything else throws std::invalid_argument naming the path. Written atomically.
void write_strokes(const std::string& path, const std::vector<std::string>& titles, const std::vector<std::vector<StrokePoint>>& seqs,
                   double scale);

}  // namespace ht
