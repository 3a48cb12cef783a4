// fp64 finite-difference checks of attention_backward_cpu against attention_forward_cpu, for
// every registered variant (attn_registry()), every option that changes the math (re-weighting
// p ∈ {1, 2, 3, 15} on the l1 variants, sigmoid's bias modes, relu_seqlen's divisors) and
// several shapes (T = 1, odd T, T ≥ 6 so that rows n ≤ 3 and n ≥ 4 — the recentering and
// re-weighting offset boundary — are both present).
//
// Loss L = Σ out·R with R random, so dL/dout = R. For every element x of qkv (B, T, 3C):
//   central difference  fd = (L(x+h) − L(x−h)) / 2h,  h = 1e-6
// compared with the analytic dL/dx. Error budget in fp64 (|L| ≲ 30, |dL/dx| ≲ 10):
//   rounding   ε·|L|/h ≈ 1.1e-16·30/1e-6 ≈ 3e-9
//   truncation h²/6·|L'''| ≲ 1e-12·1e3 = 1e-9 (L''' grows like p³ under re-weighting p = 15)
// so |fd − dL/dx| ≤ 1e-7·(1 + |dL/dx|) is ~30× above the expected error (measured:
// ≤ 1.8e-8 over all cases, recentered_l1 with p = 15 the worst) while a wrong term in a
// gradient (an error of the size of the gradient itself, ≳ 1e-3) fails by orders of magnitude.
//
// Kinks (relu/relu6 at 0 and 6, |g| of the signed l1 variants at 0, relu(u) of re-weighting at
// 0, and the jump when a re-weighted row falls back to a): the inputs are random, so a kink can
// land within h of an evaluation point. Such an element is detected from function values only —
// the one-sided slopes (L(x+h) − L(x))/h and (L(x) − L(x−h))/h disagree by more than
// kKinkSlopeGap, while on smooth ground they differ by h·|L''| ≲ 1e-6·1e3 = 1e-3 — and excluded
// from the comparison. Detection never looks at the analytic gradient, so it cannot hide a wrong
// one; the test asserts that variants without kinks have no excluded element at all and that the
// others exclude at most 2% of the elements. The Z = 0 rows of the ReLU family are tested on
// inputs built for it (all scores of some rows ≤ 0), far from the kink.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>

#include "attention_test_util.h"

