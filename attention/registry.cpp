#include "attention/registry.h"

#include <cmath>
#include <cstdlib>
#include <iterator>

#include "runtime/error.h"

namespace lssa {

const std::vector<AttnVariantInfo>& attn_registry() {
  static const std::vector<AttnVariantInfo> reg(std::begin(kAttnVariants), std::end(kAttnVariants));
  return reg;
}

bool attn_variant_reweightable(const AttnVariantInfo& v) { return attn_rows_l1(v.spec); }
bool attn_variant_signed(const AttnVariantInfo& v) { return attn_weights_signed(v.spec); }

const AttnVariantInfo* attn_find(const std::string& name) {
  for (const auto& v : attn_registry())
    if (name == v.name) return &v;
  return nullptr;
}

std::string attn_names() {
  std::string s;
  for (const auto& v : attn_registry()) {
    if (!s.empty()) s += ", ";
    s += v.name;
  }
  return s;
}

std::string attn_canonical_name(const std::string& name) {
  const AttnVariantInfo* v = attn_find(name);
  if (!v) fail(strfmt("unknown attention variant '%s' (known: %s)", name.c_str(), attn_names().c_str()));
  return v->alias_of ? v->alias_of : v->name;
}

AttnSpec attn_resolve(const std::string& name, const AttnOptions& opt, int T_train) {
  const AttnVariantInfo* v = attn_find(name);
  if (!v) fail(strfmt("unknown attention variant '%s' (known: %s)", name.c_str(), attn_names().c_str()));
  AttnSpec s = v->spec;
  if (s.bias == AttnBias::Constant) {
    if (opt.sigmoid_bias == "train") {
      if (T_train <= 0) fail("sigmoid bias 'train' needs a positive training length");
      s.bias_value = -std::log((double)T_train);
    } else if (opt.sigmoid_bias == "row") {
      s.bias = AttnBias::RowLog;
    } else {
      char* end = nullptr;
      double b = std::strtod(opt.sigmoid_bias.c_str(), &end);
      if (opt.sigmoid_bias.empty() || *end != '\0' || !std::isfinite(b))
        fail(strfmt("--sigmoid-bias must be 'train', 'row' or a number, got '%s'", opt.sigmoid_bias.c_str()));
      s.bias_value = b;
    }
  }
  // the baselines' options are checked whatever the variant (as --relu-divisor), used where it reads them
  if (!(opt.ssmax_scale > 0.f) || !std::isfinite(opt.ssmax_scale))
    fail(strfmt("--ssmax-scale must be a finite number > 0, got %g", opt.ssmax_scale));
  double qknorm_tau = 0;  // 0: "train"
  if (opt.qknorm_scale != "train") {
    char* end = nullptr;
    qknorm_tau = std::strtod(opt.qknorm_scale.c_str(), &end);
    if (opt.qknorm_scale.empty() || *end != '\0' || !std::isfinite(qknorm_tau) || !(qknorm_tau > 0))
      fail(strfmt("--qknorm-scale must be 'train' or a number > 0, got '%s'", opt.qknorm_scale.c_str()));
  }
  switch (s.scale) {
    case AttnScale::InvSqrtHS:
    case AttnScale::LssaLog: break;
    case AttnScale::SsMax: s.scale_value = opt.ssmax_scale; break;
    case AttnScale::Constant:
      if (qknorm_tau == 0) {  // Henry et al. (2020): g0 = log2(L² − L), L the training length
        if (T_train < 2) fail("--qknorm-scale train (log2(T_train^2 - T_train)) needs a training length >= 2");
        qknorm_tau = std::log2((double)T_train * T_train - T_train);
      }
      s.scale_value = qknorm_tau;
      break;
    case AttnScale::LogN:
      if (T_train < 2) fail(strfmt("variant '%s' scales by ln(n)/ln(T_train) and needs a training length >= 2", name.c_str()));
      s.scale_value = T_train;
      break;
  }
  if (opt.relu_divisor != "seq" && opt.relu_divisor != "row")
    fail(strfmt("--relu-divisor must be 'seq' or 'row', got '%s'", opt.relu_divisor.c_str()));
  if (s.norm == AttnNorm::DivideSeq && opt.relu_divisor == "row") s.norm = AttnNorm::DivideRow;
  const float p = opt.reweight_p != 0.f ? opt.reweight_p : v->default_p;  // 0 = not given: the variant's default
  if (!(p == 0.f || p >= 1.f) || !std::isfinite(p))
    fail(strfmt("--reweight-p must be 0 (off) or >= 1, got %g", p));
  if (p > 0.f && !attn_rows_l1(s))
    fail(strfmt("re-weighting (--reweight-p %g) needs l1-normalised rows; variant '%s' has none "
                "(use softmax, lssa, a *_l1 variant, sigmoid_rowbias_l1 or l1_only)",
                p, name.c_str()));
  s.reweight_p = p;
  return s;
}

AttnChoice attn_choose(const std::string& name, bool p_given, float p) {
  const AttnVariantInfo* v = attn_find(name);
  if (!v) fail(strfmt("unknown attention variant '%s' (known: %s)", name.c_str(), attn_names().c_str()));
  AttnChoice c;
  c.name = v->alias_of ? v->alias_of : v->name;
  c.reweight_p = p_given ? p : v->default_p;
  return c;
}

std::string attn_list_text() {
  std::string out = strfmt("%-20s %-14s %-41s %s\n", "name", "reconstructed", "source (arXiv 2501.13428 v2)",
                           "formula (s = q.k/sqrt(HS), row i sees n_i = i keys)");
  for (const auto& v : attn_registry())
    out += strfmt("%-20s %-14s %-41s %s\n", v.name, v.reconstructed ? "yes" : "no", v.source, v.formula);
  std::string rw, sg;
  for (const auto& v : attn_registry()) {
    if (attn_variant_reweightable(v)) rw += std::string(rw.empty() ? "" : ", ") + v.name;
    if (attn_variant_signed(v)) sg += std::string(sg.empty() ? "" : ", ") + v.name;
  }
  out += "re-weighting (--reweight-p P >= 1) applies to the variants with l1-normalised rows (paper v2 applies it at\n"
         "  evaluation only): " + rw + "\n"
         "  u = n_i a - o_i (o_i = 0 for rows 1-3, else 1), a' = relu(u)^P / sum_j relu(u)^P; lssar = lssa + P\n";
  out += "signed weights (the l1 normaliser sums |g|): " + sg + "\n";
  return out;
}

}  // namespace lssa
