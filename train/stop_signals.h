// The signals that stop a run: SIGINT (Ctrl-C), SIGTERM (a batch scheduler's stop, `kill`) and
// SIGHUP (the terminal went away), all handled alike. The handler only counts them; the trainer
// finishes its step, evaluates, saves a checkpoint, prints how to resume and exits with 128 + the
// signal's number. Long loops (every evaluation) call check_stop(), which throws Stopped once the
// count reaches the threshold the trainer set: 2 while it trains (a signal during the evaluation
// that follows a first one means "now": the evaluation is dropped, the checkpoint still saved),
// 1 in the final evaluation (nothing is left to save). A third signal ends the process at once
// with the signal's default action; checkpoints are written atomically, so none is left half done.
#pragma once
#include <csignal>
#include <stdexcept>
#include <string>

namespace ht {

class StopSignals {
 public:
  StopSignals();   // installs the handlers and clears the count
  ~StopSignals();  // restores the handlers that were there before
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  int count() const;   // signals received since construction
  int first() const;   // the first one's number (0: none)
};

// Thrown by check_stop: an evaluation given up because of a signal.
struct Stopped : std::runtime_error {
  int signal;
  explicit Stopped(int s) : std::runtime_error("stopped by " + signal_name(s)), signal(s) {}
  static std::string signal_name(int s);  // "SIGTERM"
};

void set_stop_threshold(int n);  // 0: check_stop never throws (outside a run)
void check_stop();               // throws Stopped when the count has reached the threshold

}  // namespace ht
