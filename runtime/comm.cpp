// Launch detection, shards, the single-process communicator and the factory (see comm.h).
#include "runtime/comm.h"

#include <cstdlib>
#include <cstring>

#include "runtime/comm_impl.h"
#include "runtime/comm_tcp.h"
#include "runtime/error.h"

namespace lssa {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::U8: return 1;
  }
  return 0;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "fp32";
    case DType::F64: return "fp64";
    case DType::BF16: return "bf16";
    case DType::U8: return "bytes";
  }
  return "?";
}

ShardRange shard_range(size_t n, int world, int rank) {
  LSSA_ASSERT(world >= 1 && rank >= 0 && rank < world);
  const size_t base = n / world, extra = n % world, r = (size_t)rank;
  ShardRange s;
  s.begin = r * base + std::min(r, extra);
  s.end = s.begin + base + (r < extra ? 1 : 0);
  return s;
}

double timeout_from_env(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  double s = std::strtod(v, &end);
  if (*end || !(s > 0)) fail(strfmt("%s=%s: expected a positive number of seconds", name, v));
  return s;
}

namespace {

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const unsigned char* p = (const unsigned char*)data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ull;

const char* lookup(EnvLookup env, void* ctx, const char* name) {
  const char* v = env(name, ctx);
  return v && *v ? v : nullptr;
}

int env_int(EnvLookup env, void* ctx, const char* name, int lo, int hi) {
  const char* v = lookup(env, ctx, name);
  if (!v) fail(strfmt("%s is not set", name));
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end || x < lo || x > hi) fail(strfmt("%s=%s: expected an integer in [%d, %d]", name, v, lo, hi));
  return (int)x;
}

// An MPI launcher (OpenMPI's mpirun, MPICH's hydra, srun with PMI/PMIx) started this process.
bool mpi_launcher_env(EnvLookup env, void* ctx) {
  for (const char* n : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
    if (lookup(env, ctx, n)) return true;
  return false;
}

const char* real_getenv(const char* name, void*) { return std::getenv(name); }

class SingleComm final : public Communicator {
 public:
  const char* name() const override { return "single"; }
  void all_reduce_mean(const CommBuffer&) override {}
  void reduce_scatter_mean(const CommBuffer&) override {}
  void all_gather(const CommBuffer&) override {}
  void broadcast(const CommBuffer&, int) override {}
  void all_reduce_sum(double*, int) override {}
  void barrier() override {}
};

}  // namespace

LaunchInfo launch_from_env(EnvLookup env, void* ctx, int argc, const char* const* argv) {
  LaunchInfo li;
  li.args_key = kFnvBasis;
  for (int i = 1; i < argc; i++) li.args_key = fnv1a(li.args_key, argv[i], std::strlen(argv[i]) + 1);
  const char *rank_var, *world_var, *local_var;
  if (lookup(env, ctx, "RANK") || lookup(env, ctx, "WORLD_SIZE")) {
    rank_var = "RANK";
    world_var = "WORLD_SIZE";
    local_var = "LOCAL_RANK";
    li.source = "torchrun-style environment";
  } else if (lookup(env, ctx, "SLURM_PROCID")) {
    rank_var = "SLURM_PROCID";
    // srun sets the step's task count; SLURM_NTASKS is the allocation's (a batch script run
    // outside srun is one process, not SLURM_NTASKS of them)
    world_var = lookup(env, ctx, "SLURM_STEP_NUM_TASKS") ? "SLURM_STEP_NUM_TASKS" : "SLURM_NTASKS";
    local_var = "SLURM_LOCALID";
    li.source = "Slurm environment";
    if (!lookup(env, ctx, "SLURM_STEP_NUM_TASKS") && !lookup(env, ctx, "SLURM_NTASKS")) return li;
  } else {
    if (mpi_launcher_env(env, ctx))
      fail("started by an MPI launcher (mpirun/srun with PMI), but this build has no MPI: install libopenmpi-dev "
           "and rebuild, or launch with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT set");
    return li;
  }
  if (!lookup(env, ctx, rank_var) || !lookup(env, ctx, world_var))
    fail(strfmt("%s and %s must be set together", rank_var, world_var));
  li.world = env_int(env, ctx, world_var, 1, 1 << 20);
  li.rank = env_int(env, ctx, rank_var, 0, li.world - 1);
  li.local_rank = lookup(env, ctx, local_var) ? env_int(env, ctx, local_var, 0, 1 << 20) : li.rank;
  li.kind = LaunchInfo::Kind::Env;
  if (li.world == 1) return li;
  if (!lookup(env, ctx, "MASTER_ADDR") || !lookup(env, ctx, "MASTER_PORT"))
    fail(strfmt("%s: %s=%d needs MASTER_ADDR and MASTER_PORT (rank 0's address and a free port)%s", li.source.c_str(),
                world_var, li.world,
                rank_var[0] == 'S' ? "; in an sbatch script: export MASTER_ADDR=$(scontrol show hostnames "
                                     "\"$SLURM_JOB_NODELIST\" | head -n1) MASTER_PORT=29500"
                                   : ""));
  li.master_addr = lookup(env, ctx, "MASTER_ADDR");
  li.master_port = env_int(env, ctx, "MASTER_PORT", 1, 65535);
  // The job's identity: a process of an earlier or another job on the same port is turned away.
  std::string job;
  if (const char* v = lookup(env, ctx, "LSSA_RUN_ID")) job = v;
  else if (const char* v = lookup(env, ctx, "TORCHELASTIC_RUN_ID")) job = v;
  else if (const char* v = lookup(env, ctx, "SLURM_JOB_ID")) {
    job = v;
    if (const char* s = lookup(env, ctx, "SLURM_STEP_ID")) job += std::string(".") + s;
  }
  job += strfmt("|%d|%s|%d", li.world, li.master_addr.c_str(), li.master_port);
  li.job_key = fnv1a(kFnvBasis, job.data(), job.size());
  return li;
}

