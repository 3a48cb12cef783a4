// End-to-end data-parallel training on the CPU backend (runtime/comm.h, train_gpt2.cu):
//   - 2 ranks (mpirun, and the TCP communicator with torchrun-style variables) train the same
//     model as one process with the same global batch: the same loss curve, validation losses
//     and final weights within fp32 reduction-order tolerance; with ZeRO-1 too;
//   - each rank saw disjoint windows and together exactly the single process's, in order;
//   - resuming a ZeRO-1 checkpoint with another world size (and the reverse) re-shards and
//     continues the same run;
//   - a rank that dies and a rendezvous that never completes end the job with a clear error
//     within a bounded time (not a hang).
// The single-process reference: --batch 4 --total-batch 256 at T = 32 is 2 micro-batches of 4
// windows; with 2 ranks the same options give each rank 1 micro-batch of its 4 windows of the
// same 8-window global micro-batch (data/loader.h). The command line is identical: only the
// launch differs.
#include <fcntl.h>
#include <gtest/gtest.h>

#include "test/runtime/free_port.h"
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "data/shard.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "runtime/file_io.h"
#include "runtime/rng.h"

using namespace lssa;

namespace {

const std::string kTrain = LSSA_TRAIN_GPT2;  // path of the program under test
#ifdef LSSA_MPIEXEC
const std::string kMpirun = LSSA_MPIEXEC;
#endif

constexpr int kT = 32, kB = 4, kSteps = 4;

std::string g_dir;  // scratch directory of this test binary

// A child process: its own process group (so a timeout can kill mpirun and its ranks), stdout
// and stderr to `log`, launcher variables of the parent removed, `env` added.
pid_t spawn(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    for (const char* v : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID",
                          "SLURM_NTASKS", "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"})
      unsetenv(v);
    for (const std::string& e : env) putenv(strdup(e.c_str()));
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

struct Exit {
  int code = -1;         // exit code; 128 + signal when killed by one; -1 when it ran past the limit
  double seconds = 0;
};

// Waits for pid at most limit_s seconds; past it, kills the process group (the test then fails
// on code == -1 instead of hanging CI). The limit only detects a hang: it is far above any
// normal duration, and no test asserts how long a run took (a busy machine is not a bug).
Exit wait_for(pid_t pid, double limit_s) {
  auto t0 = std::chrono::steady_clock::now();
  Exit e;
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == pid) {
      e.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      return e;
    }
    if (e.seconds > limit_s) {
      kill(-pid, SIGKILL);
      waitpid(pid, &st, 0);
      e.code = -1;
      return e;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}


std::vector<std::string> train_args(const std::string& out, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {kTrain, "--model", "tiny", "--vocab-size", "256", "--seq-len", std::to_string(kT),
                                "--batch", std::to_string(kB), "--total-batch", std::to_string(2 * kB * kT),
                                "--steps", std::to_string(kSteps), "--warmup", "1", "--lr", "1e-3",
                                "--train-data", g_dir + "/train_*.bin", "--val-data", g_dir + "/val_0.bin",
                                "--val-every", "2", "--val-tokens", "2048", "--ckpt-every", "2", "--threads", "1",
                                "--out", out};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

// mpirun -np 2 as root in CI; --oversubscribe: CI machines may have fewer cores than ranks.
[[maybe_unused]] std::vector<std::string> under_mpirun(int np, std::vector<std::string> args) {
#ifdef LSSA_MPIEXEC
  std::vector<std::string> a = {kMpirun, "--allow-run-as-root", "--oversubscribe", "-np", std::to_string(np)};
  a.insert(a.end(), args.begin(), args.end());
  return a;
#else
  (void)np;
  return args;
#endif
}

// Runs one process or mpirun to completion (60 s limit) and checks it succeeded.
[[maybe_unused]] void run_ok(const std::vector<std::string>& args, const std::vector<std::string>& env, const std::string& log) {
  Exit e = wait_for(spawn(args, env, log), 60);
  ASSERT_EQ(e.code, 0) << "command failed; its output:\n" << slurp(log);
}

// Two ranks launched with torchrun-style variables (the TCP communicator).
void run_env_pair(const std::vector<std::string>& args, const std::string& log_prefix, std::vector<std::string> env,
                  Exit* e0, Exit* e1, double limit_s = 60) {
  int port = free_port();
  auto with = [&](int rank) {
    std::vector<std::string> v = env;
    v.insert(v.end(), {"RANK=" + std::to_string(rank), "WORLD_SIZE=2", "LOCAL_RANK=" + std::to_string(rank),
                       "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port)});
    return v;
  };
  pid_t p1 = spawn(args, with(1), log_prefix + ".rank1.log");
  pid_t p0 = spawn(args, with(0), log_prefix + ".rank0.log");
  *e0 = wait_for(p0, limit_s);
  *e1 = wait_for(p1, limit_s);
}

struct RunLog {
  std::vector<double> step_loss, val_loss, norm;
};
RunLog read_log(const std::string& dir) {
  RunLog r;
  std::ifstream f(dir + "/log.jsonl");
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["event"] == "step") {
      r.step_loss.push_back(j["loss"].get<double>());
      r.norm.push_back(j["norm"].get<double>());
    }
    if (j["event"] == "val") r.val_loss.push_back(j["loss"].get<double>());
  }
  return r;
}

// Tolerances. The data-parallel run adds the same per-token terms in another order (per-rank
// partial sums of the weight gradients and of the loss, then the average over ranks), so it
// differs from one process by fp32 rounding only. Measured (tiny model, 4 steps, lr 1e-3):
// loss relative difference ≤ 1.4e-9, max |Δw| 2.3e-7, mean |Δw| 2e-10. Bounds:
//   loss: 1e-7 relative (70× the measured drift; a wrong window or a missing 1/W moves the loss
//         by > 1e-3);
//   weights: Adam normalises each update to ~lr per step, and where a gradient element is near 0
//         its rounding changes m/√v visibly — the max bound is 1% of one step's update (1e-5,
//         40× measured), the mean bound (1e-8) shows such elements are rare. The run moves the
//         weights by ~2.5e-3 (checked: > 100× the max bound), so a step missing on one side fails.
constexpr double kLossRel = 1e-7;
constexpr double kWeightMaxAbs = 1e-5;
constexpr double kWeightMeanAbs = 1e-8;

void expect_same_run(const std::string& ref_dir, const std::string& dir, int from_step = 0) {
  RunLog a = read_log(ref_dir), b = read_log(dir);
  ASSERT_EQ(a.step_loss.size(), (size_t)kSteps);
  ASSERT_EQ(b.step_loss.size(), (size_t)(kSteps - from_step)) << dir;
  for (size_t i = 0; i < b.step_loss.size(); i++)
    EXPECT_NEAR(b.step_loss[i], a.step_loss[i + from_step], kLossRel * std::fabs(a.step_loss[i + from_step]))
        << dir << " step " << i + from_step + 1;
  if (from_step == 0) {
    ASSERT_EQ(a.val_loss.size(), b.val_loss.size());
    for (size_t i = 0; i < a.val_loss.size(); i++)
      EXPECT_NEAR(b.val_loss[i], a.val_loss[i], kLossRel * a.val_loss[i]) << dir << " validation " << i;
  }
  LoadedModel ma = load_model(checkpoint_model_path(ref_dir, kSteps));
  LoadedModel mb = load_model(checkpoint_model_path(dir, kSteps));
  ASSERT_EQ(ma.params.size(), mb.params.size());
  double max_d = 0, sum_d = 0;
  for (size_t i = 0; i < ma.params.size(); i++) {
    double d = std::fabs((double)ma.params[i] - mb.params[i]);
    max_d = std::max(max_d, d);
    sum_d += d;
  }
  std::printf("%s: max |dw| %.3g, mean |dw| %.3g\n", dir.c_str(), max_d, sum_d / ma.params.size());
  EXPECT_LE(max_d, kWeightMaxAbs) << dir;
  EXPECT_LE(sum_d / ma.params.size(), kWeightMeanAbs) << dir;
  // and the run really trained: the weights moved by far more than the tolerance
  std::vector<float> init = gpt2_init_params(ma.cfg, 1337);
  double moved = 0;
  for (size_t i = 0; i < init.size(); i++) moved = std::max(moved, std::fabs((double)init[i] - ma.params[i]));
  EXPECT_GT(moved, 100 * kWeightMaxAbs);
}

// Windows (kT tokens each) from a token log, in order.
std::vector<std::vector<int>> windows_of(const std::string& path) {
  std::vector<uint8_t> raw = read_file(path);
  const int* t = (const int*)raw.data();
  size_t n = raw.size() / sizeof(int) / kT;
  std::vector<std::vector<int>> w(n);
  for (size_t i = 0; i < n; i++) w[i].assign(t + i * kT, t + (i + 1) * kT);
  return w;
}

class DistTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/lssa_dist.XXXXXX";
    g_dir = mkdtemp(tmpl);
    Rng r(7);  // random tokens: every window of the data is distinct
    for (auto [name, n] : {std::pair<const char*, int>{"train_0.bin", 20000}, {"train_1.bin", 15000}, {"val_0.bin", 4096}}) {
      std::vector<uint16_t> tok(n);
      for (auto& t : tok) t = (uint16_t)r.below(256);
      shard_write(g_dir + "/" + name, tok);
    }
    // the single-process reference, with its token log
    Exit e = wait_for(spawn(train_args(g_dir + "/ref"), {"LSSA_TEST_TOKEN_LOG=" + g_dir + "/ref_tokens"},
                            g_dir + "/ref.log"),
                      60);
    ref_ok_ = e.code == 0;
  }
  static void TearDownTestSuite() { std::system(("rm -rf " + g_dir).c_str()); }
  void SetUp() override { ASSERT_TRUE(ref_ok_) << "the single-process reference run failed:\n" << slurp(g_dir + "/ref.log"); }
  static bool ref_ok_;
};
bool DistTrain::ref_ok_ = false;

