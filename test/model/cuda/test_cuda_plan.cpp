// Host-side pieces of the CUDA backend, tested without a GPU: the memory plan, the OOM message,
// AdamW's decay ranges, the encoder's token buckets, and the FLOPs / MFU formula (model/flops.h).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "model/cuda/cuda_plan.h"
#include "model/flops.h"
#include "runtime/error.h"

using namespace lssa;

static GPT2Config d12() {
  GPT2Config c;
  EXPECT_TRUE(gpt2_preset("d12", c));
  return c;
}

TEST(CudaPlan, ParameterMemoryIsBf16PlusFourFp32Copies) {
  GPT2Config c = d12();
  const size_t P = param_offsets(c).total;
  MemoryPlan p = plan_parameter_memory(c);
  EXPECT_GE(p.total, P * (2 + 4 * 4));
  EXPECT_LT(p.total, P * (2 + 4 * 4) + 5 * 256);  // only alignment padding on top
  EXPECT_EQ(p.bytes_of("grads"), (P * 4 + 255) / 256 * 256);  // fp32 gradients, never bf16
}

TEST(CudaPlan, ActivationsScaleWithBatchAndBuffersDoNotOverlap) {
  GPT2Config c = d12();
  MemoryPlan a = plan_activation_memory(c, 4, 1024, true), b = plan_activation_memory(c, 8, 1024, true);
  EXPECT_GT(b.total, 1.9 * a.total);
  EXPECT_LT(b.total, 2.01 * a.total);
  size_t at = 0;
  for (const BufferPlan& buf : a.buffers) {
    EXPECT_EQ(a.offset_of(buf.name), at) << buf.name;
    EXPECT_EQ(buf.bytes % 256, 0u) << buf.name;
    at += buf.bytes;
  }
  EXPECT_EQ(at, a.total);
  // qkv is (L, B, T, 3C) bf16; logits (B, T, Vp) bf16
  EXPECT_EQ(a.bytes_of("qkv"), (size_t)12 * 4 * 1024 * 3 * 768 * 2);
  EXPECT_EQ(a.bytes_of("logits"), (size_t)4 * 1024 * 50304 * 2);
  // 124M at T = 1024, B = 16 fits an 80 GB GPU with room to spare (< 24 GiB)
  EXPECT_LT(plan_activation_memory(c, 16, 1024, true).total, 24ull << 30);
  // inference keeps one layer's worth of most buffers
  EXPECT_LT(plan_activation_memory(c, 4, 1024, false).total, a.total / 2);
  EXPECT_THROW(a.offset_of("no_such_buffer"), Error);
}

TEST(CudaPlan, OutOfMemoryMessageIsOneLineWithAskedFreeAndHint) {
  std::string m = gpu_oom_message("the activations", 30ull << 30, 10ull << 30, 80ull << 30, 64, 1024);
  EXPECT_EQ(m.find('\n'), std::string::npos);
  EXPECT_NE(m.find("30.00 GiB"), std::string::npos) << m;
  EXPECT_NE(m.find("10.00 GiB free"), std::string::npos) << m;
  EXPECT_NE(m.find("B=64, T=1024"), std::string::npos) << m;
  EXPECT_NE(m.find("smaller --batch"), std::string::npos) << m;
}

TEST(CudaPlan, AdamWRangesCoverTheBufferOnceWithTheRightDecay) {
  GPT2Config c = d12();
  auto layout = param_layout(c);
  auto ranges = adamw_ranges(layout);
  // grouped layout: wte(d) ln1w ln1b(n) qkvw(d) qkvb(n) attprojw(d) attprojb ln2w ln2b(n) fcw(d) fcb(n)
  // fcprojw(d) fcprojb lnfw lnfb(n) → 10 alternating runs
  EXPECT_EQ(ranges.size(), 10u);
  size_t at = 0;
  for (size_t i = 0; i < ranges.size(); i++) {
    EXPECT_EQ(ranges[i].offset, at);
    if (i) {
      EXPECT_NE(ranges[i].decay, ranges[i - 1].decay);
    }
    at += ranges[i].numel;
  }
  EXPECT_EQ(at, param_offsets(c).total);
  for (const ParamTensor& t : layout)
    for (const ParamRange& r : ranges)
      if (t.offset >= r.offset && t.offset < r.offset + r.numel) {
        EXPECT_EQ(t.decay, r.decay) << t.name;
      }
}

TEST(CudaPlan, TokenBucketsGroupPositionsInOrder) {
  const int tokens[] = {5, 3, 5, 7, 3, 5};
  TokenBuckets b = bucket_tokens(tokens, 6);
  EXPECT_EQ(b.ids, (std::vector<int>{3, 5, 7}));
  EXPECT_EQ(b.start, (std::vector<int>{0, 2, 5, 6}));
  EXPECT_EQ(b.pos, (std::vector<int>{1, 4, 0, 2, 5, 3}));
  TokenBuckets e = bucket_tokens(nullptr, 0);
  EXPECT_TRUE(e.ids.empty());
  EXPECT_EQ(e.start, (std::vector<int>{0}));
}

