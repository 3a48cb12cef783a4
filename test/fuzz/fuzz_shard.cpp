// libFuzzer target: the token-shard reader and the loaders (data/shard.h, data/loader.h) on an
// arbitrary file: header validation, the vocabulary scan, the training loader's first batches
// and the sequential windows. Whatever the bytes, a shard either fails with lssa::Error or yields
// only token ids below the vocabulary that check_vocab accepted.
#include <cstdint>
#include <vector>

#include "data/loader.h"
#include "data/shard.h"
#include "fuzz_util.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_scratch("shard.bin", data, size);
  const int V = 300, B = 2, T = 4;
  try {
    lssa::ShardSet s = lssa::ShardSet::open(path, "--train-data");
    s.check_vocab(V, "--train-data");
    std::vector<int> x(B * T), y(B * T);
    lssa::TrainLoader loader(s, B, T, /*seed=*/1);
    for (int i = 0; i < 3; i++) {
      loader.next_batch(x.data(), y.data());
      for (int k = 0; k < B * T; k++)
        if (x[k] < 0 || x[k] >= V || y[k] < 0 || y[k] >= V) __builtin_trap();
    }
    lssa::TrainLoader::State st = loader.state();
    loader.restore(st);
    for (const lssa::Window& w : lssa::sequential_windows(s, T, 4)) lssa::read_window(s, w, T, x.data(), y.data());
  } catch (const lssa::Error&) {
  }
  return 0;
}
