// TCP rendezvous and star communicator; protocol in comm_tcp.h.
#include "runtime/comm_tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <thread>

#include "runtime/error.h"

namespace lssa {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_left(Clock::time_point deadline) {
  return std::chrono::duration<double>(deadline - Clock::now()).count();
}

Clock::time_point deadline_in(double s) {
  return Clock::now() + std::chrono::microseconds((int64_t)(s * 1e6));
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

void tune_socket(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);  // a peer whose node vanished is noticed
}

// Waits until fd is ready for `events`; false when the deadline passed first.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    double left = seconds_left(deadline);
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int ms = (int)std::min(left * 1000.0 + 1, 1000.0);
    int r = ::poll(&p, 1, ms);
    if (r > 0) return true;
    if (r < 0 && errno != EINTR) return true;  // let the following read/write report the error
  }
}

// What a failing read or write says: who the peer is and during what.
struct Peer {
  int fd;
  std::string who;   // e.g. "rank 1" or "rank 0 at 127.0.0.1:29500"
  std::string what;  // e.g. "all_reduce #12"
};

[[noreturn]] void peer_closed(const Peer& p) {
  fail(strfmt("%s closed the connection during %s: that process exited or crashed (see its output); ending the job",
              p.who.c_str(), p.what.c_str()));
}

[[noreturn]] void peer_timeout(const Peer& p, const char* knob) {
  fail(strfmt("%s sent nothing for the %s timeout during %s: it hangs or is far slower; ending the job", p.who.c_str(),
              knob, p.what.c_str()));
}

void send_all(const Peer& p, const void* data, size_t n, Clock::time_point deadline, const char* knob) {
  const char* c = (const char*)data;
  while (n > 0) {
    ssize_t k = ::send(p.fd, c, n, MSG_NOSIGNAL);
    if (k > 0) {
      c += k;
      n -= (size_t)k;
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_fd(p.fd, POLLOUT, deadline)) peer_timeout(p, knob);
    } else {
      peer_closed(p);
    }
  }
}

void recv_all(const Peer& p, void* data, size_t n, Clock::time_point deadline, const char* knob) {
  char* c = (char*)data;
  while (n > 0) {
    ssize_t k = ::recv(p.fd, c, n, 0);
    if (k > 0) {
      c += k;
      n -= (size_t)k;
    } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      if (!wait_fd(p.fd, POLLIN, deadline)) peer_timeout(p, knob);
    } else {
      peer_closed(p);
    }
  }
}

sockaddr_in resolve(const std::string& host, int port) {
  addrinfo hints{}, *res = nullptr;
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || !res)
    fail(strfmt("MASTER_ADDR '%s' does not resolve to an IPv4 address: %s", host.c_str(), ::gai_strerror(rc)));
  sockaddr_in a = *(const sockaddr_in*)res->ai_addr;
  ::freeaddrinfo(res);
  a.sin_port = htons((uint16_t)port);
  return a;
}

std::array<uint8_t, 16> fresh_nonce() {
  std::array<uint8_t, 16> n{};
  FILE* f = std::fopen("/dev/urandom", "rb");
  if (!f || std::fread(n.data(), 1, n.size(), f) != n.size()) {
    std::random_device rd;  // /dev/urandom unreadable: the OS's other entropy source
    for (auto& b : n) b = (uint8_t)rd();
  }
  if (f) std::fclose(f);
  return n;
}

constexpr char kHelloMagic[8] = {'L', 'S', 'S', 'A', 'R', 'D', 'Z', '1'};
constexpr char kWelcomeMagic[8] = {'L', 'S', 'S', 'A', 'W', 'E', 'L', 'C'};
constexpr char kRejectMagic[8] = {'L', 'S', 'S', 'A', 'R', 'E', 'J', 'T'};

struct Hello {
  char magic[8];
  uint32_t rank, world;
  uint64_t job_key, args_key;
};

void send_reject(int fd, const std::string& why) {
  uint32_t len = (uint32_t)why.size();
  Peer p{fd, "a rejected process", "rendezvous"};
  auto d = deadline_in(2.0);
  try {
    send_all(p, kRejectMagic, 8, d, "rendezvous");
    send_all(p, &len, 4, d, "rendezvous");
    send_all(p, why.data(), why.size(), d, "rendezvous");
  } catch (const Error&) {
    // the rejected process is gone already: nothing to tell it
  }
}

