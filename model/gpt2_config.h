// GPT-2 with RoPE: configuration, presets and the parameter layout.
//
// Vocabulary: B batch, T sequence length, C channels, NH heads, HS = C/NH head size, L layers,
// V vocabulary (50257), Vp padded vocabulary (multiple of 128: 50304).
//
// All parameters live in one contiguous buffer, grouped by kind across layers as in llm.c
// (wte, then ln1w for all layers, ln1b for all layers, …). ParamLayout lists every tensor with
// its checkpoint name (HF GPT-2 names, PyTorch Linear layout (out, in)), shape, offset and
// whether AdamW decays it (2-D weights only). There is no wpe (RoPE) and no lm_head (tied).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "attention/attention.h"
#include "attention/registry.h"

namespace lssa {

struct GPT2Config {
  int L = 12;            // layers
  int NH = 12;           // heads
  int C = 768;           // channels
  int V = 50257;         // vocabulary
  int Vp = 50304;        // padded vocabulary (rows ≥ V of wte are zero and unused)
  std::string tokenizer = "gpt2";  // what the ids are: gpt2 | bytes (data/tokenizer.h); shows samples as text
  int T_train = 1024;    // training sequence length (the model's "max length"; RoPE has no limit)
  float rope_base = 10000.f;
  std::string attn = "softmax";  // canonical registry name
  AttnOptions attn_opt;          // sigmoid bias, relu divisor, re-weighting p (as runs: defaults applied)
  AttnImplChoice attn_impl = AttnImplChoice::Auto;  // --attn-impl: a run-time choice, not in checkpoints
  bool attn_stats = false;  // run-time, not in checkpoints: the attention implementation must compute row
                            //   statistics (eval_gpt2 --attn-stats; on the GPU: the reference path)
  int HS() const { return C / NH; }
  AttnSpec attn_spec() const { return attn_resolve(attn, attn_opt, T_train); }
};

// Named presets: d12 (124M), d6, d24, d36, d48, and CPU-sized ones (tiny, small).
// Returns false when the name is unknown.
bool gpt2_preset(const std::string& name, GPT2Config& cfg);
std::string gpt2_preset_names();
int padded_vocab(int V);  // rounds up to a multiple of 128

struct ParamTensor {
  std::string name;            // checkpoint name, e.g. "h.3.attn.c_attn.weight"
  std::vector<int64_t> shape;  // e.g. {3C, C}
  size_t offset;               // in floats, into the parameter buffer
  size_t numel;
  bool decay;                  // AdamW weight decay applies
};

// Offsets of the grouped kinds (each covering all layers), in floats.
struct ParamOffsets {
  size_t wte, ln1w, ln1b, qkvw, qkvb, attprojw, attprojb, ln2w, ln2b, fcw, fcb, fcprojw, fcprojb,
      lnfw, lnfb, total;
};

ParamOffsets param_offsets(const GPT2Config& c);

// Throws Error naming the first token id (input or target, N each; targets may be null) outside [0, V).
void check_token_ids(const int* tokens, const int* targets, int N, int V);
std::vector<ParamTensor> param_layout(const GPT2Config& c);

}  // namespace lssa
