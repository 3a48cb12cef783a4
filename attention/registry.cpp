#include "attention/registry.h"

#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace lssa {

namespace {

AttnSpec make(AttnScore score, AttnMap map, bool softmax, AttnTransform tr, AttnNorm norm,
              AttnBias bias = AttnBias::None, bool post_ln = false) {
  AttnSpec s;
  s.score = score;
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

AttnSpec l1(AttnMap m) { return make(D, m, false, TN, AttnNorm::L1); }

}  // namespace

const std::vector<AttnVariantInfo>& attn_registry() {
  static const std::vector<AttnVariantInfo> reg = {
      {"softmax", "exp(s) / sum_j exp(s)", "Tables 1-4 Softmax; Table 2 IV; Fig. 2", false, nullptr,
       make(D, AttnMap::Exp, true, TN, AttnNorm::None)},
      {"exp_l1", "exp(s) / sum_j |exp(s)|  (identical to softmax: runs softmax)", "Table 3 exp (= softmax)", false,
       "softmax", make(D, AttnMap::Exp, true, TN, AttnNorm::None)},
      {"lssar", "lssa + re-weighting (--reweight-p P, default 15)", "Eq. 5; Table 4 LSSAR; Fig. 2", false, "lssa",
       make(AttnScore::Cosine, AttnMap::Softplus, false, TN, AttnNorm::L1)},
      {"softplus_l1", "softplus(s) / sum_j softplus(s)", "Table 3 Softplus", false, nullptr, l1(AttnMap::Softplus)},
      {"sigmoid_l1", "sigmoid(s) / sum_j sigmoid(s)", "Table 3; Table 4 Sigmoid (Proposed)", false, nullptr, l1(AttnMap::Sigmoid)},
      {"relu_l1", "relu(s) / sum_j relu(s)", "Table 3 ReLU; Table 4 ReLU (Li et al.)", false, nullptr, l1(AttnMap::Relu)},
      {"relu2_l1", "relu(s)^2 / sum_j relu(s)^2", "Table 3 ReLU2", false, nullptr, l1(AttnMap::Relu2)},
      {"relu6_l1", "relu6(s) / sum_j relu6(s)", "Table 3 ReLU6", false, nullptr, l1(AttnMap::Relu6)},
      {"gelu_l1", "gelu(s) / sum_j |gelu(s)|  (erf GeLU, signed)", "Table 3 GeLU", false, nullptr, l1(AttnMap::Gelu)},
      {"mish_l1", "mish(s) / sum_j |mish(s)|  (signed)", "Table 3 Mish", false, nullptr, l1(AttnMap::Mish)},
      {"lssa",
       "softplus(c_i * qhat.khat) / sum_j softplus(...), c_i = ln(HS) ln(n_i), unit q,k, no 1/sqrt(d)",
       "Eq. 4; Table 4 LSSA", false, nullptr,
       make(AttnScore::Cosine, AttnMap::Softplus, false, TN, AttnNorm::L1)},
      {"sigmoid", "sigmoid(s + b), b = -ln(T_train) (--sigmoid-bias), no normalisation",
       "Table 4 Sigmoid (Ramapuram et al.)", false, nullptr,
       make(D, AttnMap::Sigmoid, false, TN, AttnNorm::None, AttnBias::Constant)},
      {"sigmoid_rowbias", "sigmoid(s - ln n_i), no normalisation", "Table 4 Sigmoid (Ramapuram), other b", true,
       nullptr, make(D, AttnMap::Sigmoid, false, TN, AttnNorm::None, AttnBias::RowLog)},
      {"sigmoid_rowbias_l1", "sigmoid(s - ln n_i) / sum_j sigmoid(s - ln n_i)", "Table 4 Sigmoid (Ramapuram)(l1-norm)", true, nullptr,
       make(D, AttnMap::Sigmoid, false, TN, AttnNorm::L1, AttnBias::RowLog)},
      {"relu_seqlen", "relu(s) / T (--relu-divisor seq|row), no normalisation",
       "Table 4 ReLU (Wortsman et al.)", false, nullptr,
       make(D, AttnMap::Relu, false, TN, AttnNorm::DivideSeq)},
      {"relu_shen", "o_i = LayerNorm_noaffine(sum_j relu(s) v_j) over HS", "Table 4 ReLU (Shen et al.)", true,
       nullptr, make(D, AttnMap::Relu, false, TN, AttnNorm::None, AttnBias::None, true)},
      {"inverse", "-softmax(s)", "Table 1 Inverse", false, nullptr,
       make(D, AttnMap::Exp, true, AttnTransform::Negate, AttnNorm::None)},
      {"recentered", "softmax(s) - 1/n_i (rows n_i <= 3 keep softmax)", "Table 1 Re-centered", false, nullptr,
       make(D, AttnMap::Exp, true, AttnTransform::Recenter, AttnNorm::None)},
      {"recentered_l1", "(p - 1/n_i) / sum_j |p - 1/n_i|, p = softmax (rows n_i <= 3 keep p)", "Table 1 Re-centered & l1-norm",
       false, nullptr, make(D, AttnMap::Exp, true, AttnTransform::Recenter, AttnNorm::L1)},
      {"linear", "s  (neither exp nor l1)", "Table 2 scenario I", false, nullptr,
       make(D, AttnMap::Identity, false, TN, AttnNorm::None)},
      {"exp_only", "exp(s)  (no normaliser; literal, can overflow)", "Table 2 scenario II", false, nullptr,
       make(D, AttnMap::Exp, false, TN, AttnNorm::None)},
      {"l1_only", "s / sum_j |s|", "Table 2 scenario III", false, nullptr, l1(AttnMap::Identity)},
  };
  return reg;
}

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
  if (opt.relu_divisor != "seq" && opt.relu_divisor != "row")
    fail(strfmt("--relu-divisor must be 'seq' or 'row', got '%s'", opt.relu_divisor.c_str()));
  if (s.norm == AttnNorm::DivideSeq && opt.relu_divisor == "row") s.norm = AttnNorm::DivideRow;
  float p = opt.reweight_p;
  if (name == "lssar" && p == 0.f) p = kLssarDefaultP;
  if (!(p == 0.f || p >= 1.f) || !std::isfinite(p))
    fail(strfmt("--reweight-p must be 0 (off) or >= 1, got %g", p));
  if (p > 0.f && !attn_rows_l1(s))
    fail(strfmt("re-weighting (--reweight-p %g) needs l1-normalised rows; variant '%s' has none "
                "(use softmax, lssa, a *_l1 variant, sigmoid_rowbias_l1 or l1_only)",
                p, name.c_str()));
  s.reweight_p = p;
  return s;
}

std::string attn_list_text() {
  std::string out = strfmt("%-20s %-14s %-41s %s\n", "name", "reconstructed", "source (arXiv 2501.13428 v2)",
                           "formula (s = q.k/sqrt(HS), row i sees n_i = i keys)");
  for (const auto& v : attn_registry())
    out += strfmt("%-20s %-14s %-41s %s\n", v.name, v.reconstructed ? "yes" : "no", v.source, v.formula);
  out += "re-weighting (--reweight-p P >= 1) applies to the variants with l1-normalised rows: softmax (exp_l1), lssa,\n"
         "  *_l1, sigmoid_rowbias_l1 and l1_only (paper v2 applies it at evaluation only):\n"
         "  u = n_i a - o_i (o_i = 0 for rows 1-3, else 1), a' = relu(u)^P / sum_j relu(u)^P; lssar = lssa + P\n";
  return out;
}

}  // namespace lssa
