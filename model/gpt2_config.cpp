#include "model/gpt2_config.h"

#include <cmath>

#include "model/rope.h"
#include "runtime/error.h"

namespace lssa {

int padded_vocab(int V) { return (V + 127) / 128 * 128; }

bool gpt2_preset(const std::string& name, GPT2Config& c) {
  struct P { const char* name; int L, NH, C, T; };
  static const P presets[] = {
      {"d12", 12, 12, 768, 1024},  {"d6", 6, 6, 384, 1024},     {"d24", 24, 16, 1024, 1024},
      {"d36", 36, 20, 1280, 1024}, {"d48", 48, 25, 1600, 1024}, {"small", 4, 4, 256, 256},
      {"tiny", 2, 2, 64, 64},
  };
  for (const auto& p : presets)
    if (name == p.name) {
      c.L = p.L;
      c.NH = p.NH;
      c.C = p.C;
      c.T_train = p.T;
      return true;
    }
  return false;
}

std::string gpt2_preset_names() { return "d12 (124M), d6, d24, d36, d48, small (L4 C256 T256), tiny (L2 C64 T64)"; }

ParamOffsets param_offsets(const GPT2Config& c) {
  const size_t L = c.L, C = c.C, Vp = c.Vp;
  ParamOffsets o;
  size_t at = 0;
  auto take = [&](size_t n) { size_t r = at; at += n; return r; };
  o.wte = take(Vp * C);
  o.ln1w = take(L * C);
  o.ln1b = take(L * C);
  o.qkvw = take(L * 3 * C * C);
  o.qkvb = take(L * 3 * C);
  o.attprojw = take(L * C * C);
  o.attprojb = take(L * C);
  o.ln2w = take(L * C);
  o.ln2b = take(L * C);
  o.fcw = take(L * 4 * C * C);
  o.fcb = take(L * 4 * C);
  o.fcprojw = take(L * C * 4 * C);
  o.fcprojb = take(L * C);
  o.lnfw = take(C);
  o.lnfb = take(C);
  o.total = at;
  return o;
}

std::vector<ParamTensor> param_layout(const GPT2Config& c) {
  const ParamOffsets o = param_offsets(c);
  const int64_t C = c.C;
  std::vector<ParamTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, size_t off, bool decay) {
    size_t n = 1;
    for (auto d : shape) n *= d;
    out.push_back({std::move(name), std::move(shape), off, n, decay});
  };
  add("wte", {c.Vp, C}, o.wte, true);
  for (int l = 0; l < c.L; l++) {
    const std::string h = "h." + std::to_string(l) + ".";
    add(h + "ln_1.weight", {C}, o.ln1w + l * C, false);
    add(h + "ln_1.bias", {C}, o.ln1b + l * C, false);
    add(h + "attn.c_attn.weight", {3 * C, C}, o.qkvw + l * 3 * C * C, true);
    add(h + "attn.c_attn.bias", {3 * C}, o.qkvb + l * 3 * C, false);
    add(h + "attn.c_proj.weight", {C, C}, o.attprojw + l * C * C, true);
    add(h + "attn.c_proj.bias", {C}, o.attprojb + l * C, false);
    add(h + "ln_2.weight", {C}, o.ln2w + l * C, false);
    add(h + "ln_2.bias", {C}, o.ln2b + l * C, false);
    add(h + "mlp.c_fc.weight", {4 * C, C}, o.fcw + l * 4 * C * C, true);
    add(h + "mlp.c_fc.bias", {4 * C}, o.fcb + l * 4 * C, false);
    add(h + "mlp.c_proj.weight", {C, 4 * C}, o.fcprojw + l * 4 * C * C, true);
    add(h + "mlp.c_proj.bias", {C}, o.fcprojb + l * C, false);
  }
  add("ln_f.weight", {C}, o.lnfw, false);
  add("ln_f.bias", {C}, o.lnfb, false);
  return out;
}

void check_token_ids(const int* tokens, const int* targets, int N, int V) {
  for (int i = 0; i < N; i++)
    if (tokens[i] < 0 || tokens[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V)))
      fail(strfmt("token id %d at position %d is outside the vocabulary [0, %d)",
                  tokens[i] < 0 || tokens[i] >= V ? tokens[i] : targets[i], i, V));
}

RopeScaling rope_scaling_from_name(const std::string& name) {
  if (name == "ntk") return RopeScaling::Ntk;
  if (name == "none") return RopeScaling::None;
  if (name == "dynamic") return RopeScaling::Dynamic;
  if (name == "yarn") return RopeScaling::Yarn;
  fail(strfmt("unknown RoPE scaling '%s' (ntk, none, dynamic, yarn)", name.c_str()));
}

void RopeTable::build(RopeScaling s, double base, int T_, int T_train, int HS_) {
  T = T_;
  HS = HS_;
  const int H2 = HS / 2;
  cos.resize((size_t)T * H2);
  sin.resize((size_t)T * H2);
  const double m = rope_magnitude(s, T, T_train);  // 1 except YaRN beyond T_train
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < H2; i++) {
      double a = rope_angle_at(s, base, i, t, T, T_train, HS);
      cos[(size_t)t * H2 + i] = m * std::cos(a);
      sin[(size_t)t * H2 + i] = m * std::sin(a);
    }
  }
}

}  // namespace lssa
