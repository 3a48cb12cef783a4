// Causal attention on the CPU for every registered variant — the reference every GPU kernel is
// checked against.
//
// Math: attention/attention_math.h (the row pipeline s → φ → softmax/transform → normaliser →
// re-weighting → Σ a·v → optional LayerNorm). Memory is O(T) per head: the backward recomputes
// each row's weights instead of storing a (B, NH, T, T) matrix, so 16× evaluation lengths fit.
//
// Shapes (llm.c layout): qkv (B, T, 3C) with q | k | v and heads contiguous inside each
// (C = NH·HS); RoPE has already been applied to q and k. out / dout (B, T, C). dqkv (B, T, 3C)
// is overwritten. Work is split over (b, h) pairs with a static OpenMP schedule, so results do
// not depend on timing (bit-exact reruns).
#pragma once

#include "attention/attention_math.h"
#include "attention/attention_stats.h"

namespace lssa {

// stats (null = off): also adds every row's statistics (attention_stats.h) into *stats — the final
// weights, and the base weights before re-weighting when stats->has_base(); out is the same bits
// either way. O(T) extra memory per (b, h) (the row's weights are already there).
template <typename R>
void attention_forward_cpu(const AttnSpec& spec, R* out, const R* qkv, int B, int T, int NH, int HS,
                           AttnStats* stats = nullptr);

template <typename R>
void attention_backward_cpu(const AttnSpec& spec, R* dqkv, const R* dout, const R* qkv, int B, int T,
                            int NH, int HS);

// One row of the weight pipeline, exposed for tests: given the n scores of row n (1-indexed)
// in a forward pass of length T, writes the final weights a'_j (j < n).
template <typename R>
void attention_row_weights(const AttnSpec& spec, int n, int T, const R* scores, R* weights);

}  // namespace lssa
