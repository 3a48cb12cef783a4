// Shared helpers of the attention tests: the list of cases (every registered variant × every
// option that changes its math), random inputs in the llm.c qkv layout, and the scalar loss
// L = Σ out·R used by the finite-difference checks.
//
// Cases are generated from attn_registry(), never from a hand list, so a variant added to the
// registry is tested automatically.
#pragma once

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "attention/attention_cpu.h"
#include "attention/registry.h"
#include "runtime/rng.h"

namespace lssa_test {

using lssa::AttnOptions;
using lssa::AttnSpec;

constexpr int kTestTTrain = 16;  // T_train given to attn_resolve (sigmoid's b = −ln T_train)

// One resolved variant: the registry name, the options and a gtest-safe label.
struct AttnCase {
  std::string name;   // `--attn` name
  AttnOptions opt;    // sigmoid bias, relu divisor, re-weighting p, the baselines' scales
  std::string label;  // e.g. "relu_seqlen_div_row", "lssa_p15"
  int t_train = kTestTTrain;  // T_train given to attn_resolve
  AttnSpec spec() const { return lssa::attn_resolve(name, opt, t_train); }
};

// gtest prints parameters with PrintTo; the label is the readable form.
inline void PrintTo(const AttnCase& c, std::ostream* os) { *os << c.label; }

inline bool allows_reweighting(const std::string& name) {
  AttnOptions o;
  return lssa::attn_rows_l1(lssa::attn_resolve(name, o, kTestTTrain));
}

// Every variant with its default options, plus: re-weighting p ∈ ps on every variant whose rows
// are l1-normalised; sigmoid's three bias modes; relu_seqlen's two divisors; the baselines' score
// scales: ssmax with another s, softmax_qknorm with a numeric τ, and logn_softmax with T_train = 4
// (so that the test shapes, T ≤ 10, have rows beyond T_train, where its factor ln n/ln T_train acts).
inline std::vector<AttnCase> all_attn_cases(const std::vector<float>& ps = {1.f, 2.f, 3.f, 15.f}) {
  std::vector<AttnCase> cases;
  for (const auto& v : lssa::attn_registry()) {
    const std::string n = v.name;
    AttnCase base{n, AttnOptions{}, n};
    cases.push_back(base);
    AttnSpec s = base.spec();
    if (s.bias == lssa::AttnBias::Constant) {  // `sigmoid`: b = −ln T_train (default), −ln n_i, a number
      cases.push_back({n, AttnOptions{"row", "seq", 0.f}, n + "_bias_row"});
      cases.push_back({n, AttnOptions{"-2.5", "seq", 0.f}, n + "_bias_number"});
    }
    if (s.norm == lssa::AttnNorm::DivideSeq)
      cases.push_back({n, AttnOptions{"train", "row", 0.f}, n + "_div_row"});
    if (s.scale == lssa::AttnScale::SsMax) {
      AttnOptions o;
      o.ssmax_scale = 0.4f;
      cases.push_back({n, o, n + "_s0p4"});
    }
    if (s.scale == lssa::AttnScale::Constant) {
      AttnOptions o;
      o.qknorm_scale = "2.5";
      cases.push_back({n, o, n + "_tau2p5"});
    }
    if (s.scale == lssa::AttnScale::LogN) cases.push_back({n, AttnOptions{}, n + "_ttrain4", 4});
    if (n != "lssar" && lssa::attn_rows_l1(s))
      for (float p : ps)
        cases.push_back({n, AttnOptions{"train", "seq", p}, n + "_p" + std::to_string((int)p)});
  }
  return cases;
}

struct Shape {
  int B, T, NH, HS;
  std::string label() const {
    return "B" + std::to_string(B) + "T" + std::to_string(T) + "NH" + std::to_string(NH) + "HS" + std::to_string(HS);
  }
  size_t qkv_size() const { return (size_t)B * T * 3 * NH * HS; }
  size_t out_size() const { return (size_t)B * T * NH * HS; }
};

// Normal(0, scale²) entries, deterministic across platforms (lssa::Rng).
template <typename R>
std::vector<R> random_vec(size_t n, uint64_t seed, double scale = 1.0) {
  lssa::Rng rng(seed);
  std::vector<R> v(n);
  for (auto& x : v) x = R(rng.normal() * scale);
  return v;
}

// Element offsets of q, k, v of position t, head h, component i in the (B, T, 3C) layout.
inline size_t q_at(const Shape& s, int b, int t, int h, int i) {
  const size_t C = (size_t)s.NH * s.HS;
  return ((size_t)b * s.T + t) * 3 * C + (size_t)h * s.HS + i;
}
inline size_t k_at(const Shape& s, int b, int t, int h, int i) { return q_at(s, b, t, h, i) + (size_t)s.NH * s.HS; }
inline size_t v_at(const Shape& s, int b, int t, int h, int i) { return q_at(s, b, t, h, i) + 2 * (size_t)s.NH * s.HS; }

// L = Σ out·R (R random): its gradient w.r.t. out is R, so backward(dout = R) gives dL/dqkv.
inline double attn_loss(const AttnSpec& spec, const Shape& s, const std::vector<double>& qkv,
                        const std::vector<double>& R, std::vector<double>& out_scratch) {
  lssa::attention_forward_cpu<double>(spec, out_scratch.data(), qkv.data(), s.B, s.T, s.NH, s.HS);
  double L = 0;
  for (size_t i = 0; i < R.size(); i++) L += out_scratch[i] * R[i];
  return L;
}

// Absolute floor of the dq and dk tolerances where the true gradient can be 0.
//
// The score gradient is a difference of two terms, dS_ij = w'_ij·(dP_ij − sgn_ij·D_i) with
// dP_ij = dO_i·v_j and D_i = dO_i·O_i (w' = p_ij for softmax rows, |φ'(x_ij)|/Z_i for l1 rows,
// |φ'|/L for fixed divisors; sgn = sign(φ) for signed maps). Where they cancel exactly — T = 1:
// one key with weight 1, O_i = v_i — the true dq, dk are 0 (or fp64 noise), and a relative error
// is meaningless, while an implementation that rounds O or P to bf16, or sums in fp32, leaves a
// residue of order u·(|dO_i|·|v_j| + |dO_i|·|O_i|) per element (|x|·|y| = Σ_d |x_d||y_d|: the
// condition number of the two dot products). Carried through dq_i = c_i Σ_j dS_ij k_j and
// dk_j = Σ_i c_i dS_ij q_i, that is the magnitude returned here, per element of (B, T, C):
//   mag_dq_i = c_i Σ_j |w'_ij| (|dO_i|·|v_j| + |dO_i|·|O_i|) |k_j|     (|k_j| elementwise)
//   mag_dk_j = Σ_i c_i |w'_ij| (|dO_i|·|v_j| + |dO_i|·|O_i|) |q_i|
// (LSSA: k̂, q̂ and the 1/‖q_i‖, 1/‖k_j‖ of the normalisation's chain rule). A test's floor is
// c·u·‖mag‖ with u the implementation's unit roundoff (bf16 2^-8 for the fused kernels' P and
// O, fp32 2^-24 for the reference path). O(T²·HS) per head: computed for T ≤ max_T only (longer
// rows never cancel to 0; their relative tolerance applies), else both vectors are empty.
struct GradTermMagnitude {
  std::vector<double> dq, dk;  // (B, T, C) each, or empty
};
inline GradTermMagnitude grad_term_magnitude(const AttnSpec& spec, const double* qkv, const double* dout,
                                             const double* out, int B, int T, int NH, int HS, int max_T = 256) {
  GradTermMagnitude m;
  if (T > max_T) return m;
  const size_t C = (size_t)NH * HS, C3 = 3 * C;
  m.dq.assign((size_t)B * T * C, 0.0);
  m.dk.assign((size_t)B * T * C, 0.0);
  const bool cosine = spec.score == lssa::AttnScore::Cosine;
  std::vector<double> qn(T), kn(T), x(T), w(T);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      auto q = [&](int t) { return qkv + ((size_t)b * T + t) * C3 + (size_t)h * HS; };
      auto k = [&](int t) { return q(t) + C; };
      auto v = [&](int t) { return q(t) + 2 * C; };
      auto o = [&](int t) { return out + ((size_t)b * T + t) * C + (size_t)h * HS; };
      auto g = [&](int t) { return dout + ((size_t)b * T + t) * C + (size_t)h * HS; };
      for (int t = 0; t < T; t++) {
        double a = 0, c = 0;
        for (int d = 0; d < HS; d++) a += q(t)[d] * q(t)[d], c += k(t)[d] * k(t)[d];
        qn[t] = cosine ? std::max(std::sqrt(a), lssa::kNormalizeEps) : 1.0;
        kn[t] = cosine ? std::max(std::sqrt(c), lssa::kNormalizeEps) : 1.0;
      }
      for (int i = 0; i < T; i++) {
        const int n = i + 1;
        const double sc = lssa::attn_row_scale<double>(spec, n, HS), bias = lssa::attn_row_bias<double>(spec, n);
        double mx = -INFINITY, Z = 0;
        for (int j = 0; j <= i; j++) {
          double dot = 0;
          for (int d = 0; d < HS; d++) dot += q(i)[d] * k(j)[d];
          x[j] = sc * dot / (qn[i] * kn[j]) + bias;
          mx = std::max(mx, x[j]);
        }
        for (int j = 0; j <= i; j++) {
          if (spec.softmax) {
            w[j] = std::exp(x[j] - mx);
            Z += w[j];
          } else {
            w[j] = std::fabs(lssa::attn_map_deriv<double>(spec.map, x[j]));
            Z += std::fabs(lssa::attn_map<double>(spec.map, x[j]));
          }
        }
        double div = 1;  // what w' is divided by
        if (spec.softmax) div = Z;
        else if (spec.norm == lssa::AttnNorm::L1) div = Z;
        else div = lssa::attn_fixed_divisor<double>(spec, n, T);
        if (!(div > 0)) continue;  // Z = 0 rows pass no gradient
        double gO = 0;
        for (int d = 0; d < HS; d++) gO += std::fabs(g(i)[d] * o(i)[d]);
        for (int j = 0; j <= i; j++) {
          double gv = 0;
          for (int d = 0; d < HS; d++) gv += std::fabs(g(i)[d] * v(j)[d]);
          const double t = std::fabs(sc) * w[j] / div * (gv + gO);
          double* mq = &m.dq[((size_t)b * T + i) * C + (size_t)h * HS];
          double* mk = &m.dk[((size_t)b * T + j) * C + (size_t)h * HS];
          for (int d = 0; d < HS; d++) {
            mq[d] += t * std::fabs(k(j)[d]) / (kn[j] * qn[i]);
            mk[d] += t * std::fabs(q(i)[d]) / (qn[i] * kn[j]);
          }
        }
      }
    }
  return m;
}

inline double l2_norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

template <typename R>
bool all_finite(const std::vector<R>& v) {
  for (R x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace lssa_test
