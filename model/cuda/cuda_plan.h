// Host-side planning for the CUDA backend — plain C++, built and tested without a GPU:
//   - the activation memory plan for a (B, T) micro-batch (every buffer, its bytes, the total),
//     so the backend allocates once up front and an out-of-memory GPU fails with one clear line;
//   - the runs of the flat parameter buffer that share AdamW's weight-decay flag (one kernel
//     launch per run instead of one per tensor);
//   - the token buckets of the encoder backward (positions grouped by token id, in order), which
//     make the embedding-gradient scatter deterministic without float atomics.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "model/gpt2_config.h"

namespace lssa {

// Byte sizes of the element types the backend stores.
constexpr size_t kBf16Bytes = 2, kF32Bytes = 4;
// Rows per chunk of the deterministic two-stage column sums (bias and LayerNorm gradients).
constexpr int kColSumRows = 256;

struct BufferPlan {
  std::string name;  // e.g. "qkv"
  size_t bytes;      // rounded up to 256 (allocation alignment)
};

struct MemoryPlan {
  std::vector<BufferPlan> buffers;  // in allocation order
  size_t total = 0;                 // Σ bytes
  // Offset of buffer `name` inside one allocation of `total` bytes; throws Error when unknown.
  size_t offset_of(const std::string& name) const;
  size_t bytes_of(const std::string& name) const;
};

// Parameters (bf16 copy), fp32 master weights, fp32 gradients, fp32 AdamW m and v.
MemoryPlan plan_parameter_memory(const GPT2Config& cfg);
// Activations, their gradients and the scratch of the layers and of the reference attention for
// a forward + backward over (B, T). `training` = false drops what only the backward needs.
MemoryPlan plan_activation_memory(const GPT2Config& cfg, int B, int T, bool training);

// "out of GPU memory: the CUDA backend needs X GiB for <what> (B=…, T=…), the GPU has Y GiB free
// of Z GiB; try a smaller --batch"
std::string gpu_oom_message(const std::string& what, size_t asked, size_t free_bytes, size_t total_bytes, int B,
                            int T);

// Contiguous ranges [offset, offset + numel) of the flat parameter buffer with one decay flag.
struct ParamRange {
  size_t offset, numel;
  bool decay;
};
std::vector<ParamRange> adamw_ranges(const std::vector<ParamTensor>& layout);

// Positions of each distinct token, grouped: token ids[u] occurs at positions
// pos[start[u] .. start[u+1]) (ascending). ids ascending. Sizes: ids U, start U+1, pos N.
struct TokenBuckets {
  std::vector<int> ids, start, pos;
};
TokenBuckets bucket_tokens(const int* tokens, int N);

}  // namespace lssa
