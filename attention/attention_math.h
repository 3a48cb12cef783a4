// The scalar math of every attention variant — the ONE home of these formulas.
//
// Used by the CPU reference (attention/attention_cpu.cpp) and by the CUDA kernels, so every
// function is `__host__ __device__` under nvcc and plain inline C++ elsewhere, templated on the
// real type (float in the backends, double in the finite-difference tests).
//
// A variant (DESIGN.md §4.1) is described by an AttnSpec: how the score is formed, which map φ
// is applied, how rows are normalised, and an optional post-op. Per row i (n_i = i + 1 visible
// keys), the weights are built as a pipeline:
//
//   s_ij  = scale_i · q_i·k_j + bias_i          score (Dot: raw q, k; Cosine: unit q, k), scale_i from
//                                               AttnScale (1/√HS; LSSA's c_i; SSMax; a temperature; log-n)
//   f_ij  = φ(s_ij)                             map (exp, softplus, sigmoid, relu, …)
//   p_ij  = f_ij / Σ_j f_ij   if softmax        stable softmax (exp only, max-subtracted)
//   g_ij  = −p_ij | p_ij − 1/n_i | p_ij         transform (inverse, recentered: rows n_i ≤ 3 keep p)
//   a_ij  = g_ij / Σ_j |g_ij|  (l1)  |  g_ij / T (seq)  |  g_ij / n_i (row)  |  g_ij (none)
//   a'_ij = re-weighting of a (DESIGN §4.2) when p > 0 and rows are l1-normalised
//   o_i   = Σ_j a'_ij v_j, then LayerNorm over HS without affine for relu_shen
#pragma once

#include <float.h>
#include <math.h>

#ifdef __CUDACC__
#define LSSA_HD __host__ __device__ __forceinline__
#else
#define LSSA_HD inline
#endif

