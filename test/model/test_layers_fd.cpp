// fp64 central finite differences for every CPU layer's backward and for the whole model's
// gradient, plus model-level properties (causality, long-length finiteness, determinism).
//
// Each layer check: L = Σ out·R for a random R; the analytic gradient from the layer's backward
// against (L(x + h) − L(x − h)) / 2h with h = 1e-6. In fp64 the truncation error is O(h²·f''')
// ≈ 1e-12 and the roundoff O(ε·|L|/h) ≈ 1e-10, so a relative error above 1e-6 is a bug.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <functional>
#include <vector>

#include "model/gpt2_cpu.h"
#include "model/layers_cpu.h"
#include "runtime/rng.h"
#include "test/test_scale.h"

using namespace lssa;

namespace {

constexpr double kH = 1e-6;
constexpr double kTol = 1e-6;  // see the file comment

std::vector<double> randn(size_t n, Rng& rng, double scale = 1.0) {
  std::vector<double> v(n);
  for (auto& x : v) x = rng.normal() * scale;
  return v;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); i++) s += a[i] * b[i];
  return s;
}

// Compares analytic vs numeric gradients of loss() w.r.t. x, perturbing every entry of x, or
// `max_entries` of them spread evenly (whole-model checks: every tensor, a sample of entries).
void expect_grad(std::vector<double>& x, const std::vector<double>& analytic, const std::function<double()>& loss,
                 const char* what, size_t max_entries = SIZE_MAX) {
  double num_max = 0, err_max = 0;
  const size_t stride = std::max<size_t>(1, x.size() / std::min(max_entries, x.size()));
  for (size_t i = 0; i < x.size(); i += stride) {
    double keep = x[i];
    x[i] = keep + kH;
    double lp = loss();
    x[i] = keep - kH;
    double lm = loss();
    x[i] = keep;
    double num = (lp - lm) / (2 * kH);
    num_max = std::max(num_max, std::fabs(num));
    err_max = std::max(err_max, std::fabs(num - analytic[i]));
  }
  EXPECT_LE(err_max / std::max(num_max, 1e-12), kTol) << what << ": max |analytic - numeric| = " << err_max;
  EXPECT_GT(num_max, 0.0) << what << ": the gradient is identically zero (the check would prove nothing)";
}

}  // namespace

TEST(LayersFd, LayerNorm) {
  const int N = 5, C = 12;
  Rng rng(1);
  auto x = randn(N * C, rng), w = randn(C, rng), b = randn(C, rng), R = randn(N * C, rng);
  std::vector<double> out(N * C), mean(N), rstd(N);
  auto loss = [&] {
    layernorm_forward(out.data(), mean.data(), rstd.data(), x.data(), w.data(), b.data(), N, C);
    return dot(out, R);
  };
  loss();
  std::vector<double> dx(N * C, 0.0), dw(C, 0.0), db(C, 0.0);
  layernorm_backward(dx.data(), dw.data(), db.data(), R.data(), x.data(), w.data(), mean.data(), rstd.data(), N, C);
  expect_grad(x, dx, loss, "layernorm dx");
  expect_grad(w, dw, loss, "layernorm dw");
  expect_grad(b, db, loss, "layernorm db");
}

TEST(LayersFd, MatmulWithAndWithoutBias) {
  const int N = 6, IC = 7, OC = 5;
  Rng rng(2);
  auto x = randn(N * IC, rng), W = randn(OC * IC, rng), bias = randn(OC, rng), R = randn(N * OC, rng);
  std::vector<double> out(N * OC);
  for (bool with_bias : {true, false}) {
    auto loss = [&] {
      matmul_forward(out.data(), x.data(), W.data(), with_bias ? bias.data() : nullptr, N, IC, OC);
      return dot(out, R);
    };
    std::vector<double> dx(N * IC), dW(OC * IC, 0.0), db(OC, 0.0);
    matmul_backward(dx.data(), dW.data(), with_bias ? db.data() : nullptr, R.data(), x.data(), W.data(), N, IC, OC);
    expect_grad(x, dx, loss, "matmul dx");
    expect_grad(W, dW, loss, "matmul dW");
    if (with_bias) expect_grad(bias, db, loss, "matmul dbias");
  }
}

