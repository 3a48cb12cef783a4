// The element formulas of the model's layers — the ONE home of each, used by the CPU layers
// (model/layers_cpu.cpp, model/gpt2_cpu.cpp) and the CUDA kernels (model/cuda/*.cu), as
// attention/attention_math.h is for attention. `__host__ __device__` under nvcc, templated on the
// real type (float on the GPU and the CPU backend, double in the finite-difference tests).
//   GELU (tanh, GPT-2):  gelu(x) = 0.5·x·(1 + tanh u),  u = √(2/π)·(x + 0.044715·x³)
//                        gelu'(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
//   LayerNorm:           rstd = 1/√(var + ε), ε = kLayerNormEps (attention_math.h: one ε for the
//                        model's LayerNorms and relu_shen's), layernorm_rstd
//   AdamW (decoupled):   m ← β1·m + (1 − β1)·g,  v ← β2·v + (1 − β2)·g²,
//                        p ← p − lr·( (m/c1) / (√(v/c2) + eps) + wd·p ),  c_k = 1 − β_k^t
#pragma once
#include <math.h>

#include "attention/attention_math.h"  // LSSA_HD, kLayerNormEps, layernorm_rstd

namespace lssa {

constexpr double kGeluTanhScale = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluTanhCubic = 0.044715;

template <typename R>
LSSA_HD R gelu_tanh(R x) {
  return R(0.5) * x * (R(1) + tanh(R(kGeluTanhScale) * (x + R(kGeluTanhCubic) * x * x * x)));
}

// d gelu / dx.
template <typename R>
LSSA_HD R gelu_tanh_deriv(R x) {
  const R t = tanh(R(kGeluTanhScale) * (x + R(kGeluTanhCubic) * x * x * x));
  const R du = R(kGeluTanhScale) * (R(1) + R(3) * R(kGeluTanhCubic) * x * x);
  return R(0.5) * (R(1) + t) + R(0.5) * x * (R(1) - t * t) * du;
}

// One AdamW step of one element: updates m and v, returns the new parameter. g is the (clipped)
// gradient; c1, c2 the bias corrections 1 − β^t; wd = 0 for tensors without decay.
template <typename R>
LSSA_HD R adamw_update(R p, R g, R* m, R* v, R beta1, R beta2, R c1, R c2, R eps, R lr, R wd) {
  *m = beta1 * *m + (R(1) - beta1) * g;
  *v = beta2 * *v + (R(1) - beta2) * g * g;
  return p - lr * ((*m / c1) / (sqrt(*v / c2) + eps) + wd * p);
}

}  // namespace lssa