// Rank r's windows, chunk by chunk of kB, interleaved rank 0, rank 1, … = the single process's.
void expect_disjoint_and_complete(const std::string& prefix) {
  auto ref = windows_of(g_dir + "/ref_tokens.rank0");
  auto w0 = windows_of(prefix + ".rank0"), w1 = windows_of(prefix + ".rank1");
  ASSERT_EQ(ref.size(), (size_t)(2 * kB * kSteps));
  ASSERT_EQ(w0.size(), ref.size() / 2);
  ASSERT_EQ(w1.size(), ref.size() / 2);
  std::set<std::vector<int>> s0(w0.begin(), w0.end());
  for (const auto& w : w1) EXPECT_EQ(s0.count(w), 0u) << "a window was seen by both ranks";
  for (size_t i = 0; i < ref.size(); i++) {
    size_t chunk = i / kB, k = i % kB;
    const auto& got = chunk % 2 == 0 ? w0[(chunk / 2) * kB + k] : w1[(chunk / 2) * kB + k];
    EXPECT_EQ(got, ref[i]) << "window " << i << " of the global order";
  }
}

#ifdef LSSA_MPIEXEC
TEST_F(DistTrain, MpiTwoRanksMatchOneProcess) {
  const std::string out = g_dir + "/mpi";
  run_ok(under_mpirun(2, train_args(out, {"--check-replicas"})), {"LSSA_TEST_TOKEN_LOG=" + g_dir + "/mpi_tokens"},
         g_dir + "/mpi.log");
  expect_same_run(g_dir + "/ref", out);
  expect_disjoint_and_complete(g_dir + "/mpi_tokens");
  EXPECT_NE(slurp(g_dir + "/mpi.log").find("communicator mpi | 2 rank(s), ZeRO-0"), std::string::npos);
}

