// Passkey prompts (eval/passkey.h): exact token counts, the key's position at each depth, the
// scorer and the keys — with the word-level test tokenizer (no files) and with GPT-2's BPE.
#include "eval/passkey.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "data/text_tokenizer.h"
#include "data/tokenizer.h"
#include "test/data/test_paths.h"
#include "test/eval/word_tokenizer.h"

using namespace lssa;

namespace {

const PasskeyTemplate& tpl() { return passkey_default_template(); }

lssa_test::WordTokenizer word_tokenizer() {
  return lssa_test::WordTokenizer({tpl().intro, tpl().filler, tpl().needle, tpl().question});
}

std::vector<int32_t> slice(const std::vector<int32_t>& v, size_t at, size_t n) {
  return std::vector<int32_t>(v.begin() + at, v.begin() + at + n);
}

// Every structural property of one prompt, for any tokenizer.
void check_prompt(const TextTokenizer& tok, int len, double depth, const std::string& key) {
  SCOPED_TRACE(strfmt("%s: len %d, depth %g, key %s", tok.name(), len, depth, key.c_str()));
  PasskeyPromptBuilder b(tok, tpl());
  const PasskeyPrompt p = b.build(len, depth, key);
  const std::vector<int32_t> intro = tok.encode(tpl().intro), filler = tok.encode(tpl().filler),
                             question = tok.encode(tpl().question), answer = tok.encode(" " + key);
  // the length is exact
  ASSERT_EQ((int)p.tokens.size(), len);
  // the answer is " " + key, and it sits at key_pos
  EXPECT_EQ(p.answer, answer);
  EXPECT_EQ(tok.decode(p.answer), " " + key);
  ASSERT_LE(p.key_pos + answer.size(), p.tokens.size());
  EXPECT_EQ(slice(p.tokens, p.key_pos, answer.size()), answer);
  // the needle starts after the intro and round(depth·F) filler tokens
  EXPECT_EQ(p.filler_before, (int)std::lround(depth * p.filler_tokens));
  EXPECT_EQ(p.needle_pos, (int)intro.size() + p.filler_before);
  const std::vector<int32_t> needle_head = tok.encode(" The pass key is");
  EXPECT_EQ(p.key_pos, p.needle_pos + (int)needle_head.size());
  EXPECT_EQ(slice(p.tokens, p.needle_pos, needle_head.size()), needle_head);
  // intro first, question last; the filler is one stream with the needle inserted
  EXPECT_EQ(slice(p.tokens, 0, intro.size()), intro);
  EXPECT_EQ(slice(p.tokens, len - question.size(), question.size()), question);
  const int needle_len = len - (int)intro.size() - (int)question.size() - p.filler_tokens;
  for (int i = 0; i < p.filler_tokens; i++) {
    const int at = (int)intro.size() + i + (i >= p.filler_before ? needle_len : 0);
    ASSERT_EQ(p.tokens[at], filler[i % filler.size()]) << "filler token " << i;
  }
  // the text reads as the template says, the key twice
  const std::string text = tok.decode(p.tokens);
  const std::string needle_text = " The pass key is " + key + ". Remember it. " + key + " is the pass key.";
  EXPECT_NE(text.find(needle_text), std::string::npos) << text;
  EXPECT_EQ(text.rfind(tpl().question), text.size() - tpl().question.size());
}

}  // namespace

TEST(PasskeyPrompt, ExactLengthAndKeyPositionAtEveryDepthWordTokens) {
  const lssa_test::WordTokenizer tok = word_tokenizer();
  PasskeyPromptBuilder b(tok, tpl());
  const int m = b.min_len("12345");
  for (int len : {m, m + 1, m + 17, 128, 500, 2048})
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0, 0.1})
      for (const char* key : {"12345", "90210", "11111"}) check_prompt(tok, len, depth, key);
}

