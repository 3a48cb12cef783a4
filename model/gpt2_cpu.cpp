// GPT-2 + RoPE on the CPU: the forward/backward pass over the layers of layers_cpu.h and the
// attention of attention_cpu.h, plus AdamW. See gpt2_cpu.h for the data flow and shapes.
#include "model/gpt2_cpu.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/attention.h"
#include "model/layers_math.h"
#include "runtime/error.h"
#include "runtime/rng.h"

namespace lssa {

std::vector<float> gpt2_init_params(const GPT2Config& cfg, uint64_t seed) {
  const ParamOffsets o = param_offsets(cfg);
  std::vector<float> p(o.total, 0.f);
  Rng rng(seed);
  const size_t C = cfg.C, L = cfg.L;
  auto normal = [&](size_t off, size_t n, double std) {
    for (size_t i = 0; i < n; i++) p[off + i] = (float)(rng.normal() * std);
  };
  const double resid_std = 0.02 / std::sqrt(2.0 * cfg.L);
  normal(o.wte, (size_t)cfg.V * C, 0.02);  // rows ≥ V stay 0
  for (size_t i = 0; i < L * C; i++) p[o.ln1w + i] = p[o.ln2w + i] = 1.f;
  normal(o.qkvw, L * 3 * C * C, 0.02);
  normal(o.attprojw, L * C * C, resid_std);
  normal(o.fcw, L * 4 * C * C, 0.02);
  normal(o.fcprojw, L * 4 * C * C, resid_std);
  for (size_t i = 0; i < C; i++) p[o.lnfw + i] = 1.f;
  return p;
}

namespace {
template <typename R>
constexpr AttnDType kAttnDType = sizeof(R) == sizeof(double) ? AttnDType::F64 : AttnDType::F32;
}  // namespace

template <typename R>
AttnParams Gpt2Cpu<R>::attn_params(const R* out, const R* qkv, const R* dout, R* dqkv, int B, int T) const {
  AttnParams p;
  p.spec = spec_;
  p.shape = {B, T, cfg_.NH, cfg_.HS()};
  p.dtype = kAttnDType<R>;
  p.qkv = qkv;
  p.out = const_cast<R*>(out);  // written by forward(), read by backward()
  p.dout = dout;
  p.dqkv = dqkv;
  return p;  // the CPU reference needs no caller-owned workspace (AttnWorkspace is 0)
}

template <typename R>
Gpt2Cpu<R>::Gpt2Cpu(const GPT2Config& cfg, ModelUse use)
    : cfg_(cfg),
      use_(use),
      spec_(cfg.attn_spec()),
      attn_(&attention_select(cfg.attn_impl, {&attention_cpu_reference()}, spec_, {0, cfg.T_train, cfg.NH, cfg.HS()},
                              kAttnDType<R>, cfg.attn_stats)),
      off_(param_offsets(cfg)),
      layout_(param_layout(cfg)) {
  params.assign(off_.total, R(0));
  if (use_ == ModelUse::Train) {  // forward-only evaluation needs no gradients or optimizer state
    grads.assign(off_.total, R(0));
    adam_m.assign(off_.total, R(0));
    adam_v.assign(off_.total, R(0));
  }
  shard_ = {0, off_.total};
}

template <typename R>
void Gpt2Cpu<R>::set_attn_stats(std::vector<AttnStats>* layers) {
  if (layers && !cfg_.attn_stats) fail("set_attn_stats(): the model was not built for attention statistics");
  if (layers && (int)layers->size() != cfg_.L)
    fail(strfmt("set_attn_stats(): %zu accumulators for %d layers", layers->size(), cfg_.L));
  attn_stats_ = layers;
}

template <typename R>
void Gpt2Cpu<R>::require_training(const char* what) const {
  if (use_ != ModelUse::Train) fail(strfmt("%s: this model was built for forward-only evaluation", what));
}

template <typename R>
void Gpt2Cpu<R>::ensure_acts(int B, int T) {
  const size_t BT = (size_t)B * T, C = cfg_.C;
  const size_t L = use_ == ModelUse::Train ? cfg_.L : 1;  // Evaluate: one layer's buffers, reused
  const size_t logit_rows = use_ == ModelUse::Train ? BT : std::min(BT, (size_t)kEvalLogitRows);
  B_ = B;
  T_ = T;
  if ((int)BT <= cap_BT_) return;
  cap_BT_ = (int)BT;
  Acts& a = a_;
  a.encoded.resize(BT * C);
  a.ln1.resize(L * BT * C);
  a.ln1_mean.resize(L * BT);
  a.ln1_rstd.resize(L * BT);
  a.qkv.resize(L * BT * 3 * C);
  a.atty.resize(L * BT * C);
  a.residual2.resize(L * BT * C);
  a.ln2.resize(L * BT * C);
  a.ln2_mean.resize(L * BT);
  a.ln2_rstd.resize(L * BT);
  a.fch.resize(L * BT * 4 * C);
  a.fch_gelu.resize(L * BT * 4 * C);
  a.residual3.resize(L * BT * C);
  a.lnf.resize(BT * C);
  a.lnf_mean.resize(BT);
  a.lnf_rstd.resize(BT);
  a.logits.resize(logit_rows * cfg_.Vp);
  a.losses.resize(BT);
  a.scratch.resize(BT * C);
}

template <typename R>
double Gpt2Cpu<R>::forward(const int* tokens, const int* targets, int B, int T, RopeScaling scaling) {
  const int L = cfg_.L, C = cfg_.C, NH = cfg_.NH, HS = cfg_.HS(), V = cfg_.V, Vp = cfg_.Vp;
  const int N = B * T;
  check_token_ids(tokens, targets, N, V);
  ensure_acts(B, T);
  tokens_.assign(tokens, tokens + N);
  have_targets_ = targets != nullptr;
  if (targets) targets_.assign(targets, targets + N);
  if (rope_.T != T || rope_scaling_ != scaling) {
    rope_.build(scaling, cfg_.rope_base, T, cfg_.T_train, HS);
    rope_scaling_ = scaling;
  }
  const R* P = params.data();
  const ParamOffsets& o = off_;
  Acts& a = a_;
  const size_t NC = (size_t)N * C;
  const bool train = use_ == ModelUse::Train;

  encoder_forward(a.encoded.data(), tokens, P + o.wte, N, C);
  for (int l = 0; l < L; l++) {
    // Evaluate: every layer uses slot 0; residual3 of layer l−1 (this layer's x) is last read by
    // residual_forward(res2, …) before residual_forward(res3, …) overwrites it.
    const size_t sl = train ? l : 0, sp = train ? l - 1 : 0;
    const R* x = l == 0 ? a.encoded.data() : a.residual3.data() + sp * NC;
    R* ln1 = a.ln1.data() + sl * NC;
    R* qkv = a.qkv.data() + sl * 3 * NC;
    R* atty = a.atty.data() + sl * NC;
    R* res2 = a.residual2.data() + sl * NC;
    R* ln2 = a.ln2.data() + sl * NC;
    R* fch = a.fch.data() + sl * 4 * NC;
    R* fchg = a.fch_gelu.data() + sl * 4 * NC;
    R* res3 = a.residual3.data() + sl * NC;
    layernorm_forward(ln1, a.ln1_mean.data() + sl * N, a.ln1_rstd.data() + sl * N, x, P + o.ln1w + l * C,
                      P + o.ln1b + l * C, N, C);
    matmul_forward(qkv, ln1, P + o.qkvw + (size_t)l * 3 * C * C, P + o.qkvb + l * 3 * C, N, C, 3 * C);
    rope_apply(qkv, rope_, B, T, NH, HS, +1);
    AttnParams ap = attn_params(atty, qkv, nullptr, nullptr, B, T);
    if (attn_stats_) ap.stats = &(*attn_stats_)[l];  // --attn-stats (null: off)
    attn_->forward(ap);
    matmul_forward(a.scratch.data(), atty, P + o.attprojw + (size_t)l * C * C, P + o.attprojb + l * C, N, C, C);
    residual_forward(res2, x, a.scratch.data(), (int)NC);
    layernorm_forward(ln2, a.ln2_mean.data() + sl * N, a.ln2_rstd.data() + sl * N, res2, P + o.ln2w + l * C,
                      P + o.ln2b + l * C, N, C);
    matmul_forward(fch, ln2, P + o.fcw + (size_t)l * 4 * C * C, P + o.fcb + l * 4 * C, N, C, 4 * C);
    gelu_forward(fchg, fch, 4 * (int)NC);
    matmul_forward(a.scratch.data(), fchg, P + o.fcprojw + (size_t)l * 4 * C * C, P + o.fcprojb + l * C, N,
                   4 * C, C);
    residual_forward(res3, res2, a.scratch.data(), (int)NC);
  }
  const R* xL = a.residual3.data() + (train ? L - 1 : 0) * NC;
  layernorm_forward(a.lnf.data(), a.lnf_mean.data(), a.lnf_rstd.data(), xL, P + o.lnfw, P + o.lnfb, N, C);
  if (train) {
    matmul_forward(a.logits.data(), a.lnf.data(), P + o.wte, (const R*)nullptr, N, C, Vp);
    if (!targets) return std::numeric_limits<double>::quiet_NaN();
    return crossentropy_forward(a.losses.data(), a.logits.data(), targets, N, V, Vp);
  }
  // Evaluate: logits and per-position losses kEvalLogitRows positions at a time, then the mean in
  // position order — the sum crossentropy_forward forms. One chunk (N ≤ kEvalLogitRows) makes the
  // very same calls as the training forward: the same bits. More chunks call sgemm on other row
  // blocks, whose kernels may order each logit's C-term sum differently: fp32 rounding-level
  // differences (bounded in test/model/test_forward_only.cpp).
  if (!targets) return std::numeric_limits<double>::quiet_NaN();
  for (int r0 = 0; r0 < N; r0 += kEvalLogitRows) {
    const int n = std::min(kEvalLogitRows, N - r0);
    matmul_forward(a.logits.data(), a.lnf.data() + (size_t)r0 * C, P + o.wte, (const R*)nullptr, n, C, Vp);
    crossentropy_forward(a.losses.data() + r0, a.logits.data(), targets + r0, n, V, Vp);
  }
  double total = 0;
  for (int i = 0; i < N; i++) total += a.losses[i];
  return total / N;
}

template <typename R>
void Gpt2Cpu<R>::backward(float loss_scale) {
  require_training("backward()");
  if (!have_targets_) fail("backward() needs a forward pass with targets");
  const int L = cfg_.L, C = cfg_.C, NH = cfg_.NH, HS = cfg_.HS(), V = cfg_.V, Vp = cfg_.Vp;
  const int B = B_, T = T_, N = B * T;
  const size_t NC = (size_t)N * C;
  const R* P = params.data();
  R* G = grads.data();
  const ParamOffsets& o = off_;
  Acts& a = a_;

  // Gradient buffers for activations (reused across layers).
  // Gradient buffers for activations, reused across layers and steps: allocated at the first
  // backward of a size (not by forward-only evaluation), since a fresh (B, T, Vp) buffer per
  // backward cost ~30% of a tiny-model step in page faults.
  if (a.dlogits.size() < (size_t)N * Vp) {
    a.dlogits.resize((size_t)N * Vp);
    a.dres.resize(NC);
    a.dln.resize(NC);
    a.datt.resize(NC);
    a.dbig.resize(4 * NC);
    a.dbig2.resize(4 * NC);
    a.dqkv.resize(3 * NC);
  }
  std::vector<R>&dlogits = a.dlogits, &dres = a.dres, &dln = a.dln, &dbig = a.dbig, &dbig2 = a.dbig2,
                 &dqkv = a.dqkv, &datt = a.datt;
  crossentropy_backward(dlogits.data(), a.logits.data(), targets_.data(), N, V, Vp, R(loss_scale) / R(N));
  matmul_backward(dln.data(), G + o.wte, (R*)nullptr, dlogits.data(), a.lnf.data(), P + o.wte, N, C, Vp);
  const R* xL = a.residual3.data() + (L - 1) * NC;
  std::fill(dres.begin(), dres.end(), R(0));
  layernorm_backward(dres.data(), G + o.lnfw, G + o.lnfb, dln.data(), xL, P + o.lnfw, a.lnf_mean.data(),
                     a.lnf_rstd.data(), N, C);
  for (int l = L - 1; l >= 0; l--) {
    const R* x = l == 0 ? a.encoded.data() : a.residual3.data() + (l - 1) * NC;
    const R* ln1 = a.ln1.data() + l * NC;
    R* qkv = a.qkv.data() + l * 3 * NC;
    const R* atty = a.atty.data() + l * NC;
    const R* res2 = a.residual2.data() + l * NC;
    const R* ln2 = a.ln2.data() + l * NC;
    const R* fch = a.fch.data() + l * 4 * NC;
    const R* fchg = a.fch_gelu.data() + l * 4 * NC;
    // dres holds dL/d(residual3) = dL/d(residual2) through the MLP's skip connection
    matmul_backward(dbig.data(), G + o.fcprojw + (size_t)l * 4 * C * C, G + o.fcprojb + l * C, dres.data(), fchg,
                    P + o.fcprojw + (size_t)l * 4 * C * C, N, 4 * C, C);
    gelu_backward(dbig2.data(), fch, dbig.data(), 4 * (int)NC);
    matmul_backward(dln.data(), G + o.fcw + (size_t)l * 4 * C * C, G + o.fcb + l * 4 * C, dbig2.data(), ln2,
                    P + o.fcw + (size_t)l * 4 * C * C, N, C, 4 * C);
    layernorm_backward(dres.data(), G + o.ln2w + l * C, G + o.ln2b + l * C, dln.data(), res2, P + o.ln2w + l * C,
                       a.ln2_mean.data() + l * N, a.ln2_rstd.data() + l * N, N, C);
    // dres now holds dL/d(residual2) = dL/dx through the attention's skip connection
    matmul_backward(datt.data(), G + o.attprojw + (size_t)l * C * C, G + o.attprojb + l * C, dres.data(), atty,
                    P + o.attprojw + (size_t)l * C * C, N, C, C);
    attn_->backward(attn_params(atty, qkv, datt.data(), dqkv.data(), B, T));
    rope_apply(dqkv.data(), rope_, B, T, NH, HS, -1);
    matmul_backward(dln.data(), G + o.qkvw + (size_t)l * 3 * C * C, G + o.qkvb + l * 3 * C, dqkv.data(), ln1,
                    P + o.qkvw + (size_t)l * 3 * C * C, N, C, 3 * C);
    layernorm_backward(dres.data(), G + o.ln1w + l * C, G + o.ln1b + l * C, dln.data(), x, P + o.ln1w + l * C,
                       a.ln1_mean.data() + l * N, a.ln1_rstd.data() + l * N, N, C);
  }
  encoder_backward(G + o.wte, dres.data(), tokens_.data(), N, C);
}

template <typename R>
std::vector<float> Gpt2Cpu<R>::losses() const {
  return std::vector<float>(a_.losses.begin(), a_.losses.begin() + (size_t)B_ * T_);
}

template <typename R>
std::vector<float> Gpt2Cpu<R>::logits() const {
  require_training("logits() (forward-only evaluation keeps the losses, not the (B, T, Vp) logits)");
  return std::vector<float>(a_.logits.begin(), a_.logits.begin() + (size_t)B_ * T_ * cfg_.Vp);
}

template <typename R>
void Gpt2Cpu<R>::zero_grad() {
  require_training("zero_grad()");
  std::fill(grads.begin(), grads.end(), R(0));
}

// Fixed-size chunks summed in order: the same bits whatever the thread count.
template <typename R>
double Gpt2Cpu<R>::grad_norm() const {
  require_training("grad_norm()");
  const R* g = grads.data() + shard_.begin;
  const size_t n = shard_.size(), chunk = 1 << 16, nchunks = (n + chunk - 1) / chunk;
  std::vector<double> part(nchunks);
#pragma omp parallel for schedule(static)
  for (size_t c = 0; c < nchunks; c++) {
    double s = 0;
    for (size_t i = c * chunk; i < std::min(n, (c + 1) * chunk); i++) s += (double)g[i] * g[i];
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return std::sqrt(s);
}

template <typename R>
void Gpt2Cpu<R>::adamw_step(const AdamWConfig& opt, double lr, double grad_scale, int t) {
  require_training("adamw_step()");
  const R b1 = opt.beta1, b2 = opt.beta2, eps = opt.eps;
  const R c1 = R(1.0 - std::pow(opt.beta1, t)), c2 = R(1.0 - std::pow(opt.beta2, t));
  for (const ParamTensor& pt : layout_) {
    // the part of this tensor inside the optimizer shard: [lo, hi) of the flat layout
    const size_t lo = std::max(pt.offset, shard_.begin), hi = std::min(pt.offset + pt.numel, shard_.end);
    if (lo >= hi) continue;
    const R wd = pt.decay ? R(opt.weight_decay) : R(0);
    R* p = params.data() + lo;
    const R* g = grads.data() + lo;
    R* m = adam_m.data() + (lo - shard_.begin);
    R* v = adam_v.data() + (lo - shard_.begin);
    const size_t n = hi - lo;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
      p[i] = adamw_update(p[i], g[i] * R(grad_scale), &m[i], &v[i], b1, b2, c1, c2, eps, R(lr), wd);
    }
  }
}

template <typename R>
void Gpt2Cpu<R>::set_optimizer_shard(ShardRange shard) {
  require_training("set_optimizer_shard()");
  if (shard.begin > shard.end || shard.end > off_.total)
    fail(strfmt("optimizer shard [%zu, %zu) is outside the %zu parameters", shard.begin, shard.end, off_.total));
  shard_ = shard;
  adam_m.assign(shard.size(), R(0));
  adam_v.assign(shard.size(), R(0));
}

template <typename R>
void Gpt2Cpu<R>::reduce_grads(Communicator& comm, bool shard_only) {
  require_training("reduce_grads()");
  const CommBuffer b{grads.data(), grads.size(), sizeof(R) == 4 ? DType::F32 : DType::F64, MemSpace::Host};
  if (shard_only) comm.reduce_scatter_mean(b);
  else comm.all_reduce_mean(b);
}

template <typename R>
void Gpt2Cpu<R>::gather_params(Communicator& comm) {
  comm.all_gather(CommBuffer{params.data(), params.size(), sizeof(R) == 4 ? DType::F32 : DType::F64, MemSpace::Host});
}

namespace {
template <typename R>
void to_float(const std::vector<R>& in, std::vector<float>& out) {
  out.assign(in.begin(), in.end());
}
template <typename R>
void from_float(const std::vector<float>& in, std::vector<R>& out, const char* what) {
  if (in.size() != out.size())
    fail(strfmt("%s has %zu values, the model needs %zu", what, in.size(), out.size()));
  std::copy(in.begin(), in.end(), out.begin());
}
}  // namespace

template <typename R>
void Gpt2Cpu<R>::get_params(std::vector<float>& out) const { to_float(params, out); }
template <typename R>
void Gpt2Cpu<R>::set_params(const std::vector<float>& in) { from_float(in, params, "parameter vector"); }
template <typename R>
void Gpt2Cpu<R>::get_grads(std::vector<float>& out) const { to_float(grads, out); }
template <typename R>
void Gpt2Cpu<R>::get_adam_state(std::vector<float>& m, std::vector<float>& v) const {
  to_float(adam_m, m);
  to_float(adam_v, v);
}
template <typename R>
void Gpt2Cpu<R>::set_adam_state(const std::vector<float>& m, const std::vector<float>& v) {
  from_float(m, adam_m, "AdamW first moment");
  from_float(v, adam_v, "AdamW second moment");
}

template class Gpt2Cpu<float>;
template class Gpt2Cpu<double>;

std::unique_ptr<Gpt2Model> make_cpu_model(const GPT2Config& cfg, ModelUse use) {
  return std::make_unique<Gpt2Cpu<float>>(cfg, use);
}

}  // namespace lssa
