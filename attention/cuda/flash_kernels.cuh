// Fused causal attention kernels (FlashAttention-2 structure, bf16 mma.sync m16n8k16 with fp32
// accumulation, ldmatrix + cp.async, XOR-swizzled SMEM; sm_80 code that also runs on sm_90).
//
// ONE forward and ONE backward kernel template; the variant enters only through the ScoreMap
// policy (map, derivative, row statistics, epilogue), whose scalar math is attention_math.h.
//
// Forward, per CTA = (query block of Br rows, head h, batch b); warp w owns rows 16w..16w+15:
//   for key tiles j ≤ diagonal (cp.async double buffer):   S = Q K_jᵀ (fp32, registers)
//     x = xs_i·S + xb_i                (per-row scale/bias; log2(e) folded in for exp/softplus)
//     Softmax : online max m, p = 2^(x − m), ℓ += Σp, O ← O·2^(m_old − m) + P V
//     L1      : f = φ(x), Z += Σ|f|, O += f V              (no max, no rescale: KERNEL_NOTES §4.2)
//     Unnorm. : f = φ(x), O += f V
//   epilogue O /= ℓ | Z (Z = 0 → 0) | L (1, T or n_i); save LSE | Z.
// Re-weighting (RW) runs the tile loop twice: sweep 1 = S, φ and the row statistics only
// (Softmax: m, ℓ; L1: Z, max f) → M_i = n_i·max_j a_ij − o_i; sweep 2 computes, with
// a = f/Z (or softmax p), u = n_i a − o_i, r = relu(u)/M (∈ [0, 1], never overflows):
//   w = r^p, γ = p·r^(p−1)·(u + o_i);   O = Σ w v / Σ w,   Õ2 = Σ γ v / (W·M),  R̃ = Σ γ / (W·M)
// Rows with M ≤ 0 (every u ≤ 0: causal rows whose weights are exactly uniform, Z = 0 rows) keep
// their weights a, as DESIGN §4.2 and the CPU reference do.
//
// Backward, per CTA = (key block of Bc keys, h, b); warp w owns keys 16w..16w+15 and keeps
// dK, dV (16×HS, fp32) in registers; loop over the query tiles i ≥ key block (causal):
//   Sᵀ = K Qᵀ, dPᵀ = V dOᵀ (registers), elementwise (D_i = dO_i·O_i from the preprocess):
//     Softmax : P = 2^(x − LSE2),         dS = P·(dP − D)
//     L1      : P = f/Z,                  dS = φ'(x)/Z·(dP − sign(f)·D)           (DESIGN §4.3)
//     Unnorm. : P = f/L,                  dS = φ'(x)·dP/L
//     RW rows : P = w/W, G = p·r^(p−1)·(dP − D)/(W·M),
//               dS = (φ'/Z | P_softmax)·(n_i·G − sign(f)·E),  E_i = dO_i·Õ2_i − D_i·R̃_i (KERNEL_NOTES §8.3)
//   dS' = scale_i·dS;  dV += Pᵀ dO;  dK += dS'ᵀ Q;  dQ += dS' K (SMEM dS, fp32 atomics into
//   a (B, NH, T, HS) accumulator, converted to bf16 by flash_dq_convert_kernel).
// Deterministic dQ (the default): flash_bwd_dq_kernel then overwrites that accumulator — one CTA
// per query tile recomputes S and dP over its causal key tiles and sums dQ in registers in a
// fixed order (two more GEMMs, no atomics in what is kept: bit-identical run to run, so --resume
// stays bit-exact). The atomic dQ above still runs and is discarded: guarding it with a flag
// changes this kernel's register allocation (measured with -Xptxas -v, HS = 128 Softmax/Exp on
// sm_80: spill stores 4 → 24 B), so the tile loop stays as it was until a GPU has timed both.
//
// LSSA (AttnScore::Cosine): s_ij = c_i·q̂_i·k̂_j. A row kernel writes k̂ = k/max(‖k‖, ε) (bf16) and
// 1/‖q‖; the attention kernels read k̂ and raw q and fold 1/‖q_i‖ into the per-row scale
// (c_i/‖q_i‖), so q̂ is never stored. Backward: dK accumulates ∂L/∂k̂ (exact, since the kernel
// multiplies raw q by c_i/‖q_i‖ = c_i·q̂/q-norm), projected in the epilogue through the
// normalisation, dk = (∂k̂ − k̂(k̂·∂k̂))/‖k‖; dQ accumulates g = ∂L/∂q̂ /‖q‖ and the conversion
// kernel projects dq = g − q̂(q̂·g). Both projections reduce over HS inside a quad / a warp.
//
// Shapes: qkv (B, T, 3C), out / dout (B, T, C), dqkv (B, T, 3C), stats (S, B, NH, T) fp32,
// o2 (B, T, C), k̂ (B, T, C), 1/‖q‖, 1/‖k‖, D, E (B, NH, T) fp32, dq accumulator (B, NH, T, HS) fp32.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

#include "attention/attention_math.h"
#include "attention/cuda/flash_plan.h"

