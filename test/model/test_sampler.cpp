// Tests of model/sampler.h: the choice of the next token (greedy over the real vocabulary only,
// top-k never outside the k largest, seeded reproducibility, the temperature's effect on the
// distribution) and the generation loop over the CPU model (causal consistency, the window).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "model/model.h"
#include "model/sampler.h"
#include "runtime/error.h"

using namespace lssa;

namespace {

// A logits row of Vp values whose V real columns come from `real` and whose padded columns are
// far larger than any real one: a sampler that read them would pick them.
std::vector<float> padded_row(const std::vector<float>& real, int Vp) {
  std::vector<float> row(Vp, 1000.f);
  std::copy(real.begin(), real.end(), row.begin());
  return row;
}

std::vector<float> random_logits(int V, uint64_t seed, double scale) {
  Rng rng(seed);
  std::vector<float> z(V);
  for (float& x : z) x = (float)(scale * rng.normal());
  return z;
}

}  // namespace

TEST(Sampler, GreedyIsTheArgmaxOverTheFirstVColumns) {
  const int V = 50, Vp = 128;
  for (uint64_t seed = 1; seed <= 20; seed++) {
    std::vector<float> z = random_logits(V, seed, 3.0);
    const int want = (int)(std::max_element(z.begin(), z.end()) - z.begin());
    std::vector<float> row = padded_row(z, Vp);
    Sampler top1({1, 1.0f, seed}, V), cold({40, 0.0f, seed}, V);  // top-k 1 and temperature 0: greedy
    EXPECT_TRUE(top1.greedy());
    EXPECT_TRUE(cold.greedy());
    EXPECT_EQ(top1.next(row.data()), want);
    EXPECT_EQ(cold.next(row.data()), want);
  }
  // ties: the lowest index
  std::vector<float> tie = padded_row({0.f, 2.f, 1.f, 2.f, 2.f}, 8);
  Sampler s({1, 1.0f, 0}, 5);
  EXPECT_EQ(s.next(tie.data()), 1);
}

TEST(Sampler, TopKNeverPicksOutsideTheKLargest) {
  const int V = 200, Vp = 256;
  for (int k : {1, 2, 5, 17}) {
    // nearly flat logits: without the cut, tokens outside the k largest would be drawn often
    std::vector<float> z = random_logits(V, 100 + k, 0.05);
    std::vector<int> order(V);
    for (int j = 0; j < V; j++) order[j] = j;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return z[a] > z[b]; });
    const std::set<int> allowed(order.begin(), order.begin() + k);
    std::vector<float> row = padded_row(z, Vp);
    Sampler s({k, 1.0f, 7}, V);
    std::set<int> seen;
    for (int i = 0; i < 4000; i++) {
      const int t = s.next(row.data());
      ASSERT_TRUE(allowed.count(t)) << "k=" << k << " drew token " << t << " (logit " << z[t] << ")";
      seen.insert(t);
    }
    // and it samples: with near-equal candidates each of the k appears in 4000 draws
    EXPECT_EQ(seen, allowed) << "k=" << k;
  }
  // equal logits at the cut: the lower indices are the candidates
  std::vector<float> tie = padded_row({1.f, 1.f, 1.f, 0.f}, 8);
  Sampler s({2, 1.0f, 3}, 4);
  for (int i = 0; i < 500; i++) EXPECT_LT(s.next(tie.data()), 2);
}

TEST(Sampler, TopZeroSamplesTheWholeVocabularyButNeverThePadding) {
  const int V = 6, Vp = 128;
  std::vector<float> row = padded_row(std::vector<float>(V, 0.f), Vp);
  Sampler s({0, 1.0f, 11}, V);
  std::set<int> seen;
  for (int i = 0; i < 2000; i++) {
    const int t = s.next(row.data());
    ASSERT_GE(t, 0);
    ASSERT_LT(t, V);
    seen.insert(t);
  }
  EXPECT_EQ((int)seen.size(), V);
}

