// The two CUDA implementations of the attention interface (attention/attention.h), bf16:
//   attention_cuda_fused()      the fused FlashAttention-style kernels (flash_attention.h) for
//                               every variant flash_route() sends to a kernel family, HS ∈ {64, 128}
//   attention_cuda_reference()  the per-row GPU reference (attention_reference.h), every variant,
//                               HS ∈ {32, 64, 128}
// A CUDA model passes both to attention_select(), fused first.
#pragma once
#include "attention/attention.h"

namespace lssa {

const Attention& attention_cuda_fused();
const Attention& attention_cuda_reference();

}  // namespace lssa
