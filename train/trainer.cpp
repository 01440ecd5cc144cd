#include "train/trainer.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

#include "train/config_check.h"
#include "bench/machine.h"
#include "plot/plot.h"
#include "train/run_files.h"
#include "train/run_lock.h"
#include "train/stop_signals.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "engine/schedule.h"

namespace ht {

Json trainer_defaults() {
  return Json::parse(R"({
    "name": "",
    "data_dir": "",
    "train": {
      "optimizer": "adam", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
      "momentum": 0.9, "nesterov": false, "weight_decay": 0.0,
      "lr": {"type": "constant", "lr": 0.001},
      "patience": 0, "seed": 1, "threads": 0, "max_seconds": 0.0
    },
    "paper": {}
  })");
}

void check_trainer_config(const ConfigCheck& c) {
  c.text("name");
  c.text("data_dir");
  if (!c.at("paper").is_object()) c.fail("paper", "must be an object");
  c.one_of("train.optimizer", {"adam", "sgd"});
  for (const char* key : {"train.beta1", "train.beta2", "train.momentum"})
    if (c.number(key, 0, 1) == 1) c.fail(key, "must be below 1 (a running average that never moves)");
  if (c.number("train.eps", 0, 1) == 0) c.fail("train.eps", "must be above 0");
  c.boolean("train.nesterov");
  c.number("train.weight_decay", 0, std::numeric_limits<double>::infinity());
  try {
    make_schedule(c.at("train.lr"));
  } catch (const std::invalid_argument& e) {
    c.fail("train.lr", std::string("is not a learning-rate schedule: ") + e.what());
  }
  c.integer("train.patience", 0, kMaxSteps);
  c.integer("train.seed", 0, std::numeric_limits<i64>::max());
  c.integer("train.threads", 0, kMaxThreads);
  c.integer("train.steps", 1, kMaxSteps);
  c.integer("train.eval_every", 1, kMaxSteps);
  c.integer("train.checkpoint_every", 1, kMaxSteps);
  c.number("train.clip", 0, std::numeric_limits<double>::infinity());
  c.number("train.max_seconds", 0, std::numeric_limits<double>::infinity());
}

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const Json& tr, const ParamStore& ps) {
  std::string kind = tr["optimizer"].get<std::string>();
  if (kind == "adam") {
    AdamOptions o;
    o.beta1 = tr["beta1"].get<double>();
    o.beta2 = tr["beta2"].get<double>();
    o.eps = tr["eps"].get<double>();
    o.weight_decay = tr["weight_decay"].get<double>();
    return std::make_unique<Adam>(ps, o);
  }
  if (kind == "sgd") {
    SgdOptions o;
    o.momentum = tr["momentum"].get<double>();
    o.nesterov = tr["nesterov"].get<bool>();
    o.weight_decay = tr["weight_decay"].get<double>();
    return std::make_unique<SGD>(ps, o);
  }
  throw std::invalid_argument("config key 'train.optimizer' must be adam or sgd, got '" + kind + "'");
}

NamedTensors prefixed(const NamedTensors& in, const std::string& prefix) {
  NamedTensors out;
  for (auto& [name, t] : in) out.emplace_back(prefix + name, t);
  return out;
}

std::string fixed4(double v) { return (std::ostringstream() << std::fixed << std::setprecision(4) << v).str(); }

// One run: the state of the loop and the steps it takes, each a named function.
class Trainer {
 public:
  Trainer(const Json& cfg, Task& task, const TrainOptions& opt, Comm& comm)
      : cfg_(checked(cfg)), tr_(cfg["train"]), task_(task), opt_(opt), comm_(comm), dir_(opt.run_dir), metric_(task.metric()),
        total_steps_(tr_["steps"].get<i64>()), eval_every_(tr_["eval_every"].get<i64>()),
        ckpt_every_(tr_["checkpoint_every"].get<i64>()), patience_(tr_["patience"].get<i64>()),
        clip_(tr_["clip"].get<double>()), max_seconds_(tr_["max_seconds"].get<double>()), seed_(tr_["seed"].get<std::uint64_t>()),
        best_(metric_.worst()) {}

