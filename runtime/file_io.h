// File helpers shared by shards, checkpoints and logs.
//  - AtomicFile: write to "<path>.tmp.<pid>", fsync, rename over <path>, fsync the directory.
//    A crash at any point leaves either the old file or the new one, never a partial file.
//  - read_file_range: pread with 64-bit offsets and a clear error on short reads.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace lssa {

class AtomicFile {
 public:
  explicit AtomicFile(const std::string& path);  // opens the temp file
  ~AtomicFile();                                  // removes the temp file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void write(const void* data, size_t bytes);
  void commit();  // flush + fsync + rename + fsync(dir)
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  FILE* f_ = nullptr;
  bool committed_ = false;
  int64_t crash_at_ = -1;  // test hook, see below
};

// Writes the whole buffer atomically.
void write_file_atomic(const std::string& path, const void* data, size_t bytes);
// Reads a whole file; throws Error naming the path when missing/unreadable.
std::vector<uint8_t> read_file(const std::string& path);
// Size in bytes, or -1 when the file does not exist.
int64_t file_size(const std::string& path);
bool file_exists(const std::string& path);
void make_dirs(const std::string& path);  // mkdir -p; throws on failure
bool is_directory(const std::string& path);
// Checks that a file can be written at `path` (its folder exists and is writable, the path is
// not a folder) before the work that produces it; throws Error naming `what` (the option).
void check_output_file(const std::string& path, const std::string& what);
// Expands a glob pattern (sorted); a pattern without wildcards that names a file is kept.
std::vector<std::string> glob_files(const std::string& pattern);
// The absolute path without symbolic links, "." or ".." (realpath); the path itself when it
// does not exist.
std::string canonical_path(const std::string& path);

// An exclusive advisory lock (flock) on <dir>/.lock, held while the object lives; the kernel
// releases it when the process dies, however it dies, so a lock is never stale. The file
// holds the holder's pid (for the message). Throws Error when another process holds it.
class DirLock {
 public:
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

// Removes the temp files (<name>.tmp.<pid>, see AtomicFile) that a writer which died left in
// `dir`; call it only while holding the directory's DirLock (no live writer then). Returns how
// many it removed.
int remove_stale_temp_files(const std::string& dir);

// Test hook: when the environment variable LSSA_TEST_CRASH_AFTER_BYTES=N is set, an AtomicFile
// whose path contains LSSA_TEST_CRASH_FILE_MATCH (every file when that is unset) calls
// _exit(86) once N bytes have been written to its temp file (a crash in the middle of a write).
}  // namespace lssa
