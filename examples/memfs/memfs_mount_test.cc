// memfs on a real mount: each feature through the real system calls a
// program makes, checked against what tmpfs does. And the binary as a user
// runs it. Root (or fusermount3) and /dev/fuse needed; SKIPPED with the
// reason otherwise.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "examples/memfs/memfs.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"
#include "testing/posix/posix_util.h"

namespace fusekit::examples {
namespace {

constexpr char kBinary[] = "examples/memfs/memfs";
constexpr off_t kGiB = off_t{1} << 30;
constexpr off_t kLimit = 1 << 20;  // the mounted tree's --size

bool Put(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return close(fd) == 0 && ok;
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st;
}

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

// Some effects of a system call reach memfs a moment after it returned:
// RELEASE (which drops flocks and open file description locks) goes out
// asynchronously after close(2) (fs/fuse: fuse_file_put), and so does the
// FORGET of an unlinked inode (whose space comes back with it). Polls.
template <typename Condition>
bool Eventually(Condition condition) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// Writes "x" to `path`, opens it and write-locks all of it: the
// descriptor, or -1.
int PutAndLock(const std::string& path) {
  if (!Put(path, "x")) return -1;
  int fd = open(path.c_str(), O_RDWR);
  struct flock l = Range(F_WRLCK, 0, 0);
  if (fd >= 0 && fcntl(fd, F_SETLK, &l) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Runs `body` in a child process (another lock owner); its exit code.
template <typename Body>
int InChild(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The memfs tree, mounted as the binary mounts it (MemfsOptions: locks to
// the tree, default_permissions), with a 1 MiB limit.
class MemfsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options = MemfsOptions(Options());
    options.mount.fsname = "memfs-test";
    auto root = MemDir::NewRoot(MemfsLimits(kLimit, 64));
    bridge_ = std::make_unique<Bridge>(std::move(root), options);
    MountForTest(bridge_.get(), options.mount, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;  // skipped, or failed with the reason
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  std::string Path(absl::string_view relative) { return mount_->Path(relative); }

  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

#define REQUIRE_MOUNT() \
  if (mount_ == nullptr) return

TEST_F(MemfsMountTest, SparseFileOfFiveGiB) {
  REQUIRE_MOUNT();
  const std::string f = Path("sparse");
  int fd = open(f.c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "end", 3, 5 * kGiB), 3);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 5 * kGiB + 3);
  EXPECT_EQ(st.st_blocks, 8);  // one page, for a file larger than the limit
  char buf[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  ASSERT_EQ(pread(fd, buf, 4, 4 * kGiB), 4);
  EXPECT_EQ(std::string(buf, 4), std::string(4, '\0'));
  ASSERT_EQ(pread(fd, buf, 8, 5 * kGiB - 5), 8);
  EXPECT_EQ(std::string(buf, 8), std::string("\0\0\0\0\0end", 8));
  // SEEK_DATA / SEEK_HOLE see the page.
  EXPECT_EQ(lseek(fd, 0, SEEK_DATA), 5 * kGiB);
  EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), 0);
  EXPECT_EQ(lseek(fd, 5 * kGiB + 1, SEEK_HOLE), 5 * kGiB + 3);
  errno = 0;
  EXPECT_EQ(lseek(fd, 5 * kGiB + 3, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  close(fd);
}

TEST_F(MemfsMountTest, TruncateAndFallocate) {
  REQUIRE_MOUNT();
  const std::string f = Path("f");
  ASSERT_TRUE(Put(f, std::string(10000, 'x')));
  ASSERT_EQ(truncate(f.c_str(), 5000), 0);
  ASSERT_EQ(truncate(f.c_str(), 12000), 0);
  EXPECT_EQ(posix::ReadFile(f), std::string(5000, 'x') + std::string(7000, '\0'));
  EXPECT_EQ(Stat(f).st_blocks, 16);  // two pages: the cut one is gone

  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 5 * 4096), 0);
  EXPECT_EQ(Stat(f).st_size, 12000);
  EXPECT_EQ(Stat(f).st_blocks, 40);
  ASSERT_EQ(fallocate(fd, 0, 0, 20000), 0);
  EXPECT_EQ(Stat(f).st_size, 20000);
  // Punch a hole: zeros, a page freed, the size kept.
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 2 * 4096), 0);
  EXPECT_EQ(Stat(f).st_size, 20000);
  EXPECT_EQ(Stat(f).st_blocks, 32);
  char buf[200];
  ASSERT_EQ(pread(fd, buf, 200, 0), 200);
  EXPECT_EQ(std::string(buf, 200), std::string(100, 'x') + std::string(100, '\0'));
  EXPECT_EQ(lseek(fd, 4096, SEEK_HOLE), 4096);
  EXPECT_EQ(lseek(fd, 4096, SEEK_DATA), 2 * 4096);
  errno = 0;
  EXPECT_EQ(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  close(fd);
}

TEST_F(MemfsMountTest, AppendFromTwoDescriptors) {
  REQUIRE_MOUNT();
  const std::string f = Path("log");
  int a = open(f.c_str(), O_CREAT | O_WRONLY | O_APPEND, 0644);
  int b = open(f.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(write(a, "aa", 2), 2);
    ASSERT_EQ(write(b, "b", 1), 1);
  }
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += "aab";
  EXPECT_EQ(posix::ReadFile(f), expected);
  // pwrite on an O_APPEND descriptor appends too (Linux).
  ASSERT_EQ(pwrite(a, "!", 1, 0), 1);
  EXPECT_EQ(posix::ReadFile(f), expected + "!");
  close(a);
  close(b);
}

TEST_F(MemfsMountTest, EnospcAndStatfs) {
  REQUIRE_MOUNT();
  struct statvfs st;
  ASSERT_EQ(statvfs(mount_->path().c_str(), &st), 0);
  EXPECT_EQ(st.f_bsize, 4096u);
  EXPECT_EQ(st.f_blocks, static_cast<uint64_t>(kLimit / 4096));
  EXPECT_EQ(st.f_bfree, st.f_blocks);
  EXPECT_EQ(st.f_bavail, st.f_blocks);
  EXPECT_EQ(st.f_files, 64u);
  EXPECT_EQ(st.f_ffree, 63u);

  const std::string f = Path("big");
  int fd = open(f.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  std::string chunk(64 * 1024, 'x');
  off_t total = 0;
  ssize_t n;
  while ((n = write(fd, chunk.data(), chunk.size())) > 0) total += n;
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ENOSPC);
  EXPECT_EQ(total, kLimit);
  ASSERT_EQ(statvfs(mount_->path().c_str(), &st), 0);
  EXPECT_EQ(st.f_bfree, 0u);
  EXPECT_EQ(st.f_ffree, 62u);
  errno = 0;
  EXPECT_EQ(fallocate(fd, 0, kLimit, 4096), -1);
  EXPECT_EQ(errno, ENOSPC);
  close(fd);
  // Space comes back when the file goes.
  ASSERT_EQ(unlink(f.c_str()), 0);
  EXPECT_TRUE(Eventually([&] {
    return statvfs(mount_->path().c_str(), &st) == 0 && st.f_bfree == st.f_blocks;
  })) << st.f_bfree;
}

TEST_F(MemfsMountTest, UnlinkedOpenFileKeepsItsData) {
  REQUIRE_MOUNT();
  const std::string f = Path("doomed");
  ASSERT_TRUE(Put(f, "still here"));
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink(f.c_str()), 0);
  struct stat st;
  EXPECT_NE(stat(f.c_str(), &st), 0);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_nlink, 0u);
  char buf[32];
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 0), 10);
  EXPECT_EQ(std::string(buf, 10), "still here");
  ASSERT_EQ(pwrite(fd, "!", 1, 10), 1);
  struct statvfs sv;
  ASSERT_EQ(statvfs(mount_->path().c_str(), &sv), 0);
  EXPECT_EQ(sv.f_bfree, sv.f_blocks - 1);  // still held
  close(fd);
}