TEST(Sampler, AFixedSeedGivesFixedTokens) {
  const int V = 100, Vp = 128;
  std::vector<float> row = padded_row(random_logits(V, 5, 1.0), Vp);
  auto draw = [&](uint64_t seed) {
    Sampler s({20, 0.8f, seed}, V);
    std::vector<int> t(300);
    for (int& x : t) x = s.next(row.data());
    return t;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

// Frequencies of N draws against p_j ∝ exp(z_j / temperature), within 5 standard deviations of
// the binomial count (sqrt(p(1-p)/N)): a false failure has probability ~1e-6 per comparison, and
// the expected frequencies of different temperatures differ by far more than that.
TEST(Sampler, TemperatureShapesTheDistribution) {
  const std::vector<float> z = {0.f, (float)std::log(2.0), (float)std::log(4.0)};  // p = 1:2:4 at temperature 1
  const int V = 3, N = 40000;
  std::vector<float> row = padded_row(z, 8);
  for (float temp : {0.5f, 1.0f, 2.0f, 1000.f}) {
    double w[3], sum = 0;
    for (int j = 0; j < V; j++) sum += w[j] = std::exp(z[j] / temp);
    Sampler s({0, temp, 99}, V);
    int count[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) count[s.next(row.data())]++;
    for (int j = 0; j < V; j++) {
      const double p = w[j] / sum, f = (double)count[j] / N, sd = std::sqrt(p * (1 - p) / N);
      EXPECT_NEAR(f, p, 5 * sd) << "temperature " << temp << " token " << j;
    }
  }
  // a vanishing temperature is greedy in effect
  Sampler cold({0, 1e-4f, 5}, V);
  for (int i = 0; i < 1000; i++) ASSERT_EQ(cold.next(row.data()), 2);
}

TEST(Sampler, RejectsBadSettingsAndNonFiniteLogits) {
  EXPECT_THROW(Sampler({-1, 1.0f, 0}, 10), Error);
  EXPECT_THROW(Sampler({5, -0.5f, 0}, 10), Error);
  EXPECT_THROW(Sampler({5, std::numeric_limits<float>::quiet_NaN(), 0}, 10), Error);
  EXPECT_THROW(Sampler({5, std::numeric_limits<float>::infinity(), 0}, 10), Error);
  EXPECT_THROW(Sampler({5, 1.0f, 0}, 0), Error);
  std::vector<float> row = padded_row({0.f, std::numeric_limits<float>::quiet_NaN(), 1.f}, 8);
  Sampler greedy({1, 1.0f, 0}, 3), topk({2, 1.0f, 0}, 3);
  EXPECT_THROW(greedy.next(row.data()), Error);
  EXPECT_THROW(topk.next(row.data()), Error);
  // a non-finite value in the padding is not read
  std::vector<float> pad = padded_row({0.f, 1.f, 2.f}, 8);
  pad[5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(greedy.next(pad.data()), 2);
}

namespace {

GPT2Config tiny_config() {
  GPT2Config c;
  c.L = 2;
  c.NH = 2;
  c.C = 32;
  c.V = 60;
  c.Vp = 128;
  c.T_train = 16;
  c.attn = "softmax";
  return c;
}

int argmax_row(const std::vector<float>& logits, size_t row, int V, int Vp) {
  const float* r = logits.data() + row * Vp;
  return (int)(std::max_element(r, r + V) - r);
}

}  // namespace

// Greedy generation from a causal model: every generated token is the argmax at the previous
// position of ONE forward over the whole final sequence (causality: the logits at position i do
// not depend on later tokens). Margins between logits of the random model (~1e-3) are far above
// the rounding differences between forwards of different lengths (~1e-7), so argmax is stable.
TEST(Generate, GreedyTokensAreTheArgmaxesOfOneForwardOverTheWholeSequence) {
  const GPT2Config c = tiny_config();
  auto model = make_cpu_model(c);
  model->set_params(gpt2_init_params(c, 2024));
  const std::vector<int> context = {3, 14, 15};
  Sampler greedy({1, 1.0f, 0}, c.V);
  std::vector<int> streamed;
  const std::vector<int> out =
      generate(*model, context, {10, c.T_train, RopeScaling::None}, greedy, [&](int t) { streamed.push_back(t); });
  ASSERT_EQ(out.size(), 10u);
  EXPECT_EQ(streamed, out);
  std::vector<int> seq = context;
  seq.insert(seq.end(), out.begin(), out.end());  // 13 tokens <= T_train
  model->forward(seq.data(), nullptr, 1, (int)seq.size());
  const std::vector<float> logits = model->logits();  // (1, 13, Vp)
  for (size_t i = context.size() - 1; i + 1 < seq.size(); i++)
    EXPECT_EQ(argmax_row(logits, i, c.V, c.Vp), seq[i + 1]) << "position " << i;
  for (int t : out) EXPECT_TRUE(t >= 0 && t < c.V);
}

// With a window of W tokens, the last token is chosen from a forward over the last W tokens only
// (and generation runs past T_train without failing when the window is T_train).
TEST(Generate, TheForwardSeesOnlyTheLastWindowTokens) {
  const GPT2Config c = tiny_config();
  auto model = make_cpu_model(c);
  model->set_params(gpt2_init_params(c, 7));
  const std::vector<int> context = {1, 2, 3, 4, 5, 6};
  const int W = 4;
  Sampler greedy({1, 1.0f, 0}, c.V);
  const std::vector<int> out = generate(*model, context, {5, W, RopeScaling::None}, greedy);
  std::vector<int> seq = context;
  seq.insert(seq.end(), out.begin(), out.end() - 1);  // everything before the last new token
  model->forward(seq.data() + seq.size() - W, nullptr, 1, W);
  EXPECT_EQ(argmax_row(model->logits(), W - 1, c.V, c.Vp), out.back());

  Sampler g2({1, 1.0f, 0}, c.V);
  EXPECT_EQ(generate(*model, context, {2 * c.T_train, c.T_train, RopeScaling::None}, g2).size(), (size_t)(2 * c.T_train));
  EXPECT_THROW(generate(*model, {}, {1, W, RopeScaling::None}, g2), Error);
  EXPECT_THROW(generate(*model, context, {1, 0, RopeScaling::None}, g2), Error);
}

// A sampled generation is a function of the seed: the same seed, the same text.
TEST(Generate, SeededSamplingIsReproducible) {
  const GPT2Config c = tiny_config();
  auto model = make_cpu_model(c);
  model->set_params(gpt2_init_params(c, 9));
  auto run = [&](uint64_t seed) {
    Sampler s({10, 1.0f, seed}, c.V);
    return generate(*model, {7}, {12, c.T_train, RopeScaling::None}, s);
  };
  EXPECT_EQ(run(1), run(1));
  EXPECT_NE(run(1), run(2));
}
