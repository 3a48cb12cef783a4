// Reduced test sizes for slow builds. With LSSA_TEST_REDUCED=1 in the environment the costliest
// unit tests run a smaller, representative size of the same code paths (every variant and option
// is still run; only a length or a step count shrinks). scripts/test.sh --sanitize sets it: under
// ASan + UBSan + libFuzzer's coverage instrumentation the CPU code runs tens of times slower, and a
// memory or undefined-behaviour error shows on a small input as well as on a large one. The full
// sizes, and the numerical claims that depend on them (e.g. finiteness at T = 4096), are checked
// by the plain build (scripts/test.sh), where LSSA_TEST_REDUCED is unset.
#pragma once

#include <cstdlib>
#include <cstring>

namespace lssa_test {

inline bool reduced_tests() {
  const char* e = std::getenv("LSSA_TEST_REDUCED");
  return e != nullptr && std::strcmp(e, "1") == 0;
}

// `full` normally, `reduced` under LSSA_TEST_REDUCED=1.
template <typename T>
T full_or_reduced(T full, T reduced) {
  return reduced_tests() ? reduced : full;
}

}  // namespace lssa_test