TEST_F(MemfsMountTest, FcntlLocksBetweenProcessesAndOpenFiles) {
  REQUIRE_MOUNT();
  const std::string f = Path("locked");
  ASSERT_TRUE(Put(f, "data"));
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock l = Range(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(fd, F_SETLK, &l), 0);
  // Another process conflicts; this one does not.
  EXPECT_EQ(InChild([&] {
              int cfd = open(f.c_str(), O_RDWR);
              struct flock want = Range(F_RDLCK, 5, 1);
              if (fcntl(cfd, F_SETLK, &want) == 0) return 1;
              if (errno != EAGAIN && errno != EACCES) return 2;
              struct flock probe = Range(F_WRLCK, 0, 0);
              if (fcntl(cfd, F_GETLK, &probe) != 0) return 3;
              if (probe.l_type != F_WRLCK || probe.l_start != 0 || probe.l_len != 10) return 4;
              if (probe.l_pid != getppid()) return 5;
              struct flock beside = Range(F_WRLCK, 10, 5);
              return fcntl(cfd, F_SETLK, &beside) == 0 ? 0 : 6;
            }),
            0);
  int same = open(f.c_str(), O_RDWR);
  ASSERT_GE(same, 0);
  struct flock mine = Range(F_WRLCK, 5, 1);
  EXPECT_EQ(fcntl(same, F_SETLK, &mine), 0);  // one owner: the process
  // Closing any descriptor of the file drops the process's locks.
  close(same);
  EXPECT_EQ(InChild([&] {
              int cfd = open(f.c_str(), O_RDWR);
              struct flock want = Range(F_WRLCK, 0, 0);
              return fcntl(cfd, F_SETLK, &want) == 0 ? 0 : 1;
            }),
            0);
  // Open file description locks conflict between two descriptors of one
  // process, and go with the last close.
  int a = open(f.c_str(), O_RDWR);
  int b = open(f.c_str(), O_RDWR);
  struct flock ofd = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(a, F_OFD_SETLK, &ofd), 0);
  ofd = Range(F_WRLCK, 0, 0);
  EXPECT_EQ(fcntl(b, F_OFD_SETLK, &ofd), -1);
  EXPECT_EQ(errno, EAGAIN);
  close(a);
  EXPECT_TRUE(Eventually([&] {
    struct flock again = Range(F_WRLCK, 0, 0);
    return fcntl(b, F_OFD_SETLK, &again) == 0;
  }));
  close(b);
  close(fd);
}