  // The loop: step, evaluate every eval_every steps, save every checkpoint_every, until
  // train.steps or, when train.max_seconds is set, until that much training time (the steps'
  // seconds, evaluations left out) has passed: the step that crosses it is the last. A signal
  // (stop_signals.h) ends it after the step under way: an evaluation (unless a second signal came),
  // a checkpoint, the resume hint.
  //
  // Across processes, every decision that leads to a collective call must come out the same on
  // every rank. A signal may reach one rank only, or the ranks at different steps, so at each
  // step's end the ranks agree on the largest signal count any of them has seen (a one-int
  // allreduce, twice: before and after the evaluation); they then stop at the same step and
  // rank 0 writes one checkpoint of the whole job.
  TrainSummary run() {
    StopSignals signals;
    set_stop_threshold(2);
    open();
    announce();
    while (step_ < total_steps_) {
      step();
      const bool last = step_ == total_steps_ || out_of_time();
      int stops = agreed_signals(signals);
      const bool signalled = stops > 0;
      if ((signalled || step_ % eval_every_ == 0 || last) && stops < 2) evaluate_unless_stopped();
      else if (!signalled) show_progress();
      // A signal that came during the evaluation stops the run here too.
      stops = agreed_signals(signals);
      if (step_ % ckpt_every_ == 0 || last || sum_.stopped_early || stops > 0) save(ckpt_path());
      if (stops > 0) {
        stop_for(agreed_first_signal_, "at step " + std::to_string(step_) + "; checkpoint saved");
        break;
      }
      if (sum_.stopped_early || last) break;
    }
    sum_.last_step = step_;
    sum_.best_metric = best_;
    sum_.best_step = best_step_;
    finish();
    return sum_;
  }

 private:
  static const Json& checked(const Json& cfg) {
    check_trainer_config(ConfigCheck(cfg, "the run's config"));
    return cfg;
  }
  // The signal count of this process alone, or across processes the largest any rank has seen
  // (and the first signal's number, the largest among the ranks').
  int agreed_signals(const StopSignals& signals) {
    int v[2] = {signals.count(), signals.first()};
    if (comm_.world() > 1) comm_.max(v, 2);
    agreed_first_signal_ = v[1];
    return v[0];
  }

  // Whether the time budget is spent; across processes the ranks' clocks differ, so rank 0 decides.
  bool out_of_time() {
    if (max_seconds_ <= 0) return false;
    int over = train_seconds_ >= max_seconds_ ? 1 : 0;
    if (comm_.world() > 1) comm_.broadcast(&over, sizeof over);
    if (over && !sum_.out_of_time && !opt_.quiet && comm_.root())
      std::fprintf(stderr, "time budget reached: %s of training (train.max_seconds %g) at step %lld\n", format_duration(train_seconds_).c_str(),
                   max_seconds_, (long long)step_);
    sum_.out_of_time = sum_.out_of_time || over;
    return over;
  }

  std::string ckpt_path() const { return dir_ + "/" + kLatestCheckpoint; }
  std::string best_path() const { return dir_ + "/" + kBestCheckpoint; }
  std::string metrics_path() const { return dir_ + "/metrics.jsonl"; }
  std::string metric_key() const { return "valid_" + metric_.name; }
  double step_items() const { return double(sampler_->items_per_step()); }
  double epoch_of(i64 step) const { return double(step) / double(sampler_->steps_per_epoch()); }

  // The run directory (new or resumed), the model, the optimizer, the sampler of this shard.
  // The root takes the directory's lock (run_lock.h) before it writes anything there, and holds
  // it until the run ends.
  void open() {
    if (comm_.root()) {
      make_dirs(dir_);
      lock_ = opt_.lock ? opt_.lock : std::make_shared<const RunLock>(dir_);
      if (!opt_.resume && !resume_checkpoint(dir_).empty())
        throw std::invalid_argument("run directory " + dir_ + " already holds a run; continue it with --resume " + dir_ +
                                    " or choose another --out");
      remove_tmp_files(dir_);  // under the lock, a .tmp is what a killed writer left
    }
    task_.build(ps_);
    Rng init_rng(seed_);
    ps_.finalize(init_rng);
    optimizer_ = make_optimizer(tr_, ps_);
    schedule_ = make_schedule(tr_["lr"]);
    rng_ = Rng(seed_ * 0x9E3779B97F4A7C15ull + 1);  // dropout and other draws during training (see step())
    task_.open_run_dir(dir_, comm_.root());
    sampler_ = task_.make_sampler(Shard{comm_.rank(), comm_.world()}, seed_);
    if (opt_.resume) resume();
    if (comm_.root()) {  // once the checkpoint agrees with the config: a resume records its new --steps, --threads, --data
      write_text_atomic(dir_ + "/config.json", cfg_.dump(2) + "\n");
      if (!opt_.resume) write_text_atomic(metrics_path(), "");
    }
    sum_.first_step = step_;
  }

