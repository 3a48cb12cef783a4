// CUDA runtime error checks: a failing call throws lssa::Error with one line naming the call and
// CUDA's error string, so the programs print "error: …" and exit 1 (runtime/error.h).
// Header-only, host code; used by every .cu of the CUDA backend and of attention/cuda.
#pragma once
#include <cuda_runtime.h>

#include "runtime/error.h"

namespace lssa {

inline void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(strfmt("CUDA error in %s: %s", what, cudaGetErrorString(e)));
}

}  // namespace lssa

#define CUDA_CHECK(call) ::lssa::cuda_check((call), #call)
