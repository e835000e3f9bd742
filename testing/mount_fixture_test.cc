// The real-mount side: the fixture mounts, serves real system calls, and
// always leaves the machine clean, even with a descriptor left open in the
// mount. SKIPPED where mounting is impossible.
#include "testing/mount_fixture.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

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

TEST(TestMountTest, WhatCountsAsUnavailable) {
  EXPECT_TRUE(IsMountUnavailable(absl::UnavailableError("/dev/fuse is absent")));
  EXPECT_TRUE(IsMountUnavailable(absl::PermissionDeniedError("mount(2): EPERM")));
  EXPECT_FALSE(IsMountUnavailable(absl::UnavailableError("FUSE_INIT on /x did not complete")));
  EXPECT_FALSE(IsMountUnavailable(absl::InvalidArgumentError("bad option")));
}

}  // namespace
}  // namespace fusekit
