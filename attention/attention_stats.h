// Attention statistics (eval_gpt2 --attn-stats): per attention row, how spread out its weights
// are (entropy), how much of them sits on the first token (the attention sink) and the largest
// single weight — the ONE home of these formulas, for the CPU reference (attention_cpu.cpp) and
// the CUDA reference path (cuda/attention_reference.cu), plus the host-side accumulator that sums
// them per head and per position bucket. docs/evaluation.md states the definitions.
//
// A row's weights x_j (j < n, n = the row's visible keys = its 1-based position) are either the
// FINAL weights a'_ij the attention output uses (re-weighted when p > 0), or the BASE weights a_ij
// of the same row before re-weighting (what p = 0 gives on the same scores). Rows of some variants
// are not probability distributions (signed weights of the inverse / recentered / gelu / mish /
// softsign variants; unnormalised sigmoid, relu/T, relu/n rows), so every statistic is taken on
// the row's ABSOLUTE mass:
//   m_j = |x_j|,  M = Σ_j m_j (the row's mass),  π_j = m_j / M
//   entropy = −Σ_j π_j ln π_j  (nats, 0·ln 0 = 0; ≤ ln n, = ln n for a uniform row)
//   sink    = π_0              (share of the row's mass on the first token)
//   max     = max_j π_j        (share of the largest weight; 1/n ≤ max ≤ 1)
//   mass    = M                (1 for l1 / softmax rows; Σ sigmoid, Σ relu/T, … otherwise)
// For softmax and every l1 row with non-negative weights π = x, so these are the usual entropy,
// first-token weight and largest weight. A row with M = 0 (e.g. relu with every score ≤ 0, whose
// output is 0) is EMPTY: counted, with mass 0, but it has no entropy, sink or max (the bucket's
// means of those are over its non-empty rows).
//
// Memory: a row's statistics need two passes over its n weights (M and max first, then the
// entropy), nothing of size T × T; the accumulator is O(heads · buckets).
#pragma once
#include <cstdint>
#include <vector>

#include "attention/attention_math.h"  // LSSA_HD, fabs/log