TEST(Flops, FormulaFor124M) {
  GPT2Config c = d12();
  // L·(24C² + 4C·(T+1)/2) + 2C·Vp, by hand for d12 at T = 1024
  const double fwd = 12.0 * (24.0 * 768 * 768 + 4.0 * 768 * 512.5) + 2.0 * 768 * 50304;
  EXPECT_DOUBLE_EQ(model_forward_flops_per_token(c, 1024), fwd);
  EXPECT_DOUBLE_EQ(model_train_flops_per_token(c, 1024), 3 * fwd);
  // ≈ 6·(non-embedding params + classifier): 124M-class models are ~0.75 GFLOP/token
  EXPECT_GT(model_train_flops_per_token(c, 1024), 0.7e9);
  EXPECT_LT(model_train_flops_per_token(c, 1024), 0.9e9);
  // attention grows with T
  EXPECT_GT(model_forward_flops_per_token(c, 4096), model_forward_flops_per_token(c, 1024));
}

TEST(Flops, PeakTableAndMfu) {
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA A100-SXM4-80GB"), 312.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA A100-PCIE-40GB"), 312.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA H100 80GB HBM3"), 989.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA H100 PCIe"), 756.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA H200"), 989.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA L40S"), 362.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA L4"), 121.0);
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA GeForce RTX 3090"), 0.0);  // unknown → no MFU
  EXPECT_EQ(gpu_peak_bf16_tflops("NVIDIA H100"), 0.0);              // form factor unknown → no guess
  EXPECT_EQ(gpu_peak_bf16_tflops(""), 0.0);
  GPT2Config c = d12();
  const double f = model_train_flops_per_token(c, 1024);
  // tokens/s that would exactly saturate 989 TFLOP/s → MFU 1
  EXPECT_NEAR(model_mfu(c, 1024, 989e12 / f, 989.0), 1.0, 1e-12);
  EXPECT_NEAR(model_mfu(c, 1024, 0.4 * 989e12 / f, 989.0), 0.4, 1e-12);
  EXPECT_EQ(model_mfu(c, 1024, 1e6, 0.0), 0.0);
}

// The reference attention's scratch is planned once, inside the activation plan, with the
// layout AttnReferenceScratch expects (q, k, v (B, NH, T, HS) fp32; qdiv, kdiv (B, NH, T);
// training: dout (B, NH, T, HS), rowstats (B, NH, T, 8)) — the backend allocates exactly
// plan.total (it used to allocate the scratch a second time behind the plan).
TEST(CudaPlan, ReferenceAttentionScratchIsPlannedOnce) {
  GPT2Config c = d12();
  const size_t B = 2, T = 512, rows = B * c.NH * T, HS = c.HS();
  for (bool training : {true, false}) {
    MemoryPlan a = plan_activation_memory(c, (int)B, (int)T, training);
    std::map<std::string, int> seen;
    for (const BufferPlan& b : a.buffers) seen[b.name]++;
    for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << name << " planned " << n << " times";
    EXPECT_EQ(a.bytes_of("attn_q"), rows * HS * 4);
    EXPECT_EQ(a.bytes_of("attn_k"), rows * HS * 4);
    EXPECT_EQ(a.bytes_of("attn_v"), rows * HS * 4);
    EXPECT_EQ(a.bytes_of("attn_qdiv"), rows * 4);
    EXPECT_EQ(a.bytes_of("attn_kdiv"), rows * 4);
    if (training) {
      EXPECT_EQ(a.bytes_of("attn_dout"), rows * HS * 4);
      EXPECT_EQ(a.bytes_of("attn_rowstats"), rows * 8 * 4);
    } else {
      EXPECT_EQ(seen.count("attn_dout"), 0u);
    }
  }
}

// Forward-only evaluation of GPT-2 124M on one 16K-token window fits well under 8 GB: bf16
// weights, one layer's activations, a 1024-position logits chunk, the fused attention's O(T)
// workspace. (The training plan of the same window needed ≈ 9.6 GB before gradients and AdamW.)
TEST(CudaPlan, EvaluationOf124MAt16KTokensPlansUnder8GB) {
  GPT2Config c = d12();
  for (const char* attn : {"softmax", "lssa", "lssar", "relu_shen"}) {  // fused ×3, reference ×1
    c.attn = attn;
    const EvalMemory m = eval_memory(c, 1, 16384);
    EXPECT_LT(m.total(), 8'000'000'000ull) << attn;
    EXPECT_LT(m.total(), 2ull << 30) << attn << ": the plan is 0.9-1.0 GB; a regression shows here";
    EXPECT_EQ(m.fused, std::string(attn) != "relu_shen") << attn;
    const size_t P = param_offsets(c).total;
    EXPECT_EQ(m.params, (P * 2 + 255) / 256 * 256 + kEvalUploadFloats * 4) << "bf16 weights + staging only";
    EXPECT_EQ(m.logits, (size_t)kEvalLogitRows * c.Vp * 2 + kEvalLogitRows * 2 * 4) << "one chunk of logits";
  }
  // nothing scales with the number of layers, and the training plan of the same window is larger
  GPT2Config deep = d12();
  deep.L = 48;
  EXPECT_EQ(plan_eval_activation_memory(deep, 1, 16384).total, plan_eval_activation_memory(d12(), 1, 16384).total);
  EXPECT_GT(plan_activation_memory(d12(), 1, 16384, true).total, 5 * plan_eval_activation_memory(d12(), 1, 16384).total);
  // the logits chunk is bounded by the window: no (B·T, Vp) buffer at any length
  for (int T : {100, 1024, 65536}) {
    const MemoryPlan a = plan_eval_activation_memory(d12(), 1, T);
    EXPECT_EQ(a.bytes_of("logits"), ((size_t)std::min(T, kEvalLogitRows) * 50304 * 2 + 255) / 256 * 256);
    EXPECT_EQ(a.bytes_of("losses"), ((size_t)T * 4 + 255) / 256 * 256);
  }
}