TEST_F(MemfsMountTest, SetlkwWaitsAndIsInterruptible) {
  REQUIRE_MOUNT();
  const std::string f = Path("waited");
  ASSERT_TRUE(Put(f, "data"));
  int fd = open(f.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock l = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(fd, F_SETLK, &l), 0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  if (child == 0) {
    int cfd = open(f.c_str(), O_RDWR);
    struct flock want = Range(F_WRLCK, 0, 0);
    int r = fcntl(cfd, F_SETLKW, &want);
    char c = r == 0 ? 'y' : 'n';
    (void)!write(ready[1], &c, 1);
    _exit(0);
  }
  absl::SleepFor(absl::Milliseconds(200));
  char c = 0;
  ASSERT_EQ(fcntl(ready[0], F_SETFL, O_NONBLOCK), 0);
  EXPECT_EQ(read(ready[0], &c, 1), -1);  // still waiting
  l = Range(F_UNLCK, 0, 0);
  ASSERT_EQ(fcntl(fd, F_SETLK, &l), 0);
  ASSERT_EQ(fcntl(ready[0], F_SETFL, 0), 0);
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  EXPECT_EQ(c, 'y');
  waitpid(child, nullptr, 0);

  // A signal ends a wait: EINTR for a handler without SA_RESTART.
  l = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(fd, F_SETLK, &l), 0);
  EXPECT_EQ(InChild([&] {
              struct sigaction action = {};
              action.sa_handler = [](int) {};
              sigaction(SIGALRM, &action, nullptr);  // no SA_RESTART
              int cfd = open(f.c_str(), O_RDWR);
              struct flock want = Range(F_WRLCK, 0, 0);
              alarm(1);
              int r = fcntl(cfd, F_SETLKW, &want);
              return r == -1 && errno == EINTR ? 0 : 1;
            }),
            0);
  close(fd);
  close(ready[0]);
  close(ready[1]);
}

