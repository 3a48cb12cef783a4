// The GPU reference attention: see attention_reference.h for the algorithm and shapes, and
// attention/attention_math.h for the math of each variant (every formula comes from there).
//
// Per row i (n = i + 1 visible keys), the weights are a chain of element-wise maps separated by
// row reductions. Only the scores s_j are stored (shared memory); every later quantity is
// recomputed from s_j and the row statistics, exactly as attention_cpu.cpp's row_forward:
//   f_j = softmax ? exp(s_j − mx)/S : φ(s_j)                        stats mx, S
//   g_j = −f_j (inverse) | f_j − shift_n (recentered) | f_j
//   a_j = l1 ? g_j/Z : g_j/D                                        stat Z = Σ|g_j|
//   r_j = relu(n·a_j − o_n)/rmax, w_j = r_j^p / W  (re-weighting)   stats rmax, W
// The backward of the chain (attention_cpu.cpp's row_backward) needs three more row sums:
//   c1 = Σ w_j·d0_j, c2 = Σ a_j·d1_j, c3 = Σ f_j·d3_j     (d0 = dL/dw, d1, d3 the chain below)
//   d1 = r>0 ? (d0 − c1)·p·n/(W·rmax)·r^(p−1) : 0   (re-weighted rows; else d1 = d0)
//   d2 = l1 ? (Z>0 ? (d1 − sign(g)·c2)/Z : 0) : d1/D,   d3 = inverse ? −d2 : d2
//   dS = softmax ? f·(d3 − c3) : φ'(s)·d3
#include "attention/cuda/attention_reference.h"

#include <vector>

#include "runtime/cuda_check.h"
#include "runtime/cuda_common.cuh"
#include "runtime/error.h"

