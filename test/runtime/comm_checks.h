// Collective checks shared by the TCP (threads) and MPI (mpirun) communicator tests: every
// operation on buffers whose values depend on the rank, with n not a multiple of the world size
// (uneven shards), in fp32 and fp64. Values are small integers / W so sums and means are exact
// in fp32 and the expectations can be exact.
#pragma once
#include <gtest/gtest.h>

#include <vector>

#include "runtime/comm.h"

namespace lssa {

template <typename E>
void check_collectives(Communicator& c, DType dt) {
  const int W = c.world(), r = c.rank();
  const size_t n = 3 * W + 1;  // uneven: the first rank's shard is one longer
  auto value = [](int rank, size_t i) { return (E)(rank + 1) * (E)(i % 7 + 1); };
  double sum_ranks = W * (W + 1) / 2.0;  // Σ (rank + 1)

  std::vector<E> x(n);
  for (size_t i = 0; i < n; i++) x[i] = value(r, i);
  c.all_reduce_mean(CommBuffer{x.data(), n, dt, MemSpace::Host});
  for (size_t i = 0; i < n; i++) EXPECT_EQ(x[i], (E)(sum_ranks * (i % 7 + 1)) / (E)W) << "all_reduce_mean " << i;

  for (size_t i = 0; i < n; i++) x[i] = value(r, i);
  c.reduce_scatter_mean(CommBuffer{x.data(), n, dt, MemSpace::Host});
  ShardRange s = shard_range(n, W, r);
  for (size_t i = s.begin; i < s.end; i++) EXPECT_EQ(x[i], (E)(sum_ranks * (i % 7 + 1)) / (E)W) << "reduce_scatter " << i;

  std::vector<E> g(n, (E)-1);
  for (size_t i = s.begin; i < s.end; i++) g[i] = value(r, i);
  c.all_gather(CommBuffer{g.data(), n, dt, MemSpace::Host});
  for (int q = 0; q < W; q++) {
    ShardRange sq = shard_range(n, W, q);
    for (size_t i = sq.begin; i < sq.end; i++) EXPECT_EQ(g[i], value(q, i)) << "all_gather " << i;
  }

  const int root = W - 1;
  std::vector<E> b(n);
  for (size_t i = 0; i < n; i++) b[i] = value(r, i);
  c.broadcast(CommBuffer{b.data(), n, dt, MemSpace::Host}, root);
  for (size_t i = 0; i < n; i++) EXPECT_EQ(b[i], value(root, i)) << "broadcast " << i;

  double v[2] = {(double)r, 1.0};
  c.all_reduce_sum(v, 2);
  EXPECT_EQ(v[0], W * (W - 1) / 2.0);
  EXPECT_EQ(v[1], (double)W);
  c.barrier();
}

}  // namespace lssa
