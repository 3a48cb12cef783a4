// llm.c token shards, byte for byte.
//
// Layout: a 1024-byte header of 256 little-endian int32 — [0] magic 20240520, [1] version 1,
// [2] token count N, [3] tokenizer tag (ours; 0 in llm.c's shards = GPT-2) — followed by N uint16
// tokens. The file size must be exactly 1024 + 2N.
// Offsets are 64-bit, so shards larger than 2 GiB load.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace lssa {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr int64_t kShardHeaderBytes = 1024;

// Validates the header against the file size and returns the token count.
// Throws Error with one line naming the file and what is wrong (missing, empty, truncated,
// wrong magic, wrong version, size mismatch).
int64_t shard_token_count(const std::string& path);

// header[3]: the tokenizer tag (data/tokenizer.h: 0 = GPT-2, as llm.c's shards hold zeros
// there; 1 = bytes). Reads a shard validated by shard_token_count.
int32_t shard_tokenizer_tag(const std::string& path);

// Reads tokens [offset, offset + count) of a validated shard into out (uint16 → int32).
void shard_read_tokens(const std::string& path, int64_t offset, int64_t count, int32_t* out);

// Scans every token of a validated shard (a linear read in chunks); throws Error naming the
// file, the position and the id of the first token >= vocab.
void shard_check_vocab(const std::string& path, int vocab);

// Reads a whole shard.
std::vector<uint16_t> shard_read_all(const std::string& path);

// Writes a shard atomically (temp + fsync + rename). Tokens must be < 65536.
void shard_write(const std::string& path, const uint16_t* tokens, int64_t count, int32_t tokenizer_tag = 0);
inline void shard_write(const std::string& path, const std::vector<uint16_t>& tokens, int32_t tokenizer_tag = 0) {
  shard_write(path, tokens.data(), (int64_t)tokens.size(), tokenizer_tag);
}

}  // namespace lssa