namespace lssa {

// ---- per-row math (element-wise pieces; each backend keeps only its loops and reductions)

// 1/M with the empty-row rule (0 when M = 0: every share below is then 0).
template <typename R>
LSSA_HD R attn_stat_inv_mass(R M) {
  return M > R(0) ? R(1) / M : R(0);
}

// π_j = |x_j| / M from inv_M = attn_stat_inv_mass(M): the share of weight x_j (sink: j = 0; max:
// the share of max_j |x_j|).
template <typename R>
LSSA_HD R attn_stat_share(R x, R inv_M) {
  return fabs(x) * inv_M;
}

// −π_j ln π_j (0 for π_j = 0): one term of the row's entropy.
template <typename R>
LSSA_HD R attn_stat_entropy_term(R x, R inv_M) {
  const R p = attn_stat_share(x, inv_M);
  return p > R(0) ? -p * log(p) : R(0);
}

// The statistics of one row (host: doubles; the CUDA path hands floats to attn_stats_add_rows).
struct AttnRowStat {
  double entropy = 0, sink = 0, max = 0, mass = 0;  // entropy, sink, max: 0 for an empty row
};

// The two passes over a row's weights x[0..n) (the CPU reference and the tests): pass 1 M = Σ|x|
// and max |x|, pass 2 the entropy. Sums in double whatever R is.
template <typename R>
inline AttnRowStat attn_row_stat(const R* x, int n) {
  double M = 0, mx = 0;
  for (int j = 0; j < n; j++) {
    const double m = fabs((double)x[j]);
    M += m;
    mx = m > mx ? m : mx;
  }
  AttnRowStat s;
  s.mass = M;
  if (!(M > 0)) return s;
  const double inv = attn_stat_inv_mass(M);
  double H = 0;
  for (int j = 0; j < n; j++) H += attn_stat_entropy_term((double)x[j], inv);
  s.entropy = H;
  s.sink = attn_stat_share((double)x[0], inv);
  s.max = attn_stat_share(mx, inv);
  return s;
}

// ---- the accumulator (host)

// Which weights a statistic describes.
enum class AttnStatSet : int {
  Final = 0,  // the weights the output uses (re-weighted when p > 0)
  Base = 1,   // the same rows before re-weighting (p = 0 on the same scores); kept when p > 0
};

// Sums of the statistics of the rows of one (set, head, position bucket).
struct AttnStatCell {
  int64_t rows = 0;   // rows added
  int64_t empty = 0;  // of which empty (M = 0)
  double entropy = 0, sink = 0, max = 0, mass = 0;  // sums (entropy, sink, max over non-empty rows)
  void add(const AttnRowStat& s);
  void add(const AttnStatCell& c);
  // Means: entropy, sink and max over the non-empty rows (NaN when there are none), mass over all.
  double mean_entropy() const;
  double mean_sink() const;
  double mean_max() const;
  double mean_mass() const;
};

// The statistics of one attention call site (one layer) over any number of forward calls of
// length T: a cell per (set, head, bucket). Buckets are given by their upper edges (1-based
// positions, increasing, the last = T; eval/position_loss.h's position_bucket_edges): bucket b
// holds positions (edges[b−1], edges[b]] (the first: 1..edges[0]). Not thread-safe: the CPU
// reference fills one per (batch, head) and merges them in a fixed order (deterministic sums).
class AttnStats {
 public:
  AttnStats() = default;
  // with_base: also keep AttnStatSet::Base (for p > 0). Throws Error on bad edges.
  AttnStats(int heads, std::vector<int> edges, bool with_base);
  int heads() const { return heads_; }
  int buckets() const { return (int)edges_.size(); }
  int sets() const { return with_base_ ? 2 : 1; }
  bool has_base() const { return with_base_; }
  int T() const { return edges_.empty() ? 0 : edges_.back(); }  // the length the rows come from
  const std::vector<int>& edges() const { return edges_; }
  int lo(int b) const { return b == 0 ? 1 : edges_[b - 1] + 1; }
  int hi(int b) const { return edges_[b]; }
  int bucket_of(int n) const;  // the bucket of position n ∈ [1, T]
  AttnStatCell& cell(AttnStatSet set, int head, int b) { return cells_[index(set, head, b)]; }
  const AttnStatCell& cell(AttnStatSet set, int head, int b) const { return cells_[index(set, head, b)]; }
  // The cell summed over the heads (the layer's statistics; every head has the same rows).
  AttnStatCell layer_cell(AttnStatSet set, int b) const;
  // Adds row statistic s of head `head` at position n (1-based).
  void add_row(AttnStatSet set, int head, int n, const AttnRowStat& s) { cell(set, head, bucket_of(n)).add(s); }
  // Adds every cell of `one` (1 head, the same edges and sets) into head `head`.
  void merge_head(const AttnStats& one, int head);

 private:
  size_t index(AttnStatSet set, int head, int b) const {
    return ((size_t)(int)set * heads_ + head) * edges_.size() + b;
  }
  int heads_ = 0;
  bool with_base_ = false;
  std::vector<int> edges_;
  std::vector<AttnStatCell> cells_;  // (sets, heads, buckets)
};

// Number of floats a device-side row statistic takes (entropy, sink, max, mass).
constexpr int kAttnRowStatFloats = 4;

// Adds the row statistics a GPU path computed, rows (B, NH, T, sets, kAttnRowStatFloats) fp32 in
// host memory (sets = stats.sets(): Final, then Base when the accumulator keeps it), into `stats`
// (whose T() must be T and heads() NH). A row with mass 0 is empty. Throws Error on a mismatch.
void attn_stats_add_rows(AttnStats& stats, const float* rows, int B, int NH, int T, int sets);

}  // namespace lssa
