// Byte-level tokenizer: a token is one byte of the text.
//
// What: ids 0..255 are the byte values; id 256 is the document separator that starts every
// document (the role of GPT-2's <|endoftext|>), so V = 257, padded to Vp = 384 (a multiple of 128).
// decode(encode(x)) == x for every byte string x (with allow_special=false, or when x holds no
// "<|endoftext|>"). Why: at the CPU scale a GPT-2-vocabulary model spends almost all of its compute
// on the 50,257-way classifier; with bytes it goes to attention and the MLPs, and a small model
// learns to use a long context (docs/reproduce.md, the `cpu` scale).
#pragma once
#include "data/tokenizer.h"

namespace lssa {

constexpr int32_t kByteVocabSize = 257;
constexpr int32_t kByteSeparatorToken = 256;

class ByteTokenizer final : public Tokenizer {
 public:
  const char* kind() const override { return "bytes"; }
  int32_t vocab_size() const override { return kByteVocabSize; }
  int32_t eot_token() const override { return kByteSeparatorToken; }
  void encode_append(std::string_view text, std::vector<int32_t>& out, bool allow_special = true) const override;
  std::string_view decode_token(int32_t id) const override;
};

}  // namespace lssa