namespace lssa {

namespace {

constexpr int kThreads = 128;  // 4 warps per row block
constexpr int kMaxHS = 128;    // HS ∈ {32, 64, 128}: kThreads is a multiple of HS
constexpr int kStats = 8;      // floats of row statistics saved per row

// Row statistics (forward) and the backward's row reductions.
struct RowStats {
  float mx = 0.f, S = 1.f;      // softmax: max score, Σ exp(s − mx)
  float Z = 0.f;                // l1 normaliser
  float rmax = 0.f, W = 0.f;    // re-weighting: max relu(u), Σ r^p
  float inv_rmax = 0.f;         // 1/rmax (rmax > 0)
  float c1 = 0.f, c2 = 0.f, c3 = 0.f;
};

// The row's constants that do not depend on the scores.
struct RowConst {
  int n;            // visible keys
  float scale;      // multiplier of q·k
  float bias;       // additive score bias
  float shift;      // recentering constant
  float D;          // fixed divisor (1/T, 1/n variants)
  float off;        // re-weighting offset o_n
  float cutoff;     // re-weighting: r below it is flushed to 0 (reweight_cutoff, per kernel)
};

// cutoff: reweight_cutoff(p), computed once per kernel (0 without re-weighting).
__device__ __forceinline__ float kernel_cutoff(const AttnSpec& sp) {
  return sp.reweight_p > 0.f ? reweight_cutoff(sp.reweight_p) : 0.f;
}

__device__ __forceinline__ RowConst row_const(const AttnSpec& sp, int n, int T, int HS, float cutoff) {
  RowConst rc;
  rc.n = n;
  rc.scale = attn_row_scale<float>(sp, n, HS);
  rc.bias = attn_row_bias<float>(sp, n);
  rc.shift = attn_recenter_shift<float>(sp, n);
  rc.D = attn_fixed_divisor<float>(sp, n, T);
  rc.off = reweight_offset<float>(n);
  rc.cutoff = cutoff;
  return rc;
}

__device__ __forceinline__ bool reweighted(const AttnSpec& sp, const RowStats& st) {
  return sp.reweight_p > 0.f && st.rmax > 0.f;
}

// ---- the element-wise chain (forward)
__device__ __forceinline__ float elem_f(const AttnSpec& sp, float s, const RowStats& st) {
  return sp.softmax ? expf(s - st.mx) / st.S : attn_map(sp.map, s);
}
__device__ __forceinline__ float elem_g(const AttnSpec& sp, float f, const RowConst& rc) {
  return attn_transform(sp.transform, f, rc.shift);
}
__device__ __forceinline__ float elem_a(const AttnSpec& sp, float g, const RowConst& rc, const RowStats& st) {
  if (sp.norm == AttnNorm::L1) return g * attn_l1_inv(st.Z);  // Z = 0: the row outputs 0
  return g / rc.D;
}
__device__ __forceinline__ float elem_r(float a, const RowConst& rc, const RowStats& st) {
  return reweight_ratio(reweight_u((float)rc.n, a, rc.off), st.inv_rmax, rc.cutoff);
}
// All the forward quantities of one element.
struct Elem {
  float f, g, a, r, w;
};
__device__ __forceinline__ Elem elem_forward(const AttnSpec& sp, float s, const RowConst& rc, const RowStats& st) {
  Elem e;
  e.f = elem_f(sp, s, st);
  e.g = elem_g(sp, e.f, rc);
  e.a = elem_a(sp, e.g, rc, st);
  if (reweighted(sp, st)) {
    e.r = elem_r(e.a, rc, st);
    e.w = reweight_pow(e.r, sp.reweight_p) / st.W;
  } else {
    e.r = 0.f;
    e.w = e.a;
  }
  return e;
}

// ---- the element-wise chain (backward), stage by stage
__device__ __forceinline__ float elem_d1(const AttnSpec& sp, const Elem& e, float d0, const RowConst& rc,
                                         const RowStats& st) {
  if (!reweighted(sp, st)) return d0;
  if (e.r <= 0.f) return 0.f;
  const float p = sp.reweight_p, k = p / (st.W * st.rmax) * (float)rc.n;
  return reweight_backward(d0, st.c1, k, e.r, reweight_pow(e.r, p - 1.f));
}
__device__ __forceinline__ float elem_d3(const AttnSpec& sp, const Elem& e, float d1, const RowConst& rc,
                                         const RowStats& st) {
  float d2;
  if (sp.norm == AttnNorm::L1) {
    d2 = attn_l1_backward(d1, attn_sign(e.g), st.c2, attn_l1_inv(st.Z));  // Z = 0 passes no gradient
  } else {
    d2 = d1 / rc.D;
  }
  return sp.transform == AttnTransform::Negate ? -d2 : d2;
}
__device__ __forceinline__ float elem_ds(const AttnSpec& sp, float s, const Elem& e, float d3, const RowStats& st) {
  return sp.softmax ? attn_softmax_backward(e.f, d3, st.c3) : attn_map_deriv(sp.map, s) * d3;
}
// dS from dL/dw for one element, given all the row reductions.
__device__ __forceinline__ float elem_dscore(const AttnSpec& sp, float s, float d0, const RowConst& rc,
                                             const RowStats& st, float* w_out) {
  const Elem e = elem_forward(sp, s, rc, st);
  *w_out = e.w;
  return elem_ds(sp, s, e, elem_d3(sp, e, elem_d1(sp, e, d0, rc, st), rc, st), st);
}

// ---- block-level pieces shared by the forward and the row backward

// s[j] = scale·(q·k_j) + bias for j < n; one warp per key, lanes over HS.
__device__ void row_scores(float* s, const float* q, const float* kh, int n, int HS, const RowConst& rc) {
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, nwarps = blockDim.x / kWarpSize;
  for (int j = warp; j < n; j += nwarps) {
    const float* kj = kh + (size_t)j * HS;
    float d = 0.f;
    for (int x = lane; x < HS; x += kWarpSize) d += q[x] * kj[x];
    d = warp_sum(d);
    if (lane == 0) s[j] = rc.scale * d + rc.bias;
  }
  __syncthreads();
}

// The forward statistics of a row whose scores are in s[0..n).
__device__ RowStats row_stats(const AttnSpec& sp, const float* s, const RowConst& rc, float* red) {
  RowStats st;
  const int n = rc.n;
  if (sp.softmax) {
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < n; j += blockDim.x) mx = fmaxf(mx, s[j]);
    st.mx = block_max(mx, red);
    float S = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) S += expf(s[j] - st.mx);
    st.S = block_sum(S, red);
  }
  if (sp.norm == AttnNorm::L1) {
    float Z = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) Z += fabsf(elem_g(sp, elem_f(sp, s[j], st), rc));
    st.Z = block_sum(Z, red);
  }
  if (sp.reweight_p > 0.f) {
    float rmax = 0.f;  // as the CPU: max(0, max_j u_j)
    for (int j = threadIdx.x; j < n; j += blockDim.x)
      rmax = fmaxf(rmax, reweight_u((float)n, elem_a(sp, elem_g(sp, elem_f(sp, s[j], st), rc), rc, st), rc.off));
    st.rmax = block_max(rmax, red);
    if (st.rmax > 0.f) {
      st.inv_rmax = 1.f / st.rmax;
      float W = 0.f;
      for (int j = threadIdx.x; j < n; j += blockDim.x) {
        const float a = elem_a(sp, elem_g(sp, elem_f(sp, s[j], st), rc), rc, st);
        W += reweight_pow(elem_r(a, rc, st), sp.reweight_p);
      }
      st.W = block_sum(W, red);
    }
  }
  return st;
}

