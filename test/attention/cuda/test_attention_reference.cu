// The GPU reference attention (attention/cuda/attention_reference.h) against the CPU reference
// (attention/attention_cpu.h, fp64 on the same bf16-rounded q, k, v, dout) for every registered
// variant, with re-weighting p = 1, 3, 15, forward (out) and backward (dq, dk, dv), over
// T = 1, 7, 129, 1000, 4096, several B, NH and HS. Tolerance: relative L2 error ≤ 2 × the
// error of storing the exact result in bf16 (see test/model/cuda/gpu_test_util.h for why), with
// an absolute floor for dq and dk where the true gradient can be exactly 0 (T = 1: the two terms
// of dS cancel; the fp64 reference leaves ~1e-17 noise, this fp32 path ~2^-24 of the terms):
// kF32TermFloor·‖mag‖, mag = grad_term_magnitude() (test/attention/attention_test_util.h).
// Inputs: fixed seeds (1000 + T, 2000 + T), printed. Skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "attention/attention_cpu.h"
#include "attention/cuda/attention_reference.h"
#include "attention/registry.h"
#include "test/attention/attention_test_util.h"
#include "test/model/cuda/gpu_test_util.h"

using namespace lssa;
using namespace lssa::test;

namespace {

constexpr int kTrainT = 64;  // T_train of the specs (sigmoid's bias −ln T_train)
// fp32 residue of two cancelling dot products of HS ≤ 128 terms: ≤ HS·2^-24 of their magnitude
// (the worst-case bound of a recursive sum), so 128·2^-24 ≈ 7.6e-6 of ‖mag‖.
constexpr double kF32TermFloor = 128.0 / (1 << 24);

struct Case {
  std::string attn;
  float p;
  int B, T, NH, HS;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.attn << " p=" << c.p << " B=" << c.B << " T=" << c.T << " NH=" << c.NH << " HS=" << c.HS;
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return c.attn + "_p" + std::to_string((int)c.p) + "_B" + std::to_string(c.B) + "_T" + std::to_string(c.T) + "_NH" +
         std::to_string(c.NH) + "_HS" + std::to_string(c.HS);
}

std::vector<Case> all_cases() {
  std::vector<Case> cs;
  for (const AttnVariantInfo& v : attn_registry()) {
    if (v.alias_of) continue;  // exp_l1 → softmax, lssar → lssa + p (covered below)
    for (auto [B, T, NH] : {std::tuple{2, 1, 3}, {2, 7, 3}, {1, 129, 2}}) cs.push_back({v.name, 0.f, B, T, NH, 64});
  }
  for (const char* a : {"softmax", "lssa", "relu_l1", "sigmoid_rowbias_l1", "recentered_l1", "softplus_l1"})
    for (float p : {1.f, 3.f, 15.f})
      for (auto [B, T, NH] : {std::tuple{2, 7, 3}, {1, 129, 2}}) cs.push_back({a, p, B, T, NH, 64});
  for (auto [a, p] : {std::pair{"softmax", 0.f}, {"lssa", 0.f}, {"lssa", 15.f}, {"relu_shen", 0.f}, {"sigmoid", 0.f},
                      {"recentered", 0.f}, {"relu_seqlen", 0.f}})
    cs.push_back({a, p, 1, 1000, 2, 64});
  cs.push_back({"softmax", 0.f, 1, 4096, 1, 64});
  cs.push_back({"lssa", 15.f, 1, 4096, 1, 64});
  for (int HS : {32, 128}) {
    cs.push_back({"softmax", 0.f, 2, 129, 2, HS});
    cs.push_back({"lssa", 3.f, 2, 129, 2, HS});
  }
  return cs;
}

class AttentionReferenceGpu : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionReferenceGpu, MatchesCpuForwardAndBackward) {
  LSSA_REQUIRE_GPU();
  const Case& c = GetParam();
  AttnOptions opt;
  opt.reweight_p = c.p;
  const AttnSpec spec = attn_resolve(c.attn, opt, kTrainT);
  const int C = c.NH * c.HS;
  const size_t nqkv = (size_t)c.B * c.T * 3 * C, nout = (size_t)c.B * c.T * C;
  auto qkv = random_bf16(nqkv, 1000 + c.T), dout = random_bf16(nout, 2000 + c.T);
  std::printf("seeds %d (qkv), %d (dout)\n", 1000 + c.T, 2000 + c.T);

