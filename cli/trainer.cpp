#include "cli/trainer.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iomanip>
#include <limits>
#include <memory>
#include <sstream>

#include "cli/machine.h"
#include "cli/plot.h"
#include "cli/run_files.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "engine/schedule.h"

namespace ht {

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void on_sigint(int) { g_interrupted = true; }

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

NamedTensors optimizer_tensors(Optimizer& opt) {
  NamedTensors out;
  for (auto& [name, t] : opt.state()) out.emplace_back("optim." + name, t);
  return out;
}

NamedTensors task_tensors(Task& task) {
  NamedTensors out;
  for (auto& [name, t] : task.carried_state()) out.emplace_back("task." + name, t);
  return out;
}

}  // namespace

std::string format_duration(double s) {
  char buf[32];
  if (!std::isfinite(s) || s < 0) return "?";
  long t = long(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%lds", t);
  return buf;
}

TrainSummary run_training(const Json& cfg, Task& task, const TrainOptions& opt) {
  const Json& tr = cfg["train"];
  const std::string dir = opt.run_dir;
  const std::string ckpt_path = dir + "/checkpoint.bin", best_path = dir + "/best.bin", metrics_path = dir + "/metrics.jsonl";
  make_dirs(dir);
  if (!opt.resume && file_exists(ckpt_path))
    throw std::invalid_argument("run directory " + dir + " already holds a run; continue it with --resume " + dir +
                                " or choose another --out");
  if (!opt.resume) {
    write_text_atomic(dir + "/config.json", cfg.dump(2) + "\n");
    std::remove(metrics_path.c_str());
  }

  const i64 total_steps = tr["steps"].get<i64>(), eval_every = std::max<i64>(1, tr["eval_every"].get<i64>());
  const i64 ckpt_every = std::max<i64>(1, tr["checkpoint_every"].get<i64>()), patience = tr["patience"].get<i64>();
  const double clip = tr["clip"].get<double>();
  const std::uint64_t seed = tr["seed"].get<std::uint64_t>();

  ParamStore ps;
  task.build(ps);
  Rng init_rng(seed);
  ps.finalize(init_rng);
  auto optimizer = make_optimizer(tr, ps);
  auto schedule = make_schedule(tr["lr"]);
  Rng rng(seed * 0x9E3779B97F4A7C15ull + 1);  // dropout and other draws during training

  TrainSummary sum;
  i64 step = 0, bad_evals = 0;
  double best = std::numeric_limits<double>::infinity(), train_seconds = 0;
  i64 best_step = -1;
  if (opt.resume) {
    if (!file_exists(ckpt_path)) throw std::invalid_argument("cannot resume: " + ckpt_path + " does not exist");
    Checkpoint ck = load_checkpoint(ckpt_path);
    restore_params(ps, ck);
    restore_tensors(optimizer_tensors(*optimizer), ck);
    restore_tensors(task_tensors(task), ck);
    step = ck.meta.at("step").get<i64>();
    rng_from_json(rng, ck.meta.at("rng"));
    best = ck.meta.at("best_metric").is_null() ? best : ck.meta.at("best_metric").get<double>();
    best_step = ck.meta.at("best_step").get<i64>();
    bad_evals = ck.meta.at("bad_evals").get<i64>();
    train_seconds = ck.meta.at("train_seconds").get<double>();
    // Forget evaluations recorded after the checkpoint: they will be redone.
    std::string kept;
    for (auto& row : read_jsonl(metrics_path))
      if (row.value("step", i64(0)) <= step) kept += row.dump() + "\n";
    write_text_atomic(metrics_path, kept);
    if (!opt.quiet) std::fprintf(stderr, "resuming %s at step %lld\n", dir.c_str(), (long long)step);
  }
  sum.first_step = step;

  auto save = [&](const std::string& path) {
    NamedTensors tensors = param_tensors(ps);
    for (auto& t : optimizer_tensors(*optimizer)) tensors.push_back(t);
    for (auto& t : task_tensors(task)) tensors.push_back(t);
    Json meta = {{"step", step}, {"rng", rng_to_json(rng)}, {"best_metric", std::isfinite(best) ? Json(best) : Json()},
                 {"best_step", best_step}, {"bad_evals", bad_evals}, {"train_seconds", train_seconds},
                 {"name", cfg["name"]}};
    save_checkpoint(path, tensors, meta);
  };

  if (!opt.quiet)
    std::fprintf(stderr, "%s: %s, %lld parameters, %lld steps of %lld %s (%lld steps per epoch)\n", cfg["name"].get<std::string>().c_str(),
                 task.describe().c_str(), (long long)ps.count(), (long long)total_steps, (long long)task.items_per_step(),
                 task.item_name(), (long long)task.steps_per_epoch());

  g_interrupted = false;
  auto old_handler = std::signal(SIGINT, on_sigint);
  Tape tape;
  double window_loss = 0, window_t0 = seconds_now(), last_print = seconds_now();
  i64 window_steps = 0, window_start = step;
  while (step < total_steps) {
    double t0 = seconds_now();
    tape.reset();
    ps.zero_grad();
    Var loss = task.loss(tape, ps, step, rng);
    double lv = loss.value().item();
    if (!std::isfinite(lv)) {
      std::signal(SIGINT, old_handler);
      throw std::runtime_error("the training loss is " + std::to_string(lv) + " at step " + std::to_string(step) +
                               ". Hint: lower train.lr (now " + tr["lr"].dump() + "), set train.clip, or check the data; "
                               "the last good checkpoint is " + (file_exists(ckpt_path) ? ckpt_path : std::string("not written yet")));
    }
    tape.backward(loss);
    if (clip > 0) clip_grad_norm(ps, clip);
    optimizer->step(ps, schedule->at(step));
    ++step;
    sum.losses.push_back(lv);
    window_loss += lv;
    ++window_steps;
    train_seconds += seconds_now() - t0;

    bool last = step == total_steps, interrupted = g_interrupted.load();
    if (step % eval_every == 0 || last || interrupted) {
      double span = seconds_now() - window_t0;
      EvalResult v = task.evaluate(ps, "valid", true);
      bool improved = v.metric < best;
      if (improved) {
        best = v.metric;
        best_step = step;
        bad_evals = 0;
        save(best_path);
      } else {
        ++bad_evals;
      }
      double rate = double((step - window_start) * task.items_per_step()) / std::max(span, 1e-9);
      append_jsonl(metrics_path, {{"step", step}, {"epoch", double(step) / double(task.steps_per_epoch())},
                                  {"train_loss", window_loss / double(window_steps)}, {"valid_loss", v.loss},
                                  {std::string("valid_") + task.metric_name(), v.metric}, {"lr", schedule->at(step - 1)},
                                  {"seconds", train_seconds}, {std::string(task.item_name()) + "_per_second", rate}});
      if (!opt.quiet) {
        std::fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f  valid %s %.4f  (best %.4f at %lld)  %.0f %s/s\n",
                     (long long)step, (long long)total_steps, double(step) / double(task.steps_per_epoch()),
                     window_loss / double(window_steps), task.metric_name(), v.metric, best, (long long)best_step, rate,
                     task.item_name());
      }
      window_loss = 0;
      window_steps = 0;
      window_t0 = seconds_now();
      window_start = step;
      last_print = seconds_now();
      if (patience > 0 && bad_evals >= patience) {
        sum.stopped_early = true;
        if (!opt.quiet) std::fprintf(stderr, "early stop: no improvement in %lld evaluations\n", (long long)patience);
      }
    } else if (!opt.quiet && seconds_now() - last_print >= opt.progress_seconds) {
      double rate = double((step - window_start) * task.items_per_step()) / std::max(seconds_now() - window_t0, 1e-9);
      double eta = double((total_steps - step) * task.items_per_step()) / std::max(rate, 1e-9);
      std::fprintf(stderr, "step %lld/%lld  epoch %.2f  loss %.4f  %.0f %s/s  ETA %s\n", (long long)step, (long long)total_steps,
                   double(step) / double(task.steps_per_epoch()), window_loss / double(window_steps), rate, task.item_name(),
                   format_duration(eta).c_str());
      last_print = seconds_now();
    }
    if (step % ckpt_every == 0 || last || interrupted || sum.stopped_early) save(ckpt_path);
    if (interrupted) {
      sum.interrupted = true;
      std::fprintf(stderr, "interrupted at step %lld; continue with: hypertrain train --resume %s\n", (long long)step, dir.c_str());
      break;
    }
    if (sum.stopped_early) break;
  }
  std::signal(SIGINT, old_handler);
  sum.last_step = step;
  sum.best_metric = best;
  sum.best_step = best_step;

  // Learning curves from everything metrics.jsonl holds (this run and the ones it resumed).
  std::vector<Series> left(1), right(1);
  left[0].label = "train loss";
  right[0].label = std::string("valid ") + task.metric_name();
  for (auto& row : read_jsonl(metrics_path)) {
    left[0].x.push_back(row["step"].get<double>());
    left[0].y.push_back(row["train_loss"].get<double>());
    right[0].x.push_back(row["step"].get<double>());
    right[0].y.push_back(row[std::string("valid_") + task.metric_name()].get<double>());
  }
  plot_learning_curves(dir + "/curves.png", cfg["name"].get<std::string>(), left, "training loss (nats)", right,
                       std::string("validation ") + task.metric_name());

  if (opt.final_eval && !sum.interrupted && file_exists(best_path)) {
    Checkpoint bk = load_checkpoint(best_path);
    restore_params(ps, bk);
    auto counted = task.counted_parameters(ps);
    sum.results = {{"name", cfg["name"]}, {"data", cfg.value("data", "")}, {"model", task.describe()},
                   {"parameters", ps.count()}, {"counted_parameters", {{"what", counted.first}, {"count", counted.second}}},
                   {"best_step", best_step}, {"steps", step}, {"stopped_early", sum.stopped_early}, {"train_seconds", train_seconds},
                   {"machine", machine_info(tr["threads"].get<int>())}, {"paper", cfg["paper"]}};
    std::string line;
    for (const std::string& split : task.final_splits()) {
      EvalResult r = task.evaluate(ps, split);
      sum.results[split + "_" + task.metric_name()] = r.metric;
      sum.results[split + "_loss"] = r.loss;
      line += ", " + split + " " + task.metric_name() + " " + (std::ostringstream() << std::fixed << std::setprecision(4) << r.metric).str();
    }
    write_text_atomic(dir + "/results.json", sum.results.dump(2) + "\n");
    task.after_training(ps, dir);
    if (!opt.quiet)
      std::fprintf(stderr, "%s: best step %lld%s, %s of training; results in %s/results.json\n", cfg["name"].get<std::string>().c_str(),
                   (long long)best_step, line.c_str(), format_duration(train_seconds).c_str(), dir.c_str());
  }
  return sum;
}

}  // namespace ht
