// memfs through the fake kernel: every tmpfs behaviour it promises, as the
// requests Linux would send for each system call. No root, no mount.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/memfs/memfs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/mem_node.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit::examples {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr struct timespec kPast = {1000000000, 0};  // 2001-09-09

bool After(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

struct flock Range(short type, off_t start, off_t len) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  l.l_start = start;
  l.l_len = len;
  return l;
}

// A memfs tree on the fake kernel. Attributes are never cached, so every
// stat shows what the tree holds now.
class MemfsTest : public ::testing::Test {
 protected:
  explicit MemfsTest(MemFsOptions limits = {}, int workers = 1) {
    Options options = MemfsOptions(Options());
    options.attr_timeout = absl::ZeroDuration();
    options.server.workers = workers;
    auto root = MemDir::NewRoot(limits);
    store_ = root->store();
    fs_ = std::make_unique<NodefsFakeKernel>(std::move(root), options);
  }

  FakeVfs& vfs() { return fs_->vfs(); }
  struct stat StatOf(absl::string_view path) {
    Result<struct stat> st = vfs().Stat(path);
    EXPECT_THAT(st, IsOk()) << path;
    return st.value_or(/*fallback=*/{});
  }
  int CreateFile(absl::string_view path, int flags = O_RDWR) {
    Result<int> fd = vfs().Create(path, 0644, flags);
    EXPECT_THAT(fd, IsOk()) << path;
    return fd.value_or(-1);
  }

  std::shared_ptr<MemStore> store_;
  std::unique_ptr<NodefsFakeKernel> fs_;
};

TEST_F(MemfsTest, FilesDirectoriesAndSymlinks) {
  ASSERT_THAT(vfs().Mkdir("/d", 0750), IsOk());
  ASSERT_THAT(vfs().WriteFile("/d/f", "content"), IsOk());
  EXPECT_THAT(vfs().ReadFile("/d/f"), IsOkAndHolds("content"));
  EXPECT_EQ(StatOf("/d").st_mode, S_IFDIR | 0750);
  EXPECT_EQ(StatOf("/d/f").st_mode, S_IFREG | 0644);
  EXPECT_EQ(StatOf("/d/f").st_size, 7);
  EXPECT_THAT(vfs().ListDir("/d"), IsOkAndHolds(ElementsAre("f")));
  ASSERT_THAT(vfs().Symlink("d/f", "/ln"), IsOk());
  EXPECT_THAT(vfs().Readlink("/ln"), IsOkAndHolds("d/f"));
  EXPECT_THAT(vfs().ReadFile("/ln"), IsOkAndHolds("content"));
  EXPECT_EQ(vfs().Lstat("/ln")->st_size, 3);
  EXPECT_THAT(vfs().Rmdir("/d"), FailsWith(ENOTEMPTY));
  EXPECT_THAT(vfs().Mkdir("/d", 0755), FailsWith(EEXIST));
  ASSERT_THAT(vfs().Unlink("/d/f"), IsOk());
  ASSERT_THAT(vfs().Rmdir("/d"), IsOk());
  EXPECT_THAT(vfs().ListDir("/"), IsOkAndHolds(ElementsAre("ln")));
}

TEST_F(MemfsTest, SparseFileAboveFourGiB) {
  int fd = CreateFile("/sparse");
  ASSERT_THAT(vfs().Write(fd, "tail", 5 * kGiB), IsOkAndHolds(4u));
  struct stat st = StatOf("/sparse");
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 5 * kGiB + 4);
  EXPECT_EQ(st.st_blocks, 8);  // one 4 KiB page
  EXPECT_EQ(store_->used_pages(), 1u);
  // Holes read as zeros, also across the boundary into data.
  EXPECT_THAT(vfs().Read(fd, 4, 0), IsOkAndHolds(std::string(4, '\0')));
  EXPECT_THAT(vfs().Read(fd, 4, 3 * kGiB), IsOkAndHolds(std::string(4, '\0')));
  EXPECT_THAT(vfs().Read(fd, 6, 5 * kGiB - 2), IsOkAndHolds(std::string("\0\0tail", 6)));
  EXPECT_THAT(vfs().Read(fd, 10, 5 * kGiB + 4), IsOkAndHolds(""));
  EXPECT_THAT(vfs().Close(fd), IsOk());
}

