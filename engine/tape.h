// Tape: reverse-mode autodiff over a recorded list of operations.
//
//   Tape tape;
//   Var x = tape.input(x_tensor);                 // no gradient
//   Var w = params.var(tape, w_id);               // parameter: gradient into the flat grad buffer
//   Var loss = mean_all(tape, mul(tape, matmul(tape, x, w), ...));
//   tape.backward(loss);                          // walks the nodes in reverse recording order
//   tape.reset();                                 // next step: nodes and arena reused, memory flat
//
// Recording order is a topological order, so backward is a reverse loop over the node vector.
// A node is recorded only when some input needs a gradient (pruned while recording). Backward
// closures add into gradient buffers (a buffer's first contribution may set it instead, see
// Var::grad_for_write), so a var used twice receives the sum.
// Values and gradients of intermediate vars live in the tape's arena until reset(). A Var is
// good for one generation of the tape: reset() starts the next, and its slots are reused. Debug
// builds (no NDEBUG) refuse a Var kept across reset() with a std::logic_error; Release builds do
// not check (a stale Var there reads whatever the new step put in its slot).
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/arena.h"
#include "engine/tensor.h"

namespace ht {

class Tape;

// A handle to a value recorded on a tape, valid until the tape's next reset().
struct Var {
  Tape* tape = nullptr;
  int id = -1;
#ifndef NDEBUG
  std::uint64_t generation = 0;  // the tape's generation() when the var was made (Debug builds only)
#endif

  bool valid() const { return tape != nullptr && id >= 0; }
  const Tensor& value() const;
  const Shape& shape() const { return value().shape(); }
  DType dtype() const { return value().dtype(); }
  bool needs_grad() const;
  Tensor& grad() const;  // the gradient buffer, zero-allocated on first use
  // The gradient buffer for a contribution. When `*assign` comes back true the buffer is new and
  // uninitialised: the caller must overwrite every element (GEMM beta = 0) instead of adding.
  // This saves a memset and a read per intermediate (ggml's add_or_set).
  Tensor& grad_for_write(bool* assign) const;
  // Debug builds: throws std::logic_error when the var was made before the tape's last reset().
  // Every accessor above calls it; under NDEBUG it is empty.
  void check_generation() const;
};

class Tape {
 public:
  using Backward = std::function<void(const Tensor& dout)>;  // receives d(loss)/d(output)

  Tape() = default;
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  // Leaves.
  Var input(const Tensor& value, bool requires_grad = false);
  Var param(const Tensor& value, const Tensor& grad);  // grad is an external buffer (accumulated into)

  // Memory from the arena, valid until reset().
  Tensor alloc(const Shape& s, DType dt);
  Tensor alloc_zeros(const Shape& s, DType dt);

  // Record the result of an op. `backward` runs only if the output received a gradient; it must
  // check needs_grad() of each input before computing that input's gradient. Returns the output.
  Var record(const char* op, const Tensor& out, std::initializer_list<Var> inputs, Backward backward);
  Var record(const char* op, const Tensor& out, const std::vector<Var>& inputs, Backward backward);

  // Seed d(loss)/d(loss) = 1 (loss must be a single element) and run every closure in reverse.
  // The closures and what they saved are released afterwards; a second backward before reset()
  // is an error.
  void backward(const Var& loss);
  // Same, seeding the output's gradient with `seed` (its shape): a vector-Jacobian product.
  void backward(const Var& out, const Tensor& seed);
  // Forget every var and node, keep capacity; starts the next generation.
  void reset();
  // Number of reset() calls so far; a Var belongs to the generation it was made in.
  std::uint64_t generation() const { return generation_; }

  bool grad_enabled() const { return grad_enabled_; }
  // No-grad scope: nothing is recorded until the guard is destroyed.
  class NoGrad {
   public:
    explicit NoGrad(Tape& t) : t_(t), prev_(t.grad_enabled_) { t_.grad_enabled_ = false; }
    ~NoGrad() { t_.grad_enabled_ = prev_; }
    NoGrad(const NoGrad&) = delete;
    NoGrad& operator=(const NoGrad&) = delete;
   private:
    Tape& t_;
    bool prev_;
  };

  // Introspection (tests, benchmarks).
  std::size_t num_nodes() const { return nodes_.size(); }
  std::size_t num_vars() const { return slots_.size(); }
  const Arena& arena() const { return arena_; }
  std::vector<std::string> node_names() const;

  // Used by Var.
  const Tensor& value(int id) const { return slots_[id].value; }
  bool needs_grad(int id) const { return slots_[id].needs_grad; }
  bool has_grad(int id) const { return bool(slots_[id].grad); }
  Tensor& grad(int id);
  Tensor& grad_for_write(int id, bool* assign);

 private:
  struct Slot {
    Tensor value;
    Tensor grad;
    bool needs_grad = false;
  };
  struct Node {
    const char* op;
    int output;
    int first_input;  // into node_inputs_
    int num_inputs;
    Backward backward;
  };
  template <class It> Var record_impl(const char* op, const Tensor& out, It begin, It end, Backward backward);

  // Slots live in fixed-size chunks that never move, so a reference from Var::value() stays
  // valid while more ops are recorded (until reset()). Chunks are kept across resets.
  class SlotList {
   public:
    Slot& operator[](std::size_t i) { return chunks_[i / kChunk][i % kChunk]; }
    const Slot& operator[](std::size_t i) const { return chunks_[i / kChunk][i % kChunk]; }
    std::size_t size() const { return size_; }
    void push_back(Slot s) {
      if (size_ == chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Slot[]>(kChunk));
      (*this)[size_++] = std::move(s);
    }
    void clear() {
      for (std::size_t i = 0; i < size_; ++i) (*this)[i] = Slot();  // drop what the tensors own
      size_ = 0;
    }
   private:
    static constexpr std::size_t kChunk = 1024;
    std::vector<std::unique_ptr<Slot[]>> chunks_;
    std::size_t size_ = 0;
  };
  SlotList slots_;
  std::vector<Node> nodes_;
  std::vector<int> node_inputs_;
  Arena arena_;
  bool grad_enabled_ = true;
  bool backward_done_ = false;
  std::uint64_t generation_ = 0;
  Var make_var(int id);  // stamped with the current generation
};

#ifndef NDEBUG
[[noreturn]] void stale_var_error(const char* where, const Var& v);
inline void Var::check_generation() const {
  if (generation != tape->generation()) stale_var_error(nullptr, *this);
}
#else
inline void Var::check_generation() const {}
#endif

inline const Tensor& Var::value() const { check_generation(); return tape->value(id); }
inline bool Var::needs_grad() const { check_generation(); return tape->needs_grad(id); }
inline Tensor& Var::grad() const { check_generation(); return tape->grad(id); }
inline Tensor& Var::grad_for_write(bool* assign) const { check_generation(); return tape->grad_for_write(id, assign); }

// Shape checks with messages that name the op and the shapes.
[[noreturn]] void shape_error(const char* op, const std::string& what);
void check_same_dtype(const char* op, const Var& a, const Var& b);

}  // namespace ht
