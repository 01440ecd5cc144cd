// Arena: bump allocation of 64-byte aligned blocks, reset every training step with its capacity
// kept, so the training loop stops calling malloc once the first step has sized it.
#pragma once
#include <cstddef>
#include <vector>

namespace ht {

class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena();

  // Allocations are padded to a multiple of 64 bytes plus one cache line, so consecutive buffers
  // are never spaced exactly a power of two apart (4 KiB aliasing slows strided passes).
  void* allocate(std::size_t bytes);
  // Forget every allocation. If the last cycle overflowed into extra chunks, they are merged into
  // one chunk large enough for the whole cycle.
  void reset();

  std::size_t used() const { return used_total_; }
  std::size_t capacity() const;
  std::size_t peak() const { return peak_; }

 private:
  struct Chunk { char* base; std::size_t size; std::size_t used; };
  std::vector<Chunk> chunks_;
  std::size_t used_total_ = 0;
  std::size_t peak_ = 0;
};

}  // namespace ht