// Pages a write fills whole are not zeroed first (WritePageLocked); every
// other new page must be, even where the allocator hands back memory that
// held another file's data.
TEST_F(MemfsTest, PartWrittenPagesReadZerosAroundTheData) {
  const std::string full(64 * 4096, 'x');
  int old_fd = CreateFile("/old");
  ASSERT_THAT(vfs().Write(old_fd, full, 0), IsOkAndHolds(full.size()));
  ASSERT_THAT(vfs().Close(old_fd), IsOk());
  ASSERT_THAT(vfs().Unlink("/old"), IsOk());  // its pages go back to the allocator

  int fd = CreateFile("/new");
  for (uint64_t page = 0; page < 64; ++page) {
    ASSERT_THAT(vfs().Write(fd, "ab", page * 4096 + 100), IsOkAndHolds(2u));
  }
  Result<std::string> data = vfs().Read(fd, 64 * 4096, 0);
  ASSERT_THAT(data, IsOk());
  std::string page(4096 - 2, '\0');
  page.insert(100, "ab");
  std::string want;
  for (int i = 0; i < 64; ++i) want += page;
  want.resize(63 * 4096 + 102);  // the file ends after the last "ab"
  EXPECT_TRUE(*data == want) << "a part-written page shows bytes that were never written";

  // Space fallocate took is a page only when written; in part: zeros too.
  ASSERT_THAT(vfs().Fallocate(fd, 0, 64 * 4096, 4096), IsOk());
  ASSERT_THAT(vfs().Write(fd, "cd", 64 * 4096 + 7), IsOkAndHolds(2u));
  EXPECT_THAT(vfs().Read(fd, 10, 64 * 4096), IsOkAndHolds(std::string("\0\0\0\0\0\0\0cd\0", 10)));
  EXPECT_THAT(vfs().Close(fd), IsOk());
}

TEST_F(MemfsTest, SeekDataAndSeekHole) {
  int fd = CreateFile("/f");
  ASSERT_THAT(vfs().Write(fd, "a", 1 << 20), IsOk());      // page 256
  ASSERT_THAT(vfs().Write(fd, "b", 3 << 20), IsOk());      // page 768
  ASSERT_THAT(vfs().Truncate("/f", (4 << 20) + 10), IsOk());  // hole at the end
  EXPECT_THAT(vfs().Lseek(fd, 0, SEEK_DATA), IsOkAndHolds(1 << 20));
  EXPECT_THAT(vfs().Lseek(fd, 0, SEEK_HOLE), IsOkAndHolds(0));
  EXPECT_THAT(vfs().Lseek(fd, (1 << 20) + 5, SEEK_DATA), IsOkAndHolds((1 << 20) + 5));
  EXPECT_THAT(vfs().Lseek(fd, (1 << 20) + 5, SEEK_HOLE), IsOkAndHolds((1 << 20) + 4096));
  EXPECT_THAT(vfs().Lseek(fd, (1 << 20) + 4096, SEEK_DATA), IsOkAndHolds(3 << 20));
  EXPECT_THAT(vfs().Lseek(fd, (3 << 20) + 1, SEEK_DATA), IsOkAndHolds((3 << 20) + 1));
  EXPECT_THAT(vfs().Lseek(fd, (3 << 20) + 4096, SEEK_DATA), FailsWith(ENXIO));
  EXPECT_THAT(vfs().Lseek(fd, (3 << 20) + 4096, SEEK_HOLE), IsOkAndHolds((3 << 20) + 4096));
  EXPECT_THAT(vfs().Lseek(fd, (4 << 20) + 10, SEEK_HOLE), FailsWith(ENXIO));  // at EOF
  EXPECT_THAT(vfs().Lseek(fd, 5 << 20, SEEK_DATA), FailsWith(ENXIO));
  // A file that is all data has its only hole at the end.
  int full = CreateFile("/full");
  ASSERT_THAT(vfs().Write(full, std::string(10000, 'x'), 0), IsOk());
  EXPECT_THAT(vfs().Lseek(full, 0, SEEK_HOLE), IsOkAndHolds(10000));
  EXPECT_THAT(vfs().Lseek(full, 9999, SEEK_DATA), IsOkAndHolds(9999));
  EXPECT_THAT(vfs().Close(fd), IsOk());
  EXPECT_THAT(vfs().Close(full), IsOk());
}

