// GPT-2 + RoPE on one GPU: see gpt2_cuda.h for the data flow and precisions, and
// model/gpt2_cpu.cpp for the same pass on the CPU (the reference this file mirrors).
#include "model/cuda/gpt2_cuda.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/cuda/attention_cuda.h"
#include "model/rope.h"
#include "runtime/error.h"

namespace lssa {

Gpt2Cuda::Gpt2Cuda(const GPT2Config& cfg, std::unique_ptr<DeviceContext> ctx, ModelUse use)
    : cfg_(cfg),
      use_(use),
      spec_(cfg.attn_spec()),
      attn_(&attention_select(cfg.attn_impl, {&attention_cuda_fused(), &attention_cuda_reference()}, spec_,
                              {0, cfg.T_train, cfg.NH, cfg.HS()}, AttnDType::BF16, cfg.attn_stats)),
      off_(param_offsets(cfg)),
      ranges_(adamw_ranges(param_layout(cfg))),
      ctx_(std::move(ctx)) {
  fuse_gelu_ = ctx_->prop.major >= 9;
  shard_ = {0, off_.total};
  if (use_ == ModelUse::Evaluate) {  // bf16 weights + the upload staging buffer, nothing else
    const MemoryPlan plan = plan_eval_parameter_memory(cfg_);
    param_mem_ = device_alloc(plan.total, "the bf16 parameters", 0, 0);
    params_ = (bf16*)((char*)param_mem_ + plan.offset_of("params_bf16"));
    staging_ = (float*)((char*)param_mem_ + plan.offset_of("upload_staging"));
    CUDA_CHECK(cudaMemsetAsync(param_mem_, 0, plan.total, ctx_->stream));
    return;
  }
  const MemoryPlan plan = plan_parameter_memory(cfg_);
  const size_t norm_bytes = (kNormBlocks + 1) * sizeof(double);
  param_mem_ = device_alloc(plan.total + norm_bytes, "the parameters, gradients and AdamW state", 0, 0);
  char* base = (char*)param_mem_;
  params_ = (bf16*)(base + plan.offset_of("params_bf16"));
  master_ = (float*)(base + plan.offset_of("master"));
  grads_ = (float*)(base + plan.offset_of("grads"));
  adam_m_ = (float*)(base + plan.offset_of("adam_m"));
  adam_v_ = (float*)(base + plan.offset_of("adam_v"));
  norm_scratch_ = (double*)(base + plan.total);
  CUDA_CHECK(cudaMemsetAsync(param_mem_, 0, plan.total, ctx_->stream));
}

Gpt2Cuda::~Gpt2Cuda() {
  if (act_mem_) cudaFree(act_mem_);
  if (param_mem_) cudaFree(param_mem_);
}

void Gpt2Cuda::ensure_acts(int B, int T) {
  B_ = B;
  T_ = T;
  if (B == plan_B_ && T == plan_T_) return;
  const bool train = use_ == ModelUse::Train;
  // Everything but attention from the plan; the attention's memory from the implementation that
  // runs it (the plan's attn_* entries describe it for --plan, and are not allocated twice).
  const MemoryPlan plan = plan_without_attention(train ? plan_activation_memory(cfg_, B, T, /*training=*/true)
                                                       : plan_eval_activation_memory(cfg_, B, T));
  const AttnShape shape{B, T, cfg_.NH, cfg_.HS()};
  attn_ws_ = attn_->workspace(spec_, shape, train);
  attn_ws_.saved = (attn_ws_.saved + 255) & ~size_t(255);  // each layer's part 256-B aligned
  const size_t attn_bytes = (train ? (size_t)cfg_.L * attn_ws_.saved : 0) + attn_ws_.scratch;
  const size_t total = plan.total + attn_bytes;
  if (total > act_cap_) {
    ctx_->synchronize();
    if (act_mem_) cudaFree(act_mem_);
    act_mem_ = nullptr;
    act_cap_ = 0;
    size_t free_b = 0, total_b = 0;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    if (total > free_b) fail(gpu_oom_message("the activations", total, free_b, total_b, B, T));
    act_mem_ = device_alloc(total, "the activations", B, T);
    act_cap_ = total;
  }
  char* base = (char*)act_mem_;
  auto at = [&](const char* name) { return (void*)(base + plan.offset_of(name)); };
  auto at_if = [&](const char* name) -> void* {  // buffers only one of the plans has
    for (const BufferPlan& b : plan.buffers)
      if (b.name == name) return at(name);
    return nullptr;
  };
  Acts& a = a_;
  a = Acts{};
  a.tokens = (int*)at("tokens");
  a.targets = (int*)at("targets");
  a.rope_cos = (float*)at("rope_cos");
  a.rope_sin = (float*)at("rope_sin");
  a.encoded = (bf16*)at("encoded");
  a.ln1 = (bf16*)at("ln1");
  a.ln1_mean = (float*)at("ln1_mean");
  a.ln1_rstd = (float*)at("ln1_rstd");
  a.qkv = (bf16*)at("qkv");
  a.atty = (bf16*)at("atty");
  a.residual2 = (bf16*)at("residual2");
  a.ln2 = (bf16*)at("ln2");
  a.ln2_mean = (float*)at("ln2_mean");
  a.ln2_rstd = (float*)at("ln2_rstd");
  a.fch = (bf16*)at("fch");
  a.fch_gelu = (bf16*)at("fch_gelu");
  a.residual3 = (bf16*)at("residual3");
  a.lnf = (bf16*)at("lnf");
  a.lnf_mean = (float*)at("lnf_mean");
  a.lnf_rstd = (float*)at("lnf_rstd");
  a.logits = (bf16*)at("logits");
  a.losses = (float*)at("losses");
  a.ce_stats = (float*)at("ce_stats");
  a.scratch = (bf16*)at("scratch");
  a.dresidual = (bf16*)at_if("dresidual");
  a.dln = (bf16*)at_if("dln");
  a.datt = (bf16*)at_if("datt");
  a.dbig = (bf16*)at_if("dbig");
  a.dbig2 = (bf16*)at_if("dbig2");
  a.dqkv = (bf16*)at_if("dqkv");
  a.colsum_partial = (float*)at_if("colsum_partial");
  a.tok_ids = (int*)at_if("tok_ids");
  a.tok_start = (int*)at_if("tok_start");
  a.tok_pos = (int*)at_if("tok_pos");
  a.attn_saved = (unsigned char*)base + plan.total;
  a.attn_scratch = a.attn_saved + (train ? (size_t)cfg_.L * attn_ws_.saved : 0);
  plan_B_ = B;
  plan_T_ = T;
  rope_T_ = -1;  // the tables moved
}

void Gpt2Cuda::upload_rope(int T, RopeScaling scaling) {
  if (rope_T_ == T && rope_scaling_ == scaling) return;
  RopeTable tab;
  tab.build(scaling, cfg_.rope_base, T, cfg_.T_train, cfg_.HS());
  std::vector<float> c(tab.cos.begin(), tab.cos.end()), s(tab.sin.begin(), tab.sin.end());
  CUDA_CHECK(cudaMemcpyAsync(a_.rope_cos, c.data(), c.size() * sizeof(float), cudaMemcpyHostToDevice, ctx_->stream));
  CUDA_CHECK(cudaMemcpyAsync(a_.rope_sin, s.data(), s.size() * sizeof(float), cudaMemcpyHostToDevice, ctx_->stream));
  ctx_->synchronize();  // the host vectors die here
  rope_T_ = T;
  rope_scaling_ = scaling;
}

void Gpt2Cuda::set_attn_stats(std::vector<AttnStats>* layers) {
  if (layers && !cfg_.attn_stats) fail("set_attn_stats(): the model was not built for attention statistics");
  if (layers && (int)layers->size() != cfg_.L)
    fail(strfmt("set_attn_stats(): %zu accumulators for %d layers", layers->size(), cfg_.L));
  attn_stats_ = layers;
}

AttnParams Gpt2Cuda::attn_params(int l, bf16* out, const bf16* qkv, int B, int T) const {
  AttnParams p;
  p.spec = spec_;
  p.shape = {B, T, cfg_.NH, cfg_.HS()};
  p.dtype = AttnDType::BF16;
  p.training = use_ == ModelUse::Train;  // forward-only evaluation saves nothing for a backward
  p.qkv = qkv;
  p.out = out;
  p.saved = (p.training && attn_ws_.saved) ? a_.attn_saved + (size_t)l * attn_ws_.saved : nullptr;
  p.scratch = attn_ws_.scratch ? a_.attn_scratch : nullptr;
  p.stream = ctx_->stream;
  return p;
}

double Gpt2Cuda::forward(const int* tokens, const int* targets, int B, int T, RopeScaling scaling) {
  const int L = cfg_.L, C = cfg_.C, NH = cfg_.NH, HS = cfg_.HS(), V = cfg_.V, Vp = cfg_.Vp;
  const int N = B * T;
  check_token_ids(tokens, targets, N, V);
  ensure_acts(B, T);
  upload_rope(T, scaling);
  const DeviceContext& ctx = *ctx_;
  Acts& a = a_;
  tokens_host_.assign(tokens, tokens + N);
  have_targets_ = targets != nullptr;
  CUDA_CHECK(cudaMemcpyAsync(a.tokens, tokens, N * sizeof(int), cudaMemcpyHostToDevice, ctx.stream));
  if (targets) CUDA_CHECK(cudaMemcpyAsync(a.targets, targets, N * sizeof(int), cudaMemcpyHostToDevice, ctx.stream));

  const bf16* P = params_;
  const ParamOffsets& o = off_;
  const size_t NC = (size_t)N * C;
  const bool train = use_ == ModelUse::Train;

  encoder_forward_cuda(ctx, a.encoded, a.tokens, P + o.wte, N, C);
  layernorm_forward_cuda(ctx, a.ln1, a.ln1_mean, a.ln1_rstd, a.encoded, P + o.ln1w, P + o.ln1b, N, C);
  for (int l = 0; l < L; l++) {
    // Evaluate: every layer in slot 0 of its buffers; x (= residual3 of layer l−1) is last read by
    // the residual + LayerNorm that forms residual2, before this layer's residual3 overwrites it.
    const size_t sl = train ? l : 0, sp = train ? l - 1 : 0, sn = train ? l + 1 : 0;
    bf16* ln1 = a.ln1 + sl * NC;       // (B, T, C), computed by the previous layer's fused LN
    bf16* qkv = a.qkv + sl * 3 * NC;   // (B, T, 3C)
    bf16* atty = a.atty + sl * NC;     // (B, T, C)
    bf16* res2 = a.residual2 + sl * NC;
    bf16* ln2 = a.ln2 + sl * NC;
    bf16* fch = a.fch + sl * 4 * NC;   // (B, T, 4C) pre-GELU
    bf16* fchg = a.fch_gelu + sl * 4 * NC;
    bf16* res3 = a.residual3 + sl * NC;
    const bf16* x = l == 0 ? a.encoded : a.residual3 + sp * NC;
    MatmulForward mq;
    mq.out = qkv, mq.inp = ln1, mq.W = P + o.qkvw + (size_t)l * 3 * C * C, mq.bias = P + o.qkvb + l * 3 * C;
    mq.N = N, mq.IC = C, mq.OC = 3 * C;
    matmul_forward_cuda(ctx, mq);
    rope_apply_cuda(ctx, qkv, a.rope_cos, a.rope_sin, B, T, NH, HS, +1);
    AttnParams ap = attn_params(l, atty, qkv, B, T);
    if (attn_stats_) ap.stats = &(*attn_stats_)[l];  // --attn-stats (null: off): the reference path, synchronous
    attn_->forward(ap);
    MatmulForward mp;
    mp.out = a.scratch, mp.inp = atty, mp.W = P + o.attprojw + (size_t)l * C * C, mp.bias = P + o.attprojb + l * C;
    mp.N = N, mp.IC = C, mp.OC = C;
    matmul_forward_cuda(ctx, mp);
    residual_layernorm_forward_cuda(ctx, res2, ln2, a.ln2_mean + sl * N, a.ln2_rstd + sl * N, x, a.scratch,
                                    P + o.ln2w + l * C, P + o.ln2b + l * C, N, C);
    MatmulForward mf;
    mf.inp = ln2, mf.W = P + o.fcw + (size_t)l * 4 * C * C, mf.bias = P + o.fcb + l * 4 * C;
    mf.N = N, mf.IC = C, mf.OC = 4 * C;
    if (fuse_gelu_) {
      mf.out = fchg, mf.pre_gelu = fch, mf.gelu = true;
      matmul_forward_cuda(ctx, mf);
    } else {
      mf.out = fch;
      matmul_forward_cuda(ctx, mf);
      gelu_forward_cuda(ctx, fchg, fch, 4 * NC);
    }
    MatmulForward mfp;
    mfp.out = a.scratch, mfp.inp = fchg, mfp.W = P + o.fcprojw + (size_t)l * 4 * C * C;
    mfp.bias = P + o.fcprojb + l * C, mfp.N = N, mfp.IC = 4 * C, mfp.OC = C;
    matmul_forward_cuda(ctx, mfp);
    // residual3 = residual2 + MLP, then the next LayerNorm (ln1 of layer l+1, or lnf)
    const bool last = l == L - 1;
    residual_layernorm_forward_cuda(ctx, res3, last ? a.lnf : a.ln1 + sn * NC,
                                    last ? a.lnf_mean : a.ln1_mean + sn * N,
                                    last ? a.lnf_rstd : a.ln1_rstd + sn * N, res2, a.scratch,
                                    last ? P + o.lnfw : P + o.ln1w + (l + 1) * C,
                                    last ? P + o.lnfb : P + o.ln1b + (l + 1) * C, N, C);
  }
  if (!train) {  // logits and losses kEvalLogitRows positions at a time: (N, Vp) never exists
    if (!targets) {
      ctx.synchronize();
      return std::numeric_limits<double>::quiet_NaN();
    }
    for (int r0 = 0; r0 < N; r0 += kEvalLogitRows) {
      const int n = std::min(kEvalLogitRows, N - r0);
      MatmulForward ml;
      ml.out = a.logits, ml.inp = a.lnf + (size_t)r0 * C, ml.W = P + o.wte, ml.N = n, ml.IC = C, ml.OC = Vp;
      matmul_forward_cuda(ctx, ml);
      crossentropy_forward_cuda(ctx, a.losses + r0, a.ce_stats, a.logits, a.targets + r0, n, V, Vp);
    }
    std::vector<float> l = losses();  // synchronises
    double total = 0;
    for (float x : l) total += x;
    return total / N;
  }
  MatmulForward ml;
  ml.out = a.logits, ml.inp = a.lnf, ml.W = P + o.wte, ml.N = N, ml.IC = C, ml.OC = Vp;
  matmul_forward_cuda(ctx, ml);
  if (!targets) {
    ctx.synchronize();
    return std::numeric_limits<double>::quiet_NaN();
  }
  crossentropy_forward_cuda(ctx, a.losses, a.ce_stats, a.logits, a.targets, N, V, Vp);
  std::vector<float> l = losses();  // synchronises
  double total = 0;
  for (float x : l) total += x;
  return total / N;
}

void Gpt2Cuda::require_training(const char* what) const {
  if (use_ != ModelUse::Train) fail(strfmt("%s: this model was built for forward-only evaluation", what));
}

void Gpt2Cuda::backward(float loss_scale) {
  require_training("backward()");
  if (!have_targets_) fail("backward() needs a forward pass with targets");
  const int L = cfg_.L, C = cfg_.C, NH = cfg_.NH, HS = cfg_.HS(), V = cfg_.V, Vp = cfg_.Vp;
  const int B = B_, T = T_, N = B * T;
  const size_t NC = (size_t)N * C;
  const DeviceContext& ctx = *ctx_;
  Acts& a = a_;
  const bf16* P = params_;
  float* G = grads_;
  const ParamOffsets& o = off_;
  have_targets_ = false;  // the logits are overwritten below: a second backward needs a new forward

  crossentropy_backward_cuda(ctx, a.logits, a.logits, a.ce_stats, a.targets, N, V, Vp, loss_scale / N);
  MatmulBackward mc;
  mc.dinp = a.dln, mc.dW = G + o.wte, mc.dout = a.logits, mc.inp = a.lnf, mc.W = P + o.wte;
  mc.N = N, mc.IC = C, mc.OC = Vp;
  matmul_backward_cuda(ctx, mc);
  CUDA_CHECK(cudaMemsetAsync(a.dresidual, 0, NC * sizeof(bf16), ctx.stream));
  layernorm_backward_cuda(ctx, a.dresidual, G + o.lnfw, G + o.lnfb, a.colsum_partial, a.dln,
                          a.residual3 + (L - 1) * NC, P + o.lnfw, a.lnf_mean, a.lnf_rstd, N, C);
  for (int l = L - 1; l >= 0; l--) {
    const bf16* x = l == 0 ? a.encoded : a.residual3 + (l - 1) * NC;
    // dresidual holds dL/d(residual3) = dL/d(residual2) through the MLP's skip connection
    MatmulBackward m1;
    m1.dinp = a.dbig, m1.dW = G + o.fcprojw + (size_t)l * 4 * C * C, m1.dbias = G + o.fcprojb + l * C;
    m1.partial = a.colsum_partial, m1.dout = a.dresidual, m1.inp = a.fch_gelu + l * 4 * NC;
    m1.W = P + o.fcprojw + (size_t)l * 4 * C * C, m1.N = N, m1.IC = 4 * C, m1.OC = C;
    matmul_backward_cuda(ctx, m1);
    gelu_backward_cuda(ctx, a.dbig2, a.fch + l * 4 * NC, a.dbig, 4 * NC);
    MatmulBackward m2;
    m2.dinp = a.dln, m2.dW = G + o.fcw + (size_t)l * 4 * C * C, m2.dbias = G + o.fcb + l * 4 * C;
    m2.partial = a.colsum_partial, m2.dout = a.dbig2, m2.inp = a.ln2 + l * NC;
    m2.W = P + o.fcw + (size_t)l * 4 * C * C, m2.N = N, m2.IC = C, m2.OC = 4 * C;
    matmul_backward_cuda(ctx, m2);
    layernorm_backward_cuda(ctx, a.dresidual, G + o.ln2w + l * C, G + o.ln2b + l * C, a.colsum_partial, a.dln,
                            a.residual2 + l * NC, P + o.ln2w + l * C, a.ln2_mean + l * N, a.ln2_rstd + l * N, N, C);
    // dresidual now holds dL/d(residual2) = dL/dx through the attention's skip connection
    MatmulBackward m3;
    m3.dinp = a.datt, m3.dW = G + o.attprojw + (size_t)l * C * C, m3.dbias = G + o.attprojb + l * C;
    m3.partial = a.colsum_partial, m3.dout = a.dresidual, m3.inp = a.atty + l * NC;
    m3.W = P + o.attprojw + (size_t)l * C * C, m3.N = N, m3.IC = C, m3.OC = C;
    matmul_backward_cuda(ctx, m3);
    AttnParams ap = attn_params(l, a.atty + l * NC, a.qkv + l * 3 * NC, B, T);
    ap.dout = a.datt;
    ap.dqkv = a.dqkv;
    attn_->backward(ap);
    rope_apply_cuda(ctx, a.dqkv, a.rope_cos, a.rope_sin, B, T, NH, HS, -1);
    MatmulBackward m4;
    m4.dinp = a.dln, m4.dW = G + o.qkvw + (size_t)l * 3 * C * C, m4.dbias = G + o.qkvb + l * 3 * C;
    m4.partial = a.colsum_partial, m4.dout = a.dqkv, m4.inp = a.ln1 + l * NC;
    m4.W = P + o.qkvw + (size_t)l * 3 * C * C, m4.N = N, m4.IC = C, m4.OC = 3 * C;
    matmul_backward_cuda(ctx, m4);
    layernorm_backward_cuda(ctx, a.dresidual, G + o.ln1w + l * C, G + o.ln1b + l * C, a.colsum_partial, a.dln, x,
                            P + o.ln1w + l * C, a.ln1_mean + l * N, a.ln1_rstd + l * N, N, C);
  }
  const TokenBuckets tb = bucket_tokens(tokens_host_.data(), N);
  CUDA_CHECK(cudaMemcpyAsync(a.tok_ids, tb.ids.data(), tb.ids.size() * sizeof(int), cudaMemcpyHostToDevice, ctx.stream));
  CUDA_CHECK(cudaMemcpyAsync(a.tok_start, tb.start.data(), tb.start.size() * sizeof(int), cudaMemcpyHostToDevice,
                             ctx.stream));
  CUDA_CHECK(cudaMemcpyAsync(a.tok_pos, tb.pos.data(), tb.pos.size() * sizeof(int), cudaMemcpyHostToDevice, ctx.stream));
  encoder_backward_cuda(ctx, G + o.wte, a.dresidual, a.tok_ids, a.tok_start, a.tok_pos, (int)tb.ids.size(), C);
  ctx.synchronize();  // tb's host memory is read by the copies above
}

std::vector<float> Gpt2Cuda::losses() const {
  std::vector<float> out((size_t)B_ * T_);
  CUDA_CHECK(cudaMemcpyAsync(out.data(), a_.losses, out.size() * sizeof(float), cudaMemcpyDeviceToHost, ctx_->stream));
  ctx_->synchronize();
  return out;
}

std::vector<float> Gpt2Cuda::logits() const {
  require_training("logits() (forward-only evaluation keeps the losses, not the (B, T, Vp) logits)");
  const size_t n = (size_t)B_ * T_ * cfg_.Vp;
  std::vector<bf16> tmp(n);
  CUDA_CHECK(cudaMemcpyAsync(tmp.data(), a_.logits, n * sizeof(bf16), cudaMemcpyDeviceToHost, ctx_->stream));
  ctx_->synchronize();
  std::vector<float> out(n);
  for (size_t i = 0; i < n; i++) out[i] = __bfloat162float(tmp[i]);
  return out;
}

void Gpt2Cuda::zero_grad() {
  require_training("zero_grad()");
  CUDA_CHECK(cudaMemsetAsync(grads_, 0, off_.total * sizeof(float), ctx_->stream)); }

double Gpt2Cuda::grad_norm() const {
  require_training("grad_norm()");
  global_norm_squared_cuda(*ctx_, norm_scratch_ + kNormBlocks, norm_scratch_, grads_ + shard_.begin, shard_.size());
  double s = 0;
  CUDA_CHECK(cudaMemcpyAsync(&s, norm_scratch_ + kNormBlocks, sizeof(double), cudaMemcpyDeviceToHost, ctx_->stream));
  ctx_->synchronize();
  return std::sqrt(s);
}

void Gpt2Cuda::adamw_step(const AdamWConfig& opt, double lr, double grad_scale, int t) {
  require_training("adamw_step()");
  // bias corrections exactly as the CPU backend computes them (fp64 pow, rounded to fp32)
  const float c1 = (float)(1.0 - std::pow(opt.beta1, t)), c2 = (float)(1.0 - std::pow(opt.beta2, t));
  for (const ParamRange& full : ranges_) {
    // the part of this tensor inside the optimizer shard
    const size_t b = std::max(full.offset, shard_.begin), e = std::min(full.offset + full.numel, shard_.end);
    if (b >= e) continue;
    const ParamRange r{b, e - b, full.decay};
    AdamWArgs a;
    a.master = master_ + r.offset, a.params = params_ + r.offset, a.grads = grads_ + r.offset;
    a.m = adam_m_ + r.offset, a.v = adam_v_ + r.offset, a.n = r.numel;
    a.lr = (float)lr, a.beta1 = (float)opt.beta1, a.beta2 = (float)opt.beta2, a.eps = (float)opt.eps;
    a.weight_decay = r.decay ? (float)opt.weight_decay : 0.f;
    a.grad_scale = (float)grad_scale, a.bias_corr1 = c1, a.bias_corr2 = c2;
    adamw_cuda(*ctx_, a);
  }
}

namespace {
void download(const DeviceContext& ctx, const float* src, size_t n, std::vector<float>& out) {
  out.resize(n);
  CUDA_CHECK(cudaMemcpyAsync(out.data(), src, n * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream));
  ctx.synchronize();
}
void upload(const DeviceContext& ctx, float* dst, const std::vector<float>& in, size_t n, const char* what) {
  if (in.size() != n) fail(strfmt("%s has %zu values, the model needs %zu", what, in.size(), n));
  CUDA_CHECK(cudaMemcpyAsync(dst, in.data(), n * sizeof(float), cudaMemcpyHostToDevice, ctx.stream));
  ctx.synchronize();
}
}  // namespace

void Gpt2Cuda::get_params(std::vector<float>& out) const {
  require_training("get_params()");
  download(*ctx_, master_, off_.total, out);
}
void Gpt2Cuda::set_params(const std::vector<float>& in) {
  if (use_ == ModelUse::Evaluate) {  // through the staging buffer, chunk by chunk, into bf16
    if (in.size() != off_.total)
      fail(strfmt("parameter vector has %zu values, the model needs %zu", in.size(), off_.total));
    for (size_t i = 0; i < off_.total; i += kEvalUploadFloats) {
      const size_t n = std::min(kEvalUploadFloats, off_.total - i);
      CUDA_CHECK(cudaMemcpyAsync(staging_, in.data() + i, n * sizeof(float), cudaMemcpyHostToDevice, ctx_->stream));
      f32_to_bf16_cuda(*ctx_, params_ + i, staging_, n);
    }
    ctx_->synchronize();  // `in` may die after return
    return;
  }
  upload(*ctx_, master_, in, off_.total, "parameter vector");
  f32_to_bf16_cuda(*ctx_, params_, master_, off_.total);
}
void Gpt2Cuda::get_grads(std::vector<float>& out) const {
  require_training("get_grads()");
  download(*ctx_, grads_, off_.total, out); }
void Gpt2Cuda::get_adam_state(std::vector<float>& m, std::vector<float>& v) const {
  require_training("get_adam_state()");
  download(*ctx_, adam_m_ + shard_.begin, shard_.size(), m);
  download(*ctx_, adam_v_ + shard_.begin, shard_.size(), v);
}
void Gpt2Cuda::set_adam_state(const std::vector<float>& m, const std::vector<float>& v) {
  require_training("set_adam_state()");
  upload(*ctx_, adam_m_ + shard_.begin, m, shard_.size(), "AdamW first moment");
  upload(*ctx_, adam_v_ + shard_.begin, v, shard_.size(), "AdamW second moment");
}

void Gpt2Cuda::set_optimizer_shard(ShardRange shard) {
  require_training("set_optimizer_shard()");
  if (shard.begin > shard.end || shard.end > off_.total)
    fail(strfmt("optimizer shard [%zu, %zu) is outside the %zu parameters", shard.begin, shard.end, off_.total));
  shard_ = shard;
  CUDA_CHECK(cudaMemsetAsync(adam_m_, 0, off_.total * sizeof(float), ctx_->stream));
  CUDA_CHECK(cudaMemsetAsync(adam_v_, 0, off_.total * sizeof(float), ctx_->stream));
}

void Gpt2Cuda::reduce_grads(Communicator& comm, bool shard_only) {
  require_training("reduce_grads()");
  const CommBuffer b{grads_, off_.total, DType::F32, MemSpace::Device, ctx_->stream};
  if (shard_only) comm.reduce_scatter_mean(b);
  else comm.all_reduce_mean(b);
}

void Gpt2Cuda::gather_params(Communicator& comm) {
  require_training("gather_params()");
  // every rank updated its shard of the fp32 master weights; gather them, then refresh bf16
  comm.all_gather(CommBuffer{master_, off_.total, DType::F32, MemSpace::Device, ctx_->stream});
  f32_to_bf16_cuda(*ctx_, params_, master_, off_.total);
}

std::unique_ptr<Gpt2Model> make_cuda_model(const GPT2Config& cfg, std::string* why, ModelUse use) {
  auto ctx = std::make_unique<DeviceContext>();
  if (!ctx->open(why)) return nullptr;
  return std::make_unique<Gpt2Cuda>(cfg, std::move(ctx), use);
}

}  // namespace lssa
