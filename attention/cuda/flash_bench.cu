// flash_bench: times the production fused attention kernels (flash_attention_forward /
// flash_attention_backward; --atomic-dq: the opt-in atomic dq) or, with --impl reference, the
// per-row GPU reference path, for one variant and shape, and prints one JSON line:
//   {"impl":"fused","variant":..,"p":..,"B":..,"T":..,"NH":..,"HS":..,"dq":..,"fwd_ms":..,"bwd_ms":..,
//    "fwd_tflops":..,"bwd_tflops":..,"peak_bytes":..}
// FLOPs as FlashAttention counts them (flash_plan.h). peak_bytes: device memory of everything
// the pass touches (qkv, out, dout, dqkv, saved statistics, Õ2, workspaces) measured with
// cudaMemGetInfo around the allocations — the kernels allocate nothing themselves.
// Used by scripts/bench_attention.sh. Needs a CUDA device.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "attention/cuda/attention_reference.h"
#include "attention/cuda/flash_attention.h"
#include "attention/registry.h"
#include "runtime/error.h"

using namespace lssa;

namespace {

struct BenchArgs {
  std::string variant = "lssa";  // --attn NAME
  float p = 0.f;                 // --reweight-p
  int B = 16, T = 1024, NH = 12, HS = 64;
  int warmup = 3, iters = 10;
  bool atomic_dq = false;  // dq by fp32 atomics instead of the deterministic dq pass
  std::string impl = "fused";  // fused | reference (the per-row GPU reference path, same shapes)
};

void cuda_ok(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(strfmt("%s: %s", what, cudaGetErrorString(e)));
}

BenchArgs parse(int argc, char** argv) {
  BenchArgs a;
  for (int i = 1; i < argc; i++) {
    std::string k = argv[i];
    if (k == "-h" || k == "--help") {
      std::printf("usage: flash_bench --attn NAME [--reweight-p P] [--B B] [--T T] [--NH NH] [--HS HS] "
                  "[--warmup N] [--iters N] [--atomic-dq] [--impl fused|reference]\n");
      std::exit(0);
    }
    if (k == "--atomic-dq") {
      a.atomic_dq = true;
      continue;
    }
    if (i + 1 >= argc) fail("missing value after " + k);
    std::string v = argv[++i];
    if (k == "--attn") a.variant = v;
    else if (k == "--reweight-p") a.p = std::stof(v);
    else if (k == "--B") a.B = std::stoi(v);
    else if (k == "--T") a.T = std::stoi(v);
    else if (k == "--NH") a.NH = std::stoi(v);
    else if (k == "--HS") a.HS = std::stoi(v);
    else if (k == "--warmup") a.warmup = std::stoi(v);
    else if (k == "--iters") a.iters = std::stoi(v);
    else if (k == "--impl") a.impl = v;
    else fail("unknown option " + k);
  }
  if (a.B <= 0 || a.T <= 0 || a.NH <= 0 || a.iters <= 0) fail("shapes and --iters must be positive");
  if (a.impl != "fused" && a.impl != "reference") fail("--impl must be fused or reference, got '" + a.impl + "'");
  return a;
}

// Median time (ms) of `iters` runs of f after `warmup` runs.
template <typename F>
double time_ms(F f, int warmup, int iters) {
  cudaEvent_t a, b;
  cuda_ok(cudaEventCreate(&a), "event");
  cuda_ok(cudaEventCreate(&b), "event");
  for (int i = 0; i < warmup; i++) f();
  std::vector<float> ms(iters);
  for (int i = 0; i < iters; i++) {
    cuda_ok(cudaEventRecord(a), "record");
    f();
    cuda_ok(cudaEventRecord(b), "record");
    cuda_ok(cudaEventSynchronize(b), "sync");
    cuda_ok(cudaEventElapsedTime(&ms[i], a, b), "elapsed");
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[iters / 2];
}

int run(const BenchArgs& a) {
  AttnOptions opt;
  opt.reweight_p = a.p;
  const AttnSpec spec = attn_resolve(a.variant, opt, a.T);
  const bool fused = a.impl == "fused";
  FlashAttnParams p;
  if (fused) p = flash_params_init(spec, a.B, a.T, a.NH, a.HS);
  p.deterministic = !a.atomic_dq;
  const AttnShape shape{a.B, a.T, a.NH, a.HS};
  const size_t C = (size_t)a.NH * a.HS, tok = (size_t)a.B * a.T;
  const FlashBufferSizes sz = flash_buffer_sizes(spec, a.B, a.T, a.NH, a.HS);

  size_t free0 = 0, total = 0, free1 = 0;
  cuda_ok(cudaMemGetInfo(&free0, &total), "cudaMemGetInfo");
  std::vector<void*> bufs;
  auto alloc = [&](size_t bytes) -> void* {
    if (!bytes) return nullptr;
    void* ptr = nullptr;
    cuda_ok(cudaMalloc(&ptr, bytes), "cudaMalloc");
    bufs.push_back(ptr);
    return ptr;
  };
  void* qkv = alloc(tok * 3 * C * 2);
  p.qkv = (const __nv_bfloat16*)qkv;
  p.out = (__nv_bfloat16*)alloc(tok * C * 2);
  void* dout = alloc(tok * C * 2);
  p.dout = (const __nv_bfloat16*)dout;
  p.dqkv = (__nv_bfloat16*)alloc(tok * 3 * C * 2);
  p.stats = fused ? (float*)alloc(sz.stats) : nullptr;
  p.o2 = fused ? (__nv_bfloat16*)alloc(sz.o2) : nullptr;
  AttnReferenceScratch ref_scratch;
  if (fused) {
    p.fwd_workspace = alloc(sz.fwd_workspace);
    p.bwd_workspace = alloc(sz.bwd_workspace);
  } else {
    ref_scratch = attention_reference_scratch_at(alloc(attention_reference_scratch_bytes(shape, true)), shape, true);
  }
  cuda_ok(cudaMemGetInfo(&free1, &total), "cudaMemGetInfo");

  // inputs: N(0,1)-like bf16 values from a fixed LCG (timing does not depend on them much)
  std::vector<uint16_t> h(tok * 3 * C);
  uint32_t s = 12345;
  for (auto& x : h) {
    s = s * 1664525u + 1013904223u;
    float f = ((s >> 8) * (1.f / 16777216.f) - 0.5f) * 3.4f;  // uniform, variance ≈ 1
    uint32_t u;
    std::memcpy(&u, &f, 4);
    x = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
  }
  cuda_ok(cudaMemcpy(qkv, h.data(), h.size() * 2, cudaMemcpyHostToDevice), "copy");
  cuda_ok(cudaMemcpy(dout, h.data(), tok * C * 2, cudaMemcpyHostToDevice), "copy");

  auto run_fwd = [&] {
    if (fused) flash_attention_forward(p, 0);
    else attention_reference_forward(0, spec, shape, ref_scratch, p.out, p.qkv);
  };
  auto run_bwd = [&] {
    if (fused) flash_attention_backward(p, 0);
    else attention_reference_backward(0, spec, shape, ref_scratch, p.dqkv, p.dout, p.qkv);
  };
  const double fwd = time_ms(run_fwd, a.warmup, a.iters);
  const double bwd = time_ms(run_bwd, a.warmup, a.iters);
  cuda_ok(cudaDeviceSynchronize(), "sync");
  const double ffwd = flash_flops_fwd(a.B, a.T, a.NH, a.HS), fbwd = flash_flops_bwd(a.B, a.T, a.NH, a.HS);
  std::printf(
      "{\"impl\":\"%s\",\"variant\":\"%s\",\"p\":%g,\"B\":%d,\"T\":%d,\"NH\":%d,\"HS\":%d,\"dq\":\"%s\",\"fwd_ms\":%.5f,"
      "\"bwd_ms\":%.5f,\"fwd_tflops\":%.2f,\"bwd_tflops\":%.2f,\"peak_bytes\":%zu}\n",
      a.impl.c_str(), a.variant.c_str(), spec.reweight_p, a.B, a.T, a.NH, a.HS, a.atomic_dq ? "atomic" : "deterministic", fwd, bwd, ffwd / fwd * 1e-9, fbwd / bwd * 1e-9,
      free0 - free1);
  for (void* b : bufs) cudaFree(b);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
