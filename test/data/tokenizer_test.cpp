// Tests of the GPT-2 tokenizer (data/tokenizer.*).
//
//  - Golden ids: every text in test/data/texts/ and four Gutenberg books, encoded by
//    js-tiktoken@1.0.21 (make_golden.sh), must come out identical; a mismatch reports the
//    first differing position with the ids and text around it.
//  - Round trip: decode(encode(x)) == x for seeded random byte strings, invalid UTF-8 included.
//  - Special token handling, decode errors, loading errors, thread safety, very long pieces,
//    and llm.c's gpt2_tokenizer.bin read back byte for byte.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "data/tokenizer.h"
#include "gtest/gtest.h"
#include "runtime/error.h"
#include "test/data/test_paths.h"

using lssa::Gpt2Tokenizer;
namespace fs = std::filesystem;

namespace {

bool read_bytes(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

void write_bytes(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), (std::streamsize)data.size());
}

// Printable rendering of bytes for failure messages.
std::string show(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 32 || c == 127) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else out += (char)c;
  }
  return "\"" + out + "\"";
}

std::string show_ids(const std::vector<int32_t>& ids, size_t from, size_t to) {
  std::string out = "[";
  for (size_t i = from; i < std::min(to, ids.size()); i++) out += (i > from ? " " : "") + std::to_string(ids[i]);
  return out + "]";
}

// Empty when equal; else where and how the two id lists first differ, with context.
std::string first_difference(const Gpt2Tokenizer& tok, const std::vector<int32_t>& ours,
                             const std::vector<int32_t>& want) {
  size_t i = 0;
  while (i < ours.size() && i < want.size() && ours[i] == want[i]) i++;
  if (i == ours.size() && i == want.size()) return "";
  size_t from = i >= 5 ? i - 5 : 0;
  std::ostringstream m;
  m << "first difference at token " << i << " (ours " << ours.size() << " tokens, reference "
    << want.size() << ")\n  ours:      " << show_ids(ours, from, i + 8)
    << "\n  reference: " << show_ids(want, from, i + 8)
    << "\n  text before: " << show(tok.decode(std::vector<int32_t>(want.begin() + from, want.begin() + i)))
    << "\n  reference from there: "
    << show(tok.decode(std::vector<int32_t>(want.begin() + i, want.begin() + std::min(want.size(), i + 8))));
  return m.str();
}

std::vector<std::string> source_text_names() {
  std::vector<std::string> names;
  if (DIR* d = opendir(LSSA_TEXTS_DIR)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.compare(n.size() - 4, 4, ".txt") == 0) names.push_back(n.substr(0, n.size() - 4));
    }
    closedir(d);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The golden set: our own texts plus real books (whole files; make_golden.sh lists the same).
std::vector<std::string> golden_names() {
  std::vector<std::string> names = source_text_names();
  for (const char* book : {"carroll-alice", "shakespeare-hamlet", "shakespeare-caesar", "shakespeare-macbeth"})
    names.push_back(book);
  return names;
}

std::string sanitize(std::string s) {
  for (char& c : s)
    if (!isalnum((unsigned char)c)) c = '_';
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

TEST(TokenizerFiles, VocabularyShape) {
  LSSA_REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok.vocab_size(), 50257);
  EXPECT_EQ(tok.eot_token(), 50256);
  EXPECT_EQ(tok.decode_token(50256), "<|endoftext|>");
  EXPECT_EQ(tok.decode_token(0), "!");
  EXPECT_EQ(tok.decode_token(198), "\n");
  EXPECT_EQ(tok.decode_token(220), " ");
  EXPECT_EQ(tok.decode_token(262), " the");
  std::vector<bool> byte_seen(256, false);
  for (int32_t t = 0; t < 256; t++) {
    ASSERT_EQ(tok.decode_token(t).size(), 1u) << "token " << t;
    byte_seen[(unsigned char)tok.decode_token(t)[0]] = true;
  }
  EXPECT_EQ(std::count(byte_seen.begin(), byte_seen.end(), true), 256);
}

