// Host-side planning for the CUDA backend: see cuda_plan.h.
#include "model/cuda/cuda_plan.h"

#include <algorithm>

#include "attention/cuda/flash_plan.h"

#include "runtime/error.h"

namespace lssa {

namespace {
size_t round256(size_t b) { return (b + 255) / 256 * 256; }
struct Planner {
  MemoryPlan plan;
  void add(const char* name, size_t bytes) {
    plan.buffers.push_back({name, round256(bytes)});
    plan.total += round256(bytes);
  }
};
}  // namespace

size_t MemoryPlan::offset_of(const std::string& name) const {
  size_t at = 0;
  for (const BufferPlan& b : buffers) {
    if (b.name == name) return at;
    at += b.bytes;
  }
  fail("internal: no buffer '" + name + "' in the memory plan");
}

size_t MemoryPlan::bytes_of(const std::string& name) const {
  for (const BufferPlan& b : buffers)
    if (b.name == name) return b.bytes;
  fail("internal: no buffer '" + name + "' in the memory plan");
}

MemoryPlan plan_parameter_memory(const GPT2Config& cfg) {
  const size_t P = param_offsets(cfg).total;
  Planner p;
  p.add("params_bf16", P * kBf16Bytes);
  p.add("master", P * kF32Bytes);
  p.add("grads", P * kF32Bytes);
  p.add("adam_m", P * kF32Bytes);
  p.add("adam_v", P * kF32Bytes);
  return p.plan;
}

namespace {
// How many copies of the forward's buffers a plan keeps: the one list of forward buffers below
// serves the training plan (every layer stored for the backward) and the forward-only plan of
// evaluation (one layer's buffers reused layer after layer, logits in chunks).
struct ForwardCopies {
  size_t layers;      // per-layer activations (ln1 … fch_gelu): L when training, else 1
  size_t residuals;   // layer outputs (residual3): L in the training plan, 1 in evaluation
  size_t logit_rows;  // rows of logits and ce_stats: B·T, or kEvalLogitRows at a time
};

void add_forward_buffers(Planner& p, const GPT2Config& cfg, int B, int T, const ForwardCopies& n) {
  const size_t BT = (size_t)B * T, C = cfg.C, Vp = cfg.Vp, HS = cfg.HS(), Ls = n.layers;
  p.add("tokens", BT * sizeof(int));
  p.add("targets", BT * sizeof(int));
  p.add("rope_cos", (size_t)T * (HS / 2) * kF32Bytes);  // (T, HS/2)
  p.add("rope_sin", (size_t)T * (HS / 2) * kF32Bytes);
  p.add("encoded", BT * C * kBf16Bytes);            // (B, T, C)
  p.add("ln1", Ls * BT * C * kBf16Bytes);           // (Ls, B, T, C)
  p.add("ln1_mean", Ls * BT * kF32Bytes);           // (Ls, B, T)
  p.add("ln1_rstd", Ls * BT * kF32Bytes);
  p.add("qkv", Ls * BT * 3 * C * kBf16Bytes);       // (Ls, B, T, 3C), post-RoPE
  p.add("atty", Ls * BT * C * kBf16Bytes);          // (Ls, B, T, C)
  p.add("residual2", Ls * BT * C * kBf16Bytes);
  p.add("ln2", Ls * BT * C * kBf16Bytes);
  p.add("ln2_mean", Ls * BT * kF32Bytes);
  p.add("ln2_rstd", Ls * BT * kF32Bytes);
  p.add("fch", Ls * BT * 4 * C * kBf16Bytes);       // (Ls, B, T, 4C) pre-GELU
  p.add("fch_gelu", Ls * BT * 4 * C * kBf16Bytes);
  p.add("residual3", n.residuals * BT * C * kBf16Bytes);  // layer outputs (the next layer's input)
  p.add("lnf", BT * C * kBf16Bytes);
  p.add("lnf_mean", BT * kF32Bytes);
  p.add("lnf_rstd", BT * kF32Bytes);
  p.add("logits", n.logit_rows * Vp * kBf16Bytes);  // (rows, Vp); dlogits in place in the backward
  p.add("losses", BT * kF32Bytes);                  // (B, T)
  p.add("ce_stats", n.logit_rows * 2 * kF32Bytes);  // (rows, 2): row max, Σ exp
  p.add("scratch", BT * C * kBf16Bytes);            // (B, T, C) projection outputs
}

// The reference attention's forward scratch: fp32 head-major q̂, k̂, v (B, NH, T, HS) and their
// norms (B, NH, T).
void add_reference_attention_forward(Planner& p, size_t BT, size_t NH, size_t HS) {
  p.add("attn_q", BT * NH * HS * kF32Bytes);
  p.add("attn_k", BT * NH * HS * kF32Bytes);
  p.add("attn_v", BT * NH * HS * kF32Bytes);
  p.add("attn_qdiv", BT * NH * kF32Bytes);
  p.add("attn_kdiv", BT * NH * kF32Bytes);
}
}  // namespace

MemoryPlan plan_activation_memory(const GPT2Config& cfg, int B, int T, bool training) {
  const size_t BT = (size_t)B * T, C = cfg.C, NH = cfg.NH, HS = cfg.HS();
  Planner p;
  add_forward_buffers(p, cfg, B, T, {training ? (size_t)cfg.L : 1, (size_t)cfg.L, BT});
  add_reference_attention_forward(p, BT, NH, HS);
  if (training) {
    p.add("attn_dout", BT * NH * HS * kF32Bytes);   // (B, NH, T, HS) effective dO (relu_shen: through LN)
    p.add("attn_rowstats", BT * NH * 8 * kF32Bytes); // (B, NH, T, 8) per-row reductions
    p.add("dresidual", BT * C * kBf16Bytes);        // (B, T, C)
    p.add("dln", BT * C * kBf16Bytes);
    p.add("datt", BT * C * kBf16Bytes);
    p.add("dbig", BT * 4 * C * kBf16Bytes);         // (B, T, 4C)
    p.add("dbig2", BT * 4 * C * kBf16Bytes);
    p.add("dqkv", BT * 3 * C * kBf16Bytes);         // (B, T, 3C)
    p.add("colsum_partial", ((BT + kColSumRows - 1) / kColSumRows) * 4 * C * kF32Bytes);  // (chunks, ≤ 4C)
    p.add("tok_ids", BT * sizeof(int));             // encoder backward buckets
    p.add("tok_start", (BT + 1) * sizeof(int));
    p.add("tok_pos", BT * sizeof(int));
  }
  return p.plan;
}

MemoryPlan plan_eval_parameter_memory(const GPT2Config& cfg) {
  const size_t P = param_offsets(cfg).total;
  Planner p;
  p.add("params_bf16", P * kBf16Bytes);
  p.add("upload_staging", std::min(P, kEvalUploadFloats) * kF32Bytes);
  return p.plan;
}

MemoryPlan plan_eval_activation_memory(const GPT2Config& cfg, int B, int T) {
  const size_t BT = (size_t)B * T, NH = cfg.NH, HS = cfg.HS();
  Planner p;
  add_forward_buffers(p, cfg, B, T, {1, 1, std::min(BT, (size_t)kEvalLogitRows)});
  const AttnSpec spec = cfg.attn_spec();
  if (flash_route(spec, (int)HS).impl == AttnImpl::Fused) {
    const size_t ws = flash_buffer_sizes(spec, B, T, (int)NH, (int)HS).fwd_workspace;
    p.add("attn_fused_ws", std::max<size_t>(ws, 1));  // LSSA: k̂ (B, T, C) bf16 + 1/‖q‖ (B, NH, T)
  } else {
    add_reference_attention_forward(p, BT, NH, HS);
  }
  return p.plan;
}

MemoryPlan plan_without_attention(const MemoryPlan& plan) {
  MemoryPlan out;
  for (const BufferPlan& b : plan.buffers) {
    if (b.name.rfind("attn_", 0) == 0) continue;
    out.buffers.push_back(b);
    out.total += b.bytes;
  }
  return out;
}

EvalMemory eval_memory(const GPT2Config& cfg, int B, int T) {
  EvalMemory m;
  const MemoryPlan a = plan_eval_activation_memory(cfg, B, T);
  m.params = plan_eval_parameter_memory(cfg).total;
  m.activations = a.total;
  for (const BufferPlan& b : a.buffers) {
    if (b.name.rfind("attn_", 0) == 0) m.attention += b.bytes;
    if (b.name == "logits" || b.name == "ce_stats") m.logits += b.bytes;
    if (b.name == "attn_fused_ws") m.fused = true;
  }
  return m;
}

std::string gpu_oom_message(const std::string& what, size_t asked, size_t free_bytes, size_t total_bytes, int B,
                            int T) {
  const double GiB = 1024.0 * 1024.0 * 1024.0;
  return strfmt("out of GPU memory: the CUDA backend needs %.2f GiB for %s (B=%d, T=%d), the GPU has %.2f GiB free "
                "of %.2f GiB; try a smaller --batch (gradient accumulation keeps the total batch)",
                asked / GiB, what.c_str(), B, T, free_bytes / GiB, total_bytes / GiB);
}

std::vector<ParamRange> adamw_ranges(const std::vector<ParamTensor>& layout) {
  std::vector<ParamTensor> sorted = layout;
  std::sort(sorted.begin(), sorted.end(), [](const ParamTensor& a, const ParamTensor& b) { return a.offset < b.offset; });
  std::vector<ParamRange> out;
  for (const ParamTensor& t : sorted) {
    if (!out.empty() && out.back().decay == t.decay && out.back().offset + out.back().numel == t.offset)
      out.back().numel += t.numel;
    else
      out.push_back({t.offset, t.numel, t.decay});
  }
  return out;
}

TokenBuckets bucket_tokens(const int* tokens, int N) {
  std::vector<int> order(N);
  for (int i = 0; i < N; i++) order[i] = i;
  // stable: positions of one token stay ascending, so the summation order is fixed
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return tokens[a] < tokens[b]; });
  TokenBuckets tb;
  tb.pos = order;
  for (int i = 0; i < N; i++) {
    if (i == 0 || tokens[order[i]] != tokens[order[i - 1]]) {
      tb.ids.push_back(tokens[order[i]]);
      tb.start.push_back(i);
    }
  }
  tb.start.push_back(N);
  return tb;
}

}  // namespace lssa
