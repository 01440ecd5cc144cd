#include "train/stop_signals.h"

#include <atomic>

namespace ht {

namespace {

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};
std::atomic<int> g_count{0}, g_first{0}, g_threshold{0};
struct sigaction g_old[3];

extern "C" void on_stop_signal(int s) {
  int none = 0;
  g_first.compare_exchange_strong(none, s);
  if (g_count.fetch_add(1) + 1 >= 3) {  // the third: the default action, at once
    std::signal(s, SIG_DFL);
    std::raise(s);
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_count = 0;
  g_first = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;  // reads and writes carry on; the loops look at the count
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &sa, &g_old[i]);
}

StopSignals::~StopSignals() {
  for (int i = 0; i < 3; ++i) sigaction(kSignals[i], &g_old[i], nullptr);
  g_threshold = 0;
}

int StopSignals::count() const { return g_count.load(); }
int StopSignals::first() const { return g_first.load(); }

std::string Stopped::signal_name(int s) {
  switch (s) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
  }
  return "signal " + std::to_string(s);
}

void set_stop_threshold(int n) { g_threshold = n; }

void check_stop() {
  const int t = g_threshold.load();
  if (t > 0 && g_count.load() >= t) throw Stopped(g_first.load());
}

}  // namespace ht
