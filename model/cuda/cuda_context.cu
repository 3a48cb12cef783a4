// The device context: see cuda_context.h.
#include "model/cuda/cuda_context.h"

#include "model/cuda/cuda_plan.h"
#include "runtime/error.h"

namespace lssa {

void cublas_check(cublasStatus_t s, const char* what) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(strfmt("cuBLASLt error in %s: status %d", what, (int)s));
}

bool DeviceContext::open(std::string* why) {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess || count == 0) {
    if (why) *why = e != cudaSuccess ? strfmt("no usable CUDA device (%s)", cudaGetErrorString(e)) : "no CUDA device visible";
    (void)cudaGetLastError();  // clear the sticky error of a failed runtime init
    return false;
  }
  // The current device: select_local_gpu() made LOCAL_RANK's GPU current for a multi-GPU job
  // (runtime/comm.h); a single process gets device 0 (or whatever CUDA_VISIBLE_DEVICES shows first).
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaSetDevice(device));
  CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  if (prop.major < 8) {
    if (why) *why = strfmt("GPU %s has compute capability %d.%d; the CUDA backend needs bf16 tensor cores (8.0+)",
                           prop.name, prop.major, prop.minor);
    return false;
  }
  CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  CUBLAS_CHECK(cublasLtCreate(&lt));
  workspace_bytes = kCublasWorkspaceBytes;
  workspace = device_alloc(workspace_bytes, "the cuBLASLt workspace", 0, 0);
  return true;
}

void DeviceContext::close() {
  if (workspace) cudaFree(workspace);
  if (lt) cublasLtDestroy(lt);
  if (stream) cudaStreamDestroy(stream);
  workspace = nullptr;
  lt = nullptr;
  stream = nullptr;
}

void DeviceContext::synchronize() const { CUDA_CHECK(cudaStreamSynchronize(stream)); }

void* device_alloc(size_t bytes, const std::string& what, int B, int T) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    size_t free_b = 0, total_b = 0;
    cudaMemGetInfo(&free_b, &total_b);
    fail(gpu_oom_message(what, bytes, free_b, total_b, B, T));
  }
  cuda_check(e, "cudaMalloc");
  return p;
}

}  // namespace lssa
