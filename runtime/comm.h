// Communicators for data-parallel training: one process per device (GPU, or a CPU process in CI),
// each with a rank in [0, world). What the trainer needs from them:
//
//   all_reduce_mean   x_r ← (1/W) Σ_r' x_r'             the gradient average (in place)
//   reduce_scatter    shard_r(x) ← (1/W) Σ_r' shard_r(x_r')    ZeRO-1: each rank owns one shard
//   all_gather        x ← concat_r shard_r(x_r)          ZeRO-1: updated parameter shards → all
//   broadcast         x_r ← x_root
//   all_reduce_sum    host fp64 scalars (loss, grad-norm², validation sums, replica checks)
//   barrier
//
// Shards are contiguous ranges of a flat buffer of n elements (shard_range(): the first n mod W
// ranks hold one element more; equal shards when W divides n, as for GPT-2 124M at W = 8).
//
// Implementations (make_communicator picks one from the launch and the model's memory):
//   single  W = 1: every operation is the identity (or a copy).
//   mpi     host memory, over MPI (LSSA_HAVE_MPI): `mpirun -np N` / `srun --mpi=pmix`. CPU backend.
//   tcp     host memory, over TCP sockets through rank 0 (star; deterministic rank-order sums):
//           the CPU backend launched with environment variables (torchrun style) and no MPI.
//   nccl    device memory (LSSA_HAVE_NCCL): the CUDA backend. Its unique id travels over MPI when
//           MPI launched the job, else over the TCP rendezvous.
//
// Launch (detect_launch): MPI when an MPI launcher's variables are present (OMPI_COMM_WORLD_SIZE,
// PMI_SIZE, PMIX_RANK) and the build has MPI; else RANK/WORLD_SIZE[/LOCAL_RANK] (torchrun); else
// SLURM_PROCID/SLURM_STEP_NUM_TASKS(or SLURM_NTASKS)/SLURM_LOCALID (srun without PMI); else a single
// process. The environment launches need MASTER_ADDR/MASTER_PORT: rank 0 listens there and every
// other rank connects (the rendezvous, comm_tcp.h), with a bounded wait and a per-run nonce.
//
// Failure: every wait is bounded (LSSA_RENDEZVOUS_TIMEOUT, LSSA_COMM_TIMEOUT seconds); a peer that
// dies closes its sockets (tcp), is noticed by mpirun (mpi) or by NCCL's async error check (nccl);
// each ends the job with one clear line. abort_job() tears the whole job down after an error on
// one rank so that no other rank waits forever in a collective.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace lssa {

enum class DType { F32, F64, BF16, U8 };  // U8: broadcast of raw bytes only
enum class MemSpace { Host, Device };
size_t dtype_size(DType t);
const char* dtype_name(DType t);

// A flat buffer in the memory of whoever owns it (the model backend).
struct CommBuffer {
  void* data = nullptr;       // first element
  size_t count = 0;           // elements
  DType dtype = DType::F32;
  MemSpace mem = MemSpace::Host;
  void* stream = nullptr;     // Device: the cudaStream_t the data is produced/consumed on (null = default stream)
};

// Rank r's contiguous shard [begin, end) of n elements split over `world` ranks.
struct ShardRange {
  size_t begin = 0, end = 0;
  size_t size() const { return end - begin; }
};
ShardRange shard_range(size_t n, int world, int rank);

// How this process was launched.
struct LaunchInfo {
  enum class Kind { Single, Mpi, Env };
  Kind kind = Kind::Single;
  int rank = 0, world = 1, local_rank = 0;
  std::string source = "single process";  // e.g. "mpirun (MPI)", "torchrun-style environment", "Slurm environment"
  std::string master_addr;                // Env: rank 0's address and port (the rendezvous)
  int master_port = 0;
  uint64_t job_key = 0;   // Env: hash of the job id (LSSA_RUN_ID / TORCHELASTIC_RUN_ID / SLURM_JOB_ID.STEP)
  uint64_t args_key = 0;  // hash of the command line: every rank must run the same one
};

// Reads the launch from the environment (a getenv-like lookup, so tests can inject one); does
// not touch MPI. Throws Error naming the variable when one is malformed or MASTER_ADDR/PORT miss.
using EnvLookup = const char* (*)(const char* name, void* ctx);
LaunchInfo launch_from_env(EnvLookup env, void* ctx, int argc, const char* const* argv);
// The real launch: MPI_Init when an MPI launcher started us (and the build has MPI), else
// launch_from_env(getenv). Call once, first thing in main.
LaunchInfo detect_launch(int argc, char** argv);
std::string describe(const LaunchInfo& li);

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual const char* name() const = 0;  // "single" | "mpi" | "tcp" | "nccl"
  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }

  // In place; buffers of the same count, dtype and memory on every rank. Reductions take F32,
  // F64 (and BF16 on nccl); the result is identical on every rank.
  virtual void all_reduce_mean(const CommBuffer& buf) = 0;
  // buf holds n elements; afterwards elements shard_range(n, W, rank) hold the mean over ranks,
  // the other elements are unspecified.
  virtual void reduce_scatter_mean(const CommBuffer& buf) = 0;
  // buf holds n elements of which this rank's shard_range is valid; afterwards all are.
  virtual void all_gather(const CommBuffer& buf) = 0;
  virtual void broadcast(const CommBuffer& buf, int root) = 0;
  virtual void all_reduce_sum(double* values, int count) = 0;  // host memory
  virtual void barrier() = 0;

 protected:
  int rank_ = 0, world_ = 1, local_rank_ = 0;
};

// The communicator for this launch and a model whose buffers live in `mem`: the one
// communicator_choice() names.
std::unique_ptr<Communicator> make_communicator(const LaunchInfo& li, MemSpace mem);
// Which communicator make_communicator builds, given what the build has (pure, so the choice is
// tested on any machine): "single" for one rank whatever the memory (a one-GPU run needs no
// libnccl and no bootstrap); device memory and world > 1: "nccl" (Error without NCCL); host
// memory: "mpi" under an MPI launch with MPI built in, else "tcp".
const char* communicator_choice(const LaunchInfo& li, MemSpace mem, bool have_nccl, bool have_mpi);

// The GPU ordinal of a rank: local_rank mod the number of visible GPUs (ranks share GPUs when
// there are fewer GPUs than ranks on a node); -1 when none is visible.
int local_gpu_ordinal(const LaunchInfo& li, int visible_gpus);
// GPU runs: make local_gpu_ordinal()'s GPU current before the model is built (the CUDA backend's
// DeviceContext opens the current device). No-op without NCCL or a GPU, or for a single process.
void select_local_gpu(const LaunchInfo& li);

// After an error on this rank: make sure the other ranks stop too (MPI_Abort under MPI; NCCL
// communicators are aborted; TCP peers see the sockets close when this process exits).
void abort_job(int exit_code);

// Seconds from the environment variable `name` (positive number), else `fallback`.
double timeout_from_env(const char* name, double fallback);

}  // namespace lssa