LaunchInfo detect_launch(int argc, char** argv) {
#ifdef LSSA_HAVE_MPI
  if (mpi_launcher_env(real_getenv, nullptr)) {
    LaunchInfo li = mpi_launch(argc, argv);
    li.args_key = launch_from_env([](const char*, void*) -> const char* { return nullptr; }, nullptr, argc, argv)
                      .args_key;
    return li;
  }
#endif
  return launch_from_env(real_getenv, nullptr, argc, argv);
}

std::string describe(const LaunchInfo& li) {
  if (li.world == 1 && li.kind == LaunchInfo::Kind::Single) return "single process";
  std::string s = strfmt("%s: rank %d of %d (local rank %d)", li.source.c_str(), li.rank, li.world, li.local_rank);
  if (li.kind == LaunchInfo::Kind::Env && li.world > 1)
    s += strfmt(", rendezvous %s:%d", li.master_addr.c_str(), li.master_port);
  return s;
}

const char* communicator_choice(const LaunchInfo& li, MemSpace mem, bool have_nccl, bool have_mpi) {
  if (li.world == 1) return "single";
  if (mem == MemSpace::Device) {
    if (!have_nccl) fail("data parallelism on GPUs needs NCCL, and this build has none (CUDA toolkit without NCCL)");
    return "nccl";
  }
  if (li.kind == LaunchInfo::Kind::Mpi && have_mpi) return "mpi";
  return "tcp";
}

std::unique_ptr<Communicator> make_communicator(const LaunchInfo& li, MemSpace mem) {
#ifdef LSSA_HAVE_NCCL
  constexpr bool have_nccl = true;
#else
  constexpr bool have_nccl = false;
#endif
#ifdef LSSA_HAVE_MPI
  constexpr bool have_mpi = true;
#else
  constexpr bool have_mpi = false;
#endif
  const std::string kind = communicator_choice(li, mem, have_nccl, have_mpi);
  if (kind == "single") return std::make_unique<SingleComm>();
#ifdef LSSA_HAVE_NCCL
  if (kind == "nccl") return make_nccl_communicator(li);
#endif
#ifdef LSSA_HAVE_MPI
  if (kind == "mpi") return make_mpi_communicator(li);
#endif
  Rendezvous rv = tcp_rendezvous(li, {}, timeout_from_env("LSSA_RENDEZVOUS_TIMEOUT", 300));
  return make_tcp_communicator(li, std::move(rv), timeout_from_env("LSSA_COMM_TIMEOUT", 1800));
}

int local_gpu_ordinal(const LaunchInfo& li, int visible_gpus) {
  if (visible_gpus <= 0) return -1;
  return li.local_rank % visible_gpus;
}

void select_local_gpu(const LaunchInfo& li) {
#ifdef LSSA_HAVE_NCCL
  if (li.world > 1) nccl_select_local_gpu(li);
#else
  (void)li;
#endif
}

void abort_job(int exit_code) {
#ifdef LSSA_HAVE_NCCL
  nccl_abort_all();
#endif
#ifdef LSSA_HAVE_MPI
  if (mpi_active()) mpi_abort(exit_code);
#endif
  (void)exit_code;
}

}  // namespace lssa
