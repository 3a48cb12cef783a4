// The attention registry (`--attn NAME`): every name resolves, the names DESIGN.md §4.1 promises
// exist (configs and scripts rely on them), aliases point at real variants, and every bad
// request — unknown name, bad --sigmoid-bias, bad --relu-divisor, bad p, re-weighting on a
// variant without l1-normalised rows — is an lssa::Error with one line.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "attention/registry.h"
#include "runtime/error.h"

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
  // sigmoid_rowbias_l1
  EXPECT_EQ(allowed, 14);
  EXPECT_EQ(refused, (int)lssa::attn_registry().size() - 14);
  for (float bad : {0.5f, -1.f, std::nanf(""), INFINITY}) {
    AttnOptions o;
    o.reweight_p = bad;
    expect_one_line_error([&] { lssa::attn_resolve("lssa", o, 1024); }, "--reweight-p");
  }
}

}  // namespace
