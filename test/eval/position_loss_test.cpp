// Loss by position (eval/position_loss.h): the bucket edges and the bucket means.
#include "eval/position_loss.h"

#include <gtest/gtest.h>

#include "runtime/error.h"

using namespace lssa;

TEST(PositionLoss, EdgesAreLogScaleWithTTrainAnEdge) {
  using V = std::vector<int>;
  EXPECT_EQ(position_bucket_edges(256, 64), (V{1, 2, 4, 8, 16, 32, 64, 128, 256}));
  EXPECT_EQ(position_bucket_edges(64, 64), (V{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(position_bucket_edges(100, 64), (V{1, 2, 4, 8, 16, 32, 64, 100}));
  EXPECT_EQ(position_bucket_edges(48, 64), (V{1, 2, 4, 8, 16, 32, 48}));
  EXPECT_EQ(position_bucket_edges(200, 24), (V{1, 2, 3, 6, 12, 24, 48, 96, 192, 200}));
  EXPECT_EQ(position_bucket_edges(1, 1), (V{1}));
  EXPECT_EQ(position_bucket_edges(5, 1), (V{1, 2, 4, 5}));
  EXPECT_THROW(position_bucket_edges(0, 64), Error);
}

// With loss = position n, each bucket's mean is the mean of its positions, (lo + hi) / 2.
TEST(PositionLoss, BucketMeansAndCounts) {
  const int len = 200, T_train = 24;
  PositionLoss pl(len, T_train);
  std::vector<float> losses(len);
  for (int t = 0; t < len; t++) losses[t] = (float)(t + 1);
  pl.add(losses.data());
  pl.add(losses.data());
  ASSERT_EQ(pl.buckets(), 10);
  int64_t total = 0;
  for (int b = 0; b < pl.buckets(); b++) {
    EXPECT_EQ(pl.count(b), 2 * (pl.hi(b) - pl.lo(b) + 1)) << b;
    EXPECT_DOUBLE_EQ(pl.mean(b), 0.5 * (pl.lo(b) + pl.hi(b))) << b;
    if (b > 0) {
      EXPECT_EQ(pl.lo(b), pl.hi(b - 1) + 1);
    }
    total += pl.count(b);
  }
  EXPECT_EQ(pl.lo(0), 1);
  EXPECT_EQ(pl.hi(pl.buckets() - 1), len);
  EXPECT_EQ(total, 2 * len);
}