// o[x] = Σ_{j<n} w_j·v_j[x] (x < HS) into `o` (shared, HS), fixed order: thread (g, x) sums
// j ≡ g (mod G), G = blockDim/HS groups, then the groups are added in order.
__device__ void row_output(float* o, float* part, const AttnSpec& sp, const float* s, const float* vh,
                           const RowConst& rc, const RowStats& st, int HS) {
  const int G = blockDim.x / HS, g = threadIdx.x / HS, x = threadIdx.x % HS;
  float acc = 0.f;
  for (int j = g; j < rc.n; j += G) acc += elem_forward(sp, s[j], rc, st).w * vh[(size_t)j * HS + x];
  part[threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.x < HS) {
    float sum = 0.f;
    for (int k = 0; k < G; k++) sum += part[k * HS + threadIdx.x];
    o[threadIdx.x] = sum;
  }
  __syncthreads();
}

// relu_shen: o ← (o − mean)/√(var + eps) over HS (no affine); returns rstd.
__device__ float row_layernorm(float* o, int HS, float* red) {
  const float x = threadIdx.x < HS ? o[threadIdx.x] : 0.f;
  const float mean = block_sum(x, red) / HS;
  const float dx = threadIdx.x < HS ? x - mean : 0.f;
  const float rstd = layernorm_rstd(block_sum(dx * dx, red) / HS);
  if (threadIdx.x < HS) o[threadIdx.x] = dx * rstd;
  __syncthreads();
  return rstd;
}

// Block b ↦ (head bh, row t), longest rows first (causal rows are unequal work).
__device__ __forceinline__ void block_row(int BNH, int T, int* bh, int* t) {
  *bh = blockIdx.x % BNH;
  *t = T - 1 - (int)(blockIdx.x / BNH);
}

// ---- kernels

