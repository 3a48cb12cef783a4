// Loss by position: the mean next-token loss of the positions of a window, bucketed on a log
// scale, to show where in a long window a model breaks (the positions past T_train).
//
// Positions are 1-based: position n is the n-th token of the window, whose attention row sees n
// keys. Buckets (lo, hi] have the upper edges
//   ⌈T_train/2^k⌉ for k = …, 2, 1 (down to 1),  T_train,  T_train·2^k for k = 1, 2, … (below len),  len
// so the trained positions end exactly at a bucket edge: for T_train = 64 and len = 256 the
// buckets are {1}, {2}, (2, 4], (4, 8], …, (32, 64], (64, 128], (128, 256].
// Memory: one running sum per bucket (O(log T)), plus the (T,) losses of the current window.
#pragma once
#include <cstdint>
#include <vector>

namespace lssa {

// The upper edges of the buckets of a window of `len` tokens (increasing, last = len).
std::vector<int> position_bucket_edges(int len, int T_train);

class PositionLoss {
 public:
  PositionLoss(int len, int T_train);
  // Adds one window's per-position losses (len,).
  void add(const float* losses);
  int buckets() const { return (int)edges_.size(); }
  int lo(int b) const { return b == 0 ? 1 : edges_[b - 1] + 1; }  // first position of bucket b
  int hi(int b) const { return edges_[b]; }                       // last position of bucket b
  int64_t count(int b) const { return count_[b]; }
  double mean(int b) const { return count_[b] ? sum_[b] / count_[b] : 0.0; }

 private:
  int len_;
  std::vector<int> edges_;       // (buckets,)
  std::vector<double> sum_;      // (buckets,) fp64 sums of losses
  std::vector<int64_t> count_;   // (buckets,)
};

}  // namespace lssa
