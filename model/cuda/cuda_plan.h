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
#include "model/model.h"  // kEvalLogitRows

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

// cuBLASLt workspace of the device context (one per stream: deterministic). Hopper's
// recommendation is 32 MiB; Ampere needs less but this is cheap.
constexpr size_t kCublasWorkspaceBytes = 32u << 20;
// Forward-only set_params() uploads fp32 parameters through a staging buffer of this many floats
// (16 MiB) and converts them to bf16 on the device: no fp32 copy of the model stays on the GPU.
constexpr size_t kEvalUploadFloats = 4u << 20;

// Parameters (bf16 copy), fp32 master weights, fp32 gradients, fp32 AdamW m and v.
MemoryPlan plan_parameter_memory(const GPT2Config& cfg);
// Activations, their gradients and the scratch of the layers and of the reference attention for
// a forward + backward over (B, T). `training` = false drops what only the backward needs.
// The reference attention's scratch (attn_q, attn_k, attn_v, attn_qdiv, attn_kdiv, and for
// training attn_dout, attn_rowstats) is part of this plan, laid out as AttnReferenceScratch.
MemoryPlan plan_activation_memory(const GPT2Config& cfg, int B, int T, bool training);

// Forward-only evaluation (eval_gpt2 on a GPU), everything a forward over (B, T) needs and no more:
//   parameters   bf16 weights + the fp32 upload staging buffer (no master copy, gradients or
//                AdamW state);
//   activations  one layer's buffers, reused layer after layer (the next layer reads only the
//                residual stream); the logits and per-position loss statistics of kEvalLogitRows
//                positions at a time; the per-position losses (B, T);
//   attention    O(T): the fused kernel's forward workspace when flash_route() fuses the variant
//                (no saved statistics, no Õ2), else the reference path's fp32 q̂, k̂, v scratch.
MemoryPlan plan_eval_parameter_memory(const GPT2Config& cfg);
MemoryPlan plan_eval_activation_memory(const GPT2Config& cfg, int B, int T);

// `plan` less its attention entries (attn_*): the model allocates the attention's memory from the
// implementation that runs it (attention/attention.h AttnWorkspace), so it is never counted twice.
MemoryPlan plan_without_attention(const MemoryPlan& plan);
// What eval_gpt2 --plan prints: the bytes a forward-only GPU evaluation of (B, T) allocates.
struct EvalMemory {
  size_t params = 0;       // plan_eval_parameter_memory().total
  size_t activations = 0;  // plan_eval_activation_memory().total (attention included)
  size_t attention = 0;    // the attention's part of `activations`
  size_t logits = 0;       // the logits chunk's part of `activations`
  size_t cublas = kCublasWorkspaceBytes;
  bool fused = false;      // fused attention (else the reference path)
  size_t total() const { return params + activations + cublas; }
};
EvalMemory eval_memory(const GPT2Config& cfg, int B, int T);

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
