// CPU reference attention: see attention_cpu.h for shapes, attention_math.h for the math.
#include "attention/attention_cpu.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/error.h"

namespace lssa {

namespace {

// Buffers and statistics of one row of the weight pipeline. Kept between forward and backward
// of the same row (the backward recomputes the forward first).
template <typename R>
struct Row {
  std::vector<R> s, f, g, a, w;  // scores, φ(s) or softmax p, transform, normalised, final
  std::vector<R> df;             // φ'(s), filled when the backward asks for it
  std::vector<R> r;              // re-weighting: relu(u)/max relu(u)
  std::vector<R> tmp, tmp2;      // scratch of reweight_pow_row; r^(p−1) in the backward
  R Z = 0;                       // l1 normaliser Σ|g|
  R D = 1;                       // fixed divisor (1/T, 1/n)
  R rmax = 0, W = 0;             // re-weighting: max relu(u), Σ r^p
  bool reweighted = false;       // re-weighting changed the row (W > 0)
  explicit Row(int T) : s(T), f(T), g(T), a(T), w(T), df(T), r(T), tmp(T), tmp2(T) {}
};

// x·y with 8 independent partial sums: without -ffast-math a single accumulator is one serial
// add chain (≈ 4 cycles per element); 8 lanes vectorise and pipeline. The summation order is
// fixed, so results stay deterministic.
template <typename R>
R dot(const R* x, const R* y, int n) {
  R acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += x[i + l] * y[i + l];
  for (; i < n; i++) acc[0] += x[i] * y[i];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

// out[j] = reweight_pow(r[j], p) for a whole row, with the loops interchanged (bits of p outside,
// j inside) so that it vectorises; each element sees the same multiplications as reweight_pow,
// so the result is bit-identical to it. scratch: n elements.
template <typename R>
void reweight_pow_row(const R* r, int n, R p, R* out, R* scratch) {
  const int ip = (int)p;
  if (!(R(ip) == p && ip <= 64)) {
    for (int j = 0; j < n; j++) out[j] = reweight_pow(r[j], p);
    return;
  }
  for (int j = 0; j < n; j++) {
    out[j] = R(1);
    scratch[j] = r[j];
  }
  for (int e = ip; e; e >>= 1) {
    if (e & 1)
      for (int j = 0; j < n; j++) out[j] *= scratch[j];
    if (e >> 1)
      for (int j = 0; j < n; j++) scratch[j] *= scratch[j];
  }
  for (int j = 0; j < n; j++) out[j] = r[j] > R(0) ? out[j] : R(0);
}

// Scores s[0..n) → weights row.w[0..n). n = number of visible keys, T = forward-pass length.
// with_deriv: also keep φ'(s) in row.df for the backward (φ and φ' share their exp).
template <typename R>
void row_forward(const AttnSpec& sp, int n, int T, Row<R>& row, bool with_deriv = false) {
  R* s = row.s.data();
  R* f = row.f.data();
  R* g = row.g.data();
  R* a = row.a.data();
  // φ, or a stable softmax of exp
  if (sp.softmax) {
    R mx = s[0];
    for (int j = 1; j < n; j++) mx = std::max(mx, s[j]);
    R sum = 0;
    for (int j = 0; j < n; j++) sum += (f[j] = std::exp(s[j] - mx));
    R inv = R(1) / sum;
    for (int j = 0; j < n; j++) f[j] *= inv;
  } else if (with_deriv) {
    R* df = row.df.data();
    for (int j = 0; j < n; j++) f[j] = attn_map_and_deriv(sp.map, s[j], &df[j]);
  } else {
    for (int j = 0; j < n; j++) f[j] = attn_map(sp.map, s[j]);
  }
  // transform
  const R shift = attn_recenter_shift<R>(sp, n);
  const AttnTransform tr = sp.transform;
  for (int j = 0; j < n; j++) g[j] = attn_transform(tr, f[j], shift);
  // normaliser
  if (sp.norm == AttnNorm::L1) {
    R Z = 0;
    for (int j = 0; j < n; j++) Z += std::fabs(g[j]);
    row.Z = Z;
    const R inv = attn_l1_inv(Z);  // Z = 0: the row outputs 0 (DESIGN §4.4)
    for (int j = 0; j < n; j++) a[j] = g[j] * inv;
  } else {
    row.D = attn_fixed_divisor<R>(sp, n, T);
    R inv = R(1) / row.D;
    for (int j = 0; j < n; j++) a[j] = g[j] * inv;
  }
  // re-weighting (DESIGN §4.2), overflow-safe: (relu(u)/max relu(u))^p
  row.reweighted = false;
  if (sp.reweight_p > 0.f) {
    R off = reweight_offset<R>(n), rmax = 0;
    R* r = row.r.data();
    for (int j = 0; j < n; j++) {
      r[j] = reweight_u(R(n), a[j], off);
      rmax = std::max(rmax, r[j]);
    }
    row.rmax = rmax;
    if (rmax > R(0)) {
      R W = 0, inv = R(1) / rmax, cutoff = reweight_cutoff(R(sp.reweight_p));
      for (int j = 0; j < n; j++) r[j] = reweight_ratio(r[j], inv, cutoff);
      reweight_pow_row(r, n, R(sp.reweight_p), row.w.data(), row.tmp.data());
      for (int j = 0; j < n; j++) W += row.w[j];
      row.W = W;
      R invW = R(1) / W;
      for (int j = 0; j < n; j++) row.w[j] *= invW;
      row.reweighted = true;
      return;
    }
  }
  std::copy(a, a + n, row.w.data());  // no re-weighting, or W = 0: the row keeps a
}

// dw[0..n) (gradient w.r.t. the final weights) → ds[0..n) (gradient w.r.t. the scores).
// dw is used as scratch.
template <typename R>
void row_backward(const AttnSpec& sp, int n, Row<R>& row, R* dw, R* ds) {
  const R* f = row.f.data();
  const R* g = row.g.data();
  const R* a = row.a.data();
  const R* w = row.w.data();
  R* d = dw;  // d holds, in turn, dL/dw, dL/da, dL/dg, dL/df
  if (row.reweighted) {
    // w_j = r_j^p / W with r_j = relu(u_j)/rmax; rmax cancels in the ratio (gradient-neutral)
    R c = 0;
    for (int j = 0; j < n; j++) c += w[j] * d[j];
    R p = R(sp.reweight_p), k = p / (row.W * row.rmax) * R(n);
    std::vector<R>& rp1 = row.tmp2;  // r^(p−1)
    reweight_pow_row(row.r.data(), n, p - R(1), rp1.data(), row.tmp.data());
    for (int j = 0; j < n; j++) d[j] = reweight_backward(d[j], c, k, row.r[j], rp1[j]);
  }
  if (sp.norm == AttnNorm::L1) {
    if (row.Z > R(0)) {
      R c = 0;
      for (int j = 0; j < n; j++) c += a[j] * d[j];
      const R inv = attn_l1_inv(row.Z);
      for (int j = 0; j < n; j++) d[j] = attn_l1_backward(d[j], attn_sign(g[j]), c, inv);
    } else {
      for (int j = 0; j < n; j++) d[j] = 0;  // Z = 0 passes no gradient
    }
  } else {
    R inv = R(1) / row.D;
    for (int j = 0; j < n; j++) d[j] *= inv;
  }
  if (sp.transform == AttnTransform::Negate)
    for (int j = 0; j < n; j++) d[j] = -d[j];
  if (sp.softmax) {
    R c = 0;
    for (int j = 0; j < n; j++) c += f[j] * d[j];
    for (int j = 0; j < n; j++) ds[j] = attn_softmax_backward(f[j], d[j], c);
  } else {
    for (int j = 0; j < n; j++) ds[j] = row.df[j] * d[j];
  }
}

// Unit vectors for LSSA's cosine score: x / max(‖x‖, eps); returns the divisor.
template <typename R>
R normalize_into(const R* x, R* y, int HS) {
  const R div = attn_norm_divisor(dot(x, x, HS));
  for (int i = 0; i < HS; i++) y[i] = x[i] / div;
  return div;
}

// dx from dy through y = x / max(‖x‖, eps).
template <typename R>
void normalize_backward(const R* y, R div, const R* dy, R* dx, int HS) {
  const R c = attn_norm_clamped(div) ? R(0) : dot(y, dy, HS);
  for (int i = 0; i < HS; i++) dx[i] = (dy[i] - y[i] * c) / div;
}

// Scores of row t for head (b, h) against keys 0..t: s_j = scale·(q̂·k̂_j) + bias.
template <typename R>
void row_scores(const AttnSpec& sp, const R* q, const R* kbase, size_t kstride, int n, int HS, R* s) {
  R scale = attn_row_scale<R>(sp, n, HS);
  R bias = attn_row_bias<R>(sp, n);
  for (int j = 0; j < n; j++) s[j] = scale * dot(q, kbase + j * kstride, HS) + bias;
}

// Per-(b, h) views: k and v rows either point into qkv (Dot) or into unit-vector copies (Cosine).
template <typename R>
struct HeadView {
  std::vector<R> khat, kdiv;  // Cosine only: unit keys (T, HS) and their divisors (T)
  const R* k = nullptr;
  size_t kstride = 0;
  void setup(const AttnSpec& sp, const R* kraw, size_t stride, int T, int HS) {
    if (sp.score == AttnScore::Cosine) {
      khat.resize((size_t)T * HS);
      kdiv.resize(T);
      for (int j = 0; j < T; j++) kdiv[j] = normalize_into(kraw + j * stride, &khat[(size_t)j * HS], HS);
      k = khat.data();
      kstride = HS;
    } else {
      k = kraw;
      kstride = stride;
    }
  }
};

// relu_shen: y = (x − mean)/sqrt(var + eps) over HS, in place; returns 1/σ.
template <typename R>
R layernorm_noaffine(R* x, int HS) {
  R mean = 0, var = 0;
  for (int i = 0; i < HS; i++) mean += x[i];
  mean /= HS;
  for (int i = 0; i < HS; i++) var += (x[i] - mean) * (x[i] - mean);
  var /= HS;
  const R rstd = layernorm_rstd(var);
  for (int i = 0; i < HS; i++) x[i] = (x[i] - mean) * rstd;
  return rstd;
}

}  // namespace

template <typename R>
void attention_row_weights(const AttnSpec& spec, int n, int T, const R* scores, R* weights) {
  Row<R> row(n);
  std::copy(scores, scores + n, row.s.data());
  row_forward(spec, n, T, row);
  std::copy(row.w.data(), row.w.data() + n, weights);
}

template <typename R>
void attention_forward_cpu(const AttnSpec& sp, R* out, const R* qkv, int B, int T, int NH, int HS, AttnStats* stats) {
  const int C = NH * HS;
  const size_t C3 = 3 * (size_t)C;
  // --attn-stats: one accumulator per (b, h), merged in (b, h) order after the loop, so the sums do
  // not depend on the thread count; O(buckets) each
  std::vector<AttnStats> local;
  if (stats) {
    if (stats->T() != T || stats->heads() != NH)
      fail(strfmt("internal: attention statistics for T = %d, %d heads given to a forward of T = %d, %d heads",
                  stats->T(), stats->heads(), T, NH));
    local.assign((size_t)B * NH, AttnStats(1, stats->edges(), stats->has_base()));
  }
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    AttnStats* st = stats ? &local[bh] : nullptr;
    const R* base = qkv + (size_t)b * T * C3;
    HeadView<R> kv;
    kv.setup(sp, base + C + h * HS, C3, T, HS);
    Row<R> row(T);
    std::vector<R> qhat(HS);
    for (int t = 0; t < T; t++) {
      const int n = t + 1;
      const R* q = base + t * C3 + h * HS;
      if (sp.score == AttnScore::Cosine) {
        normalize_into(q, qhat.data(), HS);
        q = qhat.data();
      }
      row_scores(sp, q, kv.k, kv.kstride, n, HS, row.s.data());
      row_forward(sp, n, T, row);
      if (st) {  // reads the row's weights only: out is the same bits with or without statistics
        st->add_row(AttnStatSet::Final, 0, n, attn_row_stat(row.w.data(), n));
        if (st->has_base()) st->add_row(AttnStatSet::Base, 0, n, attn_row_stat(row.a.data(), n));
      }
      R* o = out + ((size_t)b * T + t) * C + h * HS;
      for (int i = 0; i < HS; i++) o[i] = 0;
      for (int j = 0; j < n; j++) {
        const R wj = row.w[j];
        const R* v = base + j * C3 + 2 * C + h * HS;
        for (int i = 0; i < HS; i++) o[i] += wj * v[i];
      }
      if (sp.post_layernorm) layernorm_noaffine(o, HS);
    }
  }
  if (stats)
    for (int bh = 0; bh < B * NH; bh++) stats->merge_head(local[bh], bh % NH);
}

template <typename R>
void attention_backward_cpu(const AttnSpec& sp, R* dqkv, const R* dout, const R* qkv, int B, int T,
                            int NH, int HS) {
  const int C = NH * HS;
  const size_t C3 = 3 * (size_t)C;
  const bool cosine = sp.score == AttnScore::Cosine;
#pragma omp parallel for schedule(static)
  for (int bh = 0; bh < B * NH; bh++) {
    const int b = bh / NH, h = bh % NH;
    const R* base = qkv + (size_t)b * T * C3;
    R* dbase = dqkv + (size_t)b * T * C3;
    HeadView<R> kv;
    kv.setup(sp, base + C + h * HS, C3, T, HS);
    Row<R> row(T);
    std::vector<R> dk((size_t)T * HS, R(0)), dv((size_t)T * HS, R(0));  // d k̂ (cosine) or dk
    std::vector<R> dw(T), ds(T), qhat(HS), dq(HS), dopre(HS), opre(HS);
    for (int t = 0; t < T; t++) {
      const int n = t + 1;
      const R* q = base + t * C3 + h * HS;
      R qdiv = 1;
      if (cosine) {
        qdiv = normalize_into(q, qhat.data(), HS);
        q = qhat.data();
      }
      row_scores(sp, q, kv.k, kv.kstride, n, HS, row.s.data());
      row_forward(sp, n, T, row, /*with_deriv=*/true);
      const R* dot_ = dout + ((size_t)b * T + t) * C + h * HS;
      if (sp.post_layernorm) {
        // recompute o_pre = Σ w v, then back through the LayerNorm
        for (int i = 0; i < HS; i++) opre[i] = 0;
        for (int j = 0; j < n; j++)
          for (int i = 0; i < HS; i++) opre[i] += row.w[j] * base[j * C3 + 2 * C + h * HS + i];
        R rstd = layernorm_noaffine(opre.data(), HS);  // opre now holds ŷ
        R m1 = 0, m2 = 0;
        for (int i = 0; i < HS; i++) {
          m1 += dot_[i];
          m2 += dot_[i] * opre[i];
        }
        m1 /= HS;
        m2 /= HS;
        for (int i = 0; i < HS; i++) dopre[i] = rstd * (dot_[i] - m1 - opre[i] * m2);
        dot_ = dopre.data();
      }
      for (int j = 0; j < n; j++) {
        const R* v = base + j * C3 + 2 * C + h * HS;
        dw[j] = dot(dot_, v, HS);
        R* dvj = &dv[(size_t)j * HS];
        const R wj = row.w[j];
        for (int i = 0; i < HS; i++) dvj[i] += wj * dot_[i];
      }
      row_backward(sp, n, row, dw.data(), ds.data());
      const R scale = attn_row_scale<R>(sp, n, HS);
      for (int i = 0; i < HS; i++) dq[i] = 0;
      for (int j = 0; j < n; j++) {
        const R g = ds[j] * scale;
        if (g == R(0)) continue;
        const R* kj = kv.k + j * kv.kstride;
        R* dkj = &dk[(size_t)j * HS];
        for (int i = 0; i < HS; i++) {
          dq[i] += g * kj[i];
          dkj[i] += g * q[i];
        }
      }
      R* dqo = dbase + t * C3 + h * HS;
      if (cosine)
        normalize_backward(qhat.data(), qdiv, dq.data(), dqo, HS);
      else
        for (int i = 0; i < HS; i++) dqo[i] = dq[i];
    }
    for (int j = 0; j < T; j++) {
      R* dko = dbase + j * C3 + C + h * HS;
      R* dvo = dbase + j * C3 + 2 * C + h * HS;
      if (cosine)
        normalize_backward(&kv.khat[(size_t)j * HS], kv.kdiv[j], &dk[(size_t)j * HS], dko, HS);
      else
        for (int i = 0; i < HS; i++) dko[i] = dk[(size_t)j * HS + i];
      for (int i = 0; i < HS; i++) dvo[i] = dv[(size_t)j * HS + i];
    }
  }
}

#define LSSA_INSTANTIATE(R)                                                                         \
  template void attention_forward_cpu<R>(const AttnSpec&, R*, const R*, int, int, int, int, AttnStats*); \
  template void attention_backward_cpu<R>(const AttnSpec&, R*, const R*, const R*, int, int, int, int); \
  template void attention_row_weights<R>(const AttnSpec&, int, int, const R*, R*);
LSSA_INSTANTIATE(float)
LSSA_INSTANTIATE(double)
#undef LSSA_INSTANTIATE

}  // namespace lssa
