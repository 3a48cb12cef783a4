// Tests of the prepare_data tool, run as a program (exit codes and files are what users see).
//
//  - Round trip: decoding the shards gives back the documents, each after an EOT, in order;
//    every shard holds --shard-tokens tokens except the last of a split.
//  - Validation splits (--val-docs, --val-fraction, --val-inputs) take whole documents.
//  - The output bytes do not depend on --threads; JSONL inputs; --min-doc-tokens.
//  - Every bad input: exit code != 0, exactly one "error: ..." line on stderr, no .bin files.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "data/shard.h"
#include "data/tokenizer.h"
#include "gtest/gtest.h"
#include "test/data/test_paths.h"

namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string out, err;
};

std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(text.data(), (std::streamsize)text.size());
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

class PrepareData : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lssa_prep_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
    out_dir = dir + "/out";
    std::string why;
    tok = lssa_test::shared_tokenizer(&why);
    ASSERT_NE(tok, nullptr) << why;
  }
  void TearDown() override { fs::remove_all(dir); }

  // Runs prepare_data with the tokenizer dir, --no-progress and the given arguments.
  Result run(const std::vector<std::string>& args, bool with_tokenizer = true) {
    std::string cmd = quote(PREPARE_DATA_EXE) + " --no-progress";
    if (with_tokenizer) cmd += " --tokenizer-dir " + quote(lssa_test::tokenizer_dir());
    for (const auto& a : args) cmd += " " + quote(a);
    cmd += " >" + quote(dir + "/stdout") + " 2>" + quote(dir + "/stderr");
    int status = std::system(cmd.c_str());
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = slurp(dir + "/stdout");
    r.err = slurp(dir + "/stderr");
    return r;
  }

  std::vector<std::string> shards(const std::string& split, const std::string& name = "t") {
    std::vector<std::string> out;
    if (!fs::exists(out_dir)) return out;
    for (const auto& e : fs::directory_iterator(out_dir)) {
      std::string f = e.path().filename().string();
      if (f.rfind(name + "_" + split + "_", 0) == 0 && f.size() > 4 && f.substr(f.size() - 4) == ".bin")
        out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // All tokens of a split, shards concatenated in order.
  std::vector<int32_t> split_tokens(const std::string& split, const std::string& name = "t") {
    std::vector<int32_t> all;
    for (const auto& s : shards(split, name))
      for (uint16_t t : lssa::shard_read_all(s)) all.push_back(t);
    return all;
  }

  std::string expected_stream(const std::vector<std::string>& docs) {
    std::string s;
    for (const auto& d : docs) s += "<|endoftext|>" + d;
    return s;
  }

  // Every .bin anywhere below dir (the staging folder included).
  int count_bin_files() {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().extension() == ".bin" || e.path().string().find(".bin.tmp") != std::string::npos) n++;
    return n;
  }

  void expect_clean_error(const Result& r, const std::string& needle) {
    EXPECT_NE(r.code, 0) << "stdout: " << r.out;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "expected one line, stderr: " << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
    EXPECT_EQ(count_bin_files(), 0) << "a failed run left shard files behind";
    if (fs::exists(out_dir)) {
      for (const auto& e : fs::directory_iterator(out_dir)) {
        EXPECT_EQ(e.path().filename().string().find(".prepare_data."), std::string::npos)
            << "staging folder left behind: " << e.path();
      }
    }
  }

  // Small documents with varied content, one per file in dir/docs (sorted names).
  std::vector<std::string> make_docs(int n, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const char* words[] = {"the", "cat", "sat", "on", "mat", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87",
                           "1234", "don't", "\n", "  ", "!", "<|endoftext|>", "\xf0\x9f\x98\x80"};
    std::vector<std::string> docs;
    for (int i = 0; i < n; i++) {
      std::string d;
      size_t words_in_doc = 1 + rng() % 60;
      for (size_t w = 0; w < words_in_doc; w++) d += std::string(w ? " " : "") + words[rng() % 14];
      char name[32];
      std::snprintf(name, sizeof name, "/docs/d%04d.txt", i);
      write_text(dir + name, d);
      docs.push_back(d);
    }
    return docs;
  }

  std::string dir, out_dir;
  const lssa::Gpt2Tokenizer* tok = nullptr;
};

}  // namespace