namespace lssa_test {
namespace {

using lssa::AttnMap;
using lssa::AttnNorm;
using lssa::AttnTransform;

constexpr double kStep = 1e-6;          // h of the central difference
constexpr double kRelTol = 1e-7;        // |fd − an| ≤ kRelTol·(1 + |an|), see the budget above
constexpr double kKinkSlopeGap = 5e-2;  // one-sided slopes further apart than this: a kink in [x−h, x+h]

// The variant's math has no kink anywhere (smooth φ, no |·| of a signed quantity, no relu(u)).
bool kink_free(const AttnSpec& s) {
  if (s.reweight_p > 0.f) return false;
  if (s.map == AttnMap::Relu || s.map == AttnMap::Relu2 || s.map == AttnMap::Relu6) return false;
  const bool signed_l1 = s.norm == AttnNorm::L1 &&
                         (s.map == AttnMap::Gelu || s.map == AttnMap::Mish || s.map == AttnMap::Identity ||
                          s.transform != AttnTransform::None);
  return !signed_l1;
}

struct GradCheckResult {
  double max_err = 0;      // max |fd − an| / (1 + |an|)
  double max_grad = 0;     // max |an|
  size_t checked = 0, kinks = 0, failures = 0;
  std::string first_failure;
};

GradCheckResult grad_check(const AttnSpec& spec, const Shape& s, std::vector<double> qkv, uint64_t seed) {
  std::vector<double> R = random_vec<double>(s.out_size(), seed ^ 0x5eed), out(s.out_size());
  std::vector<double> an(s.qkv_size());
  lssa::attention_backward_cpu<double>(spec, an.data(), R.data(), qkv.data(), s.B, s.T, s.NH, s.HS);
  const double L0 = attn_loss(spec, s, qkv, R, out);
  GradCheckResult r;
  for (size_t i = 0; i < qkv.size(); i++) {
    const double x = qkv[i];
    qkv[i] = x + kStep;
    const double Lp = attn_loss(spec, s, qkv, R, out);
    qkv[i] = x - kStep;
    const double Lm = attn_loss(spec, s, qkv, R, out);
    qkv[i] = x;
    if (std::fabs((Lp - L0) - (L0 - Lm)) / kStep > kKinkSlopeGap) {
      r.kinks++;
      continue;
    }
    const double fd = (Lp - Lm) / (2 * kStep);
    const double err = std::fabs(fd - an[i]) / (1 + std::fabs(an[i]));
    r.max_err = std::max(r.max_err, err);
    r.max_grad = std::max(r.max_grad, std::fabs(an[i]));
    r.checked++;
    if (!(err <= kRelTol)) {  // also catches NaN
      if (!r.failures)
        r.first_failure = "element " + std::to_string(i) + ": fd " + std::to_string(fd) + " vs analytic " +
                          std::to_string(an[i]);
      r.failures++;
    }
  }
  return r;
}

const std::vector<Shape>& shapes() {
  static const std::vector<Shape> v = {
      {1, 1, 1, 4},  // T = 1: a single row with a single key
      {2, 7, 2, 4},  // odd T ≥ 6: rows 1–3 and 4–7 (recentering / re-weighting offset boundary)
      {1, 10, 1, 8},
      {3, 5, 2, 2},  // odd T, tiny head
  };
  return v;
}

class AttnGradCheck : public ::testing::TestWithParam<AttnCase> {};

TEST_P(AttnGradCheck, MatchesCentralDifferencesInFp64) {
  const AttnCase& c = GetParam();
  const AttnSpec spec = c.spec();
  uint64_t seed = std::hash<std::string>{}(c.label) & 0xffffffu;
  double max_grad = 0;
  for (const Shape& s : shapes()) {
    SCOPED_TRACE(c.label + " " + s.label());
    std::vector<double> qkv = random_vec<double>(s.qkv_size(), seed + s.T);
    GradCheckResult r = grad_check(spec, s, qkv, seed + s.T);
    std::printf("[ gradchk ] %-28s %-16s checked %4zu kinks %2zu max rel err %.2e (max |grad| %.2e)\n",
                c.label.c_str(), s.label().c_str(), r.checked, r.kinks, r.max_err, r.max_grad);
    EXPECT_EQ(r.failures, 0u) << r.first_failure << " (max rel err " << r.max_err << ")";
    if (kink_free(spec))
      EXPECT_EQ(r.kinks, 0u) << "a smooth variant showed a kink: its forward is not differentiable";
    else
      EXPECT_LE(r.kinks * 50, qkv.size()) << "more than 2% of the elements sit at a kink";
    max_grad = std::max(max_grad, r.max_grad);
  }
  // (a single shape may legitimately have zero gradient: T = 1 of the ReLU family with q·k < 0)
  EXPECT_GT(max_grad, 1e-3) << "the loss does not depend on the inputs: the check proves nothing";
}

// Inputs where some rows of every head have all scores ≤ 0 (Z = 0 for relu(s)/Σ relu(s)):
// keys all point along +1 (entries 1 ± 0.1), queries of the rows in `dead` along −1, the others
// along +1. Scores are then ≤ −0.8·HS/√HS away from 0: no kink is anywhere near.
std::vector<double> dead_row_inputs(const Shape& s, const std::vector<int>& dead, uint64_t seed) {
  std::vector<double> qkv = random_vec<double>(s.qkv_size(), seed);
  for (int b = 0; b < s.B; b++)
    for (int h = 0; h < s.NH; h++)
      for (int t = 0; t < s.T; t++) {
        const bool is_dead = std::find(dead.begin(), dead.end(), t) != dead.end();
        for (int i = 0; i < s.HS; i++) {
          qkv[k_at(s, b, t, h, i)] = 1.0 + 0.1 * qkv[k_at(s, b, t, h, i)];
          qkv[q_at(s, b, t, h, i)] = (is_dead ? -1.0 : 1.0) * (1.0 + 0.1 * qkv[q_at(s, b, t, h, i)]);
        }
      }
  return qkv;
}

bool relu_family(const AttnSpec& s) {
  return s.map == AttnMap::Relu || s.map == AttnMap::Relu2 || s.map == AttnMap::Relu6;
}

TEST(AttnGradCheck, ReluFamilyZeroRowsOutputZeroAndPassNoGradient) {
  const Shape s{2, 7, 2, 4};
  const std::vector<int> dead = {0, 3, 6};  // row 1, the first re-weighting-offset row, the last row
  int tested = 0;
  for (const AttnCase& c : all_attn_cases()) {
    const AttnSpec spec = c.spec();
    if (!relu_family(spec)) continue;
    SCOPED_TRACE(c.label);
    tested++;
    std::vector<double> qkv = dead_row_inputs(s, dead, 99), out(s.out_size()), dqkv(s.qkv_size());
    std::vector<double> R = random_vec<double>(s.out_size(), 7);
    lssa::attention_forward_cpu<double>(spec, out.data(), qkv.data(), s.B, s.T, s.NH, s.HS);
    lssa::attention_backward_cpu<double>(spec, dqkv.data(), R.data(), qkv.data(), s.B, s.T, s.NH, s.HS);
    ASSERT_TRUE(all_finite(out));
    ASSERT_TRUE(all_finite(dqkv));
    const size_t C = (size_t)s.NH * s.HS;
    for (int b = 0; b < s.B; b++)
      for (int h = 0; h < s.NH; h++)
        for (int t : dead)
          for (int i = 0; i < s.HS; i++) {
            EXPECT_EQ(out[((size_t)b * s.T + t) * C + h * s.HS + i], 0.0) << "row " << t;
            EXPECT_EQ(dqkv[q_at(s, b, t, h, i)], 0.0) << "row " << t;
          }
    // key 0 is seen by rows 0 (dead), 1, 2, …: alive rows must pass gradient to it, so the
    // zeros above are the Z = 0 rule, not a backward that does nothing.
    double alive = 0;
    for (int i = 0; i < s.HS; i++) alive += std::fabs(dqkv[v_at(s, 0, 0, 0, i)]);
    EXPECT_GT(alive, 0.0);
    GradCheckResult r = grad_check(spec, s, qkv, 7);
    EXPECT_EQ(r.failures, 0u) << r.first_failure;
    EXPECT_LE(r.kinks * 50, qkv.size());
  }
  EXPECT_GE(tested, 6);  // relu_l1, relu2_l1, relu6_l1, relu_seqlen, relu_shen + options / p
}

std::vector<AttnCase> cases() { return all_attn_cases(); }

INSTANTIATE_TEST_SUITE_P(EveryVariant, AttnGradCheck, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<AttnCase>& i) { return i.param.label; });

}  // namespace
}  // namespace lssa_test
