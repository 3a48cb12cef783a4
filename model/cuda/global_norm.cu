// Global gradient norm on the GPU: Σ g² over every parameter gradient (fp32 values, fp64
// accumulation as the CPU backend), for the clipping of DESIGN §6.
// Deterministic two-stage reduction: a fixed grid of kNormBlocks blocks, each thread summing a
// fixed grid-stride subset, a fixed tree inside the block → partial (kNormBlocks); then one
// block sums the partials in a fixed tree. No atomics, so the norm (and the clipping factor that
// feeds the weights) is bit-identical from run to run.
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {
constexpr int kBlock = 256;

__device__ double block_sum_double(double v, double* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
  if (lane == 0) red[warp] = v;
  __syncthreads();
  double r = lane < (int)(blockDim.x / kWarpSize) ? red[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1) r += __shfl_xor_sync(0xffffffffu, r, o);
  return r;
}

__global__ void norm_partial_kernel(double* partial, const float* g, size_t n) {
  __shared__ double red[32];
  double s = 0.0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const double x = g[i];
    s += x * x;
  }
  s = block_sum_double(s, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void norm_final_kernel(double* out, const double* partial, int count) {
  __shared__ double red[32];
  double s = 0.0;
  for (int i = threadIdx.x; i < count; i += blockDim.x) s += partial[i];
  s = block_sum_double(s, red);
  if (threadIdx.x == 0) *out = s;
}
}  // namespace

void global_norm_squared_cuda(const DeviceContext& ctx, double* out, double* partial, const float* g, size_t n) {
  norm_partial_kernel<<<kNormBlocks, kBlock, 0, ctx.stream>>>(partial, g, n);
  CUDA_CHECK(cudaGetLastError());
  norm_final_kernel<<<1, kBlock, 0, ctx.stream>>>(out, partial, kNormBlocks);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
