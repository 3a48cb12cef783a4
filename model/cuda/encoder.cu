// Encoder (token embedding) on the GPU. GPT-2 with RoPE has no position embedding (wpe), so the
// encoder is a gather of wte rows.
//
// Forward:  out[i, c] = wte[tokens[i], c]                      out (N, C), wte (Vp, C)
// Backward: dwte[v, c] += Σ_{i: tokens[i] = v} dout[i, c]     dwte (Vp, C) fp32
// The backward is a scatter; instead of atomics (whose float sums depend on timing), the host
// groups positions by token (bucket_tokens, cuda_plan.h) and one block per distinct token sums
// its positions in ascending order: deterministic.
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

__global__ void encoder_forward_kernel(bf16* out, const int* tokens, const bf16* wte, int N, int C) {
  const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (idx >= (size_t)N * C) return;
  const int i = (int)(idx / C), c = (int)(idx % C);
  out[idx] = wte[(size_t)tokens[i] * C + c];
}

// grid (U, ceil(C / blockDim)): block (u, cb) owns channels [cb·blockDim, …) of token ids[u].
__global__ void encoder_backward_kernel(float* dwte, const bf16* dout, const int* ids, const int* start,
                                        const int* pos, int C) {
  const int u = blockIdx.x;
  const int c = blockIdx.y * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float acc = 0.f;
  for (int p = start[u]; p < start[u + 1]; p++) acc += __bfloat162float(dout[(size_t)pos[p] * C + c]);
  dwte[(size_t)ids[u] * C + c] += acc;
}

void encoder_forward_cuda(const DeviceContext& ctx, bf16* out, const int* tokens, const bf16* wte, int N, int C) {
  const int block = 256;
  encoder_forward_kernel<<<ceil_div((long long)N * C, block), block, 0, ctx.stream>>>(out, tokens, wte, N, C);
  CUDA_CHECK(cudaGetLastError());
}

void encoder_backward_cuda(const DeviceContext& ctx, float* dwte, const bf16* dout, const int* ids, const int* start,
                           const int* pos, int U, int C) {
  if (U == 0) return;
  const int block = 256;
  dim3 grid(U, ceil_div(C, block));
  encoder_backward_kernel<<<grid, block, 0, ctx.stream>>>(dwte, dout, ids, start, pos, C);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