  // HYPERTRAIN_TEST_FAULT=RANK:STEP:throw|kill makes rank RANK fail as step STEP starts: throw an
  // exception, or end itself with SIGKILL. Read only so tests/test_mpi.cpp can make one rank of a
  // job fail; nothing else sets it.
  void test_fault() {
    static const char* spec = std::getenv("HYPERTRAIN_TEST_FAULT");
    if (!spec) return;
    int rank = -1;
    long long step = -1;
    char kind[8] = {};
    if (std::sscanf(spec, "%d:%lld:%7s", &rank, &step, kind) != 3 || rank != comm_.rank() || step != step_) return;
    if (std::string(kind) == "kill") std::raise(SIGKILL);
    throw std::runtime_error("HYPERTRAIN_TEST_FAULT: a test fault at step " + std::to_string(step_));
  }

  // The task's carried state for the global batch: tensors whose dim 0 is every rank's streams in
  // rank order (the shards are contiguous and equal, train.batch dividing by the world), each
  // named "task." + the task's name. One process: the task's own tensors.
  NamedTensors global_carried_state() {
    NamedTensors out = prefixed(task_.carried_state(), "task.");
    if (comm_.world() == 1) return out;
    for (auto& [name, t] : out) {
      Shape s = t.shape();
      if (s.nd == 0) throw std::logic_error("carried state '" + name + "' has no stream dimension");
      s[0] *= comm_.world();
      t = Tensor::empty(s, t.dtype());
    }
    return out;
  }

  // Rank 0's global carried state from every rank's part (other ranks: an empty list).
  NamedTensors gather_carried_state() {
    if (comm_.world() == 1) return prefixed(task_.carried_state(), "task.");
    NamedTensors mine = task_.carried_state(), global;
    if (comm_.root()) global = global_carried_state();
    for (std::size_t i = 0; i < mine.size(); ++i)
      comm_.gather(mine[i].second.raw(), i64(mine[i].second.nbytes()), comm_.root() ? global[i].second.raw() : nullptr);
    return global;
  }

  // This rank's rows of the global carried state into the task's tensors.
  void scatter_carried_state(const NamedTensors& global) {
    if (comm_.world() == 1) return;  // restored in place
    NamedTensors mine = task_.carried_state();
    for (std::size_t i = 0; i < mine.size(); ++i) {
      const std::size_t bytes = mine[i].second.nbytes();
      std::memcpy(mine[i].second.raw(), static_cast<const char*>(global[i].second.raw()) + bytes * std::size_t(comm_.rank()), bytes);
    }
  }

