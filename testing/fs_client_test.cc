// One test body, two kernels: each test runs on the fake kernel (FakeVfs)
// and on a real mount (RealFsClient; SKIPPED where mounting is impossible).
// Agreement between the two is what makes the fake kernel trustworthy.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"
#include "testing/mount_fixture.h"
#include "testing/test_memfs.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

class MemFsBothWaysTest : public FsClientTest {
 protected:
  MemFsBothWaysTest() { ::umask(022); }  // the real kernel uses the process's
  RawFileSystem* FileSystem() override { return &fs_; }

  TestMemFs fs_;
};

TEST_P(MemFsBothWaysTest, MkdirCreateListRemove) {
  FsClient& fs = client();
  ASSERT_THAT(fs.Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(fs.Mkdir("/d", 0755), FailsWith(EEXIST));
  EXPECT_THAT(fs.Stat("/d"), IsOkAndHolds(Field(&stat::st_mode, S_IFDIR | 0755)));
  EXPECT_THAT(fs.Stat("/d"), IsOkAndHolds(Field(&stat::st_nlink, 2u)));
  ASSERT_THAT(fs.Mkdir("/d/sub", 0777), IsOk());
  EXPECT_THAT(fs.Stat("/d/sub"), IsOkAndHolds(Field(&stat::st_mode, S_IFDIR | 0755)));  // umask
  EXPECT_THAT(fs.Stat("/d"), IsOkAndHolds(Field(&stat::st_nlink, 3u)));
  ASSERT_THAT(fs.WriteFile("/d/f", "x"), IsOk());
  EXPECT_THAT(fs.ListDir("/d"), IsOkAndHolds(ElementsAre("f", "sub")));
  Result<std::vector<DirEntry>> entries = fs.Readdir("/d");
  ASSERT_THAT(entries, IsOk());
  EXPECT_THAT(*entries, SizeIs(4));  // ".", "..", f, sub
  EXPECT_THAT(fs.Rmdir("/d"), FailsWith(ENOTEMPTY));
  EXPECT_THAT(fs.Rmdir("/d/f"), FailsWith(ENOTDIR));
  EXPECT_THAT(fs.Unlink("/d/sub"), FailsWith(EISDIR));
  EXPECT_THAT(fs.Stat("/d/f/x"), FailsWith(ENOTDIR));
  EXPECT_THAT(fs.Stat("/d/nope"), FailsWith(ENOENT));
  ASSERT_THAT(fs.Unlink("/d/f"), IsOk());
  ASSERT_THAT(fs.Rmdir("/d/sub"), IsOk());
  ASSERT_THAT(fs.Rmdir("/d"), IsOk());
  EXPECT_THAT(fs.ListDir("/"), IsOkAndHolds(IsEmpty()));
}

TEST_P(MemFsBothWaysTest, WriteReadTruncate) {
  FsClient& fs = client();
  Result<int> fd = fs.Open("/f", O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(fs.Open("/f", O_RDWR | O_CREAT | O_EXCL, 0600), FailsWith(EEXIST));
  EXPECT_THAT(fs.Write(*fd, "hello, world", 0), IsOkAndHolds(12u));
  EXPECT_THAT(fs.Write(*fd, "W", 7), IsOkAndHolds(1u));
  EXPECT_THAT(fs.Read(*fd, 100, 0), IsOkAndHolds("hello, World"));
  EXPECT_THAT(fs.Read(*fd, 5, 7), IsOkAndHolds("World"));
  EXPECT_THAT(fs.Read(*fd, 5, 100), IsOkAndHolds(""));
  EXPECT_THAT(fs.Fsync(*fd, false), IsOk());
  EXPECT_THAT(fs.Flush(*fd), IsOk());
  EXPECT_THAT(fs.Close(*fd), IsOk());
  EXPECT_THAT(fs.Stat("/f"), IsOkAndHolds(Field(&stat::st_mode, S_IFREG | 0600)));
  EXPECT_THAT(fs.Stat("/f"), IsOkAndHolds(Field(&stat::st_size, 12)));
  ASSERT_THAT(fs.Truncate("/f", 5), IsOk());
  EXPECT_THAT(fs.ReadFile("/f"), IsOkAndHolds("hello"));
  ASSERT_THAT(fs.WriteFile("/f", "new"), IsOk());  // O_TRUNC
  EXPECT_THAT(fs.ReadFile("/f"), IsOkAndHolds("new"));
  EXPECT_THAT(fs.Open("/", O_WRONLY, 0), FailsWith(EISDIR));
  EXPECT_THAT(fs.Open("/f", O_RDONLY | O_DIRECTORY, 0), FailsWith(ENOTDIR));
  EXPECT_THAT(fs.Open("/missing", O_RDONLY, 0), FailsWith(ENOENT));
}

TEST_P(MemFsBothWaysTest, LargeFile) {
  FsClient& fs = client();
  std::string data;
  for (int i = 0; data.size() < (3 << 20) + 123; ++i) absl::StrAppend(&data, i, ",");
  ASSERT_THAT(fs.WriteFile("/big", data), IsOk());
  EXPECT_THAT(fs.Stat("/big"), IsOkAndHolds(Field(&stat::st_size, static_cast<off_t>(data.size()))));
  Result<std::string> back = fs.ReadFile("/big");
  ASSERT_THAT(back, IsOk());
  EXPECT_TRUE(*back == data);
}

TEST_P(MemFsBothWaysTest, RenameAndExchange) {
  FsClient& fs = client();
  ASSERT_THAT(fs.WriteFile("/a", "A"), IsOk());
  ASSERT_THAT(fs.WriteFile("/b", "B"), IsOk());
  ASSERT_THAT(fs.Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(fs.Rename("/a", "/b", RENAME_NOREPLACE), FailsWith(EEXIST));
  ASSERT_THAT(fs.Rename("/a", "/b", RENAME_EXCHANGE), IsOk());
  EXPECT_THAT(fs.ReadFile("/a"), IsOkAndHolds("B"));
  EXPECT_THAT(fs.ReadFile("/b"), IsOkAndHolds("A"));
  ASSERT_THAT(fs.Rename("/a", "/d/moved", 0), IsOk());
  EXPECT_THAT(fs.Stat("/a"), FailsWith(ENOENT));
  EXPECT_THAT(fs.ReadFile("/d/moved"), IsOkAndHolds("B"));
  ASSERT_THAT(fs.Rename("/b", "/d/moved", 0), IsOk());  // replaces
  EXPECT_THAT(fs.ReadFile("/d/moved"), IsOkAndHolds("A"));
  EXPECT_THAT(fs.Rename("/d", "/d/inside", 0), FailsWith(EINVAL));
  EXPECT_THAT(fs.Rename("/d/moved", "/d", 0), FailsWith(ENOTEMPTY));  // an ancestor
  ASSERT_THAT(fs.Mkdir("/empty", 0755), IsOk());
  EXPECT_THAT(fs.Rename("/d/moved", "/empty", 0), FailsWith(EISDIR));
  EXPECT_THAT(fs.Rename("/empty", "/d/moved", 0), FailsWith(ENOTDIR));
  ASSERT_THAT(fs.Rmdir("/empty"), IsOk());
  EXPECT_THAT(fs.Rename("/nope", "/x", 0), FailsWith(ENOENT));
  ASSERT_THAT(fs.Rename("/d", "/e", 0), IsOk());
  EXPECT_THAT(fs.ReadFile("/e/moved"), IsOkAndHolds("A"));
  EXPECT_THAT(fs.ListDir("/"), IsOkAndHolds(ElementsAre("e")));
}

TEST_P(MemFsBothWaysTest, LinksAndNodes) {
  FsClient& fs = client();
  ASSERT_THAT(fs.WriteFile("/f", "data"), IsOk());
  ASSERT_THAT(fs.Link("/f", "/g"), IsOk());
  EXPECT_THAT(fs.Stat("/g"), IsOkAndHolds(Field(&stat::st_nlink, 2u)));
  EXPECT_THAT(fs.Link("/f", "/g"), FailsWith(EEXIST));
  ASSERT_THAT(fs.Symlink("f", "/s"), IsOk());
  EXPECT_THAT(fs.Readlink("/s"), IsOkAndHolds("f"));
  EXPECT_THAT(fs.ReadFile("/s"), IsOkAndHolds("data"));
  EXPECT_THAT(fs.Lstat("/s"), IsOkAndHolds(Field(&stat::st_mode, S_IFLNK | 0777)));
  EXPECT_THAT(fs.Readlink("/f"), FailsWith(EINVAL));
  ASSERT_THAT(fs.Symlink("/nowhere", "/dangling"), IsOk());
  EXPECT_THAT(fs.Stat("/dangling"), FailsWith(ENOENT));
  ASSERT_THAT(fs.Mknod("/fifo", S_IFIFO | 0644, 0), IsOk());
  EXPECT_THAT(fs.Lstat("/fifo"), IsOkAndHolds(Field(&stat::st_mode, S_IFIFO | 0644)));
  ASSERT_THAT(fs.Unlink("/f"), IsOk());
  EXPECT_THAT(fs.ReadFile("/g"), IsOkAndHolds("data"));
  EXPECT_THAT(fs.Stat("/g"), IsOkAndHolds(Field(&stat::st_nlink, 1u)));
  EXPECT_THAT(fs.Stat("/s"), FailsWith(ENOENT));
}

TEST_P(MemFsBothWaysTest, Attributes) {
  FsClient& fs = client();
  ASSERT_THAT(fs.WriteFile("/f", "x"), IsOk());
  ASSERT_THAT(fs.Chmod("/f", 0604), IsOk());
  EXPECT_THAT(fs.Stat("/f"), IsOkAndHolds(Field(&stat::st_mode, S_IFREG | 0604)));
  // Ids this process surely has: test sandboxes often map no others.
  ASSERT_THAT(fs.Chown("/f", ::getuid(), static_cast<gid_t>(-1)), IsOk());
  ASSERT_THAT(fs.Chown("/f", static_cast<uid_t>(-1), ::getgid()), IsOk());
  Result<struct stat> st = fs.Stat("/f");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_uid, ::getuid());
  EXPECT_EQ(st->st_gid, ::getgid());
  struct timespec times[2] = {{1000000, 0}, {2000000, 500}};
  ASSERT_THAT(fs.Utimens("/f", times), IsOk());
  st = fs.Stat("/f");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_atim.tv_sec, 1000000);
  EXPECT_EQ(st->st_mtim.tv_sec, 2000000);
  EXPECT_EQ(st->st_mtim.tv_nsec, 500);
  EXPECT_THAT(fs.Access("/f", R_OK), IsOk());
  EXPECT_THAT(fs.Access("/nope", F_OK), FailsWith(ENOENT));
  EXPECT_THAT(fs.Statfs("/"), IsOkAndHolds(Field(&statvfs::f_blocks, 1000u)));
}

TEST_P(MemFsBothWaysTest, ExtendedAttributes) {
  FsClient& fs = client();
  ASSERT_THAT(fs.WriteFile("/f", "x"), IsOk());
  ASSERT_THAT(fs.Setxattr("/f", "user.one", "1", 0), IsOk());
  EXPECT_THAT(fs.Setxattr("/f", "user.one", "1", XATTR_CREATE), FailsWith(EEXIST));
  EXPECT_THAT(fs.Setxattr("/f", "user.two", "2", XATTR_REPLACE), FailsWith(ENODATA));
  ASSERT_THAT(fs.Setxattr("/f", "user.two", std::string(1000, 'z'), 0), IsOk());
  EXPECT_THAT(fs.Getxattr("/f", "user.one"), IsOkAndHolds("1"));
  EXPECT_THAT(fs.Getxattr("/f", "user.two"), IsOkAndHolds(SizeIs(1000)));
  EXPECT_THAT(fs.Listxattr("/f"), IsOkAndHolds(UnorderedElementsAre("user.one", "user.two")));
  ASSERT_THAT(fs.Removexattr("/f", "user.one"), IsOk());
  EXPECT_THAT(fs.Getxattr("/f", "user.one"), FailsWith(ENODATA));
  EXPECT_THAT(fs.Removexattr("/f", "user.one"), FailsWith(ENODATA));
}

TEST_P(MemFsBothWaysTest, SeekAllocateCopy) {
  FsClient& fs = client();
  Result<int> fd = fs.Create("/f", 0644);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(fs.Write(*fd, "0123456789", 0), IsOkAndHolds(10u));
  EXPECT_THAT(fs.Lseek(*fd, 3, SEEK_DATA), IsOkAndHolds(3));
  EXPECT_THAT(fs.Lseek(*fd, 3, SEEK_HOLE), IsOkAndHolds(10));
  EXPECT_THAT(fs.Lseek(*fd, 20, SEEK_DATA), FailsWith(ENXIO));
  EXPECT_THAT(fs.Lseek(*fd, -2, SEEK_END), IsOkAndHolds(8));
  ASSERT_THAT(fs.Fallocate(*fd, 0, 0, 4096), IsOk());
  EXPECT_THAT(fs.Stat("/f"), IsOkAndHolds(Field(&stat::st_size, 4096)));
  Result<int> out = fs.Create("/g", 0644);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(fs.CopyFileRange(*fd, 2, *out, 0, 6), IsOkAndHolds(6u));
  EXPECT_THAT(fs.Read(*out, 100, 0), IsOkAndHolds("234567"));
  EXPECT_THAT(fs.Close(*out), IsOk());
  EXPECT_THAT(fs.Close(*fd), IsOk());
}

TEST_P(MemFsBothWaysTest, ManyEntries) {
  FsClient& fs = client();
  ASSERT_THAT(fs.Mkdir("/many", 0755), IsOk());
  std::vector<std::string> names;
  for (int i = 0; i < 150; ++i) {
    names.push_back(absl::StrCat("entry-with-a-longish-name-", 1000 + i));
    ASSERT_THAT(fs.WriteFile(absl::StrCat("/many/", names.back()), ""), IsOk());
  }
  EXPECT_THAT(fs.ListDir("/many"), IsOkAndHolds(names));
}

INSTANTIATE_TEST_SUITE_P(Backends, MemFsBothWaysTest, AllFsBackends(), FsBackendName);

}  // namespace
}  // namespace fusekit
