// The NCCL communicator: device buffers (the CUDA backend's gradients and parameters), one GPU
// per rank, world 1 included (one code path for 1 and N GPUs). Compiled only when the CUDA
// toolkit has NCCL (LSSA_HAVE_NCCL); host code only (CUDA runtime + NCCL calls, no kernels).
//
// Unique id: rank 0 calls ncclGetUniqueId for this run and hands it out over MPI (mpirun/srun)
// or the TCP rendezvous (environment launch; comm_tcp.h) — never through a file, so a stale id
// of an earlier run cannot be picked up.
//
// Ordering: every operation is enqueued on the stream of its buffer (CommBuffer::stream: the
// backend's compute stream, so the all-reduce follows the backward and precedes the optimizer
// without a host sync). One event chains the operations of this communicator in issue order
// whatever streams they use, as NCCL requires the same order on every rank.
//
// In-place forms: ncclAllReduce(x, x); ncclReduceScatter(x, x + rank·n/W) and
// ncclAllGather(x + rank·n/W, x) when W divides n (GPT-2 124M at W = 8); otherwise grouped
// ncclReduce / ncclBroadcast with one root per shard (uneven shards, same semantics).
// Mean = ncclAvg. Host buffers (loss, norm², broadcasts of bytes) are staged through a small
// device scratch on the communicator's own stream.
//
// Failure: host waits poll the stream and ncclCommGetAsyncError; an NCCL error (a peer died) or
// LSSA_COMM_TIMEOUT seconds without completion aborts the communicator and fails with one line.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "runtime/comm_impl.h"
#include "runtime/comm_tcp.h"
#include "runtime/error.h"

namespace lssa {

namespace {

void cuda_check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) fail(strfmt("CUDA error in %s: %s", what, cudaGetErrorString(e)));
}
void nccl_check(ncclResult_t r, const char* what) {
  if (r != ncclSuccess) fail(strfmt("NCCL error in %s: %s", what, ncclGetErrorString(r)));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::F64: return ncclFloat64;
    case DType::BF16: return ncclBfloat16;
    case DType::U8: return ncclUint8;
  }
  return ncclFloat32;
}

// Live communicators, for abort_job().
std::mutex g_live_mu;
std::set<ncclComm_t> g_live;

class NcclComm final : public Communicator {
 public:
  NcclComm(const LaunchInfo& li, const ncclUniqueId& id) : timeout_(timeout_from_env("LSSA_COMM_TIMEOUT", 1800)) {
    rank_ = li.rank;
    world_ = li.world;
    local_rank_ = li.local_rank;
    nccl_check(ncclCommInitRank(&comm_, world_, id, rank_), "ncclCommInitRank");
    {
      std::lock_guard<std::mutex> g(g_live_mu);
      g_live.insert(comm_);
    }
    cuda_check(cudaStreamCreateWithFlags(&own_, cudaStreamNonBlocking), "cudaStreamCreate");
    cuda_check(cudaEventCreateWithFlags(&order_, cudaEventDisableTiming), "cudaEventCreate");
    cuda_check(cudaEventRecord(order_, own_), "cudaEventRecord");
  }
  ~NcclComm() override {
    if (comm_) {
      {
        std::lock_guard<std::mutex> g(g_live_mu);
        g_live.erase(comm_);
      }
      ncclCommDestroy(comm_);
    }
    if (scratch_) cudaFree(scratch_);
    cudaEventDestroy(order_);
    cudaStreamDestroy(own_);
  }
  const char* name() const override { return "nccl"; }

  void all_reduce_mean(const CommBuffer& b) override {
    if (b.dtype == DType::U8) fail("all_reduce_mean: bytes cannot be averaged");
    run(b, "all_reduce_mean", [&](void* x, cudaStream_t s) {
      nccl_check(ncclAllReduce(x, x, b.count, nccl_type(b.dtype), ncclAvg, comm_, s), "ncclAllReduce");
    });
  }

  void reduce_scatter_mean(const CommBuffer& b) override {
    if (b.dtype == DType::U8) fail("reduce_scatter_mean: bytes cannot be averaged");
    const size_t es = dtype_size(b.dtype);
    run(b, "reduce_scatter_mean", [&](void* x, cudaStream_t s) {
      char* base = (char*)x;
      if (b.count % world_ == 0) {
        const size_t n = b.count / world_;
        nccl_check(ncclReduceScatter(base, base + rank_ * n * es, n, nccl_type(b.dtype), ncclAvg, comm_, s),
                   "ncclReduceScatter");
        return;
      }
      nccl_check(ncclGroupStart(), "ncclGroupStart");
      for (int r = 0; r < world_; r++) {
        ShardRange sh = shard_range(b.count, world_, r);
        nccl_check(ncclReduce(base + sh.begin * es, base + sh.begin * es, sh.size(), nccl_type(b.dtype), ncclAvg, r,
                              comm_, s),
                   "ncclReduce");
      }
      nccl_check(ncclGroupEnd(), "ncclGroupEnd");
    });
  }

  void all_gather(const CommBuffer& b) override {
    const size_t es = dtype_size(b.dtype);
    run(b, "all_gather", [&](void* x, cudaStream_t s) {
      char* base = (char*)x;
      if (b.count % world_ == 0) {
        const size_t n = b.count / world_;
        nccl_check(ncclAllGather(base + rank_ * n * es, base, n, nccl_type(b.dtype), comm_, s), "ncclAllGather");
        return;
      }
      nccl_check(ncclGroupStart(), "ncclGroupStart");
      for (int r = 0; r < world_; r++) {
        ShardRange sh = shard_range(b.count, world_, r);
        nccl_check(ncclBroadcast(base + sh.begin * es, base + sh.begin * es, sh.size(), nccl_type(b.dtype), r, comm_, s),
                   "ncclBroadcast");
      }
      nccl_check(ncclGroupEnd(), "ncclGroupEnd");
    });
  }

