#include "runtime/backend.h"

#include <omp.h>

#include <cstdio>

#include "runtime/error.h"

#ifdef LSSA_HAVE_BLAS
extern "C" void openblas_set_num_threads(int);
#endif

namespace lssa {

#ifdef LSSA_HAVE_CUDA_BACKEND
// model/cuda: returns null and sets *why when no usable GPU is visible.
std::unique_ptr<Gpt2Model> make_cuda_model(const GPT2Config& cfg, std::string* why);
#endif

std::unique_ptr<Gpt2Model> make_model(const GPT2Config& cfg, const std::string& device) {
  if (device == "cpu") return make_cpu_model(cfg);
#ifdef LSSA_HAVE_CUDA_BACKEND
  std::string why;
  auto m = make_cuda_model(cfg, &why);
  if (m) return m;
  if (device == "cuda") fail("--device cuda: " + why);
  std::fprintf(stderr, "note: %s; running on the CPU\n", why.c_str());
#else
  if (device == "cuda") fail("--device cuda: this build has no CUDA backend (built without a CUDA toolkit)");
#endif
  return make_cpu_model(cfg);
}

void set_cpu_threads(int n) {
  if (n <= 0) return;
  omp_set_num_threads(n);
#ifdef LSSA_HAVE_BLAS
  openblas_set_num_threads(n);
#endif
}

int cpu_threads() { return omp_get_max_threads(); }

}  // namespace lssa
