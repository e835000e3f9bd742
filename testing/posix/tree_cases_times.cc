// Cases on timestamps: utimensat with explicit times, UTIME_NOW and
// UTIME_OMIT; which calls move mtime and ctime (of the file and of its
// directories). Only orderings between timestamps of the filesystem under
// test are checked, never elapsed time: a case sleeps a few milliseconds
// between steps whose timestamps must differ (the kernel's clock ticks
// every few ms; tmpfs and fusekit keep nanoseconds).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

void Tick() { ::usleep(20 * 1000); }

bool Before(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}
bool Same(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

std::string Show(const struct timespec& t) {
  return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
}

#define EXPECT_BEFORE(a, b) EXPECT_TRUE(Before(a, b)) << #a " " << Show(a) << " vs " #b " " << Show(b)
#define EXPECT_SAME(a, b) EXPECT_TRUE(Same(a, b)) << #a " " << Show(a) << " vs " #b " " << Show(b)

TEST_P(PosixTest, UtimensatExplicitNowAndOmit) {
  const std::string f = Path("f");
  ASSERT_TRUE(posix::WriteFile(f, "x"));
  // Explicit times, to the nanosecond, in the past.
  const struct timespec set[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  const struct stat before = posix::LStat(f);
  Tick();
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), set, 0), 0) << strerror(errno);
  struct stat st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, set[0]);
  EXPECT_SAME(st.st_mtim, set[1]);
  // Setting times is a change: ctime moves on.
  EXPECT_BEFORE(before.st_ctim, st.st_ctim);
  // UTIME_OMIT leaves one alone.
  const struct timespec only_atime[2] = {{1100000000, 5}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), only_atime, 0), 0);
  st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, only_atime[0]);
  EXPECT_SAME(st.st_mtim, set[1]);
  const struct timespec only_mtime[2] = {{0, UTIME_OMIT}, {1300000000, 7}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), only_mtime, 0), 0);
  st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, only_atime[0]);
  EXPECT_SAME(st.st_mtim, only_mtime[1]);
  // Both omitted: nothing changes, not even ctime.
  const struct stat unchanged_before = posix::LStat(f);
  Tick();
  const struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), omit, 0), 0);
  st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, unchanged_before.st_atim);
  EXPECT_SAME(st.st_mtim, unchanged_before.st_mtim);
  EXPECT_SAME(st.st_ctim, unchanged_before.st_ctim);
  // UTIME_NOW: the current time, later than the file's last change (a
  // reference taken from the filesystem itself).
  const struct stat reference = posix::LStat(f);
  Tick();
  const struct timespec now_mtime[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), now_mtime, 0), 0);
  st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, only_atime[0]);
  EXPECT_BEFORE(reference.st_ctim, st.st_mtim);
  EXPECT_BEFORE(reference.st_ctim, st.st_ctim);
  const struct timespec now_both[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), now_both, 0), 0);
  st = posix::LStat(f);
  EXPECT_BEFORE(reference.st_ctim, st.st_atim);
  // A null times array means now for both.
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), set, 0), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), nullptr, 0), 0);
  st = posix::LStat(f);
  EXPECT_BEFORE(reference.st_ctim, st.st_atim);
  EXPECT_BEFORE(reference.st_ctim, st.st_mtim);
  // On a directory and, through futimens, an open file too.
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::utimensat(AT_FDCWD, Path("d").c_str(), set, 0), 0);
  EXPECT_SAME(posix::LStat(Path("d")).st_mtim, set[1]);
  int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::futimens(fd, only_mtime), 0);
  ::close(fd);
  EXPECT_SAME(posix::LStat(f).st_mtim, only_mtime[1]);
  // Timestamps before 1970 are kept as well.
  const struct timespec old[2] = {{-100, 0}, {-86400, 500}};
  ASSERT_EQ(::utimensat(AT_FDCWD, f.c_str(), old, 0), 0);
  st = posix::LStat(f);
  EXPECT_SAME(st.st_atim, old[0]);
  EXPECT_SAME(st.st_mtim, old[1]);
}

