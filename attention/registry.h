// The attention registry: every variant of the paper by name (`--attn NAME`), its formula, the
// paper table/row it comes from, and how it maps onto an AttnSpec (attention/attention_math.h).
// It is the ONE place that states facts about a variant: its aliases, its default re-weighting
// exponent, and — derived from its spec, never listed by hand — whether its rows are l1-normalised
// (re-weightable), whether its weights can be negative (Z = Σ|g| then needs the absolute value),
// and which implementations run it (attention/attention.h asks each implementation's supports()).
// The table is constexpr so that the fused kernels' instantiations are derived from it at compile
// time (attention/cuda/flash_plan.h: flash_map_instantiated).
//
// The choices the paper leaves open are options with defaults (DESIGN.md §4.1), not hidden
// constants; they are recorded in checkpoints so that evaluation reproduces training:
//   sigmoid_bias : "train" (b = −ln T_train) | "row" (b = −ln n_i) | a number     (variant `sigmoid`)
//   relu_divisor : "seq" (divide by T) | "row" (divide by n_i)                    (variant `relu_seqlen`)
// and two options of baselines that are not in the paper (docs/attention_variants.md):
//   ssmax_scale  : SSMax's s, a number > 0, fixed (not learned); default 1         (variant `ssmax`)
//   qknorm_scale : "train" (τ = log2(T_train² − T_train), Henry et al. 2020's initial
//                  value of their learned g) | a number > 0                         (variant `softmax_qknorm`)
#pragma once
#include <string>
#include <vector>

#include "attention/attention_math.h"