Rendezvous rendezvous_rank0(const LaunchInfo& li, const std::vector<uint8_t>& payload, double timeout_s) {
  const std::string addr = strfmt("%s:%d", li.master_addr.c_str(), li.master_port);
  Rendezvous rv;
  rv.rank = 0;
  rv.world = li.world;
  rv.peer_addr = addr;
  rv.socks.assign(li.world, -1);
  int lfd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (lfd < 0) fail(strfmt("rendezvous: cannot create a socket: %s", std::strerror(errno)));
  int one = 1;
  ::setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // a restart right after a run may reuse the port
  sockaddr_in a = resolve(li.master_addr, li.master_port);
  int rc = ::bind(lfd, (sockaddr*)&a, sizeof a);
  if (rc != 0 && errno == EADDRNOTAVAIL) {
    a.sin_addr.s_addr = htonl(INADDR_ANY);  // MASTER_ADDR names this host by an address it cannot bind
    rc = ::bind(lfd, (sockaddr*)&a, sizeof a);
  }
  if (rc != 0 || ::listen(lfd, li.world) != 0) {
    int e = errno;
    ::close(lfd);
    fail(strfmt("rank 0 cannot listen on %s (MASTER_ADDR:MASTER_PORT): %s", addr.c_str(), std::strerror(e)));
  }
  set_nonblocking(lfd);
  const auto deadline = deadline_in(timeout_s);
  int connected = 0;
  std::string rejected;  // last rejection, for the timeout message
  auto cleanup_fail = [&](const std::string& msg) {
    ::close(lfd);
    close_rendezvous(rv);
    fail(msg);
  };
  while (connected < li.world - 1) {
    if (!wait_fd(lfd, POLLIN, deadline)) {
      std::string missing;
      for (int r = 1; r < li.world; r++)
        if (rv.socks[r] < 0) missing += (missing.empty() ? "" : ",") + std::to_string(r);
      cleanup_fail(strfmt("rendezvous timed out after %gs on %s: %d of %d ranks arrived (missing ranks %s)%s%s; "
                          "check that every rank runs with the same MASTER_ADDR/MASTER_PORT/WORLD_SIZE "
                          "(LSSA_RENDEZVOUS_TIMEOUT sets the wait)",
                          timeout_s, addr.c_str(), connected + 1, li.world, missing.c_str(),
                          rejected.empty() ? "" : "; rejected: ", rejected.c_str()));
    }
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) continue;
    set_nonblocking(fd);
    tune_socket(fd);
    Hello h{};
    Peer p{fd, "a connecting process", "rendezvous"};
    try {
      recv_all(p, &h, sizeof h, std::min(deadline, deadline_in(5.0)), "rendezvous");
    } catch (const Error&) {
      ::close(fd);  // connected but said nothing valid: not one of ours
      continue;
    }
    if (std::memcmp(h.magic, kHelloMagic, 8) != 0) {
      ::close(fd);  // a foreign program on this port
      continue;
    }
    std::string why;
    if (h.job_key != li.job_key)
      why = strfmt("a process claiming rank %u belongs to another job (a stale rank of an earlier run?)", h.rank);
    if (!why.empty()) {
      send_reject(fd, why);
      ::close(fd);
      rejected = why;
      continue;
    }
    if (h.world != (uint32_t)li.world)
      why = strfmt("rank %u runs with WORLD_SIZE=%u, rank 0 with %d", h.rank, h.world, li.world);
    else if (h.rank == 0 || h.rank >= (uint32_t)li.world)
      why = strfmt("a process claims rank %u, outside 1..%d", h.rank, li.world - 1);
    else if (rv.socks[h.rank] >= 0)
      why = strfmt("two processes claim rank %u", h.rank);
    else if (h.args_key != li.args_key)
      why = strfmt("rank %u runs a different command line than rank 0 (every rank needs the same options)", h.rank);
    if (!why.empty()) {
      send_reject(fd, why);
      ::close(fd);
      cleanup_fail("rendezvous on " + addr + ": " + why);
    }
    rv.socks[h.rank] = fd;
    connected++;
  }
  ::close(lfd);
  rv.nonce = fresh_nonce();
  rv.payload = payload;
  uint32_t len = (uint32_t)payload.size();
  for (int r = 1; r < li.world; r++) {
    Peer p{rv.socks[r], strfmt("rank %d", r), "rendezvous"};
    auto d = deadline_in(std::max(seconds_left(deadline), 5.0));
    send_all(p, kWelcomeMagic, 8, d, "LSSA_RENDEZVOUS_TIMEOUT");
    send_all(p, rv.nonce.data(), 16, d, "LSSA_RENDEZVOUS_TIMEOUT");
    send_all(p, &len, 4, d, "LSSA_RENDEZVOUS_TIMEOUT");
    send_all(p, payload.data(), payload.size(), d, "LSSA_RENDEZVOUS_TIMEOUT");
  }
  return rv;
}

