// Data loaders over llm.c token shards.
//
// A sample is a window of T+1 consecutive tokens of one shard (inputs = first T, targets = the
// last T); windows start at multiples of T (non-overlapping inputs).
//
// TrainLoader: a deterministic, seeded order. Each epoch permutes the shard order and, inside
// each shard, its windows (permutations derived from (seed, epoch, shard), so nothing is stored
// and resuming from a saved State reproduces the exact sequence). For data parallelism every
// global micro-batch is B·world consecutive windows of that order; rank r takes windows
// [r·B, (r+1)·B): ranks see disjoint data and together exactly what one process would see
// with batch B·world.
//
// SequentialWindows: the first `count` windows of a length in file order (validation and the
// evaluation sweep: the same windows every time).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lssa {

struct ShardSet {
  std::vector<std::string> files;
  std::vector<int64_t> tokens;  // per file
  int64_t total = 0;
  int32_t tokenizer_tag = 0;    // the shards' tokenizer (data/tokenizer.h); all files agree
  // Expands the glob (comma-separated globs allowed), validates every shard; throws Error when
  // nothing matches, a shard is malformed, or two shards hold different tokenizers' ids. `what`
  // names the option in messages.
  static ShardSet open(const std::string& globs, const std::string& what);
  // Reads every token of every file (a fast linear scan); throws Error naming the first file,
  // position and id outside [0, vocab). `what` names the option in messages.
  void check_vocab(int vocab, const std::string& what) const;
};

class TrainLoader {
 public:
  struct State {
    uint64_t epoch = 0;
    uint64_t shard_pos = 0;  // position in this epoch's shard order
    uint64_t window_pos = 0; // position in the current shard's window order
  };
  TrainLoader(ShardSet shards, int B, int T, uint64_t seed, int rank = 0, int world = 1);
  // Fills inputs and targets, each (B, T).
  void next_batch(int* inputs, int* targets);
  State state() const { return st_; }
  // Throws Error when the state cannot belong to these shards (e.g. a corrupt state file).
  void restore(const State& s);
  int64_t windows_per_epoch() const { return total_windows_; }

 private:
  uint64_t next_window(int* shard);  // advances the cursor by one window
  void load_perms();
  ShardSet sh_;
  int B_, T_, rank_, world_;
  uint64_t seed_;
  int64_t total_windows_ = 0;
  State st_;
  std::vector<uint32_t> shard_order_;   // for st_.epoch
  std::vector<uint32_t> window_order_;  // for the current shard
  uint64_t perm_epoch_ = UINT64_MAX, perm_shard_ = UINT64_MAX;
};

// Windows of `len`+1 tokens (stride len) in file order; at most max_windows of them.
struct Window {
  int file;
  int64_t offset;
};
std::vector<Window> sequential_windows(const ShardSet& sh, int len, int64_t max_windows);
// Reads one window into inputs/targets (len each).
void read_window(const ShardSet& sh, const Window& w, int len, int* inputs, int* targets);

}  // namespace lssa
