// Attention statistics (attention/attention_stats.h, eval_gpt2 --attn-stats):
//   - the per-row formulas on hand-made rows (uniform, one-hot, signed, unnormalised, empty, and
//     rows re-weighted by the real pipeline) against their closed forms;
//   - the CPU reference's accumulation (per head, per position bucket, final and base weights)
//     against a row-by-row recomputation, and against closed forms on uniform rows;
//   - turning the statistics on changes no output bit (attention output, model losses and logits);
//   - the accumulator, the GPU path's host-side accumulation, the JSON report, and bad use.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>

#include "attention/attention.h"
#include "attention/attention_cpu.h"
#include "attention/attention_stats.h"
#include "attention_test_util.h"
#include "eval/attn_stats_report.h"
#include "eval/position_loss.h"
#include "model/model.h"
#include "runtime/error.h"
#include "runtime/rng.h"

using namespace lssa;
using lssa_test::AttnCase;
using lssa_test::Shape;

namespace {

// Closed forms below are evaluated in fp64 from the same handful of logs and divisions as the
// fp64 two-pass sums: both sides are within a few ulp of the true value (≤ 10 terms of size ≤ 1),
// so 1e-12 absolute is ample and still far below any meaningful difference.
constexpr double kTol = 1e-12;

void expect_stat(const AttnRowStat& s, double H, double sink, double mx, double mass, const char* what) {
  EXPECT_NEAR(s.entropy, H, kTol) << what << ": entropy";
  EXPECT_NEAR(s.sink, sink, kTol) << what << ": sink";
  EXPECT_NEAR(s.max, mx, kTol) << what << ": max";
  EXPECT_NEAR(s.mass, mass, kTol) << what << ": mass";
}

TEST(AttnStats, RowFormulasMatchClosedForms) {
  {
    const int n = 7;
    std::vector<double> x(n, 1.0 / n);
    expect_stat(attn_row_stat(x.data(), n), std::log(7.0), 1.0 / 7, 1.0 / 7, 1.0, "uniform");
  }
  {
    const double x[5] = {1, 0, 0, 0, 0};
    expect_stat(attn_row_stat(x, 5), 0, 1, 1, 1, "one-hot on the first token");
    const double y[5] = {0, 0, 0, 1, 0};
    expect_stat(attn_row_stat(y, 5), 0, 0, 1, 1, "one-hot on another token");
  }
  {
    const double x[1] = {1};  // the first row: its only key is the first token
    expect_stat(attn_row_stat(x, 1), 0, 1, 1, 1, "row 1");
  }
  {
    // signed weights (inverse / recentered / signed maps): shares of |x|: π = (1/2, 1/4, 1/4)
    const double x[3] = {0.5, -0.25, 0.25};
    expect_stat(attn_row_stat(x, 3), 1.5 * std::log(2.0), 0.5, 0.5, 1.0, "signed");
    const double y[4] = {-0.5, 0.5, -0.5, 0.5};  // Σx = 0 but Σ|x| = 2: uniform shares
    expect_stat(attn_row_stat(y, 4), std::log(4.0), 0.25, 0.25, 2.0, "signed, zero sum");
  }
  {
    // unnormalised rows (sigmoid, relu/T): the statistics are those of x/Σx, the mass is Σx
    const double x[4] = {0.1, 0.1, 0.1, 0.1};
    expect_stat(attn_row_stat(x, 4), std::log(4.0), 0.25, 0.25, 0.4, "unnormalised uniform");
    const double y[3] = {0.3, 0.0, 0.1};
    expect_stat(attn_row_stat(y, 3), -(0.75 * std::log(0.75) + 0.25 * std::log(0.25)), 0.75, 0.75, 0.4,
                "unnormalised");
  }
  {
    const double x[3] = {0, 0, 0};  // relu with every score ≤ 0: empty
    expect_stat(attn_row_stat(x, 3), 0, 0, 0, 0, "empty row");
  }
  {
    // fp32 input: the sums are fp64, so the result is the fp64 one of the rounded inputs
    std::vector<float> x(9, 1.f / 9);
    const AttnRowStat s = attn_row_stat(x.data(), 9);
    EXPECT_NEAR(s.entropy, std::log(9.0), 1e-6);  // 9 inputs rounded to fp32: relative 6e-8 each
    EXPECT_NEAR(s.sink, 1.0 / 9, 1e-7);
  }
  // the element functions (the GPU path's pieces) on their own
  EXPECT_EQ(attn_stat_inv_mass(0.0), 0.0);
  EXPECT_EQ(attn_stat_entropy_term(0.0, 2.0), 0.0);
  EXPECT_EQ(attn_stat_entropy_term(0.5, 0.0), 0.0);  // an empty row contributes nothing
  EXPECT_NEAR(attn_stat_entropy_term(-0.25, 1.0), 0.25 * std::log(4.0), kTol);
  EXPECT_NEAR(attn_stat_entropy_term(0.25f, 1.f), 0.25 * std::log(4.0), 1e-7);  // fp32: a few ulp of 0.35
}

// Rows re-weighted by the real pipeline (attention_row_weights, p = 15 on softmax): with n = 4
// keys, u_j = 4·a_j − 1, r_j = relu(u_j)/max relu(u), w = r^p/Σr^p.
TEST(AttnStats, ReweightedRowsMatchClosedForms) {
  AttnSpec base;  // softmax
  AttnSpec rw = base;
  rw.reweight_p = 15.f;
  const int n = 4, T = 16;
  auto row = [&](const AttnSpec& sp, const std::vector<double>& a) {
    std::vector<double> s(n), w(n);
    for (int j = 0; j < n; j++) s[j] = std::log(a[j]);  // softmax(ln a) = a
    attention_row_weights<double>(sp, n, T, s.data(), w.data());
    return attn_row_stat(w.data(), n);
  };
  {
    // a = (0.4, 0.2, 0.2, 0.2): u = (0.6, −0.2, −0.2, −0.2) → w = one-hot on the first token
    const std::vector<double> a = {0.4, 0.2, 0.2, 0.2};
    expect_stat(row(base, a), -(0.4 * std::log(0.4) + 0.6 * std::log(0.2)), 0.4, 0.4, 1, "base, sink-heavy");
    expect_stat(row(rw, a), 0, 1, 1, 1, "re-weighted, sink-heavy");
  }
  {
    // a = (0.1, 0.3, 0.3, 0.3): u = (−0.6, 0.2, 0.2, 0.2) → w = (0, 1/3, 1/3, 1/3): the sink is removed
    const std::vector<double> a = {0.1, 0.3, 0.3, 0.3};
    expect_stat(row(base, a), -(0.1 * std::log(0.1) + 0.9 * std::log(0.3)), 0.1, 0.3, 1, "base");
    expect_stat(row(rw, a), std::log(3.0), 0, 1.0 / 3, 1, "re-weighted");
  }
}

// q = 0: every score of a row is the same, so softmax and LSSA rows are uniform (LSSA: the clamped
// unit q is 0, cosine 0, softplus(0) for every key); with p = 15 rows n ≤ 3 re-weight to uniform
// (u_j = 1) and rows n > 3 are not re-weighted (u_j = 0): final = base = uniform. Bucket means:
// entropy mean of ln n, sink and max mean of 1/n over the bucket's positions.
TEST(AttnStats, UniformRowsGiveClosedFormBucketMeans) {
  const Shape sh{2, 40, 3, 8};
  const int T_train = 16;
  const uint64_t seed = 4242;
  std::printf("seed %llu\n", (unsigned long long)seed);
  std::vector<double> qkv = lssa_test::random_vec<double>(sh.qkv_size(), seed);
  for (int b = 0; b < sh.B; b++)
    for (int t = 0; t < sh.T; t++)
      for (int h = 0; h < sh.NH; h++)
        for (int i = 0; i < sh.HS; i++) qkv[lssa_test::q_at(sh, b, t, h, i)] = 0;
  for (const char* name : {"softmax", "lssa"}) {
    AttnOptions o;
    o.reweight_p = 15.f;
    const AttnSpec sp = attn_resolve(name, o, T_train);
    AttnStats st(sh.NH, position_bucket_edges(sh.T, T_train), true);
    std::vector<double> out(sh.out_size());
    attention_forward_cpu<double>(sp, out.data(), qkv.data(), sh.B, sh.T, sh.NH, sh.HS, &st);
    ASSERT_EQ(st.buckets(), 7);  // 1, 2, 3..4, 5..8, 9..16, 17..32, 33..40
    for (int set = 0; set < 2; set++)
      for (int b = 0; b < st.buckets(); b++) {
        double H = 0, inv = 0;
        for (int n = st.lo(b); n <= st.hi(b); n++) H += std::log((double)n), inv += 1.0 / n;
        const int k = st.hi(b) - st.lo(b) + 1;
        const AttnStatCell c = st.layer_cell((AttnStatSet)set, b);
        EXPECT_EQ(c.rows, (int64_t)sh.B * sh.NH * k);
        EXPECT_EQ(c.empty, 0);
        // sums of up to 240 rows of fp64 terms ≤ ln 40: 1e-12 absolute still holds
        EXPECT_NEAR(c.mean_entropy(), H / k, kTol) << name << " set " << set << " bucket " << b;
        EXPECT_NEAR(c.mean_sink(), inv / k, kTol);
        EXPECT_NEAR(c.mean_max(), inv / k, kTol);
        EXPECT_NEAR(c.mean_mass(), 1.0, kTol);
        for (int h = 0; h < sh.NH; h++) EXPECT_EQ(st.cell((AttnStatSet)set, h, b).rows, (int64_t)sh.B * k);
      }
  }
}

// Every Dot-score variant (± re-weighting) on random input: the forward's accumulated statistics
// equal a row-by-row recomputation through attention_row_weights (final: the case's spec; base:
// the same spec with p = 0) and attn_row_stat, bucketed by the test.
TEST(AttnStats, ForwardAccumulatesEveryRowPerHeadAndBucket) {
  const Shape sh{2, 37, 2, 8};
  const int T_train = lssa_test::kTestTTrain;
  const uint64_t seed = 777;
  std::printf("seed %llu\n", (unsigned long long)seed);
  const std::vector<double> qkv = lssa_test::random_vec<double>(sh.qkv_size(), seed, 1.5);
  int tested = 0;
  for (const AttnCase& c : lssa_test::all_attn_cases({3.f, 15.f})) {
    const AttnSpec sp = c.spec();
    if (sp.score != AttnScore::Dot) continue;  // the recomputation below forms Dot scores
    AttnSpec sp0 = sp;
    sp0.reweight_p = 0.f;
    const bool with_base = sp.reweight_p > 0.f;
    const std::vector<int> edges = position_bucket_edges(sh.T, T_train);
    AttnStats got(sh.NH, edges, with_base), want(sh.NH, edges, with_base);
    std::vector<double> out(sh.out_size());
    attention_forward_cpu<double>(sp, out.data(), qkv.data(), sh.B, sh.T, sh.NH, sh.HS, &got);
    std::vector<double> s(sh.T), w(sh.T), q(sh.HS), k(sh.HS);
    for (int b = 0; b < sh.B; b++)
      for (int h = 0; h < sh.NH; h++)
        for (int t = 0; t < sh.T; t++) {
          const int n = t + 1;
          for (int j = 0; j < n; j++) {
            double d = 0;
            for (int i = 0; i < sh.HS; i++) d += qkv[lssa_test::q_at(sh, b, t, h, i)] * qkv[lssa_test::k_at(sh, b, j, h, i)];
            s[j] = attn_row_scale<double>(sp, n, sh.HS) * d + attn_row_bias<double>(sp, n);
          }
          attention_row_weights<double>(sp, n, sh.T, s.data(), w.data());
          want.add_row(AttnStatSet::Final, h, n, attn_row_stat(w.data(), n));
          if (with_base) {
            attention_row_weights<double>(sp0, n, sh.T, s.data(), w.data());
            want.add_row(AttnStatSet::Base, h, n, attn_row_stat(w.data(), n));
          }
        }
    // the scores differ from the forward's in summation order only (fp64, 8 terms): 1e-10 on
    // per-row quantities ≤ ln 37, summed over ≤ 2·37 rows
    for (int set = 0; set < got.sets(); set++)
      for (int h = 0; h < sh.NH; h++)
        for (int bk = 0; bk < got.buckets(); bk++) {
          const AttnStatCell& g = got.cell((AttnStatSet)set, h, bk);
          const AttnStatCell& e = want.cell((AttnStatSet)set, h, bk);
          ASSERT_EQ(g.rows, e.rows) << c.label;
          ASSERT_EQ(g.empty, e.empty) << c.label;
          EXPECT_NEAR(g.entropy, e.entropy, 1e-10) << c.label << " set " << set << " head " << h << " bucket " << bk;
          EXPECT_NEAR(g.sink, e.sink, 1e-10) << c.label;
          EXPECT_NEAR(g.max, e.max, 1e-10) << c.label;
          EXPECT_NEAR(g.mass, e.mass, 1e-10) << c.label;
        }
    tested++;
  }
  EXPECT_GE(tested, 10);
}

// The flag costs nothing in results: every variant's fp32 output is the same bits with and
// without the statistics (and with the base set too).
TEST(AttnStats, StatisticsChangeNoOutputBit) {
  const Shape sh{2, 29, 2, 16};
  const uint64_t seed = 99;
  std::printf("seed %llu\n", (unsigned long long)seed);
  const std::vector<float> qkv = lssa_test::random_vec<float>(sh.qkv_size(), seed, 1.5);
  for (const AttnCase& c : lssa_test::all_attn_cases({15.f})) {
    const AttnSpec sp = c.spec();
    std::vector<float> off(sh.out_size()), on(sh.out_size());
    attention_forward_cpu<float>(sp, off.data(), qkv.data(), sh.B, sh.T, sh.NH, sh.HS);
    AttnStats st(sh.NH, position_bucket_edges(sh.T, 8), true);
    const Attention& impl = attention_select(AttnImplChoice::Auto, {&attention_cpu_reference()}, sp,
                                             {sh.B, sh.T, sh.NH, sh.HS}, AttnDType::F32, /*stats=*/true);
    AttnParams p;
    p.spec = sp;
    p.shape = {sh.B, sh.T, sh.NH, sh.HS};
    p.dtype = AttnDType::F32;
    p.qkv = qkv.data();
    p.out = on.data();
    p.stats = &st;
    impl.forward(p);
    EXPECT_EQ(std::memcmp(off.data(), on.data(), off.size() * sizeof(float)), 0) << c.label;
    EXPECT_EQ(st.layer_cell(AttnStatSet::Final, st.buckets() - 1).rows, (int64_t)sh.B * sh.NH * (29 - 16));
  }
}

GPT2Config tiny_model(const char* attn, float p) {
  GPT2Config c;
  EXPECT_TRUE(gpt2_preset("tiny", c));
  c.V = 96;
  c.Vp = padded_vocab(c.V);
  c.attn = attn;
  c.attn_opt.reweight_p = p;
  return c;
}

// The whole model: losses (forward-only evaluation) and logits (training model) are the same bits
// with the statistics on and off, past T_train too; every layer's accumulator fills.
TEST(AttnStats, ModelOutputsAreTheSameBitsWithStatisticsOn) {
  for (const auto& [attn, p] : std::vector<std::pair<const char*, float>>{{"softmax", 15.f}, {"lssa", 0.f}, {"sigmoid", 0.f}}) {
    GPT2Config c = tiny_model(attn, p);
    const int T = 2 * c.T_train;
    const uint64_t seed = 31337;
    std::printf("seed %llu (%s, p = %g)\n", (unsigned long long)seed, attn, p);
    Rng rng(seed);
    std::vector<int> x(T), y(T);
    for (int i = 0; i < T; i++) x[i] = (int)(rng.uniform() * c.V), y[i] = (int)(rng.uniform() * c.V);
    const std::vector<float> params = gpt2_init_params(c, seed);
    for (ModelUse use : {ModelUse::Evaluate, ModelUse::Train}) {
      GPT2Config cs = c;
      cs.attn_stats = true;
      auto plain = make_cpu_model(c, use), with = make_cpu_model(cs, use);
      plain->set_params(params);
      with->set_params(params);
      std::vector<AttnStats> layers(c.L, AttnStats(c.NH, position_bucket_edges(T, c.T_train), p > 0));
      with->set_attn_stats(&layers);
      const double l0 = plain->forward(x.data(), y.data(), 1, T, RopeScaling::Ntk);
      const double l1 = with->forward(x.data(), y.data(), 1, T, RopeScaling::Ntk);
      EXPECT_EQ(std::memcmp(&l0, &l1, sizeof l0), 0) << attn;
      const std::vector<float> a = plain->losses(), b = with->losses();
      EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << attn << ": losses";
      if (use == ModelUse::Train) {
        const std::vector<float> za = plain->logits(), zb = with->logits();
        EXPECT_EQ(std::memcmp(za.data(), zb.data(), za.size() * sizeof(float)), 0) << attn << ": logits";
      }
      for (const AttnStats& s : layers) {
        EXPECT_EQ(s.layer_cell(AttnStatSet::Final, 0).rows, c.NH);  // position 1, one window
        EXPECT_NEAR(s.layer_cell(AttnStatSet::Final, 0).mean_sink(), 1.0, 1e-12);  // its only key
      }
      // off again: no more rows are added
      with->set_attn_stats(nullptr);
      with->forward(x.data(), y.data(), 1, T, RopeScaling::Ntk);
      EXPECT_EQ(layers[0].layer_cell(AttnStatSet::Final, 0).rows, c.NH);
    }
  }
}

template <typename F>
void expect_one_line_error(F f, const char* needle) {
  try {
    f();
    ADD_FAILURE() << "no error (expected one with '" << needle << "')";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find(needle), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(AttnStats, AccumulatorBucketsAndBadUse) {
  AttnStats st(2, {1, 2, 4, 8, 10}, false);
  EXPECT_EQ(st.bucket_of(1), 0);
  EXPECT_EQ(st.bucket_of(2), 1);
  EXPECT_EQ(st.bucket_of(3), 2);
  EXPECT_EQ(st.bucket_of(4), 2);
  EXPECT_EQ(st.bucket_of(9), 4);
  EXPECT_EQ(st.bucket_of(10), 4);
  EXPECT_EQ(st.sets(), 1);
  expect_one_line_error([&] { st.bucket_of(11); }, "outside");
  expect_one_line_error([&] { st.bucket_of(0); }, "outside");
  expect_one_line_error([] { AttnStats(2, {2, 2}, false); }, "increase");
  expect_one_line_error([] { AttnStats(0, {2}, false); }, "heads");
  // empty rows: counted, mass 0, no entropy / sink / max (NaN means when every row is empty)
  AttnRowStat e;
  st.add_row(AttnStatSet::Final, 1, 3, e);
  const AttnStatCell& c = st.cell(AttnStatSet::Final, 1, 2);
  EXPECT_EQ(c.rows, 1);
  EXPECT_EQ(c.empty, 1);
  EXPECT_TRUE(std::isnan(c.mean_entropy()));
  EXPECT_EQ(c.mean_mass(), 0.0);
  // the CPU forward refuses an accumulator of another length
  std::vector<float> qkv(3 * 4 * 8, 0.f), out(4 * 8);
  AttnSpec sp;
  expect_one_line_error([&] { attention_forward_cpu<float>(sp, out.data(), qkv.data(), 1, 4, 2, 4, &st); }, "T = 10");
  // a model built without cfg.attn_stats refuses an accumulator
  GPT2Config cfg = tiny_model("softmax", 0.f);
  auto m = make_cpu_model(cfg, ModelUse::Evaluate);
  std::vector<AttnStats> layers(cfg.L, AttnStats(cfg.NH, {cfg.T_train}, false));
  expect_one_line_error([&] { m->set_attn_stats(&layers); }, "not built for attention statistics");
  cfg.attn_stats = true;
  auto m2 = make_cpu_model(cfg, ModelUse::Evaluate);
  std::vector<AttnStats> one(1, AttnStats(cfg.NH, {cfg.T_train}, false));
  expect_one_line_error([&] { m2->set_attn_stats(&one); }, "accumulators for");
}

// The GPU path's host half: (B, NH, T, sets, 4) floats → cells.
TEST(AttnStats, DeviceRowBufferIsAccumulatedLikeTheCpuRows) {
  const int B = 2, NH = 2, T = 3, sets = 2;
  std::vector<float> rows((size_t)B * NH * T * sets * kAttnRowStatFloats);
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++)
        for (int s = 0; s < sets; s++) {
          float* v = &rows[((((size_t)b * NH + h) * T + t) * sets + s) * kAttnRowStatFloats];
          v[0] = 0.5f * (t + 1) + s;        // entropy
          v[1] = 0.25f * (h + 1);           // sink
          v[2] = 0.5f;                      // max
          v[3] = (b == 1 && t == 2) ? 0.f : 1.f;  // one empty row per head at position 3
        }
  AttnStats st(NH, {1, 3}, true);
  attn_stats_add_rows(st, rows.data(), B, NH, T, sets);
  const AttnStatCell& c = st.cell(AttnStatSet::Base, 1, 1);  // head 1, positions 2..3, base
  EXPECT_EQ(c.rows, 4);
  EXPECT_EQ(c.empty, 1);
  EXPECT_DOUBLE_EQ(c.mean_entropy(), ((1.0 + 1) + (1.5 + 1) + (1.0 + 1)) / 3);
  EXPECT_DOUBLE_EQ(c.mean_sink(), 0.5);
  EXPECT_DOUBLE_EQ(c.mean_mass(), 0.75);
  AttnStats wrong(NH, {1, 3}, false);
  expect_one_line_error([&] { attn_stats_add_rows(wrong, rows.data(), B, NH, T, sets); }, "sets");
}

TEST(AttnStats, JsonReport) {
  std::vector<AttnStats> layers(2, AttnStats(2, {1, 2, 4}, true));
  AttnRowStat r;
  r.entropy = 0.5, r.sink = 0.25, r.max = 0.75, r.mass = 1;
  layers[1].add_row(AttnStatSet::Base, 0, 3, r);
  const nlohmann::json j = attn_stats_json(layers, true);
  ASSERT_EQ(j["sets"], nlohmann::json::array({"final", "base"}));
  ASSERT_EQ(j["layers"].size(), 2u);
  const nlohmann::json& b = j["layers"][1]["base"][2];
  EXPECT_EQ(b["lo"], 3);
  EXPECT_EQ(b["hi"], 4);
  EXPECT_EQ(b["rows"], 1);
  EXPECT_EQ(b["entropy"], 0.5);
  EXPECT_EQ(b["sink"], 0.25);
  EXPECT_EQ(b["max"], 0.75);
  EXPECT_TRUE(j["layers"][1]["final"][2]["entropy"].is_null());  // no rows: null, not NaN
  EXPECT_EQ(j["layers"][1]["heads"][0]["base"][2]["rows"], 1);
  EXPECT_FALSE(attn_stats_json(layers, false)["layers"][0].contains("heads"));
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  print_attn_stats_table(f, layers, "title");
  std::fseek(f, 0, SEEK_END);
  EXPECT_GT(std::ftell(f), 100);
  std::fclose(f);
}

}  // namespace
