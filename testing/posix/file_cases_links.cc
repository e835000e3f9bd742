// Cases on a file's names and its life: unlink while open, hard links, and
// a size-limited filesystem filling up (ENOSPC) and getting its space back.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

using posix::PRead;

using posix::FStat;

// Free bytes statfs reports for unprivileged users (f_bavail), or 0.
uint64_t FreeBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

TEST_P(PosixTest, UnlinkWhileOpenKeepsTheFile) {
  const std::string f = Path("doomed");
  ASSERT_TRUE(posix::WriteFile(f, "still here"));
  int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const ino_t ino = FStat(fd).st_ino;
  ASSERT_EQ(::unlink(f.c_str()), 0);
  EXPECT_FALSE(posix::Exists(f));
  errno = 0;
  EXPECT_EQ(::open(f.c_str(), O_RDONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, ENOENT);
  // The open file lives on, with no links.
  struct stat st = FStat(fd);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(st.st_ino, ino);
  EXPECT_EQ(st.st_size, 10);
  EXPECT_EQ(PRead(fd, 64, 0), "still here");
  ASSERT_EQ(::pwrite(fd, ", and more", 10, 10), 10);
  EXPECT_EQ(FStat(fd).st_size, 20);
  EXPECT_EQ(PRead(fd, 64, 0), "still here, and more");
  ASSERT_EQ(::ftruncate(fd, 5), 0);
  EXPECT_EQ(PRead(fd, 64, 0), "still");
  EXPECT_EQ(::fchmod(fd, 0600), 0);
  EXPECT_EQ(FStat(fd).st_mode & 07777, 0600u);
  // Opening it again through /proc/self/fd reaches the same file.
  const std::string proc = absl::StrCat("/proc/self/fd/", fd);
  int again = ::open(proc.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(again, 0) << strerror(errno);
  EXPECT_EQ(FStat(again).st_ino, ino);
  EXPECT_EQ(PRead(again, 64, 0), "still");
  ::close(again);
  // A new file under the old name is another file.
  ASSERT_TRUE(posix::WriteFile(f, "new"));
  EXPECT_EQ(PRead(fd, 64, 0), "still");
  EXPECT_EQ(posix::ReadFile(f), "new");
  EXPECT_EQ(FStat(fd).st_nlink, 0u);
  ::close(fd);
  EXPECT_EQ(posix::ReadFile(f), "new");
}

TEST_P(PosixTest, UnlinkedOpenFileGivesItsSpaceBackAtLastClose) {
  if (target().size_limit_bytes == 0) {
    GTEST_SKIP() << target().name << " declares no size limit (PosixTarget::size_limit_bytes)";
  }
  POSIX_REQUIRE("statfs_limit");
  const uint64_t free_at_start = FreeBytes(root());
  ASSERT_GT(free_at_start, 0u);
  constexpr size_t kSize = 4 << 20;
  const std::string f = Path("doomed");
  ASSERT_TRUE(posix::WriteFile(f, std::string(kSize, 'x')));
  EXPECT_LE(FreeBytes(root()), free_at_start - kSize);
  int a = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  int b = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(::unlink(f.c_str()), 0);
  // Still held by the open descriptors.
  EXPECT_LE(FreeBytes(root()), free_at_start - kSize);
  ::close(a);
  EXPECT_LE(FreeBytes(root()), free_at_start - kSize);
  EXPECT_EQ(PRead(b, 4, kSize - 4), "xxxx");
  // The last close frees it (on a FUSE filesystem a moment later: the
  // kernel's RELEASE and FORGET follow close(2)).
  ::close(b);
  EXPECT_TRUE(posix::Eventually([&] { return FreeBytes(root()) >= free_at_start; }))
      << FreeBytes(root()) << " bytes free, " << free_at_start << " at the start";
}

TEST_P(PosixTest, HardLinks) {
  POSIX_REQUIRE("hardlink");
  ASSERT_TRUE(posix::WriteFile(Path("f"), "shared"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  const ino_t ino = posix::LStat(Path("f")).st_ino;
  ASSERT_EQ(::link(Path("f").c_str(), Path("d/g").c_str()), 0) << strerror(errno);
  ASSERT_EQ(::link(Path("f").c_str(), Path("h").c_str()), 0);
  // One inode, three names, each counting.
  EXPECT_EQ(posix::LStat(Path("f")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(Path("d/g")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(Path("d/g")).st_ino, ino);
  EXPECT_EQ(posix::LStat(Path("h")).st_ino, ino);
  // A write through one name shows through the others.
  int fd = ::open(Path("h").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "!", 1), 1);
  ::close(fd);
  EXPECT_EQ(posix::ReadFile(Path("d/g")), "shared!");
  EXPECT_EQ(posix::LStat(Path("f")).st_size, 7);
  // So does a change of mode (one inode's metadata).
  ASSERT_EQ(::chmod(Path("f").c_str(), 0600), 0);
  EXPECT_EQ(posix::LStat(Path("d/g")).st_mode & 07777, 0600u);
  // Unlinking one name keeps the data under the others.
  ASSERT_EQ(::unlink(Path("f").c_str()), 0);
  EXPECT_EQ(posix::LStat(Path("d/g")).st_nlink, 2u);
  EXPECT_EQ(posix::ReadFile(Path("d/g")), "shared!");
  ASSERT_EQ(::unlink(Path("h").c_str()), 0);
  EXPECT_EQ(posix::LStat(Path("d/g")).st_nlink, 1u);
  EXPECT_EQ(posix::ReadFile(Path("d/g")), "shared!");
  // A link made while a descriptor is open counts in its fstat.
  fd = ::open(Path("d/g").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::link(Path("d/g").c_str(), Path("back").c_str()), 0);
  EXPECT_EQ(FStat(fd).st_nlink, 2u);
  ::close(fd);
  // Refusals: an existing name, a directory, a missing source.
  errno = 0;
  EXPECT_EQ(::link(Path("d/g").c_str(), Path("back").c_str()), -1);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(::link(Path("d").c_str(), Path("dirlink").c_str()), -1);
  EXPECT_EQ(errno, EPERM);
  errno = 0;
  EXPECT_EQ(::link(Path("missing").c_str(), Path("x").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  errno = 0;
  EXPECT_EQ(::link(Path("d/g").c_str(), Path("nodir/x").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(posix::Exists(Path("x")));
}

TEST_P(PosixTest, LinkToAnUnlinkedOpenFileIsRefused) {
  POSIX_REQUIRE("hardlink");
  const std::string f = Path("doomed");
  ASSERT_TRUE(posix::WriteFile(f, "data"));
  int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::unlink(f.c_str()), 0);
  // A file whose last link is gone cannot be linked back (only an
  // O_TMPFILE file can).
  const std::string proc = absl::StrCat("/proc/self/fd/", fd);
  errno = 0;
  EXPECT_EQ(::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, Path("revived").c_str(),
                     AT_SYMLINK_FOLLOW),
            -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(posix::Exists(Path("revived")));
  EXPECT_EQ(FStat(fd).st_nlink, 0u);
  EXPECT_EQ(PRead(fd, 16, 0), "data");
  // A file that still has a name can be linked that way.
  ASSERT_TRUE(posix::WriteFile(Path("alive"), "here"));
  int live = ::open(Path("alive").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(live, 0);
  const std::string live_proc = absl::StrCat("/proc/self/fd/", live);
  EXPECT_EQ(::linkat(AT_FDCWD, live_proc.c_str(), AT_FDCWD, Path("second").c_str(),
                     AT_SYMLINK_FOLLOW),
            0)
      << strerror(errno);
  EXPECT_EQ(posix::ReadFile(Path("second")), "here");
  EXPECT_EQ(FStat(live).st_nlink, 2u);
  ::close(live);
  ::close(fd);
}

TEST_P(PosixTest, FillingTheFilesystemGivesEnospc) {
  if (target().size_limit_bytes == 0) {
    GTEST_SKIP() << target().name << " declares no size limit (PosixTarget::size_limit_bytes)";
  }
  POSIX_REQUIRE("statfs_limit");
  const uint64_t limit = target().size_limit_bytes;
  struct statvfs sv {};
  ASSERT_EQ(::statvfs(root().c_str(), &sv), 0);
  // statfs reports the declared limit.
  EXPECT_EQ(static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize, limit);
  const uint64_t free_at_start = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  ASSERT_GT(free_at_start, 0u);
  ASSERT_LE(free_at_start, limit);

  const std::string f = Path("big");
  int fd = ::open(f.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string chunk(1 << 20, 'x');
  uint64_t total = 0;
  ssize_t n = 0;
  int write_errno = 0;
  // Bounded: twice the limit would mean the limit is not enforced.
  while (total <= 2 * limit) {
    n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) {
      write_errno = errno;
      break;
    }
    total += static_cast<uint64_t>(n);
  }
  ASSERT_EQ(n, -1) << "wrote " << total << " bytes into " << limit;
  EXPECT_EQ(write_errno, ENOSPC) << strerror(write_errno);
  // Everything that was free went in (to within a page), nothing more.
  EXPECT_LE(total, free_at_start);
  EXPECT_GE(total + 4096, free_at_start);
  EXPECT_EQ(FStat(fd).st_size, static_cast<off_t>(total));
  EXPECT_LT(FreeBytes(root()), 4096u);
  // What was written before ENOSPC is intact.
  int rd = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(rd, 0);
  EXPECT_EQ(PRead(rd, 8, static_cast<off_t>(total) - 8), "xxxxxxxx");
  ::close(rd);
  // Allocating more fails too; a write inside the allocated space works.
  if (UnsupportedReason("fallocate").empty()) {
    errno = 0;
    EXPECT_EQ(::fallocate(fd, 0, static_cast<off_t>(total), 1 << 20), -1);
    EXPECT_EQ(errno, ENOSPC);
  }
  EXPECT_EQ(::pwrite(fd, "y", 1, 0), 1);
  // Truncating up makes a hole, which needs no space.
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(total) + (10 << 20)), 0) << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, static_cast<off_t>(total) + (10 << 20));
  ::close(fd);
  // Removing the file gives the space back (on a FUSE filesystem a moment
  // after the unlink: the inode goes with the kernel's FORGET).
  ASSERT_EQ(::unlink(f.c_str()), 0);
  EXPECT_TRUE(posix::Eventually([&] { return FreeBytes(root()) >= free_at_start; }))
      << FreeBytes(root()) << " bytes free, " << free_at_start << " at the start";
  // And it can be used again.
  ASSERT_TRUE(posix::WriteFile(Path("again"), chunk));
  EXPECT_EQ(posix::LStat(Path("again")).st_size, static_cast<off_t>(chunk.size()));
}

}  // namespace
}  // namespace fusekit