TEST(LayersFd, MatmulBackwardAccumulatesWeightGradients) {
  const int N = 3, IC = 4, OC = 2;
  Rng rng(3);
  auto x = randn(N * IC, rng), W = randn(OC * IC, rng), R = randn(N * OC, rng);
  std::vector<double> dx(N * IC), dW1(OC * IC, 0.0), dW2(OC * IC, 0.0), db1(OC, 0.0), db2(OC, 0.0);
  matmul_backward(dx.data(), dW1.data(), db1.data(), R.data(), x.data(), W.data(), N, IC, OC);
  matmul_backward(dx.data(), dW2.data(), db2.data(), R.data(), x.data(), W.data(), N, IC, OC);
  matmul_backward(dx.data(), dW2.data(), db2.data(), R.data(), x.data(), W.data(), N, IC, OC);
  for (int i = 0; i < OC * IC; i++) EXPECT_NEAR(dW2[i], 2 * dW1[i], 1e-12);  // micro-batches add up
  for (int i = 0; i < OC; i++) EXPECT_NEAR(db2[i], 2 * db1[i], 1e-12);
}

TEST(LayersFd, Gelu) {
  const int n = 40;
  Rng rng(4);
  auto x = randn(n, rng, 2.0), R = randn(n, rng);
  std::vector<double> out(n), dx(n);
  auto loss = [&] {
    gelu_forward(out.data(), x.data(), n);
    return dot(out, R);
  };
  gelu_backward(dx.data(), x.data(), R.data(), n);
  expect_grad(x, dx, loss, "gelu dx");
}

TEST(LayersFd, Encoder) {
  const int N = 6, C = 4, V = 5;
  Rng rng(5);
  auto wte = randn(V * C, rng), R = randn(N * C, rng);
  std::vector<int> tok = {0, 3, 3, 1, 4, 0};
  std::vector<double> out(N * C), dwte(V * C, 0.0);
  auto loss = [&] {
    encoder_forward(out.data(), tok.data(), wte.data(), N, C);
    return dot(out, R);
  };
  encoder_backward(dwte.data(), R.data(), tok.data(), N, C);
  // row 2 of wte is never used: its gradient must be exactly 0
  for (int c = 0; c < C; c++) EXPECT_EQ(dwte[2 * C + c], 0.0);
  expect_grad(wte, dwte, loss, "encoder dwte");
}

TEST(LayersFd, CrossEntropyIgnoresPaddedColumns) {
  const int N = 4, V = 6, Vp = 8;
  Rng rng(6);
  auto logits = randn(N * Vp, rng, 3.0);
  std::vector<int> tgt = {0, 5, 2, 2};
  std::vector<double> losses(N), dl(N * Vp);
  auto loss = [&] { return crossentropy_forward(losses.data(), logits.data(), tgt.data(), N, V, Vp) * N; };
  crossentropy_backward(dl.data(), logits.data(), tgt.data(), N, V, Vp, 1.0);
  for (int i = 0; i < N; i++)
    for (int v = V; v < Vp; v++) EXPECT_EQ(dl[i * Vp + v], 0.0);  // padding takes no part
  expect_grad(logits, dl, loss, "cross-entropy dlogits");
  // changing a padded logit changes nothing
  double l0 = loss();
  logits[V] += 100;
  EXPECT_EQ(loss(), l0);
}

TEST(LayersFd, RopeBackwardIsTheInverseRotation) {
  const int B = 2, T = 5, NH = 2, HS = 8, C = NH * HS;
  Rng rng(7);
  for (RopeScaling s : {RopeScaling::None, RopeScaling::Ntk, RopeScaling::Dynamic, RopeScaling::Yarn}) {
    RopeTable tab;
    tab.build(s, 10000.0, T, /*T_train=*/2, HS);
    const double m = rope_magnitude(s, T, 2);  // YaRN scales q and k by m beyond T_train
    auto x = randn(B * T * 3 * C, rng), R = randn(B * T * 3 * C, rng);
    auto loss = [&] {
      std::vector<double> y = x;
      rope_apply(y.data(), tab, B, T, NH, HS, +1);
      return dot(y, R);
    };
    std::vector<double> g = R;
    rope_apply(g.data(), tab, B, T, NH, HS, -1);
    expect_grad(x, g, loss, rope_scaling_name(s));
    // a rotation preserves norms (times m on q, k); v is untouched
    std::vector<double> y = x;
    rope_apply(y.data(), tab, B, T, NH, HS, +1);
    double qk_x = 0, qk_y = 0;
    for (int bt = 0; bt < B * T; bt++)
      for (int c = 0; c < 2 * C; c++) {
        qk_x += x[bt * 3 * C + c] * x[bt * 3 * C + c];
        qk_y += y[bt * 3 * C + c] * y[bt * 3 * C + c];
      }
    EXPECT_NEAR(qk_y, m * m * qk_x, 1e-9 * qk_y) << rope_scaling_name(s);
    for (int bt = 0; bt < B * T; bt++)
      for (int c = 2 * C; c < 3 * C; c++) EXPECT_EQ(y[bt * 3 * C + c], x[bt * 3 * C + c]);
  }
}

