// The attention registry (`--attn NAME`): every name resolves, the names DESIGN.md §4.1 promises
// exist (configs and scripts rely on them), aliases point at real variants, and every bad
// request — unknown name, bad --sigmoid-bias, bad --relu-divisor, bad p, re-weighting on a
// variant without l1-normalised rows — is an lssa::Error with one line.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <string>

#include "attention/attention.h"
#include "attention/attention_cpu.h"
#include "attention/cuda/flash_plan.h"
#include "attention/registry.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace {

using lssa::AttnOptions;

// Throws lssa::Error whose message is a single non-empty line mentioning `needle`.
template <typename F>
void expect_one_line_error(F&& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error thrown (expected one mentioning '" << needle << "')";
  } catch (const lssa::Error& e) {
    const std::string msg = e.what();
    EXPECT_FALSE(msg.empty());
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  }
}

TEST(AttnRegistry, EveryNameResolvesAndIsUnique) {
  std::set<std::string> seen;
  for (const auto& v : lssa::attn_registry()) {
    EXPECT_TRUE(seen.insert(v.name).second) << "duplicate " << v.name;
    EXPECT_NO_THROW(lssa::attn_resolve(v.name, AttnOptions{}, 1024)) << v.name;
    const std::string canon = lssa::attn_canonical_name(v.name);
    const lssa::AttnVariantInfo* c = lssa::attn_find(canon);
    ASSERT_NE(c, nullptr) << v.name << " -> " << canon;
    EXPECT_EQ(c->alias_of, nullptr) << "alias of an alias: " << v.name;
    EXPECT_NE(std::string(v.formula), "");
    EXPECT_NE(std::string(v.source), "");
    EXPECT_NE(lssa::attn_list_text().find(v.name), std::string::npos) << "--attn list misses " << v.name;
  }
}

TEST(AttnRegistry, HasEveryNameOfTheDesign) {
  // DESIGN.md §4.1 and issue 3, verbatim: configs/ and scripts/ use these names.
  for (const char* n : {"softmax", "exp_l1", "softplus_l1", "sigmoid_l1", "relu_l1", "relu2_l1", "relu6_l1", "gelu_l1",
                        "mish_l1", "lssa", "lssar", "sigmoid", "sigmoid_rowbias", "sigmoid_rowbias_l1", "relu_seqlen",
                        "relu_shen", "inverse", "recentered", "recentered_l1", "linear", "exp_only", "l1_only"})
    EXPECT_NE(lssa::attn_find(n), nullptr) << n;
  EXPECT_EQ(lssa::attn_canonical_name("exp_l1"), "softmax");
  EXPECT_EQ(lssa::attn_canonical_name("lssar"), "lssa");
}

TEST(AttnRegistry, UnknownNameIsOneLineError) {
  expect_one_line_error([] { lssa::attn_resolve("softmaxx", AttnOptions{}, 1024); }, "softmaxx");
  expect_one_line_error([] { lssa::attn_canonical_name("LSSA"); }, "LSSA");  // names are case-sensitive
  expect_one_line_error([] { lssa::attn_resolve("", AttnOptions{}, 1024); }, "unknown attention variant");
}

TEST(AttnRegistry, SigmoidBiasModes) {
  AttnOptions o;
  EXPECT_FLOAT_EQ(lssa::attn_resolve("sigmoid", o, 1024).bias_value, -std::log(1024.f));  // train
  o.sigmoid_bias = "row";
  EXPECT_EQ(lssa::attn_resolve("sigmoid", o, 1024).bias, lssa::AttnBias::RowLog);
  o.sigmoid_bias = "-3.5";
  EXPECT_EQ(lssa::attn_resolve("sigmoid", o, 1024).bias_value, -3.5f);
  for (const char* bad : {"", "abc", "1.5x", "nan", "inf", "1e999", "train "}) {
    o.sigmoid_bias = bad;
    expect_one_line_error([&] { lssa::attn_resolve("sigmoid", o, 1024); }, "--sigmoid-bias");
  }
  o.sigmoid_bias = "train";
  expect_one_line_error([&] { lssa::attn_resolve("sigmoid", o, 0); }, "training length");
}