TEST_P(PosixTest, WriteAndTruncateMoveMtimeAndCtime) {
  const std::string f = Path("f");
  ASSERT_TRUE(posix::WriteFile(f, "x"));
  int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct stat s0 {};
  ASSERT_EQ(::fstat(fd, &s0), 0);
  Tick();
  ASSERT_EQ(::pwrite(fd, "more", 4, 1), 4);
  struct stat s1 {};
  ASSERT_EQ(::fstat(fd, &s1), 0);
  EXPECT_BEFORE(s0.st_mtim, s1.st_mtim);
  EXPECT_BEFORE(s0.st_ctim, s1.st_ctim);
  // Reading changes neither.
  char buf[8];
  ASSERT_EQ(::pread(fd, buf, sizeof(buf), 0), 5);
  struct stat s2 = posix::LStat(f);
  EXPECT_SAME(s2.st_mtim, s1.st_mtim);
  EXPECT_SAME(s2.st_ctim, s1.st_ctim);
  // ftruncate, to another size, moves both.
  Tick();
  ASSERT_EQ(::ftruncate(fd, 2), 0);
  struct stat s3 = posix::LStat(f);
  EXPECT_BEFORE(s2.st_mtim, s3.st_mtim);
  EXPECT_BEFORE(s2.st_ctim, s3.st_ctim);
  ::close(fd);
  // So does opening with O_TRUNC a non-empty file.
  Tick();
  ASSERT_TRUE(posix::WriteFile(f, ""));
  struct stat s4 = posix::LStat(f);
  EXPECT_BEFORE(s3.st_mtim, s4.st_mtim);
  EXPECT_BEFORE(s3.st_ctim, s4.st_ctim);
}

TEST_P(PosixTest, ChmodAndChownMoveCtimeOnly) {
  const std::string f = Path("f");
  ASSERT_TRUE(posix::WriteFile(f, "x"));
  const struct stat s0 = posix::LStat(f);
  Tick();
  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);
  const struct stat s1 = posix::LStat(f);
  EXPECT_BEFORE(s0.st_ctim, s1.st_ctim);
  EXPECT_SAME(s0.st_mtim, s1.st_mtim);
  EXPECT_SAME(s0.st_atim, s1.st_atim);
  if (OtherUsersUnavailableReason().empty() && UnsupportedReason("chown").empty()) {
    Tick();
    ASSERT_EQ(::chown(f.c_str(), 1234, 1234), 0);
    const struct stat s2 = posix::LStat(f);
    EXPECT_BEFORE(s1.st_ctim, s2.st_ctim);
    EXPECT_SAME(s1.st_mtim, s2.st_mtim);
  }
}

