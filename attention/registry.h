// The attention registry: every variant of the paper by name (`--attn NAME`), its formula, the
// paper table/row it comes from, and how it maps onto an AttnSpec (attention/attention_math.h).
//
// The choices the paper leaves open are options with defaults (DESIGN.md §4.1), not hidden
// constants; they are recorded in checkpoints so that evaluation reproduces training:
//   sigmoid_bias : "train" (b = −ln T_train) | "row" (b = −ln n_i) | a number     (variant `sigmoid`)
//   relu_divisor : "seq" (divide by T) | "row" (divide by n_i)                    (variant `relu_seqlen`)
#pragma once
#include <string>
#include <vector>

#include "attention/attention_math.h"

namespace lssa {

constexpr float kLssarDefaultP = 15.f;  // `--attn lssar` without --reweight-p: the paper's headline p

struct AttnOptions {
  std::string sigmoid_bias = "train";  // see above
  std::string relu_divisor = "seq";    // see above
  float reweight_p = 0.f;              // 0 = off, else ≥ 1 (l1-normalised variants only)
};

struct AttnVariantInfo {
  const char* name;      // the `--attn` name
  const char* formula;   // weights a_ij, human-readable
  const char* source;    // paper table / row
  bool reconstructed;    // our reading where the paper's text lost the equation
  const char* alias_of;  // non-null: this name runs that variant (exp_l1 → softmax)
  AttnSpec spec;         // the math, before options are applied
};

// Every registered variant, in the order `--attn list` prints them.
const std::vector<AttnVariantInfo>& attn_registry();
// nullptr when unknown.
const AttnVariantInfo* attn_find(const std::string& name);
// The resolved spec for a variant name + options; throws Error (one line) for an unknown name,
// a bad option value, or re-weighting requested on a variant whose rows are not l1-normalised.
AttnSpec attn_resolve(const std::string& name, const AttnOptions& opt, int T_train);
// The canonical name (aliases resolved).
std::string attn_canonical_name(const std::string& name);
// Text for `--attn list`.
std::string attn_list_text();
// Comma-separated names (for error messages and --help).
std::string attn_names();

}  // namespace lssa
