// Communicators without MPI: shards, launch detection from the environment, the TCP rendezvous
// (timeouts, stale and misconfigured ranks) and the TCP communicator's collectives, with the
// ranks as threads of this process on loopback.
#include <gtest/gtest.h>

#include "test/runtime/free_port.h"
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <thread>

#include "runtime/comm.h"
#include "runtime/comm_tcp.h"
#include "runtime/error.h"
#include "test/runtime/comm_checks.h"

using namespace lssa;

namespace {

using Env = std::map<std::string, std::string>;
const char* env_lookup(const char* name, void* ctx) {
  auto& e = *(Env*)ctx;
  auto it = e.find(name);
  return it == e.end() ? nullptr : it->second.c_str();
}
LaunchInfo launch(Env e, std::vector<const char*> argv = {"train_gpt2", "--steps", "3"}) {
  return launch_from_env(env_lookup, &e, (int)argv.size(), argv.data());
}
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}


Env torchrun(int rank, int world, int port) {
  return {{"RANK", std::to_string(rank)}, {"WORLD_SIZE", std::to_string(world)}, {"MASTER_ADDR", "127.0.0.1"},
          {"MASTER_PORT", std::to_string(port)}};
}

TEST(ShardRange, CoversTheBufferContiguouslyAndEvenly) {
  for (size_t n : {0, 1, 7, 10, 124475904}) {
    for (int W : {1, 2, 3, 8}) {
      size_t next = 0, lo = SIZE_MAX, hi = 0;
      for (int r = 0; r < W; r++) {
        ShardRange s = shard_range(n, W, r);
        EXPECT_EQ(s.begin, next);
        next = s.end;
        lo = std::min(lo, s.size());
        hi = std::max(hi, s.size());
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(hi - lo, 1u);
    }
  }
  EXPECT_EQ(shard_range(124475904, 8, 3).size(), 124475904u / 8);  // GPT-2 124M (Vp) splits evenly over 8 GPUs
}

TEST(Launch, SingleProcessWithoutVariables) {
  LaunchInfo li = launch({});
  EXPECT_EQ(li.kind, LaunchInfo::Kind::Single);
  EXPECT_EQ(li.world, 1);
}

TEST(Launch, TorchrunVariables) {
  LaunchInfo li = launch({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.1"},
                          {"MASTER_PORT", "29500"}});
  EXPECT_EQ(li.kind, LaunchInfo::Kind::Env);
  EXPECT_EQ(li.rank, 3);
  EXPECT_EQ(li.world, 8);
  EXPECT_EQ(li.local_rank, 1);
  EXPECT_EQ(li.master_addr, "10.0.0.1");
  EXPECT_EQ(li.master_port, 29500);
}

TEST(Launch, SlurmVariablesPreferTheStepTaskCount) {
  LaunchInfo li = launch({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "32"}, {"SLURM_STEP_NUM_TASKS", "16"},
                          {"SLURM_LOCALID", "5"}, {"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(li.rank, 5);
  EXPECT_EQ(li.world, 16);
  EXPECT_EQ(li.local_rank, 5);
  EXPECT_EQ(li.source, "Slurm environment");
}

TEST(Launch, ErrorsNameTheVariable) {
  EXPECT_NE(error_of([] { launch({{"RANK", "0"}, {"WORLD_SIZE", "2"}}); }).find("MASTER_ADDR and MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(error_of([] { launch({{"RANK", "2"}, {"WORLD_SIZE", "2"}}); }).find("RANK=2"), std::string::npos);
  EXPECT_NE(error_of([] { launch({{"RANK", "x"}, {"WORLD_SIZE", "2"}}); }).find("RANK=x"), std::string::npos);
  EXPECT_NE(error_of([] { launch(torchrun(0, 2, 70000)); }).find("MASTER_PORT=70000"), std::string::npos);
  EXPECT_NE(error_of([] { launch({{"WORLD_SIZE", "2"}}); }).find("must be set together"), std::string::npos);
  EXPECT_NE(error_of([] { launch({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}}); }).find("scontrol"),
            std::string::npos);
}

TEST(Launch, JobAndCommandLineKeys) {
  LaunchInfo a = launch(torchrun(0, 2, 29500)), b = launch(torchrun(1, 2, 29500));
  EXPECT_EQ(a.job_key, b.job_key);
  EXPECT_EQ(a.args_key, b.args_key);
  Env other = torchrun(1, 2, 29500);
  other["TORCHELASTIC_RUN_ID"] = "another-job";
  EXPECT_NE(launch(other).job_key, a.job_key);
  EXPECT_NE(launch(torchrun(1, 2, 29500), {"train_gpt2", "--steps", "4"}).args_key, a.args_key);
}

// Runs fn(rank) for each rank in its own thread; returns each rank's error ("" = none).
std::vector<std::string> run_ranks(int W, const std::function<void(int)>& fn) {
  std::vector<std::string> err(W);
  std::vector<std::thread> th;
  for (int r = 0; r < W; r++)
    th.emplace_back([&, r] { err[r] = error_of([&] { fn(r); }); });
  for (auto& t : th) t.join();
  return err;
}

TEST(TcpComm, CollectivesOverThreeRanks) {
  const int W = 3, port = free_port();
  auto err = run_ranks(W, [&](int r) {
    LaunchInfo li = launch(torchrun(r, W, port));
    Rendezvous rv = tcp_rendezvous(li, {1, 2, 3}, 20);
    EXPECT_EQ(rv.payload, (std::vector<uint8_t>{1, 2, 3}));  // rank 0's payload reached everyone
    auto c = make_tcp_communicator(li, std::move(rv), 20);
    check_collectives<float>(*c, DType::F32);
    check_collectives<double>(*c, DType::F64);
  });
  for (int r = 0; r < W; r++) EXPECT_EQ(err[r], "") << "rank " << r;
}

TEST(TcpComm, RankZeroAloneTimesOutNamingTheAddressAndMissingRank) {
  const int port = free_port();
  auto t0 = std::chrono::steady_clock::now();
  std::string e = error_of([&] { tcp_rendezvous(launch(torchrun(0, 3, port)), {}, 1.0); });
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(e.find("rendezvous timed out after 1s on 127.0.0.1:" + std::to_string(port)), std::string::npos) << e;
  EXPECT_NE(e.find("missing ranks 1,2"), std::string::npos) << e;
  EXPECT_LT(s, 5.0);
}

TEST(TcpComm, RankWithoutRankZeroTimesOutNamingTheAddress) {
  const int port = free_port();
  std::string e = error_of([&] { tcp_rendezvous(launch(torchrun(1, 2, port)), {}, 1.0); });
  EXPECT_NE(e.find("could not reach rank 0 at 127.0.0.1:" + std::to_string(port)), std::string::npos) << e;
}

// A process of another job (a stale rank of an earlier run) is turned away; the real rank joins.
TEST(TcpComm, StaleRankOfAnotherJobIsRejected) {
  const int port = free_port();
  std::string stale_err, ok_err;
  std::thread root([&] {
    ok_err = error_of([&] {
      Rendezvous rv = tcp_rendezvous(launch(torchrun(0, 2, port)), {42}, 20);
      close_rendezvous(rv);
    });
  });
  Env stale = torchrun(1, 2, port);
  stale["LSSA_RUN_ID"] = "an-earlier-run";
  stale_err = error_of([&] { tcp_rendezvous(launch(stale), {}, 20); });
  Rendezvous rv;
  std::string real_err = error_of([&] { rv = tcp_rendezvous(launch(torchrun(1, 2, port)), {}, 20); });
  root.join();
  EXPECT_NE(stale_err.find("belongs to another job"), std::string::npos) << stale_err;
  EXPECT_EQ(real_err, "");
  EXPECT_EQ(ok_err, "");
  EXPECT_EQ(rv.payload, std::vector<uint8_t>{42});
  close_rendezvous(rv);
}

TEST(TcpComm, DifferentCommandLinesEndTheRendezvous) {
  const int port = free_port();
  std::string e0, e1;
  std::thread root([&] { e0 = error_of([&] { tcp_rendezvous(launch(torchrun(0, 2, port)), {}, 20); }); });
  e1 = error_of([&] { tcp_rendezvous(launch(torchrun(1, 2, port), {"train_gpt2", "--steps", "9"}), {}, 20); });
  root.join();
  EXPECT_NE(e0.find("different command line"), std::string::npos) << e0;
  EXPECT_NE(e1.find("different command line"), std::string::npos) << e1;
}

// A rank that goes away (its sockets close) makes the others fail at once with one line.
TEST(TcpComm, PeerThatExitsIsReportedNotWaitedFor) {
  const int port = free_port();
  auto t0 = std::chrono::steady_clock::now();
  auto err = run_ranks(2, [&](int r) {
    LaunchInfo li = launch(torchrun(r, 2, port));
    auto c = make_tcp_communicator(li, tcp_rendezvous(li, {}, 20), 600);
    if (r == 1) return;  // leaves: the communicator closes its socket
    double v = 1;
    c->all_reduce_sum(&v, 1);
  });
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(err[0].find("rank 1 closed the connection during all_reduce_sum #0"), std::string::npos) << err[0];
  EXPECT_LT(s, 10.0);
}

TEST(TcpComm, MismatchedCollectivesAreDetected) {
  const int port = free_port();
  auto err = run_ranks(2, [&](int r) {
    LaunchInfo li = launch(torchrun(r, 2, port));
    auto c = make_tcp_communicator(li, tcp_rendezvous(li, {}, 20), 20);
    if (r == 0) {
      double v = 1;
      c->all_reduce_sum(&v, 1);
    } else {
      c->barrier();
    }
  });
  EXPECT_NE(err[0].find("ranks disagree on the collectives"), std::string::npos) << err[0];
}

// One rank never builds an NCCL communicator (no libnccl, no bootstrap for a one-GPU run);
// N ranks on GPUs need NCCL; host memory picks MPI only under an MPI launch of an MPI build.
TEST(CommChoice, OneRankIsSingleWhateverTheMemory) {
  const LaunchInfo one{};
  for (bool nccl : {false, true})
    for (bool mpi : {false, true}) {
      EXPECT_STREQ(communicator_choice(one, MemSpace::Device, nccl, mpi), "single");
      EXPECT_STREQ(communicator_choice(one, MemSpace::Host, nccl, mpi), "single");
    }
  EXPECT_STREQ(make_communicator(one, MemSpace::Device)->name(), "single");
  LaunchInfo eight = launch(torchrun(3, 8, 29500));
  EXPECT_STREQ(communicator_choice(eight, MemSpace::Device, true, false), "nccl");
  EXPECT_THROW(communicator_choice(eight, MemSpace::Device, false, true), Error);
  EXPECT_STREQ(communicator_choice(eight, MemSpace::Host, true, true), "tcp");  // env launch: tcp even with MPI
  LaunchInfo mpi = eight;
  mpi.kind = LaunchInfo::Kind::Mpi;
  EXPECT_STREQ(communicator_choice(mpi, MemSpace::Host, false, true), "mpi");
  EXPECT_STREQ(communicator_choice(mpi, MemSpace::Host, false, false), "tcp");
}

// Each rank of a node gets its own GPU from LOCAL_RANK (DeviceContext opens the current device);
// more ranks than GPUs share them round-robin.
TEST(CommChoice, LocalRankPicksTheGpu) {
  for (int r = 0; r < 8; r++) {
    LaunchInfo li = launch({{"RANK", std::to_string(r)}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", std::to_string(r)},
                            {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}});
    EXPECT_EQ(local_gpu_ordinal(li, 8), r);
    EXPECT_EQ(local_gpu_ordinal(li, 4), r % 4);
    EXPECT_EQ(local_gpu_ordinal(li, 0), -1);
  }
}

TEST(SingleComm, IsTheIdentity) {
  auto c = make_communicator(LaunchInfo{}, MemSpace::Host);
  EXPECT_STREQ(c->name(), "single");
  check_collectives<float>(*c, DType::F32);
}

}  // namespace
