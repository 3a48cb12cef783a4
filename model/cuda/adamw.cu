// AdamW on the GPU, on fp32 master weights (DESIGN §6; the same update as Gpt2Cpu::adamw_step, model/layers_math.h):
//   g = grad·grad_scale
//   m = β1·m + (1 − β1)·g,   v = β2·v + (1 − β2)·g²
//   p −= lr·( (m/(1 − β1^t)) / (√(v/(1 − β2^t)) + eps) + wd·p )
// and the bf16 copy the forward reads is refreshed from the fp32 master. Element-wise over one
// range of the flat parameter buffer (the backend launches once per decay range, cuda_plan.h).
// Also here: the plain bf16 ↔ fp32 conversions the backend uses to move parameters.
#include "model/layers_math.h"
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {
__global__ void adamw_kernel(AdamWArgs a) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= a.n) return;
  const float g = a.grads[i] * a.grad_scale;
  float m = a.m[i], v = a.v[i];
  const float p = adamw_update(a.master[i], g, &m, &v, a.beta1, a.beta2, a.bias_corr1, a.bias_corr2, a.eps, a.lr,
                               a.weight_decay);
  a.m[i] = m;
  a.v[i] = v;
  a.master[i] = p;
  a.params[i] = __float2bfloat16(p);
}

__global__ void f32_to_bf16_kernel(bf16* out, const float* in, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float2bfloat16(in[i]);
}

__global__ void bf16_to_f32_kernel(float* out, const bf16* in, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __bfloat162float(in[i]);
}
}  // namespace

void adamw_cuda(const DeviceContext& ctx, const AdamWArgs& a) {
  if (a.n == 0) return;
  adamw_kernel<<<ceil_div((long long)a.n, 256), 256, 0, ctx.stream>>>(a);
  CUDA_CHECK(cudaGetLastError());
}

void f32_to_bf16_cuda(const DeviceContext& ctx, bf16* out, const float* in, size_t n) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<ceil_div((long long)n, 256), 256, 0, ctx.stream>>>(out, in, n);
  CUDA_CHECK(cudaGetLastError());
}

void bf16_to_f32_cuda(const DeviceContext& ctx, float* out, const bf16* in, size_t n) {
  if (n == 0) return;
  bf16_to_f32_kernel<<<ceil_div((long long)n, 256), 256, 0, ctx.stream>>>(out, in, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