TEST_F(MemfsTest, TruncateDownAndUp) {
  ASSERT_THAT(vfs().WriteFile("/f", std::string(10000, 'x')), IsOk());
  EXPECT_EQ(store_->used_pages(), 3u);
  ASSERT_THAT(vfs().Truncate("/f", 5000), IsOk());
  EXPECT_EQ(StatOf("/f").st_size, 5000);
  EXPECT_EQ(store_->used_pages(), 2u);  // the third page went
  // Growing again shows zeros where the cut bytes were: a hole, no space.
  ASSERT_THAT(vfs().Truncate("/f", 20000), IsOk());
  EXPECT_EQ(store_->used_pages(), 2u);
  Result<std::string> content = vfs().ReadFile("/f");
  ASSERT_THAT(content, IsOk());
  EXPECT_EQ(*content, std::string(5000, 'x') + std::string(15000, '\0'));
  ASSERT_THAT(vfs().Truncate("/f", 0), IsOk());
  EXPECT_EQ(store_->used_pages(), 0u);
  EXPECT_EQ(StatOf("/f").st_blocks, 0);
  // open(O_TRUNC) empties too.
  ASSERT_THAT(vfs().WriteFile("/f", "abc"), IsOk());
  Result<int> fd = vfs().Open("/f", O_WRONLY | O_TRUNC, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_EQ(StatOf("/f").st_size, 0);
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  EXPECT_THAT(vfs().Truncate("/", 0), FailsWith(EISDIR));
}

TEST_F(MemfsTest, Fallocate) {
  int fd = CreateFile("/f");
  ASSERT_THAT(vfs().Fallocate(fd, 0, 0, 3 * 4096), IsOk());  // allocates and grows
  EXPECT_EQ(StatOf("/f").st_size, 3 * 4096);
  EXPECT_EQ(StatOf("/f").st_blocks, 24);
  ASSERT_THAT(vfs().Fallocate(fd, FALLOC_FL_KEEP_SIZE, 3 * 4096, 2 * 4096), IsOk());
  EXPECT_EQ(StatOf("/f").st_size, 3 * 4096);  // KEEP_SIZE: beyond the end
  EXPECT_EQ(StatOf("/f").st_blocks, 40);
  EXPECT_THAT(vfs().Read(fd, 5, 0), IsOkAndHolds(std::string(5, '\0')));
  EXPECT_THAT(vfs().Lseek(fd, 0, SEEK_DATA), IsOkAndHolds(0));  // allocated is data

  ASSERT_THAT(vfs().Write(fd, std::string(3 * 4096, 'x'), 0), IsOk());
  EXPECT_EQ(store_->used_pages(), 5u);  // writes filled allocated pages
  // Punch [1000, 1000 + 2 * 4096): the middle page goes, the others are
  // zeroed in part; the size stays.
  ASSERT_THAT(vfs().Fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1000, 2 * 4096),
              IsOk());
  EXPECT_EQ(StatOf("/f").st_size, 3 * 4096);
  EXPECT_EQ(store_->used_pages(), 4u);
  Result<std::string> data = vfs().Read(fd, 3 * 4096, 0);
  ASSERT_THAT(data, IsOk());
  EXPECT_EQ(*data, std::string(1000, 'x') + std::string(2 * 4096, '\0') +
                       std::string(4096 - 1000, 'x'));
  EXPECT_THAT(vfs().Lseek(fd, 1000, SEEK_HOLE), IsOkAndHolds(4096));
  // ZERO_RANGE: zeros, allocated.
  ASSERT_THAT(vfs().Fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 10), IsOk());
  EXPECT_THAT(vfs().Read(fd, 12, 0), IsOkAndHolds(std::string(10, '\0') + "xx"));
  // PUNCH_HOLE needs KEEP_SIZE; modes tmpfs lacks are EOPNOTSUPP.
  EXPECT_THAT(vfs().Fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 10), FailsWith(EINVAL));
  EXPECT_THAT(vfs().Fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), FailsWith(EOPNOTSUPP));
  EXPECT_THAT(vfs().Close(fd), IsOk());
}

TEST_F(MemfsTest, AppendFromTwoDescriptorsNeverOverwrites) {
  FakeVfs other(&fs_->kernel());
  int a = CreateFile("/log", O_WRONLY | O_APPEND);
  Result<int> b = other.Open("/log", O_WRONLY | O_APPEND, 0);
  ASSERT_THAT(b, IsOk());
  // Each write goes to the end as memfs sees it, whatever offset the
  // kernel computed from its (possibly stale) size.
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(vfs().Write(a, "a1", 0), IsOkAndHolds(2u));
    ASSERT_THAT(other.Write(*b, "b22", 0), IsOkAndHolds(3u));
  }
  EXPECT_THAT(vfs().ReadFile("/log"), IsOkAndHolds("a1b22a1b22a1b22a1b22a1b22"));
  // Without O_APPEND the offset is taken as given.
  Result<int> c = vfs().Open("/log", O_WRONLY, 0);
  ASSERT_THAT(c, IsOk());
  ASSERT_THAT(vfs().Write(*c, "ZZ", 0), IsOk());
  EXPECT_THAT(vfs().ReadFile("/log"), IsOkAndHolds("ZZb22a1b22a1b22a1b22a1b22"));
  EXPECT_THAT(vfs().Close(a), IsOk());
  EXPECT_THAT(vfs().Close(*c), IsOk());
  EXPECT_THAT(other.Close(*b), IsOk());
}

