// GELU on the GPU, tanh approximation (GPT-2), element-wise in fp32 on bf16 data (the formulas: model/layers_math.h):
//   gelu(x)  = 0.5·x·(1 + tanh(u)),  u = √(2/π)·(x + 0.044715·x³)
//   gelu'(x) = 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·√(2/π)·(1 + 3·0.044715·x²)
// Shapes: any (n) elements; the model uses (B, T, 4C).
#include "model/layers_math.h"
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {
__global__ void gelu_forward_kernel(bf16* out, const bf16* inp, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = __bfloat162float(inp[i]);
  out[i] = __float2bfloat16(gelu_tanh(x));
}

__global__ void gelu_backward_kernel(bf16* dinp, const bf16* inp, const bf16* dout, size_t n) {
  const size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const float x = __bfloat162float(inp[i]);
  dinp[i] = __float2bfloat16(gelu_tanh_deriv(x) * __bfloat162float(dout[i]));
}
}  // namespace

void gelu_forward_cuda(const DeviceContext& ctx, bf16* out, const bf16* inp, size_t n) {
  gelu_forward_kernel<<<ceil_div((long long)n, 256), 256, 0, ctx.stream>>>(out, inp, n);
  CUDA_CHECK(cudaGetLastError());
}

void gelu_backward_cuda(const DeviceContext& ctx, bf16* dinp, const bf16* inp, const bf16* dout, size_t n) {
  gelu_backward_kernel<<<ceil_div((long long)n, 256), 256, 0, ctx.stream>>>(dinp, inp, dout, n);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
