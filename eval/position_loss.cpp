#include "eval/position_loss.h"

#include <algorithm>

#include "runtime/error.h"

namespace lssa {

std::vector<int> position_bucket_edges(int len, int T_train) {
  if (len < 1 || T_train < 1) fail(strfmt("position buckets: len %d and T_train %d must be positive", len, T_train));
  std::vector<int> down;  // T_train, ⌈T_train/2⌉, …, 1
  for (int e = T_train; ; e = (e + 1) / 2) {
    down.push_back(e);
    if (e == 1) break;
  }
  std::vector<int> edges;
  for (auto it = down.rbegin(); it != down.rend(); ++it)
    if (*it < len) edges.push_back(*it);
  for (int64_t e = 2 * (int64_t)T_train; e < len; e *= 2) edges.push_back((int)e);
  edges.push_back(len);
  return edges;
}

PositionLoss::PositionLoss(int len, int T_train)
    : len_(len), edges_(position_bucket_edges(len, T_train)), sum_(edges_.size()), count_(edges_.size()) {}

void PositionLoss::add(const float* losses) {
  // losses: (len,) — position n = t + 1
  size_t b = 0;
  for (int t = 0; t < len_; t++) {
    while (t + 1 > edges_[b]) b++;
    sum_[b] += losses[t];
    count_[b]++;
  }
}

}  // namespace lssa