namespace lssa {

struct AttnOptions {
  std::string sigmoid_bias = "train";  // see above
  std::string relu_divisor = "seq";    // see above
  float reweight_p = 0.f;              // 0 = off, else ≥ 1 (l1-normalised variants only)
  float ssmax_scale = 1.f;             // see above
  std::string qknorm_scale = "train";  // see above
};

struct AttnVariantInfo {
  const char* name;      // the `--attn` name
  const char* formula;   // weights a_ij, human-readable
  const char* source;    // paper table / row
  bool reconstructed;    // our reading where the paper's text lost the equation
  const char* alias_of;  // non-null: this name runs that variant (exp_l1 → softmax, lssar → lssa)
  float default_p;       // re-weighting exponent when --reweight-p is not given (lssar: 15, else 0)
  AttnSpec spec;         // the math, before options are applied
};

namespace registry_detail {
// The score's row scale defaults to the paper's: 1/√HS on q·k, LSSA's c_i on the cosine.
constexpr AttnSpec make(AttnScore score, AttnMap map, bool softmax, AttnTransform tr, AttnNorm norm,
                        AttnBias bias = AttnBias::None, bool post_ln = false) {
  AttnSpec s;
  s.score = score;
  s.scale = score == AttnScore::Cosine ? AttnScale::LssaLog : AttnScale::InvSqrtHS;
  s.map = map;
  s.softmax = softmax;
  s.transform = tr;
  s.norm = norm;
  s.bias = bias;
  s.post_layernorm = post_ln;
  return s;
}
constexpr AttnScore D = AttnScore::Dot;
constexpr AttnTransform TN = AttnTransform::None;
constexpr AttnSpec l1(AttnMap m) { return make(D, m, false, TN, AttnNorm::L1); }
constexpr AttnSpec lssa_spec() { return make(AttnScore::Cosine, AttnMap::Softplus, false, TN, AttnNorm::L1); }
// Softmax over a score with another row scale (the baselines that only rescale the score;
// scale_value is filled from the options by attn_resolve).
constexpr AttnSpec scaled_softmax(AttnScore score, AttnScale scale) {
  AttnSpec s = make(score, AttnMap::Exp, true, TN, AttnNorm::None);
  s.scale = scale;
  return s;
}
}  // namespace registry_detail

// Every registered variant, in the order `--attn list` prints them. Adding a variant = one row
// here (+ its math in attention_math.h if it brings a new φ): docs/adding_an_attention_variant.md.
inline constexpr AttnVariantInfo kAttnVariants[] = {
    // clang-format off
    {"softmax", "exp(s) / sum_j exp(s)", "Tables 1-4 Softmax; Table 2 IV; Fig. 2", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Exp, true, registry_detail::TN, AttnNorm::None)},
    {"exp_l1", "exp(s) / sum_j |exp(s)|  (identical to softmax: runs softmax)", "Table 3 exp (= softmax)", false,
     "softmax", 0.f, registry_detail::make(registry_detail::D, AttnMap::Exp, true, registry_detail::TN, AttnNorm::None)},
    {"lssar", "lssa + re-weighting (--reweight-p P, default 15)", "Eq. 5; Table 4 LSSAR; Fig. 2", false, "lssa", 15.f,
     registry_detail::lssa_spec()},
    {"softplus_l1", "softplus(s) / sum_j softplus(s)", "Table 3 Softplus", false, nullptr, 0.f, registry_detail::l1(AttnMap::Softplus)},
    {"sigmoid_l1", "sigmoid(s) / sum_j sigmoid(s)", "Table 3; Table 4 Sigmoid (Proposed)", false, nullptr, 0.f, registry_detail::l1(AttnMap::Sigmoid)},
    {"relu_l1", "relu(s) / sum_j relu(s)", "Table 3 ReLU; Table 4 ReLU (Li et al.)", false, nullptr, 0.f, registry_detail::l1(AttnMap::Relu)},
    {"relu2_l1", "relu(s)^2 / sum_j relu(s)^2", "Table 3 ReLU2", false, nullptr, 0.f, registry_detail::l1(AttnMap::Relu2)},
    {"relu6_l1", "relu6(s) / sum_j relu6(s)", "Table 3 ReLU6", false, nullptr, 0.f, registry_detail::l1(AttnMap::Relu6)},
    {"gelu_l1", "gelu(s) / sum_j |gelu(s)|  (erf GeLU, signed)", "Table 3 GeLU", false, nullptr, 0.f, registry_detail::l1(AttnMap::Gelu)},
    {"mish_l1", "mish(s) / sum_j |mish(s)|  (signed)", "Table 3 Mish", false, nullptr, 0.f, registry_detail::l1(AttnMap::Mish)},
    {"softsign_l1", "softsign(s) / sum_j |softsign(s)|, softsign(x) = x/(1+|x|)  (signed)",
     "not in the paper (the worked example of docs/adding_an_attention_variant.md)", false, nullptr, 0.f,
     registry_detail::l1(AttnMap::Softsign)},
    {"lssa", "softplus(c_i * qhat.khat) / sum_j softplus(...), c_i = ln(HS) ln(n_i), unit q,k, no 1/sqrt(d)",
     "Eq. 4; Table 4 LSSA", false, nullptr, 0.f, registry_detail::lssa_spec()},
    {"sigmoid", "sigmoid(s + b), b = -ln(T_train) (--sigmoid-bias), no normalisation",
     "Table 4 Sigmoid (Ramapuram et al.)", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Sigmoid, false, registry_detail::TN, AttnNorm::None, AttnBias::Constant)},
    {"sigmoid_rowbias", "sigmoid(s - ln n_i), no normalisation", "Table 4 Sigmoid (Ramapuram), other b", true, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Sigmoid, false, registry_detail::TN, AttnNorm::None, AttnBias::RowLog)},
    {"sigmoid_rowbias_l1", "sigmoid(s - ln n_i) / sum_j sigmoid(s - ln n_i)", "Table 4 Sigmoid (Ramapuram)(l1-norm)", true,
     nullptr, 0.f, registry_detail::make(registry_detail::D, AttnMap::Sigmoid, false, registry_detail::TN, AttnNorm::L1, AttnBias::RowLog)},
    {"relu_seqlen", "relu(s) / T (--relu-divisor seq|row), no normalisation", "Table 4 ReLU (Wortsman et al.)", false,
     nullptr, 0.f, registry_detail::make(registry_detail::D, AttnMap::Relu, false, registry_detail::TN, AttnNorm::DivideSeq)},
    {"relu_shen", "o_i = LayerNorm_noaffine(sum_j relu(s) v_j) over HS", "Table 4 ReLU (Shen et al.)", true, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Relu, false, registry_detail::TN, AttnNorm::None, AttnBias::None, true)},
    {"inverse", "-softmax(s)", "Table 1 Inverse", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Exp, true, AttnTransform::Negate, AttnNorm::None)},
    {"recentered", "softmax(s) - 1/n_i (rows n_i <= 3 keep softmax)", "Table 1 Re-centered", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Exp, true, AttnTransform::Recenter, AttnNorm::None)},
    {"recentered_l1", "(p - 1/n_i) / sum_j |p - 1/n_i|, p = softmax (rows n_i <= 3 keep p)", "Table 1 Re-centered & l1-norm",
     false, nullptr, 0.f, registry_detail::make(registry_detail::D, AttnMap::Exp, true, AttnTransform::Recenter, AttnNorm::L1)},
    {"linear", "s  (neither exp nor l1)", "Table 2 scenario I", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Identity, false, registry_detail::TN, AttnNorm::None)},
    {"exp_only", "exp(s)  (no normaliser; literal, can overflow)", "Table 2 scenario II", false, nullptr, 0.f,
     registry_detail::make(registry_detail::D, AttnMap::Exp, false, registry_detail::TN, AttnNorm::None)},
    {"l1_only", "s / sum_j |s|", "Table 2 scenario III", false, nullptr, 0.f, registry_detail::l1(AttnMap::Identity)},
    {"ssmax", "softmax(s * ssmax_scale * ln(n_i)), s = q.k/sqrt(HS) (--ssmax-scale, default 1, fixed)",
     "not in the paper (baseline: Scalable-Softmax, Nakanishi 2025)", false, nullptr, 0.f,
     registry_detail::scaled_softmax(registry_detail::D, AttnScale::SsMax)},
    {"softmax_qknorm", "softmax(tau * qhat.khat), unit q,k, tau = log2(T_train^2 - T_train) (--qknorm-scale)",
     "not in the paper (baseline: QK-norm, Henry et al. 2020)", false, nullptr, 0.f,
     registry_detail::scaled_softmax(AttnScore::Cosine, AttnScale::Constant)},
    {"logn_softmax", "softmax(s * max(1, ln(n_i)/ln(T_train))), s = q.k/sqrt(HS)",
     "not in the paper (baseline: log-n / entropy-invariance scaling)", false, nullptr, 0.f,
     registry_detail::scaled_softmax(registry_detail::D, AttnScale::LogN)},
    // clang-format on
};

