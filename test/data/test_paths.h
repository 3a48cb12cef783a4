// Where the data tests find their inputs. Each path comes from an environment variable when set,
// else from the CMake-configured default (see test/data/CMakeLists.txt). The files are not in
// git: scripts/test.sh (or the commands in the failure message) prepares them. A missing file
// makes the test FAIL with that message; it never skips.
#pragma once
#include <cstdlib>
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "runtime/error.h"

namespace lssa_test {

inline std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

// Folder with encoder.json and vocab.bpe.
inline std::string tokenizer_dir() { return env_or("LSSA_TOKENIZER_DIR", LSSA_TOKENIZER_DIR_DEFAULT); }
// Folder with NAME.txt + NAME.ids.json pairs written by test/data/make_golden.sh.
inline std::string golden_dir() { return env_or("LSSA_GOLDEN_DIR", LSSA_GOLDEN_DIR_DEFAULT); }

inline std::string how_to_prepare() {
  return "prepare the test files with:\n  test/data/fetch_tokenizer.sh " + tokenizer_dir() +
         "\n  test/data/make_golden.sh " + golden_dir() +
         "\n(or point LSSA_TOKENIZER_DIR / LSSA_GOLDEN_DIR at existing copies)";
}

// The tokenizer, loaded once per process; nullptr (with the reason in *why) when it cannot load.
inline const lssa::Gpt2Tokenizer* shared_tokenizer(std::string* why) {
  static std::string error;
  static std::unique_ptr<lssa::Gpt2Tokenizer> tok = [] {
    try {
      return std::make_unique<lssa::Gpt2Tokenizer>(tokenizer_dir());
    } catch (const lssa::Error& e) {
      error = std::string(e.what()) + "\n" + how_to_prepare();
      return std::unique_ptr<lssa::Gpt2Tokenizer>();
    }
  }();
  if (why) *why = error;
  return tok.get();
}

}  // namespace lssa_test

// In a TEST body: binds `tok` (const Gpt2Tokenizer&) or fails the test with the reason.
#define LSSA_REQUIRE_TOKENIZER(tok)                                 \
  std::string tok##_why;                                            \
  const lssa::Gpt2Tokenizer* tok##_ptr = lssa_test::shared_tokenizer(&tok##_why); \
  ASSERT_NE(tok##_ptr, nullptr) << tok##_why;                       \
  const lssa::Gpt2Tokenizer& tok = *tok##_ptr
