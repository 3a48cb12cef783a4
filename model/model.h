// The interface the trainer and the evaluator use: a GPT-2 on one backend (CPU now; the CUDA
// backend implements the same interface). Parameters cross it as fp32 in the layout of
// model/gpt2_config.h; gradients and AdamW state stay inside the backend.
//
// Data parallelism (runtime/comm.h): the trainer hands the backend a Communicator and the backend
// moves its own buffers (host or device memory, whatever precision it keeps): reduce_grads()
// averages the gradients over the ranks, gather_params() re-assembles ZeRO-1 parameter shards.
// With set_optimizer_shard() the optimizer owns one contiguous range of the flat layout (ZeRO-1).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "attention/attention_stats.h"
#include "model/gpt2_config.h"
#include "model/rope.h"
#include "runtime/comm.h"

namespace lssa {

struct AdamWConfig {  // doubles: an fp64 backend must not see fp32-rounded hyperparameters
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // on 2-D weights only (ParamTensor::decay)
};

// What a model is built for. Evaluate: forward passes only (eval_gpt2's sweep) — no gradients or
// optimizer state are allocated, one layer's activations are reused layer after layer, and the
// logits and loss are computed kEvalLogitRows positions at a time, so the (B·T, Vp) logits never
// exist (a 16K-token window of GPT-2 would need 3.3 GB for them in fp32). Such a model keeps
// the per-position losses() but not the logits(), and refuses backward() and the optimizer.
enum class ModelUse { Train, Evaluate };
constexpr int kEvalLogitRows = 1024;

class Gpt2Model {
 public:
  virtual ~Gpt2Model() = default;
  virtual const GPT2Config& config() const = 0;
  virtual const char* backend_name() const = 0;
  // The device the backend runs on (the GPU's name, for the MFU table); "" on the CPU.
  virtual std::string device_name() const { return ""; }
  virtual size_t num_params() const = 0;
  // The attention implementation this model runs (attention/attention.h: "cpu reference", "cuda
  // fused", …), chosen once at construction by attention_select() from cfg.attn_impl.
  virtual std::string attention_impl() const = 0;
  // Where parameters and gradients live (picks the communicator: host → mpi/tcp, device → nccl).
  virtual MemSpace memory() const = 0;
  virtual ModelUse use() const = 0;

  // Forward pass over tokens (B, T). With targets (B, T), returns the mean cross-entropy;
  // without, returns NaN. RoPE scaling applies when T > T_train.
  virtual double forward(const int* tokens, const int* targets, int B, int T,
                         RopeScaling scaling = RopeScaling::None) = 0;
  // Attention statistics (eval_gpt2 --attn-stats; attention/attention_stats.h): with `layers` (L
  // accumulators, each of the next forwards' T and NH heads) every later forward() adds layer l's
  // attention rows into (*layers)[l]; null turns it off. The model must have been built with
  // cfg.attn_stats (so that it selected an implementation that computes them); outputs, losses and
  // logits are the same bits with or without it.
  virtual void set_attn_stats(std::vector<AttnStats>* layers) = 0;
  // Per-position losses (B·T) and logits (B, T, Vp) of the last forward (host copies).
  virtual std::vector<float> losses() const = 0;
  virtual std::vector<float> logits() const = 0;

  virtual void zero_grad() = 0;
  // Backward of the last forward (which must have had targets). Gradients accumulate;
  // loss_scale multiplies dloss (1 / number of micro-batches for gradient accumulation).
  virtual void backward(float loss_scale) = 0;
  // L2 norm of the accumulated gradients over the optimizer shard (all of them unless
  // set_optimizer_shard() narrowed it; fp64 accumulation, deterministic order).
  virtual double grad_norm() const = 0;
  // One AdamW step at step number t ≥ 1 on the parameters of the optimizer shard: gradients are
  // multiplied by grad_scale (clipping) first, then p −= lr·(m̂/(√v̂ + eps) + wd·p) (wd only where
  // ParamTensor::decay).
  virtual void adamw_step(const AdamWConfig& opt, double lr, double grad_scale, int t) = 0;

  // ZeRO-1: the optimizer owns elements [shard.begin, shard.end) of the flat layout: AdamW state
  // is kept for that range only (and zeroed here), grad_norm() and adamw_step() cover only it,
  // get/set_adam_state() exchange only it. Default: the whole layout.
  virtual void set_optimizer_shard(ShardRange shard) = 0;
  virtual ShardRange optimizer_shard() const = 0;
  // Averages the accumulated gradients over the ranks of comm, in place: all of them, or
  // (shard_only, ZeRO-1) only those of this rank's optimizer shard = shard_range(num_params(),
  // world, rank) — a reduce-scatter; the other gradients are then unspecified.
  virtual void reduce_grads(Communicator& comm, bool shard_only) = 0;
  // ZeRO-1, after adamw_step(): every rank updated its shard; makes the parameters whole on every
  // rank (an all-gather of whatever the forward reads, plus any master copy).
  virtual void gather_params(Communicator& comm) = 0;

  // Parameters and optimizer state in the flat layout (fp32); the state covers the optimizer shard.
  virtual void get_params(std::vector<float>& out) const = 0;
  virtual void set_params(const std::vector<float>& in) = 0;
  virtual void get_grads(std::vector<float>& out) const = 0;
  virtual void get_adam_state(std::vector<float>& m, std::vector<float>& v) const = 0;
  virtual void set_adam_state(const std::vector<float>& m, const std::vector<float>& v) = 0;
};

// GPT-2/llm.c initialisation: N(0, 0.02) weights, residual projections N(0, 0.02/√(2L)),
// zero biases, LayerNorm weights 1; padded wte rows 0. Deterministic in seed.
std::vector<float> gpt2_init_params(const GPT2Config& cfg, uint64_t seed);

// The CPU backend (fp32).
std::unique_ptr<Gpt2Model> make_cpu_model(const GPT2Config& cfg, ModelUse use = ModelUse::Train);

}  // namespace lssa