TEST_F(MemfsTest, DeviceNodesAndFifos) {
  ASSERT_THAT(vfs().Mknod("/fifo", S_IFIFO | 0600, 0), IsOk());
  ASSERT_THAT(vfs().Mknod("/null", S_IFCHR | 0644, makedev(1, 3)), IsOk());
  ASSERT_THAT(vfs().Mknod("/disk", S_IFBLK | 0660, makedev(8, 1)), IsOk());
  ASSERT_THAT(vfs().Mknod("/sock", S_IFSOCK | 0777, 0), IsOk());
  ASSERT_THAT(vfs().Mknod("/plain", S_IFREG | 0644, 0), IsOk());
  EXPECT_EQ(StatOf("/fifo").st_mode, S_IFIFO | 0600);
  struct stat null = StatOf("/null");
  EXPECT_EQ(null.st_mode, S_IFCHR | 0644);
  EXPECT_EQ(major(null.st_rdev), 1u);
  EXPECT_EQ(minor(null.st_rdev), 3u);
  EXPECT_EQ(StatOf("/disk").st_rdev, makedev(8, 1));
  EXPECT_TRUE(S_ISSOCK(StatOf("/sock").st_mode));
  EXPECT_TRUE(S_ISREG(StatOf("/plain").st_mode));
  EXPECT_THAT(vfs().Mknod("/fifo", S_IFIFO | 0600, 0), FailsWith(EEXIST));
}

TEST_F(MemfsTest, RenameNoreplaceAndExchange) {
  ASSERT_THAT(vfs().WriteFile("/a", "A"), IsOk());
  ASSERT_THAT(vfs().WriteFile("/b", "B"), IsOk());
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs().WriteFile("/d/inside", "I"), IsOk());
  EXPECT_THAT(vfs().Rename("/a", "/b", RENAME_NOREPLACE), FailsWith(EEXIST));
  EXPECT_THAT(vfs().ReadFile("/b"), IsOkAndHolds("B"));
  ASSERT_THAT(vfs().Rename("/a", "/c", RENAME_NOREPLACE), IsOk());
  // EXCHANGE swaps two names, a file and a directory even.
  ASSERT_THAT(vfs().Rename("/c", "/b", RENAME_EXCHANGE), IsOk());
  EXPECT_THAT(vfs().ReadFile("/b"), IsOkAndHolds("A"));
  EXPECT_THAT(vfs().ReadFile("/c"), IsOkAndHolds("B"));
  ASSERT_THAT(vfs().Rename("/c", "/d", RENAME_EXCHANGE), IsOk());
  EXPECT_THAT(vfs().ReadFile("/d"), IsOkAndHolds("B"));
  EXPECT_THAT(vfs().ReadFile("/c/inside"), IsOkAndHolds("I"));
  EXPECT_THAT(vfs().Rename("/b", "/missing", RENAME_EXCHANGE), FailsWith(ENOENT));
  // Plain rename replaces, but not a non-empty directory.
  ASSERT_THAT(vfs().Mkdir("/e", 0755), IsOk());
  EXPECT_THAT(vfs().Rename("/e", "/c", 0), FailsWith(ENOTEMPTY));
  ASSERT_THAT(vfs().Rename("/b", "/d", 0), IsOk());
  EXPECT_THAT(vfs().ReadFile("/d"), IsOkAndHolds("A"));
  EXPECT_THAT(vfs().ListDir("/"), IsOkAndHolds(ElementsAre("c", "d", "e")));
}

TEST_F(MemfsTest, HardLinkCounts) {
  ASSERT_THAT(vfs().WriteFile("/f", "x"), IsOk());
  EXPECT_EQ(StatOf("/f").st_nlink, 1u);
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs().Link("/f", "/d/g"), IsOk());
  ASSERT_THAT(vfs().Link("/f", "/h"), IsOk());
  EXPECT_EQ(StatOf("/f").st_nlink, 3u);
  EXPECT_EQ(StatOf("/d/g").st_ino, StatOf("/f").st_ino);
  ASSERT_THAT(vfs().Unlink("/f"), IsOk());
  EXPECT_EQ(StatOf("/h").st_nlink, 2u);
  EXPECT_THAT(vfs().Link("/d", "/d2"), FailsWith(EPERM));
  // Directories: 2, plus one per subdirectory.
  EXPECT_EQ(StatOf("/").st_nlink, 3u);
  ASSERT_THAT(vfs().Mkdir("/d/sub", 0755), IsOk());
  EXPECT_EQ(StatOf("/d").st_nlink, 3u);
  ASSERT_THAT(vfs().Rename("/d/sub", "/sub", 0), IsOk());
  EXPECT_EQ(StatOf("/d").st_nlink, 2u);
  EXPECT_EQ(StatOf("/").st_nlink, 4u);
}

