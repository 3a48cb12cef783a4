// Benchmark of the CPU attention (attention/attention_cpu.cpp, the production functions, fp32):
// forward and backward time of every registered variant on one shape, relative to softmax.
// Not a test: timings depend on the machine. Run by scripts/bench_attention_cpu.sh.
//
//   bench_attention_cpu [B T NH HS reps]      (default 4 512 4 64 5)
//
// On the same random qkv (B, T, 3C) and dout (B, T, C): one warm-up round, then `reps` rounds,
// each timing one forward and one backward of every variant in turn (interleaved, so that a
// machine shared with other jobs slows all variants alike); a variant's time is its minimum over
// the rounds — the least disturbed run. Prints a table and the worst ratio to softmax.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "attention/attention_cpu.h"
#include "attention/registry.h"
#include "runtime/rng.h"

using Clock = std::chrono::steady_clock;

namespace {

template <typename F>
double time_ms(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Row {
  std::string label;
  double fwd, bwd;
};

}  // namespace

int main(int argc, char** argv) {
  const int B = argc > 1 ? std::atoi(argv[1]) : 4;
  const int T = argc > 2 ? std::atoi(argv[2]) : 512;
  const int NH = argc > 3 ? std::atoi(argv[3]) : 4;
  const int HS = argc > 4 ? std::atoi(argv[4]) : 64;
  const int reps = argc > 5 ? std::atoi(argv[5]) : 5;
  if (B <= 0 || T <= 0 || NH <= 0 || HS <= 0 || reps <= 0) {
    std::fprintf(stderr, "usage: bench_attention_cpu [B T NH HS reps]\n");
    return 1;
  }
  const size_t C = (size_t)NH * HS;
  std::vector<float> qkv((size_t)B * T * 3 * C), out((size_t)B * T * C), dout(out.size()), dqkv(qkv.size());
  lssa::Rng rng(1);
  for (auto& x : qkv) x = (float)rng.normal();
  for (auto& x : dout) x = (float)rng.normal();

  std::vector<std::pair<std::string, lssa::AttnOptions>> cases;
  for (const auto& v : lssa::attn_registry()) cases.push_back({v.name, lssa::AttnOptions{}});
  cases.push_back({"softmax", lssa::AttnOptions{"train", "seq", 15.f}});  // re-weighting on the baseline

  std::printf("CPU attention, fp32, B=%d T=%d NH=%d HS=%d, %d threads, min of %d interleaved rounds\n", B, T, NH,
              HS, omp_get_max_threads(), reps);
  std::vector<Row> rows;
  std::vector<lssa::AttnSpec> specs;
  for (const auto& [name, opt] : cases) {
    specs.push_back(lssa::attn_resolve(name, opt, T));
    std::string label = name;
    if (specs.back().reweight_p > 0.f) label += " (p=" + std::to_string((int)specs.back().reweight_p) + ")";
    rows.push_back({label, 1e300, 1e300});
  }
  for (int round = 0; round <= reps; round++)  // round 0 is the warm-up
    for (size_t c = 0; c < specs.size(); c++) {
      const lssa::AttnSpec& spec = specs[c];
      double f = time_ms([&] { lssa::attention_forward_cpu<float>(spec, out.data(), qkv.data(), B, T, NH, HS); });
      double b = time_ms([&] {
        lssa::attention_backward_cpu<float>(spec, dqkv.data(), dout.data(), qkv.data(), B, T, NH, HS);
      });
      if (round == 0) continue;
      rows[c].fwd = std::min(rows[c].fwd, f);
      rows[c].bwd = std::min(rows[c].bwd, b);
    }
  const Row& sm = rows[0];  // the registry starts with softmax
  std::printf("%-22s %10s %10s %10s %8s\n", "variant", "fwd ms", "bwd ms", "total ms", "vs softmax");
  double worst = 0;
  std::string worst_name;
  for (const Row& r : rows) {
    const double ratio = (r.fwd + r.bwd) / (sm.fwd + sm.bwd);
    if (ratio > worst) {
      worst = ratio;
      worst_name = r.label;
    }
    std::printf("%-22s %10.1f %10.1f %10.1f %8.2fx\n", r.label.c_str(), r.fwd, r.bwd, r.fwd + r.bwd, ratio);
  }
  std::printf("worst: %s at %.2fx softmax (target <= 1.5x)\n", worst_name.c_str(), worst);
  return 0;
}
