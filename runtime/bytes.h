// copy_bytes: std::memcpy for a byte count that may be 0. memcpy's pointers must be valid even
// when it copies nothing (C11 7.24.1), and an empty std::vector's data() may be a null pointer,
// so memcpy(v.data(), p, 0) is undefined behaviour (UBSan: "null pointer passed as argument 1,
// which is declared to never be null"; found by fuzz_safetensors on a tensor of shape [0, 3]).
#pragma once

#include <cstddef>
#include <cstring>

namespace lssa {

inline void copy_bytes(void* dst, const void* src, size_t n) {
  if (n > 0) std::memcpy(dst, src, n);
}

}  // namespace lssa
