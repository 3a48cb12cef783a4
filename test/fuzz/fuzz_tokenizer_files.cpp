// libFuzzer target: loading the tokenizer files (data/tokenizer.h). The input is split at its
// first NUL byte into encoder.json and vocab.bpe; any content must fail with lssa::Error (the
// files are validated to have GPT-2's shape) or load.
#include <cstdint>
#include <cstring>

#include "data/tokenizer.h"
#include "fuzz_util.h"
#include "runtime/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const uint8_t* nul = (const uint8_t*)std::memchr(data, 0, size);
  const size_t n1 = nul ? (size_t)(nul - data) : size;
  fuzz::write_scratch("encoder.json", data, n1);
  fuzz::write_scratch("vocab.bpe", nul ? nul + 1 : data + size, nul ? size - n1 - 1 : 0);
  try {
    lssa::Gpt2Tokenizer tok(fuzz::scratch_dir());
  } catch (const lssa::Error&) {
  }
  return 0;
}
