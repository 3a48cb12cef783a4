// RoPE on the GPU: rotate-half rotation of q and k of every head, in place in qkv (B, T, 3C).
// The angles are model/rope.h's (built into cos/sin tables (T, HS/2) by RopeTable on the host,
// NTK / dynamic scaling included), so both backends rotate by the same numbers:
//   x'[i] = x[i]·cos − x[i+HS/2]·sin,   x'[i+HS/2] = x[i+HS/2]·cos + x[i]·sin     (dir = +1)
// dir = −1 applies the transpose (sin → −sin): the backward of the rotation.
#include "runtime/cuda_common.cuh"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {
// One thread per (b, t, q|k, head, i < HS/2) pair.
__global__ void rope_kernel(bf16* qkv, const float* cos_t, const float* sin_t, int B, int T, int NH, int HS, int dir) {
  const int H2 = HS / 2, C = NH * HS;
  const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
  const size_t total = (size_t)B * T * 2 * NH * H2;
  if (idx >= total) return;
  const int i = (int)(idx % H2);
  size_t r = idx / H2;
  const int h = (int)(r % NH);
  r /= NH;
  const int part = (int)(r % 2);
  const size_t bt = r / 2;
  const int t = (int)(bt % T);
  bf16* x = qkv + bt * 3 * C + (size_t)part * C + (size_t)h * HS;
  const float c = cos_t[(size_t)t * H2 + i], s = sin_t[(size_t)t * H2 + i] * (float)dir;
  const float x0 = __bfloat162float(x[i]), x1 = __bfloat162float(x[i + H2]);
  x[i] = __float2bfloat16(x0 * c - x1 * s);
  x[i + H2] = __float2bfloat16(x1 * c + x0 * s);
}
}  // namespace

void rope_apply_cuda(const DeviceContext& ctx, bf16* qkv, const float* cos, const float* sin, int B, int T, int NH,
                     int HS, int dir) {
  const long long total = (long long)B * T * 2 * NH * (HS / 2);
  rope_kernel<<<ceil_div(total, 256), 256, 0, ctx.stream>>>(qkv, cos, sin, B, T, NH, HS, dir);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
