#include "engine/arena.h"

#include <algorithm>

#include "engine/tensor.h"

namespace ht {

Arena::~Arena() {
  for (auto& c : chunks_) aligned_free64(c.base);
}

void* Arena::allocate(std::size_t bytes) {
  std::size_t need = round_up64(bytes) + 64;
  if (chunks_.empty() || chunks_.back().used + need > chunks_.back().size) {
    std::size_t size = std::max<std::size_t>(need, chunks_.empty() ? (std::size_t(1) << 20) : chunks_.back().size * 2);
    chunks_.push_back({static_cast<char*>(aligned_alloc64(size)), size, 0});
  }
  Chunk& c = chunks_.back();
  void* p = c.base + c.used;
  c.used += need;
  used_total_ += need;
  peak_ = std::max(peak_, used_total_);
  return p;
}

std::size_t Arena::capacity() const {
  std::size_t s = 0;
  for (auto& c : chunks_) s += c.size;
  return s;
}

void Arena::reset() {
  if (chunks_.size() > 1) {
    std::size_t total = capacity();
    for (auto& c : chunks_) aligned_free64(c.base);
    chunks_.clear();
    chunks_.push_back({static_cast<char*>(aligned_alloc64(total)), total, 0});
  }
  for (auto& c : chunks_) c.used = 0;
  used_total_ = 0;
}

}  // namespace ht
