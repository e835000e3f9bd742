// hellofs through the fake kernel: what a user sees, with no mount.
#include "examples/hellofs/hello_fs.h"

#include <fcntl.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit::examples {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;

TEST(HelloFsTest, StatListAndRead) {
  NodefsFakeKernel fs(std::make_unique<HelloRoot>());
  FakeVfs& vfs = fs.vfs();

  Result<struct stat> root = vfs.Stat("/");
  ASSERT_THAT(root, IsOk());
  EXPECT_TRUE(S_ISDIR(root->st_mode));
  Result<struct stat> file = vfs.Stat("/hello.txt");
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->st_mode, S_IFREG | 0444);
  EXPECT_EQ(file->st_size, 14);
  EXPECT_EQ(file->st_nlink, 1u);

  EXPECT_THAT(vfs.ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
  EXPECT_THAT(vfs.ReadFile("/hello.txt"), IsOkAndHolds("Hello, world!\n"));

  Result<int> fd = vfs.Open("/hello.txt", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs.Read(*fd, 6, 7), IsOkAndHolds("world!"));
  EXPECT_THAT(vfs.Read(*fd, 100, 14), IsOkAndHolds(""));  // at the end
  EXPECT_THAT(vfs.Read(*fd, 100, 1000), IsOkAndHolds(""));
  EXPECT_THAT(vfs.Close(*fd), IsOk());

  EXPECT_THAT(vfs.Stat("/missing"), FailsWith(ENOENT));
  EXPECT_THAT(vfs.Statfs("/"), IsOkAndHolds(Field(&statvfs::f_namemax, 255u)));
}

TEST(HelloFsTest, EverythingThatWritesIsReadOnly) {
  NodefsFakeKernel fs(std::make_unique<HelloRoot>());
  FakeVfs& vfs = fs.vfs();
  EXPECT_THAT(vfs.Open("/hello.txt", O_WRONLY, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Open("/hello.txt", O_RDWR, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Open("/hello.txt", O_RDONLY | O_TRUNC, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Create("/new.txt", 0644), FailsWith(EROFS));
  EXPECT_THAT(vfs.Mkdir("/d", 0755), FailsWith(EROFS));
  EXPECT_THAT(vfs.Unlink("/hello.txt"), FailsWith(EROFS));
  EXPECT_THAT(vfs.Rename("/hello.txt", "/bye.txt", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Chmod("/hello.txt", 0666), FailsWith(EROFS));
  EXPECT_THAT(vfs.Truncate("/hello.txt", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Symlink("hello.txt", "/link"), FailsWith(EROFS));
  // Nothing changed.
  EXPECT_THAT(vfs.ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
  EXPECT_THAT(vfs.ReadFile("/hello.txt"), IsOkAndHolds("Hello, world!\n"));
}

}  // namespace
}  // namespace fusekit::examples
