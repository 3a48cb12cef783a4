// The device context of the CUDA backend: everything a kernel launcher needs besides its tensors,
// passed explicitly (no globals): the stream, the cuBLASLt handle and its workspace, and the
// properties of the device. One per model; created by DeviceContext::open().
//
// Errors: CUDA / cuBLASLt failures throw lssa::Error with one line naming the call and the
// error string (CUDA_CHECK from runtime/cuda_check.h, CUBLAS_CHECK here), so the programs
// print "error: …" and exit 1.
#pragma once
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <string>

#include "runtime/cuda_check.h"

namespace lssa {

struct DeviceContext {
  int device = 0;                         // CUDA device ordinal (the current device at open())
  cudaDeviceProp prop{};                  // name, SM count, shared memory limits
  cudaStream_t stream = nullptr;          // every kernel and copy of the backend runs here, in order
  cublasLtHandle_t lt = nullptr;          // cuBLASLt handle
  void* workspace = nullptr;              // cuBLASLt workspace (one per stream: deterministic)
  size_t workspace_bytes = 0;

  // Opens the current CUDA device (LOCAL_RANK's, after select_local_gpu; else device 0). Returns
  // false and sets *why when no CUDA device is visible or usable.
  bool open(std::string* why);
  void close();
  void synchronize() const;
  ~DeviceContext() { close(); }
};

// Throws Error "cuBLASLt error in <what>: status <n>" (CUDA_CHECK: runtime/cuda_check.h).
void cublas_check(cublasStatus_t s, const char* what);

// Allocates `bytes` of device memory; when it does not fit, throws Error with
// gpu_oom_message(what, …) (asked, free, total, and the --batch hint).
void* device_alloc(size_t bytes, const std::string& what, int B, int T);

}  // namespace lssa

#define CUBLAS_CHECK(call) ::lssa::cublas_check((call), #call)