namespace lssa {
namespace flash {

using bf16 = __nv_bfloat16;

// Everything the device code reads: pointers resolved from FlashAttnParams by the launcher.
struct KernelArgs {
  int B, T, NH, C;        // shapes (HS is a template parameter)
  AttnSpec spec;          // the variant (row scale, bias, divisor, re-weighting exponent)
  float p;                // re-weighting exponent (spec.reweight_p)
  const bf16* qkv;        // (B, T, 3C)
  const bf16* k;          // keys the kernels multiply: qkv + C (Dot) or k̂ (Cosine)
  long k_bstride;         // elements between batches of k: T·3C or T·C
  int k_rstride;          // elements between rows of k: 3C or C
  const float* rq;        // (B, NH, T) 1/max(‖q‖, ε) (Cosine), else null
  const float* rk;        // (B, NH, T) 1/max(‖k‖, ε) (Cosine, backward), else null
  bf16* khat;             // (B, T, C) written by the row kernel (Cosine), else null
  float* rq_w;            // row kernel output for rq (same buffer as rq)
  float* rk_w;            // row kernel output for rk (same buffer as rk)
  bf16* out;              // (B, T, C)
  float* stats;           // (S, B, NH, T) or null (not saved)
  long stat_stride;       // B·NH·T
  bf16* o2;               // (B, T, C) re-weighting Õ2, or null
  const bf16* dout;       // (B, T, C)
  bf16* dqkv;             // (B, T, 3C)
  float* dq_accum;        // (B, NH, T, HS): atomic accumulator, overwritten by the dQ pass
  float* Dbuf;            // (B, NH, T) D_i = dO_i·O_i
  float* Ebuf;            // (B, NH, T) E_i (re-weighting)
};

// ---------------------------------------------------------------------------------------------
// PTX wrappers (no CUTLASS/CuTe in this toolkit install).

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return (uint32_t)__cvta_generic_to_shared(p);
}

// 16-byte async copy global → shared; `valid` false zero-fills the 16 bytes (src not read).
__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// D += A·B, m16n8k16, A row-major (4 regs of bf16x2), B col-major (2 regs), D fp32 (4 regs).
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two floats → bf16x2 (lo in the low half: the lower column index of an mma fragment).
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// Byte address of the 16-byte chunk (row, chunk) in a swizzled tile with CPR chunks per row.
template <int CPR>
__device__ __forceinline__ uint32_t tile_addr(uint32_t base, int row, int chunk) {
  return base + (uint32_t)flash_swizzle(row, chunk, CPR) * 16u;
}

// Async load of ROWS rows × HS bf16 (row stride `rstride` elements) starting at row0 into a
// swizzled tile; rows ≥ T are zero-filled.
template <int ROWS, int HS, int NT>
__device__ __forceinline__ void load_tile(uint32_t sbase, const bf16* g, long rstride, int row0, int T, int tid) {
  constexpr int CPR = HS / 8;
#pragma unroll
  for (int c = tid; c < ROWS * CPR; c += NT) {
    const int r = c / CPR, ch = c % CPR, row = row0 + r;
    const bool ok = row < T;
    cp_async16(tile_addr<CPR>(sbase, r, ch), g + (ok ? (long)row * rstride : 0) + ch * 8, ok);
  }
}

__device__ __forceinline__ float quad_sum(float v) {
  v += __shfl_xor_sync(0xffffffffu, v, 1);
  v += __shfl_xor_sync(0xffffffffu, v, 2);
  return v;
}
__device__ __forceinline__ float quad_max(float v) {
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
  v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
  return v;
}

// ---------------------------------------------------------------------------------------------
// The ScoreMap policy: everything a variant changes. x is the score in the policy's domain
// (log2 units for exp and softplus, whose base-2 forms cost one special-function op).

template <FlashKind K, AttnMap M>
struct ScoreMap {
  static constexpr bool kSoftmax = K == FlashKind::Softmax;
  static constexpr bool kL1 = K == FlashKind::L1;
  static constexpr bool kSoftplus2 = kL1 && M == AttnMap::Softplus;  // base-2 softplus
  static constexpr bool kLog2 = kSoftmax || kSoftplus2;              // x = log2(e)·(scale·S + bias)
  // f is kept in "units": f_nat = kUnit·f (softplus2 drops ln2; it cancels in f/Z)
  static constexpr float kUnit = kSoftplus2 ? kLn2 : 1.f;
  // φ can be negative: |φ| in Z, sign(φ) in the backward (the map's fact, attention_math.h)
  static constexpr bool kSigned = attn_map_signed(M);

  // Forward map (not used by Softmax, which needs the running max): f in units.
  static __device__ __forceinline__ float map(float x) {
    if constexpr (kSoftplus2) {
      float z;
      return softplus2_poly(x, &z);
    } else {
      return attn_map<float>(M, x);
    }
  }
  // Backward: f (units) and dφ/dx_natural.
  static __device__ __forceinline__ void map_deriv(float x, float& f, float& fd) {
    if constexpr (kSoftplus2) {
      float z;
      f = softplus2_poly(x, &z);
      fd = sigmoid_from_exp2(x, z);
    } else if constexpr (M == AttnMap::Sigmoid) {
      f = sigmoid_stable(x);
      fd = f * (1.f - f);
    } else {
      f = attn_map<float>(M, x);
      fd = attn_map_deriv<float>(M, x);
    }
  }
  static __device__ __forceinline__ float absf(float f) { return kSigned ? fabsf(f) : f; }
  static __device__ __forceinline__ float sgn(float f) {
    if constexpr (kSigned) return attn_sign(f);
    return 1.f;  // φ ≥ 0; where φ = 0 (relu family) φ' = 0 as well
  }

  // Per-row scale and bias in the policy domain, and the natural scale (for dS' = scale·dS).
  static __device__ __forceinline__ void row_setup(const KernelArgs& a, int HS, int i, long stat_row,
                                                   float& xs, float& xb, float& nat_scale) {
    const int n = i + 1;
    float sc = attn_row_scale<float, kFlashFusedScales>(a.spec, n, HS);  // only the fused kinds' branches
    if (a.spec.score == AttnScore::Cosine) sc *= a.rq[stat_row];
    float bs = attn_row_bias<float>(a.spec, n);
    nat_scale = sc;
    xs = kLog2 ? sc * kLog2e : sc;
    xb = kLog2 ? bs * kLog2e : bs;
  }
};

// Row index of (b, h, t) in the (B, NH, T) statistics.
__device__ __forceinline__ long stat_index(const KernelArgs& a, int b, int h, int t) {
  return ((long)b * a.NH + h) * a.T + t;
}

// ---------------------------------------------------------------------------------------------
// Forward.

template <int HS, FlashKind K, AttnMap M, bool RW>
__global__ void __launch_bounds__(FlashFwdTraits<HS>::kWarps * 32)
    flash_fwd_kernel(const KernelArgs a) {
  using Tr = FlashFwdTraits<HS>;
  using SM = ScoreMap<K, M>;
  constexpr int Br = Tr::Br, Bc = Tr::Bc, CPR = HS / 8, NT = Tr::kWarps * 32;
  constexpr int NS = Bc / 8;  // score n-tiles (8 keys each) per warp
  constexpr int ND = HS / 8;  // output d-tiles
  constexpr int KQ = HS / 16; // k-steps of Q·Kᵀ
  static_assert(!RW || K != FlashKind::Unnormalised, "re-weighting needs l1-normalised rows");

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smem_u32(smem);
  const uint32_t sK0 = sQ + Br * HS * 2;              // K tiles, 2 buffers
  const uint32_t sV0 = sK0 + 2 * Bc * HS * 2;         // V tiles, 2 buffers
  constexpr uint32_t kTileBytes = Bc * HS * 2;

  const int T = a.T, C = a.C;
  const int qb = gridDim.x - 1 - blockIdx.x;  // heaviest (longest causal) blocks first
  const int h = blockIdx.y, b = blockIdx.z;
  const int q0 = qb * Br;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
  const long C3 = 3L * C;

  const bf16* gq = a.qkv + (long)b * T * C3 + h * HS;                 // (T, HS) rows, stride 3C
  const bf16* gk = a.k + (long)b * a.k_bstride + h * HS;             // stride k_rstride
  const bf16* gv = a.qkv + (long)b * T * C3 + 2 * C + h * HS;        // stride 3C
  const int nkt = flash_fwd_key_tiles(qb, T, Br, Bc);

  // per-row constants of this thread's two rows (g and g + 8 of the warp's 16)
  float xs[2], xb[2], nf[2], off[2];
  int row[2];
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    row[hh] = q0 + warp * 16 + g + 8 * hh;
    const int i = row[hh] < T ? row[hh] : T - 1;  // padding rows: any finite constants
    float nat;
    SM::row_setup(a, HS, i, stat_index(a, b, h, i), xs[hh], xb[hh], nat);
    nf[hh] = (float)(row[hh] + 1);
    off[hh] = reweight_offset<float>(row[hh] + 1);
  }

  // Q tile → registers (A fragments), reused by every key tile
  load_tile<Br, HS, NT>(sQ, gq, C3, q0, T, tid);
  cp_async_commit();

