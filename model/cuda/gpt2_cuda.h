// GPT-2 + RoPE on one GPU: the CUDA backend of the Gpt2Model interface (model/model.h).
//
// The same data flow as the CPU backend (model/gpt2_cpu.h), layer by layer, with:
//   - bf16 weights and activations; fp32 master weights, fp32 AdamW m and v, fp32 parameter
//     gradients (accumulated over micro-batches in fp32);
//   - residual + LayerNorm fused (each layer ends by forming its residual output and the next
//     LayerNorm of it in one kernel), bias (and, on sm_90+, GELU) in the matmul epilogues;
//   - attention only through attention/attention.h: the fused kernels where they support the
//     variant and head size, else the GPU reference (--attn-impl; attention/cuda/attention_cuda.h);
//   - the classifier fused with the cross-entropy (no probability buffer; dlogits overwrite the
//     logits in the backward, so logits() is valid until backward());
//   - all memory planned up front for (B, T) (cuda_plan.h): parameters and optimizer state at
//     construction, activations at the first forward of a new (B, T); too little GPU memory
//     gives one error line with what was asked, what is free, and the --batch hint.
// Deterministic: no float atomics (see model/cuda/layers_cuda.h), so --resume is bit-exact.
// ModelUse::Evaluate (eval_gpt2): bf16 weights only, one layer's activations reused, logits and
// loss kEvalLogitRows positions at a time, the fused attention where it exists (O(T) memory, no
// saved statistics) — plan_eval_parameter_memory / plan_eval_activation_memory in cuda_plan.h.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "model/cuda/cuda_context.h"
#include "model/cuda/cuda_plan.h"
#include "model/cuda/layers_cuda.h"
#include "model/model.h"

namespace lssa {

class Gpt2Cuda final : public Gpt2Model {
 public:
  Gpt2Cuda(const GPT2Config& cfg, std::unique_ptr<DeviceContext> ctx, ModelUse use = ModelUse::Train);
  ~Gpt2Cuda() override;

  const GPT2Config& config() const override { return cfg_; }
  const char* backend_name() const override { return "cuda"; }
  std::string device_name() const override { return ctx_->prop.name; }
  std::string attention_impl() const override { return attn_->name(); }
  size_t num_params() const override { return off_.total; }
  MemSpace memory() const override { return MemSpace::Device; }
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
  void get_params(std::vector<float>& out) const override;
  void set_params(const std::vector<float>& in) override;
  void get_grads(std::vector<float>& out) const override;
  void get_adam_state(std::vector<float>& m, std::vector<float>& v) const override;
  void set_adam_state(const std::vector<float>& m, const std::vector<float>& v) override;
  // Data parallelism (runtime/comm.h). ZeRO-1 here shards the optimizer *work* and the saved
  // state: AdamW, the grad norm and get/set_adam_state cover [shard_.begin, shard_.end) only; m
  // and v stay allocated for the whole model (the memory saving is not implemented on the GPU).
  void set_optimizer_shard(ShardRange shard) override;
  ShardRange optimizer_shard() const override { return shard_; }
  void reduce_grads(Communicator& comm, bool shard_only) override;
  void gather_params(Communicator& comm) override;

 private:
  // Device pointers into the activation allocation (see plan_activation_memory for shapes).
  struct Acts {
    int *tokens, *targets;
    float *rope_cos, *rope_sin;
    bf16 *encoded, *ln1, *qkv, *atty, *residual2, *ln2, *fch, *fch_gelu, *residual3, *lnf, *logits, *scratch;
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lnf_mean, *lnf_rstd, *losses, *ce_stats;
    bf16 *dresidual, *dln, *datt, *dbig, *dbig2, *dqkv;
    float* colsum_partial;
    int *tok_ids, *tok_start, *tok_pos;
    unsigned char* attn_saved;    // (L, saved) what each layer's attention forward keeps for its backward
    unsigned char* attn_scratch;  // attention scratch, shared by the layers
  };
  // One attention call's parameters for layer l (attention/attention.h).
  AttnParams attn_params(int l, bf16* out, const bf16* qkv, int B, int T) const;
  void ensure_acts(int B, int T);
  void upload_rope(int T, RopeScaling scaling);
  void require_training(const char* what) const;  // Error on a forward-only model

  GPT2Config cfg_;
  ModelUse use_;
  AttnSpec spec_;
  const Attention* attn_;  // attention_select()ed at construction: cuda fused or cuda reference
  AttnWorkspace attn_ws_;  // attn_->workspace() at the planned (B, T)
  std::vector<AttnStats>* attn_stats_ = nullptr;  // set_attn_stats(): (L) accumulators, or off
  ParamOffsets off_;
  std::vector<ParamRange> ranges_;
  ShardRange shard_;  // optimizer shard (the whole model unless ZeRO-1)
  std::unique_ptr<DeviceContext> ctx_;
  bool fuse_gelu_ = false;  // GELU in the cuBLASLt epilogue (sm_90+; slower on sm_80, as llm.c found)
  // parameters and optimizer state (one allocation)
  void* param_mem_ = nullptr;
  bf16* params_ = nullptr;  // (P) bf16 copy used by the forward
  float *master_ = nullptr, *grads_ = nullptr, *adam_m_ = nullptr, *adam_v_ = nullptr;  // (P) fp32; null: Evaluate
  float* staging_ = nullptr;  // Evaluate: (kEvalUploadFloats) fp32 upload staging of set_params
  double* norm_scratch_ = nullptr;  // (kNormBlocks + 1)
  // activations (one allocation, re-planned when (B, T) grows)
  void* act_mem_ = nullptr;
  size_t act_cap_ = 0;
  int plan_B_ = 0, plan_T_ = 0;
  Acts a_{};
  int B_ = 0, T_ = 0;
  bool have_targets_ = false;
  int rope_T_ = -1;
  RopeScaling rope_scaling_ = RopeScaling::None;
  std::vector<int> tokens_host_;
};

// Returns null and sets *why when no usable CUDA device is visible.
std::unique_ptr<Gpt2Model> make_cuda_model(const GPT2Config& cfg, std::string* why, ModelUse use = ModelUse::Train);

}  // namespace lssa
