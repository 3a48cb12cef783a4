// The MPI communicator (host memory; the CPU backend under mpirun/srun) and the MPI bootstrap
// used by NCCL. Compiled only when CMake found MPI (LSSA_HAVE_MPI).
//
// In-place forms: all-reduce with MPI_IN_PLACE; reduce-scatter with MPI_Reduce_scatter (uneven
// counts, MPI_IN_PLACE leaves the shard at the start of the buffer, so it is moved to its
// offset); all-gather with MPI_Allgatherv(MPI_IN_PLACE). Counts above INT_MAX are split into
// chunks (all-reduce, broadcast). MPI's default error handler aborts the job on a failed call;
// mpirun ends the job when a rank dies.
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/comm_impl.h"
#include "runtime/error.h"

namespace lssa {

namespace {

// MPI_Finalize at exit when we initialised MPI (a normal return or exit(1) after an error).
struct MpiFinalizer {
  bool owned = false;
  ~MpiFinalizer() {
    if (owned && mpi_active()) MPI_Finalize();
  }
} g_finalizer;

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::F32: return MPI_FLOAT;
    case DType::F64: return MPI_DOUBLE;
    case DType::U8: return MPI_BYTE;
    case DType::BF16: break;
  }
  fail("the MPI communicator has no bf16 reduction (bf16 buffers live on GPUs and use NCCL)");
}

constexpr size_t kChunk = (size_t)1 << 30;  // elements per call: MPI counts are int

class MpiComm final : public Communicator {
 public:
  explicit MpiComm(const LaunchInfo& li) {
    rank_ = li.rank;
    world_ = li.world;
    local_rank_ = li.local_rank;
  }
  const char* name() const override { return "mpi"; }

  void all_reduce_mean(const CommBuffer& b) override {
    host_only(b, "all_reduce_mean");
    const MPI_Datatype t = reducible(b);
    const size_t es = dtype_size(b.dtype);
    for (size_t off = 0; off < b.count; off += kChunk) {
      int n = (int)std::min(kChunk, b.count - off);
      MPI_Allreduce(MPI_IN_PLACE, (char*)b.data + off * es, n, t, MPI_SUM, MPI_COMM_WORLD);
    }
    divide(b, 0, b.count);
  }

  void reduce_scatter_mean(const CommBuffer& b) override {
    host_only(b, "reduce_scatter_mean");
    const MPI_Datatype t = reducible(b);
    const size_t es = dtype_size(b.dtype);
    std::vector<int> counts = shard_counts(b.count);
    MPI_Reduce_scatter(MPI_IN_PLACE, b.data, counts.data(), t, MPI_SUM, MPI_COMM_WORLD);
    ShardRange s = shard_range(b.count, world_, rank_);
    std::memmove((char*)b.data + s.begin * es, b.data, s.size() * es);  // MPI_IN_PLACE leaves it at the front
    divide(b, s.begin, s.end);
  }

  void all_gather(const CommBuffer& b) override {
    host_only(b, "all_gather");
    std::vector<int> counts = shard_counts(b.count), displs(world_);
    for (int r = 0; r < world_; r++) displs[r] = (int)shard_range(b.count, world_, r).begin;
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, b.data, counts.data(), displs.data(), mpi_type(b.dtype),
                   MPI_COMM_WORLD);
  }

  void broadcast(const CommBuffer& b, int root) override {
    host_only(b, "broadcast");
    const size_t es = dtype_size(b.dtype);
    for (size_t off = 0; off < b.count; off += kChunk) {
      int n = (int)std::min(kChunk, b.count - off);
      MPI_Bcast((char*)b.data + off * es, n, mpi_type(b.dtype), root, MPI_COMM_WORLD);
    }
  }

  void all_reduce_sum(double* v, int count) override {
    MPI_Allreduce(MPI_IN_PLACE, v, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  }

  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }

 private:
  static void host_only(const CommBuffer& b, const char* what) {
    if (b.mem != MemSpace::Host)
      fail(strfmt("%s: the MPI communicator handles host memory only (GPU runs use NCCL)", what));
  }
  static MPI_Datatype reducible(const CommBuffer& b) {
    if (b.dtype != DType::F32 && b.dtype != DType::F64)
      fail(strfmt("the MPI communicator reduces fp32/fp64 only, got %s", dtype_name(b.dtype)));
    return mpi_type(b.dtype);
  }
  std::vector<int> shard_counts(size_t n) const {
    std::vector<int> c(world_);
    for (int r = 0; r < world_; r++) {
      size_t k = shard_range(n, world_, r).size();
      if (k > (size_t)INT_MAX) fail("ZeRO shard larger than 2^31 elements: use more ranks");
      c[r] = (int)k;
    }
    return c;
  }
  void divide(const CommBuffer& b, size_t begin, size_t end) const {
    if (b.dtype == DType::F32) {
      float* x = (float*)b.data;
      for (size_t i = begin; i < end; i++) x[i] /= (float)world_;
    } else {
      double* x = (double*)b.data;
      for (size_t i = begin; i < end; i++) x[i] /= (double)world_;
    }
  }
};

}  // namespace

LaunchInfo mpi_launch(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);  // OpenMP threads never call MPI
  g_finalizer.owned = true;
  LaunchInfo li;
  li.kind = LaunchInfo::Kind::Mpi;
  MPI_Comm_rank(MPI_COMM_WORLD, &li.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &li.world);
  MPI_Comm node;  // the ranks sharing this node: local rank = GPU index
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, li.rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &li.local_rank);
  MPI_Comm_free(&node);
  li.source = std::getenv("SLURM_PROCID") ? "srun (MPI)" : "mpirun (MPI)";
  return li;
}

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

std::unique_ptr<Communicator> make_mpi_communicator(const LaunchInfo& li) { return std::make_unique<MpiComm>(li); }

void mpi_broadcast_bytes(void* data, size_t bytes, int root) {
  MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
}

void mpi_abort(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);  // MPI_Abort does not return; this satisfies [[noreturn]]
}

}  // namespace lssa
