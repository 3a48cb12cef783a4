// Fused classifier on the GPU: softmax + cross-entropy over the first V of the Vp logit columns
// (the padding columns ≥ V are computed by the matmul but never enter the softmax), without
// materialising the probabilities.
//
// Forward, per row i (one block):  mx = max_{v<V} z_v,  S = Σ_{v<V} exp(z_v − mx),
//   loss_i = log S + mx − z_{target}; the row stats (mx, S) are kept (N, 2) for the backward.
// Backward: dz_v = (exp(z_v − mx)/S − [v = target])·scale for v < V, 0 for v ≥ V — written over
// the logits in place (the logits are not needed after the backward).
// Shapes: logits / dlogits (N, Vp) bf16, targets (N), losses (N) fp32, stats (N, 2) fp32.
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {
constexpr int kBlock = 512;

__global__ void crossentropy_forward_kernel(float* losses, float* stats, const bf16* logits, const int* targets,
                                            int V, int Vp) {
  __shared__ float red[32];
  const int i = blockIdx.x;
  const bf16* z = logits + (size_t)i * Vp;
  float mx = -INFINITY;
  for (int v = threadIdx.x; v < V; v += blockDim.x) mx = fmaxf(mx, __bfloat162float(z[v]));
  mx = block_max(mx, red);
  float s = 0.f;
  for (int v = threadIdx.x; v < V; v += blockDim.x) s += expf(__bfloat162float(z[v]) - mx);
  s = block_sum(s, red);
  if (threadIdx.x == 0) {
    losses[i] = logf(s) + mx - __bfloat162float(z[targets[i]]);
    stats[2 * i] = mx;
    stats[2 * i + 1] = s;
  }
}

__global__ void crossentropy_backward_kernel(bf16* dlogits, const bf16* logits, const float* stats,
                                             const int* targets, int V, int Vp, float scale) {
  const int i = blockIdx.x;
  const bf16* z = logits + (size_t)i * Vp;
  bf16* d = dlogits + (size_t)i * Vp;
  const float mx = stats[2 * i], inv = scale / stats[2 * i + 1];
  const int target = targets[i];
  for (int v = threadIdx.x; v < Vp; v += blockDim.x) {
    float g = 0.f;
    if (v < V) g = expf(__bfloat162float(z[v]) - mx) * inv - (v == target ? scale : 0.f);
    d[v] = __float2bfloat16(g);
  }
}
}  // namespace

void crossentropy_forward_cuda(const DeviceContext& ctx, float* losses, float* stats, const bf16* logits,
                               const int* targets, int N, int V, int Vp) {
  if (N == 0) return;
  crossentropy_forward_kernel<<<N, kBlock, 0, ctx.stream>>>(losses, stats, logits, targets, V, Vp);
  CUDA_CHECK(cudaGetLastError());
}

void crossentropy_backward_cuda(const DeviceContext& ctx, bf16* dlogits, const bf16* logits, const float* stats,
                                const int* targets, int N, int V, int Vp, float scale) {
  if (N == 0) return;
  crossentropy_backward_kernel<<<N, kBlock, 0, ctx.stream>>>(dlogits, logits, stats, targets, V, Vp, scale);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
