// The GPT-2 layers on the CPU, forward and backward, templated on the real type (float for the
// backend, double for the finite-difference tests). llm.c's layer set, with RoPE instead of
// learned positions; attention lives in attention/attention_cpu.h.
//
// Conventions: forward writes its output; backward ADDS into parameter gradients (they
// accumulate over micro-batches) and into the input gradient where noted. N = B·T rows.
// Matmuls go through BLAS (OpenBLAS) when available.
#pragma once
#include <vector>

#include "model/rope.h"

namespace lssa {

// out (B,T,C) = wte[tokens]
template <typename R>
void encoder_forward(R* out, const int* tokens, const R* wte, int N, int C);
// dwte += scatter of dout (serial over tokens: deterministic)
template <typename R>
void encoder_backward(R* dwte, const R* dout, const int* tokens, int N, int C);

// out = (x − mean)/sqrt(var + 1e-5)·w + b per row of C; saves mean, rstd (N)
template <typename R>
void layernorm_forward(R* out, R* mean, R* rstd, const R* inp, const R* w, const R* b, int N, int C);
// dinp += …, dw += …, db += …
template <typename R>
void layernorm_backward(R* dinp, R* dw, R* db, const R* dout, const R* inp, const R* w, const R* mean,
                        const R* rstd, int N, int C);

// out (N, OC) = inp (N, IC) · W(OC, IC)ᵀ + bias (OC) (bias may be null)
template <typename R>
void matmul_forward(R* out, const R* inp, const R* W, const R* bias, int N, int IC, int OC);
// dinp (N, IC) = dout·W (overwritten; null to skip), dW += doutᵀ·inp, dbias += Σ_rows dout
template <typename R>
void matmul_backward(R* dinp, R* dW, R* dbias, const R* dout, const R* inp, const R* W, int N, int IC, int OC);

// GELU, tanh approximation (GPT-2)
template <typename R>
void gelu_forward(R* out, const R* inp, int n);
// dinp = gelu'(inp)·dout (overwritten)
template <typename R>
void gelu_backward(R* dinp, const R* inp, const R* dout, int n);

// out = a + b
template <typename R>
void residual_forward(R* out, const R* a, const R* b, int n);

// Rotates q and k of every head of qkv (B, T, 3C) in place (RopeTable: model/rope.h) (dir = +1), or rotates gradients
// back (dir = −1: the transpose of the rotation).
template <typename R>
void rope_apply(R* qkv, const RopeTable& tab, int B, int T, int NH, int HS, int dir);

// Cross-entropy of logits (N, Vp) over the first V columns against targets (N).
// losses (N) per row; returns their mean.
template <typename R>
double crossentropy_forward(R* losses, const R* logits, const int* targets, int N, int V, int Vp);
// dlogits (N, Vp) = (softmax − onehot)·scale for columns < V, 0 for the padding (overwritten).
template <typename R>
void crossentropy_backward(R* dlogits, const R* logits, const int* targets, int N, int V, int Vp, R scale);

}  // namespace lssa