namespace lssa {

// Which vectors the score multiplies.
enum class AttnScore : int {
  Dot = 0,     // s = scale_i · q·k           (raw q, k)
  Cosine = 1,  // s = scale_i · (q/‖q‖)·(k/‖k‖) (unit q, k: LSSA, softmax_qknorm)
};

// The per-row multiplier scale_i of the score (attn_row_scale). Every kind is one scalar per row
// (n_i, HS and the spec's scale_value), which is all the three implementations need from it.
enum class AttnScale : int {
  InvSqrtHS = 0,  // 1/√HS                                     (every Dot variant of the paper)
  LssaLog = 1,    // ln(HS)·ln(n_i)                            (LSSA, Eq. 4; c_1 = 0)
  SsMax = 2,      // scale_value·ln(n_i)/√HS, scale_value = s  (ssmax: Nakanishi 2025; not in the paper)
  Constant = 3,   // scale_value                               (softmax_qknorm's temperature τ; not in the paper)
  LogN = 4,       // 1/√HS for n_i ≤ T_train, else ln(n_i)/ln(T_train)/√HS, scale_value = T_train
                  //                                           (logn_softmax; not in the paper)
};
constexpr int kAttnScaleCount = 5;  // number of AttnScale values (the last one + 1)

// The element-wise map φ. A new φ: a value here, its facts in attn_map_signed, its math in
// attn_map / attn_map_and_deriv (docs/adding_an_attention_variant.md).
enum class AttnMap : int {
  Identity = 0,
  Exp = 1,
  Softplus = 2,
  Sigmoid = 3,
  Relu = 4,
  Relu2 = 5,
  Relu6 = 6,
  Gelu = 7,  // erf form, signed
  Mish = 8,  // x·tanh(softplus(x)), signed
  Softsign = 9,  // x/(1 + |x|), signed
};
constexpr int kAttnMapCount = 10;  // number of AttnMap values (the last one + 1)

// φ can be negative: the l1 normaliser then sums |φ| and its backward needs sign(φ) (every switch
// on AttnMap has no default, so -Wswitch names each place a new map must be described).
constexpr bool attn_map_signed(AttnMap m) {
  switch (m) {
    case AttnMap::Identity: return true;
    case AttnMap::Exp: return false;
    case AttnMap::Softplus: return false;
    case AttnMap::Sigmoid: return false;
    case AttnMap::Relu: return false;
    case AttnMap::Relu2: return false;
    case AttnMap::Relu6: return false;
    case AttnMap::Gelu: return true;
    case AttnMap::Mish: return true;
    case AttnMap::Softsign: return true;
  }
  return true;
}

// Transform applied to the softmax probabilities (Table 1 variants).
enum class AttnTransform : int {
  None = 0,
  Negate = 1,    // inverse: −p
  Recenter = 2,  // p − 1/n_i for n_i > 3; rows n_i ≤ 3 keep p
};

// Row normaliser after the map / transform.
enum class AttnNorm : int {
  None = 0,
  L1 = 1,          // divide by Σ_j |g_ij| (rows with Σ = 0 output 0 and pass no gradient)
  DivideSeq = 2,   // divide by T, the length of this forward pass (Wortsman)
  DivideRow = 3,   // divide by n_i
};

// Additive bias on the score (sigmoid family).
enum class AttnBias : int {
  None = 0,
  Constant = 1,  // b = bias_value (−ln T_train by default)
  RowLog = 2,    // b = −ln n_i
};

// A fully-resolved attention variant: everything the math needs, nothing else.
struct AttnSpec {
  AttnScore score = AttnScore::Dot;           // how s_ij is formed
  AttnMap map = AttnMap::Exp;                 // φ
  bool softmax = true;                        // stable softmax normalisation of exp(s) (map == Exp)
  AttnTransform transform = AttnTransform::None;  // inverse / recentered
  AttnNorm norm = AttnNorm::None;             // l1, 1/T, 1/n or none
  AttnBias bias = AttnBias::None;             // additive score bias
  double bias_value = 0.0;                    // used when bias == Constant (double: fp64 tests)
  AttnScale scale = AttnScale::InvSqrtHS;     // per-row multiplier of the score
  double scale_value = 0.0;                   // SsMax: s; Constant: τ; LogN: T_train (else unused)
  bool post_layernorm = false;                // relu_shen: LN over HS (no affine) on o_i
  float reweight_p = 0.f;                     // 0 = off; ≥ 1 = re-weighting exponent (DESIGN §4.2)
};

// Rows are l1-normalised (Σ_j |a_ij| = 1), so re-weighting is defined.
constexpr bool attn_rows_l1(const AttnSpec& s) {
  return s.norm == AttnNorm::L1 || (s.softmax && s.transform == AttnTransform::None);
}

// The weights g before the normaliser can be negative (a signed φ, or a transform of softmax).
constexpr bool attn_weights_signed(const AttnSpec& s) {
  return s.transform != AttnTransform::None || (!s.softmax && attn_map_signed(s.map));
}

constexpr double kLayerNormEps = 1e-5;   // relu_shen's LayerNorm and the model's LayerNorms
constexpr double kNormalizeEps = 1e-12;  // LSSA's q/‖q‖ clamp, as F.normalize

// ---------------------------------------------------------------------------------------------
// φ and φ'. All maps are written in their overflow-safe forms.

template <typename R>
LSSA_HD R sigmoid_stable(R x) {
  if (x >= R(0)) return R(1) / (R(1) + exp(-x));
  R e = exp(x);
  return e / (R(1) + e);
}

// log1p(x) for x ≥ 0 as log(1 + x) corrected for the rounding of 1 + x (Goldberg, "What every
// computer scientist should know about floating-point arithmetic", Thm. 4): within a few ulp of
// log1p, and log is ~3× faster than log1p in glibc's fp32 libm (softplus attention's hot path).
template <typename R>
LSSA_HD R log1p_nonneg(R x) {
  R u = R(1) + x;
  return u == R(1) ? x : log(u) * (x / (u - R(1)));
}

// softplus(x) = max(x, 0) + log1p(exp(−|x|)): never overflows, exact for large |x|.
template <typename R>
LSSA_HD R softplus_stable(R x) {
  return (x > R(0) ? x : R(0)) + log1p_nonneg(exp(-fabs(x)));
}

// Mish with one exp: tanh(softplus(x)) = ((1+eˣ)² − 1)/((1+eˣ)² + 1) = m/(m + 2), m = eˣ(eˣ + 2).
// (x·tanh(softplus(x)) literally costs exp, log1p and tanh — the slowest map by 2×.) For x > 20,
// 2/(m + 2) < 1e-17: tanh(softplus(x)) is 1 in fp32 and fp64, and eˣ(eˣ + 2) would overflow fp32.
template <typename R>
LSSA_HD R mish_tanh_softplus(R x, R* sig) {
  if (x > R(20)) {
    if (sig) *sig = R(1) / (R(1) + exp(-x));
    return R(1);
  }
  R e = exp(x), m = e * (e + R(2));
  if (sig) *sig = e / (R(1) + e);
  return m / (m + R(2));
}

// ---------------------------------------------------------------------------------------------
// Device-optimised forms (used by the fused CUDA kernels; the exact forms above stay the
// reference). Each is checked against the exact form on the CPU in test/attention/.

// 2^x with one special-function op on the GPU (MUFU.EX2; flushes subnormal results to 0, which
// is below every weight that reaches a bf16 matmul); exact exp2 on the host.
LSSA_HD float fast_exp2(float x) {
#ifdef __CUDA_ARCH__
  float r;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
  return r;
#else
  return exp2f(x);
#endif
}

// Minimax coefficients of P(z) ≈ log2(1 + z)/z on z ∈ [0, 1], minimising the maximum RELATIVE
// error of z·P(z) against log2(1 + z) (Remez exchange on 20001 points; max rel. error 5.67e-5,
// 35× below bf16's rounding error 2^-9, so the weights that reach the bf16 P·V matmul are what
// the exact form gives). Degree 3 would give 3.9e-4, degree 2 2.8e-3 (too close to bf16).
constexpr float kLog1pPoly0 = 1.44261321f;
constexpr float kLog1pPoly1 = -0.716987415f;
constexpr float kLog1pPoly2 = 0.441898832f;
constexpr float kLog1pPoly3 = -0.227119451f;
constexpr float kLog1pPoly4 = 0.0596515481f;
constexpr float kLn2 = 0.693147180559945309f;
constexpr float kLog2e = 1.44269504088896341f;

// log2(1 + z) for z ∈ [0, 1] as z·P(z): 5 FMA-pipe ops, no special-function op.
LSSA_HD float log2_1p_poly(float z) {
  float p = kLog1pPoly4;
  p = p * z + kLog1pPoly3;
  p = p * z + kLog1pPoly2;
  p = p * z + kLog1pPoly1;
  p = p * z + kLog1pPoly0;
  return z * p;
}

// softplus in base 2 with ONE special-function op: for y = x·log2(e),
//   softplus(x) = ln2 · sp2(y),  sp2(y) = max(y, 0) + log2(1 + 2^−|y|)
// (the stable form of softplus_stable, with log1p replaced by the polynomial). Returns sp2(y);
// z_out = 2^−|y| is handed back because the derivative σ(x) = (y ≥ 0 ? 1 : z)/(1 + z) reuses it.
LSSA_HD float softplus2_poly(float y, float* z_out) {
  float z = fast_exp2(-fabsf(y));
  *z_out = z;
  return fmaxf(y, 0.f) + log2_1p_poly(z);
}

// softplus(x) in natural units via softplus2_poly (what the kernels compute, for tests).
LSSA_HD float softplus_poly(float x) {
  float z;
  return kLn2 * softplus2_poly(x * kLog2e, &z);
}

// σ(x) from y = x·log2(e) and z = 2^−|y| (one reciprocal).
LSSA_HD float sigmoid_from_exp2(float y, float z) { return (y >= 0.f ? 1.f : z) / (1.f + z); }

template <typename R>
LSSA_HD R attn_map(AttnMap m, R x) {
  switch (m) {
    case AttnMap::Identity: return x;
    case AttnMap::Exp: return exp(x);
    case AttnMap::Softplus: return softplus_stable(x);
    case AttnMap::Sigmoid: return sigmoid_stable(x);
    case AttnMap::Relu: return x > R(0) ? x : R(0);
    case AttnMap::Relu2: return x > R(0) ? x * x : R(0);
    case AttnMap::Relu6: return x > R(0) ? (x < R(6) ? x : R(6)) : R(0);
    case AttnMap::Gelu: return R(0.5) * x * (R(1) + erf(x * R(0.70710678118654752440)));
    case AttnMap::Mish: return x * mish_tanh_softplus(x, (R*)nullptr);
    case AttnMap::Softsign: return x / (R(1) + fabs(x));
  }
  return x;
}

// φ(x) and dφ/dx together, sharing the transcendental work (the backward needs both). At the
// kinks of relu/relu6 the derivative is taken as 0 (as PyTorch does).
template <typename R>
LSSA_HD R attn_map_and_deriv(AttnMap m, R x, R* d) {
  switch (m) {
    case AttnMap::Identity: *d = R(1); return x;
    case AttnMap::Exp: {
      R e = exp(x);
      *d = e;
      return e;
    }
    case AttnMap::Softplus: {  // softplus' = σ, both from e^(−|x|)
      R e = exp(-fabs(x));
      *d = x >= R(0) ? R(1) / (R(1) + e) : e / (R(1) + e);
      return (x > R(0) ? x : R(0)) + log1p_nonneg(e);
    }
    case AttnMap::Sigmoid: {
      R s = sigmoid_stable(x);
      *d = s * (R(1) - s);
      return s;
    }
    case AttnMap::Relu: *d = x > R(0) ? R(1) : R(0); return x > R(0) ? x : R(0);
    case AttnMap::Relu2: *d = x > R(0) ? R(2) * x : R(0); return x > R(0) ? x * x : R(0);
    case AttnMap::Relu6:
      *d = (x > R(0) && x < R(6)) ? R(1) : R(0);
      return x > R(0) ? (x < R(6) ? x : R(6)) : R(0);
    case AttnMap::Gelu: {
      R cdf = R(0.5) * (R(1) + erf(x * R(0.70710678118654752440)));
      R pdf = exp(R(-0.5) * x * x) * R(0.39894228040143267794);
      *d = cdf + x * pdf;
      return x * cdf;
    }
    case AttnMap::Mish: {  // mish' = t + x·(1 − t²)·σ(x), t = tanh(softplus(x))
      R sig;
      R t = mish_tanh_softplus(x, &sig);
      *d = t + x * (R(1) - t * t) * sig;
      return x * t;
    }
    case AttnMap::Softsign: {  // softsign' = 1/(1 + |x|)²
      R inv = R(1) / (R(1) + fabs(x));
      *d = inv * inv;
      return x * inv;
    }
  }
  *d = R(1);
  return x;
}

// dφ/dx alone.
template <typename R>
LSSA_HD R attn_map_deriv(AttnMap m, R x) {
  R d;
  attn_map_and_deriv(m, x, &d);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Per-row constants. n = number of visible keys (1-indexed row), HS = head size.

// A set of AttnScale kinds as bits (attn_row_scale's compile-time kScales).
constexpr unsigned attn_scale_bit(AttnScale sc) { return 1u << (int)sc; }
constexpr unsigned kAttnAllScales = attn_scale_bit(AttnScale::InvSqrtHS) | attn_scale_bit(AttnScale::LssaLog) |
                                    attn_scale_bit(AttnScale::SsMax) | attn_scale_bit(AttnScale::Constant) |
                                    attn_scale_bit(AttnScale::LogN);
static_assert(kAttnAllScales == (1u << kAttnScaleCount) - 1u, "a new AttnScale needs its branch in attn_row_scale");

// Multiplier of q·k (Dot) or of the cosine (Cosine), by AttnScale: 1/√HS; LSSA's
// c_i = ln(HS)·ln(n_i) (c_1 = 0); SSMax's s·ln(n_i)/√HS (0 on row 1, whose single weight is 1
// anyway); a constant temperature τ; log-n scaling max(1, ln n_i/ln T_train)/√HS, written so that
// rows n_i ≤ T_train get exactly the InvSqrtHS value (logn_softmax is softmax bit for bit there).
// kScales: the kinds this caller can meet (every kind by default). A kernel that runs only some
// kinds (the fused kernels: flash_plan.h's kFlashFusedScales) compiles only their branches: the
// HS = 128 fused backward kernels sit at the 255-register limit, and each extra branch in their
// per-row setup spilled (measured with -Xptxas -v, 2026-12-06: 4 -> 16 bytes, and 12 -> 28 bytes).
template <typename R, unsigned kScales = kAttnAllScales>
LSSA_HD R attn_row_scale(const AttnSpec& s, int n, int HS) {
  static_assert((kScales & ~kAttnAllScales) == 0u, "unknown AttnScale bits");
  if ((kScales & attn_scale_bit(AttnScale::LssaLog)) && s.scale == AttnScale::LssaLog) return log(R(HS)) * log(R(n));
  if ((kScales & attn_scale_bit(AttnScale::SsMax)) && s.scale == AttnScale::SsMax)
    return R(s.scale_value) * log(R(n)) / sqrt(R(HS));
  if ((kScales & attn_scale_bit(AttnScale::Constant)) && s.scale == AttnScale::Constant) return R(s.scale_value);
  if ((kScales & attn_scale_bit(AttnScale::LogN)) && s.scale == AttnScale::LogN && R(n) > R(s.scale_value))
    return log(R(n)) / log(R(s.scale_value)) / sqrt(R(HS));
  return R(1) / sqrt(R(HS));  // InvSqrtHS, and LogN's rows n_i ≤ T_train
}

template <typename R>
LSSA_HD R attn_row_bias(const AttnSpec& s, int n) {
  switch (s.bias) {
    case AttnBias::None: return R(0);
    case AttnBias::Constant: return R(s.bias_value);
    case AttnBias::RowLog: return -log(R(n));
  }
  return R(0);
}

// The constant subtracted by the recentering transform (0 when the row keeps p).
template <typename R>
LSSA_HD R attn_recenter_shift(const AttnSpec& s, int n) {
  return (s.transform == AttnTransform::Recenter && n > 3) ? R(1) / R(n) : R(0);
}

// Divisor of the DivideSeq / DivideRow normalisers (T = length of this forward pass).
template <typename R>
LSSA_HD R attn_fixed_divisor(const AttnSpec& s, int n, int T) {
  if (s.norm == AttnNorm::DivideSeq) return R(T);
  if (s.norm == AttnNorm::DivideRow) return R(n);
  return R(1);
}

// Re-weighting offset o_i (DESIGN §4.2): 0 for the first three rows, 1 after.
template <typename R>
LSSA_HD R reweight_offset(int n) {
  return n <= 3 ? R(0) : R(1);
}

// The smallest r ∈ (0, 1] whose r^p is a normal number of type R. Backends flush r below it to 0
// before the power: r^15 is subnormal in fp32 once r < 0.003, such a weight is far below any effect
// on o_i, and subnormal arithmetic costs ~100× on CPUs (GPUs flush subnormals anyway).
template <typename R>
LSSA_HD R reweight_cutoff(R p) {
  return pow(sizeof(R) == sizeof(float) ? R(FLT_MIN) : R(DBL_MIN), R(1) / p);
}

// r^p for r ∈ [0, 1] (r = relu(u)/max relu(u)): never overflows; integer p by repeated squaring.
template <typename R>
LSSA_HD R reweight_pow(R r, R p) {
  if (r <= R(0)) return R(0);
  int ip = (int)p;
  if (R(ip) == p && ip <= 64) {
    R acc = R(1), b = r;
    while (ip) {
      if (ip & 1) acc *= b;
      b *= b;
      ip >>= 1;
    }
    return acc;
  }
  return pow(r, p);
}

// ---------------------------------------------------------------------------------------------
// The row pipeline, step by step: the formulas the CPU reference (attention_cpu.cpp), the GPU
// reference (cuda/attention_reference.cu) and the fused kernels (cuda/flash_kernels.cuh) share.
// Each backend keeps only its loops and reductions; docs/attention_math.md derives them.

// Transform of the softmax probabilities / φ values: g = −f (inverse) | f − shift (recentered;
// shift = attn_recenter_shift, 0 for every other variant).
// (Takes the transform, not the spec, so that row loops hold it in a register.)
template <typename R>
LSSA_HD R attn_transform(AttnTransform t, R f, R shift) {
  return t == AttnTransform::Negate ? -f : f - shift;
}

// 1/Z of the l1 normaliser with the Z = 0 rule: a row whose weights are all 0 outputs 0 and passes
// no gradient (multiplying by 0 instead of dividing by 0).
template <typename R>
LSSA_HD R attn_l1_inv(R Z) {
  return Z > R(0) ? R(1) / Z : R(0);
}

// sign(g) ∈ {−1, 0, 1}: the derivative of |g| in Z = Σ|g| (0 at g = 0, where φ' is 0 or the
// weight does not count).
template <typename R>
LSSA_HD R attn_sign(R g) {
  return g > R(0) ? R(1) : (g < R(0) ? R(-1) : R(0));
}

// Re-weighting's centred weight u_j = n·a_j − o_n (DESIGN §4.2); n as a real (the row's key count).
template <typename R>
LSSA_HD R reweight_u(R n, R a, R off) {
  return n * a - off;
}

// r_j = relu(u_j)/max_j relu(u_j) ∈ [0, 1] from inv_rmax = 1/max (max > 0), with r below `cutoff`
// (reweight_cutoff) flushed to 0 so that r^p never goes subnormal.
template <typename R>
LSSA_HD R reweight_ratio(R u, R inv_rmax, R cutoff) {
  const R x = u * inv_rmax;
  return x >= cutoff ? x : R(0);
}

// ---- backward of the pipeline, one element at a time. d = dL/d(output of the step).

// Through w = r^p / W (re-weighted rows): dL/da_j = (d_j − c1)·k·r_j^(p−1) for r_j > 0, else 0,
// with c1 = Σ_j w_j d_j and k = p·n/(W·rmax) (rmax cancels in the ratio, so it carries no gradient).
template <typename R>
LSSA_HD R reweight_backward(R d, R c1, R k, R r, R r_pow_pm1) {
  return r > R(0) ? (d - c1) * k * r_pow_pm1 : R(0);
}

// Through a = g/Z, Z = Σ|g|: dL/dg_j = (d_j − sign(g_j)·c2)/Z, c2 = Σ_j a_j d_j; inv_Z from
// attn_l1_inv (0 when Z = 0: no gradient).
template <typename R>
LSSA_HD R attn_l1_backward(R d, R sgn, R c2, R inv_Z) {
  return (d - sgn * c2) * inv_Z;
}

// Through the softmax p = exp(s − m)/Σexp: dL/ds_j = p_j·(d_j − c3), c3 = Σ_j p_j d_j.
template <typename R>
LSSA_HD R attn_softmax_backward(R p, R d, R c3) {
  return p * (d - c3);
}

// LSSA's unit vectors: x̂ = x / max(‖x‖, ε) (as F.normalize); the divisor from Σx².
template <typename R>
LSSA_HD R attn_norm_divisor(R sum_sq) {
  const R n = sqrt(sum_sq);
  return n > R(kNormalizeEps) ? n : R(kNormalizeEps);
}
// Backward through x̂ = x/div: dx = (dx̂ − x̂·(x̂·dx̂))/div; a clamped norm (div = ε) is a constant
// divisor, so no projection.
template <typename R>
LSSA_HD bool attn_norm_clamped(R div) {
  return div <= R(kNormalizeEps);
}
// The same test on the reciprocal 1/div that the fused kernels keep per row (rq, rk): clamped iff
// 1/div ≥ 1/ε. Written as !(x < 1/ε) so that a NaN reciprocal also takes the no-projection branch.
template <typename R>
LSSA_HD bool attn_inv_norm_clamped(R inv_div) {
  return !(inv_div < R(1.0 / kNormalizeEps));
}

// relu_shen's LayerNorm over HS (no affine) and the model's LayerNorms: 1/√(var + ε), one ε.
template <typename R>
LSSA_HD R layernorm_rstd(R var) {
  return R(1) / sqrt(var + R(kLayerNormEps));
}

}  // namespace lssa
