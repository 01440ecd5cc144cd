#include "cli/image_task.h"

#include "engine/ops/loss.h"
#include "models/mnist_models.h"

namespace ht {

ImageTask::ImageTask(const Json& cfg, bool load_data) : cfg_(cfg), batch_(cfg["train"]["batch"].get<i64>()) {
  if (batch_ <= 0) throw std::invalid_argument("train.batch must be positive, got " + std::to_string(batch_));
  if (!load_data) return;
  std::string which = cfg["data"].get<std::string>();
  if (which != "mnist" && which != "fashion-mnist")
    throw std::invalid_argument("config key 'data' must be mnist or fashion-mnist for the image task, got '" + which + "'");
  data_ = std::make_unique<MnistSplits>(load_mnist(which, cfg["data_dir"].get<std::string>(), cfg["train"]["valid_size"].get<i64>()));
  batcher_ = std::make_unique<ImageBatcher>(data_->train, batch_, cfg["train"]["seed"].get<std::uint64_t>(), true,
                                            cfg["train"]["augment"].get<bool>());
}

void ImageTask::build(ParamStore& ps) {
  const Json& m = cfg_["model"];
  ImageModelSpec spec;
  spec.arch = m["arch"].get<std::string>();
  spec.nz = m["nz"].get<i64>();
  spec.channels = m["channels"].get<i64>();
  spec.f = m["f"].get<i64>();
  spec.hidden = m["hidden"].get<i64>();
  model_ = make_image_classifier(spec, Scope(ps));
}

i64 ImageTask::steps_per_epoch() const { return batcher_ ? batcher_->batches_per_epoch() : 1; }

Var ImageTask::loss(Tape& t, const ParamStore& ps, i64 step, Rng& rng) {
  i64 bpe = batcher_->batches_per_epoch();
  batcher_->get(step / bpe, step % bpe, images_, labels_);
  Tensor y = Tensor::wrap(labels_.data(), {i64(labels_.size())}, DType::I32);
  Var logits = model_->forward(t, ps, t.input(images_), true, rng);
  return softmax_cross_entropy(t, logits, y);
}

EvalResult ImageTask::evaluate(const ParamStore& ps, const std::string& split, bool) {
  const ImageSet* set = split == "train" ? &data_->train : split == "valid" ? &data_->valid : split == "test" ? &data_->test : nullptr;
  if (!set) throw std::invalid_argument("unknown split '" + split + "' (train, valid, test)");
  EvalResult r;
  double total_loss = 0;
  i64 wrong = 0;
  Tape t;
  Rng unused(0);
  for_each_batch(*set, cfg_["train"]["eval_batch"].get<i64>(), [&](const ImageSet& part, i64) {
    t.reset();
    Tape::NoGrad ng(t);
    Var logits = model_->forward(t, ps, t.input(part.images), false, unused);
    Tensor L = logits.value();
    i64 n = part.size(), C = L.dim(1);
    std::vector<double> rows(static_cast<std::size_t>(n));
    std::vector<std::int32_t> labels = part.labels;
    softmax_cross_entropy_rows(L, Tensor::wrap(labels.data(), {n}, DType::I32), rows.data());
    for (i64 i = 0; i < n; ++i) {
      total_loss += rows[std::size_t(i)];
      i64 best = 0;
      for (i64 c = 1; c < C; ++c)
        if (L.at(i * C + c) > L.at(i * C + best)) best = c;
      wrong += best != part.labels[std::size_t(i)];
    }
    r.count += n;
  });
  r.loss = total_loss / double(r.count);
  r.metric = double(wrong) / double(r.count);
  return r;
}

std::string ImageTask::describe() const { return model_ ? model_->describe() : "unbuilt"; }

std::pair<std::string, i64> ImageTask::counted_parameters(const ParamStore& ps) const { return model_->counted_parameters(ps); }

}  // namespace ht
