// Helpers of the GPU tests (test/model/cuda, test/attention/cuda): skipping without a device,
// device buffers, bf16 rounding on the host, and the error measure of the comparisons.
//
// Tolerances (FlashAttention's test methodology, with our CPU backend as the reference):
//   ref   = the CPU layer in fp64 on the bf16-rounded inputs (exact up to fp64);
//   floor = the error of "the CPU reference run in bf16": rel_l2(bf16(ref), ref), i.e. what
//           storing the exact result in bf16 alone costs;
//   the GPU result must satisfy rel_l2(gpu, ref) ≤ kBf16Multiple·floor + abs_floor.
// kBf16Multiple = 2: a GPU kernel that computes in fp32 and rounds its output once has an error
// of ≈ 1× the floor (fp32's own error is ~2^-24, far below bf16's 2^-9); 2× leaves room for
// rounding-boundary flips and the different fp32 summation order, and still fails any kernel
// with a real bug (a wrong term is ≫ 2 bf16 ulps in relative L2). Outputs stored in fp32
// (parameter gradients) have no bf16 floor; they use kF32Floor (fp32 sums of ≤ 10^4 terms in
// another order: ~√K·2^-24 ≈ 1e-6 typical, 1e-5 leaves headroom).
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/rng.h"

namespace lssa::test {

constexpr double kBf16Multiple = 2.0;
constexpr double kF32Floor = 1e-5;

inline bool gpu_available() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return n > 0;
}

#define LSSA_REQUIRE_GPU() \
  if (!::lssa::test::gpu_available()) GTEST_SKIP() << "no CUDA device visible"

inline float bf16_round(float x) { return __bfloat162float(__float2bfloat16(x)); }

inline std::vector<float> random_bf16(size_t n, uint64_t seed, double stddev = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = bf16_round((float)(rng.normal() * stddev));
  return v;
}

// ‖a − b‖₂ / ‖b‖₂ (0 when both are 0).
template <typename A, typename B>
double rel_l2(const std::vector<A>& a, const std::vector<B>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); i++) {
    double d = (double)a[i] - (double)b[i];
    num += d * d;
    den += (double)b[i] * b[i];
  }
  if (den == 0) return num == 0 ? 0 : INFINITY;
  return std::sqrt(num / den);
}

// The error of storing `ref` in bf16 (the floor of the tolerance).
template <typename R>
double bf16_floor(const std::vector<R>& ref) {
  std::vector<double> r(ref.size());
  for (size_t i = 0; i < ref.size(); i++) r[i] = bf16_round((float)ref[i]);
  return rel_l2(r, ref);
}

// Device buffer of T, with host transfers of fp32 data (bf16 device types convert).
template <typename T>
struct DeviceBuffer {
  T* ptr = nullptr;
  size_t n = 0;
  explicit DeviceBuffer(size_t count) : n(count) {
    EXPECT_EQ(cudaMalloc(&ptr, std::max<size_t>(1, n) * sizeof(T)), cudaSuccess);
    cudaMemset(ptr, 0, std::max<size_t>(1, n) * sizeof(T));
  }
  template <typename H>
  DeviceBuffer(const std::vector<H>& host) : DeviceBuffer(host.size()) {
    upload(host);
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  template <typename H>
  void upload(const std::vector<H>& host) {
    std::vector<T> tmp(host.size());
    for (size_t i = 0; i < host.size(); i++) tmp[i] = convert((float)host[i]);
    cudaMemcpy(ptr, tmp.data(), tmp.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  std::vector<float> download() const {
    std::vector<T> tmp(n);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    cudaMemcpy(tmp.data(), ptr, n * sizeof(T), cudaMemcpyDeviceToHost);
    std::vector<float> out(n);
    for (size_t i = 0; i < n; i++) out[i] = back(tmp[i]);
    return out;
  }
  operator T*() const { return ptr; }

 private:
  static T convert(float x) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) return __float2bfloat16(x);
    else return (T)x;
  }
  static float back(T x) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) return __bfloat162float(x);
    else return (float)x;
  }
};

template <typename To, typename From>
std::vector<To> cast(const std::vector<From>& v) {
  return std::vector<To>(v.begin(), v.end());
}

}  // namespace lssa::test
