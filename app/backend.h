// Run-time backend selection (--device auto|cpu|cuda) and thread setup.
#pragma once
#include <cstdio>
#include <memory>
#include <string>

#include "model/model.h"

namespace lssa {

// auto: CUDA when this build has the CUDA backend and a GPU is visible, else CPU, saying why in one
// line on `notes` (the program's log stream: stdout for training and the sweep, stderr when stdout
// carries generated text). cuda: fails with one line when either is missing.
// `use` = Evaluate builds a forward-only model (model.h: no training state, chunked logits).
std::unique_ptr<Gpt2Model> make_model(const GPT2Config& cfg, const std::string& device, FILE* notes = stdout,
                                      ModelUse use = ModelUse::Train);

// Sets the OpenMP and BLAS thread counts (0 = leave the defaults).
void set_cpu_threads(int n);
int cpu_threads();
// A one-line hint when OpenBLAS runs generic kernels on a CPU that has better ones; "" otherwise.
std::string blas_kernel_note();

}  // namespace lssa
