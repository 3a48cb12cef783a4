// The TCP rendezvous and the TCP communicator (see comm.h for the picture).
//
// Rendezvous: rank 0 listens on MASTER_ADDR:MASTER_PORT; every other rank connects (retrying
// until the deadline) and sends a hello {magic, rank, world, job key, command-line key}. Rank 0
// checks each hello: a foreign connection (bad magic) is dropped, a process of another job (job
// key differs: a stale rank of an earlier run) is rejected and rank 0 keeps waiting; the same job
// with another command line, another world size or a duplicate rank is a configuration error
// and ends the rendezvous on both sides. When all W−1 ranks are in, rank 0 draws a fresh 16-byte
// nonce (from /dev/urandom) and sends every rank a welcome {nonce, payload}; the payload is rank
// 0's data for everyone (the NCCL unique id, generated for this run: never read from a file, so
// never stale). Every later message carries the nonce, so a connection can never be mistaken
// for one of another run. Deadline passed: one line naming the address and the missing ranks.
//
// TCP communicator: the connections of the rendezvous form a star around rank 0. Reductions:
// every rank sends its buffer to rank 0, which sums in rank order (x0 + x1 + … : deterministic,
// the same bits whatever the timing) and sends the result (or each rank's shard) back. Each
// message has a header {magic, op, sequence number, bytes, nonce} checked on receipt, so ranks
// that disagree about the sequence of collectives fail with one line instead of corrupting data.
// A peer that exits closes its socket: the next read fails at once ("rank r closed the
// connection"); a peer that hangs is caught by LSSA_COMM_TIMEOUT. Meant for CPU-scale traffic.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/comm.h"

namespace lssa {

struct Rendezvous {
  int rank = 0, world = 1;
  std::vector<int> socks;            // rank 0: socket of rank r at [r] ([0] = −1); others: [0] = socket to rank 0
  std::array<uint8_t, 16> nonce{};   // drawn by rank 0 for this run
  std::vector<uint8_t> payload;      // rank 0's data for everyone
  std::string peer_addr;             // "MASTER_ADDR:MASTER_PORT", for messages
};

// Blocks until all ranks are connected or `timeout_s` passed (then throws Error naming the
// address). `payload` is used on rank 0 only.
Rendezvous tcp_rendezvous(const LaunchInfo& li, const std::vector<uint8_t>& payload, double timeout_s);

// Takes over the sockets. op_timeout_s bounds every wait for a peer inside a collective.
std::unique_ptr<Communicator> make_tcp_communicator(const LaunchInfo& li, Rendezvous&& rv, double op_timeout_s);

// Closes the sockets of a rendezvous not handed to a communicator (the NCCL bootstrap).
void close_rendezvous(Rendezvous& rv);

}  // namespace lssa