TEST(PasskeyPrompt, DepthZeroAndOneAreTheEnds) {
  const lssa_test::WordTokenizer tok = word_tokenizer();
  PasskeyPromptBuilder b(tok, tpl());
  const int len = 300, intro = (int)tok.encode(tpl().intro).size(), q = (int)tok.encode(tpl().question).size();
  const PasskeyPrompt p0 = b.build(len, 0.0, "12345"), p1 = b.build(len, 1.0, "12345");
  EXPECT_EQ(p0.needle_pos, intro);  // right after the intro
  const int needle_len = len - intro - q - p1.filler_tokens;
  EXPECT_EQ(p1.needle_pos + needle_len, len - q);  // right before the question
  EXPECT_LT(p0.key_pos, b.build(len, 0.5, "12345").key_pos);
  EXPECT_LT(b.build(len, 0.5, "12345").key_pos, p1.key_pos);
}

TEST(PasskeyPrompt, BadInputThrowsOneLine) {
  const lssa_test::WordTokenizer tok = word_tokenizer();
  PasskeyPromptBuilder b(tok, tpl());
  EXPECT_NO_THROW(b.build(b.min_len("12345"), 0.5, "12345"));
  EXPECT_THROW(b.build(b.min_len("12345") - 1, 0.5, "12345"), Error);
  EXPECT_THROW(b.build(200, -0.1, "12345"), Error);
  EXPECT_THROW(b.build(200, 1.5, "12345"), Error);
  EXPECT_THROW(b.build(200, std::nan(""), "12345"), Error);
  EXPECT_THROW(b.build(200, 0.5, "12a45"), Error);
  EXPECT_THROW(b.build(200, 0.5, ""), Error);
  PasskeyTemplate t = tpl();
  t.needle = " no key here.";
  EXPECT_THROW(PasskeyPromptBuilder(tok, t), Error);
}

TEST(PasskeyPrompt, ExactLengthAndKeyPositionGpt2) {
  LSSA_REQUIRE_TOKENIZER(bpe);  // fails with how to fetch the files when they are missing
  (void)bpe;
  std::unique_ptr<TextTokenizer> tok = make_gpt2_text_tokenizer(std::make_unique<Gpt2Tokenizer>(lssa_test::tokenizer_dir()));
  PasskeyPromptBuilder b(*tok, tpl());
  for (const std::string& key : passkey_keys(5, 7)) {
    const int m = b.min_len(key);
    EXPECT_GT(m, 40) << key;  // the template is ~60 GPT-2 tokens
    EXPECT_LT(m, 100) << key;
    for (int len : {m, m + 1, 1024, 4096})
      for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) check_prompt(*tok, len, depth, key);
  }
}

TEST(PasskeyScore, OnlyTheExactDigitsCount) {
  EXPECT_TRUE(passkey_correct(" 12345", "12345"));
  EXPECT_TRUE(passkey_correct("12345", "12345"));
  EXPECT_TRUE(passkey_correct(" 12345.", "12345"));
  EXPECT_TRUE(passkey_correct("\n 12345 is", "12345"));
  EXPECT_FALSE(passkey_correct(" 1234", "12345"));      // too short
  EXPECT_FALSE(passkey_correct(" 123456", "12345"));    // a longer number
  EXPECT_FALSE(passkey_correct(" 12 345", "12345"));    // split
  EXPECT_FALSE(passkey_correct(" 12346", "12345"));     // one digit off
  EXPECT_FALSE(passkey_correct(" the key 12345", "12345"));  // not the first thing said
  EXPECT_FALSE(passkey_correct("", "12345"));
  EXPECT_FALSE(passkey_correct(" ", "12345"));
  EXPECT_FALSE(passkey_correct("x12345", "12345"));
  EXPECT_FALSE(passkey_correct(" 12345", ""));
}

TEST(PasskeyKeys, FiveDigitsSeededAndSpread) {
  const std::vector<std::string> k = passkey_keys(200, 1337);
  ASSERT_EQ(k.size(), 200u);
  for (const std::string& s : k) {
    ASSERT_EQ(s.size(), 5u) << s;
    EXPECT_NE(s[0], '0') << s;
    for (char c : s) EXPECT_TRUE(c >= '0' && c <= '9') << s;
  }
  EXPECT_EQ(k, passkey_keys(200, 1337));
  EXPECT_NE(k, passkey_keys(200, 1338));
  EXPECT_GT(std::set<std::string>(k.begin(), k.end()).size(), 195u);  // 200 draws of 90,000: few repeats
}