TEST_F(MemfsMountTest, Flock) {
  REQUIRE_MOUNT();
  const std::string f = Path("flocked");
  ASSERT_TRUE(Put(f, ""));
  int a = open(f.c_str(), O_RDONLY);
  int b = open(f.c_str(), O_RDONLY);
  ASSERT_EQ(flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(flock(b, LOCK_SH | LOCK_NB), -1);
  EXPECT_EQ(errno, EWOULDBLOCK);
  int dup_a = dup(a);  // the same open file: its lock
  EXPECT_EQ(flock(dup_a, LOCK_EX | LOCK_NB), 0);
  close(dup_a);
  EXPECT_EQ(flock(b, LOCK_SH | LOCK_NB), -1);  // a still holds it
  close(a);  // the last close of a's open file releases it
  EXPECT_TRUE(Eventually([&] { return flock(b, LOCK_EX | LOCK_NB) == 0; }));
  close(b);
}

TEST_F(MemfsMountTest, MknodFifo) {
  REQUIRE_MOUNT();
  const std::string fifo = Path("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_TRUE(S_ISFIFO(Stat(fifo).st_mode));
  // The kernel serves the fifo itself: data passes through it.
  int fd = open(fifo.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "pipe", 4), 4);
  char buf[4];
  ASSERT_EQ(read(fd, buf, 4), 4);
  EXPECT_EQ(std::string(buf, 4), "pipe");
  close(fd);
}

TEST_F(MemfsMountTest, MknodDevice) {
  REQUIRE_MOUNT();
  const std::string dev = Path("null");
  if (mknod(dev.c_str(), S_IFCHR | 0666, makedev(1, 3)) != 0) {
    // Without CAP_MKNOD in the initial namespace (a Bazel sandbox) the VFS
    // refuses before asking the filesystem.
    ASSERT_EQ(errno, EPERM) << strerror(errno);
    GTEST_SKIP() << "no CAP_MKNOD here (a user namespace?)";
  }
  struct stat st = Stat(dev);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(1, 3));
}

TEST_F(MemfsMountTest, RenameFlags) {
  REQUIRE_MOUNT();
  ASSERT_TRUE(Put(Path("a"), "A"));
  ASSERT_TRUE(Put(Path("b"), "B"));
  errno = 0;
  EXPECT_EQ(renameat2(AT_FDCWD, Path("a").c_str(), AT_FDCWD, Path("b").c_str(),
                      RENAME_NOREPLACE),
            -1);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(renameat2(AT_FDCWD, Path("a").c_str(), AT_FDCWD, Path("b").c_str(),
                      RENAME_EXCHANGE),
            0);
  EXPECT_EQ(posix::ReadFile(Path("a")), "B");
  EXPECT_EQ(posix::ReadFile(Path("b")), "A");
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(renameat2(AT_FDCWD, Path("a").c_str(), AT_FDCWD, Path("d").c_str(),
                      RENAME_EXCHANGE),
            0);
  EXPECT_TRUE(S_ISDIR(Stat(Path("a")).st_mode));
  EXPECT_EQ(posix::ReadFile(Path("d")), "B");
  ASSERT_EQ(renameat2(AT_FDCWD, Path("d").c_str(), AT_FDCWD, Path("c").c_str(),
                      RENAME_NOREPLACE),
            0);
  EXPECT_EQ(posix::ReadFile(Path("c")), "B");
}