TEST_F(PrepareData, FolderRoundTripWithSmallShards) {
  std::vector<std::string> docs = make_docs(25, 1);
  Result r = run({"--out-prefix", out_dir + "/t", "--shard-tokens", "37", dir + "/docs"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> files = shards("train");
  ASSERT_GE(files.size(), 3u);
  for (size_t i = 0; i < files.size(); i++) {
    char want[32];
    std::snprintf(want, sizeof want, "t_train_%06zu.bin", i);
    EXPECT_EQ(fs::path(files[i]).filename().string(), want);
    int64_t n = lssa::shard_token_count(files[i]);
    if (i + 1 < files.size()) {
      EXPECT_EQ(n, 37) << files[i];
    } else {
      EXPECT_TRUE(n >= 1 && n <= 37) << files[i];
    }
  }
  EXPECT_TRUE(shards("val").empty());
  std::vector<int32_t> tokens = split_tokens("train");
  EXPECT_EQ(tokens[0], 50256);
  EXPECT_EQ(tok->decode(tokens), expected_stream(docs));
  // The tokens are exactly EOT + encode(doc) per document.
  std::vector<int32_t> want;
  for (const auto& d : docs) {
    want.push_back(50256);
    tok->encode_append(d, want);
  }
  EXPECT_EQ(tokens, want);
  EXPECT_NE(r.out.find("documents: 25"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shards written"), std::string::npos) << r.out;
}

TEST_F(PrepareData, ValDocsTakesTheFirstDocuments) {
  std::vector<std::string> docs = make_docs(10, 2);
  Result r = run({"--out-prefix", out_dir + "/t", "--shard-tokens", "50", "--val-docs", "3", dir + "/docs"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tok->decode(split_tokens("val")), expected_stream({docs.begin(), docs.begin() + 3}));
  EXPECT_EQ(tok->decode(split_tokens("train")), expected_stream({docs.begin() + 3, docs.end()}));
  EXPECT_NE(r.out.find("train 7, val 3"), std::string::npos) << r.out;
}

TEST_F(PrepareData, ValFractionTakesWholeDocumentsFromTheEnd) {
  std::vector<std::string> docs = make_docs(40, 3);
  Result r = run({"--out-prefix", out_dir + "/t", "--val-fraction", "0.2", dir + "/docs"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<int32_t> val = split_tokens("val"), train = split_tokens("train");
  ASSERT_FALSE(val.empty());
  ASSERT_EQ(val[0], 50256);
  // Find how many documents went to val: the decoded val stream is a suffix of whole documents.
  size_t k = 0;
  while (k < docs.size() && expected_stream({docs.end() - k, docs.end()}) != tok->decode(val)) k++;
  ASSERT_LT(k, docs.size()) << "validation split is not a suffix of whole documents";
  EXPECT_EQ(tok->decode(train), expected_stream({docs.begin(), docs.end() - k}));
  double total = (double)(val.size() + train.size());
  EXPECT_GE(val.size(), 0.2 * total);
  // Minimal: without its first document the split would hold less than 20%.
  int64_t first_doc_tokens = 1 + (int64_t)tok->encode(docs[docs.size() - k]).size();
  EXPECT_LT((double)val.size() - first_doc_tokens, 0.2 * total);
}

TEST_F(PrepareData, ValInputsAreTheValidationSplit) {
  write_text(dir + "/a.txt", "first training document");
  write_text(dir + "/b.txt", "second training document");
  write_text(dir + "/v.txt", "held-out document");
  Result r = run({"--out-prefix", out_dir + "/t", dir + "/a.txt", dir + "/b.txt", "--val-inputs", dir + "/v.txt"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tok->decode(split_tokens("val")), "<|endoftext|>held-out document");
  EXPECT_EQ(tok->decode(split_tokens("train")), "<|endoftext|>first training document<|endoftext|>second training document");
  Result both = run({"--out-prefix", out_dir + "/u", dir + "/a.txt", "--val-inputs", dir + "/a.txt"});
  EXPECT_NE(both.code, 0);
  EXPECT_NE(both.err.find("both a training input and a --val-inputs input"), std::string::npos) << both.err;
}

TEST_F(PrepareData, ThreadCountDoesNotChangeTheBytes) {
  make_docs(300, 4);
  std::string jsonl;
  for (int i = 0; i < 200; i++) jsonl += "{\"text\": \"json doc " + std::to_string(i) + " caf\\u00e9 \\n line\"}\n";
  write_text(dir + "/more.jsonl", jsonl);
  std::vector<std::string> common = {"--shard-tokens", "500", "--val-docs", "7", dir + "/docs", dir + "/more.jsonl"};
  std::vector<std::string> a = {"--out-prefix", out_dir + "/one", "--threads", "1"};
  std::vector<std::string> b = {"--out-prefix", out_dir + "/many", "--threads", "5"};
  a.insert(a.end(), common.begin(), common.end());
  b.insert(b.end(), common.begin(), common.end());
  ASSERT_EQ(run(a).code, 0);
  ASSERT_EQ(run(b).code, 0);
  for (const char* split : {"train", "val"}) {
    std::vector<std::string> one = shards(split, "one"), many = shards(split, "many");
    ASSERT_EQ(one.size(), many.size());
    ASSERT_FALSE(one.empty());
    for (size_t i = 0; i < one.size(); i++) EXPECT_EQ(slurp(one[i]), slurp(many[i])) << one[i] << " vs " << many[i];
  }
}

TEST_F(PrepareData, JsonlDocuments) {
  write_text(dir + "/in.jsonl",
             "{\"text\": \"Hello world\", \"id\": 1}\n"
             "\n"
             "{\"id\": 2, \"text\": \"caf\\u00e9 \\ud83d\\ude00 tab\\there\\nnew line\"}\r\n"
             "{\"text\": \"<|endoftext|> inside\"}");  // no newline at the end
  Result r = run({"--out-prefix", out_dir + "/t", dir + "/in.jsonl"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tok->decode(split_tokens("train")),
            expected_stream({"Hello world", "caf\xc3\xa9 \xf0\x9f\x98\x80 tab\there\nnew line", "<|endoftext|> inside"}));
  EXPECT_NE(r.out.find("documents: 3"), std::string::npos) << r.out;
}

// --tokenizer bytes: a token per byte after the separator 256, no tokenizer files needed, the
// tag in every shard header; --min-doc-tokens counts bytes.
TEST_F(PrepareData, BytesTokenizerWritesBytesAndTagsTheShards) {
  write_text(dir + "/in/a.txt", "hi\n");
  write_text(dir + "/in/b.txt", std::string("\xc3\xa9\x00", 3));
  write_text(dir + "/in/c.txt", "x");
  write_text(dir + "/v.txt", "val");
  expect_clean_error(run({"--tokenizer", "bpe", "--out-prefix", out_dir + "/x", dir + "/v.txt"}, false), "--tokenizer");
  Result r = run({"--tokenizer", "bytes", "--min-doc-tokens", "2", "--out-prefix", out_dir + "/t", dir + "/in",
                  "--val-inputs", dir + "/v.txt"},
                 false);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(split_tokens("train"), (std::vector<int32_t>{256, 'h', 'i', '\n', 256, 0xc3, 0xa9, 0}));
  EXPECT_EQ(split_tokens("val"), (std::vector<int32_t>{256, 'v', 'a', 'l'}));
  for (const std::string& s : shards("train")) EXPECT_EQ(lssa::shard_tokenizer_tag(s), lssa::kShardTagBytes) << s;
  for (const std::string& s : shards("val")) EXPECT_EQ(lssa::shard_tokenizer_tag(s), lssa::kShardTagBytes) << s;
  EXPECT_NE(r.out.find("bytes ids (V = 257)"), std::string::npos) << r.out;
  // GPT-2 shards keep llm.c's header (tag 0)
  Result g = run({"--out-prefix", out_dir + "/g", dir + "/v.txt", "--val-docs", "1", dir + "/in/a.txt"});
  ASSERT_EQ(g.code, 0) << g.err;
  for (const std::string& s : shards("train", "g")) EXPECT_EQ(lssa::shard_tokenizer_tag(s), lssa::kShardTagGpt2) << s;
}

TEST_F(PrepareData, MinDocTokensDropsShortDocuments) {
  write_text(dir + "/d/1.txt", "short");
  write_text(dir + "/d/2.txt", "this document is clearly long enough to be kept by the filter");
  write_text(dir + "/d/3.txt", "tiny one");
  write_text(dir + "/d/4.txt", "");
  Result r = run({"--out-prefix", out_dir + "/t", "--min-doc-tokens", "5", dir + "/d"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(tok->decode(split_tokens("train")), "<|endoftext|>this document is clearly long enough to be kept by the filter");
  EXPECT_NE(r.out.find("2 dropped for having fewer than 5 tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 empty skipped"), std::string::npos) << r.out;
}

TEST_F(PrepareData, StaleShardsOfAnEarlierRunAreRemoved) {
  make_docs(30, 5);
  ASSERT_EQ(run({"--out-prefix", out_dir + "/t", "--shard-tokens", "40", dir + "/docs"}).code, 0);
  size_t before = shards("train").size();
  ASSERT_GE(before, 3u);
  Result r = run({"--out-prefix", out_dir + "/t", "--shard-tokens", "100000", dir + "/docs"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(shards("train").size(), 1u);
  EXPECT_NE(r.out.find("removed stale shard"), std::string::npos) << r.out;
}

TEST_F(PrepareData, HelpExitsZero) {
  Result r = run({"--help"}, false);
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--val-fraction"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Bad inputs: exit code != 0, one line on stderr, no shard files.

TEST_F(PrepareData, ErrorMissingInput) {
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/nope.txt"}), "nope.txt");
}

TEST_F(PrepareData, ErrorMissingTokenizer) {
  write_text(dir + "/a.txt", "text");
  expect_clean_error(run({"--tokenizer-dir", dir + "/no-tokenizer", "--out-prefix", out_dir + "/t", dir + "/a.txt"}, false),
                     "encoder.json is missing");
}

TEST_F(PrepareData, ErrorEmptyInputs) {
  write_text(dir + "/empty.txt", "");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/empty.txt"}), "no documents");
  fs::create_directories(dir + "/emptydir");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/emptydir"}), "no documents");
}

TEST_F(PrepareData, ErrorBadJsonlLineNamesFileAndLine) {
  write_text(dir + "/bad.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"ok too\"}\n{\"text\": \"broken}\n");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/bad.jsonl"}), "bad.jsonl line 3");
  write_text(dir + "/notext.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no text field\"}\n");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/notext.jsonl"}), "notext.jsonl line 2");
}

TEST_F(PrepareData, ErrorLateInTheRunLeavesNoShards) {
  // Many shards are already written (to the staging folder) when line 2000 turns out bad.
  std::string jsonl;
  for (int i = 0; i < 1999; i++) jsonl += "{\"text\": \"document number " + std::to_string(i) + "\"}\n";
  jsonl += "not json\n";
  write_text(dir + "/late.jsonl", jsonl);
  expect_clean_error(run({"--out-prefix", out_dir + "/t", "--shard-tokens", "10", "--threads", "2", dir + "/late.jsonl"}),
                     "late.jsonl line 2000");
}

TEST_F(PrepareData, ErrorUnreadableInputs) {
  std::string fifo = dir + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  expect_clean_error(run({"--out-prefix", out_dir + "/t", fifo}), "neither a regular file nor a folder");
  ASSERT_EQ(symlink((dir + "/nowhere").c_str(), (dir + "/dangling").c_str()), 0);
  expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/dangling"}), "dangling");
  if (geteuid() != 0) {  // root reads files whatever their mode
    write_text(dir + "/secret.txt", "text");
    chmod((dir + "/secret.txt").c_str(), 0);
    expect_clean_error(run({"--out-prefix", out_dir + "/t", dir + "/secret.txt"}), "cannot read");
  }
}

TEST_F(PrepareData, ErrorBadOptions) {
  write_text(dir + "/a.txt", "one document");
  write_text(dir + "/b.txt", "another document");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", "--val-docs", "1", "--val-fraction", "0.1", dir + "/a.txt"}),
                     "excludes");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", "--val-fraction", "1.5", dir + "/a.txt"}), "--val-fraction");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", "--shard-tokens", "0", dir + "/a.txt"}), "--shard-tokens");
  expect_clean_error(run({"--out-prefix", out_dir + "/t", "--val-docs", "2", dir + "/a.txt", dir + "/b.txt"}),
                     "no training documents");
  expect_clean_error(run({"--out-prefix", out_dir + "/t"}), "INPUT");
  expect_clean_error(run({"--out-prefix", out_dir + "/", dir + "/a.txt"}), "no file name");
}
