// Attention as one component: one parameter struct, one interface, three implementations behind
// it, one selection function. The models call attention only through this header.
//
//   implementation      device  dtype      where                                  supports
//   CPU reference       cpu     f32, f64   attention/attention_cpu.h              every variant, every shape, stats
//   CUDA reference      cuda    bf16       attention/cuda/attention_reference.h   every variant, HS ∈ {32, 64, 128}, stats
//   CUDA fused          cuda    bf16       attention/cuda/flash_attention.h       flash_route(spec, HS) == Fused, no stats
//
// All three compute the same math (attention/attention_math.h; docs/attention_math.md): causal
// attention of one resolved variant (AttnSpec) on qkv (B, T, 3C) in llm.c's layout (q | k | v,
// heads contiguous inside each, RoPE already applied) → out (B, T, C), and the backward
// dout (B, T, C) → dqkv (B, T, 3C). Memory is O(B·T·C) in every implementation (no T×T matrix).
//
// A caller (a model) does, once: attention_select() with its candidates and --attn-impl; then per
// (B, T): workspace() to size its buffers; then per layer: fill AttnParams and call forward(),
// later backward() with the same `saved` buffer (FlashAttention's params-struct style).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "attention/attention_math.h"
#include "attention/attention_stats.h"

namespace lssa {

// The kind of an implementation (what --attn-impl names).
enum class AttnImpl : int { Fused = 0, Reference = 1 };
const char* attn_impl_name(AttnImpl impl);  // "fused" | "reference"

// --attn-impl: auto = fused where it supports the variant and shape, else reference.
enum class AttnImplChoice : int { Auto = 0, Fused = 1, Reference = 2 };
// "auto" | "fused" | "reference" → choice; throws Error (one line) otherwise.
AttnImplChoice attn_impl_choice_from_name(const std::string& name);
const char* attn_impl_choice_name(AttnImplChoice c);

enum class AttnDevice : int { Cpu = 0, Cuda = 1 };
enum class AttnDType : int { F32 = 0, F64 = 1, BF16 = 2 };  // element type of qkv, out, dout, dqkv

struct AttnShape {
  int B = 0;   // batch
  int T = 0;   // length of this pass (row i sees n_i = i + 1 keys)
  int NH = 0;  // heads
  int HS = 0;  // head size; C = NH·HS
};

// Memory an implementation needs besides its inputs and outputs, owned by the caller.
struct AttnWorkspace {
  size_t saved = 0;    // per call site (per layer): written by forward(), read by backward() of the
                       //   same call site (fused: the row statistics and, with re-weighting, Õ2)
  size_t scratch = 0;  // transient: reused by every call, nothing survives between calls
};

// Everything one forward or backward call needs. Fill spec, shape, dtype; point the tensors.
struct AttnParams {
  // ---- what to compute
  AttnSpec spec;                   // the resolved variant (attention/registry.h: attn_resolve)
  AttnShape shape;                 // B, T, NH, HS of this call
  AttnDType dtype = AttnDType::F32;
  bool training = true;            // forward: also write into `saved` what backward() needs
  // ---- tensors (host pointers on the CPU, device pointers on CUDA)
  const void* qkv = nullptr;       // (B, T, 3C) input
  void* out = nullptr;             // (B, T, C) forward output; backward() reads it (fused)
  const void* dout = nullptr;      // (B, T, C) backward: gradient of out
  void* dqkv = nullptr;            // (B, T, 3C) backward: gradient of qkv, overwritten
  // ---- caller-owned memory, sized by workspace() for this spec and shape (null when 0 bytes)
  void* saved = nullptr;           // this call site's AttnWorkspace::saved bytes
  void* scratch = nullptr;         // AttnWorkspace::scratch bytes
  void* stream = nullptr;          // cudaStream_t of CUDA implementations (asynchronous); CPU: unused
  // ---- optional analysis (eval_gpt2 --attn-stats); null = off, and off costs nothing
  AttnStats* stats = nullptr;      // host memory: forward() adds every row's statistics (attention_stats.h;
                                   //   stats->T() == shape.T, heads() == NH; Base rows when has_base()).
                                   //   Only implementations whose supports(..., stats = true) is "" take it;
                                   //   the outputs are the same bits with or without it. CUDA: synchronises.
};

class Attention {
 public:
  virtual ~Attention() = default;
  virtual AttnImpl kind() const = 0;
  virtual AttnDevice device() const = 0;
  // "cpu reference" | "cuda reference" | "cuda fused": what the programs print and record.
  virtual const char* name() const = 0;
  // "" when this implementation runs `spec` at `shape` (B and T may be 0: any) in `dtype` (and,
  // with `stats`, also computes the row statistics of AttnParams::stats), else one line saying why not.
  virtual std::string supports(const AttnSpec& spec, const AttnShape& shape, AttnDType dtype, bool stats) const = 0;
  // Bytes of the caller-owned buffers (training = the backward will run).
  virtual AttnWorkspace workspace(const AttnSpec& spec, const AttnShape& shape, bool training) const = 0;
  // out from qkv (+ saved when p.training). Throws Error (one line) on unsupported input.
  virtual void forward(const AttnParams& p) const = 0;
  // dqkv from dout, qkv, out and the forward's saved buffer.
  virtual void backward(const AttnParams& p) const = 0;
};

// The CPU reference behind the interface (attention_cpu.h; f32 and f64).
const Attention& attention_cpu_reference();

// The one selection: among a backend's `candidates` (in preference order, fused first), the first
// whose kind `choice` allows and which supports (spec, shape, dtype, stats). Throws Error with one
// line when none does (e.g. --attn-impl fused for a variant without a fused kernel, or on the CPU,
// or --attn-impl fused with attention statistics: the fused kernels do not compute them).
const Attention& attention_select(AttnImplChoice choice, const std::vector<const Attention*>& candidates,
                                  const AttnSpec& spec, const AttnShape& shape, AttnDType dtype, bool stats = false);

}  // namespace lssa
