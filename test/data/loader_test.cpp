// Loaders over llm.c shards: shard format round trip and errors, the seeded training order
// (deterministic, resumable from a saved State, covering every window once per epoch), per-rank
// disjoint slices that together equal the single-process batch, sequential evaluation windows.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <set>

#include "data/loader.h"
#include "data/shard.h"
#include "runtime/error.h"

using namespace lssa;

namespace {
struct Shards {
  std::string dir;
  Shards() {
    char t[] = "/tmp/lssa_loader.XXXXXX";
    dir = mkdtemp(t);
    // three shards of different sizes; token value = global position mod 60000 (identifies windows)
    int64_t pos = 0;
    for (int s = 0; s < 3; s++) {
      std::vector<uint16_t> tok(1000 + 337 * s);
      for (auto& x : tok) x = (uint16_t)(pos++ % 60000);
      shard_write(dir + "/d_train_00000" + std::to_string(s) + ".bin", tok);
    }
  }
  ~Shards() { std::system(("rm -rf " + dir).c_str()); }
  std::string glob() const { return dir + "/d_train_*.bin"; }
};
}  // namespace

TEST(Shard, RoundTripAndLargeValues) {
  Shards s;
  std::vector<uint16_t> tok = {0, 1, 65535, 50256, 7};
  shard_write(s.dir + "/x.bin", tok);
  EXPECT_EQ(shard_token_count(s.dir + "/x.bin"), 5);
  EXPECT_EQ(shard_read_all(s.dir + "/x.bin"), tok);
  int32_t out[3];
  shard_read_tokens(s.dir + "/x.bin", 1, 3, out);
  EXPECT_EQ(out[1], 65535);
}

TEST(Shard, MalformedFilesThrowOneLine) {
  Shards s;
  auto expect = [&](const std::string& path, const char* needle) {
    try {
      shard_token_count(path);
      ADD_FAILURE() << path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect(s.dir + "/none.bin", "does not exist");
  std::ofstream(s.dir + "/empty.bin");
  expect(s.dir + "/empty.bin", "empty");
  std::ofstream(s.dir + "/short.bin") << "abc";
  expect(s.dir + "/short.bin", "truncated");
  std::vector<int32_t> hdr(256, 0);
  hdr[0] = 123;
  std::ofstream(s.dir + "/magic.bin", std::ios::binary).write((const char*)hdr.data(), 1024);
  expect(s.dir + "/magic.bin", "wrong magic");
  hdr[0] = kShardMagic;
  hdr[1] = 1;
  hdr[2] = 10;
  std::ofstream(s.dir + "/size.bin", std::ios::binary).write((const char*)hdr.data(), 1024);
  expect(s.dir + "/size.bin", "truncated");
}

TEST(TrainLoader, DeterministicResumableAndCoversEveryWindowPerEpoch) {
  Shards s;
  const int B = 3, T = 16;
  TrainLoader a(ShardSet::open(s.glob(), "t"), B, T, 42), b(ShardSet::open(s.glob(), "t"), B, T, 42),
      c(ShardSet::open(s.glob(), "t"), B, T, 43);
  const int64_t W = a.windows_per_epoch();  // (999/16) + (1336/16) + (1673/16) = 62 + 83 + 104
  EXPECT_EQ(W, 62 + 83 + 104);
  std::vector<int> x(B * T), y(B * T), x2(B * T), y2(B * T);
  std::multiset<int> starts;
  bool differs = false;
  TrainLoader::State mid;
  std::vector<std::vector<int>> after_mid;
  for (int i = 0; i < 2 * W / B; i++) {
    if (i == 30) mid = a.state();
    a.next_batch(x.data(), y.data());
    b.next_batch(x2.data(), y2.data());
    ASSERT_EQ(x, x2);
    c.next_batch(x2.data(), y2.data());
    differs |= x != x2;
    for (int k = 0; k < B; k++) {
      for (int t = 0; t < T; t++) ASSERT_EQ((x[k * T + t] + 1) % 60000, y[k * T + t]);  // targets = next token
      if (i < W / B) starts.insert(x[k * T]);
    }
    if (i >= 30) after_mid.push_back(x);
  }
  EXPECT_TRUE(differs) << "another seed gives another order";
  // the first epoch's windows are distinct (no window twice)
  EXPECT_EQ(std::set<int>(starts.begin(), starts.end()).size(), starts.size());
  // restoring the saved state replays exactly the same batches
  TrainLoader r(ShardSet::open(s.glob(), "t"), B, T, 42);
  r.restore(mid);
  for (auto& want : after_mid) {
    r.next_batch(x.data(), y.data());
    ASSERT_EQ(x, want);
  }
}

TEST(TrainLoader, RanksAreDisjointAndTogetherEqualOneProcess) {
  Shards s;
  const int B = 2, T = 16, world = 3;
  TrainLoader single(ShardSet::open(s.glob(), "t"), B * world, T, 7);
  std::vector<TrainLoader> ranks;
  for (int r = 0; r < world; r++) ranks.emplace_back(ShardSet::open(s.glob(), "t"), B, T, 7, r, world);
  std::vector<int> xs(B * world * T), ys(B * world * T), x(B * T), y(B * T);
  for (int step = 0; step < 50; step++) {
    single.next_batch(xs.data(), ys.data());
    for (int r = 0; r < world; r++) {
      ranks[r].next_batch(x.data(), y.data());
      for (int i = 0; i < B * T; i++) ASSERT_EQ(x[i], xs[r * B * T + i]) << "rank " << r << " step " << step;
    }
  }
}

TEST(TrainLoader, TooLittleDataIsAClearError) {
  Shards s;
  EXPECT_THROW(TrainLoader(ShardSet::open(s.glob(), "t"), 1000, 16, 1), Error);
  EXPECT_THROW(ShardSet::open(s.dir + "/nothing_*.bin", "--train-data"), Error);
}

TEST(SequentialWindows, SameWindowsInFileOrder) {
  Shards s;
  ShardSet sh = ShardSet::open(s.glob(), "t");
  auto w = sequential_windows(sh, 100, 1000);
  EXPECT_EQ(w.size(), (size_t)(999 / 100 + 1336 / 100 + 1673 / 100));
  EXPECT_EQ(w[0].file, 0);
  EXPECT_EQ(w[1].offset, 100);
  EXPECT_EQ(sequential_windows(sh, 100, 4).size(), 4u);
  std::vector<int> x(100), y(100);
  read_window(sh, w[9], 100, x.data(), y.data());  // the first window of shard 1 (shard 0 has 9)
  EXPECT_EQ(x[0], 1000);
  EXPECT_EQ(y[99], 1100);
  EXPECT_THROW(sequential_windows(sh, 5000, 10), Error);  // no shard holds 5001 tokens
}