// The baselines' options (not in the paper): ssmax's s, softmax_qknorm's τ, logn_softmax's T_train.
TEST(AttnRegistry, BaselineScaleOptions) {
  AttnOptions o;
  EXPECT_EQ(lssa::attn_resolve("ssmax", o, 1024).scale_value, 1.0);  // default s = 1
  EXPECT_DOUBLE_EQ(lssa::attn_resolve("softmax_qknorm", o, 1024).scale_value, std::log2(1024.0 * 1023.0));
  EXPECT_DOUBLE_EQ(lssa::attn_resolve("softmax_qknorm", o, 128).scale_value, std::log2(128.0 * 127.0));
  EXPECT_EQ(lssa::attn_resolve("logn_softmax", o, 1024).scale_value, 1024.0);
  o.ssmax_scale = 0.43f;
  o.qknorm_scale = "12.5";
  EXPECT_EQ(lssa::attn_resolve("ssmax", o, 1024).scale_value, (double)0.43f);
  EXPECT_EQ(lssa::attn_resolve("softmax_qknorm", o, 1024).scale_value, 12.5);
  for (float bad : {0.f, -1.f, std::nanf(""), INFINITY}) {
    AttnOptions b;
    b.ssmax_scale = bad;
    expect_one_line_error([&] { lssa::attn_resolve("ssmax", b, 1024); }, "--ssmax-scale");
    expect_one_line_error([&] { lssa::attn_resolve("softmax", b, 1024); }, "--ssmax-scale");  // checked for every variant
  }
  for (const char* bad : {"", "abc", "0", "-2", "nan", "inf", "1e999", "train "}) {
    AttnOptions b;
    b.qknorm_scale = bad;
    expect_one_line_error([&] { lssa::attn_resolve("softmax_qknorm", b, 1024); }, "--qknorm-scale");
  }
  expect_one_line_error([&] { lssa::attn_resolve("softmax_qknorm", AttnOptions{}, 1); }, "training length");
  expect_one_line_error([&] { lssa::attn_resolve("logn_softmax", AttnOptions{}, 1); }, "training length");
  // every variant ignores the scales it does not read
  for (const char* n : {"softmax", "lssa", "sigmoid"}) {
    EXPECT_EQ(lssa::attn_resolve(n, o, 1024).scale_value, 0.0) << n;
  }
}

TEST(AttnRegistry, ReluDivisorModes) {
  AttnOptions o;
  EXPECT_EQ(lssa::attn_resolve("relu_seqlen", o, 1024).norm, lssa::AttnNorm::DivideSeq);
  o.relu_divisor = "row";
  EXPECT_EQ(lssa::attn_resolve("relu_seqlen", o, 1024).norm, lssa::AttnNorm::DivideRow);
  for (const char* bad : {"", "T", "rows", "n"}) {
    o.relu_divisor = bad;
    expect_one_line_error([&] { lssa::attn_resolve("relu_seqlen", o, 1024); }, "--relu-divisor");
  }
}

TEST(AttnRegistry, ReweightingNeedsL1RowsAndAValidP) {
  int refused = 0, allowed = 0;
  for (const auto& v : lssa::attn_registry()) {
    AttnOptions o;
    o.reweight_p = 3.f;
    const bool l1 = lssa::attn_rows_l1(lssa::attn_resolve(v.name, AttnOptions{}, 1024));
    if (l1) {
      EXPECT_EQ(lssa::attn_resolve(v.name, o, 1024).reweight_p, 3.f) << v.name;
      allowed++;
    } else {
      expect_one_line_error([&] { lssa::attn_resolve(v.name, o, 1024); }, "l1-normalised rows");
      refused++;
    }
  }
  // DESIGN §4.2: softmax (+ exp_l1), the 7 φ_l1, recentered_l1, l1_only, lssa (+ lssar),
  // sigmoid_rowbias_l1 (variants added later follow attn_rows_l1, checked above)
  for (const char* n : {"softmax", "exp_l1", "softplus_l1", "sigmoid_l1", "relu_l1", "relu2_l1", "relu6_l1", "gelu_l1",
                        "mish_l1", "recentered_l1", "l1_only", "lssa", "lssar", "sigmoid_rowbias_l1"})
    EXPECT_TRUE(lssa::attn_variant_reweightable(*lssa::attn_find(n))) << n;
  EXPECT_GE(allowed, 14);
  EXPECT_EQ(refused + allowed, (int)lssa::attn_registry().size());
  for (float bad : {0.5f, -1.f, std::nanf(""), INFINITY}) {
    AttnOptions o;
    o.reweight_p = bad;
    expect_one_line_error([&] { lssa::attn_resolve("lssa", o, 1024); }, "--reweight-p");
  }
}

