// FLOPs per token and MFU: see flops.h for the formula.
#include "model/flops.h"

namespace lssa {

double model_forward_flops_per_token(const GPT2Config& cfg, int T) {
  const double C = cfg.C, L = cfg.L, Vp = cfg.Vp;
  const double n_mean = (T + 1) / 2.0;  // mean number of visible keys over the rows of a causal pass
  return L * (24.0 * C * C + 4.0 * C * n_mean) + 2.0 * C * Vp;
}

double model_train_flops_per_token(const GPT2Config& cfg, int T) { return 3.0 * model_forward_flops_per_token(cfg, T); }

double gpu_peak_bf16_tflops(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  // Dense bf16 tensor-core peaks from NVIDIA's datasheets (no sparsity). Order matters: the
  // more specific names first. An H100 whose form factor the name does not say is not guessed.
  if (has("H200")) return has("NVL") ? 835.0 : 989.0;
  if (has("GH200")) return 989.0;
  if (has("H100")) {
    if (has("PCIe")) return 756.0;
    if (has("NVL")) return 835.0;
    if (has("HBM3") || has("SXM")) return 989.0;
    return 0.0;
  }
  if (has("A100")) return 312.0;
  if (has("B200")) return 2250.0;
  if (has("L40S")) return 362.0;
  if (has("L4") && !has("L40")) return 121.0;
  return 0.0;
}

double model_mfu(const GPT2Config& cfg, int T, double tokens_per_s, double peak_tflops) {
  if (peak_tflops <= 0.0 || tokens_per_s <= 0.0) return 0.0;
  return model_train_flops_per_token(cfg, T) * tokens_per_s / (peak_tflops * 1e12);
}

}  // namespace lssa