TEST(LayersFd, RopeNtkBase) {
  // base' = base·α^(HS/(HS−2)) only beyond T_train; position 0 is never rotated
  EXPECT_DOUBLE_EQ(rope_base_at(RopeScaling::Ntk, 10000, 0, 64, 64, 16), 10000);
  EXPECT_NEAR(rope_base_at(RopeScaling::Ntk, 10000, 0, 128, 64, 16), 10000 * std::pow(2.0, 16.0 / 14.0), 1e-6);
  EXPECT_DOUBLE_EQ(rope_base_at(RopeScaling::Dynamic, 10000, 63, 128, 64, 16), 10000);
  EXPECT_NEAR(rope_base_at(RopeScaling::Dynamic, 10000, 127, 128, 64, 16), 10000 * std::pow(2.0, 16.0 / 14.0), 1e-6);
  EXPECT_DOUBLE_EQ(rope_base_at(RopeScaling::None, 10000, 127, 128, 64, 16), 10000);
}

TEST(LayersFd, RopeYarnFrequenciesAndMagnitude) {
  // T_train = 200, HS = 8, s = 2: r_i = T_train·θ_i/(2π) = 31.83, 3.183, 0.3183, 0.03183, so pair 0
  // is almost kept (γ = 30.83/31), pair 1 mostly interpolated (γ = 2.183/31), pairs 2, 3 divided by s
  const double PI = 3.14159265358979323846;
  const int HS = 8, T_train = 200;
  for (int i = 0; i < HS / 2; i++) {
    const double th = std::pow(10000.0, -2.0 * i / HS), r = T_train * th / (2 * PI);
    const double g = std::min(1.0, std::max(0.0, (r - 1) / 31));
    EXPECT_NEAR(rope_yarn_theta(10000, i, HS, 2.0, T_train), (1 - g) * th / 2 + g * th, 1e-15) << i;
    // at T ≤ T_train YaRN is plain RoPE; beyond, the angle is t·θ'_i for every position t
    EXPECT_DOUBLE_EQ(rope_angle_at(RopeScaling::Yarn, 10000, i, 150, 200, T_train, HS), rope_angle(10000, i, HS, 150));
    EXPECT_DOUBLE_EQ(rope_angle_at(RopeScaling::Yarn, 10000, i, 150, 400, T_train, HS),
                     150 * rope_yarn_theta(10000, i, HS, 2.0, T_train));
  }
  EXPECT_NEAR(rope_yarn_theta(10000, 0, HS, 2.0, T_train), (1 - 30.830988618379067 / 31) / 2 + 30.830988618379067 / 31, 1e-12);
  EXPECT_DOUBLE_EQ(rope_yarn_theta(10000, 3, HS, 2.0, T_train), std::pow(10000.0, -0.75) / 2);
  EXPECT_DOUBLE_EQ(rope_yarn_theta(10000, 0, HS, 2.0, 20000), 1.0);  // r = 3183 > β: kept
  // m = 0.1·ln s + 1 beyond T_train only, and only for YaRN
  EXPECT_DOUBLE_EQ(rope_magnitude(RopeScaling::Yarn, 200, 200), 1.0);
  EXPECT_DOUBLE_EQ(rope_magnitude(RopeScaling::Yarn, 800, 200), 0.1 * std::log(4.0) + 1);
  EXPECT_DOUBLE_EQ(rope_magnitude(RopeScaling::Ntk, 800, 200), 1.0);
  // the table carries the magnitude: cos² + sin² = m²
  RopeTable tab;
  tab.build(RopeScaling::Yarn, 10000.0, 400, T_train, HS);
  const double m = 0.1 * std::log(2.0) + 1;
  for (size_t k = 0; k < tab.cos.size(); k += 37) EXPECT_NEAR(tab.cos[k] * tab.cos[k] + tab.sin[k] * tab.sin[k], m * m, 1e-12);
  EXPECT_EQ(rope_scaling_from_name("yarn"), RopeScaling::Yarn);
  EXPECT_STREQ(rope_scaling_name(RopeScaling::Yarn), "yarn");
}

