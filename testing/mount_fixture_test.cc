// The real-mount side: the fixture mounts, serves real system calls, and
// always leaves the machine clean, even with a descriptor left open in the
// mount. SKIPPED where mounting is impossible.
#include "testing/mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/rawhello/hello_raw_fs.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"

namespace fusekit {
namespace {

using examples::HelloRawFs;
using ::testing::ElementsAre;
using ::testing::Field;

class HelloMountTest : public MountedFsTest {
 protected:
  RawFileSystem* FileSystem() override { return &fs_; }
  HelloRawFs fs_;
};

TEST_F(HelloMountTest, RealSystemCallsReachTheFilesystem) {
  EXPECT_TRUE(IsFuseMountPoint(mountpoint()));
  struct stat st;
  ASSERT_EQ(::stat(Path("hello.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(HelloRawFs::kContent.size()));
  EXPECT_THAT(client().ReadFile("/hello.txt"), IsOkAndHolds(std::string(HelloRawFs::kContent)));
  EXPECT_THAT(client().ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
  EXPECT_THAT(client().Open("/hello.txt", O_WRONLY, 0), FailsWith(EACCES));
  // A descriptor the test forgets: the client closes it before unmounting.
  EXPECT_THAT(client().Open("/hello.txt", O_RDONLY, 0), IsOk());
}

TEST(TestMountTest, DestructionLeavesNothingMounted) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  HelloRawFs fs;
  std::string path;
  {
    absl::StatusOr<std::unique_ptr<TestMount>> mount = TestMount::Create(&fs, {}, {});
    if (!mount.ok() && IsMountUnavailable(mount.status())) GTEST_SKIP() << mount.status();
    ASSERT_TRUE(mount.ok()) << mount.status();
    path = (*mount)->path();
    EXPECT_TRUE(IsFuseMountPoint(path));
  }
  EXPECT_FALSE(IsFuseMountPoint(path));
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // the directory is gone too
}

TEST(TestMountTest, ABusyMountIsTakenDownToo) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  HelloRawFs fs;
  std::string path;
  int fd = -1;
  {
    absl::StatusOr<std::unique_ptr<TestMount>> mount = TestMount::Create(&fs, {}, {});
    if (!mount.ok() && IsMountUnavailable(mount.status())) GTEST_SKIP() << mount.status();
    ASSERT_TRUE(mount.ok()) << mount.status();
    path = (*mount)->path();
    // Opened behind the fixture's back and never closed: the mount is busy.
    fd = ::open((*mount)->Path("hello.txt").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
  }  // must neither hang nor leave the mount behind
  EXPECT_FALSE(IsFuseMountPoint(path));
  char c;
  EXPECT_LT(::read(fd, &c, 1), 0);  // the connection was aborted
  ::close(fd);
}

// Hello, except that a LOOKUP of "hang" never returns: its worker sleeps
// in the handler, so the caller waits in the kernel for a request taken.
class HangingLookupFs : public examples::HelloRawFs {
 public:
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    if (name != "hang") return HelloRawFs::Lookup(std::move(reply), parent, name);
    for (;;) ::pause();
  }
};

// A process that crashes with a TestMount alive, while one of its threads
// waits on that mount for a request its own (now dead) worker had taken,
// would never finish exiting: no timeout or signal ends that wait. The
// fixture's watchdog takes the mount down, so the process ends and nothing
// stays mounted.
TEST(TestMountTest, ACrashWithACallerStuckOnTheMountEndsAndUnmounts) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  if (::geteuid() != 0) GTEST_SKIP() << "the watchdog unmounts with umount2(2): root only";
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    struct rlimit no_core = {0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);  // no core file to write on the way out
    HangingLookupFs fs;
    absl::StatusOr<std::unique_ptr<TestMount>> mount = TestMount::Create(&fs, {}, {});
    if (!mount.ok()) ::_exit(3);
    const std::string path = (*mount)->path();
    if (::write(fds[1], path.data(), path.size()) != static_cast<ssize_t>(path.size())) ::_exit(4);
    ::close(fds[1]);
    std::thread([path] {
      struct stat st;
      ::stat((path + "/hang").c_str(), &st);
    }).detach();
    ::usleep(300 * 1000);  // the LOOKUP is in the worker by now
    ::abort();
  }
  ::close(fds[1]);
  std::string path(4096, '\0');
  ssize_t n = ::read(fds[0], path.data(), path.size());
  ::close(fds[0]);
  path.resize(n > 0 ? static_cast<size_t>(n) : 0);

  int status = 0;
  pid_t done = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((done = ::waitpid(child, &status, WNOHANG)) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (done == 0) {
    // Still stuck: end it here, so the test fails rather than hangs.
    if (!path.empty()) ::umount2(path.c_str(), MNT_FORCE | MNT_DETACH);
    ::waitpid(child, &status, 0);
    ADD_FAILURE() << "the crashed process was still stuck after 10 s";
  }
  ASSERT_FALSE(path.empty()) << "the child could not mount (status " << status << ")";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) << status;
  const absl::Time unmounted_by = absl::Now() + absl::Seconds(5);
  while (IsFuseMountPoint(path) && absl::Now() < unmounted_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_FALSE(IsFuseMountPoint(path));
}

TEST(TestMountTest, WhatCountsAsUnavailable) {
  EXPECT_TRUE(IsMountUnavailable(absl::UnavailableError("/dev/fuse is absent")));
  EXPECT_TRUE(IsMountUnavailable(absl::PermissionDeniedError("mount(2): EPERM")));
  EXPECT_FALSE(IsMountUnavailable(absl::UnavailableError("FUSE_INIT on /x did not complete")));
  EXPECT_FALSE(IsMountUnavailable(absl::InvalidArgumentError("bad option")));
}

}  // namespace
}  // namespace fusekit
