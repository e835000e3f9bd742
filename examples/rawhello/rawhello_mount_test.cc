// Real-mount tests of the protocol core with the raw hello filesystem:
// mount, real system calls, unmount from the API, from outside, and by
// SIGTERM to the example binary. SKIPPED with the reason where mounting is
// impossible (no /dev/fuse, not root and no fusermount3).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/rawhello/hello_raw_fs.h"
#include "fuse/mount.h"
#include "fuse/server.h"
#include "gtest/gtest.h"

extern char** environ;

namespace fusekit::examples {
namespace {

std::string SkipReason() {
  if (access("/dev/fuse", F_OK) != 0) return "/dev/fuse is absent";
  if (geteuid() != 0 && access("/usr/bin/fusermount3", X_OK) != 0) {
    return "not root and no fusermount3";
  }
  return "";
}

class RawHelloMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = SkipReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(tmp ? tmp : "/tmp", "/mnt.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    mountpoint_ = tmpl;
  }

  void TearDown() override {
    server_.reset();  // unmounts if still mounted
    if (!mountpoint_.empty()) {
      // Whatever happened above, leave no mount behind.
      EXPECT_TRUE(UnmountPath(mountpoint_).ok());
      rmdir(mountpoint_.c_str());
    }
  }

  // Mounts, or skips the test when the environment forbids mounting.
  void MountHello(MountOptions options = {}) {
    options.fsname = "rawhello";
    auto server = Mount(mountpoint_, &fs_, options, {});
    if (absl::IsPermissionDenied(server.status()) || absl::IsUnavailable(server.status())) {
      GTEST_SKIP() << "cannot mount here: " << server.status();
    }
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  // Waits (bounded) for the server's workers to end.
  bool EndsWithin(absl::Duration limit) {
    absl::Time deadline = absl::Now() + limit;
    while (server_->running()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    server_->Wait();
    return true;
  }

  void ExpectHelloWorks() {
    std::string file = mountpoint_ + "/hello.txt";
    struct stat st;
    ASSERT_EQ(stat(mountpoint_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    ASSERT_EQ(stat(file.c_str(), &st), 0);
    EXPECT_TRUE(S_ISREG(st.st_mode));
    EXPECT_EQ(st.st_size, 14);
    EXPECT_EQ(st.st_ino, HelloRawFs::kFileId);

    DIR* dir = opendir(mountpoint_.c_str());
    ASSERT_NE(dir, nullptr);
    std::set<std::string> names;
    while (struct dirent* e = readdir(dir)) names.insert(e->d_name);
    closedir(dir);
    EXPECT_EQ(names, (std::set<std::string>{".", "..", "hello.txt"}));

    int fd = open(file.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof(buf));
    ASSERT_EQ(n, 14);
    EXPECT_EQ(std::string(buf, n), "Hello, world!\n");
    EXPECT_EQ(pread(fd, buf, sizeof(buf), 7), 7);
    EXPECT_EQ(std::string(buf, 7), "world!\n");
    EXPECT_EQ(pread(fd, buf, sizeof(buf), 100), 0);  // past the end
    close(fd);

    errno = 0;
    EXPECT_LT(open(file.c_str(), O_WRONLY), 0);
    EXPECT_EQ(errno, EACCES);
    errno = 0;
    EXPECT_NE(stat((mountpoint_ + "/missing").c_str(), &st), 0);
    EXPECT_EQ(errno, ENOENT);

    struct statfs sfs;
    ASSERT_EQ(statfs(mountpoint_.c_str(), &sfs), 0);
    EXPECT_EQ(sfs.f_namelen, 255);
  }

  HelloRawFs fs_;
  std::string mountpoint_;
  std::unique_ptr<Server> server_;
};

TEST_F(RawHelloMountTest, ServesRealSyscallsAndUnmounts) {
  MountHello();
  EXPECT_TRUE(IsFuseMountPoint(mountpoint_));
  EXPECT_EQ(server_->connection().minor, std::min<uint32_t>(abi::kKernelMinorVersion,
                                                             server_->connection().minor));
  ExpectHelloWorks();
  ASSERT_TRUE(server_->Unmount().ok());
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
  EXPECT_TRUE(EndsWithin(absl::Seconds(10)));
}

TEST_F(RawHelloMountTest, SingleThreadedServerWorks) {
  auto server = Mount(mountpoint_, &fs_, {.fsname = "rawhello"}, {.workers = 1});
  if (!server.ok() && (absl::IsPermissionDenied(server.status()) ||
                       absl::IsUnavailable(server.status()))) {
    GTEST_SKIP() << server.status();
  }
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = std::move(*server);
  ExpectHelloWorks();
}

TEST_F(RawHelloMountTest, UnmountFromOutsideEndsTheServer) {
  MountHello();
  ExpectHelloWorks();
  ASSERT_TRUE(UnmountPath(mountpoint_).ok());
  EXPECT_TRUE(EndsWithin(absl::Seconds(10))) << "server still running after umount";
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

TEST_F(RawHelloMountTest, StopWithAnOpenFileDoesNotHang) {
  MountHello();
  int fd = open((mountpoint_ + "/hello.txt").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  absl::Time start = absl::Now();
  server_->Stop();  // the mount is busy: unmounted lazily, then aborted
  EXPECT_TRUE(EndsWithin(absl::Seconds(20)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(20));
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
  char buf[4];
  EXPECT_LT(read(fd, buf, sizeof(buf)), 0);  // ENOTCONN once aborted
  close(fd);
}

TEST_F(RawHelloMountTest, FusermountPathWorks) {
  if (access("/usr/bin/fusermount3", X_OK) != 0) GTEST_SKIP() << "no fusermount3";
  MountHello({.force_fusermount = true});
  ExpectHelloWorks();
  ASSERT_TRUE(server_->Unmount().ok());
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
  EXPECT_TRUE(EndsWithin(absl::Seconds(10)));
}

TEST_F(RawHelloMountTest, MountErrorsAreClear) {
  auto missing = Mount(mountpoint_ + "/nonexistent", &fs_, {}, {});
  EXPECT_TRUE(absl::IsNotFound(missing.status())) << missing.status();
  std::string file = mountpoint_ + "/plain";
  int fd = open(file.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  auto not_dir = Mount(file, &fs_, {}, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(not_dir.status())) << not_dir.status();
  unlink(file.c_str());
  auto bad_option = Mount(mountpoint_, &fs_, {.raw_options = {"nonsense_option"}}, {});
  EXPECT_TRUE(absl::IsInvalidArgument(bad_option.status())) << bad_option.status();
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));

  MountHello();
  auto twice = Mount(mountpoint_, &fs_, {}, {});
  EXPECT_TRUE(absl::IsAlreadyExists(twice.status())) << twice.status();
}

TEST_F(RawHelloMountTest, SigtermUnmountsTheExample) {
  std::string binary = "examples/rawhello/rawhello";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0) << "runfile missing: " << binary;
  char* argv[] = {binary.data(), mountpoint_.data(), nullptr};
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv, environ), 0);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!IsFuseMountPoint(mountpoint_) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  bool mounted = IsFuseMountPoint(mountpoint_);
  if (mounted) {
    int fd = open((mountpoint_ + "/hello.txt").c_str(), O_RDONLY);
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
  }
  kill(pid, SIGTERM);
  int status = 0;
  deadline = absl::Now() + absl::Seconds(10);
  pid_t done = 0;
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "example did not exit on SIGTERM";
  }
  ASSERT_TRUE(mounted) << "example never mounted";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

}  // namespace
}  // namespace fusekit::examples