TEST_F(DistTrain, MpiTwoRanksZero1MatchOneProcess) {
  const std::string out = g_dir + "/mpi_zero";
  run_ok(under_mpirun(2, train_args(out, {"--zero", "1", "--check-replicas"})), {}, g_dir + "/mpi_zero.log");
  expect_same_run(g_dir + "/ref", out);
  // each rank saved its own shard; no whole state file
  EXPECT_TRUE(file_exists(checkpoint_state_shard_path(out, kSteps, 0)));
  EXPECT_TRUE(file_exists(checkpoint_state_shard_path(out, kSteps, 1)));
  EXPECT_FALSE(file_exists(checkpoint_state_path(out, kSteps)));
  // the two shards hold the whole optimizer state of the reference, re-assembled
  LoadedModel m = load_model(checkpoint_model_path(out, kSteps));
  TrainState whole = load_state_range(out, kSteps, m.params.size(), 0, m.params.size());
  TrainState ref = load_state(checkpoint_state_path(g_dir + "/ref", kSteps), m.params.size());
  double max_dm = 0;
  for (size_t i = 0; i < ref.m.size(); i++) max_dm = std::max(max_dm, (double)std::fabs(ref.m[i] - whole.m[i]));
  EXPECT_LE(max_dm, 1e-6);  // m is a gradient average: rounding-level differences only (|m| ~ 1e-2)
  EXPECT_EQ(whole.loader.epoch, ref.loader.epoch);
  EXPECT_EQ(whole.loader.window_pos, ref.loader.window_pos);
}

// ZeRO-1 checkpoint of 2 ranks at step 2 → one process continues to the end (re-sharding), and a
// one-process checkpoint → 2 ranks with ZeRO-1.
TEST_F(DistTrain, ResumeWithAnotherWorldSize) {
  const std::string z = g_dir + "/mpi_zero_src", one = g_dir + "/from_zero";
  run_ok(under_mpirun(2, train_args(z, {"--zero", "1"})), {}, g_dir + "/zsrc.log");
  make_dirs(one);
  for (std::string f : {checkpoint_model_path(z, 2), checkpoint_state_shard_path(z, 2, 0),
                        checkpoint_state_shard_path(z, 2, 1)}) {
    std::vector<uint8_t> b = read_file(f);
    write_file_atomic(one + f.substr(z.size()), b.data(), b.size());
  }
  run_ok(train_args(one, {"--resume"}), {}, g_dir + "/from_zero.log");
  expect_same_run(g_dir + "/ref", one, 2);

  const std::string two = g_dir + "/to_zero";
  make_dirs(two);
  for (std::string f : {checkpoint_model_path(g_dir + "/ref", 2), checkpoint_state_path(g_dir + "/ref", 2)}) {
    std::vector<uint8_t> b = read_file(f);
    write_file_atomic(two + f.substr((g_dir + "/ref").size()), b.data(), b.size());
  }
  run_ok(under_mpirun(2, train_args(two, {"--resume", "--zero", "1", "--check-replicas"})), {}, g_dir + "/to_zero.log");
  expect_same_run(g_dir + "/ref", two, 2);
}

