// Every CUDA layer of model/cuda against the CPU layer of model/layers_cpu.h (fp64 on the
// bf16-rounded inputs), forward and backward, over several shapes. Tolerances: see
// gpu_test_util.h (bf16 outputs ≤ 2 × the bf16 storage error of the exact result; fp32 outputs
// ≤ kF32Floor). Skips without a CUDA device.
#include <gtest/gtest.h>

#include "model/cuda/cuda_plan.h"
#include "model/cuda/layers_cuda.h"
#include "model/layers_cpu.h"
#include "runtime/cuda_common.cuh"
#include "test/model/cuda/gpu_test_util.h"

using namespace lssa;
using namespace lssa::test;

namespace {

class CudaLayers : public ::testing::Test {
 protected:
  void SetUp() override {
    LSSA_REQUIRE_GPU();
    std::string why;
    ASSERT_TRUE(ctx.open(&why)) << why;
  }
  DeviceContext ctx;
};

// bf16 output vs fp64 reference
#define EXPECT_BF16_CLOSE(gpu, ref, what)                                                     \
  do {                                                                                        \
    const double err_ = rel_l2(gpu, ref), floor_ = bf16_floor(ref);                           \
    EXPECT_LE(err_, kBf16Multiple * floor_ + 1e-7) << what << ": bf16 floor " << floor_;     \
  } while (0)
#define EXPECT_F32_CLOSE(gpu, ref, what) EXPECT_LE(rel_l2(gpu, ref), kF32Floor) << what

struct RowShape {
  int N, C;
};
const RowShape kRowShapes[] = {{1, 64}, {7, 64}, {129, 768}, {1000, 256}};

TEST_F(CudaLayers, EncoderForwardIsAGatherAndBackwardMatchesScatter) {
  for (auto [N, C] : kRowShapes) {
    const int Vp = 384;
    std::vector<int> tok(N);
    Rng rng(N);
    for (auto& t : tok) t = (int)rng.below(50);  // repeats: the backward's buckets hold many positions
    auto wte = random_bf16((size_t)Vp * C, 1);
    DeviceBuffer<int> dtok(tok);
    DeviceBuffer<bf16> dwte(wte), out((size_t)N * C);
    encoder_forward_cuda(ctx, out, dtok, dwte, N, C);
    std::vector<double> ref((size_t)N * C);
    encoder_forward(ref.data(), tok.data(), cast<double>(wte).data(), N, C);
    EXPECT_EQ(rel_l2(out.download(), ref), 0.0);

    auto dout = random_bf16((size_t)N * C, 2);
    auto g0 = random_bf16((size_t)Vp * C, 3, 0.1);  // accumulates into existing gradients
    std::vector<double> gref = cast<double>(g0);
    encoder_backward(gref.data(), cast<double>(dout).data(), tok.data(), N, C);
    TokenBuckets tb = bucket_tokens(tok.data(), N);
    DeviceBuffer<int> ids(tb.ids), start(tb.start), pos(tb.pos);
    DeviceBuffer<float> dg(g0);
    DeviceBuffer<bf16> ddout(dout);
    encoder_backward_cuda(ctx, dg, ddout, ids, start, pos, (int)tb.ids.size(), C);
    EXPECT_F32_CLOSE(dg.download(), gref, "dwte N=" << N);
  }
}

TEST_F(CudaLayers, LayerNormForwardAndFusedResidual) {
  for (auto [N, C] : kRowShapes) {
    auto x = random_bf16((size_t)N * C, 10, 2.0), w = random_bf16(C, 11), b = random_bf16(C, 12);
    std::vector<double> out((size_t)N * C), mean(N), rstd(N);
    layernorm_forward(out.data(), mean.data(), rstd.data(), cast<double>(x).data(), cast<double>(w).data(),
                      cast<double>(b).data(), N, C);
    DeviceBuffer<bf16> dx(x), dw(w), db(b), dout((size_t)N * C);
    DeviceBuffer<float> dmean(N), drstd(N);
    layernorm_forward_cuda(ctx, dout, dmean, drstd, dx, dw, db, N, C);
    EXPECT_BF16_CLOSE(dout.download(), out, "LN out N=" << N << " C=" << C);
    EXPECT_F32_CLOSE(drstd.download(), rstd, "LN rstd");
    EXPECT_LE(rel_l2(dmean.download(), mean), 1e-5);

    // fused: residual = bf16(a + b2), then LN of it
    auto a = random_bf16((size_t)N * C, 13), b2 = random_bf16((size_t)N * C, 14);
    std::vector<float> res((size_t)N * C);
    for (size_t i = 0; i < res.size(); i++) res[i] = bf16_round(a[i] + b2[i]);
    layernorm_forward(out.data(), mean.data(), rstd.data(), cast<double>(res).data(), cast<double>(w).data(),
                      cast<double>(b).data(), N, C);
    DeviceBuffer<bf16> da(a), db2(b2), dres((size_t)N * C);
    residual_layernorm_forward_cuda(ctx, dres, dout, dmean, drstd, da, db2, dw, db, N, C);
    EXPECT_EQ(rel_l2(dres.download(), res), 0.0) << "the residual is one bf16 rounding of a + b";
    EXPECT_BF16_CLOSE(dout.download(), out, "fused LN out");
  }
}

TEST_F(CudaLayers, LayerNormBackward) {
  for (auto [N, C] : kRowShapes) {
    auto x = random_bf16((size_t)N * C, 20, 2.0), w = random_bf16(C, 21), dy = random_bf16((size_t)N * C, 22);
    auto dx0 = random_bf16((size_t)N * C, 23), dw0 = random_bf16(C, 24), db0 = random_bf16(C, 25);
    std::vector<double> out((size_t)N * C), mean(N), rstd(N), b(C, 0.0);
    layernorm_forward(out.data(), mean.data(), rstd.data(), cast<double>(x).data(), cast<double>(w).data(), b.data(), N, C);
    std::vector<double> dx = cast<double>(dx0), dw = cast<double>(dw0), db = cast<double>(db0);
    layernorm_backward(dx.data(), dw.data(), db.data(), cast<double>(dy).data(), cast<double>(x).data(),
                       cast<double>(w).data(), mean.data(), rstd.data(), N, C);
    DeviceBuffer<bf16> ddx(dx0), ddy(dy), dxin(x), dwt(w);
    DeviceBuffer<float> ddw(dw0), ddb(db0), dmean(cast<float>(mean)), drstd(cast<float>(rstd));
    DeviceBuffer<float> partial((size_t)ceil_div(N, kColSumRows) * 2 * C);
    layernorm_backward_cuda(ctx, ddx, ddw, ddb, partial, ddy, dxin, dwt, dmean, drstd, N, C);
    EXPECT_BF16_CLOSE(ddx.download(), dx, "LN dinp N=" << N);
    // dw sums N products of bf16-rounded data in fp32; mean/rstd were rounded to fp32 (≈1e-7)
    EXPECT_F32_CLOSE(ddw.download(), dw, "LN dw N=" << N);
    EXPECT_F32_CLOSE(ddb.download(), db, "LN db N=" << N);
  }
}

struct MatShape {
  int N, IC, OC;
};
const MatShape kMatShapes[] = {{1, 64, 192}, {7, 64, 256}, {129, 768, 2304}, {1000, 256, 1024}};

TEST_F(CudaLayers, MatmulForwardWithBiasAndGeluEpilogues) {
  for (auto [N, IC, OC] : kMatShapes) {
    auto x = random_bf16((size_t)N * IC, 30), W = random_bf16((size_t)OC * IC, 31, 0.05), b = random_bf16(OC, 32);
    std::vector<double> ref((size_t)N * OC), g((size_t)N * OC);
    matmul_forward(ref.data(), cast<double>(x).data(), cast<double>(W).data(), cast<double>(b).data(), N, IC, OC);
    DeviceBuffer<bf16> dx(x), dW(W), db(b), out((size_t)N * OC), pre((size_t)N * OC);
    MatmulForward m;
    m.out = out, m.inp = dx, m.W = dW, m.bias = db, m.N = N, m.IC = IC, m.OC = OC;
    matmul_forward_cuda(ctx, m);
    EXPECT_BF16_CLOSE(out.download(), ref, "matmul+bias " << N << "x" << IC << "x" << OC);
    m.bias = nullptr;
    matmul_forward_cuda(ctx, m);
    std::vector<double> ref0((size_t)N * OC);
    matmul_forward(ref0.data(), cast<double>(x).data(), cast<double>(W).data(), (const double*)nullptr, N, IC, OC);
    EXPECT_BF16_CLOSE(out.download(), ref0, "matmul no bias");
    // GELU epilogue: out = gelu(x·Wᵀ + b), pre = x·Wᵀ + b. The GELU input is the bf16-rounded
    // pre-activation on the CPU side only if cuBLASLt rounds before GELU; it applies GELU in fp32,
    // so the reference is gelu of the exact pre-activation.
    m.bias = db, m.pre_gelu = pre, m.gelu = true;
    matmul_forward_cuda(ctx, m);
    gelu_forward(g.data(), ref.data(), N * OC);
    EXPECT_BF16_CLOSE(pre.download(), ref, "GELU epilogue pre-activation");
    EXPECT_BF16_CLOSE(out.download(), g, "GELU epilogue output");
  }
}

TEST_F(CudaLayers, MatmulBackwardAccumulatesFp32Gradients) {
  for (auto [N, IC, OC] : kMatShapes) {
    auto x = random_bf16((size_t)N * IC, 40), W = random_bf16((size_t)OC * IC, 41, 0.05), dy = random_bf16((size_t)N * OC, 42);
    auto dW0 = random_bf16((size_t)OC * IC, 43, 0.1), db0 = random_bf16(OC, 44);
    std::vector<double> dx((size_t)N * IC), dWr = cast<double>(dW0), dbr = cast<double>(db0);
    matmul_backward(dx.data(), dWr.data(), dbr.data(), cast<double>(dy).data(), cast<double>(x).data(),
                    cast<double>(W).data(), N, IC, OC);
    DeviceBuffer<bf16> dxin(x), dWt(W), ddy(dy), ddx((size_t)N * IC);
    DeviceBuffer<float> ddW(dW0), ddb(db0), partial((size_t)ceil_div(N, kColSumRows) * OC);
    MatmulBackward m;
    m.dinp = ddx, m.dW = ddW, m.dbias = ddb, m.partial = partial, m.dout = ddy, m.inp = dxin, m.W = dWt;
    m.N = N, m.IC = IC, m.OC = OC;
    matmul_backward_cuda(ctx, m);
    EXPECT_BF16_CLOSE(ddx.download(), dx, "dinp " << N << "x" << IC << "x" << OC);
    EXPECT_F32_CLOSE(ddW.download(), dWr, "dW " << N << "x" << IC << "x" << OC);
    EXPECT_F32_CLOSE(ddb.download(), dbr, "dbias");
  }
}

TEST_F(CudaLayers, GeluForwardBackward) {
  for (size_t n : {1ul, 7ul, 4097ul, 1000000ul}) {
    auto x = random_bf16(n, 50, 3.0), dy = random_bf16(n, 51);
    std::vector<double> y(n), dx(n);
    gelu_forward(y.data(), cast<double>(x).data(), (int)n);
    gelu_backward(dx.data(), cast<double>(x).data(), cast<double>(dy).data(), (int)n);
    DeviceBuffer<bf16> dxin(x), ddy(dy), out(n), ddx(n);
    gelu_forward_cuda(ctx, out, dxin, n);
    gelu_backward_cuda(ctx, ddx, dxin, ddy, n);
    EXPECT_BF16_CLOSE(out.download(), y, "gelu n=" << n);
    EXPECT_BF16_CLOSE(ddx.download(), dx, "gelu' n=" << n);
  }
}

TEST_F(CudaLayers, RopeForwardAndInverseIncludingNtk) {
  struct S {
    int B, T, NH, HS;
    RopeScaling sc;
    int T_train;
  };
  for (S s : {S{1, 1, 1, 64, RopeScaling::None, 64}, S{2, 7, 3, 64, RopeScaling::None, 64},
              S{1, 129, 2, 32, RopeScaling::Ntk, 64}, S{2, 1000, 2, 128, RopeScaling::Dynamic, 256},
              S{1, 300, 2, 64, RopeScaling::Yarn, 100}}) {
    const int C = s.NH * s.HS;
    auto qkv = random_bf16((size_t)s.B * s.T * 3 * C, 60);
    RopeTable tab;
    tab.build(s.sc, 10000.0, s.T, s.T_train, s.HS);
    DeviceBuffer<float> cs(tab.cos), sn(tab.sin);
    for (int dir : {+1, -1}) {
      std::vector<double> ref = cast<double>(qkv);
      rope_apply(ref.data(), tab, s.B, s.T, s.NH, s.HS, dir);
      DeviceBuffer<bf16> d(qkv);
      rope_apply_cuda(ctx, d, cs, sn, s.B, s.T, s.NH, s.HS, dir);
      EXPECT_BF16_CLOSE(d.download(), ref, "rope T=" << s.T << " dir=" << dir);
    }
  }
}

TEST_F(CudaLayers, FusedClassifierMatchesCrossEntropy) {
  for (auto [N, V] : {std::pair{1, 100}, {7, 1000}, {129, 50257}}) {
    const int Vp = padded_vocab(V);
    auto z = random_bf16((size_t)N * Vp, 70, 3.0);
    std::vector<int> tgt(N);
    Rng rng(71);
    for (auto& t : tgt) t = (int)rng.below(V);
    std::vector<double> loss(N), dz((size_t)N * Vp);
    crossentropy_forward(loss.data(), cast<double>(z).data(), tgt.data(), N, V, Vp);
    const double scale = 1.0 / N;
    crossentropy_backward(dz.data(), cast<double>(z).data(), tgt.data(), N, V, Vp, scale);
    DeviceBuffer<bf16> dlog(z);
    DeviceBuffer<int> dt(tgt);
    DeviceBuffer<float> dl(N), stats(2 * N);
    crossentropy_forward_cuda(ctx, dl, stats, dlog, dt, N, V, Vp);
    // the loss is an fp32 log-sum-exp over V terms: relative error ~1e-6
    EXPECT_F32_CLOSE(dl.download(), loss, "losses N=" << N << " V=" << V);
    crossentropy_backward_cuda(ctx, dlog, dlog, stats, dt, N, V, Vp, (float)scale);  // in place
    auto got = dlog.download();
    EXPECT_BF16_CLOSE(got, dz, "dlogits");
    for (int i = 0; i < N; i++)
      for (int v = V; v < Vp; v++) ASSERT_EQ(got[(size_t)i * Vp + v], 0.f) << "padding column " << v;
  }
}

TEST_F(CudaLayers, AdamWMatchesTheCpuUpdate) {
  const size_t n = 100003;
  auto p = random_bf16(n, 80), g = random_bf16(n, 81, 0.01), m = random_bf16(n, 82, 0.001);
  std::vector<float> v(n);
  for (size_t i = 0; i < n; i++) v[i] = m[i] * m[i] * 2.f;
  const float lr = 6e-4f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gs = 0.5f;
  const int t = 7;
  const float c1 = 1.f - std::pow(b1, (float)t), c2 = 1.f - std::pow(b2, (float)t);
  std::vector<double> pr(n), mr(n), vr(n);
  for (size_t i = 0; i < n; i++) {  // Gpt2Cpu<double>::adamw_step's formula
    double gi = (double)g[i] * gs;
    mr[i] = b1 * (double)m[i] + (1 - (double)b1) * gi;
    vr[i] = b2 * (double)v[i] + (1 - (double)b2) * gi * gi;
    pr[i] = p[i] - lr * ((mr[i] / c1) / (std::sqrt(vr[i] / c2) + eps) + wd * (double)p[i]);
  }
  DeviceBuffer<float> dp(p), dg(g), dm(m), dv(v);
  DeviceBuffer<bf16> dpb(n);
  AdamWArgs a;
  a.master = dp, a.params = dpb, a.grads = dg, a.m = dm, a.v = dv, a.n = n;
  a.lr = lr, a.beta1 = b1, a.beta2 = b2, a.eps = eps, a.weight_decay = wd, a.grad_scale = gs;
  a.bias_corr1 = c1, a.bias_corr2 = c2;
  adamw_cuda(ctx, a);
  auto pg = dp.download();
  EXPECT_LE(rel_l2(pg, pr), 1e-6);  // fp32 element-wise: a few ulps
  EXPECT_LE(rel_l2(dm.download(), mr), 1e-6);
  EXPECT_LE(rel_l2(dv.download(), vr), 1e-6);
  auto pb = dpb.download();
  for (size_t i = 0; i < n; i++) ASSERT_EQ(pb[i], bf16_round(pg[i])) << i;  // bf16 copy = round(master)
}

TEST_F(CudaLayers, GlobalNormIsExactAndDeterministic) {
  for (size_t n : {1ul, 1000ul, 124475904ul / 16}) {
    auto g = random_bf16(n, 90, 1e-3);
    double ref = 0;
    for (float x : g) ref += (double)x * x;
    DeviceBuffer<float> dg(g);
    DeviceBuffer<double> out(1), partial(kNormBlocks);
    global_norm_squared_cuda(ctx, out, partial, dg, n);
    double a = 0, b = 0;
    cudaMemcpy(&a, out.ptr, sizeof(double), cudaMemcpyDeviceToHost);
    global_norm_squared_cuda(ctx, out, partial, dg, n);
    cudaMemcpy(&b, out.ptr, sizeof(double), cudaMemcpyDeviceToHost);
    EXPECT_NEAR(a, ref, 1e-12 * ref) << n;  // fp64 sums in another order
    EXPECT_EQ(std::memcmp(&a, &b, sizeof(double)), 0) << "bit-identical reruns";
  }
}

}  // namespace