  std::vector<double> out(nout), dqkv(nqkv);
  attention_forward_cpu(spec, out.data(), cast<double>(qkv).data(), c.B, c.T, c.NH, c.HS);
  attention_backward_cpu(spec, dqkv.data(), cast<double>(dout).data(), cast<double>(qkv).data(), c.B, c.T, c.NH, c.HS);

  const AttnShape shape{c.B, c.T, c.NH, c.HS};
  DeviceBuffer<char> scratch(attention_reference_scratch_bytes(shape, true));
  const AttnReferenceScratch sc = attention_reference_scratch_at(scratch.ptr, shape, true);
  DeviceBuffer<__nv_bfloat16> dqkv_in(qkv), ddout(dout), dout_gpu(nout), ddqkv(nqkv);
  attention_reference_forward(nullptr, spec, shape, sc, dout_gpu, dqkv_in);
  attention_reference_backward(nullptr, spec, shape, sc, ddqkv, ddout, dqkv_in);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  auto got_out = dout_gpu.download(), got_d = ddqkv.download();

  const double e_out = rel_l2(got_out, out), f_out = bf16_floor(out);
  EXPECT_LE(e_out, kBf16Multiple * f_out + 1e-7) << "out: bf16 floor " << f_out;
  // dq, dk, dv separately (their scales differ)
  const char* names[3] = {"dq", "dk", "dv"};
  const lssa_test::GradTermMagnitude mag = lssa_test::grad_term_magnitude(
      spec, cast<double>(qkv).data(), cast<double>(dout).data(), out.data(), c.B, c.T, c.NH, c.HS);
  for (int part = 0; part < 3; part++) {
    std::vector<double> ref;
    std::vector<float> got;
    for (size_t bt = 0; bt < (size_t)c.B * c.T; bt++)
      for (int x = 0; x < C; x++) {
        ref.push_back(dqkv[bt * 3 * C + part * C + x]);
        got.push_back(got_d[bt * 3 * C + part * C + x]);
      }
    const double f = bf16_floor(ref), ref_norm = lssa_test::l2_norm(ref);
    double err = 0;
    for (size_t i = 0; i < ref.size(); i++) err += (got[i] - ref[i]) * (got[i] - ref[i]);
    err = std::sqrt(err);
    const std::vector<double>* m = part == 0 ? &mag.dq : part == 1 ? &mag.dk : nullptr;
    const double abs_floor = m && !m->empty() ? kF32TermFloor * lssa_test::l2_norm(*m) : 0.0;
    const double tol = std::max((kBf16Multiple * f + 1e-7) * ref_norm, abs_floor);
    EXPECT_LE(err, tol) << names[part] << ": |err| " << err << ", |ref| " << ref_norm << ", bf16 floor " << f
                        << ", absolute floor " << abs_floor;
  }

