// The interface the trainer and the evaluator use: a GPT-2 on one backend (CPU now; the CUDA
// backend implements the same interface). Parameters cross it as fp32 in the layout of
// model/gpt2_config.h; gradients and AdamW state stay inside the backend.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/gpt2_config.h"
#include "model/rope.h"

namespace lssa {

struct AdamWConfig {  // doubles: an fp64 backend must not see fp32-rounded hyperparameters
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;  // on 2-D weights only (ParamTensor::decay)
};

class Gpt2Model {
 public:
  virtual ~Gpt2Model() = default;
  virtual const GPT2Config& config() const = 0;
  virtual const char* backend_name() const = 0;
  // The device the backend runs on (the GPU's name, for the MFU table); "" on the CPU.
  virtual std::string device_name() const { return ""; }
  virtual size_t num_params() const = 0;

  // Forward pass over tokens (B, T). With targets (B, T), returns the mean cross-entropy;
  // without, returns NaN. RoPE scaling applies when T > T_train.
  virtual double forward(const int* tokens, const int* targets, int B, int T,
                         RopeScaling scaling = RopeScaling::None) = 0;
  // Per-position losses (B·T) and logits (B, T, Vp) of the last forward (host copies).
  virtual std::vector<float> losses() const = 0;
  virtual std::vector<float> logits() const = 0;

  virtual void zero_grad() = 0;
  // Backward of the last forward (which must have had targets). Gradients accumulate;
  // loss_scale multiplies dloss (1 / number of micro-batches for gradient accumulation).
  virtual void backward(float loss_scale) = 0;
  // Global L2 norm of the accumulated gradients (fp64 accumulation, deterministic order).
  virtual double grad_norm() const = 0;
  // One AdamW step at step number t ≥ 1: gradients are multiplied by grad_scale (clipping)
  // first, then p −= lr·(m̂/(√v̂ + eps) + wd·p) (wd only where ParamTensor::decay).
  virtual void adamw_step(const AdamWConfig& opt, double lr, double grad_scale, int t) = 0;

  // Parameters and optimizer state in the flat layout (fp32).
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
std::unique_ptr<Gpt2Model> make_cpu_model(const GPT2Config& cfg);

}  // namespace lssa