// The whole model: every parameter entry of a tiny fp64 model against finite differences.
class ModelFd : public ::testing::TestWithParam<std::pair<const char*, float>> {};

TEST_P(ModelFd, EveryParameterGradient) {
  omp_set_num_threads(1);  // thousands of tiny forwards: threads would only add overhead
  GPT2Config cfg;
  cfg.L = 2;
  cfg.NH = 2;
  cfg.C = 8;
  cfg.V = 11;
  cfg.Vp = 16;
  cfg.T_train = 6;
  cfg.attn = GetParam().first;
  cfg.attn_opt.reweight_p = GetParam().second;
  Gpt2Cpu<double> m(cfg);
  auto init = gpt2_init_params(cfg, 42);
  Rng rng(9);
  for (size_t i = 0; i < init.size(); i++) m.params[i] = init[i] + 0.3 * rng.normal();  // non-trivial attention
  for (size_t i = param_offsets(cfg).wte + (size_t)cfg.V * cfg.C; i < param_offsets(cfg).ln1w; i++) m.params[i] = 0;
  const int B = 2, T = 6;
  std::vector<int> x = {1, 4, 2, 9, 0, 3, 5, 5, 7, 10, 6, 2}, y = {4, 2, 9, 0, 3, 8, 5, 7, 10, 6, 2, 1};
  m.forward(x.data(), y.data(), B, T);
  m.zero_grad();
  m.backward(1.0f);
  std::vector<double> analytic = m.grads;
  auto loss = [&] { return m.forward(x.data(), y.data(), B, T); };
  for (const ParamTensor& t : param_layout(cfg)) {
    if (t.name == "wte") continue;  // checked below on the rows in use only (cheaper)
    std::vector<double> p(m.params.begin() + t.offset, m.params.begin() + t.offset + t.numel);
    std::vector<double> g(analytic.begin() + t.offset, analytic.begin() + t.offset + t.numel);
    auto l = [&] {
      std::copy(p.begin(), p.end(), m.params.begin() + t.offset);
      return loss();
    };
    expect_grad(p, g, l, t.name.c_str(), 48);
    std::copy(p.begin(), p.end(), m.params.begin() + t.offset);
  }
  std::vector<double> w(m.params.begin(), m.params.begin() + (size_t)cfg.Vp * cfg.C);
  std::vector<double> gw(analytic.begin(), analytic.begin() + (size_t)cfg.Vp * cfg.C);
  auto lw = [&] {
    std::copy(w.begin(), w.end(), m.params.begin());
    return loss();
  };
  expect_grad(w, gw, lw, "wte", 96);
}

INSTANTIATE_TEST_SUITE_P(Variants, ModelFd,
                         ::testing::Values(std::pair{"softmax", 0.f}, std::pair{"lssa", 0.f}, std::pair{"lssa", 3.f},
                                           std::pair{"softmax", 15.f}, std::pair{"gelu_l1", 2.f}));

namespace {
GPT2Config tiny_config(const char* attn, float p) {
  GPT2Config cfg;
  cfg.L = 2;
  cfg.NH = 2;
  cfg.C = 16;
  cfg.V = 50;
  cfg.Vp = 64;
  cfg.T_train = 16;
  cfg.attn = attn;
  cfg.attn_opt.reweight_p = p;
  return cfg;
}
}  // namespace