TEST_F(MemfsTest, TimesFollowPosix) {
  ASSERT_THAT(vfs().WriteFile("/f", "x"), IsOk());
  const struct timespec past[2] = {kPast, kPast};
  ASSERT_THAT(vfs().Utimens("/f", past), IsOk());
  struct stat st = StatOf("/f");
  EXPECT_EQ(st.st_atim.tv_sec, kPast.tv_sec);
  EXPECT_EQ(st.st_mtim.tv_sec, kPast.tv_sec);
  EXPECT_TRUE(After(st.st_ctim, kPast));  // utimensat changes ctime to now
  // UTIME_OMIT leaves one, UTIME_NOW sets the other.
  const struct timespec now_and_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_THAT(vfs().Utimens("/f", now_and_omit), IsOk());
  st = StatOf("/f");
  EXPECT_TRUE(After(st.st_atim, kPast));
  EXPECT_EQ(st.st_mtim.tv_sec, kPast.tv_sec);

  // chmod and chown: ctime only.
  ASSERT_THAT(vfs().Utimens("/f", past), IsOk());
  struct stat before = StatOf("/f");
  absl::SleepFor(absl::Milliseconds(2));
  ASSERT_THAT(vfs().Chmod("/f", 0600), IsOk());
  st = StatOf("/f");
  EXPECT_EQ(st.st_mode, S_IFREG | 0600);
  EXPECT_EQ(st.st_mtim.tv_sec, kPast.tv_sec);
  EXPECT_TRUE(After(st.st_ctim, before.st_ctim));
  before = st;
  absl::SleepFor(absl::Milliseconds(2));
  ASSERT_THAT(vfs().Chown("/f", 1234, 5678), IsOk());
  st = StatOf("/f");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_TRUE(After(st.st_ctim, before.st_ctim));

  // A write: mtime and ctime. A link: ctime of the file, mtime of the
  // directory.
  Result<int> fd = vfs().Open("/f", O_WRONLY, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs().Write(*fd, "y", 0), IsOk());
  EXPECT_TRUE(After(StatOf("/f").st_mtim, kPast));
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  ASSERT_THAT(vfs().Utimens("/f", past), IsOk());
  ASSERT_THAT(vfs().Utimens("/", past), IsOk());
  before = StatOf("/f");
  absl::SleepFor(absl::Milliseconds(2));
  ASSERT_THAT(vfs().Link("/f", "/g"), IsOk());
  st = StatOf("/f");
  EXPECT_EQ(st.st_mtim.tv_sec, kPast.tv_sec);
  EXPECT_TRUE(After(st.st_ctim, before.st_ctim));
  EXPECT_TRUE(After(StatOf("/").st_mtim, kPast));
  // Truncation: mtime and ctime.
  ASSERT_THAT(vfs().Utimens("/f", past), IsOk());
  ASSERT_THAT(vfs().Truncate("/f", 0), IsOk());
  EXPECT_TRUE(After(StatOf("/f").st_mtim, kPast));
  // A rename changes the moved file's ctime and both directories' mtime.
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs().Utimens("/d", past), IsOk());
  before = StatOf("/g");
  absl::SleepFor(absl::Milliseconds(2));
  ASSERT_THAT(vfs().Rename("/g", "/d/g", 0), IsOk());
  EXPECT_TRUE(After(StatOf("/d/g").st_ctim, before.st_ctim));
  EXPECT_TRUE(After(StatOf("/d").st_mtim, kPast));
}

TEST_F(MemfsTest, AtimeIsRelatime) {
  ASSERT_THAT(vfs().WriteFile("/f", "data"), IsOk());
  const struct timespec past[2] = {kPast, {0, UTIME_OMIT}};
  ASSERT_THAT(vfs().Utimens("/f", past), IsOk());  // atime older than mtime
  EXPECT_THAT(vfs().ReadFile("/f"), IsOkAndHolds("data"));
  struct stat st = StatOf("/f");
  EXPECT_TRUE(After(st.st_atim, kPast));
  // Newer than mtime and ctime, and not a day old: reads leave it.
  absl::SleepFor(absl::Milliseconds(2));
  EXPECT_THAT(vfs().ReadFile("/f"), IsOkAndHolds("data"));
  EXPECT_EQ(StatOf("/f").st_atim.tv_nsec, st.st_atim.tv_nsec);
}

TEST_F(MemfsTest, Xattrs) {
  ASSERT_THAT(vfs().WriteFile("/f", "x"), IsOk());
  ASSERT_THAT(vfs().Setxattr("/f", "user.color", "blue", 0), IsOk());
  ASSERT_THAT(vfs().Setxattr("/f", "trusted.level", "7", 0), IsOk());
  EXPECT_THAT(vfs().Getxattr("/f", "user.color"), IsOkAndHolds("blue"));
  EXPECT_THAT(vfs().GetxattrSize("/f", "user.color"), IsOkAndHolds(4u));
  EXPECT_THAT(vfs().Listxattr("/f"),
              IsOkAndHolds(UnorderedElementsAre("user.color", "trusted.level")));
  EXPECT_THAT(vfs().Setxattr("/f", "user.color", "red", XATTR_CREATE), FailsWith(EEXIST));
  EXPECT_THAT(vfs().Setxattr("/f", "user.size", "1", XATTR_REPLACE), FailsWith(ENODATA));
  ASSERT_THAT(vfs().Setxattr("/f", "user.color", "red", XATTR_REPLACE), IsOk());
  EXPECT_THAT(vfs().Getxattr("/f", "user.color"), IsOkAndHolds("red"));
  EXPECT_THAT(vfs().Getxattr("/f", "user.none"), FailsWith(ENODATA));
  ASSERT_THAT(vfs().Removexattr("/f", "user.color"), IsOk());
  EXPECT_THAT(vfs().Removexattr("/f", "user.color"), FailsWith(ENODATA));
  EXPECT_THAT(vfs().Listxattr("/f"), IsOkAndHolds(ElementsAre("trusted.level")));
  EXPECT_THAT(vfs().Setxattr("/f", "other.x", "1", 0), FailsWith(EOPNOTSUPP));
  // Directories hold them too.
  ASSERT_THAT(vfs().Setxattr("/", "user.dir", "yes", 0), IsOk());
  EXPECT_THAT(vfs().Getxattr("/", "user.dir"), IsOkAndHolds("yes"));
}

