// The text <-> token interface the evaluation tasks use (passkey prompts, decoded answers), so a
// task is written once for every vocabulary a checkpoint can have.
//
// A model's tokenizer is chosen from its vocabulary size V (the only fact about it a checkpoint
// records): V = 50,257 is GPT-2's byte-level BPE (data/tokenizer.h). Another tokenizer plugs in
// as one more implementation of TextTokenizer and one more case of open_model_tokenizer().
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lssa {

class Gpt2Tokenizer;

class TextTokenizer {
 public:
  virtual ~TextTokenizer() = default;
  // A short name for logs and JSON records ("gpt2").
  virtual const char* name() const = 0;
  virtual int32_t vocab_size() const = 0;
  // Ordinary text (no special tokens) -> ids in [0, vocab_size()).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // Ids -> the bytes they stand for. Throws Error for an id outside the vocabulary.
  virtual std::string decode(const int32_t* ids, size_t count) const = 0;
  std::string decode(const std::vector<int32_t>& ids) const { return decode(ids.data(), ids.size()); }
};

// GPT-2's BPE behind the interface ("<|endoftext|>" in the text is ordinary text here).
std::unique_ptr<TextTokenizer> make_gpt2_text_tokenizer(std::unique_ptr<Gpt2Tokenizer> tok);

// The tokenizer of a model with vocabulary size V. GPT-2's reads its files from `dir` (empty =
// default_tokenizer_dir()). Throws Error (one line) when V has no known tokenizer or its files are
// missing; `what` names the option that needs it (e.g. "--task passkey").
std::unique_ptr<TextTokenizer> open_model_tokenizer(int V, const std::string& dir, const char* what);

}  // namespace lssa