// One warp per (b, t, h): q, k, v to head-major fp32; the cosine score's unit vectors.
__global__ void prep_kernel(AttnReferenceScratch sc, const bf16* qkv, AttnSpec sp, int B, int T, int NH, int HS) {
  const int wid = blockIdx.x * (blockDim.x / kWarpSize) + threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  if (wid >= B * T * NH) return;
  const int h = wid % NH, bt = wid / NH, b = bt / T, t = bt % T;
  const int C = NH * HS;
  const bf16* src = qkv + (size_t)bt * 3 * C + (size_t)h * HS;
  const size_t row = ((size_t)b * NH + h) * T + t;
  const bool cosine = sp.score == AttnScore::Cosine;
  for (int part = 0; part < 2; part++) {
    float nrm = 0.f;
    if (cosine) {
      for (int x = lane; x < HS; x += kWarpSize) {
        const float y = __bfloat162float(src[part * C + x]);
        nrm += y * y;
      }
      nrm = warp_sum(nrm);
    }
    const float div = cosine ? attn_norm_divisor(nrm) : 1.f;
    float* dst = (part == 0 ? sc.q : sc.k) + row * HS;
    for (int x = lane; x < HS; x += kWarpSize) dst[x] = __bfloat162float(src[part * C + x]) / div;
    if (lane == 0) (part == 0 ? sc.qdiv : sc.kdiv)[row] = div;
  }
  for (int x = lane; x < HS; x += kWarpSize) sc.v[row * HS + x] = __bfloat162float(src[2 * C + x]);
}

__global__ void __launch_bounds__(kThreads) forward_kernel(bf16* out, AttnReferenceScratch sc, AttnSpec sp, int B,
                                                           int T, int NH, int HS) {
  extern __shared__ float s[];  // (T) scores of the row
  __shared__ float q[kMaxHS], o[kMaxHS], part[kThreads], red[32];
  int bh, t;
  block_row(B * NH, T, &bh, &t);
  const size_t head = (size_t)bh * T;
  const RowConst rc = row_const(sp, t + 1, T, HS, kernel_cutoff(sp));
  if (threadIdx.x < HS) q[threadIdx.x] = sc.q[(head + t) * HS + threadIdx.x];
  __syncthreads();
  row_scores(s, q, sc.k + head * HS, rc.n, HS, rc);
  const RowStats st = row_stats(sp, s, rc, red);
  row_output(o, part, sp, s, sc.v + head * HS, rc, st, HS);
  if (sp.post_layernorm) row_layernorm(o, HS, red);
  const int b = bh / NH, h = bh % NH, C = NH * HS;
  if (threadIdx.x < HS) out[((size_t)b * T + t) * C + (size_t)h * HS + threadIdx.x] = __float2bfloat16(o[threadIdx.x]);
}

// --attn-stats: one block per row (as forward_kernel) → rows[(bh·T + t)·sets + set] = {entropy,
// sink, max, mass} of the row's final (set 0) and base (set 1) weights (attention_stats.h): pass 1
// M = Σ|x| and max |x|, pass 2 the entropy; the element functions are attention_stats.h's.
__global__ void __launch_bounds__(kThreads) stats_kernel(float* rows, AttnReferenceScratch sc, AttnSpec sp, int B,
                                                         int T, int NH, int HS, int sets) {
  extern __shared__ float s[];  // (T) scores of the row
  __shared__ float q[kMaxHS], red[32];
  int bh, t;
  block_row(B * NH, T, &bh, &t);
  const size_t head = (size_t)bh * T;
  const RowConst rc = row_const(sp, t + 1, T, HS, kernel_cutoff(sp));
  if (threadIdx.x < HS) q[threadIdx.x] = sc.q[(head + t) * HS + threadIdx.x];
  __syncthreads();
  row_scores(s, q, sc.k + head * HS, rc.n, HS, rc);
  const RowStats st = row_stats(sp, s, rc, red);
  float* out = rows + (head + t) * (size_t)sets * kAttnRowStatFloats;
  for (int set = 0; set < sets; set++) {
    float M = 0.f, mx = 0.f;
    for (int j = threadIdx.x; j < rc.n; j += blockDim.x) {
      const Elem e = elem_forward(sp, s[j], rc, st);
      const float x = fabsf(set == 0 ? e.w : e.a);
      M += x;
      mx = fmaxf(mx, x);
    }
    M = block_sum(M, red);
    mx = block_max(mx, red);
    const float inv = attn_stat_inv_mass(M);
    float H = 0.f;
    for (int j = threadIdx.x; j < rc.n; j += blockDim.x) {
      const Elem e = elem_forward(sp, s[j], rc, st);
      H += attn_stat_entropy_term(set == 0 ? e.w : e.a, inv);
    }
    H = block_sum(H, red);
    if (threadIdx.x == 0) {
      const Elem e0 = elem_forward(sp, s[0], rc, st);
      float* o = out + set * kAttnRowStatFloats;
      o[0] = H;
      o[1] = attn_stat_share(set == 0 ? e0.w : e0.a, inv);
      o[2] = attn_stat_share(mx, inv);
      o[3] = M;
    }
  }
}

