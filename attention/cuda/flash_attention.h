// Fused, O(T)-memory causal attention on the GPU (FlashAttention-2-style, bf16 tensor cores,
// sm_80 mma.sync path that also runs on sm_90) for every variant flash_route() marks Fused.
//
// Same interface as the reference GPU path, so the trainer switches with --attn-impl:
//   forward   qkv (B, T, 3C) bf16, q | k | v with heads contiguous inside each (C = NH·HS),
//             RoPE already applied  →  out (B, T, C) bf16 + saved row statistics
//   backward  dout (B, T, C) bf16 (+ qkv, out, saved statistics)  →  dqkv (B, T, 3C) bf16
// Math: DESIGN.md §4 and attention/attention_math.h; kernel design and the backward formulas
// (dS = φ'/Z·(dP − sign(φ)·D); re-weighting's row term E via Õ2): flash_kernels.cuh.
// Memory: nothing T×T; the buffers are sized by flash_buffer_sizes() (flash_plan.h).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "attention/cuda/flash_plan.h"

namespace lssa {

// Everything one forward/backward call needs (FlashAttention's Flash_fwd_params style).
// Fill it with flash_params_init(), then set the pointers.
struct FlashAttnParams {
  // ---- shape
  int B = 0;   // batch
  int T = 0;   // sequence length of this pass (n_i = i + 1 visible keys for row i)
  int NH = 0;  // heads
  int HS = 0;  // head size (64 or 128); C = NH·HS
  // ---- variant
  AttnSpec spec;     // resolved variant (attention/registry.h: attn_resolve)
  FlashRoute route;  // flash_route(spec, HS); the kernels refuse a route that is not Fused
  // ---- forward
  const __nv_bfloat16* qkv = nullptr;  // (B, T, 3C) input, RoPE'd
  __nv_bfloat16* out = nullptr;        // (B, T, C) output
  float* stats = nullptr;              // (S, B, NH, T) saved row statistics, S = flash_saved_stat_count:
                                       //   [0] LSE (Softmax) or Z = Σ|φ| (L1); re-weighting adds
                                       //   [1] M = max_j relu(u_ij) (≤ 0: row kept its weights a),
                                       //   [2] W = Σ_j (relu(u_ij)/M)^p, [3] R̃ = Σ_j γ_ij / (W·M).
                                       //   nullptr: not saved (evaluation); the backward needs it
  __nv_bfloat16* o2 = nullptr;         // (B, T, C) re-weighting only: Õ2 = Σ_j γ_ij v_j / (W·M),
                                       //   γ = p·r^(p−1)·(u + o_i) (KERNEL_NOTES §8.3 option a);
                                       //   nullptr: not saved (evaluation)
  void* fwd_workspace = nullptr;       // flash_buffer_sizes().fwd_workspace bytes (LSSA: k̂, 1/‖q‖)
  // ---- backward (reads qkv, out, stats, o2 of the forward)
  const __nv_bfloat16* dout = nullptr;  // (B, T, C) gradient of the output
  __nv_bfloat16* dqkv = nullptr;        // (B, T, 3C) gradient of qkv, overwritten
  void* bwd_workspace = nullptr;        // flash_buffer_sizes().bwd_workspace bytes
  bool deterministic = true;            // dq by its own pass over the key tiles (no float atomics in
                                        //   the result: bit-identical run to run); false: keep the
                                        //   fused backward's fp32-atomic dq (summation order varies)
};

// Shapes, spec and route filled in; pointers null. Throws Error (one line) when the variant or
// head size has no fused kernel (ask flash_route() first to choose the reference path instead).
FlashAttnParams flash_params_init(const AttnSpec& spec, int B, int T, int NH, int HS);

// Launch the forward: (LSSA prologue) + the fused forward kernel. Asynchronous on `stream`.
void flash_attention_forward(const FlashAttnParams& p, cudaStream_t stream);
// Launch the backward: preprocess (D, E, dq zero, LSSA prologue) + fused backward kernel
// (dK, dV) + the deterministic dq pass (or atomics, see `deterministic`) + dq conversion. Asynchronous on `stream`. Needs stats (and o2 for re-weighting).
void flash_attention_backward(const FlashAttnParams& p, cudaStream_t stream);

}  // namespace lssa
