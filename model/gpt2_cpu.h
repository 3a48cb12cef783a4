// GPT-2 + RoPE on the CPU, templated on the real type: float is the CPU backend, double is used
// by the tests (finite differences, the fp64 oracle comparison).
//
// Forward, per layer l (N = B·T rows, shapes in comments):
//   ln1 = LN(x)                         (B, T, C)
//   qkv = ln1·Wqkvᵀ + b, RoPE on q, k   (B, T, 3C)     (rotated in place; the backward un-rotates)
//   atty = attention(qkv)               (B, T, C)      (attention/attention_cpu.h, O(T) memory)
//   x2 = x + atty·Wprojᵀ + b            (B, T, C)
//   ln2 = LN(x2); fch = ln2·Wfcᵀ + b    (B, T, 4C)
//   x = x2 + gelu(fch)·Wfcprojᵀ + b     (B, T, C)
// then lnf = LN(x), logits = lnf·wteᵀ (B, T, Vp), loss = mean CE over the first V columns.
// ModelUse::Evaluate (model.h): the per-layer buffers below hold one layer (reused), logits hold
// kEvalLogitRows positions; the losses are a training model's bits up to one chunk, within fp32
// summation-order noise of the logits beyond (gpt2_cpu.cpp, test/model/test_forward_only.cpp).
#pragma once
#include <vector>

#include "model/layers_cpu.h"
#include "model/model.h"

namespace lssa {

template <typename R>
class Gpt2Cpu final : public Gpt2Model {
 public:
  explicit Gpt2Cpu(const GPT2Config& cfg, ModelUse use = ModelUse::Train);

  const GPT2Config& config() const override { return cfg_; }
  std::string attention_impl() const override { return attn_->name(); }
  const char* backend_name() const override { return "cpu"; }
  size_t num_params() const override { return params.size(); }
  MemSpace memory() const override { return MemSpace::Host; }
  ModelUse use() const override { return use_; }
  double forward(const int* tokens, const int* targets, int B, int T,
                 RopeScaling scaling = RopeScaling::None) override;
  void set_attn_stats(std::vector<AttnStats>* layers) override;
  std::vector<float> losses() const override;
  std::vector<float> logits() const override;
  void zero_grad() override;
  void backward(float loss_scale) override;
  double grad_norm() const override;
  void adamw_step(const AdamWConfig& opt, double lr, double grad_scale, int t) override;
  void set_optimizer_shard(ShardRange shard) override;
  ShardRange optimizer_shard() const override { return shard_; }
  void reduce_grads(Communicator& comm, bool shard_only) override;
  void gather_params(Communicator& comm) override;
  void get_params(std::vector<float>& out) const override;
  void set_params(const std::vector<float>& in) override;
  void get_grads(std::vector<float>& out) const override;
  void get_adam_state(std::vector<float>& m, std::vector<float>& v) const override;
  void set_adam_state(const std::vector<float>& m, const std::vector<float>& v) override;

  // Logits (B, T, Vp) of the last forward in the model's own precision (logits() rounds to fp32).
  const R* logits_data() const { return a_.logits.data(); }
  // Public for tests: flat buffers in the layout of param_layout(); adam_m/adam_v cover the
  // optimizer shard (elements shard_.begin … shard_.end − 1 of the layout).
  std::vector<R> params, grads, adam_m, adam_v;

 private:
  struct Acts {  // activations of the last forward, sized for (B, T) (Evaluate: L = 1, see above)
    std::vector<R> encoded;                   // (B, T, C)
    std::vector<R> ln1, ln1_mean, ln1_rstd;   // (L, B, T, C), (L, B, T) ×2
    std::vector<R> qkv;                       // (L, B, T, 3C), post-RoPE
    std::vector<R> atty;                      // (L, B, T, C)
    std::vector<R> residual2;                 // (L, B, T, C)
    std::vector<R> ln2, ln2_mean, ln2_rstd;   // (L, B, T, C), (L, B, T) ×2
    std::vector<R> fch, fch_gelu;             // (L, B, T, 4C) ×2
    std::vector<R> residual3;                 // (L, B, T, C)
    std::vector<R> lnf, lnf_mean, lnf_rstd;   // (B, T, C), (B, T) ×2
    std::vector<R> logits;                    // (B, T, Vp)
    std::vector<R> losses;                    // (B, T)
    std::vector<R> scratch;                   // (B, T, C): attention-projection / MLP output
    // backward scratch (activation gradients)
    std::vector<R> dlogits;                   // (B, T, Vp)
    std::vector<R> dres, dln, datt;           // (B, T, C) each
    std::vector<R> dbig, dbig2;               // (B, T, 4C) each
    std::vector<R> dqkv;                      // (B, T, 3C)
  };
  void ensure_acts(int B, int T);
  // One attention call's parameters (attention/attention.h) for layer tensors of shape (B, T, ·).
  AttnParams attn_params(const R* out, const R* qkv, const R* dout, R* dqkv, int B, int T) const;
  void require_training(const char* what) const;  // Error on a forward-only model

  GPT2Config cfg_;
  ModelUse use_;
  AttnSpec spec_;
  const Attention* attn_;  // attention_select()ed at construction (the CPU reference)
  ParamOffsets off_;
  std::vector<ParamTensor> layout_;
  Acts a_;
  int B_ = 0, T_ = 0, cap_BT_ = 0;
  bool have_targets_ = false;
  std::vector<int> tokens_, targets_;
  RopeTable rope_;
  RopeScaling rope_scaling_ = RopeScaling::None;
  ShardRange shard_;  // the optimizer's range of the flat layout (ZeRO-1); all by default
  std::vector<AttnStats>* attn_stats_ = nullptr;  // set_attn_stats(): (L) accumulators, or off
};

}  // namespace lssa
