#include "data/loader.h"

#include <algorithm>
#include <sstream>

#include "data/shard.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/rng.h"

namespace lssa {

ShardSet ShardSet::open(const std::string& globs, const std::string& what) {
  ShardSet s;
  std::stringstream ss(globs);
  std::string g;
  while (std::getline(ss, g, ',')) {
    if (g.empty()) continue;
    auto files = glob_files(g);
    if (files.empty()) fail(strfmt("%s: no file matches '%s'", what.c_str(), g.c_str()));
    for (auto& f : files) s.files.push_back(f);
  }
  if (s.files.empty()) fail(strfmt("%s: no data files given", what.c_str()));
  for (size_t i = 0; i < s.files.size(); i++) {
    s.tokens.push_back(shard_token_count(s.files[i]));
    s.total += s.tokens.back();
    int32_t tag = shard_tokenizer_tag(s.files[i]);
    if (i == 0) s.tokenizer_tag = tag;
    if (tag != s.tokenizer_tag)
      fail(strfmt("%s: %s and %s hold different tokenizers' ids (shard header tags %d and %d: 0 = gpt2, 1 = bytes)",
                  what.c_str(), s.files[0].c_str(), s.files[i].c_str(), s.tokenizer_tag, tag));
  }
  return s;
}

void ShardSet::check_vocab(int vocab, const std::string& what) const {
  for (const auto& f : files) {
    try {
      shard_check_vocab(f, vocab);
    } catch (const Error& e) {
      fail(what + ": " + e.what());
    }
  }
}

namespace {
uint64_t mix(uint64_t a, uint64_t b) {
  Rng r(a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull));
  return r.next_u64();
}
int64_t windows_in(int64_t tokens, int T) { return tokens > T ? (tokens - 1) / T : 0; }
}  // namespace

TrainLoader::TrainLoader(ShardSet shards, int B, int T, uint64_t seed, int rank, int world)
    : sh_(std::move(shards)), B_(B), T_(T), rank_(rank), world_(world), seed_(seed) {
  for (auto n : sh_.tokens) total_windows_ += windows_in(n, T);
  if (total_windows_ < (int64_t)B * world)
    fail(strfmt("training data has %lld tokens = %lld windows of %d+1 tokens; a micro-batch needs %d "
                "(lower --batch or --seq-len, or add data)",
                (long long)sh_.total, (long long)total_windows_, T, B * world));
}

void TrainLoader::restore(const State& s) {
  int64_t most = 0;
  for (auto n : sh_.tokens) most = std::max(most, windows_in(n, T_));
  if (s.shard_pos > sh_.files.size() || s.window_pos > (uint64_t)most || s.epoch > (uint64_t)INT64_MAX)
    fail(strfmt("the saved data position (epoch %llu, shard %llu, window %llu) is outside the training data "
                "(%zu shards, at most %lld windows each)", (unsigned long long)s.epoch,
                (unsigned long long)s.shard_pos, (unsigned long long)s.window_pos, sh_.files.size(),
                (long long)most));
  st_ = s;
  perm_shard_ = UINT64_MAX;
}

void TrainLoader::load_perms() {
  if (perm_epoch_ != st_.epoch) {
    shard_order_.resize(sh_.files.size());
    for (size_t i = 0; i < shard_order_.size(); i++) shard_order_[i] = (uint32_t)i;
    Rng r(mix(seed_, st_.epoch));
    shuffle(shard_order_.data(), shard_order_.size(), r);
    perm_epoch_ = st_.epoch;
    perm_shard_ = UINT64_MAX;
  }
  if (perm_shard_ != st_.shard_pos) {
    uint32_t s = shard_order_[st_.shard_pos];
    window_order_.resize(windows_in(sh_.tokens[s], T_));
    for (size_t i = 0; i < window_order_.size(); i++) window_order_[i] = (uint32_t)i;
    Rng r(mix(mix(seed_, st_.epoch), s + 1));
    shuffle(window_order_.data(), window_order_.size(), r);
    perm_shard_ = st_.shard_pos;
  }
}

uint64_t TrainLoader::next_window(int* shard) {
  for (;;) {
    if (st_.shard_pos >= sh_.files.size()) {
      st_.epoch++;
      st_.shard_pos = 0;
      st_.window_pos = 0;
    }
    load_perms();
    if (st_.window_pos < window_order_.size()) {
      *shard = (int)shard_order_[st_.shard_pos];
      return window_order_[st_.window_pos++];
    }
    st_.shard_pos++;
    st_.window_pos = 0;
  }
}

void TrainLoader::next_batch(int* inputs, int* targets) {
  std::vector<int> buf(T_ + 1);
  for (int g = 0; g < B_ * world_; g++) {
    int shard;
    uint64_t w = next_window(&shard);
    int b = g - rank_ * B_;
    if (b < 0 || b >= B_) continue;  // another rank's window
    shard_read_tokens(sh_.files[shard], (int64_t)w * T_, T_ + 1, buf.data());
    std::copy(buf.begin(), buf.begin() + T_, inputs + (size_t)b * T_);
    std::copy(buf.begin() + 1, buf.end(), targets + (size_t)b * T_);
  }
}

std::vector<Window> sequential_windows(const ShardSet& sh, int len, int64_t max_windows) {
  std::vector<Window> out;
  for (int f = 0; f < (int)sh.files.size() && (int64_t)out.size() < max_windows; f++)
    for (int64_t w = 0; w < windows_in(sh.tokens[f], len) && (int64_t)out.size() < max_windows; w++)
      out.push_back({f, w * len});
  if (out.empty())
    fail(strfmt("the data (%lld tokens in %zu files, the largest %lld) has no window of %d+1 tokens",
                (long long)sh.total, sh.files.size(),
                (long long)*std::max_element(sh.tokens.begin(), sh.tokens.end()), len));
  return out;
}

void read_window(const ShardSet& sh, const Window& w, int len, int* inputs, int* targets) {
  std::vector<int> buf(len + 1);
  shard_read_tokens(sh.files[w.file], w.offset, len + 1, buf.data());
  std::copy(buf.begin(), buf.begin() + len, inputs);
  std::copy(buf.begin() + 1, buf.end(), targets);
}

}  // namespace lssa