  // deterministic: a second backward gives the same bits
  DeviceBuffer<__nv_bfloat16> again(nqkv);
  attention_reference_backward(nullptr, spec, shape, sc, again, ddout, dqkv_in);
  auto got_again = again.download();
  EXPECT_EQ(std::memcmp(got_again.data(), got_d.data(), got_d.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(AllVariants, AttentionReferenceGpu, ::testing::ValuesIn(all_cases()), case_name);

// --attn-stats on the GPU reference path (attention_reference_stats) against the CPU reference's
// statistics (fp64 on the same bf16-rounded input), per head and bucket: the same row counts, and
// means within 1e-3 absolute. Why 1e-3: the GPU forms each weight in fp32 from a 64-term score and
// up to 129-term row sums, a relative error of at most ~(64 + 129)·2^-24 ≈ 1.2e-5 per weight; p = 15
// re-weighting raises it to the 15th power (×15), ~2e-4; entropy terms −π ln π (|d/dπ| ≤ 1 + ln 129
// ≈ 6 near π → 0 is bounded by the term itself) and shares ≤ 1 then move the means by a few 1e-4 at
// most. The output is the same bits with and without the statistics. Seed 3000 + T, printed.
TEST(AttentionReferenceStats, MatchesCpuStatisticsAndLeavesTheOutput) {
  LSSA_REQUIRE_GPU();
  const int B = 2, T = 129, NH = 2, HS = 64, C = NH * HS;
  for (auto [a, p] : {std::pair{"softmax", 0.f}, {"softmax", 15.f}, {"lssa", 15.f}, {"sigmoid", 0.f},
                      {"recentered", 0.f}, {"relu_seqlen", 0.f}}) {
    AttnOptions opt;
    opt.reweight_p = p;
    const AttnSpec spec = attn_resolve(a, opt, kTrainT);
    const size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C;
    auto qkv = random_bf16(nqkv, 3000 + T);
    std::printf("%s p=%g: seed %d\n", a, p, 3000 + T);
    const std::vector<int> edges = {1, 2, 4, 8, 16, 32, 64, 128, 129};
    AttnStats cpu(NH, edges, p > 0), gpu(NH, edges, p > 0);
    std::vector<double> out(nout);
    attention_forward_cpu(spec, out.data(), cast<double>(qkv).data(), B, T, NH, HS, &cpu);

    const AttnShape shape{B, T, NH, HS};
    DeviceBuffer<char> scratch(attention_reference_scratch_bytes(shape, false));
    const AttnReferenceScratch sc = attention_reference_scratch_at(scratch.ptr, shape, false);
    DeviceBuffer<__nv_bfloat16> dqkv_in(qkv), plain(nout), with(nout);
    attention_reference_forward(nullptr, spec, shape, sc, plain, dqkv_in);
    attention_reference_forward(nullptr, spec, shape, sc, with, dqkv_in);
    attention_reference_stats(nullptr, spec, shape, sc, gpu);
    const std::vector<float> o1 = plain.download(), o2 = with.download();
    EXPECT_EQ(std::memcmp(o1.data(), o2.data(), o1.size() * sizeof(float)), 0) << a;
    for (int set = 0; set < cpu.sets(); set++)
      for (int h = 0; h < NH; h++)
        for (int b = 0; b < cpu.buckets(); b++) {
          const AttnStatCell &x = cpu.cell((AttnStatSet)set, h, b), &y = gpu.cell((AttnStatSet)set, h, b);
          ASSERT_EQ(x.rows, y.rows);
          ASSERT_EQ(x.empty, y.empty) << a;
          EXPECT_NEAR(x.mean_entropy(), y.mean_entropy(), 1e-3) << a << " p=" << p << " set " << set << " head " << h
                                                                << " bucket " << b;
          EXPECT_NEAR(x.mean_sink(), y.mean_sink(), 1e-3) << a;
          EXPECT_NEAR(x.mean_max(), y.mean_max(), 1e-3) << a;
          EXPECT_NEAR(x.mean_mass(), y.mean_mass(), 1e-3 * std::max(1.0, x.mean_mass())) << a;
        }
  }
}

// 124M at T = 1024 with a realistic micro-batch fits: the scratch is O(B·NH·T·HS), no (T, T).
TEST(AttentionReferenceScratch, IsLinearInT) {
  const AttnShape a{16, 1024, 12, 64}, b{16, 2048, 12, 64};
  EXPECT_EQ(attention_reference_scratch_bytes(b, true), 2 * attention_reference_scratch_bytes(a, true));
  EXPECT_LT(attention_reference_scratch_bytes(a, true), 1ull << 30);  // < 1 GiB per (B=16, T=1024) pass
}

}  // namespace
