// Forward-only evaluation on the CPU (ModelUse::Evaluate, model/model.h): one layer's
// activations reused, logits and loss in chunks of kEvalLogitRows positions, and refusing what
// needs training state.
//
// Same numbers as a training model's forward: the layers are the same calls on the same data, so
// everything up to the final LayerNorm is bit-identical; the logits are bit-identical too when
// B·T ≤ kEvalLogitRows (one chunk: the very same sgemm calls — every evaluation the tests and the
// paper configs ran so far). Beyond one chunk the classifier's sgemm is called on other row
// blocks, and OpenBLAS's kernels for other block shapes may sum each logit's C products in
// another order, so a logit can move by the bound of a C-term fp32 dot product,
//   |Δz_iv| ≤ 2·C·u·Σ_k |x_ik w_vk| ≤ 2·C·u·‖x_i‖·‖w_v‖,   u = 2^-24, ‖x_i‖ ≤ √C
// (x = LayerNorm output with the initial unit gain and zero bias), and a per-position loss
// (log-sum-exp minus one logit, 1-Lipschitz in each, max-norm) by at most twice that.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "model/model.h"
#include "runtime/error.h"
#include "runtime/rng.h"
#include "test/test_scale.h"

using namespace lssa;

namespace {

GPT2Config tiny(const char* attn) {
  GPT2Config c;
  EXPECT_TRUE(gpt2_preset("tiny", c));
  c.V = 96;
  c.Vp = padded_vocab(c.V);
  c.attn = attn;
  return c;
}

// N = B·T = 2·1300 positions: three chunks of logits, the last one partial; then one chunk.
// Under LSSA_TEST_REDUCED=1 (the sanitizer build, test/test_scale.h) the same N as 8·325, and the
// one-chunk forward 2·350 instead of 1·700: the same chunks at a quarter of the attention's cost.
TEST(ForwardOnly, LossesAreBitIdenticalToTheTrainingForward) {
  for (const char* attn : {"softmax", "lssa"}) {
    const GPT2Config c = tiny(attn);
    const int B = lssa_test::full_or_reduced(2, 8), T = lssa_test::full_or_reduced(1300, 325), N = B * T;
    const uint64_t seed = 20261202;
    std::printf("seed %llu (%s)\n", (unsigned long long)seed, attn);
    Rng rng(seed);
    std::vector<int> x(N), y(N);
    for (int i = 0; i < N; i++) x[i] = (int)(rng.uniform() * c.V), y[i] = (int)(rng.uniform() * c.V);
    const std::vector<float> params = gpt2_init_params(c, seed);
    auto train = make_cpu_model(c, ModelUse::Train), eval = make_cpu_model(c, ModelUse::Evaluate);
    train->set_params(params);
    eval->set_params(params);
    // the bound above, from the classifier weights (the tied wte rows)
    const size_t wte = param_offsets(c).wte;
    double wmax = 0;
    for (int v = 0; v < c.V; v++) {
      double n2 = 0;
      for (int k = 0; k < c.C; k++) n2 += (double)params[wte + (size_t)v * c.C + k] * params[wte + (size_t)v * c.C + k];
      wmax = std::max(wmax, std::sqrt(n2));
    }
    const double tol = 2.0 * 2.0 * c.C * std::ldexp(1.0, -24) * std::sqrt((double)c.C) * wmax;
    const double lt = train->forward(x.data(), y.data(), B, T, RopeScaling::Ntk);
    const double le = eval->forward(x.data(), y.data(), B, T, RopeScaling::Ntk);
    EXPECT_LE(std::fabs(lt - le), tol) << attn << ": " << lt << " vs " << le;
    const std::vector<float> a = train->losses(), b = eval->losses();
    ASSERT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size(); i++) worst = std::max(worst, (double)std::fabs(a[i] - b[i]));
    EXPECT_LE(worst, tol) << attn << ": per-position losses";
    std::printf("%s, B·T = %d (3 chunks): max |Δloss| %.3g, bound %.3g\n", attn, N, worst, tol);
    // one chunk (B·T ≤ kEvalLogitRows): the same bits, and the buffers are reused across sizes
    const int B2 = lssa_test::full_or_reduced(1, 2), T2 = 700 / B2;
    const double lt2 = train->forward(x.data(), y.data(), B2, T2, RopeScaling::Ntk);
    const double le2 = eval->forward(x.data(), y.data(), B2, T2, RopeScaling::Ntk);
    EXPECT_EQ(std::memcmp(&lt2, &le2, sizeof lt2), 0) << attn << ": " << lt2 << " vs " << le2;
    const std::vector<float> a2 = train->losses(), b2 = eval->losses();
    EXPECT_EQ(std::memcmp(a2.data(), b2.data(), a2.size() * sizeof(float)), 0) << attn << ": one chunk";
  }
}

TEST(ForwardOnly, RefusesTrainingAndLogits) {
  const GPT2Config c = tiny("softmax");
  auto m = make_cpu_model(c, ModelUse::Evaluate);
  EXPECT_EQ(m->use(), ModelUse::Evaluate);
  m->set_params(gpt2_init_params(c, 1));
  std::vector<int> x(16, 3), y(16, 5);
  m->forward(x.data(), y.data(), 1, 16);
  EXPECT_THROW(m->backward(1.f), Error);
  EXPECT_THROW(m->logits(), Error);
  EXPECT_THROW(m->adamw_step(AdamWConfig{}, 1e-3, 1.0, 1), Error);
  EXPECT_THROW(m->zero_grad(), Error);
}

}  // namespace
