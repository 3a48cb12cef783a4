// Model FLOPs per token and MFU (model FLOPs utilisation) — host code, shared by the backends and
// the trainer, tested on the CPU.
//
// FLOPs counted (a multiply-add = 2 FLOPs; element-wise layers, LayerNorm, softmax, the optimizer
// and the embedding gather are not counted, as usual):
//   per layer, per token, forward:
//     matmuls   2·(3C·C + C·C + 4C·C + 4C·C)            = 24·C²
//     attention 2·2·C·n̄,  n̄ = (T+1)/2                   (q·k and a·v over the n_i = i visible keys,
//                                                          averaged over the T rows: causal work only)
//   classifier  2·C·Vp (the padded columns are computed too)
//   forward  F = L·(24·C² + 4·C·n̄) + 2·C·Vp
//   training 3·F (backward = 2 × forward for every matmul, and for attention's two products)
// Note: llm.c and PaLM count attention as if every row saw all T keys (12·L·C·T per token for
// training); we count the causal work that is actually done, so for the same speed our MFU is a
// few percent lower than llm.c's figure at T = 1024.
//
// MFU = achieved FLOP/s ÷ peak dense bf16 FLOP/s of the GPU. The peak comes from --peak-tflops or
// from a small table of GPUs we know; an unknown GPU gets no MFU (0) rather than a made-up one.
#pragma once
#include <string>

#include "model/gpt2_config.h"

namespace lssa {

// Forward FLOPs per token for sequence length T (see above).
double model_forward_flops_per_token(const GPT2Config& cfg, int T);
// Training FLOPs per token (forward + backward) = 3 × forward.
double model_train_flops_per_token(const GPT2Config& cfg, int T);
// Peak dense bf16 TFLOP/s (fp32 accumulate) for a device name as cudaGetDeviceProperties reports
// it, e.g. "NVIDIA H100 80GB HBM3" → 989; 0 when the GPU is not in the table.
double gpu_peak_bf16_tflops(const std::string& device_name);
// MFU in [0, 1+) from tokens/s; 0 when peak_tflops ≤ 0 (unknown GPU: print no MFU).
double model_mfu(const GPT2Config& cfg, int T, double tokens_per_s, double peak_tflops);

}  // namespace lssa