  // The state of checkpoint.safetensors (or of an older run's checkpoint.bin, whose best.bin then
  // becomes best.safetensors); a run stopped before its first checkpoint starts again from step 0.
  //
  // Rank 0 alone reads the file; the other ranks get the parameters, the optimizer's state and the
  // meta from it. The carried state is stored for the global batch (streams in global order, see
  // save()), so each rank takes its own streams' rows: a checkpoint written by N ranks resumes on M.
  void resume() {
    const std::string from = comm_.root() ? resume_checkpoint(dir_) : std::string();
    if (!root_says(comm_, comm_.root() && !from.empty())) {
      if (comm_.root()) write_text_atomic(metrics_path(), "");
      if (!opt_.quiet && comm_.root())
        std::fprintf(stderr, "%s holds no checkpoint yet: starting from step 0\n", dir_.c_str());
      return;
    }
    Checkpoint ck;
    const NamedTensors optim = prefixed(optimizer_->state(), "optim."), carried = global_carried_state();
    if (comm_.root()) {
      ck = load_checkpoint(from);
      if (from != ckpt_path() && file_exists(dir_ + "/best.bin") && !file_exists(best_path())) {
        const Checkpoint best = load_checkpoint(dir_ + "/best.bin");
        save_checkpoint(best_path(), best.tensors, best.meta);
      }
      restore_params(ps_, ck);
      restore_tensors(optim, ck);
      restore_tensors(carried, ck);
    }
    if (comm_.world() > 1) {
      std::string meta_text = ck.meta.dump();
      broadcast_string(comm_, meta_text);
      ck.meta = Json::parse(meta_text);
    }
    for (auto& [name, t] : param_tensors(ps_)) comm_.broadcast(t.raw(), t.nbytes());
    for (auto& [name, t] : optim) comm_.broadcast(t.raw(), t.nbytes());
    for (auto& [name, t] : carried) comm_.broadcast(t.raw(), t.nbytes());
    scatter_carried_state(carried);
    step_ = ck.meta.at("step").get<i64>();
    last_saved_step_ = step_;
    if (total_steps_ < step_)
      throw std::invalid_argument("config key 'train.steps' (= " + std::to_string(total_steps_) + ") is below the step of " + from +
                                  " (" + std::to_string(step_) + "); give --steps " + std::to_string(step_) + " or more");
    rng_from_json(rng_, ck.meta.at("rng"));
    if (!ck.meta.at("best_metric").is_null()) best_ = ck.meta.at("best_metric").get<double>();
    best_step_ = ck.meta.at("best_step").get<i64>();
    bad_evals_ = ck.meta.at("bad_evals").get<i64>();
    train_seconds_ = ck.meta.at("train_seconds").get<double>();
    if (ck.meta.contains("window_steps")) {  // checkpoints written before issue 12 lack them
      window_loss_ = ck.meta.at("window_loss").get<double>();
      window_steps_ = ck.meta.at("window_steps").get<i64>();
    }
    if (comm_.root()) {  // forget evaluations recorded after the checkpoint: they will be redone
      std::string kept;
      for (auto& row : read_jsonl(metrics_path()))
        if (row.value("step", i64(0)) <= step_) kept += row.dump() + "\n";
      write_text_atomic(metrics_path(), kept);
    }
    if (!opt_.quiet && comm_.root()) std::fprintf(stderr, "resuming %s at step %lld\n", dir_.c_str(), (long long)step_);
  }

  void announce() {
    window_t0_ = last_print_ = seconds_now();
    window_start_ = step_;
    if (!comm_.root()) return;
    if (!task_.data_source().empty())  // even when quiet: where the data came from is part of the run
      std::fprintf(stderr, "data: %s from %s\n", cfg_.value("data", std::string("?")).c_str(), task_.data_source().c_str());
    if (opt_.quiet) return;
    std::fprintf(stderr, "%s: %s, %lld parameters, %lld steps of %lld %s (%lld steps per epoch)\n", cfg_["name"].get<std::string>().c_str(),
                 task_.describe().c_str(), (long long)ps_.count(), (long long)total_steps_, (long long)sampler_->items_per_step(),
                 task_.item_name(), (long long)sampler_->steps_per_epoch());
  }

  // One training step: this shard's batch, its loss, the gradients (summed across processes),
  // clipping and the update.
  void step() {
    const double t0 = seconds_now();
    test_fault();
    // Across processes each rank draws its dropout masks from its own stream, seeded by (seed,
    // step, rank): the ranks' masks are independent, and a resume on the same number of ranks
    // draws the same masks. They are not the masks one process would draw for the same global
    // batch (that one draws in order over the whole batch), so with dropout N ranks and one
    // process train alike but not bit for bit; without dropout they agree to float rounding.
    if (comm_.world() > 1)
      rng_ = Rng(seed_ * 0x9E3779B97F4A7C15ull + 1 + std::uint64_t(step_) * 0xD1B54A32D192ED03ull + std::uint64_t(comm_.rank()) * 0x94D049BB133111EBull);
    sampler_->get(step_, batch_);
    tape_.reset();
    ps_.zero_grad();
    Var loss = task_.loss(tape_, ps_, batch_, rng_);
    double lv = loss.value().item();
    if (comm_.world() > 1) comm_.sum(&lv, 1);
    if (!std::isfinite(lv)) nan_stop("the training loss is " + std::to_string(lv) + " at step " + std::to_string(step_));
    tape_.backward(loss);
    if (comm_.world() > 1) {
      Tensor g = ps_.flat_grads();
      comm_.sum(g.data<float>(), g.numel());
    }
    if (clip_ > 0) clip_grad_norm(ps_, clip_);
    optimizer_->step(ps_, schedule_->at(step_));
    ++step_;
    sum_.losses.push_back(lv);
    window_loss_ += lv;
    ++window_steps_;
    train_seconds_ += seconds_now() - t0;
  }