TEST(TokenizerGolden, DocumentedExamples) {
  // The two examples checked against js-tiktoken in ../shared/DATA_SOURCES.md.
  LSSA_REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok.encode("Hello world<|endoftext|> The caf\xc3\xa9"),
            (std::vector<int32_t>{15496, 995, 50256, 383, 40304}));
  EXPECT_EQ(tok.encode("   leading spaces\n\n\ttabs 1234567"),
            (std::vector<int32_t>{220, 220, 3756, 9029, 628, 197, 8658, 82, 17031, 2231, 3134}));
}

class TokenizerGoldenText : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerGoldenText, MatchesJsTiktoken) {
  LSSA_REQUIRE_TOKENIZER(tok);
  const std::string name = GetParam();
  const std::string text_path = lssa_test::golden_dir() + "/" + name + ".txt";
  const std::string ids_path = lssa_test::golden_dir() + "/" + name + ".ids.json";
  std::string text, ids_json;
  ASSERT_TRUE(read_bytes(text_path, text) && read_bytes(ids_path, ids_json))
      << "golden files " << text_path << " / " << ids_path << " are missing; "
      << lssa_test::how_to_prepare();
  // Our own texts must be the current ones (golden ids regenerated after every edit).
  std::string source;
  if (read_bytes(std::string(LSSA_TEXTS_DIR) + "/" + name + ".txt", source)) {
    ASSERT_EQ(source, text) << text_path << " is stale (test/data/texts/" << name
                            << ".txt changed): rerun test/data/make_golden.sh " << lssa_test::golden_dir();
  }
  std::vector<int32_t> want;
  try {
    want = nlohmann::json::parse(ids_json).get<std::vector<int32_t>>();
  } catch (const std::exception& e) {
    FAIL() << ids_path << " is not a JSON array of ids: " << e.what();
  }
  std::vector<int32_t> ours = tok.encode(text, true);
  std::string diff = first_difference(tok, ours, want);
  EXPECT_TRUE(diff.empty()) << name << ": " << diff;
  EXPECT_EQ(tok.decode(want), text) << "decoding the reference ids does not give the text back";
  // The same text encoded a second time (now from the piece cache) gives the same ids.
  EXPECT_EQ(tok.encode(text, true), ours);
}

INSTANTIATE_TEST_SUITE_P(Texts, TokenizerGoldenText, ::testing::ValuesIn(golden_names()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return sanitize(i.param); });

TEST(TokenizerGolden, SourceTextsExist) {
  // Guards against an empty parameter list (a moved texts folder would silently test nothing).
  EXPECT_GE(source_text_names().size(), 8u) << "expected the test texts in " << LSSA_TEXTS_DIR;
}

// ---------------------------------------------------------------------------------------------

TEST(TokenizerSpecial, EndOfTextOnlyWhenAllowed) {
  LSSA_REQUIRE_TOKENIZER(tok);
  EXPECT_EQ(tok.encode("<|endoftext|>", true), std::vector<int32_t>{50256});
  std::vector<int32_t> plain = tok.encode("<|endoftext|>", false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 50256), 0);
  EXPECT_EQ(tok.decode(plain), "<|endoftext|>");
  EXPECT_EQ(tok.encode("a<|endoftext|>b"), (std::vector<int32_t>{64, 50256, 65}));
  EXPECT_EQ(tok.encode(""), std::vector<int32_t>{});
}

TEST(TokenizerDecode, BadIdsAreErrors) {
  LSSA_REQUIRE_TOKENIZER(tok);
  EXPECT_THROW(tok.decode_token(-1), lssa::Error);
  EXPECT_THROW(tok.decode_token(50257), lssa::Error);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{15496, 70000}), lssa::Error);
  EXPECT_EQ(tok.decode(std::vector<int32_t>{15496, 995}), "Hello world");
}