// The registry owns every fact about a variant; this walks all of it and proves that the facts
// derived from it (aliases, default p, re-weightable, signed, the fused route) agree with each
// other and with the math itself.
TEST(AttnRegistry, AliasesAndDefaultP) {
  for (const auto& v : lssa::attn_registry()) {
    const lssa::AttnChoice c = lssa::attn_choose(v.name, false, 0.f);
    EXPECT_EQ(c.reweight_p, v.default_p) << v.name;
    EXPECT_EQ(lssa::attn_choose(v.name, true, 3.f).reweight_p, 3.f) << v.name;
    EXPECT_EQ(c.name, lssa::attn_canonical_name(v.name));
    if (v.default_p > 0.f) {
      EXPECT_TRUE(lssa::attn_variant_reweightable(v)) << v.name << ": default p on non-l1 rows";
    }
    if (v.alias_of) {
      const lssa::AttnVariantInfo* t = lssa::attn_find(v.alias_of);
      ASSERT_NE(t, nullptr) << v.name;
      // an alias runs its target's math; only the default p may differ
      const lssa::AttnSpec a = lssa::attn_resolve(v.name, AttnOptions{}, 1024);
      AttnOptions o;
      o.reweight_p = a.reweight_p;
      const lssa::AttnSpec b = lssa::attn_resolve(v.alias_of, o, 1024);
      EXPECT_TRUE(a.score == b.score && a.map == b.map && a.softmax == b.softmax && a.transform == b.transform &&
                  a.norm == b.norm && a.bias == b.bias && a.post_layernorm == b.post_layernorm && a.reweight_p == b.reweight_p)
          << v.name << " vs " << v.alias_of;
    }
  }
  // the evaluation bug of issue 11: the canonical name must carry lssar's p
  EXPECT_EQ(lssa::attn_choose("lssar", false, 0.f).name, "lssa");
  EXPECT_EQ(lssa::attn_choose("lssar", false, 0.f).reweight_p, 15.f);
  EXPECT_EQ(lssa::attn_choose("lssar", true, 0.f).reweight_p, 0.f);  // an explicit p wins, 0 too
  expect_one_line_error([] { lssa::attn_choose("nosuch", false, 0.f); }, "nosuch");
}

// attn_map_signed (what the fused kernels' |φ| and sign(φ) follow) against φ itself.
TEST(AttnRegistry, MapSignednessMatchesTheMath) {
  for (int m = 0; m < lssa::kAttnMapCount; m++) {
    const lssa::AttnMap map = static_cast<lssa::AttnMap>(m);
    bool negative = false;
    for (double x = -8.0; x <= 8.0; x += 1.0 / 64) negative |= lssa::attn_map(map, x) < 0.0;
    EXPECT_EQ(lssa::attn_map_signed(map), negative) << "map " << m;
  }
}

// attn_variant_signed and attn_variant_reweightable against the weights the CPU reference computes.
TEST(AttnRegistry, VariantFlagsMatchTheWeights) {
  const uint64_t seed = 20261202;
  std::printf("seed %llu\n", (unsigned long long)seed);
  lssa::Rng rng(seed);
  for (const auto& v : lssa::attn_registry()) {
    const lssa::AttnSpec sp = lssa::attn_resolve(v.name, AttnOptions{}, 64);
    if (sp.reweight_p > 0.f) continue;  // its alias target is checked at p = 0
    bool negative = false, rows_sum_to_one = true;
    for (int trial = 0; trial < 50; trial++) {
      const int n = 4 + trial % 13, T = 16;
      std::vector<double> s(n), w(n);
      for (double& x : s) x = 8.0 * rng.uniform() - 4.0;
      lssa::attention_row_weights(sp, n, T, s.data(), w.data());
      double l1 = 0;
      for (double x : w) negative |= x < 0.0, l1 += std::fabs(x);
      rows_sum_to_one &= l1 == 0.0 || std::fabs(l1 - 1.0) < 1e-12;  // Z = 0 rows output 0
    }
    EXPECT_EQ(lssa::attn_variant_signed(v), negative) << v.name;
    if (lssa::attn_variant_reweightable(v)) {
      EXPECT_TRUE(rows_sum_to_one) << v.name;
    }
  }
}