TEST_P(PosixTest, RenameMovesCtimeAndParentsMtime) {
  ASSERT_EQ(::mkdir(Path("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("b").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("a/f"), "x"));
  const struct stat f0 = posix::LStat(Path("a/f"));
  const struct stat a0 = posix::LStat(Path("a"));
  const struct stat b0 = posix::LStat(Path("b"));
  Tick();
  ASSERT_EQ(::rename(Path("a/f").c_str(), Path("b/g").c_str()), 0);
  const struct stat f1 = posix::LStat(Path("b/g"));
  const struct stat a1 = posix::LStat(Path("a"));
  const struct stat b1 = posix::LStat(Path("b"));
  EXPECT_EQ(f1.st_ino, f0.st_ino);
  EXPECT_BEFORE(f0.st_ctim, f1.st_ctim);
  EXPECT_SAME(f0.st_mtim, f1.st_mtim);  // the content did not change
  EXPECT_BEFORE(a0.st_mtim, a1.st_mtim);
  EXPECT_BEFORE(a0.st_ctim, a1.st_ctim);
  EXPECT_BEFORE(b0.st_mtim, b1.st_mtim);
  EXPECT_BEFORE(b0.st_ctim, b1.st_ctim);
  // Within one directory: the directory's mtime and the entry's ctime.
  Tick();
  ASSERT_EQ(::rename(Path("b/g").c_str(), Path("b/h").c_str()), 0);
  const struct stat f2 = posix::LStat(Path("b/h"));
  const struct stat b2 = posix::LStat(Path("b"));
  EXPECT_BEFORE(f1.st_ctim, f2.st_ctim);
  EXPECT_BEFORE(b1.st_mtim, b2.st_mtim);
  // A rename over an existing file: the replaced file is gone, and the
  // moved one's ctime moves again.
  ASSERT_TRUE(posix::WriteFile(Path("b/victim"), "v"));
  const struct stat b3 = posix::LStat(Path("b"));
  Tick();
  ASSERT_EQ(::rename(Path("b/h").c_str(), Path("b/victim").c_str()), 0);
  const struct stat f4 = posix::LStat(Path("b/victim"));
  EXPECT_EQ(f4.st_ino, f0.st_ino);
  EXPECT_BEFORE(f2.st_ctim, f4.st_ctim);
  EXPECT_BEFORE(b3.st_mtim, posix::LStat(Path("b")).st_mtim);
}

TEST_P(PosixTest, LinkUnlinkAndCreateMoveCtimes) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d/f"), "x"));
  struct stat f0 = posix::LStat(Path("d/f"));
  struct stat d0 = posix::LStat(Path("d"));
  // Creating an entry moves the directory's mtime and ctime.
  Tick();
  ASSERT_EQ(::mkdir(Path("d/sub").c_str(), 0755), 0);
  struct stat d1 = posix::LStat(Path("d"));
  EXPECT_BEFORE(d0.st_mtim, d1.st_mtim);
  EXPECT_BEFORE(d0.st_ctim, d1.st_ctim);
  if (UnsupportedReason("hardlink").empty()) {
    // link(2): the file's ctime (its link count changed) and the
    // directory's mtime; the file's mtime stays.
    Tick();
    ASSERT_EQ(::link(Path("d/f").c_str(), Path("d/f2").c_str()), 0);
    const struct stat f1 = posix::LStat(Path("d/f"));
    const struct stat d2 = posix::LStat(Path("d"));
    EXPECT_EQ(f1.st_nlink, 2u);
    EXPECT_BEFORE(f0.st_ctim, f1.st_ctim);
    EXPECT_SAME(f0.st_mtim, f1.st_mtim);
    EXPECT_BEFORE(d1.st_mtim, d2.st_mtim);
    // unlink of one name: the remaining name's ctime, the directory's mtime.
    Tick();
    ASSERT_EQ(::unlink(Path("d/f2").c_str()), 0);
    const struct stat f2 = posix::LStat(Path("d/f"));
    const struct stat d3 = posix::LStat(Path("d"));
    EXPECT_EQ(f2.st_nlink, 1u);
    EXPECT_BEFORE(f1.st_ctim, f2.st_ctim);
    EXPECT_BEFORE(d2.st_mtim, d3.st_mtim);
    d1 = d3;
  }
  // rmdir moves the parent's mtime.
  Tick();
  ASSERT_EQ(::rmdir(Path("d/sub").c_str()), 0);
  const struct stat d4 = posix::LStat(Path("d"));
  EXPECT_BEFORE(d1.st_mtim, d4.st_mtim);
  EXPECT_BEFORE(d1.st_ctim, d4.st_ctim);
  // A new file's times are all equal-or-later than its directory's
  // previous change.
  Tick();
  ASSERT_TRUE(posix::WriteFile(Path("d/new"), ""));
  const struct stat n = posix::LStat(Path("d/new"));
  EXPECT_BEFORE(d4.st_mtim, n.st_mtim);
  EXPECT_BEFORE(d4.st_mtim, n.st_ctim);
  EXPECT_BEFORE(d4.st_mtim, n.st_atim);
}

}  // namespace
}  // namespace fusekit