Rendezvous rendezvous_rank_n(const LaunchInfo& li, double timeout_s) {
  const std::string addr = strfmt("%s:%d", li.master_addr.c_str(), li.master_port);
  Rendezvous rv;
  rv.rank = li.rank;
  rv.world = li.world;
  rv.peer_addr = addr;
  rv.socks.assign(1, -1);
  const auto deadline = deadline_in(timeout_s);
  const sockaddr_in a = resolve(li.master_addr, li.master_port);
  std::string last_error = "no answer";
  int fd = -1;
  while (fd < 0) {
    if (seconds_left(deadline) <= 0)
      fail(strfmt("rendezvous timed out after %gs: rank %d could not reach rank 0 at %s (MASTER_ADDR:MASTER_PORT): "
                  "%s; is rank 0 running, and is the address right? (LSSA_RENDEZVOUS_TIMEOUT sets the wait)",
                  timeout_s, li.rank, addr.c_str(), last_error.c_str()));
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) fail(strfmt("rendezvous: cannot create a socket: %s", std::strerror(errno)));
    set_nonblocking(s);
    int rc = ::connect(s, (const sockaddr*)&a, sizeof a);
    if (rc != 0 && errno == EINPROGRESS) {
      if (wait_fd(s, POLLOUT, std::min(deadline, deadline_in(2.0)))) {
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
        rc = err == 0 ? 0 : -1;
        errno = err;
      } else {
        errno = ETIMEDOUT;
      }
    }
    if (rc == 0) {
      fd = s;
    } else {
      last_error = std::strerror(errno);
      ::close(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // rank 0 may not listen yet
    }
  }
  tune_socket(fd);
  rv.socks[0] = fd;
  Peer p{fd, "rank 0 at " + addr, "the rendezvous"};
  Hello h{};
  std::memcpy(h.magic, kHelloMagic, 8);
  h.rank = (uint32_t)li.rank;
  h.world = (uint32_t)li.world;
  h.job_key = li.job_key;
  h.args_key = li.args_key;
  char magic[8];
  uint32_t len = 0;
  try {
    send_all(p, &h, sizeof h, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
    recv_all(p, magic, 8, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
    if (std::memcmp(magic, kRejectMagic, 8) == 0) {
      recv_all(p, &len, 4, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
      std::string why(std::min<uint32_t>(len, 4096), '\0');
      recv_all(p, why.data(), why.size(), deadline, "LSSA_RENDEZVOUS_TIMEOUT");
      fail("rank 0 at " + addr + " refused rank " + std::to_string(li.rank) + ": " + why);
    }
    if (std::memcmp(magic, kWelcomeMagic, 8) != 0)
      fail(strfmt("%s is not a train_gpt2 rank 0 (unexpected answer to the rendezvous)", addr.c_str()));
    recv_all(p, rv.nonce.data(), 16, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
    recv_all(p, &len, 4, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
    if (len > (1u << 20)) fail(strfmt("rendezvous: rank 0 at %s sent a malformed welcome", addr.c_str()));
    rv.payload.resize(len);
    recv_all(p, rv.payload.data(), len, deadline, "LSSA_RENDEZVOUS_TIMEOUT");
  } catch (const Error&) {
    close_rendezvous(rv);
    throw;
  }
  return rv;
}

// ---- the star communicator ----

enum Op : uint32_t { kAllReduce = 1, kReduceScatter, kAllGather, kBroadcast, kSum, kBarrier };
const char* op_name(uint32_t op) {
  switch (op) {
    case kAllReduce: return "all_reduce_mean";
    case kReduceScatter: return "reduce_scatter";
    case kAllGather: return "all_gather";
    case kBroadcast: return "broadcast";
    case kSum: return "all_reduce_sum";
    case kBarrier: return "barrier";
  }
  return "?";
}

struct MsgHeader {
  uint32_t magic;  // kMsgMagic
  uint32_t op;
  uint64_t seq;    // collectives so far on this communicator
  uint64_t bytes;  // payload
  uint8_t nonce[16];
};
constexpr uint32_t kMsgMagic = 0x4F43534C;  // "LSCO"

template <typename E>
void add_into(E* acc, const E* x, size_t n) {
  for (size_t i = 0; i < n; i++) acc[i] += x[i];
}
template <typename E>
void divide(E* x, size_t n, int w) {
  for (size_t i = 0; i < n; i++) x[i] /= (E)w;
}

class TcpComm final : public Communicator {
 public:
  TcpComm(const LaunchInfo& li, Rendezvous&& rv, double op_timeout_s) : rv_(std::move(rv)), timeout_(op_timeout_s) {
    rank_ = li.rank;
    world_ = li.world;
    local_rank_ = li.local_rank;
  }
  ~TcpComm() override { close_rendezvous(rv_); }
  const char* name() const override { return "tcp"; }

  void all_reduce_mean(const CommBuffer& b) override {
    check(b, true, "all_reduce_mean");
    const uint64_t seq = seq_++;
    const size_t bytes = b.count * dtype_size(b.dtype);
    if (rank_ == 0) {
      reduce_at_root(b, kAllReduce, seq, true);
      for (int r = 1; r < world_; r++) send_msg(r, kAllReduce, seq, b.data, bytes);
    } else {
      send_msg(0, kAllReduce, seq, b.data, bytes);
      recv_msg(0, kAllReduce, seq, b.data, bytes);
    }
  }

  void reduce_scatter_mean(const CommBuffer& b) override {
    check(b, true, "reduce_scatter_mean");
    const uint64_t seq = seq_++;
    const size_t es = dtype_size(b.dtype);
    char* base = (char*)b.data;
    if (rank_ == 0) {
      reduce_at_root(b, kReduceScatter, seq, true);
      for (int r = 1; r < world_; r++) {
        ShardRange s = shard_range(b.count, world_, r);
        send_msg(r, kReduceScatter, seq, base + s.begin * es, s.size() * es);
      }
    } else {
      ShardRange s = shard_range(b.count, world_, rank_);
      send_msg(0, kReduceScatter, seq, b.data, b.count * es);
      recv_msg(0, kReduceScatter, seq, base + s.begin * es, s.size() * es);
    }
  }

  void all_gather(const CommBuffer& b) override {
    check(b, false, "all_gather");
    const uint64_t seq = seq_++;
    const size_t es = dtype_size(b.dtype);
    char* base = (char*)b.data;
    if (rank_ == 0) {
      for (int r = 1; r < world_; r++) {
        ShardRange s = shard_range(b.count, world_, r);
        recv_msg(r, kAllGather, seq, base + s.begin * es, s.size() * es);
      }
      for (int r = 1; r < world_; r++) send_msg(r, kAllGather, seq, base, b.count * es);
    } else {
      ShardRange s = shard_range(b.count, world_, rank_);
      send_msg(0, kAllGather, seq, base + s.begin * es, s.size() * es);
      recv_msg(0, kAllGather, seq, base, b.count * es);
    }
  }

  void broadcast(const CommBuffer& b, int root) override {
    check(b, false, "broadcast");
    if (root < 0 || root >= world_) fail(strfmt("broadcast: root %d outside 0..%d", root, world_ - 1));
    const uint64_t seq = seq_++;
    const size_t bytes = b.count * dtype_size(b.dtype);
    if (rank_ == 0) {
      if (root != 0) recv_msg(root, kBroadcast, seq, b.data, bytes);
      for (int r = 1; r < world_; r++)
        if (r != root) send_msg(r, kBroadcast, seq, b.data, bytes);
    } else if (rank_ == root) {
      send_msg(0, kBroadcast, seq, b.data, bytes);
    } else {
      recv_msg(0, kBroadcast, seq, b.data, bytes);
    }
  }

  void all_reduce_sum(double* v, int count) override {
    CommBuffer b{v, (size_t)count, DType::F64, MemSpace::Host};
    const uint64_t seq = seq_++;
    if (rank_ == 0) {
      reduce_at_root(b, kSum, seq, false);
      for (int r = 1; r < world_; r++) send_msg(r, kSum, seq, v, count * 8);
    } else {
      send_msg(0, kSum, seq, v, count * 8);
      recv_msg(0, kSum, seq, v, count * 8);
    }
  }

  void barrier() override {
    const uint64_t seq = seq_++;
    if (rank_ == 0) {
      for (int r = 1; r < world_; r++) recv_msg(r, kBarrier, seq, nullptr, 0);
      for (int r = 1; r < world_; r++) send_msg(r, kBarrier, seq, nullptr, 0);
    } else {
      send_msg(0, kBarrier, seq, nullptr, 0);
      recv_msg(0, kBarrier, seq, nullptr, 0);
    }
  }

 private:
  void check(const CommBuffer& b, bool reduce, const char* what) const {
    if (b.mem != MemSpace::Host)
      fail(strfmt("%s: the tcp communicator handles host memory only (GPU runs use NCCL)", what));
    if (reduce && b.dtype != DType::F32 && b.dtype != DType::F64)
      fail(strfmt("%s: the tcp communicator reduces fp32/fp64 only, got %s", what, dtype_name(b.dtype)));
  }

  // Root: b ← x0 + x1 + … + x_{W−1} (rank order), divided by W when mean.
  void reduce_at_root(const CommBuffer& b, uint32_t op, uint64_t seq, bool mean) {
    const size_t bytes = b.count * dtype_size(b.dtype);
    tmp_.resize(bytes);
    for (int r = 1; r < world_; r++) {
      recv_msg(r, op, seq, tmp_.data(), bytes);
      if (b.dtype == DType::F32) add_into((float*)b.data, (const float*)tmp_.data(), b.count);
      else add_into((double*)b.data, (const double*)tmp_.data(), b.count);
    }
    if (!mean) return;
    if (b.dtype == DType::F32) divide((float*)b.data, b.count, world_);
    else divide((double*)b.data, b.count, world_);
  }

  Peer peer(int r, uint32_t op, uint64_t seq) const {
    std::string who = r == 0 ? "rank 0 at " + rv_.peer_addr : strfmt("rank %d", r);
    return Peer{rv_.socks[r], who, strfmt("%s #%llu", op_name(op), (unsigned long long)seq)};
  }

  void send_msg(int r, uint32_t op, uint64_t seq, const void* data, size_t bytes) {
    MsgHeader h{kMsgMagic, op, seq, bytes, {}};
    std::memcpy(h.nonce, rv_.nonce.data(), 16);
    Peer p = peer(r, op, seq);
    auto d = deadline_in(timeout_);
    send_all(p, &h, sizeof h, d, "LSSA_COMM_TIMEOUT");
    send_all(p, data, bytes, d, "LSSA_COMM_TIMEOUT");
  }

  void recv_msg(int r, uint32_t op, uint64_t seq, void* data, size_t bytes) {
    MsgHeader h{};
    Peer p = peer(r, op, seq);
    auto d = deadline_in(timeout_);
    recv_all(p, &h, sizeof h, d, "LSSA_COMM_TIMEOUT");
    if (h.magic != kMsgMagic || std::memcmp(h.nonce, rv_.nonce.data(), 16) != 0)
      fail(strfmt("%s sent a message that is not from this run during %s", p.who.c_str(), p.what.c_str()));
    if (h.op != op || h.seq != seq || h.bytes != bytes)
      fail(strfmt("ranks disagree on the collectives: %s sent %s #%llu (%llu bytes) while this rank (%d) expects "
                  "%s (%zu bytes)",
                  p.who.c_str(), op_name(h.op), (unsigned long long)h.seq, (unsigned long long)h.bytes, rank_,
                  p.what.c_str(), bytes));
    recv_all(p, data, bytes, d, "LSSA_COMM_TIMEOUT");
  }

  Rendezvous rv_;
  double timeout_;
  uint64_t seq_ = 0;
  std::vector<char> tmp_;
};

}  // namespace

Rendezvous tcp_rendezvous(const LaunchInfo& li, const std::vector<uint8_t>& payload, double timeout_s) {
  if (li.world < 2) fail("tcp_rendezvous needs a world size of at least 2");
  if (li.master_addr.empty() || li.master_port <= 0)
    fail("the rendezvous needs MASTER_ADDR and MASTER_PORT (rank 0's address and a free port)");
  return li.rank == 0 ? rendezvous_rank0(li, payload, timeout_s) : rendezvous_rank_n(li, timeout_s);
}

std::unique_ptr<Communicator> make_tcp_communicator(const LaunchInfo& li, Rendezvous&& rv, double op_timeout_s) {
  return std::make_unique<TcpComm>(li, std::move(rv), op_timeout_s);
}

void close_rendezvous(Rendezvous& rv) {
  for (int& fd : rv.socks)
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
}

}  // namespace lssa
