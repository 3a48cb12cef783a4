// The byte tokenizer (data/byte_tokenizer.h), the tokenizer kinds and the shard header's tokenizer
// tag (data/shard.h, data/loader.h). No tokenizer files needed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <string>

#include "data/byte_tokenizer.h"
#include "data/loader.h"
#include "data/shard.h"
#include "runtime/error.h"

using namespace lssa;

TEST(ByteTokenizer, IdsAreBytesAndTheSeparatorIs256) {
  ByteTokenizer tok;
  EXPECT_STREQ(tok.kind(), "bytes");
  EXPECT_EQ(tok.vocab_size(), 257);
  EXPECT_EQ(tok.eot_token(), 256);
  std::vector<int32_t> ids = tok.encode(std::string("A\n\xff\x00z", 5));
  EXPECT_EQ(ids, (std::vector<int32_t>{65, 10, 255, 0, 122}));
  EXPECT_EQ(tok.encode("a<|endoftext|>b"), (std::vector<int32_t>{97, 256, 98}));
  EXPECT_EQ(tok.encode("a<|endoftext|>b", false).size(), 15u);  // as plain text
  EXPECT_EQ(tok.decode(std::vector<int32_t>{97, 256, 98}), "a<|endoftext|>b");
  EXPECT_THROW(tok.decode_token(257), Error);
  EXPECT_THROW(tok.decode_token(-1), Error);
}

TEST(ByteTokenizer, RoundTripsRandomBytes) {
  const unsigned seed = 20261202;
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  ByteTokenizer tok;
  for (int n : {0, 1, 7, 1000}) {
    std::string s(n, '\0');
    for (char& c : s) c = (char)(rng() & 0xff);
    EXPECT_EQ(tok.decode(tok.encode(s, false)), s) << n << " bytes";
  }
}

TEST(TokenizerKinds, NamesTagsAndVocabularySizesAgree) {
  EXPECT_EQ(tokenizer_kind_of_tag(kShardTagGpt2, "x"), "gpt2");
  EXPECT_EQ(tokenizer_kind_of_tag(kShardTagBytes, "x"), "bytes");
  EXPECT_EQ(tokenizer_tag_of_kind("bytes"), kShardTagBytes);
  EXPECT_EQ(tokenizer_tag_of_kind("gpt2"), kShardTagGpt2);
  EXPECT_THROW(tokenizer_kind_of_tag(7, "x"), Error);
  EXPECT_THROW(tokenizer_tag_of_kind("bpe"), Error);
  // runtime/run_config.cpp resolves --vocab-size 0 with these numbers (it cannot include data/)
  EXPECT_EQ(tokenizer_vocab_size("gpt2"), 50257);
  EXPECT_EQ(tokenizer_vocab_size("bytes"), 257);
  EXPECT_EQ(open_tokenizer_kind("bytes", "")->vocab_size(), 257);
  EXPECT_THROW(open_tokenizer_kind("bpe", ""), Error);
}

TEST(ShardTokenizerTag, WrittenReadAndMixingRefused) {
  char tmpl[] = "/tmp/lssa_byte_tok_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  std::vector<uint16_t> t = {256, 104, 105};
  shard_write(dir + "/b_000000.bin", t, kShardTagBytes);
  shard_write(dir + "/g_000000.bin", t);  // llm.c's header: 0 = GPT-2
  EXPECT_EQ(shard_tokenizer_tag(dir + "/b_000000.bin"), kShardTagBytes);
  EXPECT_EQ(shard_tokenizer_tag(dir + "/g_000000.bin"), kShardTagGpt2);
  EXPECT_EQ(ShardSet::open(dir + "/b_*.bin", "--data").tokenizer_tag, kShardTagBytes);
  try {
    ShardSet::open(dir + "/b_*.bin," + dir + "/g_*.bin", "--data");
    ADD_FAILURE() << "mixed tokenizers accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different tokenizers"), std::string::npos) << e.what();
  }
  std::remove((dir + "/b_000000.bin").c_str());
  std::remove((dir + "/g_000000.bin").c_str());
  rmdir(dir.c_str());
}
