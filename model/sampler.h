// Text generation: the next token from the logits (greedy, or temperature + top-k sampling with
// the project's seeded RNG), and the autoregressive loop over a Gpt2Model.
//
// Sampler::next, over the first V columns of one logits row (the Vp − V padded columns are never
// candidates):
//   greedy (top_k == 1 or temperature == 0): argmax_j z_j, the lowest j on ties;
//   otherwise: K = the k largest z_j (all V when top_k == 0; ties broken by the lower index),
//              p_j = exp((z_j − max z) / temperature) / Σ_{i∈K} exp((z_i − max z) / temperature)
//              for j ∈ K (fp64), and j is drawn by inverting the cumulative sum at u ~ U[0, 1).
// One Rng draw per sampled token (none when greedy), so a fixed seed gives fixed tokens.
//
// generate(): re-runs the full forward over the last `window` tokens for every new token (no KV
// cache: O(T²) per sequence, fine at the sizes we sample) and samples from the last position.
// A window longer than the model's T_train uses RoPE scaling as in evaluation (model/rope.h).
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/rng.h"

namespace lssa {

class Tokenizer;

struct SamplerConfig {
  int top_k = 1;             // candidates: the k largest logits; 1 = greedy, 0 = all V
  float temperature = 1.0f;  // divides the logits; 0 = greedy
  uint64_t seed = 0;         // seed of the sampling RNG (never the data / initialisation RNG)
};

class Sampler {
 public:
  // Throws Error (one line) for top_k < 0, a negative or non-finite temperature, or V < 1.
  Sampler(const SamplerConfig& cfg, int V);
  bool greedy() const { return cfg_.top_k == 1 || cfg_.temperature == 0.f; }
  // The next token in [0, V) from one logits row (Vp ≥ V values; only the first V are read).
  // Throws Error when one of the first V logits is not finite (a diverged model).
  int next(const float* logits);

 private:
  SamplerConfig cfg_;
  int V_;
  Rng rng_;
  std::vector<int> idx_;     // (V,) candidate order scratch
  std::vector<double> p_;    // (k,) probabilities scratch
};

struct GenerateConfig {
  int max_new_tokens = 32;                   // tokens appended to the context
  int window = 0;                            // the forward sees at most the last `window` tokens (> 0)
  RopeScaling scaling = RopeScaling::None;   // applies when window > the model's T_train
};

// Appends gc.max_new_tokens tokens to `context` (≥ 1 token, ids in [0, V)); returns the new ones.
// on_token (optional) sees each new token as soon as it is chosen (to stream the text).
std::vector<int> generate(Gpt2Model& model, const std::vector<int>& context, const GenerateConfig& gc,
                          Sampler& sampler, const std::function<void(int)>& on_token = nullptr);

// A one-line rendering of tokens for logs: the decoded text with control characters escaped
// (\n, \t, \xHH) when a tokenizer is given, else the ids as "[id id ...]".
std::string tokens_for_log(const Tokenizer* tok, const std::vector<int>& ids);

}  // namespace lssa
