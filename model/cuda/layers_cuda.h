// The GPT-2 layers on the GPU: launchers (host functions) of the kernels in this folder, one
// file per layer (encoder.cu, layernorm.cu, matmul.cu, gelu.cu, rope.cu, classifier.cu,
// adamw.cu, global_norm.cu). They mirror model/layers_cpu.h, which is their reference.
//
// Precision: activations and weights bf16, all arithmetic in fp32, parameter gradients fp32
// (accumulated across micro-batches in fp32, never in bf16), AdamW state and master weights
// fp32. Conventions as on the CPU: forward writes its output; backward ADDS into parameter
// gradients and, where noted, into the input gradient. N = B·T rows.
//
// Determinism: no float atomics anywhere. Reductions over rows (bias / LayerNorm weight
// gradients, the embedding scatter, the global norm) are two-stage with a fixed chunking that
// depends only on the shapes, so a rerun gives the same bits (resume is bit-exact). cuBLASLt is
// deterministic for a fixed stream and workspace on one GPU model (its documented guarantee).
//
// Every launcher enqueues on ctx.stream and returns without synchronising.
#pragma once
#include <cuda_bf16.h>

#include <cstddef>

#include "model/cuda/cuda_context.h"

namespace lssa {

using bf16 = __nv_bfloat16;

// ---- encoder.cu (no wpe: positions come from RoPE)
// out (N, C) = wte[tokens]          wte (Vp, C)
void encoder_forward_cuda(const DeviceContext& ctx, bf16* out, const int* tokens, const bf16* wte, int N, int C);
// dwte (Vp, C) += Σ_{positions of token} dout (N, C). Buckets from bucket_tokens() on the host
// (device copies): U distinct ids (U), start (U+1), pos (N). Each row of dwte is summed in
// position order by one block: deterministic.
void encoder_backward_cuda(const DeviceContext& ctx, float* dwte, const bf16* dout, const int* ids, const int* start,
                           const int* pos, int U, int C);

// ---- layernorm.cu
// out (N, C) = (x − mean)·rstd·w + b; mean, rstd (N) fp32.
void layernorm_forward_cuda(const DeviceContext& ctx, bf16* out, float* mean, float* rstd, const bf16* inp,
                            const bf16* w, const bf16* b, int N, int C);
// Fused residual + LayerNorm: residual (N, C) = a + b (stored, bf16), then out = LN(residual).
// Saves a full read of the residual stream per layer.
void residual_layernorm_forward_cuda(const DeviceContext& ctx, bf16* residual, bf16* out, float* mean, float* rstd,
                                     const bf16* a, const bf16* b, const bf16* w, const bf16* bias, int N, int C);
// dinp (N, C) += LN backward (bf16, in place); dw, db (C) fp32 +=. partial: kColSumRows-row
// chunks × 2C floats of scratch (cuda_plan.h).
void layernorm_backward_cuda(const DeviceContext& ctx, bf16* dinp, float* dw, float* db, float* partial,
                             const bf16* dout, const bf16* inp, const bf16* w, const float* mean, const float* rstd,
                             int N, int C);

// ---- matmul.cu (cuBLASLt, bf16 in, fp32 compute)
struct MatmulForward {
  bf16* out = nullptr;         // (N, OC) = inp·Wᵀ + bias, then GELU when gelu
  bf16* pre_gelu = nullptr;    // (N, OC) the pre-activation (gelu only; the backward needs it)
  const bf16* inp = nullptr;   // (N, IC)
  const bf16* W = nullptr;     // (OC, IC), PyTorch Linear layout
  const bf16* bias = nullptr;  // (OC) or null
  int N = 0, IC = 0, OC = 0;
  bool gelu = false;           // cuBLASLt GELU_AUX_BIAS epilogue (tanh GELU, as GPT-2)
};
void matmul_forward_cuda(const DeviceContext& ctx, const MatmulForward& m);

struct MatmulBackward {
  bf16* dinp = nullptr;        // (N, IC) = dout·W, overwritten; null to skip
  float* dW = nullptr;         // (OC, IC) fp32 += doutᵀ·inp (cuBLASLt: bf16 inputs, fp32 C/D, beta 1)
  float* dbias = nullptr;      // (OC) fp32 += Σ_rows dout; null to skip
  float* partial = nullptr;    // scratch for dbias: kColSumRows-row chunks × OC floats
  const bf16* dout = nullptr;  // (N, OC)
  const bf16* inp = nullptr;   // (N, IC)
  const bf16* W = nullptr;     // (OC, IC)
  int N = 0, IC = 0, OC = 0;
};
void matmul_backward_cuda(const DeviceContext& ctx, const MatmulBackward& m);

// ---- gelu.cu (tanh approximation, as GPT-2 and layers_cpu)
void gelu_forward_cuda(const DeviceContext& ctx, bf16* out, const bf16* inp, size_t n);
// dinp = gelu'(inp)·dout (overwritten)
void gelu_backward_cuda(const DeviceContext& ctx, bf16* dinp, const bf16* inp, const bf16* dout, size_t n);

// ---- rope.cu: rotates q and k of every head of qkv (B, T, 3C) in place; dir = −1 rotates
// gradients back. cos, sin (T, HS/2) fp32 from RopeTable (model/rope.h).
void rope_apply_cuda(const DeviceContext& ctx, bf16* qkv, const float* cos, const float* sin, int B, int T, int NH,
                     int HS, int dir);

// ---- classifier.cu: softmax + cross-entropy over the first V of Vp columns, never storing
// probabilities. Forward: losses (N) and per-row stats (N, 2) = (max, Σ exp(z − max)).
void crossentropy_forward_cuda(const DeviceContext& ctx, float* losses, float* stats, const bf16* logits,
                               const int* targets, int N, int V, int Vp);
// dlogits (N, Vp) = (softmax − onehot)·scale for columns < V, 0 for the padding. May alias
// logits (each element is read, then written, by the same thread).
void crossentropy_backward_cuda(const DeviceContext& ctx, bf16* dlogits, const bf16* logits, const float* stats,
                                const int* targets, int N, int V, int Vp, float scale);

// ---- adamw.cu
struct AdamWArgs {
  float* master = nullptr;       // (n) fp32 weights, updated
  bf16* params = nullptr;        // (n) bf16 copy used by the forward, rewritten
  const float* grads = nullptr;  // (n) fp32
  float* m = nullptr;            // (n) first moment
  float* v = nullptr;            // (n) second moment
  size_t n = 0;
  float lr = 0, beta1 = 0, beta2 = 0, eps = 0;
  float weight_decay = 0;        // 0 for the non-decayed ranges
  float grad_scale = 1;          // clipping factor
  float bias_corr1 = 1, bias_corr2 = 1;  // 1 − β1^t, 1 − β2^t (computed on the host in fp32)
};
void adamw_cuda(const DeviceContext& ctx, const AdamWArgs& a);

// ---- global_norm.cu: Σ g² over n fp32 values in fp64, deterministic two-stage reduction.
// partial: kNormBlocks doubles of scratch; out: one double on the device.
constexpr int kNormBlocks = 512;
void global_norm_squared_cuda(const DeviceContext& ctx, double* out, double* partial, const float* g, size_t n);

// ---- conversions (adamw.cu): bf16 ↔ fp32 copies
void f32_to_bf16_cuda(const DeviceContext& ctx, bf16* out, const float* in, size_t n);
void bf16_to_f32_cuda(const DeviceContext& ctx, float* out, const bf16* in, size_t n);

}  // namespace lssa
