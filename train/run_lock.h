// One lock per run directory. The process that trains in DIR holds an exclusive flock(2) on
// DIR/train.lock for the run's life, its pid written inside; a second `train` on the same
// directory (the same --out twice, two --resume) fails at once naming the directory and the
// holder's pid. The kernel drops the lock when its holder ends, however it ends (SIGKILL
// included), so a crashed run never leaves a stale lock; the file itself stays.
#pragma once
#include <string>

namespace ht {

class RunLock {
 public:
  // Creates DIR/train.lock if needed and locks it; throws std::runtime_error naming the directory
  // and the pid that holds it.
  explicit RunLock(const std::string& dir);
  ~RunLock();
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  static std::string file(const std::string& dir) { return dir + "/train.lock"; }

 private:
  int fd_ = -1;
};

}  // namespace ht