// The table above as a vector (for range-for and size()).
const std::vector<AttnVariantInfo>& attn_registry();
// nullptr when unknown.
const AttnVariantInfo* attn_find(const std::string& name);
// The resolved spec for a variant name + options (opt.reweight_p = 0: the named variant's
// default_p, so "lssar" resolves to lssa at p = 15); throws Error (one line) for an unknown name,
// a bad option value, or re-weighting requested on a variant whose rows are not l1-normalised.
AttnSpec attn_resolve(const std::string& name, const AttnOptions& opt, int T_train);
// The canonical name (aliases resolved).
std::string attn_canonical_name(const std::string& name);

// What a command line names, resolved once: the canonical variant (what checkpoints record) and
// the re-weighting exponent it runs with — the one the user gave, else the named variant's
// default_p (so `--attn lssar` means lssa at p = 15 in training AND evaluation).
struct AttnChoice {
  std::string name;      // canonical registry name
  float reweight_p = 0;  // exponent that runs
};
// p_given: whether the user gave --reweight-p (then `p` is used as is). Throws for unknown names.
AttnChoice attn_choose(const std::string& name, bool p_given, float p);

// Facts derived from a variant's spec (one definition each, used by the router, --attn list and
// the tests that walk the registry):
//   re-weightable = rows l1-normalised (attn_rows_l1); signed = weights before the normaliser can be
//   negative (attn_weights_signed: a signed φ or a transform of softmax).
bool attn_variant_reweightable(const AttnVariantInfo& v);
bool attn_variant_signed(const AttnVariantInfo& v);
// Text for `--attn list`.
std::string attn_list_text();
// Comma-separated names (for error messages and --help).
std::string attn_names();

}  // namespace lssa
