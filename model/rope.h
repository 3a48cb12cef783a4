// Rotary position embedding (RoPE) and its NTK-aware scaling — the one home of these formulas,
// used by the CPU layers and the CUDA kernels.
//
// Rotate-half convention on each head of q and k: pairs (x[i], x[i + HS/2]) for i < HS/2,
//   θ_i = base^(−2i/HS), angle = t·θ_i (positions t = 0, 1, …),
//   x'[i] = x[i]·cos − x[i+HS/2]·sin,   x'[i+HS/2] = x[i+HS/2]·cos + x[i]·sin.
// Scaling when evaluating at T > T_train (DESIGN.md §5):
//   ntk     : base' = base·α^(HS/(HS−2)), α = T/T_train, for the whole pass
//   dynamic : per position, α_t = max(1, (t+1)/T_train)
//   none    : base unchanged
#pragma once
#include <math.h>

#include <string>
#include <vector>

#include "attention/attention_math.h"  // LSSA_HD

namespace lssa {

enum class RopeScaling : int { None = 0, Ntk = 1, Dynamic = 2 };

inline const char* rope_scaling_name(RopeScaling s) {
  return s == RopeScaling::Ntk ? "ntk" : s == RopeScaling::Dynamic ? "dynamic" : "none";
}
// Throws Error for an unknown name.
RopeScaling rope_scaling_from_name(const std::string& name);

LSSA_HD double rope_ntk_base(double base, double alpha, int HS) {
  return alpha > 1.0 ? base * pow(alpha, (double)HS / (HS - 2.0)) : base;
}

// The base in effect at position t of a forward pass of length T.
LSSA_HD double rope_base_at(RopeScaling s, double base, int t, int T, int T_train, int HS) {
  if (s == RopeScaling::Ntk && T > T_train) return rope_ntk_base(base, (double)T / T_train, HS);
  if (s == RopeScaling::Dynamic && t + 1 > T_train) return rope_ntk_base(base, (double)(t + 1) / T_train, HS);
  return base;
}

LSSA_HD double rope_angle(double base_t, int i, int HS, int t) {
  return (double)t * pow(base_t, -2.0 * i / HS);
}

// Rotation table of a forward pass of length T, built on the host and used by the CPU layers and
// uploaded by the CUDA backend: cos/sin (T, HS/2) of rope_angle at each position's base.
struct RopeTable {
  int T = 0, HS = 0;
  std::vector<double> cos, sin;  // (T, HS/2)
  void build(RopeScaling s, double base, int T, int T_train, int HS);
};

}  // namespace lssa
