// Writes llm.c token shards of a structured synthetic token stream for the tests and the CPU
// benchmark: runs of arithmetic progressions modulo V with random starts, steps and lengths, so
// a small model can learn them (the loss falls well below ln V) without any real corpus.
//
//   make_test_shards --out PREFIX --vocab V --train-tokens N --val-tokens M [--seed S] [--shards K]
// writes PREFIX_train_000000.bin … (K shards) and PREFIX_val_000000.bin.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "data/shard.h"
#include "runtime/error.h"
#include "runtime/rng.h"

using namespace lssa;

static std::vector<uint16_t> stream(int64_t n, int V, uint64_t seed) {
  Rng r(seed);
  std::vector<uint16_t> out;
  out.reserve(n);
  while ((int64_t)out.size() < n) {
    int start = (int)r.below(V), step = 1 + (int)r.below(3), len = 4 + (int)r.below(12);
    for (int i = 0; i < len && (int64_t)out.size() < n; i++) out.push_back((uint16_t)((start + step * i) % V));
  }
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"make_test_shards: structured synthetic token shards"};
  std::string out;
  int V = 64, shards = 1;
  int64_t ntrain = 100000, nval = 10000;
  uint64_t seed = 1;
  app.add_option("--out", out, "output prefix")->required();
  app.add_option("--vocab", V, "vocabulary size");
  app.add_option("--train-tokens", ntrain, "tokens in the training split");
  app.add_option("--val-tokens", nval, "tokens in the validation split");
  app.add_option("--shards", shards, "number of training shards");
  app.add_option("--seed", seed, "seed");
  CLI11_PARSE(app, argc, argv);
  try {
    auto train = stream(ntrain, V, seed);
    int64_t per = (ntrain + shards - 1) / shards;
    for (int s = 0; s < shards; s++) {
      int64_t b = s * per, e = std::min<int64_t>(ntrain, b + per);
      shard_write(out + strfmt("_train_%06d.bin", s), train.data() + b, e - b);
    }
    auto val = stream(nval, V, seed + 1000003);
    shard_write(out + "_val_000000.bin", val);
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
