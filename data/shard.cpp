#include "data/shard.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace lssa {

namespace {
struct Fd {
  int fd;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDONLY)) {
    if (fd < 0) fail(strfmt("cannot open shard %s: %s", path.c_str(), std::strerror(errno)));
  }
  ~Fd() { ::close(fd); }
};

void pread_all(int fd, void* buf, size_t bytes, int64_t off, const std::string& path) {
  char* p = (char*)buf;
  while (bytes > 0) {
    ssize_t n = ::pread(fd, p, bytes, off);
    if (n <= 0) fail(strfmt("shard %s: short read at byte %lld", path.c_str(), (long long)off));
    p += n;
    off += n;
    bytes -= n;
  }
}
}  // namespace

int64_t shard_token_count(const std::string& path) {
  int64_t size = file_size(path);
  if (size < 0) fail(strfmt("shard %s does not exist", path.c_str()));
  if (is_directory(path)) fail(strfmt("shard %s is a directory, not a token shard file", path.c_str()));
  if (size == 0) fail(strfmt("shard %s is empty", path.c_str()));
  if (size < kShardHeaderBytes)
    fail(strfmt("shard %s is truncated: %lld bytes, smaller than the 1024-byte header", path.c_str(),
                (long long)size));
  Fd f(path);
  int32_t header[256];
  pread_all(f.fd, header, sizeof header, 0, path);
  if (header[0] != kShardMagic)
    fail(strfmt("shard %s has wrong magic %d (expected %d): not an llm.c token shard", path.c_str(),
                header[0], kShardMagic));
  if (header[1] != kShardVersion)
    fail(strfmt("shard %s has unsupported version %d (expected %d)", path.c_str(), header[1],
                kShardVersion));
  int64_t n = (uint32_t)header[2];
  int64_t expect = kShardHeaderBytes + 2 * n;
  if (size != expect)
    fail(strfmt("shard %s is %s: header says %lld tokens (%lld bytes) but the file has %lld bytes",
                path.c_str(), size < expect ? "truncated" : "malformed", (long long)n,
                (long long)expect, (long long)size));
  if (n == 0) fail(strfmt("shard %s holds no tokens", path.c_str()));
  return n;
}

int32_t shard_tokenizer_tag(const std::string& path) {
  Fd f(path);
  int32_t header[4];
  pread_all(f.fd, header, sizeof header, 0, path);
  return header[3];
}

void shard_read_tokens(const std::string& path, int64_t offset, int64_t count, int32_t* out) {
  Fd f(path);
  std::vector<uint16_t> buf(count);
  pread_all(f.fd, buf.data(), 2 * count, kShardHeaderBytes + 2 * offset, path);
  for (int64_t i = 0; i < count; i++) out[i] = buf[i];
}

void shard_check_vocab(const std::string& path, int vocab) {
  const int64_t n = shard_token_count(path);
  Fd f(path);
  std::vector<uint16_t> buf(1 << 20);
  for (int64_t at = 0; at < n; at += (int64_t)buf.size()) {
    const int64_t k = std::min<int64_t>((int64_t)buf.size(), n - at);
    pread_all(f.fd, buf.data(), 2 * k, kShardHeaderBytes + 2 * at, path);
    for (int64_t i = 0; i < k; i++)
      if (buf[i] >= vocab)
        fail(strfmt("shard %s: token %lld has id %d, outside the vocabulary [0, %d) (--vocab-size)", path.c_str(),
                    (long long)(at + i), buf[i], vocab));
  }
}

std::vector<uint16_t> shard_read_all(const std::string& path) {
  int64_t n = shard_token_count(path);
  std::vector<uint16_t> out(n);
  Fd f(path);
  pread_all(f.fd, out.data(), 2 * n, kShardHeaderBytes, path);
  return out;
}

void shard_write(const std::string& path, const uint16_t* tokens, int64_t count, int32_t tokenizer_tag) {
  if (count <= 0 || count > INT32_MAX) fail(strfmt("shard %s: token count %lld out of range", path.c_str(), (long long)count));
  int32_t header[256] = {0};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = (int32_t)count;
  header[3] = tokenizer_tag;
  AtomicFile f(path);
  f.write(header, sizeof header);
  f.write(tokens, 2 * count);
  f.commit();
}

}  // namespace lssa
