// Shared helpers of the attention tests: the list of cases (every registered variant × every
// option that changes its math), random inputs in the llm.c qkv layout, and the scalar loss
// L = Σ out·R used by the finite-difference checks.
//
// Cases are generated from attn_registry(), never from a hand list, so a variant added to the
// registry is tested automatically.
#pragma once

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
  AttnOptions opt;    // sigmoid bias, relu divisor, re-weighting p
  std::string label;  // e.g. "relu_seqlen_div_row", "lssa_p15"
  AttnSpec spec() const { return lssa::attn_resolve(name, opt, kTestTTrain); }
};

// gtest prints parameters with PrintTo; the label is the readable form.
inline void PrintTo(const AttnCase& c, std::ostream* os) { *os << c.label; }

inline bool allows_reweighting(const std::string& name) {
  AttnOptions o;
  return lssa::attn_rows_l1(lssa::attn_resolve(name, o, kTestTTrain));
}

// Every variant with its default options, plus: re-weighting p ∈ ps on every variant whose rows
// are l1-normalised; sigmoid's three bias modes; relu_seqlen's two divisors.
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

template <typename R>
bool all_finite(const std::vector<R>& v) {
  for (R x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace lssa_test
