// Internal to runtime/comm*.cpp: the MPI and NCCL halves, compiled only when the build has them.
#pragma once
#include <memory>

#include "runtime/comm.h"

namespace lssa {

#ifdef LSSA_HAVE_MPI
// MPI_Init (thread level FUNNELED) and this process's rank, world and node-local rank.
LaunchInfo mpi_launch(int argc, char** argv);
bool mpi_active();  // initialised and not finalised
std::unique_ptr<Communicator> make_mpi_communicator(const LaunchInfo& li);
void mpi_broadcast_bytes(void* data, size_t bytes, int root);
[[noreturn]] void mpi_abort(int code);
#endif

#ifdef LSSA_HAVE_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(const LaunchInfo& li);
void nccl_select_local_gpu(const LaunchInfo& li);
void nccl_abort_all();  // ncclCommAbort on every live NCCL communicator
#endif

}  // namespace lssa