  // S = Q K_jᵀ for key tile j in buffer `buf`, masked and mapped by `elem(nt, e, x, masked)`
  // Q A-fragments live in registers for HS = 64 (16 regs); HS = 128 re-reads them from SMEM
  // per key tile (32 more registers would spill the re-weighting forward).
  constexpr bool kQInRegs = HS <= 64;
  uint32_t qf[kQInRegs ? KQ : 1][4];
  auto scores = [&](int buf, float (&s)[NS][4]) {
#pragma unroll
    for (int nt = 0; nt < NS; nt++) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
    const uint32_t sK = sK0 + buf * kTileBytes;
#pragma unroll
    for (int kk = 0; kk < KQ; kk++) {
#pragma unroll
      uint32_t qa[4];
      if constexpr (kQInRegs) {
#pragma unroll
        for (int e = 0; e < 4; e++) qa[e] = qf[kk][e];
      } else {
        ldmatrix_x4(qa, tile_addr<CPR>(sQ, warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
      }
#pragma unroll
      for (int np = 0; np < Bc / 16; np++) {
        uint32_t kb4[4];
        ldmatrix_x4(kb4, tile_addr<CPR>(sK, np * 16 + (lane & 7) + ((lane >> 4) & 1) * 8, kk * 2 + ((lane >> 3) & 1)));
        mma_bf16(s[2 * np], qa, kb4[0], kb4[1]);
        mma_bf16(s[2 * np + 1], qa, kb4[2], kb4[3]);
      }
    }
  };
  // acc += P·V_j, P given as score-layout floats (rounded to bf16 here)
  auto pv = [&](int buf, const float (&p)[NS][4], float (&acc)[ND][4]) {
    const uint32_t sV = sV0 + buf * kTileBytes;
#pragma unroll
    for (int kk = 0; kk < Bc / 16; kk++) {
      uint32_t pa[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                        pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]), pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
#pragma unroll
      for (int dp = 0; dp < HS / 16; dp++) {
        uint32_t vb[4];
        ldmatrix_x4_trans(vb, tile_addr<CPR>(sV, kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 2 + ((lane >> 4) & 1)));
        mma_bf16(acc[2 * dp], pa, vb[0], vb[1]);
        mma_bf16(acc[2 * dp + 1], pa, vb[2], vb[3]);
      }
    }
  };
  // One sweep over the causal key tiles with a cp.async double buffer; `body(j, buf)` computes.
  auto sweep = [&](bool with_v, auto&& body) {
    load_tile<Bc, HS, NT>(sK0, gk, a.k_rstride, 0, T, tid);
    if (with_v) load_tile<Bc, HS, NT>(sV0, gv, C3, 0, T, tid);
    cp_async_commit();
    for (int j = 0; j < nkt; j++) {
      const int buf = j & 1;
      if (j + 1 < nkt) {
        load_tile<Bc, HS, NT>(sK0 + (buf ^ 1) * kTileBytes, gk, a.k_rstride, (j + 1) * Bc, T, tid);
        if (with_v) load_tile<Bc, HS, NT>(sV0 + (buf ^ 1) * kTileBytes, gv, C3, (j + 1) * Bc, T, tid);
        cp_async_commit();
        cp_async_wait<1>();
      } else {
        cp_async_wait<0>();
      }
      __syncthreads();
      body(j, buf);
      __syncthreads();  // the buffer is refilled by the next prefetch
    }
  };

  cp_async_wait<0>();
  __syncthreads();
  if constexpr (kQInRegs) {
#pragma unroll
    for (int kk = 0; kk < KQ; kk++)
      ldmatrix_x4(qf[kk], tile_addr<CPR>(sQ, warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
  }

  // x for element (nt, e) of a tile starting at key k0; masked → −inf (Softmax) / flag.
  const int wrow0 = q0 + warp * 16;  // smallest row of this warp
  auto is_masked = [&](int k0, int nt, int e) {
    return k0 + nt * 8 + 2 * t4 + (e & 1) > row[e >> 1];
  };

  float acc[ND][4];
#pragma unroll
  for (int d = 0; d < ND; d++) acc[d][0] = acc[d][1] = acc[d][2] = acc[d][3] = 0.f;
  float stat_m[2] = {-INFINITY, -INFINITY};  // Softmax running max (log2 units); L1+RW: max f
  float stat_l[2] = {0.f, 0.f};              // Softmax ℓ, L1 Z (units), thread-partial

  // ---- sweep 1: the full forward (no RW) or the row statistics only (RW)
  sweep(!RW, [&](int j, int buf) {
    const int k0 = j * Bc;
    const bool need_mask = k0 + Bc - 1 > wrow0;
    float s[NS][4];
    scores(buf, s);
    if constexpr (K == FlashKind::Softmax) {
      float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
      for (int nt = 0; nt < NS; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          float x = s[nt][e] * xs[e >> 1] + xb[e >> 1];
          if (need_mask && is_masked(k0, nt, e)) x = -INFINITY;
          s[nt][e] = x;
          mx[e >> 1] = fmaxf(mx[e >> 1], x);
        }
      float corr[2], muse[2];
#pragma unroll
      for (int hh = 0; hh < 2; hh++) {
        const float mnew = fmaxf(stat_m[hh], quad_max(mx[hh]));
        muse[hh] = mnew == -INFINITY ? 0.f : mnew;  // a fully masked row so far: nothing to scale
        corr[hh] = fast_exp2(stat_m[hh] - muse[hh]);
        stat_m[hh] = mnew;
        stat_l[hh] *= corr[hh];
      }
#pragma unroll
      for (int nt = 0; nt < NS; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float pe = fast_exp2(s[nt][e] - muse[e >> 1]);
          s[nt][e] = pe;
          stat_l[e >> 1] += pe;
        }
      if constexpr (!RW) {
#pragma unroll
        for (int d = 0; d < ND; d++) {
          acc[d][0] *= corr[0], acc[d][1] *= corr[0];
          acc[d][2] *= corr[1], acc[d][3] *= corr[1];
        }
        pv(buf, s, acc);
      }
    } else {
#pragma unroll
      for (int nt = 0; nt < NS; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const float x = s[nt][e] * xs[e >> 1] + xb[e >> 1];
          const bool msk = need_mask && is_masked(k0, nt, e);
          const float f = msk ? 0.f : SM::map(x);
          s[nt][e] = f;
          if constexpr (K == FlashKind::L1) stat_l[e >> 1] += SM::absf(f);
          if constexpr (RW) stat_m[e >> 1] = msk ? stat_m[e >> 1] : fmaxf(stat_m[e >> 1], f);
        }
      if constexpr (!RW) pv(buf, s, acc);
    }
  });

  // ---- row statistics (quad all-reduce once, as FA2 defers ℓ)
  float lse2[2], invZu[2], inv_rmax[2], rmax[2];
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    stat_l[hh] = quad_sum(stat_l[hh]);
    if constexpr (K == FlashKind::Softmax) {
      lse2[hh] = stat_m[hh] + __log2f(stat_l[hh]);
      rmax[hh] = nf[hh] / stat_l[hh] - off[hh];  // max_j p_ij = 2^(m − LSE2) = 1/ℓ
    } else {
      invZu[hh] = attn_l1_inv(stat_l[hh]);
      if constexpr (RW) {
        const float mxf = quad_max(stat_m[hh]);
        rmax[hh] = reweight_u(nf[hh], mxf * invZu[hh], off[hh]);
      }
    }
    inv_rmax[hh] = RW && rmax[hh] > 0.f ? 1.f / rmax[hh] : 0.f;
  }

  // ---- sweep 2 (RW): w = (relu(u)/M)^p, γ = p·r^(p−1)·(u + o_i)
  float acc2[RW ? ND : 1][4];
  float Wsum[2] = {0.f, 0.f}, Rsum[2] = {0.f, 0.f};
  if constexpr (RW) {
#pragma unroll
    for (int d = 0; d < ND; d++) acc2[d][0] = acc2[d][1] = acc2[d][2] = acc2[d][3] = 0.f;
    const float p = a.p, cutoff = reweight_cutoff(p);
    sweep(true, [&](int j, int buf) {
      const int k0 = j * Bc;
      const bool need_mask = k0 + Bc - 1 > wrow0;
      float s[NS][4], gm[NS][4];
      scores(buf, s);
#pragma unroll
      for (int nt = 0; nt < NS; nt++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
          const int hh = e >> 1;
          const float x = s[nt][e] * xs[hh] + xb[hh];
          const bool msk = need_mask && is_masked(k0, nt, e);
          float wgt, av;
          if constexpr (K == FlashKind::Softmax) {
            av = msk ? 0.f : fast_exp2(x - lse2[hh]);
            wgt = av;
          } else {
            wgt = msk ? 0.f : SM::map(x);  // f (units)
            av = wgt * invZu[hh];
          }
          float gam = 0.f;
          if (inv_rmax[hh] > 0.f) {
            const float u = reweight_u(nf[hh], av, off[hh]);
            const float r = reweight_ratio(u, inv_rmax[hh], cutoff);
            if (r > 0.f) {
              const float pw1 = reweight_pow(r, p - 1.f);
              wgt = pw1 * r;
              gam = p * pw1 * (u + off[hh]);
            } else {
              wgt = 0.f;
            }
          }
          s[nt][e] = wgt;
          gm[nt][e] = gam;
          Wsum[hh] += SM::absf(wgt);
          Rsum[hh] += gam;
        }
      pv(buf, s, acc);
      pv(buf, gm, acc2);
    });
  }

  // ---- epilogue: normalise, store O (bf16), Õ2, statistics
  float inv_out[2], inv_o2[2] = {0.f, 0.f};
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    if constexpr (RW) {
      Wsum[hh] = quad_sum(Wsum[hh]);
      Rsum[hh] = quad_sum(Rsum[hh]);
      inv_out[hh] = Wsum[hh] > 0.f ? 1.f / Wsum[hh] : 0.f;
      if (inv_rmax[hh] > 0.f && Wsum[hh] > 0.f) inv_o2[hh] = inv_rmax[hh] / Wsum[hh];
    } else if constexpr (K == FlashKind::Softmax) {
      inv_out[hh] = 1.f / stat_l[hh];
    } else if constexpr (K == FlashKind::L1) {
      inv_out[hh] = invZu[hh];
    } else {
      inv_out[hh] = 1.f / attn_fixed_divisor<float>(a.spec, row[hh] + 1, T);
    }
  }
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    const int i = row[hh];
    if (i >= T) continue;
    bf16* o = a.out + ((long)b * T + i) * C + h * HS + 2 * t4;
#pragma unroll
    for (int d = 0; d < ND; d++)
      *reinterpret_cast<uint32_t*>(o + d * 8) = pack_bf16(acc[d][2 * hh] * inv_out[hh], acc[d][2 * hh + 1] * inv_out[hh]);
    if constexpr (RW) {
      if (a.o2) {
        bf16* o2 = a.o2 + ((long)b * T + i) * C + h * HS + 2 * t4;
#pragma unroll
        for (int d = 0; d < ND; d++)
          *reinterpret_cast<uint32_t*>(o2 + d * 8) = pack_bf16(acc2[d][2 * hh] * inv_o2[hh], acc2[d][2 * hh + 1] * inv_o2[hh]);
      }
    }
    if (a.stats && t4 == 0) {
      const long si = stat_index(a, b, h, i);
      if constexpr (K == FlashKind::Softmax) a.stats[si] = lse2[hh] * kLn2;
      if constexpr (K == FlashKind::L1) a.stats[si] = stat_l[hh] * SM::kUnit;
      if constexpr (RW) {
        a.stats[a.stat_stride + si] = rmax[hh];
        a.stats[2 * a.stat_stride + si] = Wsum[hh];
        a.stats[3 * a.stat_stride + si] = Rsum[hh] * inv_o2[hh];
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Row kernels: one warp per (b, t, h) row; lane owns HS/32 consecutive elements.

enum RowMode : int {
  kRowsForward = 0,   // LSSA prologue only: k̂, 1/‖q‖
  kRowsBackward = 1,  // LSSA prologue (k̂, 1/‖q‖, 1/‖k‖) + D, E + zero the dq accumulator
};

template <int HS>
__global__ void __launch_bounds__(kFlashRowWarps * 32) flash_rows_kernel(const KernelArgs a, int mode) {
  constexpr int PER = HS / 32;
  const long r = (long)blockIdx.x * kFlashRowWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= (long)a.B * a.T * a.NH) return;
  const int h = (int)(r % a.NH);
  const long bt = r / a.NH;  // b·T + t
  const int t = (int)(bt % a.T), b = (int)(bt / a.T);
  const long si = stat_index(a, b, h, t);
  const int C = a.C, d0 = lane * PER;
  auto warp_sum = [](float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
  };
  auto load = [&](const bf16* p, float (&x)[PER]) {
#pragma unroll
    for (int e = 0; e < PER; e++) x[e] = __bfloat162float(p[e]);
  };
  if (a.spec.score == AttnScore::Cosine) {
    const bf16* q = a.qkv + bt * 3 * C + h * HS + d0;
    const bf16* k = q + C;
    float xq[PER], xk[PER];
    load(q, xq);
    load(k, xk);
    float nq = 0.f, nk = 0.f;
#pragma unroll
    for (int e = 0; e < PER; e++) nq += xq[e] * xq[e], nk += xk[e] * xk[e];
    const float rq = 1.f / attn_norm_divisor(warp_sum(nq));
    const float rk = 1.f / attn_norm_divisor(warp_sum(nk));
    bf16* kh = a.khat + bt * C + h * HS + d0;
#pragma unroll
    for (int e = 0; e < PER; e++) kh[e] = __float2bfloat16(xk[e] * rk);
    if (lane == 0) {
      a.rq_w[si] = rq;
      if (mode == kRowsBackward) a.rk_w[si] = rk;
    }
  }
  if (mode != kRowsBackward) return;
  float xo[PER], xd[PER];
  load(a.out + bt * C + h * HS + d0, xo);
  load(a.dout + bt * C + h * HS + d0, xd);
  float D = 0.f;
#pragma unroll
  for (int e = 0; e < PER; e++) D += xo[e] * xd[e];
  D = warp_sum(D);
  float E = 0.f;
  if (a.o2) {  // re-weighting: E = dO·Õ2 − D·R̃ on rows that were re-weighted (M > 0)
    float x2[PER];
    load(a.o2 + bt * C + h * HS + d0, x2);
#pragma unroll
    for (int e = 0; e < PER; e++) E += x2[e] * xd[e];
    E = warp_sum(E);
    const float M = a.stats[a.stat_stride + si], Rt = a.stats[3 * a.stat_stride + si];
    E = M > 0.f ? E - D * Rt : 0.f;
  }
  if (lane == 0) {
    a.Dbuf[si] = D;
    a.Ebuf[si] = E;
  }
  float* dq = a.dq_accum + si * HS + d0;
#pragma unroll
  for (int e = 0; e < PER; e++) dq[e] = 0.f;
}

// dq accumulator (fp32) → dqkv's q part (bf16); LSSA: dq = g − q̂(q̂·g) (see the file comment).
template <int HS>
__global__ void __launch_bounds__(kFlashRowWarps * 32) flash_dq_convert_kernel(const KernelArgs a) {
  constexpr int PER = HS / 32;
  const long r = (long)blockIdx.x * kFlashRowWarps + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (r >= (long)a.B * a.T * a.NH) return;
  const int h = (int)(r % a.NH);
  const long bt = r / a.NH;
  const int t = (int)(bt % a.T), b = (int)(bt / a.T);
  const long si = stat_index(a, b, h, t);
  const int C = a.C, d0 = lane * PER;
  float gq[PER];
  const float* acc = a.dq_accum + si * HS + d0;
#pragma unroll
  for (int e = 0; e < PER; e++) gq[e] = acc[e];
  if (a.spec.score == AttnScore::Cosine) {
    const float rq = a.rq[si];
    if (!attn_inv_norm_clamped(rq)) {  // not clamped: project out the q̂ direction
      const bf16* q = a.qkv + bt * 3 * C + h * HS + d0;
      float qh[PER], dot = 0.f;
#pragma unroll
      for (int e = 0; e < PER; e++) qh[e] = __bfloat162float(q[e]) * rq, dot += qh[e] * gq[e];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
#pragma unroll
      for (int e = 0; e < PER; e++) gq[e] -= qh[e] * dot;
    }
  }
  bf16* out = a.dqkv + bt * 3 * C + h * HS + d0;
#pragma unroll
  for (int e = 0; e < PER; e++) out[e] = __float2bfloat16(gq[e]);
}

// ---------------------------------------------------------------------------------------------
// Backward.

// Slots of the per-query-row constants in SMEM (FlashBwdTraits::kRowStats of them).
enum BwdRowSlot : int {
  kXs = 0,       // x-scale in the policy domain
  kXb = 1,       // x-bias in the policy domain
  kDscale = 2,   // natural scale_i (dS' = scale_i·dS)
  kS0 = 3,       // Softmax: LSE·log2(e); L1: kUnit/Z (0 if Z = 0); Unnormalised: 1/L
  kInvZn = 4,    // L1: 1/Z (natural)
  kD = 5,        // D_i = dO_i·O_i
  kE = 6,        // E_i (re-weighting)
  kInvM = 7,     // re-weighting: 1/M (0: row kept its weights)
  kInvW = 8,     // re-weighting: 1/W
  kG = 9,        // re-weighting: p/(M·W)
};

template <int HS, FlashKind K, AttnMap M, bool RW>
__global__ void __launch_bounds__(FlashBwdTraits<HS>::kWarps * 32)
    flash_bwd_kernel(const KernelArgs a) {
  using Tr = FlashBwdTraits<HS>;
  using SM = ScoreMap<K, M>;
  constexpr int Br = Tr::Br, Bc = Tr::Bc, CPR = HS / 8, NT = Tr::kWarps * 32;
  constexpr int NQ = Br / 8;   // score n-tiles (8 queries) per warp
  constexpr int ND = HS / 8;   // d-tiles of dK, dV
  constexpr int RG = Br / 16;  // dQ: row groups of 16 queries
  constexpr int NCS = Tr::kWarps / RG;  // dQ: column splits per row group
  constexpr int DW = HS / NCS;          // dQ: columns per warp
  constexpr int NS = Tr::kRowStats;
  static_assert(Tr::kWarps % RG == 0 && DW % 16 == 0, "dQ warp layout");

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sK = smem_u32(smem);
  const uint32_t sV = sK + Bc * HS * 2;
  const uint32_t sQ0 = sV + Bc * HS * 2;       // 2 buffers
  const uint32_t sdO0 = sQ0 + 2 * Br * HS * 2;  // 2 buffers
  const uint32_t sdS = sdO0 + 2 * Br * HS * 2;  // (Bc, Br) bf16, rows = keys
  float* sStat = reinterpret_cast<float*>(smem + (2 * Bc + 4 * Br) * HS * 2 + Bc * Br * 2);  // [2][NS][Br]
  constexpr uint32_t kQBytes = Br * HS * 2;
  constexpr int CPRS = Br / 8;  // chunks per dS row

  const int T = a.T, C = a.C;
  const int kb = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int k0 = kb * Bc;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
  const long C3 = 3L * C;
  const int nqt = (T + Br - 1) / Br;
  const int qt0 = flash_bwd_first_query_tile(kb, Br, Bc);

  const bf16* gq = a.qkv + (long)b * T * C3 + h * HS;
  const bf16* gk = a.k + (long)b * a.k_bstride + h * HS;
  const bf16* gv = a.qkv + (long)b * T * C3 + 2 * C + h * HS;
  const bf16* gdo = a.dout + (long)b * T * C + h * HS;

  load_tile<Bc, HS, NT>(sK, gk, a.k_rstride, k0, T, tid);
  load_tile<Bc, HS, NT>(sV, gv, C3, k0, T, tid);
  load_tile<Br, HS, NT>(sQ0, gq, C3, qt0 * Br, T, tid);
  load_tile<Br, HS, NT>(sdO0, gdo, C, qt0 * Br, T, tid);
  cp_async_commit();

  float dv[ND][4], dk[ND][4];
#pragma unroll
  for (int d = 0; d < ND; d++)
#pragma unroll
    for (int e = 0; e < 4; e++) dv[d][e] = dk[d][e] = 0.f;

  const int wk = warp * 16;  // this warp's keys (local)
  const int key[2] = {k0 + wk + g, k0 + wk + g + 8};
  const float p = a.p, cutoff = RW ? reweight_cutoff(p) : 0.f;

  for (int qt = qt0; qt < nqt; qt++) {
    const int buf = (qt - qt0) & 1;
    const int q0 = qt * Br;
    const uint32_t sQ = sQ0 + buf * kQBytes, sdO = sdO0 + buf * kQBytes;
    if (qt + 1 < nqt) {
      load_tile<Br, HS, NT>(sQ0 + (buf ^ 1) * kQBytes, gq, C3, q0 + Br, T, tid);
      load_tile<Br, HS, NT>(sdO0 + (buf ^ 1) * kQBytes, gdo, C, q0 + Br, T, tid);
      cp_async_commit();
    }
    // per-query-row constants of this tile
    float* st = sStat + buf * NS * Br;
    if (tid < Br) {
      const int i = q0 + tid;
      float v[NS];
#pragma unroll
      for (int k = 0; k < NS; k++) v[k] = 0.f;
      if (i < T) {
        const long si = stat_index(a, b, h, i);
        SM::row_setup(a, HS, i, si, v[kXs], v[kXb], v[kDscale]);
        if constexpr (K == FlashKind::Softmax) {
          v[kS0] = a.stats[si] * kLog2e;
        } else if constexpr (K == FlashKind::L1) {
          const float Z = a.stats[si];
          v[kInvZn] = attn_l1_inv(Z);
          v[kS0] = v[kInvZn] * SM::kUnit;
        } else {
          v[kS0] = 1.f / attn_fixed_divisor<float>(a.spec, i + 1, T);
        }
        if constexpr (K != FlashKind::Unnormalised) v[kD] = a.Dbuf[si];
        if constexpr (RW) {
          const float Mi = a.stats[a.stat_stride + si], Wi = a.stats[2 * a.stat_stride + si];
          if (Mi > 0.f && Wi > 0.f) {
            v[kInvM] = 1.f / Mi;
            v[kInvW] = 1.f / Wi;
            v[kG] = p * v[kInvM] * v[kInvW];
            v[kE] = a.Ebuf[si];
          }
        }
      }
#pragma unroll
      for (int k = 0; k < NS; k++) st[k * Br + tid] = v[k];
    }
    if (qt + 1 < nqt)
      cp_async_wait<1>();
    else
      cp_async_wait<0>();
    __syncthreads();

    // Sᵀ = K Qᵀ and dPᵀ = V dOᵀ for this warp's 16 keys × Br queries
    float s[NQ][4], dp[NQ][4];
#pragma unroll
    for (int n = 0; n < NQ; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) s[n][e] = dp[n][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < HS / 16; kk++) {
      uint32_t ka[4], va[4];
      ldmatrix_x4(ka, tile_addr<CPR>(sK, wk + (lane & 15), kk * 2 + (lane >> 4)));
      ldmatrix_x4(va, tile_addr<CPR>(sV, wk + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int np = 0; np < Br / 16; np++) {
        const int r = np * 16 + (lane & 7) + ((lane >> 4) & 1) * 8, ch = kk * 2 + ((lane >> 3) & 1);
        uint32_t qb4[4], db4[4];
        ldmatrix_x4(qb4, tile_addr<CPR>(sQ, r, ch));
        ldmatrix_x4(db4, tile_addr<CPR>(sdO, r, ch));
        mma_bf16(s[2 * np], ka, qb4[0], qb4[1]);
        mma_bf16(s[2 * np + 1], ka, qb4[2], qb4[3]);
        mma_bf16(dp[2 * np], va, db4[0], db4[1]);
        mma_bf16(dp[2 * np + 1], va, db4[2], db4[3]);
      }
    }

    // elementwise: s ← P (weights for dV), dp ← dS' (score gradient × scale_i)
    const bool need_mask = q0 < k0 + Bc - 1 || q0 + Br > T;
#pragma unroll
    for (int n = 0; n < NQ; n++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int ql = n * 8 + 2 * t4 + (e & 1), qi = q0 + ql, kj = key[e >> 1];
        const bool msk = need_mask && (kj > qi || qi >= T);
        const float x = s[n][e] * st[kXs * Br + ql] + st[kXb * Br + ql];
        const float D = st[kD * Br + ql];
        float P = 0.f, dS = 0.f;
        if constexpr (K == FlashKind::Unnormalised) {
          float f, fd;
          SM::map_deriv(x, f, fd);
          const float invL = st[kS0 * Br + ql];
          P = f * invL;
          dS = fd * dp[n][e] * invL;
        } else {
          // weight a, φ' (Softmax: unused), sign(φ); the row's reduction c = D_i, or E_i on a
          // re-weighted row, whose incoming gradient d is n_i·G instead of dP (see the file comment)
          float av, fd = 0.f, sg;
          if constexpr (K == FlashKind::Softmax) {
            av = fast_exp2(x - st[kS0 * Br + ql]);
            sg = 1.f;
          } else {
            float f;
            SM::map_deriv(x, f, fd);
            av = f * st[kS0 * Br + ql];
            sg = SM::sgn(f);
          }
          P = av;
          float d = dp[n][e], c = D;
          if constexpr (RW) {
            const float invM = st[kInvM * Br + ql];
            if (invM > 0.f) {
              const float nf = (float)(qi + 1), off = reweight_offset<float>(qi + 1);
              const float u = reweight_u(nf, av, off);
              const float r = reweight_ratio(u, invM, cutoff);
              float Gn = 0.f;
              P = 0.f;
              if (r > 0.f) {
                const float pw1 = reweight_pow(r, p - 1.f);
                P = pw1 * r * st[kInvW * Br + ql];
                Gn = nf * st[kG * Br + ql] * pw1 * (dp[n][e] - D);
              }
              d = Gn;
              c = st[kE * Br + ql];
            }
          }
          if constexpr (K == FlashKind::Softmax)
            dS = attn_softmax_backward(av, d, c);
          else
            dS = fd * attn_l1_backward(d, sg, c, st[kInvZn * Br + ql]);
        }
        s[n][e] = msk ? 0.f : P;
        dp[n][e] = msk ? 0.f : dS * st[kDscale * Br + ql];
      }

    // dV += Pᵀ dO, dK += dS'ᵀ Q (A from registers, B = dO / Q rows via ldmatrix.trans)
#pragma unroll
    for (int kk = 0; kk < Br / 16; kk++) {
      uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                        pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      uint32_t da[4] = {pack_bf16(dp[2 * kk][0], dp[2 * kk][1]), pack_bf16(dp[2 * kk][2], dp[2 * kk][3]),
                        pack_bf16(dp[2 * kk + 1][0], dp[2 * kk + 1][1]), pack_bf16(dp[2 * kk + 1][2], dp[2 * kk + 1][3])};
#pragma unroll
      for (int dd = 0; dd < HS / 16; dd++) {
        const int r = kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = dd * 2 + ((lane >> 4) & 1);
        uint32_t ob[4], qb[4];
        ldmatrix_x4_trans(ob, tile_addr<CPR>(sdO, r, ch));
        ldmatrix_x4_trans(qb, tile_addr<CPR>(sQ, r, ch));
        mma_bf16(dv[2 * dd], pa, ob[0], ob[1]);
        mma_bf16(dv[2 * dd + 1], pa, ob[2], ob[3]);
        mma_bf16(dk[2 * dd], da, qb[0], qb[1]);
        mma_bf16(dk[2 * dd + 1], da, qb[2], qb[3]);
      }
      // dS' (bf16) → SMEM, rows = keys, for dQ
#pragma unroll
      for (int half = 0; half < 2; half++)
#pragma unroll
        for (int hh = 0; hh < 2; hh++) {
          const int col = (2 * kk + half) * 8 + 2 * t4;
          const uint32_t addr = tile_addr<CPRS>(sdS, wk + g + 8 * hh, col / 8) + (col % 8) * 2;
          const uint32_t v = half == 0 ? da[hh] : da[2 + hh];
          asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(v));
        }
    }
    __syncthreads();

    // dQ (Br × HS) += dS' (Br × Bc) · K (Bc × HS); warp → (row group, column split)
    {
      const int rg = warp % RG, cs = warp / RG;
      float dq[DW / 8][4];
#pragma unroll
      for (int d = 0; d < DW / 8; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < Bc / 16; kk++) {
        uint32_t aa[4];
        ldmatrix_x4_trans(aa, tile_addr<CPRS>(sdS, kk * 16 + (lane & 7) + ((lane >> 4) & 1) * 8, rg * 2 + ((lane >> 3) & 1)));
#pragma unroll
        for (int dd = 0; dd < DW / 16; dd++) {
          uint32_t kb4[4];
          ldmatrix_x4_trans(kb4, tile_addr<CPR>(sK, kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8,
                                                (cs * DW) / 8 + dd * 2 + ((lane >> 4) & 1)));
          mma_bf16(dq[2 * dd], aa, kb4[0], kb4[1]);
          mma_bf16(dq[2 * dd + 1], aa, kb4[2], kb4[3]);
        }
      }
#pragma unroll
      for (int hh = 0; hh < 2; hh++) {
        const int qi = q0 + rg * 16 + g + 8 * hh;
        if (qi >= T) continue;
        float* dst = a.dq_accum + stat_index(a, b, h, qi) * HS + cs * DW + 2 * t4;
#pragma unroll
        for (int d = 0; d < DW / 8; d++) {
          atomicAdd(dst + d * 8, dq[d][2 * hh]);
          atomicAdd(dst + d * 8 + 1, dq[d][2 * hh + 1]);
        }
      }
    }
    __syncthreads();  // dS, this Q/dO buffer and its row constants are reused
  }

  // ---- epilogue: dV, dK (LSSA: through the k normalisation) → dqkv (bf16)
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    const int kj = key[hh];
    float scale = 1.f, dot = 0.f;
    const int kl = wk + g + 8 * hh;
    // k̂ of this row from the K tile in SMEM (read twice rather than held: registers)
    auto khat2 = [&](int d) {
      uint32_t v;
      asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(v) : "r"(tile_addr<CPR>(sK, kl, d) + 4 * t4));
      return *reinterpret_cast<__nv_bfloat162*>(&v);
    };
    if (a.spec.score == AttnScore::Cosine) {  // dot = k̂·∂k̂ over HS (quad reduce)
#pragma unroll
      for (int d = 0; d < ND; d++) {
        const __nv_bfloat162 kv = khat2(d);
        dot += __low2float(kv) * dk[d][2 * hh] + __high2float(kv) * dk[d][2 * hh + 1];
      }
      dot = quad_sum(dot);
      if (kj < T) {
        scale = a.rk[stat_index(a, b, h, kj)];
        if (attn_inv_norm_clamped(scale)) dot = 0.f;  // clamped norm: no projection
      }
    }
    if (kj >= T) continue;
    bf16* dkv = a.dqkv + ((long)b * T + kj) * C3 + C + h * HS + 2 * t4;
#pragma unroll
    for (int d = 0; d < ND; d++) {
      float x0 = dk[d][2 * hh], x1 = dk[d][2 * hh + 1];
      if (a.spec.score == AttnScore::Cosine) {
        const __nv_bfloat162 kv = khat2(d);
        x0 = (x0 - __low2float(kv) * dot) * scale;
        x1 = (x1 - __high2float(kv) * dot) * scale;
      }
      *reinterpret_cast<uint32_t*>(dkv + d * 8) = pack_bf16(x0, x1);
      *reinterpret_cast<uint32_t*>(dkv + C + d * 8) = pack_bf16(dv[d][2 * hh], dv[d][2 * hh + 1]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic dQ pass (the default; see the file comment). Per CTA = (query tile of Br rows,
// h, b); warp w owns query rows 16w..16w+15 and keeps dQ (16×HS, fp32) in registers; loop over
// the causal key tiles (cp.async double buffer, as the forward):
//   S = Q K_jᵀ, dP = dO V_jᵀ (registers), dS' elementwise (bwd_score_grad), dQ += dS' K_j.
// Writes dq_accum (B, NH, T, HS) fp32 with plain stores; flash_dq_convert_kernel follows.
//
// bwd_row_constants / bwd_score_grad restate, for this pass, the per-row constants and the
// elementwise dS' of flash_bwd_kernel (the same formulas, the same order of operations, so both
// dQ paths see the same dS' values); flash_bwd_kernel keeps its inline copy until a GPU has run
// both and they can share one home.

template <FlashKind K, AttnMap M, bool RW>
__device__ __forceinline__ void bwd_row_constants(const KernelArgs& a, int HS, int b, int h, int i, float (&v)[10]) {
  using SM = ScoreMap<K, M>;
#pragma unroll
  for (int k = 0; k < 10; k++) v[k] = 0.f;
  if (i >= a.T) return;  // padding rows: all zero, their elements are masked
  const long si = stat_index(a, b, h, i);
  SM::row_setup(a, HS, i, si, v[kXs], v[kXb], v[kDscale]);
  if constexpr (K == FlashKind::Softmax) {
    v[kS0] = a.stats[si] * kLog2e;
  } else if constexpr (K == FlashKind::L1) {
    const float Z = a.stats[si];
    v[kInvZn] = Z > 0.f ? 1.f / Z : 0.f;
    v[kS0] = v[kInvZn] * SM::kUnit;
  } else {
    v[kS0] = 1.f / attn_fixed_divisor<float>(a.spec, i + 1, a.T);
  }
  if constexpr (K != FlashKind::Unnormalised) v[kD] = a.Dbuf[si];
  if constexpr (RW) {
    const float Mi = a.stats[a.stat_stride + si], Wi = a.stats[2 * a.stat_stride + si];
    if (Mi > 0.f && Wi > 0.f) {
      v[kInvM] = 1.f / Mi;
      v[kInvW] = 1.f / Wi;
      v[kG] = a.p * v[kInvM] * v[kInvW];
      v[kE] = a.Ebuf[si];
    }
  }
}

// dS' = scale_i·dS of element (i, j) from the raw score s = q·k (or q·k̂), dP = dO_i·v_j and the
// row constants v of query row qi.
template <FlashKind K, AttnMap M, bool RW>
__device__ __forceinline__ float bwd_score_grad(float s, float dpv, int qi, const float (&v)[10], float p) {
  using SM = ScoreMap<K, M>;
  const float x = s * v[kXs] + v[kXb];
  const float D = v[kD];
  float dS;
  if constexpr (K == FlashKind::Unnormalised) {
    float f, fd;
    SM::map_deriv(x, f, fd);
    dS = fd * dpv * v[kS0];
  } else {
    float av, dfac, sg;  // weight a, φ'/Z (or softmax p), sign(φ)
    if constexpr (K == FlashKind::Softmax) {
      av = fast_exp2(x - v[kS0]);
      dfac = av;
      sg = 1.f;
    } else {
      float f, fd;
      SM::map_deriv(x, f, fd);
      av = f * v[kS0];
      dfac = fd * v[kInvZn];
      sg = SM::sgn(f);
    }
    float inner = dpv - sg * D;
    if constexpr (RW) {
      const float invM = v[kInvM];
      if (invM > 0.f) {
        const float nf = (float)(qi + 1), off = reweight_offset<float>(qi + 1);
        const float u = nf * av - off;
        const float r = u > 0.f ? u * invM : 0.f;
        float Gn = 0.f;
        if (r > 0.f) Gn = nf * v[kG] * reweight_pow(r, p - 1.f) * (dpv - D);
        inner = Gn - sg * v[kE];
      }
    }
    dS = dfac * inner;
  }
  return dS * v[kDscale];
}

template <int HS, FlashKind K, AttnMap M, bool RW>
__global__ void __launch_bounds__(FlashDqTraits<HS>::kWarps * 32)
    flash_bwd_dq_kernel(const KernelArgs a) {
  using Tr = FlashDqTraits<HS>;
  constexpr int Br = Tr::Br, Bc = Tr::Bc, CPR = HS / 8, NT = Tr::kWarps * 32;
  constexpr int NS = Bc / 8;  // score n-tiles (8 keys each) per warp
  constexpr int ND = HS / 8;  // dQ d-tiles
  constexpr int KQ = HS / 16; // k-steps of Q·Kᵀ and dO·Vᵀ

  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smem_u32(smem);
  const uint32_t sdO = sQ + Br * HS * 2;
  const uint32_t sK0 = sdO + Br * HS * 2;       // K tiles, 2 buffers
  const uint32_t sV0 = sK0 + 2 * Bc * HS * 2;   // V tiles, 2 buffers
  constexpr uint32_t kTileBytes = Bc * HS * 2;

  const int T = a.T, C = a.C;
  const int qb = gridDim.x - 1 - blockIdx.x;  // heaviest (longest causal) blocks first
  const int h = blockIdx.y, b = blockIdx.z;
  const int q0 = qb * Br;
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t4 = lane & 3;
  const long C3 = 3L * C;

  const bf16* gq = a.qkv + (long)b * T * C3 + h * HS;           // (T, HS) rows, stride 3C
  const bf16* gk = a.k + (long)b * a.k_bstride + h * HS;       // stride k_rstride
  const bf16* gv = a.qkv + (long)b * T * C3 + 2 * C + h * HS;  // stride 3C
  const bf16* gdo = a.dout + (long)b * T * C + h * HS;         // stride C
  const int nkt = flash_fwd_key_tiles(qb, T, Br, Bc);

  // the constants of this thread's two query rows (g and g + 8 of the warp's 16)
  int row[2];
  float rc[2][10];
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    row[hh] = q0 + warp * 16 + g + 8 * hh;
    bwd_row_constants<K, M, RW>(a, HS, b, h, row[hh], rc[hh]);
  }

  load_tile<Br, HS, NT>(sQ, gq, C3, q0, T, tid);
  load_tile<Br, HS, NT>(sdO, gdo, C, q0, T, tid);
  load_tile<Bc, HS, NT>(sK0, gk, a.k_rstride, 0, T, tid);
  load_tile<Bc, HS, NT>(sV0, gv, C3, 0, T, tid);
  cp_async_commit();

  float dq[ND][4];
#pragma unroll
  for (int d = 0; d < ND; d++) dq[d][0] = dq[d][1] = dq[d][2] = dq[d][3] = 0.f;
  const int wrow0 = q0 + warp * 16;  // smallest row of this warp
  const float p = a.p;

  for (int j = 0; j < nkt; j++) {
    const int buf = j & 1;
    if (j + 1 < nkt) {
      load_tile<Bc, HS, NT>(sK0 + (buf ^ 1) * kTileBytes, gk, a.k_rstride, (j + 1) * Bc, T, tid);
      load_tile<Bc, HS, NT>(sV0 + (buf ^ 1) * kTileBytes, gv, C3, (j + 1) * Bc, T, tid);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const uint32_t sK = sK0 + buf * kTileBytes, sV = sV0 + buf * kTileBytes;
    const int k0 = j * Bc;

    // S = Q K_jᵀ and dP = dO V_jᵀ for this warp's 16 rows × Bc keys
    float s[NS][4], dp[NS][4];
#pragma unroll
    for (int nt = 0; nt < NS; nt++)
#pragma unroll
      for (int e = 0; e < 4; e++) s[nt][e] = dp[nt][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KQ; kk++) {
      uint32_t qa[4], oa[4];
      ldmatrix_x4(qa, tile_addr<CPR>(sQ, warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
      ldmatrix_x4(oa, tile_addr<CPR>(sdO, warp * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
      for (int np = 0; np < Bc / 16; np++) {
        const int r = np * 16 + (lane & 7) + ((lane >> 4) & 1) * 8, ch = kk * 2 + ((lane >> 3) & 1);
        uint32_t kb4[4], vb4[4];
        ldmatrix_x4(kb4, tile_addr<CPR>(sK, r, ch));
        ldmatrix_x4(vb4, tile_addr<CPR>(sV, r, ch));
        mma_bf16(s[2 * np], qa, kb4[0], kb4[1]);
        mma_bf16(s[2 * np + 1], qa, kb4[2], kb4[3]);
        mma_bf16(dp[2 * np], oa, vb4[0], vb4[1]);
        mma_bf16(dp[2 * np + 1], oa, vb4[2], vb4[3]);
      }
    }

    // s ← dS' (masked: keys after the row, rows past T)
    const bool need_mask = k0 + Bc - 1 > wrow0 || wrow0 + 15 >= T;
#pragma unroll
    for (int nt = 0; nt < NS; nt++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int hh = e >> 1, qi = row[hh], kj = k0 + nt * 8 + 2 * t4 + (e & 1);
        const bool msk = need_mask && (kj > qi || qi >= T);
        const float ds = bwd_score_grad<K, M, RW>(s[nt][e], dp[nt][e], qi, rc[hh], p);
        s[nt][e] = msk ? 0.f : ds;
      }

    // dQ += dS' K_j (dS' rounded to bf16, as flash_bwd_kernel rounds it; K rows via ldmatrix.trans)
#pragma unroll
    for (int kk = 0; kk < Bc / 16; kk++) {
      uint32_t pa[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                        pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]), pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
#pragma unroll
      for (int dd = 0; dd < HS / 16; dd++) {
        uint32_t kb[4];
        ldmatrix_x4_trans(kb, tile_addr<CPR>(sK, kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dd * 2 + ((lane >> 4) & 1)));
        mma_bf16(dq[2 * dd], pa, kb[0], kb[1]);
        mma_bf16(dq[2 * dd + 1], pa, kb[2], kb[3]);
      }
    }
    __syncthreads();  // the buffer is refilled by the next prefetch
  }

  // ---- epilogue: dQ (fp32, one owner per element) → dq_accum
#pragma unroll
  for (int hh = 0; hh < 2; hh++) {
    const int i = row[hh];
    if (i >= T) continue;
    float* dst = a.dq_accum + stat_index(a, b, h, i) * HS + 2 * t4;
#pragma unroll
    for (int d = 0; d < ND; d++) *reinterpret_cast<float2*>(dst + d * 8) = make_float2(dq[d][2 * hh], dq[d][2 * hh + 1]);
  }
}


}  // namespace flash
}  // namespace lssa
