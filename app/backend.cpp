#include "app/backend.h"

#include <omp.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "runtime/error.h"


namespace lssa {

#ifdef LSSA_HAVE_CUDA_BACKEND
// model/cuda: returns null and sets *why when no usable GPU is visible.
std::unique_ptr<Gpt2Model> make_cuda_model(const GPT2Config& cfg, std::string* why, ModelUse use);
#endif

std::unique_ptr<Gpt2Model> make_model(const GPT2Config& cfg, const std::string& device, FILE* notes, ModelUse use) {
  if (device == "cpu") return make_cpu_model(cfg, use);
#ifdef LSSA_HAVE_CUDA_BACKEND
  std::string why;
  auto m = make_cuda_model(cfg, &why, use);
  if (m) return m;
  if (device == "cuda") fail("--device cuda: " + why);
  std::fprintf(notes, "note: %s; running on the CPU\n", why.c_str());
#else
  if (device == "cuda") fail("--device cuda: this build has no CUDA backend (built without a CUDA toolkit)");
#endif
  return make_cpu_model(cfg, use);
}

void set_cpu_threads(int n) {
  if (n <= 0) return;
  omp_set_num_threads(n);  // BLAS runs single-threaded inside our OpenMP threads (layers_cpu.cpp)
}

int cpu_threads() { return omp_get_max_threads(); }

#ifdef LSSA_HAVE_BLAS
extern "C" char* openblas_get_corename(void);
#endif

std::string blas_kernel_note() {
#ifdef LSSA_HAVE_BLAS
  std::string core = openblas_get_corename();
  for (auto& c : core) c = (char)std::tolower(c);
  // OpenBLAS picks its kernels by CPU model; a CPU it does not know (new, or behind a
  // hypervisor) falls back to SSE3 "Prescott" kernels. Measured 2026-11-22 on a 2-core
  // Sapphire Rapids VM: the tiny preset trains at 1.3k tok/s with Prescott, 2.1k with SkylakeX.
  const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (core == "prescott" || core == "core2" || core == "nehalem" || core == "sandybridge") {
    if (avx512 && std::getenv("OPENBLAS_CORETYPE") == nullptr)
      return "OpenBLAS uses its " + core + " kernels on this AVX-512 CPU; export OPENBLAS_CORETYPE=SkylakeX for faster matmuls";
    if (avx2 && std::getenv("OPENBLAS_CORETYPE") == nullptr)
      return "OpenBLAS uses its " + core + " kernels on this AVX2 CPU; export OPENBLAS_CORETYPE=Haswell for faster matmuls";
  }
#endif
  return "";
}

}  // namespace lssa