  void broadcast(const CommBuffer& b, int root) override {
    run(b, "broadcast", [&](void* x, cudaStream_t s) {
      nccl_check(ncclBroadcast(x, x, b.count, nccl_type(b.dtype), root, comm_, s), "ncclBroadcast");
    });
  }

  void all_reduce_sum(double* v, int count) override {
    CommBuffer b{v, (size_t)count, DType::F64, MemSpace::Host};
    run(b, "all_reduce_sum", [&](void* x, cudaStream_t s) {
      nccl_check(ncclAllReduce(x, x, (size_t)count, ncclFloat64, ncclSum, comm_, s), "ncclAllReduce");
    });
  }

  void barrier() override {
    double zero = 0;
    all_reduce_sum(&zero, 1);
  }

 private:
  // Enqueues `op` on the buffer's stream after every earlier operation of this communicator;
  // host buffers go through the scratch on the own stream and are waited for (with the watchdog).
  template <typename Op>
  void run(const CommBuffer& b, const char* what, Op op) {
    if (!comm_) fail(strfmt("%s: the NCCL communicator was aborted after an earlier error", what));
    const size_t bytes = b.count * dtype_size(b.dtype);
    if (b.mem == MemSpace::Device) {
      cudaStream_t s = (cudaStream_t)b.stream;
      cuda_check(cudaStreamWaitEvent(s, order_, 0), "cudaStreamWaitEvent");
      op(b.data, s);
      cuda_check(cudaEventRecord(order_, s), "cudaEventRecord");
      return;
    }
    if (bytes > scratch_bytes_) {
      if (scratch_) cuda_check(cudaFree(scratch_), "cudaFree");
      cuda_check(cudaMalloc(&scratch_, bytes), "cudaMalloc (communicator scratch)");
      scratch_bytes_ = bytes;
    }
    cuda_check(cudaStreamWaitEvent(own_, order_, 0), "cudaStreamWaitEvent");
    cuda_check(cudaMemcpyAsync(scratch_, b.data, bytes, cudaMemcpyHostToDevice, own_), "cudaMemcpyAsync");
    op(scratch_, own_);
    cuda_check(cudaMemcpyAsync(b.data, scratch_, bytes, cudaMemcpyDeviceToHost, own_), "cudaMemcpyAsync");
    cuda_check(cudaEventRecord(order_, own_), "cudaEventRecord");
    wait(own_, what);
  }

  void wait(cudaStream_t s, const char* what) {
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    for (;;) {
      cudaError_t e = cudaStreamQuery(s);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) cuda_check(e, what);
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress) {
        abort_comm();
        fail(strfmt("NCCL failed during %s: %s (a rank died or the network failed); ending the job", what,
                    ncclGetErrorString(async)));
      }
      if (std::chrono::duration<double>(Clock::now() - t0).count() > timeout_) {
        abort_comm();
        fail(strfmt("%s did not complete within LSSA_COMM_TIMEOUT=%gs: a rank hangs or died; ending the job", what,
                    timeout_));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

  void abort_comm() {
    std::lock_guard<std::mutex> g(g_live_mu);
    g_live.erase(comm_);
    ncclCommAbort(comm_);
    comm_ = nullptr;
  }

  ncclComm_t comm_ = nullptr;
  cudaStream_t own_ = nullptr;
  cudaEvent_t order_ = nullptr;
  void* scratch_ = nullptr;
  size_t scratch_bytes_ = 0;
  double timeout_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const LaunchInfo& li) {
  ncclUniqueId id;
  std::memset(&id, 0, sizeof id);
  if (li.rank == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  if (li.world > 1) {
#ifdef LSSA_HAVE_MPI
    if (li.kind == LaunchInfo::Kind::Mpi) {
      mpi_broadcast_bytes(&id, sizeof id, 0);
      return std::make_unique<NcclComm>(li, id);
    }
#endif
    std::vector<uint8_t> payload((const uint8_t*)&id, (const uint8_t*)&id + sizeof id);
    Rendezvous rv = tcp_rendezvous(li, payload, timeout_from_env("LSSA_RENDEZVOUS_TIMEOUT", 300));
    if (rv.payload.size() != sizeof id) {
      close_rendezvous(rv);
      fail(strfmt("rendezvous on %s: rank 0 sent no NCCL id (is it a CPU run? every rank needs the same --device)",
                  rv.peer_addr.c_str()));
    }
    std::memcpy(&id, rv.payload.data(), sizeof id);
    close_rendezvous(rv);
  }
  return std::make_unique<NcclComm>(li, id);
}

void nccl_select_local_gpu(const LaunchInfo& li) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return;  // make_model says there is no GPU
  if (li.local_rank >= n)
    std::fprintf(stderr, "note: local rank %d but %d GPUs visible: ranks %d and %d share a GPU\n", li.local_rank, n,
                 li.local_rank, li.local_rank % n);
  cuda_check(cudaSetDevice(local_gpu_ordinal(li, n)), "cudaSetDevice");
}

void nccl_abort_all() {
  std::lock_guard<std::mutex> g(g_live_mu);
  for (ncclComm_t c : g_live) ncclCommAbort(c);
  g_live.clear();
}

}  // namespace lssa
