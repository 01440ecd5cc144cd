#include "train/image_task.h"

#include "train/config_check.h"
#include "train/stop_signals.h"
#include "train/tasks.h"
#include "data/cifar10.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "models/mnist_models.h"

namespace ht {

ImageTask::ImageTask(const Json& cfg, bool load_data) : cfg_(cfg), batch_(cfg["train"]["batch"].get<i64>()) {
  if (batch_ <= 0) throw std::invalid_argument("train.batch must be positive, got " + std::to_string(batch_));
  if (!load_data) return;
  const std::string which = cfg["data"].get<std::string>(), dir = cfg["data_dir"].get<std::string>();
  const i64 n_valid = cfg["train"]["valid_size"].get<i64>();
  if (which == "mnist" || which == "fashion-mnist") data_ = std::make_unique<ImageSplits>(load_mnist(which, dir, n_valid));
  else if (which == "cifar10") data_ = std::make_unique<ImageSplits>(load_cifar10(dir, n_valid));
  else throw std::invalid_argument("config key 'data' must be mnist, fashion-mnist or cifar10 for the image task, got '" + which + "'");
  // What the data must hold for this config, checked before any step runs.
  const std::string in = which + " in " + data_->source;
  if (data_->train.size() < batch_)
    throw std::invalid_argument("config key 'train.batch' (= " + std::to_string(batch_) + ") exceeds the " +
                                std::to_string(data_->train.size()) + " training images of " + in + " (after train.valid_size = " +
                                std::to_string(n_valid) + " held out for validation)");
  if (data_->test.size() == 0) throw std::invalid_argument("the test split of " + in + " holds no images");
}

void ImageTask::build(ParamStore& ps) {
  const Json& m = cfg_["model"];
  ImageModelSpec spec;
  spec.arch = m["arch"].get<std::string>();
  spec.nz = m["nz"].get<i64>();
  spec.channels = m["channels"].get<i64>();
  spec.f = m["f"].get<i64>();
  spec.hidden = m["hidden"].get<i64>();
  spec.coord_init = m["coord_init"].get<std::string>();
  spec.depth = m["depth"].get<int>();
  spec.widen = m["widen"].get<int>();
  spec.hyper = m["hyper"].get<std::vector<std::string>>();
  spec.dropout = m["dropout"].get<double>();
  spec.in_channels = cfg_["data"] == "cifar10" ? 3 : 1;
  model_ = make_image_classifier(spec, Scope(ps));
}

std::unique_ptr<Sampler> ImageTask::make_sampler(const Shard& shard, std::uint64_t seed) {
  // The papers' augmentation: MNIST pad 1 and crop (§4.1); CIFAR-10 pad 4, crop and flip (§4.2).
  ImageAugment aug;
  if (cfg_["train"]["augment"].get<bool>()) aug = cfg_["data"] == "cifar10" ? ImageAugment{4, true} : ImageAugment{1, false};
  return std::make_unique<ImageSampler>(data_->train, batch_, seed, aug, shard);
}

Var ImageTask::loss(Tape& t, const ParamStore& ps, const Batch& batch, Rng& rng) {
  Var logits = model_->forward(t, ps, t.input(batch.x), true, rng);
  Var mean = softmax_cross_entropy(t, logits, batch.y);
  return batch.share == 1.0 ? mean : scale(t, mean, batch.share);
}

EvalSums ImageTask::evaluate_sums(const ParamStore& ps, const std::string& split, bool, const Shard& shard) {
  const ImageSet* whole = split == "train" ? &data_->train : split == "valid" ? &data_->valid : split == "test" ? &data_->test : nullptr;
  if (!whole) throw std::invalid_argument("unknown split '" + split + "' (train, valid, test)");
  const ImageSet set = whole->slice(shard.begin(whole->size()), shard.end(whole->size()));
  EvalSums r;
  double total_loss = 0;
  i64 wrong = 0;
  Tape t;
  Rng unused(0);
  for_each_batch(set, cfg_["train"]["eval_batch"].get<i64>(), [&](const ImageSet& part, i64) {
    check_stop();  // a signal may end a run's evaluation early (train/stop_signals.h)
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
    r.items += double(n);
  });
  r.loss = total_loss;
  r.metric = double(wrong);
  r.metric_items = r.items;
  return r;
}

std::string ImageTask::describe() const { return model_ ? model_->describe() : "unbuilt"; }

std::pair<std::string, i64> ImageTask::counted_parameters(const ParamStore& ps) const { return model_->counted_parameters(ps); }

// Every key the image task reads. The MNIST models read 28x28 single-channel images; the model
// is built once (shapes only) so an error in model.hyper or a size too large shows before any data
// is read.
static void check_image_config(const ConfigCheck& c) {
  const std::string data = c.one_of("data", {"mnist", "fashion-mnist", "cifar10"});
  const std::string arch = c.one_of("model.arch", {"conv", "hyperconv", "fc", "coord-hyperfc", "wrn"});
  if (data == "cifar10" && arch != "wrn") c.fail("model.arch", "is an MNIST model (28x28, one channel); data 'cifar10' needs arch 'wrn'");
  c.integer("model.nz", 1, kMaxWidth);
  c.integer("model.channels", 1, kMaxWidth);
  c.integer("model.f", 1, 28);
  c.integer("model.hidden", 1, kMaxWidth);
  c.one_of("model.coord_init", {"uniform", "he"});
  c.integer("model.depth", 10, 1000);
  c.integer("model.widen", 1, 64);
  if (!c.at("model.hyper").is_array()) c.fail("model.hyper", "must be an array of layer names");
  for (const Json& h : c.at("model.hyper"))
    if (!h.is_string()) c.fail("model.hyper", "must hold layer names (strings), found " + h.dump());
  c.probability("model.dropout");
  c.integer("train.batch", 1, kMaxBatch);
  c.integer("train.eval_batch", 1, kMaxBatch);
  c.boolean("train.augment");
  c.integer("train.valid_size", 1, 10'000'000);
  ImageTask task(c.cfg(), false);
  ParamStore ps;
  try {
    task.build(ps);
  } catch (const std::invalid_argument& e) {
    c.fail("model", std::string("does not describe a model: ") + e.what());
  }
  if (ps.count() > kMaxParameters)
    c.fail("model", "has " + std::to_string(ps.count()) + " parameters, above the limit of " + std::to_string(kMaxParameters));
}

extern const TaskKind kImageTask = {"image", R"({
  "data": "mnist",
  "model": {"arch": "conv", "nz": 4, "channels": 16, "f": 7, "hidden": 256, "coord_init": "uniform", "depth": 40, "widen": 1, "hyper": [], "dropout": 0.0},
  "train": {
    "batch": 1000, "steps": 5500, "eval_every": 55, "checkpoint_every": 550, "eval_batch": 1000,
    "clip": 0.0, "augment": true, "valid_size": 5000
  }
})", [](const Json& cfg, bool load_data) -> std::unique_ptr<Task> { return std::make_unique<ImageTask>(cfg, load_data); },
   check_image_config};

}  // namespace ht