TEST_F(MemfsTest, UnlinkedOpenFileKeepsItsDataUntilTheLastClose) {
  int fd = CreateFile("/f");
  ASSERT_THAT(vfs().Write(fd, std::string(8192, 'd'), 0), IsOk());
  EXPECT_EQ(store_->used_pages(), 2u);
  ASSERT_THAT(vfs().Unlink("/f"), IsOk());
  EXPECT_THAT(vfs().Stat("/f"), FailsWith(ENOENT));
  EXPECT_THAT(vfs().Read(fd, 4, 8188), IsOkAndHolds("dddd"));
  ASSERT_THAT(vfs().Write(fd, "more", 8192), IsOk());
  EXPECT_EQ(store_->used_pages(), 3u);  // still counted, as on tmpfs
  EXPECT_THAT(vfs().Close(fd), IsOk());
  // The kernel forgets the node after the RELEASE; the next request is
  // served after that FORGET (one worker), and sees the space back.
  ASSERT_THAT(vfs().Statfs("/"), IsOk());
  EXPECT_EQ(store_->used_pages(), 0u);
}

TEST_F(MemfsTest, PosixLocksBetweenTwoProcesses) {
  FakeVfs other(&fs_->kernel());
  int a = CreateFile("/f");
  Result<int> b = other.Open("/f", O_RDWR, 0);
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(vfs().Setlk(a, Range(F_WRLCK, 0, 100), false), IsOk());
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 50, 10), false), FailsWith(EAGAIN));
  EXPECT_THAT(other.Setlk(*b, Range(F_RDLCK, 99, 1), false), FailsWith(EAGAIN));
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 100, 10), false), IsOk());  // no overlap
  Result<struct flock> who = other.Getlk(*b, Range(F_RDLCK, 0, 0));
  ASSERT_THAT(who, IsOk());
  EXPECT_EQ(who->l_type, F_WRLCK);
  EXPECT_EQ(who->l_start, 0);
  EXPECT_EQ(who->l_len, 100);
  // The owner never conflicts with itself; unlocking the middle splits.
  EXPECT_EQ(vfs().Getlk(a, Range(F_WRLCK, 0, 100))->l_type, F_UNLCK);
  ASSERT_THAT(vfs().Setlk(a, Range(F_UNLCK, 40, 20), false), IsOk());
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 40, 20), false), IsOk());
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 39, 1), false), FailsWith(EAGAIN));
  // Read locks share.
  ASSERT_THAT(other.Setlk(*b, Range(F_UNLCK, 0, 0), false), IsOk());
  ASSERT_THAT(vfs().Setlk(a, Range(F_RDLCK, 0, 0), false), IsOk());  // converts
  EXPECT_THAT(other.Setlk(*b, Range(F_RDLCK, 0, 0), false), IsOk());
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 0, 0), false), FailsWith(EAGAIN));
  // Closing any descriptor drops the process's locks (FLUSH's lock owner).
  int a2 = vfs().Open("/f", O_RDONLY, 0).value_or(-1);
  ASSERT_THAT(vfs().Close(a2), IsOk());
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 0, 0), false), IsOk());
  EXPECT_THAT(vfs().Close(a), IsOk());
  EXPECT_THAT(other.Close(*b), IsOk());
}

TEST_F(MemfsTest, FlockBelongsToTheOpenFile) {
  int a = CreateFile("/f");
  int b = vfs().Open("/f", O_RDONLY, 0).value_or(-1);
  ASSERT_THAT(vfs().Flock(a, LOCK_EX | LOCK_NB), IsOk());
  EXPECT_THAT(vfs().Flock(b, LOCK_SH | LOCK_NB), FailsWith(EWOULDBLOCK));
  ASSERT_THAT(vfs().Flock(a, LOCK_SH | LOCK_NB), IsOk());  // converts
  EXPECT_THAT(vfs().Flock(b, LOCK_SH | LOCK_NB), IsOk());
  EXPECT_THAT(vfs().Flock(b, LOCK_EX | LOCK_NB), FailsWith(EWOULDBLOCK));
  // flock and fcntl locks do not see each other.
  EXPECT_THAT(vfs().Setlk(b, Range(F_RDLCK, 0, 0), false), IsOk());
  // The last close of `a` releases its flock.
  ASSERT_THAT(vfs().Close(a), IsOk());
  EXPECT_THAT(vfs().Flock(b, LOCK_EX | LOCK_NB), IsOk());
  EXPECT_THAT(vfs().Close(b), IsOk());
}