TEST_F(DistTrain, MpiRankThatDiesEndsTheJob) {
  Exit e = wait_for(spawn(under_mpirun(2, train_args(g_dir + "/mpi_dies")), {"LSSA_TEST_KILL=1:3"}, g_dir + "/dies.log"),
                    100);
  EXPECT_NE(e.code, -1) << "the job hung after a rank died";
  EXPECT_NE(e.code, 0);
  EXPECT_NE(slurp(g_dir + "/dies.log").find("signal 9"), std::string::npos) << slurp(g_dir + "/dies.log");
}
#endif

// The TCP communicator: the environment launch of the CPU backend without MPI.
TEST_F(DistTrain, EnvLaunchTwoRanksMatchOneProcess) {
  Exit e0, e1;
  run_env_pair(train_args(g_dir + "/tcp", {"--check-replicas"}), g_dir + "/tcp",
               {"LSSA_TEST_TOKEN_LOG=" + g_dir + "/tcp_tokens"}, &e0, &e1);
  ASSERT_EQ(e0.code, 0) << slurp(g_dir + "/tcp.rank0.log");
  ASSERT_EQ(e1.code, 0) << slurp(g_dir + "/tcp.rank1.log");
  expect_same_run(g_dir + "/ref", g_dir + "/tcp");
  expect_disjoint_and_complete(g_dir + "/tcp_tokens");
  EXPECT_NE(slurp(g_dir + "/tcp.rank0.log").find("communicator tcp"), std::string::npos);
}

TEST_F(DistTrain, EnvLaunchZero1MatchesOneProcess) {
  Exit e0, e1;
  run_env_pair(train_args(g_dir + "/tcp_zero", {"--zero", "1", "--check-replicas"}), g_dir + "/tcp_zero", {}, &e0, &e1);
  ASSERT_EQ(e0.code, 0) << slurp(g_dir + "/tcp_zero.rank0.log");
  ASSERT_EQ(e1.code, 0) << slurp(g_dir + "/tcp_zero.rank1.log");
  expect_same_run(g_dir + "/ref", g_dir + "/tcp_zero");
}

TEST_F(DistTrain, EnvLaunchRankThatDiesEndsTheJob) {
  Exit e0, e1;
  run_env_pair(train_args(g_dir + "/tcp_dies"), g_dir + "/tcp_dies", {"LSSA_TEST_KILL=1:3"}, &e0, &e1, 100);
  EXPECT_EQ(e1.code, 128 + SIGKILL);
  EXPECT_EQ(e0.code, 1) << "rank 0 must fail with an error, not hang (-1) or crash";
  std::string err = slurp(g_dir + "/tcp_dies.rank0.log");
  EXPECT_NE(err.find("error: rank 0: rank 1 closed the connection"), std::string::npos) << err;
}

TEST_F(DistTrain, RendezvousThatNeverCompletesFailsClearly) {
  int port = free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  // rank 0 alone: waits for rank 1, which never comes
  Exit e = wait_for(spawn(train_args(g_dir + "/lonely"),
                          {"RANK=0", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port),
                           "LSSA_RENDEZVOUS_TIMEOUT=2"},
                          g_dir + "/lonely0.log"),
                    100);
  EXPECT_EQ(e.code, 1);
  std::string err = slurp(g_dir + "/lonely0.log");
  EXPECT_NE(err.find("rendezvous timed out after 2s on " + addr), std::string::npos) << err;
  EXPECT_NE(err.find("missing ranks 1"), std::string::npos) << err;
  // rank 1 alone: nobody listens at MASTER_ADDR:MASTER_PORT
  e = wait_for(spawn(train_args(g_dir + "/lonely"),
                     {"RANK=1", "WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + std::to_string(port),
                      "LSSA_RENDEZVOUS_TIMEOUT=2"},
                     g_dir + "/lonely1.log"),
               100);
  EXPECT_EQ(e.code, 1);
  err = slurp(g_dir + "/lonely1.log");
  EXPECT_NE(err.find("could not reach rank 0 at " + addr), std::string::npos) << err;
}

}  // namespace