__global__ void __launch_bounds__(kThreads) backward_rows_kernel(bf16* dqkv, const bf16* dout, AttnReferenceScratch sc,
                                                                 AttnSpec sp, int B, int T, int NH, int HS) {
  extern __shared__ float smem[];
  float* s = smem;       // (T) scores
  float* d0 = smem + T;  // (T) dL/dw, then dS
  __shared__ float q[kMaxHS], dO[kMaxHS], o[kMaxHS], dq[kMaxHS], part[kThreads], red[32];
  int bh, t;
  block_row(B * NH, T, &bh, &t);
  const int b = bh / NH, h = bh % NH, C = NH * HS;
  const size_t head = (size_t)bh * T, row = head + t;
  const RowConst rc = row_const(sp, t + 1, T, HS, kernel_cutoff(sp));
  const int n = rc.n;
  if (threadIdx.x < HS) {
    q[threadIdx.x] = sc.q[row * HS + threadIdx.x];
    dO[threadIdx.x] = __bfloat162float(dout[((size_t)b * T + t) * C + (size_t)h * HS + threadIdx.x]);
  }
  __syncthreads();
  row_scores(s, q, sc.k + head * HS, n, HS, rc);
  RowStats st = row_stats(sp, s, rc, red);
  const float* vh = sc.v + head * HS;
  if (sp.post_layernorm) {
    // back through o = LN(o_pre): dO_pre = rstd·(dO − mean(dO) − ŷ·mean(dO·ŷ))
    row_output(o, part, sp, s, vh, rc, st, HS);
    const float rstd = row_layernorm(o, HS, red);  // o now holds ŷ
    const float g = threadIdx.x < HS ? dO[threadIdx.x] : 0.f, y = threadIdx.x < HS ? o[threadIdx.x] : 0.f;
    const float m1 = block_sum(g, red) / HS, m2 = block_sum(g * y, red) / HS;
    if (threadIdx.x < HS) dO[threadIdx.x] = rstd * (g - m1 - y * m2);
    __syncthreads();
  }
  if (threadIdx.x < HS) sc.dout[row * HS + threadIdx.x] = dO[threadIdx.x];
  // d0_j = dO·v_j
  {
    const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, nwarps = blockDim.x / kWarpSize;
    for (int j = warp; j < n; j += nwarps) {
      float d = 0.f;
      for (int x = lane; x < HS; x += kWarpSize) d += dO[x] * vh[(size_t)j * HS + x];
      d = warp_sum(d);
      if (lane == 0) d0[j] = d;
    }
    __syncthreads();
  }
  // the three row reductions, each needing the previous
  if (reweighted(sp, st)) {
    float c = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) c += elem_forward(sp, s[j], rc, st).w * d0[j];
    st.c1 = block_sum(c, red);
  }
  if (sp.norm == AttnNorm::L1 && st.Z > 0.f) {
    float c = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const Elem e = elem_forward(sp, s[j], rc, st);
      c += e.a * elem_d1(sp, e, d0[j], rc, st);
    }
    st.c2 = block_sum(c, red);
  }
  if (sp.softmax) {
    float c = 0.f;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const Elem e = elem_forward(sp, s[j], rc, st);
      c += e.f * elem_d3(sp, e, elem_d1(sp, e, d0[j], rc, st), rc, st);
    }
    st.c3 = block_sum(c, red);
  }
  // dS_j (over d0), then dq = scale·Σ_j dS_j k_j in the fixed group order of row_output
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    float w;
    d0[j] = elem_dscore(sp, s[j], d0[j], rc, st, &w);
  }
  __syncthreads();
  {
    const float* kh = sc.k + head * HS;
    const int G = blockDim.x / HS, g = threadIdx.x / HS, x = threadIdx.x % HS;
    float acc = 0.f;
    for (int j = g; j < n; j += G) acc += d0[j] * kh[(size_t)j * HS + x];
    part[threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.x < HS) {
      float sum = 0.f;
      for (int k = 0; k < G; k++) sum += part[k * HS + threadIdx.x];
      dq[threadIdx.x] = rc.scale * sum;
    }
    __syncthreads();
  }
  float outq = threadIdx.x < HS ? dq[threadIdx.x] : 0.f;
  if (sp.score == AttnScore::Cosine) {
    // through q̂ = q / max(‖q‖, eps): dq = (dq̂ − q̂·(q̂·dq̂)) / div (no projection when clamped)
    const float div = sc.qdiv[row];
    const float c = block_sum(threadIdx.x < HS ? q[threadIdx.x] * outq : 0.f, red);
    const float proj = attn_norm_clamped(div) ? 0.f : c;
    if (threadIdx.x < HS) outq = (outq - q[threadIdx.x] * proj) / div;
  }
  if (threadIdx.x < HS) dqkv[((size_t)b * T + t) * 3 * C + (size_t)h * HS + threadIdx.x] = __float2bfloat16(outq);
  if (threadIdx.x == 0) {
    float* o8 = sc.rowstats + row * kStats;
    o8[0] = st.mx, o8[1] = st.S, o8[2] = st.Z, o8[3] = st.rmax;
    o8[4] = st.W, o8[5] = st.c1, o8[6] = st.c2, o8[7] = st.c3;
  }
}