// The fused router is derived from the spec: every variant routes as its flags say, and the kernel
// instantiations are exactly the (family, φ) pairs the registry needs.
TEST(AttnRegistry, FusedRoutesAgreeWithTheFlags) {
  bool needed[3][lssa::kAttnMapCount] = {};
  for (const auto& v : lssa::attn_registry()) {
    for (float p : {0.f, 3.f}) {
      if (p > 0.f && !lssa::attn_variant_reweightable(v)) continue;
      AttnOptions o;
      o.reweight_p = p;
      const lssa::AttnSpec sp = lssa::attn_resolve(v.name, o, 1024);
      const lssa::FlashRoute r = lssa::flash_route(sp, 64);
      const bool structural =
          sp.transform == lssa::AttnTransform::None && !sp.post_layernorm && lssa::flash_scale_fused(sp.scale);
      EXPECT_EQ(r.impl == lssa::AttnImpl::Fused, structural) << v.name << " p=" << p << ": " << r.reason;
      EXPECT_EQ(lssa::flash_route(sp, 32).impl, lssa::AttnImpl::Reference) << v.name;  // no HS=32 kernel
      if (r.impl != lssa::AttnImpl::Fused) {
        EXPECT_FALSE(r.reason.empty()) << v.name;
        continue;
      }
      EXPECT_EQ(r.reweight, sp.reweight_p > 0.f) << v.name;
      EXPECT_EQ(r.kind == lssa::FlashKind::Unnormalised, !lssa::attn_rows_l1(sp)) << v.name;
      EXPECT_EQ(r.kind == lssa::FlashKind::Softmax, sp.softmax || (sp.map == lssa::AttnMap::Exp && lssa::attn_rows_l1(sp)))
          << v.name;
      if (r.kind == lssa::FlashKind::L1) {
        EXPECT_EQ(r.map, sp.map) << v.name;
      }
      needed[(int)r.kind][(int)r.map] = true;
    }
  }
  for (int k = 0; k < 3; k++)
    for (int m = 0; m < lssa::kAttnMapCount; m++)
      EXPECT_EQ(lssa::flash_map_instantiated(static_cast<lssa::FlashKind>(k), static_cast<lssa::AttnMap>(m)), needed[k][m])
          << "family " << k << " map " << m;
}

// The fused kernels compile attn_row_scale with only kFlashFusedScales' branches: for every
// registered variant whose scale is fused, that restricted function must give the full one's
// value bit for bit on every row (n up to past T_train, HS 64 and 128); and the paper's two scales
// stay fused (1/√HS and LSSA's c_i), so no variant of the paper leaves the fused kernels.
TEST(AttnRegistry, FusedRowScaleIsTheSharedFormula) {
  EXPECT_TRUE(lssa::flash_scale_fused(lssa::AttnScale::InvSqrtHS));
  EXPECT_TRUE(lssa::flash_scale_fused(lssa::AttnScale::LssaLog));
  int checked = 0;
  for (const auto& v : lssa::attn_registry()) {
    const lssa::AttnSpec sp = lssa::attn_resolve(v.name, AttnOptions{}, 128);
    if (!lssa::flash_scale_fused(sp.scale)) continue;
    for (int HS : {64, 128})
      for (int n = 1; n <= 4096; n++) {
        const float full = lssa::attn_row_scale<float>(sp, n, HS);
        const float fused = lssa::attn_row_scale<float, lssa::kFlashFusedScales>(sp, n, HS);
        ASSERT_EQ(std::memcmp(&full, &fused, sizeof(float)), 0) << v.name << " n=" << n << " HS=" << HS;
        checked++;
      }
  }
  EXPECT_GT(checked, 0);
}

// The selection function: --attn-impl on the CPU backend (one implementation, a reference).
TEST(AttnSelect, CpuBackend) {
  const lssa::AttnSpec sp = lssa::attn_resolve("lssa", AttnOptions{}, 64);
  const std::vector<const lssa::Attention*> cpu = {&lssa::attention_cpu_reference()};
  const lssa::AttnShape shape{0, 64, 2, 32};
  for (auto c : {lssa::AttnImplChoice::Auto, lssa::AttnImplChoice::Reference})
    EXPECT_STREQ(lssa::attention_select(c, cpu, sp, shape, lssa::AttnDType::F32).name(), "cpu reference");
  expect_one_line_error([&] { lssa::attention_select(lssa::AttnImplChoice::Fused, cpu, sp, shape, lssa::AttnDType::F32); },
                        "--attn-impl fused");
  expect_one_line_error([&] { lssa::attention_select(lssa::AttnImplChoice::Auto, cpu, sp, shape, lssa::AttnDType::BF16); },
                        "cpu reference");
  EXPECT_EQ(lssa::attn_impl_choice_from_name("auto"), lssa::AttnImplChoice::Auto);
  EXPECT_EQ(lssa::attn_impl_choice_from_name("fused"), lssa::AttnImplChoice::Fused);
  EXPECT_EQ(lssa::attn_impl_choice_from_name("reference"), lssa::AttnImplChoice::Reference);
  expect_one_line_error([] { lssa::attn_impl_choice_from_name("flash"); }, "--attn-impl");
}

}  // namespace
