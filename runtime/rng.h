// A small deterministic RNG (SplitMix64 + Box–Muller): the same numbers on every platform and
// compiler (std::normal_distribution is implementation-defined), and a state that is one
// 64-bit word plus a cached normal, so checkpoints can save and restore it exactly.
#pragma once
#include <cmath>
#include <cstdint>

namespace lssa {

struct Rng {
  uint64_t state = 0;
  bool has_spare = false;  // Box–Muller produces pairs; the second is cached
  double spare = 0;

  explicit Rng(uint64_t seed = 0) : state(seed) {}
  uint64_t next_u64() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return (next_u64() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  uint64_t below(uint64_t n) { return n ? next_u64() % n : 0; }                 // [0, n)
  double normal() {
    if (has_spare) {
      has_spare = false;
      return spare;
    }
    double u1 = uniform(), u2 = uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    double r = std::sqrt(-2.0 * std::log(u1)), th = 6.283185307179586 * u2;
    spare = r * std::sin(th);
    has_spare = true;
    return r * std::cos(th);
  }
};

// Fisher–Yates shuffle with the project's RNG (deterministic across standard libraries).
template <typename T>
void shuffle(T* v, size_t n, Rng& rng) {
  for (size_t i = n; i > 1; i--) {
    size_t j = rng.below(i);
    T t = v[i - 1];
    v[i - 1] = v[j];
    v[j] = t;
  }
}

}  // namespace lssa