TEST_F(MemfsMountTest, HardLinkCounts) {
  REQUIRE_MOUNT();
  ASSERT_TRUE(Put(Path("f"), "x"));
  ASSERT_EQ(mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(link(Path("f").c_str(), Path("d/g").c_str()), 0);
  ASSERT_EQ(link(Path("f").c_str(), Path("h").c_str()), 0);
  EXPECT_EQ(Stat(Path("f")).st_nlink, 3u);
  EXPECT_EQ(Stat(Path("h")).st_ino, Stat(Path("f")).st_ino);
  ASSERT_EQ(unlink(Path("f").c_str()), 0);
  EXPECT_EQ(Stat(Path("d/g")).st_nlink, 2u);
  ASSERT_EQ(mkdir(Path("d/sub").c_str(), 0755), 0);
  EXPECT_EQ(Stat(Path("d")).st_nlink, 3u);
  EXPECT_EQ(Stat(mount_->path()).st_nlink, 3u);
  ASSERT_EQ(rmdir(Path("d/sub").c_str()), 0);
  EXPECT_EQ(Stat(Path("d")).st_nlink, 2u);
}

TEST_F(MemfsMountTest, UtimensatAndCtime) {
  REQUIRE_MOUNT();
  const std::string f = Path("f");
  ASSERT_TRUE(Put(f, "x"));
  const struct timespec past[2] = {{1000000000, 5}, {1000000000, 7}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), past, 0), 0);
  struct stat st = Stat(f);
  EXPECT_EQ(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_atim.tv_nsec, 5);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7);
  EXPECT_GT(st.st_ctim.tv_sec, 1000000000);  // ctime is now
  const struct timespec before_chmod = st.st_ctim;
  absl::SleepFor(absl::Milliseconds(5));
  ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  st = Stat(f);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000000);  // chmod leaves mtime
  EXPECT_TRUE(After(st.st_ctim, before_chmod));
  // UTIME_OMIT keeps mtime; UTIME_NOW moves atime.
  const struct timespec now_omit[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), now_omit, 0), 0);
  st = Stat(f);
  EXPECT_GT(st.st_atim.tv_sec, 1000000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 7);
  // A write moves mtime and ctime.
  int fd = open(f.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "y", 1), 1);
  close(fd);
  EXPECT_GT(Stat(f).st_mtim.tv_sec, 1000000000);
  // chown: ctime. (Ids the test's user namespace does not map, as in a
  // Bazel sandbox, are EINVAL before the request: then our own.)
  const struct timespec before_chown = Stat(f).st_ctim;
  absl::SleepFor(absl::Milliseconds(5));
  uid_t uid = 123;
  gid_t gid = 456;
  if (chown(f.c_str(), uid, gid) != 0) {
    ASSERT_EQ(errno, EINVAL) << strerror(errno);
    uid = getuid();
    gid = getgid();
    ASSERT_EQ(chown(f.c_str(), uid, gid), 0) << strerror(errno);
  }
  st = Stat(f);
  EXPECT_EQ(st.st_uid, uid);
  EXPECT_EQ(st.st_gid, gid);
  EXPECT_TRUE(After(st.st_ctim, before_chown));
}

TEST_F(MemfsMountTest, Xattrs) {
  REQUIRE_MOUNT();
  const std::string f = Path("f");
  ASSERT_TRUE(Put(f, "x"));
  ASSERT_EQ(setxattr(f.c_str(), "user.color", "blue", 4, 0), 0) << strerror(errno);
  char value[16];
  ASSERT_EQ(getxattr(f.c_str(), "user.color", value, sizeof(value)), 4);
  EXPECT_EQ(std::string(value, 4), "blue");
  EXPECT_EQ(getxattr(f.c_str(), "user.color", nullptr, 0), 4);
  errno = 0;
  EXPECT_EQ(getxattr(f.c_str(), "user.color", value, 2), -1);
  EXPECT_EQ(errno, ERANGE);
  errno = 0;
  EXPECT_EQ(getxattr(f.c_str(), "user.none", value, sizeof(value)), -1);
  EXPECT_EQ(errno, ENODATA);
  errno = 0;
  EXPECT_EQ(setxattr(f.c_str(), "user.color", "red", 3, XATTR_CREATE), -1);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(setxattr(f.c_str(), "user.other", "1", 1, XATTR_REPLACE), -1);
  EXPECT_EQ(errno, ENODATA);
  ASSERT_EQ(setxattr(f.c_str(), "user.other", "1", 1, XATTR_CREATE), 0);
  char list[64];
  ssize_t n = listxattr(f.c_str(), list, sizeof(list));
  ASSERT_GT(n, 0);
  std::set<std::string> names;
  for (ssize_t i = 0; i < n; i += strlen(list + i) + 1) names.insert(list + i);
  EXPECT_EQ(names, (std::set<std::string>{"user.color", "user.other"}));
  ASSERT_EQ(removexattr(f.c_str(), "user.color"), 0);
  errno = 0;
  EXPECT_EQ(removexattr(f.c_str(), "user.color"), -1);
  EXPECT_EQ(errno, ENODATA);
}

// ---- The binary ---------------------------------------------------------

class MemfsBinaryTest : public ExampleBinaryTest {
 protected:
  MemfsBinaryTest() : ExampleBinaryTest("memfs") {}
};