class MemfsWaitingLockTest : public MemfsTest {
 protected:
  MemfsWaitingLockTest() : MemfsTest({}, /*workers=*/4) {}
};

TEST_F(MemfsWaitingLockTest, SetlkwWaitsForTheUnlock) {
  FakeVfs other(&fs_->kernel());
  int a = CreateFile("/f");
  Result<int> b = other.Open("/f", O_RDWR, 0);
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(vfs().Setlk(a, Range(F_WRLCK, 0, 0), false), IsOk());
  std::atomic<bool> done{false};
  Errno waited;
  std::thread waiter([&] {
    waited = other.Setlk(*b, Range(F_WRLCK, 0, 0), /*wait=*/true);
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(done.load());
  ASSERT_THAT(vfs().Setlk(a, Range(F_UNLCK, 0, 0), false), IsOk());
  waiter.join();
  EXPECT_THAT(waited, IsOk());
  EXPECT_THAT(vfs().Setlk(a, Range(F_RDLCK, 0, 0), false), FailsWith(EAGAIN));
  EXPECT_THAT(vfs().Close(a), IsOk());
  EXPECT_THAT(other.Close(*b), IsOk());
}

TEST_F(MemfsWaitingLockTest, InterruptEndsTheWait) {
  int a = CreateFile("/f");
  ASSERT_THAT(vfs().Setlk(a, Range(F_WRLCK, 0, 0), false), IsOk());
  Result<FakeVfs::OpenFile> file = vfs().File(a);
  ASSERT_THAT(file, IsOk());
  abi::fuse_file_lock lk{.start = 0, .end = INT64_MAX, .type = F_WRLCK, .pid = 1};
  FakeKernel::Ticket t = fs_->kernel().Start(
      FuseRequest::Setlk(file->nodeid, file->fh, /*owner=*/0xabc, lk, /*wait=*/true));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(fs_->kernel().Done(t));
  fs_->kernel().Interrupt(t);
  EXPECT_EQ(fs_->kernel().Await(t).error(), Errno(EINTR));
  EXPECT_THAT(vfs().Close(a), IsOk());
}

TEST_F(MemfsWaitingLockTest, AWaitThatClosesACycleIsEdeadlk) {
  FakeVfs other(&fs_->kernel());
  int a = CreateFile("/f");
  Result<int> b = other.Open("/f", O_RDWR, 0);
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(vfs().Setlk(a, Range(F_WRLCK, 0, 10), false), IsOk());
  ASSERT_THAT(other.Setlk(*b, Range(F_WRLCK, 10, 10), false), IsOk());
  std::atomic<bool> done{false};
  Errno first;
  std::thread waiter([&] {
    first = vfs().Setlk(a, Range(F_WRLCK, 10, 1), /*wait=*/true);  // waits for other
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  ASSERT_FALSE(done.load());
  // other now waiting for us would be a deadlock.
  EXPECT_THAT(other.Setlk(*b, Range(F_WRLCK, 0, 1), /*wait=*/true), FailsWith(EDEADLK));
  ASSERT_THAT(other.Setlk(*b, Range(F_UNLCK, 0, 0), false), IsOk());
  waiter.join();
  EXPECT_THAT(first, IsOk());
  EXPECT_THAT(vfs().Close(a), IsOk());
  EXPECT_THAT(other.Close(*b), IsOk());
}

class MemfsLimitTest : public MemfsTest {
 protected:
  MemfsLimitTest() : MemfsTest({.max_bytes = 16 * 4096, .max_inodes = 6}) {}
};

TEST_F(MemfsLimitTest, StatfsShowsTheLimits) {
  Result<struct statvfs> st = vfs().Statfs("/");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->f_bsize, 4096u);
  EXPECT_EQ(st->f_frsize, 4096u);
  EXPECT_EQ(st->f_blocks, 16u);
  EXPECT_EQ(st->f_bfree, 16u);
  EXPECT_EQ(st->f_bavail, 16u);
  EXPECT_EQ(st->f_files, 6u);
  EXPECT_EQ(st->f_ffree, 5u);  // the root
  EXPECT_EQ(st->f_namemax, 255u);
  ASSERT_THAT(vfs().WriteFile("/f", std::string(3 * 4096 + 1, 'x')), IsOk());
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  st = vfs().Statfs("/d");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->f_bfree, 12u);
  EXPECT_EQ(st->f_bavail, 12u);
  EXPECT_EQ(st->f_ffree, 3u);
}

TEST_F(MemfsLimitTest, WritesAndFallocatePastTheSizeAreEnospc) {
  int fd = CreateFile("/f");
  ASSERT_THAT(vfs().Write(fd, std::string(14 * 4096, 'x'), 0), IsOkAndHolds(14 * 4096u));
  // Four pages asked, two left: a short write, then ENOSPC.
  EXPECT_THAT(vfs().Write(fd, std::string(4 * 4096, 'y'), 14 * 4096), IsOkAndHolds(2 * 4096u));
  EXPECT_THAT(vfs().Write(fd, "z", 16 * 4096), FailsWith(ENOSPC));
  EXPECT_EQ(vfs().Statfs("/")->f_bfree, 0u);
  // Rewriting pages it has needs no space; a hole via truncate needs none.
  EXPECT_THAT(vfs().Write(fd, "rewrite", 100), IsOkAndHolds(7u));
  EXPECT_THAT(vfs().Truncate("/f", uint64_t{1} << 40), IsOk());
  EXPECT_THAT(vfs().Fallocate(fd, 0, 20 * 4096, 4096), FailsWith(ENOSPC));
  EXPECT_EQ(StatOf("/f").st_size, int64_t{1} << 40);  // fallocate changed nothing
  // Freeing space makes room again.
  ASSERT_THAT(vfs().Fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4 * 4096),
              IsOk());
  EXPECT_THAT(vfs().Fallocate(fd, FALLOC_FL_KEEP_SIZE, 20 * 4096, 4 * 4096), IsOk());
  EXPECT_THAT(vfs().Fallocate(fd, 0, 30 * 4096, 4096), FailsWith(ENOSPC));
  EXPECT_THAT(vfs().Close(fd), IsOk());
}

TEST_F(MemfsLimitTest, CreatingPastTheInodeLimitIsEnospc) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_THAT(vfs().Mknod(absl::StrCat("/n", i), S_IFREG | 0644, 0), IsOk()) << i;
  }
  EXPECT_THAT(vfs().Mkdir("/d", 0755), FailsWith(ENOSPC));
  EXPECT_THAT(vfs().Create("/f", 0644), FailsWith(ENOSPC));
  EXPECT_THAT(vfs().Symlink("x", "/l"), FailsWith(ENOSPC));
  EXPECT_THAT(vfs().Link("/n0", "/hard"), IsOk());  // a name, not an inode
  ASSERT_THAT(vfs().Unlink("/n1"), IsOk());
  EXPECT_THAT(vfs().Mkdir("/d", 0755), IsOk());
}

