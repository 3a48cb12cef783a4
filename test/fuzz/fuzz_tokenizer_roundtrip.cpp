// libFuzzer target: encode/decode with the real GPT-2 tokenizer files ($LSSA_TOKENIZER_DIR, or
// the programs' default folder). decode(encode(x)) == x for every byte string x (tokenizer.h);
// the ids are inside the vocabulary; decoding arbitrary ids either fails with lssa::Error
// (an id outside the vocabulary) or succeeds.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "runtime/error.h"

static const lssa::Gpt2Tokenizer& tokenizer() {
  static std::unique_ptr<lssa::Gpt2Tokenizer> tok = [] {
    const char* d = std::getenv("LSSA_TOKENIZER_DIR");
    return std::make_unique<lssa::Gpt2Tokenizer>(d && *d ? d : lssa::default_tokenizer_dir());
  }();
  return *tok;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const lssa::Gpt2Tokenizer& tok = tokenizer();
  const std::string text((const char*)data, size);
  for (bool special : {true, false}) {
    std::vector<int32_t> ids = tok.encode(text, special);
    for (int32_t id : ids)
      if (id < 0 || id >= tok.vocab_size()) __builtin_trap();
    if (tok.decode(ids) != text) __builtin_trap();
  }
  std::vector<int32_t> raw(size / 2);
  for (size_t i = 0; i < raw.size(); i++) raw[i] = (int32_t)(data[2 * i] | data[2 * i + 1] << 8);
  try {
    (void)tok.decode(raw);
  } catch (const lssa::Error&) {
  }
  return 0;
}