TEST_F(MemfsBinaryTest, ServesWithItsSizeAndUnmountsOnSigterm) {
  ExampleProcess memfs(kBinary, {"--size=8M", mountpoint_});
  ASSERT_TRUE(memfs.started());
  if (!memfs.WaitForMount(mountpoint_)) {
    ExampleExit exit = memfs.Wait();
    FAIL() << "memfs never mounted: " << exit.stderr_text;
  }
  ASSERT_TRUE(Put(mountpoint_ + "/hello", "hi"));
  EXPECT_EQ(posix::ReadFile(mountpoint_ + "/hello"), "hi");
  struct statvfs st;
  ASSERT_EQ(statvfs(mountpoint_.c_str(), &st), 0);
  EXPECT_EQ(st.f_blocks, (8u << 20) / 4096);
  EXPECT_EQ(st.f_files, (8u << 20) / 4096);
  ExampleExit exit = memfs.Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                              << exit.stderr_text;
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

TEST_F(MemfsBinaryTest, SigtermWhileAProcessWaitsForALock) {
  ExampleProcess memfs(kBinary, {"--posix_locks", mountpoint_});  // the wait is memfs's
  ASSERT_TRUE(memfs.WaitForMount(mountpoint_));
  const std::string f = mountpoint_ + "/f";
  int fd = PutAndLock(f);
  ASSERT_GE(fd, 0);
  pid_t child = fork();
  if (child == 0) {
    int cfd = open(f.c_str(), O_RDWR);
    struct flock want = Range(F_WRLCK, 0, 0);
    fcntl(cfd, F_SETLKW, &want);  // ends with ENOTCONN when memfs goes
    _exit(0);
  }
  absl::SleepFor(absl::Milliseconds(200));
  ExampleExit exit = memfs.Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                              << exit.stderr_text;
  close(fd);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

// As shipped, memfs leaves POSIX locks to the kernel: they still conflict
// between processes and go at close, and close(2) sends no FLUSH.
TEST_F(MemfsBinaryTest, KernelKeepsPosixLocksAndCloseSendsNoFlush) {
  ExampleProcess memfs(kBinary, {"--debug", mountpoint_});
  ASSERT_TRUE(memfs.WaitForMount(mountpoint_));
  const std::string f = mountpoint_ + "/f";
  int fd = PutAndLock(f);
  ASSERT_GE(fd, 0);
  auto try_lock = [&] {
    int cfd = open(f.c_str(), O_RDWR);
    struct flock want = Range(F_WRLCK, 0, 0);
    return fcntl(cfd, F_SETLK, &want) == 0 ? 0 : errno;
  };
  EXPECT_EQ(InChild(try_lock), EAGAIN);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(InChild(try_lock), 0);
  ExampleExit exit = memfs.Stop(SIGTERM);
  ASSERT_TRUE(exit.exited && exit.code == 0) << exit.stderr_text;
  EXPECT_TRUE(absl::StrContains(exit.stderr_text, "-> WRITE ")) << "no wire log";
  EXPECT_FALSE(absl::StrContains(exit.stderr_text, "-> FLUSH ")) << exit.stderr_text;
  EXPECT_FALSE(absl::StrContains(exit.stderr_text, "-> SETLK")) << exit.stderr_text;
}

// Needs no mount: every case fails before mounting.
TEST(MemfsArgsTest, BadArgumentsExit2WithOneLine) {
  const std::string dir = MakeTempDir("memfs-args");
  ASSERT_FALSE(dir.empty());
  const std::string file = dir + "/plain";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  const std::vector<UsageErrorCase> cases = {
      {{}, "expected 1 argument, got 0"},
      {{"--size=lots", dir}, "--size: bad size 'lots'"},
      {{"--size=150%", dir}, "--size: bad size '150%'"},
      {{"--inodes=-1", dir}, "bad value '-1' for --inodes"},
      {{"--no_such_flag", dir}, "unknown flag --no_such_flag"},
      {{dir + "/missing"}, "mountpoint " + dir + "/missing does not exist"},
      {{file}, "mountpoint " + file + " is not a directory"},
  };
  ExpectUsageErrors(kBinary, cases, dir);
  unlink(file.c_str());
  rmdir(dir.c_str());
}

TEST(MemfsArgsTest, HelpSaysWhatItMounts) {
  ExampleExit exit = RunExample(kBinary, {"--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0);
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("in-memory"));
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("--size"));
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("--inodes"));
}

}  // namespace
}  // namespace fusekit::examples