  // The split's result over every process: each evaluates its shard, the sums are added.
  // A signal may stop one rank's evaluation (check_stop) and not another's: the ranks agree, and
  // all give it up when any did.
  EvalResult evaluate(const std::string& split, bool quick) {
    EvalSums s;
    int stopped = 0;
    try {
      s = task_.evaluate_sums(ps_, split, quick, Shard{comm_.rank(), comm_.world()});
    } catch (const Stopped& e) {
      if (comm_.world() == 1) throw;
      stopped = e.signal;
    }
    if (comm_.world() > 1) {
      // The stop, and the count of extra sums: a rank whose part of the split is empty may hold
      // none, and zeros add nothing.
      int agreed[2] = {stopped, int(s.extra.size())};
      comm_.max(agreed, 2);
      if (agreed[0]) throw Stopped(agreed[0]);
      s.extra.resize(std::size_t(agreed[1]), 0.0);
      std::vector<double> a(s.size());
      s.to_array(a.data());
      comm_.sum(a.data(), i64(a.size()));
      s = EvalSums::from_array(a.data(), s.extra.size());
    }
    const EvalResult r = task_.result(s);
    if (r.count == 0)
      throw std::invalid_argument("the '" + split + "' split scored no " + task_.item_name() +
                                  ": it is empty (see train.valid_size, train.eval_chars or train.eval_lines and the data)");
    return r;
  }

