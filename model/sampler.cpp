#include "model/sampler.h"

#include <algorithm>
#include <cmath>

#include "data/tokenizer.h"
#include "runtime/error.h"

namespace lssa {

Sampler::Sampler(const SamplerConfig& cfg, int V) : cfg_(cfg), V_(V), rng_(cfg.seed) {
  if (V < 1) fail(strfmt("sampler: vocabulary size must be positive, got %d", V));
  if (cfg.top_k < 0) fail(strfmt("top-k must be >= 0 (1 = greedy, 0 = the whole vocabulary), got %d", cfg.top_k));
  if (!(cfg.temperature >= 0.f) || !std::isfinite(cfg.temperature))
    fail(strfmt("temperature must be a finite number >= 0 (0 = greedy), got %g", cfg.temperature));
  idx_.resize(V);
}

int Sampler::next(const float* logits) {
  // logits: (Vp,) of which the first V are real tokens
  for (int j = 0; j < V_; j++)
    if (!std::isfinite(logits[j])) fail(strfmt("sampler: logit %d is %g (the model diverged)", j, logits[j]));
  if (greedy()) return (int)(std::max_element(logits, logits + V_) - logits);  // first maximum on ties

  // the k largest, in decreasing order, lower index first on ties (a total order: deterministic)
  const int k = cfg_.top_k == 0 ? V_ : std::min(cfg_.top_k, V_);
  for (int j = 0; j < V_; j++) idx_[j] = j;
  std::partial_sort(idx_.begin(), idx_.begin() + k, idx_.end(),
                    [&](int a, int b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  // softmax over the candidates at the temperature, shifted by the max so exp never overflows
  const double zmax = logits[idx_[0]], inv_t = 1.0 / cfg_.temperature;
  p_.resize(k);
  double sum = 0;
  for (int i = 0; i < k; i++) sum += p_[i] = std::exp((logits[idx_[i]] - zmax) * inv_t);
  const double u = rng_.uniform() * sum;  // invert the unnormalised cumulative sum
  double c = 0;
  for (int i = 0; i < k; i++) {
    c += p_[i];
    if (u < c) return idx_[i];
  }
  return idx_[k - 1];  // u within rounding of the total
}

std::vector<int> generate(Gpt2Model& model, const std::vector<int>& context, const GenerateConfig& gc,
                          Sampler& sampler, const std::function<void(int)>& on_token) {
  if (context.empty()) fail("generate: the context needs at least one token");
  if (gc.window < 1) fail(strfmt("generate: the window must be positive, got %d", gc.window));
  const int Vp = model.config().Vp;
  std::vector<int> seq = context, out;
  for (int n = 0; n < gc.max_new_tokens; n++) {
    const int T = (int)std::min<size_t>(seq.size(), (size_t)gc.window);
    model.forward(seq.data() + seq.size() - T, nullptr, 1, T, gc.scaling);
    const std::vector<float> logits = model.logits();  // (1, T, Vp)
    const int t = sampler.next(logits.data() + (size_t)(T - 1) * Vp);
    seq.push_back(t);
    out.push_back(t);
    if (on_token) on_token(t);
  }
  return out;
}

std::string tokens_for_log(const Tokenizer* tok, const std::vector<int>& ids) {
  std::string s;
  if (!tok) {
    s = "[";
    for (size_t i = 0; i < ids.size(); i++) s += (i ? " " : "") + std::to_string(ids[i]);
    return s + "]";
  }
  for (unsigned char c : tok->decode(ids.data(), ids.size())) {
    if (c == '\n') s += "\\n";
    else if (c == '\t') s += "\\t";
    else if (c == '\\') s += "\\\\";
    else if (c < 0x20 || c == 0x7f) s += strfmt("\\x%02x", c);
    else s += (char)c;
  }
  return s;
}

}  // namespace lssa