// One block per key j; warp w takes rows i = j + w, j + w + 4, … (fixed order), lanes hold
// HS/32 dims each of the dk, dv accumulators; the warps' partials are added in order.
__global__ void __launch_bounds__(kThreads) backward_cols_kernel(bf16* dqkv, AttnReferenceScratch sc, AttnSpec sp,
                                                                 int B, int T, int NH, int HS) {
  constexpr int kPer = kMaxHS / kWarpSize;
  __shared__ float kj[kMaxHS], vj[kMaxHS], pk[kThreads / kWarpSize][kMaxHS], pv[kThreads / kWarpSize][kMaxHS],
      red[32];
  const int BNH = B * NH;
  const int bh = blockIdx.x % BNH, j = (int)(blockIdx.x / BNH);  // longest columns (small j) first
  const int b = bh / NH, h = bh % NH, C = NH * HS;
  const size_t head = (size_t)bh * T;
  const int lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize, nwarps = blockDim.x / kWarpSize;
  if (threadIdx.x < HS) {
    kj[threadIdx.x] = sc.k[(head + j) * HS + threadIdx.x];
    vj[threadIdx.x] = sc.v[(head + j) * HS + threadIdx.x];
  }
  __syncthreads();
  float dk[kPer], dv[kPer];
#pragma unroll
  for (int e = 0; e < kPer; e++) dk[e] = dv[e] = 0.f;
  const float cutoff = kernel_cutoff(sp);
  for (int i = j + warp; i < T; i += nwarps) {
    const RowConst rc = row_const(sp, i + 1, T, HS, cutoff);
    const float* qi = sc.q + (head + i) * HS;
    const float* gi = sc.dout + (head + i) * HS;
    const float* o8 = sc.rowstats + (head + i) * kStats;
    RowStats st;
    st.mx = o8[0], st.S = o8[1], st.Z = o8[2], st.rmax = o8[3];
    st.W = o8[4], st.c1 = o8[5], st.c2 = o8[6], st.c3 = o8[7];
    st.inv_rmax = st.rmax > 0.f ? 1.f / st.rmax : 0.f;
    float qk = 0.f, gv = 0.f;
#pragma unroll
    for (int e = 0; e < kPer; e++) {
      const int x = lane + e * kWarpSize;
      if (x < HS) {
        qk += qi[x] * kj[x];
        gv += gi[x] * vj[x];
      }
    }
    qk = warp_sum(qk);
    gv = warp_sum(gv);
    float w;
    const float ds = elem_dscore(sp, rc.scale * qk + rc.bias, gv, rc, st, &w);
    const float cds = rc.scale * ds;
#pragma unroll
    for (int e = 0; e < kPer; e++) {
      const int x = lane + e * kWarpSize;
      if (x < HS) {
        dk[e] += cds * qi[x];
        dv[e] += w * gi[x];
      }
    }
  }
#pragma unroll
  for (int e = 0; e < kPer; e++) {
    const int x = lane + e * kWarpSize;
    if (x < HS) {
      pk[warp][x] = dk[e];
      pv[warp][x] = dv[e];
    }
  }
  __syncthreads();
  float gk = 0.f, gv = 0.f;
  if (threadIdx.x < HS) {
    for (int w = 0; w < nwarps; w++) {
      gk += pk[w][threadIdx.x];
      gv += pv[w][threadIdx.x];
    }
  }
  if (sp.score == AttnScore::Cosine) {
    const float div = sc.kdiv[head + j];
    const float c = block_sum(threadIdx.x < HS ? kj[threadIdx.x] * gk : 0.f, red);
    const float proj = attn_norm_clamped(div) ? 0.f : c;
    if (threadIdx.x < HS) gk = (gk - kj[threadIdx.x] * proj) / div;
  }
  if (threadIdx.x < HS) {
    bf16* dst = dqkv + ((size_t)b * T + j) * 3 * C + (size_t)h * HS + threadIdx.x;
    dst[C] = __float2bfloat16(gk);
    dst[2 * C] = __float2bfloat16(gv);
  }
}

