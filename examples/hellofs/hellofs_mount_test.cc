// hellofs on a real mount through real system calls, and the binary as a
// user runs it: SIGTERM unmounts and exits 0; a missing or non-directory
// mountpoint and a bad flag exit 2 with one line and nothing mounted.
// Root (or fusermount3) and /dev/fuse needed for the mounts; SKIPPED with
// the reason otherwise.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "examples/hellofs/hello_fs.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "testing/mount_fixture.h"
#include "testing/posix/posix_util.h"

namespace fusekit::examples {
namespace {

constexpr char kBinary[] = "examples/hellofs/hellofs";

std::set<std::string> Ls(const std::string& path) {
  std::set<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return {"<opendir failed>"};
  while (struct dirent* e = readdir(dir)) names.insert(e->d_name);
  closedir(dir);
  return names;
}

// Real system calls on a mounted hellofs.
void ExpectHelloWorks(const std::string& mountpoint) {
  const std::string file = mountpoint + "/hello.txt";
  struct stat st;
  ASSERT_EQ(stat(mountpoint.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444);
  EXPECT_EQ(st.st_size, 14);
  EXPECT_EQ(Ls(mountpoint), (std::set<std::string>{".", "..", "hello.txt"}));
  EXPECT_EQ(posix::ReadFile(file), "Hello, world!\n");

  int fd = open(file.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  char buf[64];
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 7), 7);
  EXPECT_EQ(std::string(buf, 7), "world!\n");
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 100), 0);
  close(fd);

  errno = 0;
  EXPECT_LT(open(file.c_str(), O_WRONLY), 0);
  EXPECT_EQ(errno, EROFS);
  errno = 0;
  EXPECT_NE(mkdir((mountpoint + "/d").c_str(), 0755), 0);
  EXPECT_EQ(errno, EROFS);
  errno = 0;
  EXPECT_NE(stat((mountpoint + "/missing").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  struct statfs sfs;
  ASSERT_EQ(statfs(mountpoint.c_str(), &sfs), 0);
  EXPECT_EQ(sfs.f_namelen, 255);
}

TEST(HelloFsMountTest, ServesRealSystemCalls) {
  Options options;
  Bridge bridge(std::make_unique<HelloRoot>(), options);
  std::unique_ptr<TestMount> mount;
  MountForTest(&bridge, {.fsname = "hellofs-test"}, ServerOptionsFor(options), &mount);
  if (mount == nullptr) return;  // skipped (the reason is shown) or failed
  ExpectHelloWorks(mount->path());
}

// ---- The binary ---------------------------------------------------------

class HelloFsBinaryTest : public ExampleBinaryTest {
 protected:
  HelloFsBinaryTest() : ExampleBinaryTest("hellofs") {}
};

TEST_F(HelloFsBinaryTest, ServesAndUnmountsOnSigterm) {
  ExampleProcess hellofs(kBinary, {mountpoint_});
  ASSERT_TRUE(hellofs.started());
  if (!hellofs.WaitForMount(mountpoint_)) {
    ExampleExit exit = hellofs.Wait();
    FAIL() << "hellofs never mounted: " << exit.stderr_text;
  }
  ExpectHelloWorks(mountpoint_);
  ExampleExit exit = hellofs.Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                              << exit.stderr_text;
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

TEST_F(HelloFsBinaryTest, ExitsWhenUnmountedFromOutside) {
  ExampleProcess hellofs(kBinary, {"--threads=2", mountpoint_});
  ASSERT_TRUE(hellofs.WaitForMount(mountpoint_));
  EXPECT_EQ(posix::ReadFile(mountpoint_ + "/hello.txt"), "Hello, world!\n");
  ASSERT_TRUE(UnmountPath(mountpoint_).ok());
  ExampleExit exit = hellofs.Wait();
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.stderr_text;
}

// Needs no mount: every case fails before mounting.
TEST(HelloFsArgsTest, BadArgumentsExit2WithOneLine) {
  const std::string dir = MakeTempDir("hellofs-args");
  ASSERT_FALSE(dir.empty());
  const std::string file = dir + "/plain";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  const std::vector<UsageErrorCase> cases = {
      {{}, "expected 1 argument, got 0"},
      {{dir, "extra"}, "got 2"},
      {{"--no_such_flag", dir}, "unknown flag --no_such_flag"},
      {{"--threads=many", dir}, "bad value 'many' for --threads"},
      {{dir + "/missing"}, "mountpoint " + dir + "/missing does not exist"},
      {{file}, "mountpoint " + file + " is not a directory"},
  };
  ExpectUsageErrors(kBinary, cases, dir);
  unlink(file.c_str());
  rmdir(dir.c_str());
}

TEST(HelloFsArgsTest, HelpSaysWhatItMounts) {
  ExampleExit exit = RunExample(kBinary, {"--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0);
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("hello.txt"));
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("--read_only"));
}

}  // namespace
}  // namespace fusekit::examples
