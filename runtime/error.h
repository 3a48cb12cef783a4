// Errors: every failure the user can cause (bad input, bad config, bad file) is thrown as
// lssa::Error with one human-readable line; the programs' main() catch it, print
// "error: <line>" to stderr and exit non-zero. Programming errors use LSSA_ASSERT.
#pragma once
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace lssa {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// printf-style formatting into a std::string (one home; used by every error message).
std::string strfmt(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

[[noreturn]] inline void fail(const std::string& msg) { throw Error(msg); }

}  // namespace lssa

#define LSSA_ASSERT(cond)                                                                    \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "internal error: %s:%d: assertion '%s' failed\n", __FILE__,      \
                   __LINE__, #cond);                                                         \
      std::abort();                                                                          \
    }                                                                                        \
  } while (0)