TEST(MemfsLocksTest, WithoutPosixLocksOpensCarryNoflushAndLocksStayInTheKernel) {
  for (bool posix_locks : {true, false}) {
    SCOPED_TRACE(posix_locks ? "posix_locks" : "kernel's locks");
    MemFsOptions tree;
    tree.posix_locks = posix_locks;
    NodefsFakeKernel fs(MemDir::NewRoot(tree), MemfsOptions(Options(), posix_locks));
    EXPECT_EQ(fs.kernel().connection().Has(abi::kInitPosixLocks), posix_locks);
    EXPECT_TRUE(fs.kernel().connection().Has(abi::kInitFlockLocks));
    Result<int> created = fs.vfs().Create("/f", 0644, O_RDWR);
    ASSERT_THAT(created, IsOk());
    Result<int> opened = fs.vfs().Open("/f", O_RDONLY, 0);
    ASSERT_THAT(opened, IsOk());
    for (int fd : {*created, *opened}) {
      Result<FakeVfs::OpenFile> file = fs.vfs().File(fd);
      ASSERT_THAT(file, IsOk());
      EXPECT_EQ((file->open_flags & abi::kOpenNoflush) != 0, !posix_locks);
      EXPECT_THAT(fs.vfs().Close(fd), IsOk());
    }
  }
}

TEST(ParseByteSizeTest, TakesTmpfsSizes) {
  EXPECT_EQ(*ParseByteSize("0"), 0u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("1"), 4096u);  // whole pages
  EXPECT_EQ(*ParseByteSize("64k"), 64u << 10);
  EXPECT_EQ(*ParseByteSize("64M"), 64u << 20);
  EXPECT_EQ(*ParseByteSize("2g"), uint64_t{2} << 30);
  EXPECT_EQ(*ParseByteSize("1T"), uint64_t{1} << 40);
  ASSERT_TRUE(ParseByteSize("50%").ok());
  EXPECT_GT(*ParseByteSize("50%"), 0u);
  for (const char* bad : {"", "M", "-1M", "12Q", "1.5G", "0%", "101%", "x%", "99999999999e"}) {
    absl::StatusOr<uint64_t> size = ParseByteSize(bad);
    EXPECT_FALSE(size.ok()) << bad;
    EXPECT_THAT(std::string(size.status().message()), ::testing::HasSubstr("bad size"));
  }
  EXPECT_EQ(MemfsLimits(64 << 20, 0).max_inodes, (64u << 20) / 4096);
  EXPECT_EQ(MemfsLimits(0, 0).max_inodes, 0u);
  EXPECT_EQ(MemfsLimits(0, 7).max_inodes, 7u);
}

}  // namespace
}  // namespace fusekit::examples
