// The host-side accumulator of attention statistics: see attention_stats.h.
#include "attention/attention_stats.h"

#include <cmath>
#include <limits>

#include "runtime/error.h"

namespace lssa {

void AttnStatCell::add(const AttnRowStat& s) {
  rows++;
  mass += s.mass;
  if (!(s.mass > 0)) {
    empty++;
    return;
  }
  entropy += s.entropy;
  sink += s.sink;
  max += s.max;
}

void AttnStatCell::add(const AttnStatCell& c) {
  rows += c.rows;
  empty += c.empty;
  entropy += c.entropy;
  sink += c.sink;
  max += c.max;
  mass += c.mass;
}

namespace {
double mean_of(double sum, int64_t n) { return n > 0 ? sum / (double)n : std::numeric_limits<double>::quiet_NaN(); }
}  // namespace

double AttnStatCell::mean_entropy() const { return mean_of(entropy, rows - empty); }
double AttnStatCell::mean_sink() const { return mean_of(sink, rows - empty); }
double AttnStatCell::mean_max() const { return mean_of(max, rows - empty); }
double AttnStatCell::mean_mass() const { return mean_of(mass, rows); }

AttnStats::AttnStats(int heads, std::vector<int> edges, bool with_base)
    : heads_(heads), with_base_(with_base), edges_(std::move(edges)) {
  if (heads_ < 1) fail(strfmt("attention statistics: %d heads", heads_));
  if (edges_.empty() || edges_[0] < 1) fail("attention statistics: the position buckets must start at position 1 or later");
  for (size_t b = 1; b < edges_.size(); b++)
    if (edges_[b] <= edges_[b - 1]) fail("attention statistics: the bucket edges must increase");
  cells_.assign((size_t)sets() * heads_ * edges_.size(), AttnStatCell{});
}

int AttnStats::bucket_of(int n) const {
  // binary search for the first edge ≥ n
  int lo = 0, hi = (int)edges_.size() - 1;
  if (n < 1 || n > edges_[hi]) fail(strfmt("attention statistics: position %d outside 1..%d", n, T()));
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (edges_[mid] >= n) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

AttnStatCell AttnStats::layer_cell(AttnStatSet set, int b) const {
  AttnStatCell c;
  for (int h = 0; h < heads_; h++) c.add(cell(set, h, b));
  return c;
}

void AttnStats::merge_head(const AttnStats& one, int head) {
  if (one.heads_ != 1 || one.edges_ != edges_ || one.with_base_ != with_base_ || head < 0 || head >= heads_)
    fail("internal: attention statistics merged from a different shape");
  for (int s = 0; s < sets(); s++)
    for (int b = 0; b < buckets(); b++)
      cell((AttnStatSet)s, head, b).add(one.cell((AttnStatSet)s, 0, b));
}

void attn_stats_add_rows(AttnStats& stats, const float* rows, int B, int NH, int T, int sets) {
  if (stats.heads() != NH || stats.T() != T || sets != stats.sets())
    fail(strfmt("internal: attention statistics of (NH %d, T %d, %d sets) added to an accumulator of (NH %d, T %d, %d sets)",
                NH, T, sets, stats.heads(), stats.T(), stats.sets()));
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++)
      for (int t = 0; t < T; t++) {
        const float* r = rows + (((size_t)b * NH + h) * T + t) * sets * kAttnRowStatFloats;
        for (int s = 0; s < sets; s++) {
          const float* v = r + s * kAttnRowStatFloats;
          AttnRowStat st;
          st.mass = v[3];
          if (st.mass > 0) st.entropy = v[0], st.sink = v[1], st.max = v[2];
          stats.add_row((AttnStatSet)s, h, t + 1, st);
        }
      }
}

}  // namespace lssa
