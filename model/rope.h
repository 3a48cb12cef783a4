// Rotary position embedding (RoPE) and its NTK-aware scaling — the one home of these formulas,
// used by the CPU layers and the CUDA kernels.
//
// Rotate-half convention on each head of q and k: pairs (x[i], x[i + HS/2]) for i < HS/2,
//   θ_i = base^(−2i/HS), angle = t·θ_i (positions t = 0, 1, …),
//   x'[i] = x[i]·cos − x[i+HS/2]·sin,   x'[i+HS/2] = x[i+HS/2]·cos + x[i]·sin.
// Scaling when evaluating at T > T_train (DESIGN.md §5):
//   ntk     : base' = base·α^(HS/(HS−2)), α = T/T_train, for the whole pass
//   dynamic : per position, α_t = max(1, (t+1)/T_train)
//   yarn    : YaRN (Peng et al. 2023, "YaRN: efficient context window extension of large language
//             models"), static, scale s = T/T_train for the whole pass. Per frequency θ_i, with
//             wavelength λ_i = 2π/θ_i and r_i = T_train/λ_i (its rotations within the training length):
//               θ'_i = (1 − γ_i)·θ_i/s + γ_i·θ_i,   γ_i = clamp((r_i − α)/(β − α), 0, 1)
//             (high frequencies, r_i > β, are kept; low ones, r_i < α, are interpolated by s; a
//             linear ramp between), and q, k are multiplied by m = 0.1·ln s + 1 — YaRN's attention
//             temperature √(1/t), so the logits grow by m². α = 1, β = 32 are the paper's defaults
//             (its LLaMA setting). The ramp is the paper's continuous one in r_i (some libraries
//             round its ends to whole dimension indices). m is applied through the cos/sin
//             tables, so it reaches every variant's q·k (LSSA's unit q, k cancel it).
//   none    : base unchanged
#pragma once
#include <math.h>

#include <string>
#include <vector>

#include "attention/attention_math.h"  // LSSA_HD

namespace lssa {

enum class RopeScaling : int { None = 0, Ntk = 1, Dynamic = 2, Yarn = 3 };

inline const char* rope_scaling_name(RopeScaling s) {
  return s == RopeScaling::Ntk ? "ntk" : s == RopeScaling::Dynamic ? "dynamic" : s == RopeScaling::Yarn ? "yarn" : "none";
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

// YaRN's ramp ends, in rotations per training length (the paper's defaults).
constexpr double kYarnAlpha = 1.0;
constexpr double kYarnBeta = 32.0;
constexpr double kPi = 3.14159265358979323846;

// YaRN's frequency of pair i at scale s ≥ 1 (θ_i unchanged at s = 1).
LSSA_HD double rope_yarn_theta(double base, int i, int HS, double s, int T_train) {
  const double theta = pow(base, -2.0 * i / HS);
  const double r = T_train * theta / (2.0 * kPi);  // T_train / λ_i
  const double g = fmin(1.0, fmax(0.0, (r - kYarnAlpha) / (kYarnBeta - kYarnAlpha)));
  return (1.0 - g) * theta / s + g * theta;
}

// The rotation angle of pair i at position t of a forward pass of length T.
LSSA_HD double rope_angle_at(RopeScaling s, double base, int i, int t, int T, int T_train, int HS) {
  if (s == RopeScaling::Yarn)
    return (double)t * (T > T_train ? rope_yarn_theta(base, i, HS, (double)T / T_train, T_train) : pow(base, -2.0 * i / HS));
  return rope_angle(rope_base_at(s, base, t, T, T_train, HS), i, HS, t);
}

// The factor on q and k (cos/sin tables are scaled by it): YaRN's m = 0.1·ln(T/T_train) + 1 beyond
// T_train, else 1.
LSSA_HD double rope_magnitude(RopeScaling s, int T, int T_train) {
  return s == RopeScaling::Yarn && T > T_train ? 0.1 * log((double)T / T_train) + 1.0 : 1.0;
}

// Rotation table of a forward pass of length T, built on the host and used by the CPU layers and
// uploaded by the CUDA backend: cos/sin (T, HS/2) of rope_angle at each position's base.
struct RopeTable {
  int T = 0, HS = 0;
  std::vector<double> cos, sin;  // (T, HS/2)
  void build(RopeScaling s, double base, int T, int T_train, int HS);
};

}  // namespace lssa
