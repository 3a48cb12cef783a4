// The text <-> token interface the evaluation tasks use (passkey prompts, decoded answers), so a
// task is written once for every vocabulary a checkpoint can have.
//
// A model's tokenizer is the kind its checkpoint records (GPT2Config::tokenizer: "gpt2" — GPT-2's
// byte-level BPE, data/tokenizer.h — or "bytes", data/byte_tokenizer.h), and its vocabulary size V
// must be that tokenizer's. Any data/tokenizer.h Tokenizer plugs in through the same adapter.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lssa {

class Gpt2Tokenizer;
class Tokenizer;

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  // A short name for logs and JSON records: the tokenizer kind ("gpt2", "bytes").
  virtual const char* name() const = 0;
  virtual int32_t vocab_size() const = 0;
  // Ordinary text (no special tokens) -> ids in [0, vocab_size()).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Ids -> the bytes they stand for. Throws Error for an id outside the vocabulary.
  virtual std::string decode(const int32_t* ids, size_t count) const = 0;
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }
};

// A data/tokenizer.h Tokenizer behind the interface ("<|endoftext|>" in the text is ordinary text here).
std::unique_ptr<TextTokenizer> make_text_tokenizer(std::unique_ptr<Tokenizer> tok);
// GPT-2's BPE behind the interface.
std::unique_ptr<TextTokenizer> make_gpt2_text_tokenizer(std::unique_ptr<Gpt2Tokenizer> tok);

// The tokenizer of a model whose checkpoint records tokenizer `kind` (gpt2 | bytes) and vocabulary
// size V. GPT-2's reads its files from `dir` (empty = default_tokenizer_dir()). Throws Error (one
// line) when the kind is unknown, V is not the tokenizer's, or GPT-2's files are missing; `what`
// names the option that needs it (e.g. "--task passkey").
std::unique_ptr<TextTokenizer> open_model_tokenizer(const std::string& kind, int V, const std::string& dir,
                                                    const char* what);

}  // namespace lssa
