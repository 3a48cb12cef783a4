// The NCCL communicator at world size 1 on one GPU (built directly: make_communicator gives a
// one-rank run the single communicator): the same code path as N GPUs (every collective is a real NCCL call), on device buffers (on a stream) and on host buffers (staged).
// Skips when no CUDA device is visible. Multi-GPU runs: `mpirun -np 2 comm_nccl_test` on a node
// with 2 GPUs exercises the MPI bootstrap too.
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <vector>

#include "runtime/comm.h"
#include "runtime/comm_impl.h"
#include "test/runtime/comm_checks.h"

using namespace lssa;

static LaunchInfo g_launch;

static bool have_gpu() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

TEST(NcclComm, HostBuffersThroughTheStagingPath) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  select_local_gpu(g_launch);
  auto c = g_launch.world == 1 ? make_nccl_communicator(g_launch) : make_communicator(g_launch, MemSpace::Device);
  EXPECT_STREQ(c->name(), "nccl");
  check_collectives<float>(*c, DType::F32);
  check_collectives<double>(*c, DType::F64);
}

// Device buffers on a stream: the results equal the host-buffer checks, copied back.
TEST(NcclComm, DeviceBuffersOnAStream) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  select_local_gpu(g_launch);
  auto c = g_launch.world == 1 ? make_nccl_communicator(g_launch) : make_communicator(g_launch, MemSpace::Device);
  const int W = c->world(), r = c->rank();
  const size_t n = 3 * W + 1;
  std::vector<float> h(n), out(n);
  for (size_t i = 0; i < n; i++) h[i] = (float)((r + 1) * (i % 7 + 1));
  float* d = nullptr;
  cudaStream_t s;
  ASSERT_EQ(cudaStreamCreate(&s), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  c->all_reduce_mean(CommBuffer{d, n, DType::F32, MemSpace::Device, s});
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  const double sum_ranks = W * (W + 1) / 2.0;
  for (size_t i = 0; i < n; i++) EXPECT_EQ(out[i], (float)(sum_ranks * (i % 7 + 1)) / (float)W) << i;
  // ZeRO-1 round trip: reduce-scatter then all-gather of the same (identical on all ranks) data
  ASSERT_EQ(cudaMemcpy(d, h.data(), n * sizeof(float), cudaMemcpyHostToDevice), cudaSuccess);
  c->reduce_scatter_mean(CommBuffer{d, n, DType::F32, MemSpace::Device, s});
  c->all_gather(CommBuffer{d, n, DType::F32, MemSpace::Device, s});
  ASSERT_EQ(cudaStreamSynchronize(s), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost), cudaSuccess);
  for (size_t i = 0; i < n; i++) EXPECT_EQ(out[i], (float)(sum_ranks * (i % 7 + 1)) / (float)W) << i;
  cudaFree(d);
  cudaStreamDestroy(s);
}

int main(int argc, char** argv) {
  g_launch = detect_launch(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
