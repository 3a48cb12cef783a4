// runtime/file_io.h: the run-directory lock (flock: exclusive, released with its holder) and the
// removal of temp files a dead writer left.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "runtime/error.h"
#include "runtime/file_io.h"

using namespace lssa;

namespace {
struct TmpDir {
  std::string path;
  TmpDir() {
    char t[] = "/tmp/lssa_fileio.XXXXXX";
    path = mkdtemp(t);
  }
  ~TmpDir() { std::system(("rm -rf " + path).c_str()); }
};
void touch(const std::string& p) { std::ofstream(p) << "x"; }
}  // namespace

TEST(DirLock, ExclusiveAndReleasedWithItsHolder) {
  TmpDir d;
  {
    DirLock a(d.path);
    // a second lock (another open file description, as a second process would hold) fails
    try {
      DirLock b(d.path);
      ADD_FAILURE() << "two locks on one folder";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(getpid())), std::string::npos) << e.what();
    }
  }
  DirLock again(d.path);  // released with the first holder
  // in a child process that dies without cleanup, the kernel releases it too
  pid_t pid = fork();
  if (pid == 0) {
    try {
      DirLock c(d.path);
      _exit(0);
    } catch (...) {
      _exit(1);
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_EQ(WEXITSTATUS(status), 1) << "the child took a lock the parent holds";
}

TEST(StaleTemps, OnlyAtomicFileTempsAreRemoved) {
  TmpDir d;
  for (const char* f : {"model_00000004.safetensors.tmp.1234", "state_00000004.bin.tmp.99", "model_00000002.safetensors",
                        "notes.tmp.txt", "x.tmp.", ".tmp.12", "log.jsonl"})
    touch(d.path + "/" + f);
  EXPECT_EQ(remove_stale_temp_files(d.path), 2);
  EXPECT_FALSE(file_exists(d.path + "/model_00000004.safetensors.tmp.1234"));
  EXPECT_FALSE(file_exists(d.path + "/state_00000004.bin.tmp.99"));
  for (const char* f : {"model_00000002.safetensors", "notes.tmp.txt", "x.tmp.", ".tmp.12", "log.jsonl"})
    EXPECT_TRUE(file_exists(d.path + "/" + f)) << f;
}

TEST(CheckOutputFile, FolderMustExist) {
  TmpDir d;
  check_output_file(d.path + "/e.json", "--json");
  EXPECT_THROW(check_output_file(d.path + "/nope/e.json", "--json"), Error);
  EXPECT_THROW(check_output_file(d.path, "--json"), Error);
}