void check_shape(const AttnShape& s) {
  if (s.HS % kWarpSize != 0 || s.HS > kMaxHS || kThreads % s.HS != 0)
    fail(strfmt("the GPU attention supports head sizes 32, 64 and 128, not %d", s.HS));
}

// Sets the dynamic shared memory limit of `kernel` when `bytes` exceeds the default 48 KiB;
// fails with one line when the device cannot give that much.
// kStaticSmemBound bounds the kernels' static shared memory (≤ 2.7 KB at HS = 128): static +
// dynamic must stay under the 48 KiB default, or the kernel must opt in.
constexpr size_t kStaticSmemBound = 4096;
template <typename Kernel>
void allow_shared(Kernel kernel, size_t bytes, const char* what, int T) {
  if (bytes + kStaticSmemBound <= 48 * 1024) return;
  int dev = 0, optin = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  if (bytes + kStaticSmemBound > (size_t)optin)
    fail(strfmt("T = %d is too long for the reference GPU attention's %s (needs %zu bytes of shared memory per row, "
                "the GPU has %d)", T, what, bytes, optin));
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes));
}

void prep(cudaStream_t stream, const AttnSpec& sp, const AttnShape& s, const AttnReferenceScratch& sc, const bf16* qkv) {
  const int warps = s.B * s.T * s.NH, per_block = 8;
  prep_kernel<<<ceil_div(warps, per_block), per_block * kWarpSize, 0, stream>>>(sc, qkv, sp, s.B, s.T, s.NH, s.HS);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace

size_t attention_reference_scratch_bytes(const AttnShape& s, bool training) {
  const size_t rows = (size_t)s.B * s.NH * s.T;
  size_t bytes = 3 * rows * s.HS * sizeof(float) + 2 * rows * sizeof(float);
  if (training) bytes += rows * s.HS * sizeof(float) + rows * kStats * sizeof(float);
  return bytes;
}

AttnReferenceScratch attention_reference_scratch_at(void* base, const AttnShape& s, bool training) {
  const size_t rows = (size_t)s.B * s.NH * s.T;
  float* p = (float*)base;
  AttnReferenceScratch sc;
  sc.q = p, p += rows * s.HS;
  sc.k = p, p += rows * s.HS;
  sc.v = p, p += rows * s.HS;
  sc.qdiv = p, p += rows;
  sc.kdiv = p, p += rows;
  if (training) {
    sc.dout = p, p += rows * s.HS;
    sc.rowstats = p;
  }
  return sc;
}

void attention_reference_forward(cudaStream_t stream, const AttnSpec& sp, const AttnShape& s,
                                 const AttnReferenceScratch& sc, bf16* out, const bf16* qkv) {
  check_shape(s);
  if (s.B * s.T == 0) return;
  prep(stream, sp, s, sc, qkv);
  const size_t smem = (size_t)s.T * sizeof(float);
  allow_shared(forward_kernel, smem, "forward", s.T);
  forward_kernel<<<s.B * s.NH * s.T, kThreads, smem, stream>>>(out, sc, sp, s.B, s.T, s.NH, s.HS);
  CUDA_CHECK(cudaGetLastError());
}

void attention_reference_stats(cudaStream_t stream, const AttnSpec& sp, const AttnShape& s,
                               const AttnReferenceScratch& sc, AttnStats& stats) {
  check_shape(s);
  if (s.B * s.T == 0) return;
  const int sets = stats.sets();
  const size_t n = (size_t)s.B * s.NH * s.T * sets * kAttnRowStatFloats;
  float* rows = nullptr;
  CUDA_CHECK(cudaMalloc(&rows, n * sizeof(float)));  // an analysis pass: a plain allocation per call
  const size_t smem = (size_t)s.T * sizeof(float);
  allow_shared(stats_kernel, smem, "statistics", s.T);
  stats_kernel<<<s.B * s.NH * s.T, kThreads, smem, stream>>>(rows, sc, sp, s.B, s.T, s.NH, s.HS, sets);
  CUDA_CHECK(cudaGetLastError());
  std::vector<float> host(n);
  CUDA_CHECK(cudaMemcpyAsync(host.data(), rows, n * sizeof(float), cudaMemcpyDeviceToHost, stream));
  CUDA_CHECK(cudaStreamSynchronize(stream));
  CUDA_CHECK(cudaFree(rows));
  attn_stats_add_rows(stats, host.data(), s.B, s.NH, s.T, sets);
}

void attention_reference_backward(cudaStream_t stream, const AttnSpec& sp, const AttnShape& s,
                                  const AttnReferenceScratch& sc, bf16* dqkv, const bf16* dout, const bf16* qkv) {
  check_shape(s);
  if (s.B * s.T == 0) return;
  if (!sc.dout || !sc.rowstats) fail("internal: the attention backward needs the training scratch");
  prep(stream, sp, s, sc, qkv);
  const size_t smem = 2 * (size_t)s.T * sizeof(float);
  allow_shared(backward_rows_kernel, smem, "backward", s.T);
  backward_rows_kernel<<<s.B * s.NH * s.T, kThreads, smem, stream>>>(dqkv, dout, sc, sp, s.B, s.T, s.NH, s.HS);
  CUDA_CHECK(cudaGetLastError());
  backward_cols_kernel<<<s.B * s.NH * s.T, kThreads, 0, stream>>>(dqkv, sc, sp, s.B, s.T, s.NH, s.HS);
  CUDA_CHECK(cudaGetLastError());
}

}  // namespace lssa