TEST(TokenizerRoundTrip, RandomBytesIncludingInvalidUtf8) {
  LSSA_REQUIRE_TOKENIZER(tok);
  std::mt19937_64 rng(20240328);
  // Fragments that stress the pre-tokeniser: partial and complete UTF-8, the special token and
  // pieces of it, contractions, whitespace of several kinds, digits.
  const std::vector<std::string> fragments = {
      "<|endoftext|>", "<|endoftext", "|>", "<|", " ", "  ", "\n", "\r\n", "\t", "'s", "'ll", "'",
      "a", "Z", "the", " and", "1", "123", "\xc3\xa9", "\xc3", "\xa9", "\xe2\x80\x94", "\xe2\x80",
      "\xf0\x9f\x98\x80", "\xf0\x9f", "\xff", "\xfe", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
      "\xe3\x80\x80", "\xc2\xa0", "\xef\xbb\xbf", "\x00", "!", "...", "\xe4\xb8\xad"};
  int cases = 0;
  for (int round = 0; round < 4000; round++) {
    std::string s;
    int kind = round % 4;
    size_t len = kind == 3 ? rng() % 3000 : rng() % 200;
    if (kind == 0) {  // uniform random bytes
      for (size_t i = 0; i < len; i++) s.push_back((char)(rng() & 0xFF));
    } else if (kind == 1) {  // fragments
      while (s.size() < len) s += fragments[rng() % fragments.size()];
    } else if (kind == 2) {  // mostly ASCII text with sprinkled high bytes
      for (size_t i = 0; i < len; i++) {
        uint64_t r = rng() % 100;
        s.push_back(r < 15 ? ' ' : r < 20 ? (char)(0x80 + rng() % 128) : (char)('a' + rng() % 26));
      }
    } else {  // long runs: pieces well beyond the quadratic-BPE limit
      char c = "a \xff\t1!"[rng() % 6];
      while (s.size() < len) {
        s.append(rng() % 400, c);
        s += fragments[rng() % fragments.size()];
        c = "a \xff\t1!\xc3"[rng() % 7];
      }
    }
    for (bool special : {true, false}) {
      std::vector<int32_t> ids = tok.encode(s, special);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && id < 50257);
      if (!special) {
        ASSERT_EQ(std::count(ids.begin(), ids.end(), 50256), 0) << show(s);
      }
      ASSERT_EQ(tok.decode(ids), s) << "round trip failed for " << show(s.substr(0, 200));
      cases++;
    }
  }
  EXPECT_EQ(cases, 8000);
}

TEST(TokenizerRoundTrip, HugePieces) {
  // Pieces of up to a million bytes: they must use the O(n log n) BPE and must not exhaust the
  // regex engine's stack. The expected counts follow from the vocabulary: GPT-2 has no
  // multi-space token, "aaaa" and "\n\n" are tokens, and two 0xFF bytes are not. The time is
  // printed, not asserted (tests never assert wall-clock time: under the sanitizers or on a loaded
  // machine a correct encode takes tens of seconds); the quadratic BPE would need ~2^40 steps on
  // these pieces, hours, and runs into the test's timeout (test/data/CMakeLists.txt).
  LSSA_REQUIRE_TOKENIZER(tok);
  const std::pair<std::string, size_t> cases[] = {
      {std::string(1 << 20, ' ') + "x", 1 << 20},  // (2^20 - 1) spaces, then " x"
      {std::string(1 << 20, 'a'), 1 << 18},
      {std::string(1 << 20, '\xff'), 1 << 20},
      {std::string(300000, '\n'), 150000}};
  for (const auto& [s, count] : cases) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<int32_t> ids = tok.encode(s);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(tok.decode(ids), s);
    EXPECT_EQ(ids.size(), count) << show(s.substr(0, 4)) << "... (" << s.size() << " bytes)";
    std::printf("encoding a %zu-byte piece took %.2f s\n", s.size(), secs);
  }
}

TEST(TokenizerThreads, ConcurrentEncodeMatchesSerial) {
  LSSA_REQUIRE_TOKENIZER(tok);
  std::string text;
  ASSERT_TRUE(read_bytes(lssa_test::golden_dir() + "/carroll-alice.txt", text)) << lssa_test::how_to_prepare();
  std::vector<int32_t> serial = tok.encode(text);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; t++)
    threads.emplace_back([&, t] {
      // Different starting points, so the threads' caches fill in different orders.
      std::string part = text.substr(0, (size_t)t * 1000);
      tok.encode(part);
      results[t] = tok.encode(text);
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; t++) EXPECT_EQ(results[t], serial) << "thread " << t;
  // A second tokenizer instance in the same thread (its own cache) agrees too.
  Gpt2Tokenizer other(lssa_test::tokenizer_dir());
  EXPECT_EQ(other.encode(text), serial);
  EXPECT_EQ(tok.encode(text), serial);
}

// ---------------------------------------------------------------------------------------------

class TokenizerLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lssa_tok_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    std::string why;
    ASSERT_NE(lssa_test::shared_tokenizer(&why), nullptr) << why;
    ASSERT_TRUE(read_bytes(lssa_test::tokenizer_dir() + "/encoder.json", encoder));
    ASSERT_TRUE(read_bytes(lssa_test::tokenizer_dir() + "/vocab.bpe", vocab));
  }
  void TearDown() override { fs::remove_all(dir); }
  // Expects loading dir to throw an Error whose one-line message contains `needle`.
  void expect_load_error(const std::string& needle) {
    try {
      Gpt2Tokenizer t(dir);
      ADD_FAILURE() << "loading succeeded, expected an error mentioning '" << needle << "'";
    } catch (const lssa::Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << "message must be one line: " << msg;
    }
  }
  std::string dir, encoder, vocab;
};

TEST_F(TokenizerLoad, GoodCopyLoads) {
  write_bytes(dir + "/encoder.json", encoder);
  write_bytes(dir + "/vocab.bpe", vocab);
  Gpt2Tokenizer t(dir);
  EXPECT_EQ(t.encode("Hello world"), (std::vector<int32_t>{15496, 995}));
}

TEST_F(TokenizerLoad, MissingFiles) {
  expect_load_error("encoder.json is missing");
  write_bytes(dir + "/encoder.json", encoder);
  expect_load_error("vocab.bpe is missing");
}

TEST_F(TokenizerLoad, CorruptEncoder) {
  write_bytes(dir + "/vocab.bpe", vocab);
  write_bytes(dir + "/encoder.json", encoder.substr(0, encoder.size() / 2));
  expect_load_error("not valid JSON");
  write_bytes(dir + "/encoder.json", "{\"a\": 0, \"b\": 1}");
  expect_load_error("has 2 entries, expected 50257");
}

TEST_F(TokenizerLoad, WrongMergeCount) {
  write_bytes(dir + "/encoder.json", encoder);
  std::string fewer = vocab.substr(0, vocab.rfind('\n', vocab.size() - 2) + 1);  // last merge dropped
  write_bytes(dir + "/vocab.bpe", fewer);
  expect_load_error("has 49999 merges, expected 50000");
  write_bytes(dir + "/vocab.bpe", vocab + "a b\n");
  expect_load_error("has 50001 merges, expected 50000");
}

TEST_F(TokenizerLoad, MergesThatDoNotMatchTheEncoder) {
  write_bytes(dir + "/encoder.json", encoder);
  // Swap the first two merges: merge 0 then produces token 257 instead of 256.
  size_t l1 = vocab.find('\n') + 1, l2 = vocab.find('\n', l1) + 1, l3 = vocab.find('\n', l2) + 1;
  std::string swapped = vocab.substr(0, l1) + vocab.substr(l2, l3 - l2) + vocab.substr(l1, l2 - l1) + vocab.substr(l3);
  write_bytes(dir + "/vocab.bpe", swapped);
  expect_load_error("files do not match");
}

// ---------------------------------------------------------------------------------------------

TEST(TokenizerLlmcBin, ReadsBackTokenForToken) {
  LSSA_REQUIRE_TOKENIZER(tok);
  char tmpl[] = "/tmp/lssa_tokbin_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/gpt2_tokenizer.bin";
  tok.write_llmc_tokenizer_bin(path);
  std::string bin;
  ASSERT_TRUE(read_bytes(path, bin));
  fs::remove_all(tmpl);
  ASSERT_GE(bin.size(), 1024u);
  uint32_t header[256];
  std::memcpy(header, bin.data(), sizeof header);
  EXPECT_EQ(header[0], 20240328u);
  EXPECT_EQ(header[1], 2u);
  EXPECT_EQ(header[2], 50257u);
  EXPECT_EQ(header[3], 50256u);
  size_t pos = 1024;
  for (int32_t t = 0; t < 50257; t++) {
    ASSERT_LT(pos, bin.size()) << "file ends before token " << t;
    size_t len = (unsigned char)bin[pos++];
    ASSERT_GT(len, 0u);
    ASSERT_LE(pos + len, bin.size());
    ASSERT_EQ(bin.substr(pos, len), tok.decode_token(t)) << "token " << t;
    pos += len;
  }
  EXPECT_EQ(pos, bin.size()) << "trailing bytes after the last token";
}
