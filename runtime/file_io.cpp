#include "runtime/file_io.h"

#include <dirent.h>
#include <fcntl.h>
#include <glob.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/error.h"

namespace lssa {

// Test hook (see file_io.h): crash after N bytes of a temp file whose final path contains
// LSSA_TEST_CRASH_FILE_MATCH (any file when unset).
static int64_t crash_after_bytes(const std::string& path) {
  const char* s = std::getenv("LSSA_TEST_CRASH_AFTER_BYTES");
  if (!s) return -1;
  const char* m = std::getenv("LSSA_TEST_CRASH_FILE_MATCH");
  if (m && path.find(m) == std::string::npos) return -1;
  return std::atoll(s);
}

AtomicFile::AtomicFile(const std::string& path) : path_(path) {
  tmp_ = path + ".tmp." + std::to_string(getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) fail(strfmt("cannot create %s: %s", tmp_.c_str(), std::strerror(errno)));
  crash_at_ = crash_after_bytes(path);
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_) ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes) {
  if (crash_at_ >= 0) {
    long pos = std::ftell(f_);
    if (pos + (int64_t)bytes >= crash_at_) {
      size_t part = crash_at_ > pos ? (size_t)(crash_at_ - pos) : 0;
      std::fwrite(data, 1, part, f_);
      std::fflush(f_);
      _exit(86);
    }
  }
  if (bytes && std::fwrite(data, 1, bytes, f_) != bytes)
    fail(strfmt("write to %s failed: %s", tmp_.c_str(), std::strerror(errno)));
}

void AtomicFile::commit() {
  if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0)
    fail(strfmt("cannot flush %s: %s", tmp_.c_str(), std::strerror(errno)));
  std::fclose(f_);
  f_ = nullptr;
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
    fail(strfmt("cannot rename %s to %s: %s", tmp_.c_str(), path_.c_str(), std::strerror(errno)));
  committed_ = true;
  std::string dir = ".";
  auto slash = path_.find_last_of('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  AtomicFile f(path);
  f.write(data, bytes);
  f.commit();
}

std::vector<uint8_t> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail(strfmt("cannot open %s: %s", path.c_str(), std::strerror(errno)));
  std::vector<uint8_t> buf;
  uint8_t tmp[1 << 16];
  size_t n;
  while ((n = std::fread(tmp, 1, sizeof tmp, f)) > 0) buf.insert(buf.end(), tmp, tmp + n);
  bool err = std::ferror(f);
  std::fclose(f);
  if (err) fail(strfmt("cannot read %s", path.c_str()));
  return buf;
}

int64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return -1;
  return (int64_t)st.st_size;
}

bool file_exists(const std::string& path) { return file_size(path) >= 0; }

void make_dirs(const std::string& path) {
  if (path.empty()) return;
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      fail(strfmt("cannot create directory %s: %s", cur.c_str(), std::strerror(errno)));
    i = j + 1;
  }
}

bool is_directory(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void check_output_file(const std::string& path, const std::string& what) {
  if (is_directory(path)) fail(strfmt("%s %s is a directory; give a file name", what.c_str(), path.c_str()));
  const auto slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  if (!is_directory(dir))
    fail(strfmt("%s %s: the folder %s does not exist (create it first)", what.c_str(), path.c_str(), dir.c_str()));
  if (::access(dir.c_str(), W_OK) != 0)
    fail(strfmt("%s %s: cannot write in %s: %s", what.c_str(), path.c_str(), dir.c_str(), std::strerror(errno)));
}

std::string canonical_path(const std::string& path) {
  char* r = ::realpath(path.c_str(), nullptr);
  if (!r) return path;
  std::string out = r;
  std::free(r);
  return out;
}

DirLock::DirLock(const std::string& dir) {
  const std::string path = dir + "/.lock";
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) fail(strfmt("cannot create the lock file %s: %s", path.c_str(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    char pid[32] = {0};
    ssize_t n = ::pread(fd_, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = 0;
    if (char* nl = std::strchr(pid, '\n')) *nl = 0;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      fail(strfmt("%s is in use by another running process%s (it holds %s); wait for it or choose another "
                  "directory", dir.c_str(), pid[0] ? strfmt(" (pid %s)", pid).c_str() : "", path.c_str()));
    fail(strfmt("cannot lock %s: %s", path.c_str(), std::strerror(err)));
  }
  const std::string me = std::to_string(getpid()) + "\n";
  if (::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, me.data(), me.size(), 0) < 0) {
    // the pid is only for the message of a second process; the lock holds without it
  }
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock; the file stays (unlinking it would race)
}

int remove_stale_temp_files(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return 0;
  std::vector<std::string> stale;
  while (dirent* e = ::readdir(d)) {
    const char* t = std::strstr(e->d_name, ".tmp.");
    if (!t || t == e->d_name) continue;
    const char* p = t + 5;
    while (*p >= '0' && *p <= '9') p++;
    if (p != t + 5 && *p == 0) stale.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  int n = 0;
  for (const auto& f : stale) n += ::unlink(f.c_str()) == 0;
  return n;
}

std::vector<std::string> glob_files(const std::string& pattern) {
  std::vector<std::string> out;
  glob_t g;
  std::memset(&g, 0, sizeof g);
  if (::glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; i++) out.push_back(g.gl_pathv[i]);
  globfree(&g);
  return out;  // glob() sorts by default
}

}  // namespace lssa