  // Validation, the best checkpoint, a row of metrics.jsonl, early stopping. A validation that is
  // not finite stops the run before anything is written from it.
  void evaluate_and_record() {
    const double span = seconds_now() - window_t0_;
    const EvalResult v = evaluate("valid", true);
    if (!std::isfinite(v.loss) || !std::isfinite(v.metric))
      nan_stop("the validation loss is " + std::to_string(v.loss) + " (" + metric_.name + " " + std::to_string(v.metric) + ") at step " +
               std::to_string(step_));
    if (metric_.better(v.metric, best_)) {
      best_ = v.metric;
      best_step_ = step_;
      bad_evals_ = 0;
      save(best_path());
    } else {
      ++bad_evals_;
    }
    const double rate = double(step_ - window_start_) * step_items() / std::max(span, 1e-9);
    if (comm_.root())
      append_jsonl(metrics_path(), {{"step", step_}, {"epoch", epoch_of(step_)}, {"train_loss", window_loss_ / double(window_steps_)},
                                    {"valid_loss", v.loss}, {metric_key(), v.metric}, {"lr", schedule_->at(step_ - 1)},
                                    {"seconds", train_seconds_}, {std::string(task_.item_name()) + "_per_second", rate}});
    if (!opt_.quiet && comm_.root())
      std::fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f  valid %s %.4f  (best %.4f at %lld)  %.0f %s/s\n", (long long)step_,
                   (long long)total_steps_, epoch_of(step_), window_loss_ / double(window_steps_), metric_.name.c_str(), v.metric, best_,
                   (long long)best_step_, rate, task_.item_name());
    window_loss_ = 0;
    window_steps_ = 0;
    window_t0_ = last_print_ = seconds_now();
    window_start_ = step_;
    if (patience_ > 0 && bad_evals_ >= patience_) {
      sum_.stopped_early = true;
      if (!opt_.quiet && comm_.root()) std::fprintf(stderr, "early stop: no improvement in %lld evaluations\n", (long long)patience_);
    }
  }

  void show_progress() {
    if (opt_.quiet || !comm_.root() || seconds_now() - last_print_ < opt_.progress_seconds) return;
    const double rate = double(step_ - window_start_) * step_items() / std::max(seconds_now() - window_t0_, 1e-9);
    const double eta = double(total_steps_ - step_) * step_items() / std::max(rate, 1e-9);
    std::fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f  %.0f %s/s  ETA %s\n", (long long)step_, (long long)total_steps_,
                 epoch_of(step_), window_loss_ / double(window_steps_), rate, task_.item_name(), format_duration(eta).c_str());
    last_print_ = seconds_now();
  }

  // A checkpoint of everything a resume needs (root only), written only from finite state: a
  // parameter or optimizer moment that is NaN or infinite stops the run and the file keeps its
  // last good contents (the new one goes to a temporary file renamed over it when complete).
  //
  // Across processes every rank calls it (the steps and evaluations that lead here are the same on
  // all): each rank's carried state (its streams) is gathered into the global batch's, streams in
  // global order, so the file does not depend on the number of ranks that wrote it.
  void save(const std::string& path) {
    const NamedTensors carried = gather_carried_state();
    if (!comm_.root()) return;
    NamedTensors state = param_tensors(ps_);
    for (auto& t : prefixed(optimizer_->state(), "optim.")) state.push_back(t);
    for (auto& t : carried) state.push_back(t);
    if (const NonFinite bad = first_nonfinite(state); !bad.name.empty())
      nan_stop("tensor '" + bad.name + "' holds " + std::to_string(bad.value) + " (element " + std::to_string(bad.index) + ") after step " +
               std::to_string(step_));
    // window_*: the training loss summed since the last evaluation, so the next metrics row of a
    // resumed run averages the same steps as an uninterrupted one.
    Json meta = {{"step", step_}, {"rng", rng_to_json(rng_)}, {"best_metric", std::isfinite(best_) ? Json(best_) : Json()},
                 {"best_step", best_step_}, {"bad_evals", bad_evals_}, {"train_seconds", train_seconds_}, {"name", cfg_["name"]},
                 {"window_loss", window_loss_}, {"window_steps", window_steps_}, {"config", cfg_}};
    save_checkpoint(path, state, meta);
    if (path == ckpt_path()) last_saved_step_ = step_;
  }

  // The NaN stop: names what went wrong and the checkpoint a resume would start from, which was
  // written from finite state.
  [[noreturn]] void nan_stop(const std::string& what) {
    const std::string good = last_saved_step_ >= 0 ? ckpt_path() + " (step " + std::to_string(last_saved_step_) + ", written from finite parameters)"
                                                   : std::string("not written yet");
    throw std::runtime_error(what + ". Hint: lower train.lr (now " + tr_["lr"].dump() + "), set train.clip (now " +
                             tr_["clip"].dump() + "), or check the data; the last good checkpoint is " + good);
  }

  // A periodic evaluation, or the one after a first signal; a second signal drops it (the
  // checkpoint is still saved).
  void evaluate_unless_stopped() {
    try {
      evaluate_and_record();
    } catch (const Stopped&) {
      if (!opt_.quiet && comm_.root()) std::fprintf(stderr, "a second signal: the evaluation at step %lld dropped\n", (long long)step_);
    }
  }

  // Marks the run interrupted by `signal` and tells how to go on.
  void stop_for(int signal, const std::string& when) {
    sum_.interrupted = true;
    sum_.signal = signal;
    if (comm_.root())
      std::fprintf(stderr, "interrupted by %s %s; continue with: hypertrain train --resume %s\n", Stopped::signal_name(signal).c_str(),
                   when.c_str(), dir_.c_str());
  }

  // Learning curves, then the final numbers of the best checkpoint and results.json.
  void finish() {
    if (comm_.root()) plot_curves();
    if (!opt_.final_eval || sum_.interrupted || !root_says(comm_, comm_.root() && file_exists(best_path()))) return;
    set_stop_threshold(1);  // nothing is left to save: a signal ends the final evaluation at once
    try {
      final_evaluation();
    } catch (const Stopped& s) {
      stop_for(s.signal, "during the final evaluation (training is complete, step " + std::to_string(step_) + ")");
    }
  }

  // The final numbers of best.safetensors on the task's final splits, results.json, the task's pictures.
  void final_evaluation() {
    if (comm_.root()) restore_params(ps_, load_checkpoint(best_path()));
    for (auto& [name, t] : param_tensors(ps_)) comm_.broadcast(t.raw(), t.nbytes());
    auto counted = task_.counted_parameters(ps_);
    sum_.results = {{"name", cfg_["name"]}, {"data", cfg_.value("data", "")}, {"data_source", task_.data_source()}, {"model", task_.describe()},
                    {"parameters", ps_.count()}, {"counted_parameters", {{"what", counted.first}, {"count", counted.second}}},
                    {"best_step", best_step_}, {"steps", step_}, {"stopped_early", sum_.stopped_early}, {"train_seconds", train_seconds_},
                    {"time_budget_seconds", max_seconds_ > 0 ? Json(max_seconds_) : Json()}, {"stopped_at_time_budget", sum_.out_of_time},
                    {"machine", machine_info(tr_["threads"].get<int>())}, {"processes", comm_.world()}, {"paper", cfg_["paper"]}};
    std::string line;
    for (const std::string& split : task_.final_splits()) {
      const EvalResult r = evaluate(split, false);
      if (!std::isfinite(r.loss) || !std::isfinite(r.metric))
        throw std::runtime_error("the final evaluation of " + best_path() + " on '" + split + "' is not finite (loss " + std::to_string(r.loss) + ")");
      sum_.results[split + "_" + metric_.name] = r.metric;
      sum_.results[split + "_loss"] = r.loss;
      if (!r.details.is_null()) sum_.results[split + "_" + metric_.name + "_details"] = r.details;
      line += ", " + split + " " + metric_.name + " " + fixed4(r.metric);
    }
    if (!comm_.root()) return;
    write_text_atomic(dir_ + "/results.json", sum_.results.dump(2) + "\n");
    task_.after_training(ps_, dir_);
    if (!opt_.quiet)
      std::fprintf(stderr, "%s: best step %lld%s, %s of training; results in %s/results.json\n", cfg_["name"].get<std::string>().c_str(),
                   (long long)best_step_, line.c_str(), format_duration(train_seconds_).c_str(), dir_.c_str());
  }

  // curves.png from everything metrics.jsonl holds (this run and the ones it resumed).
  void plot_curves() {
    std::vector<Series> left(1), right(1);
    left[0].label = "train loss";
    right[0].label = "valid " + metric_.name;
    for (auto& row : read_jsonl(metrics_path())) {
      if (!row["step"].is_number()) continue;
      if (row["train_loss"].is_number()) {
        left[0].x.push_back(row["step"].get<double>());
        left[0].y.push_back(row["train_loss"].get<double>());
      }
      if (row[metric_key()].is_number()) {  // null in rows of older runs that evaluated to NaN
        right[0].x.push_back(row["step"].get<double>());
        right[0].y.push_back(row[metric_key()].get<double>());
      }
    }
    plot_learning_curves(dir_ + "/curves.png", cfg_["name"].get<std::string>(), left, "training loss (nats)", right,
                         "validation " + metric_.name);
  }

  const Json& cfg_;
  const Json& tr_;
  Task& task_;
  const TrainOptions& opt_;
  Comm& comm_;
  const std::string dir_;
  const Metric metric_;
  const i64 total_steps_, eval_every_, ckpt_every_, patience_;
  const double clip_, max_seconds_;
  const std::uint64_t seed_;

  ParamStore ps_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<LrSchedule> schedule_;
  std::unique_ptr<Sampler> sampler_;
  Batch batch_;
  Rng rng_;
  Tape tape_;

  std::shared_ptr<const RunLock> lock_;  // held for the run's life (root)
  int agreed_first_signal_ = 0;
  i64 step_ = 0, best_step_ = -1, bad_evals_ = 0;
  i64 last_saved_step_ = -1;  // the step of checkpoint.safetensors (-1: none yet)
  double best_, train_seconds_ = 0;
  double window_loss_ = 0, window_t0_ = 0, last_print_ = 0;
  i64 window_steps_ = 0, window_start_ = 0;
  TrainSummary sum_;
};

}  // namespace

TrainSummary run_training(const Json& cfg, Task& task, const TrainOptions& opt, Comm* comm) {
  Comm alone;
  Trainer trainer(cfg, task, opt, comm ? *comm : alone);
  return trainer.run();
}

}  // namespace ht
