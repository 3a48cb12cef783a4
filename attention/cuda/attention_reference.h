// Causal attention on the GPU for every registered variant — the straightforward GPU reference
// (the fused FlashAttention-style kernels, attention/cuda/flash_*, are checked against it; it is
// itself checked against attention/attention_cpu.h).
//
// It mirrors the CPU row pipeline: one thread block per query row, the row's scores in shared
// memory (fp32), the row's weights built by attention/attention_math.h (φ, softmax, transform,
// normaliser, re-weighting), fp32 arithmetic on bf16 inputs. Memory is O(T): no (T, T) matrix.
//   forward            o_i = Σ_j a'_ij v_j (+ LayerNorm over HS for relu_shen)
//   backward, rows     recompute row i, dL/da'_ij = dO_i·v_j, then the three row reductions
//                      of the chain rule (re-weighting c1, l1 c2, softmax c3) → dS_ij → dq_i;
//                      the row's statistics are saved (B, NH, T, 8)
//   backward, columns  one block per key j recomputes S_ij and dS_ij for i ≥ j from the saved
//                      row statistics → dk_j = Σ_i c_i dS_ij q_i, dv_j = Σ_i a'_ij dO_i
// No atomics: every sum has a fixed order, so the results are bit-identical run to run.
// Limits: HS ∈ {32, 64, 128}; the row's scores live in shared memory (forward 4·T bytes,
// backward 8·T bytes), so T ≤ ~57K (forward) and ~28K (backward) on an H100 — beyond that the
// launcher fails with one line.
//
// Shapes (llm.c layout): qkv (B, T, 3C) bf16 (q | k | v, heads contiguous inside each, RoPE
// already applied); out, dout (B, T, C) bf16; dqkv (B, T, 3C) bf16, overwritten.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

#include "attention/attention.h"  // AttnShape
#include "attention/attention_math.h"
#include "attention/attention_stats.h"

namespace lssa {

// Device scratch of the reference path, (B, NH, T, …) fp32 — see attention_reference_scratch_bytes.
struct AttnReferenceScratch {
  float* q = nullptr;         // (B, NH, T, HS) q, or q/‖q‖ for the cosine score
  float* k = nullptr;         // (B, NH, T, HS) k, or k/‖k‖
  float* v = nullptr;         // (B, NH, T, HS)
  float* qdiv = nullptr;      // (B, NH, T) max(‖q‖, eps) (cosine only)
  float* kdiv = nullptr;      // (B, NH, T)
  float* dout = nullptr;      // (B, NH, T, HS) backward: dO (relu_shen: through the LayerNorm)
  float* rowstats = nullptr;  // (B, NH, T, 8) backward: per-row statistics and reductions
};

// Bytes of each scratch buffer in the order of AttnReferenceScratch (forward needs the first 5).
size_t attention_reference_scratch_bytes(const AttnShape& s, bool training);
// Points the scratch into one device allocation of attention_reference_scratch_bytes bytes.
AttnReferenceScratch attention_reference_scratch_at(void* base, const AttnShape& s, bool training);

// out (B, T, C) from qkv (B, T, 3C). Throws Error for an unsupported HS or a T too long for the
// device's shared memory.
void attention_reference_forward(cudaStream_t stream, const AttnSpec& spec, const AttnShape& s,
                                 const AttnReferenceScratch& scratch, __nv_bfloat16* out, const __nv_bfloat16* qkv);
// --attn-stats (attention/attention_stats.h): right after attention_reference_forward on the same
// stream and scratch (it reads the forward's prepared q, k), recomputes each row's weights (one
// block per row, like the forward) and their statistics — the final weights, and the base weights
// before re-weighting when stats.has_base() — into a (B, NH, T, sets, 4) fp32 device buffer of its
// own, copies it to the host (synchronising the stream) and adds it into `stats`
// (attn_stats_add_rows). O(B·NH·T) memory. Compiled; not yet run on a GPU.
void attention_reference_stats(cudaStream_t stream, const AttnSpec& spec, const AttnShape& s,
                               const AttnReferenceScratch& scratch, AttnStats& stats);
// dqkv (B, T, 3C) from dout (B, T, C) and the forward's qkv (recomputes everything it needs).
void attention_reference_backward(cudaStream_t stream, const AttnSpec& spec, const AttnShape& s,
                                  const AttnReferenceScratch& scratch, __nv_bfloat16* dqkv,
                                  const __nv_bfloat16* dout, const __nv_bfloat16* qkv);

}  // namespace lssa
