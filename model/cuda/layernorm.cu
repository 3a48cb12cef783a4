// LayerNorm on the GPU (and the fused residual + LayerNorm).
//
// Forward, per row x of C channels (fp32 math on bf16 data):
//   mean = Σx/C, var = Σ(x − mean)²/C, rstd = 1/√(var + 1e-5), out = (x − mean)·rstd·w + b
// Backward (n = (x − mean)·rstd, g = w·dout):
//   dx = rstd·(g − mean(g) − n·mean(g·n))          (row-local: one warp per row)
//   dw = Σ_rows n·dout, db = Σ_rows dout           (column sums: two-stage, deterministic)
// Shapes: inp, out, dout, dinp (N, C); w, b, dw, db (C); mean, rstd (N).
// The residual stream is added here too (residual = a + b, then LN of it): the sum is stored
// once and normalised while it is in registers/L1, instead of a separate residual kernel.
#include "model/layers_math.h"
#include "runtime/cuda_common.cuh"
#include "model/cuda/cuda_plan.h"
#include "model/cuda/layers_cuda.h"

namespace lssa {

namespace {

constexpr int kRowsPerBlock = 4;  // one warp per row, 4 warps per block
constexpr float kEps = (float)kLayerNormEps;  // the one ε (attention_math.h, model/layers_math.h)

// One warp normalises one row. `residual_b` non-null: x = a + b is formed (rounded to bf16, as
// stored) and written to `residual` first.
__global__ void layernorm_forward_kernel(bf16* residual, bf16* out, float* mean, float* rstd, const bf16* a,
                                         const bf16* residual_b, const bf16* w, const bf16* bias, int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= N) return;
  const bf16* xa = a + (size_t)row * C;
  if (residual_b) {
    const bf16* xb = residual_b + (size_t)row * C;
    bf16* xr = residual + (size_t)row * C;
    for (int c = lane; c < C; c += kWarpSize) xr[c] = __float2bfloat16(__bfloat162float(xa[c]) + __bfloat162float(xb[c]));
    __syncwarp();
    xa = xr;
  }
  float s = 0.f;
  for (int c = lane; c < C; c += kWarpSize) s += __bfloat162float(xa[c]);
  const float m = warp_sum(s) / C;
  float v = 0.f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float d = __bfloat162float(xa[c]) - m;
    v += d * d;
  }
  const float r = rsqrtf(warp_sum(v) / C + kEps);
  bf16* o = out + (size_t)row * C;
  for (int c = lane; c < C; c += kWarpSize)
    o[c] = __float2bfloat16((__bfloat162float(xa[c]) - m) * r * __bfloat162float(w[c]) + __bfloat162float(bias[c]));
  if (lane == 0) {
    mean[row] = m;
    rstd[row] = r;
  }
}

__global__ void layernorm_backward_input_kernel(bf16* dinp, const bf16* dout, const bf16* inp, const bf16* w,
                                                const float* mean, const float* rstd, int N, int C) {
  const int row = blockIdx.x * kRowsPerBlock + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (row >= N) return;
  const bf16* x = inp + (size_t)row * C;
  const bf16* g = dout + (size_t)row * C;
  const float m = mean[row], r = rstd[row];
  float gm = 0.f, gnm = 0.f;
  for (int c = lane; c < C; c += kWarpSize) {
    const float n = (__bfloat162float(x[c]) - m) * r, dn = __bfloat162float(w[c]) * __bfloat162float(g[c]);
    gm += dn;
    gnm += dn * n;
  }
  gm = warp_sum(gm) / C;
  gnm = warp_sum(gnm) / C;
  bf16* dx = dinp + (size_t)row * C;
  for (int c = lane; c < C; c += kWarpSize) {
    const float n = (__bfloat162float(x[c]) - m) * r, dn = __bfloat162float(w[c]) * __bfloat162float(g[c]);
    dx[c] = __float2bfloat16(__bfloat162float(dx[c]) + (dn - gm - n * gnm) * r);
  }
}

// Stage 1: grid (ceil(C / block), chunks): partial[k][c] = Σ_{rows of chunk k} n·dout,
// partial[k][C + c] = Σ dout.
__global__ void layernorm_backward_params_partial(float* partial, const bf16* dout, const bf16* inp,
                                                  const float* mean, const float* rstd, int N, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  const int k = blockIdx.y;
  if (c >= C) return;
  const int r0 = k * kColSumRows, r1 = min(N, r0 + kColSumRows);
  float sw = 0.f, sb = 0.f;
  for (int i = r0; i < r1; i++) {
    const float g = __bfloat162float(dout[(size_t)i * C + c]);
    sw += (__bfloat162float(inp[(size_t)i * C + c]) - mean[i]) * rstd[i] * g;
    sb += g;
  }
  partial[(size_t)k * 2 * C + c] = sw;
  partial[(size_t)k * 2 * C + C + c] = sb;
}

// Stage 2: chunks summed in order.
__global__ void layernorm_backward_params_final(float* dw, float* db, const float* partial, int chunks, int C) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= C) return;
  float sw = 0.f, sb = 0.f;
  for (int k = 0; k < chunks; k++) {
    sw += partial[(size_t)k * 2 * C + c];
    sb += partial[(size_t)k * 2 * C + C + c];
  }
  dw[c] += sw;
  db[c] += sb;
}

}  // namespace

void layernorm_forward_cuda(const DeviceContext& ctx, bf16* out, float* mean, float* rstd, const bf16* inp,
                            const bf16* w, const bf16* b, int N, int C) {
  layernorm_forward_kernel<<<ceil_div(N, kRowsPerBlock), kRowsPerBlock * kWarpSize, 0, ctx.stream>>>(
      nullptr, out, mean, rstd, inp, nullptr, w, b, N, C);
  CUDA_CHECK(cudaGetLastError());
}

void residual_layernorm_forward_cuda(const DeviceContext& ctx, bf16* residual, bf16* out, float* mean, float* rstd,
                                     const bf16* a, const bf16* b, const bf16* w, const bf16* bias, int N, int C) {
  layernorm_forward_kernel<<<ceil_div(N, kRowsPerBlock), kRowsPerBlock * kWarpSize, 0, ctx.stream>>>(
      residual, out, mean, rstd, a, b, w, bias, N, C);
  CUDA_CHECK(cudaGetLastError());
}

void layernorm_backward_cuda(const DeviceContext& ctx, bf16* dinp, float* dw, float* db, float* partial,
                             const bf16* dout, const bf16* inp, const bf16* w, const float* mean, const float* rstd,
                             int N, int C) {
  layernorm_backward_input_kernel<<<ceil_div(N, kRowsPerBlock), kRowsPerBlock * kWarpSize, 0, ctx.stream>>>(
      dinp, dout, inp, w, mean, rstd, N, C);
  CUDA_CHECK(cudaGetLastError());
  const int block = 128, chunks = ceil_div(N, kColSumRows);
  layernorm_backward_params_partial<<<dim3(ceil_div(C, block), chunks), block, 0, ctx.stream>>>(partial, dout, inp,
                                                                                               mean, rstd, N, C);
  CUDA_CHECK(cudaGetLastError());
  layernorm_backward_params_final<<<ceil_div(C, block), block, 0, ctx.stream>>>(dw, db, partial, chunks, C);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