TEST(ModelProperties, CausalityOfTheWholeModel) {
  for (auto [attn, p] : {std::pair{"softmax", 0.f}, std::pair{"lssa", 0.f}, std::pair{"lssa", 15.f}}) {
    GPT2Config cfg = tiny_config(attn, p);
    Gpt2Cpu<float> m(cfg);
    m.set_params(gpt2_init_params(cfg, 3));
    const int T = 20;
    std::vector<int> a(T), b(T);
    Rng rng(11);
    for (int t = 0; t < T; t++) a[t] = b[t] = (int)rng.below(cfg.V);
    const int cut = 9;
    for (int t = cut + 1; t < T; t++) b[t] = (a[t] + 1 + (int)rng.below(cfg.V - 1)) % cfg.V;
    m.forward(a.data(), nullptr, 1, T);
    auto la = m.logits();
    m.forward(b.data(), nullptr, 1, T);
    auto lb = m.logits();
    for (int t = 0; t <= cut; t++)
      for (int v = 0; v < cfg.Vp; v++) ASSERT_EQ(la[t * cfg.Vp + v], lb[t * cfg.Vp + v]) << attn << " t=" << t;
    bool changed = false;
    for (int v = 0; v < cfg.Vp; v++) changed |= la[(cut + 1) * cfg.Vp + v] != lb[(cut + 1) * cfg.Vp + v];
    EXPECT_TRUE(changed) << attn << ": changing token " << cut + 1 << " must change its logits";
  }
}

TEST(ModelProperties, ReweightP50AtT4096StaysFinite) {
  GPT2Config cfg = tiny_config("lssa", 50.f);
  Gpt2Cpu<float> m(cfg);
  m.set_params(gpt2_init_params(cfg, 5));
  // 256x the training length, with NTK scaling; 32x (T = 512) under LSSA_TEST_REDUCED=1 (the
  // sanitizer build, test/test_scale.h): the same code paths at 1/64 of the attention's cost
  const int T = lssa_test::full_or_reduced(4096, 512);
  std::vector<int> x(T), y(T);
  for (int t = 0; t < T; t++) {
    x[t] = (t * 7) % cfg.V;
    y[t] = (t * 7 + 7) % cfg.V;
  }
  double loss = m.forward(x.data(), y.data(), 1, T, RopeScaling::Ntk);
  EXPECT_TRUE(std::isfinite(loss));
  for (float l : m.logits()) ASSERT_TRUE(std::isfinite(l));
  m.zero_grad();
  m.backward(1.0f);
  EXPECT_TRUE(std::isfinite(m.grad_norm()));
}

TEST(ModelProperties, ForwardBackwardIsDeterministic) {
  GPT2Config cfg = tiny_config("lssa", 3.f);
  Gpt2Cpu<float> m(cfg);
  m.set_params(gpt2_init_params(cfg, 8));
  std::vector<int> x(64), y(64);
  for (int i = 0; i < 64; i++) x[i] = (i * 13) % cfg.V, y[i] = (i * 13 + 1) % cfg.V;
  m.forward(x.data(), y.data(), 2, 32);
  m.zero_grad();
  m.backward(1.0f);
  auto g1 = m.grads;
  m.forward(x.data(), y.data(), 2, 32);
  m.zero_grad();
  m.backward(1.0f);
  EXPECT_TRUE(g1 == m.grads);  // bit for bit
}

TEST(ModelProperties, InitMatchesLlmcConventions) {
  GPT2Config cfg = tiny_config("softmax", 0.f);
  auto p = gpt2_init_params(cfg, 1);
  EXPECT_EQ(p, gpt2_init_params(cfg, 1));  // seeded, reproducible
  EXPECT_NE(p, gpt2_init_params(cfg, 2));
  ParamOffsets o = param_offsets(cfg);
  auto stdev = [&](size_t off, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)p[off + i] * p[off + i];
    return std::sqrt(s / n);
  };
  const size_t C = cfg.C, L = cfg.L;
  EXPECT_NEAR(stdev(o.qkvw, L * 3 * C * C), 0.02, 0.002);
  EXPECT_NEAR(stdev(o.fcprojw, L * 4 * C * C), 0.02 / std::sqrt(2.0 * L), 0.002);  // residual projection
  EXPECT_EQ(stdev(o.qkvb, L * 3 * C), 0.0);
  for (size_t i = (size_t)cfg.V * C; i < (size_t)cfg.Vp * C; i++) ASSERT_EQ(p[o.wte + i], 0.f);  // padded rows
  for (size_t i = 0; i < L * C; i++) ASSERT_EQ(p[o.ln1w + i], 1.f);
}
