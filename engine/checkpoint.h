// Checkpoints: named tensors plus the caller's JSON (step, RNG state, config) in one file, in the
// safetensors layout (https://github.com/huggingface/safetensors), so PyTorch, JAX and NumPy read
// it directly:
//
//   offset 0   uint64 little-endian header length N
//          8   header: UTF-8 JSON, space-padded so the data starts 64-byte aligned
//      8 + N   data: every tensor's little-endian bytes, back to back in the order saved
//
// header = {"__metadata__": {"header_crc32": "8 hex digits", "data_crc32": "8 hex digits",
//                            "format": "hypertrain-safetensors-1", <meta key>: "<its JSON text>", ...},
//           <name>: {"dtype": "F32"|"F64"|"I32", "shape": [...], "data_offsets": [begin, end]}, ...}
// data_crc32 is the CRC32 (zlib's) of all data bytes; header_crc32 the CRC32 of the N header bytes
// with its own 8 digits read as "00000000". Metadata values are strings (safetensors' rule), so each
// meta value is stored as its JSON text and parsed back on load.
// Saving writes path + ".tmp", fsyncs it and renames it over path, so a crash never leaves half a
// checkpoint. Loading verifies the size, the layout (tensors cover the data without gaps) and both
// checksums; every error names the file. The earlier format (magic "HTCKPT01", checkpoint.bin)
// is still read, never written.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/params.h"
#include "engine/rng.h"

namespace ht {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// The environment variable HYPERTRAIN_TEST_SLOW_CHECKPOINT_MS=N makes a save sleep N ms between
// the finished temporary file and the rename, so a test can kill the process mid-write
// (tests/test_faults_kill.cpp). Nothing else reads it.
void save_checkpoint(const std::string& path, const NamedTensors& tensors, const nlohmann::json& meta);

// The name and flat index of the first NaN or infinite element among the floating-point tensors,
// or an empty name when every element is finite.
struct NonFinite {
  std::string name;
  i64 index = -1;
  double value = 0;
};
NonFinite first_nonfinite(const NamedTensors& tensors);

struct Checkpoint {
  std::string path;      // where it was loaded from (for messages)
  nlohmann::json meta;
  NamedTensors tensors;  // owned copies, in file order
  const Tensor* find(const std::string& name) const;  // nullptr when absent
};

Checkpoint load_checkpoint(const std::string& path);

// The model's parameters as (prefix + name, value view) for save_checkpoint, followed by its
// buffers as (buffer_prefix + name, view); views alias ps.
NamedTensors param_tensors(const ParamStore& ps, const std::string& prefix = "param.",
                           const std::string& buffer_prefix = "buffer.");

// Copies prefix + name into every parameter of ps and buffer_prefix + name into every buffer. All
// checks run before anything is copied: a missing tensor, a checkpoint tensor under either prefix
// the model lacks, or a shape or dtype mismatch throws std::runtime_error naming the parameter or
// buffer (and both shapes). A checkpoint without buffers loads into a model without buffers.
void restore_params(ParamStore& ps, const Checkpoint& ck, const std::string& prefix = "param.",
                    const std::string& buffer_prefix = "buffer.");

// Throws std::runtime_error naming the checkpoint `path` and the first parameter or buffer of ps
// holding NaN or infinity: weights nothing should be evaluated or sampled with.
void refuse_nonfinite(const ParamStore& ps, const std::string& path);

// Copies every named destination (e.g. Optimizer::state()) from the tensor of the same name.
// Missing names and shape or dtype mismatches throw std::runtime_error before anything is copied.
void restore_tensors(const NamedTensors& dst, const Checkpoint& ck);

// The four xoshiro words as decimal strings (JSON numbers would lose bits as doubles).
nlohmann::json rng_to_json(const Rng& rng);
void rng_from_json(Rng& rng, const nlohmann::json& j);  // throws std::invalid_argument on a bad value

}  // namespace ht
