// Learning-rate schedule (llm.c): linear warmup to lr over `warmup` steps, then cosine decay to
// lr·final_frac at the last step. step is 0-based.
#pragma once
#include <cmath>

namespace lssa {

inline float lr_at(int step, int steps, float lr, int warmup, float final_frac) {
  if (step < warmup) return lr * (float)(step + 1) / (float)warmup;
  if (steps <= warmup + 1) return lr;
  double ratio = (double)(step - warmup) / (double)(steps - 1 - warmup);
  double coeff = 0.5 * (1.0 + std::cos(M_PI * ratio));
  return (float)(lr * (final_frac + (1.0 - final_frac) * coeff));
}

}  // namespace lssa
