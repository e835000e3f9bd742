// Cases on file locks: POSIX record locks (fcntl F_SETLK/F_GETLK) between
// processes, splitting, and their release at any close; open file
// description locks (F_OFD_*) between two opens in one process; flock(2)
// between opens, with upgrade and downgrade.
//
// Child processes are forked from a process whose other threads may serve
// the mount, so child bodies allocate nothing: they make system calls and
// return an errno (0 for success), or write a struct flock to a pipe.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

constexpr int kOpenFailed = 100;

struct flock Range(short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

int SetLock(int fd, short type, off_t start, off_t len, int cmd = F_SETLK) {
  struct flock fl = Range(type, start, len);
  return ::fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
}

// In a child process (another lock owner): opens `path` and tries to lock
// the range; 0 or the errno.
int LockInChild(const char* path, short type, off_t start, off_t len) {
  return posix::RunInChild([=] {
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return kOpenFailed;
    return SetLock(fd, type, start, len);
  });
}

// In a child process: F_GETLK for the range. l_type is -1 if the child
// failed.
struct flock GetLockInChild(const char* path, short type, off_t start, off_t len) {
  struct flock result {};
  result.l_type = -1;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return result;
  const int write_end = pipe_fds[1];
  int code = posix::RunInChild([=] {
    int fd = ::open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return kOpenFailed;
    struct flock fl = Range(type, start, len);
    if (::fcntl(fd, F_GETLK, &fl) != 0) return errno;
    return ::write(write_end, &fl, sizeof(fl)) == sizeof(fl) ? 0 : EIO;
  });
  ::close(write_end);
  if (code == 0 && ::read(pipe_fds[0], &result, sizeof(result)) != sizeof(result)) {
    result.l_type = -1;
  }
  ::close(pipe_fds[0]);
  return result;
}

int OpenRw(const std::string& path) {
  return ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
}

TEST_P(PosixTest, PosixLocksConflictBetweenProcesses) {
  POSIX_REQUIRE("posix_lock");
  const std::string f = Path("f");
  const char* fp = f.c_str();
  int fd = OpenRw(f);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, std::string(200, 'x').data(), 200, 0), 200);
  ASSERT_EQ(SetLock(fd, F_WRLCK, 0, 100), 0);
  // Another process: any overlap conflicts (EAGAIN), read or write; the
  // bytes beyond are free.
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 50, 10), EAGAIN);
  EXPECT_EQ(LockInChild(fp, F_RDLCK, 50, 10), EAGAIN);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 99, 1), EAGAIN);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 100, 10), 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 0, 0), EAGAIN);  // to the end of the file
  // F_GETLK names the holder: its pid, type and range.
  struct flock held = GetLockInChild(fp, F_WRLCK, 0, 0);
  EXPECT_EQ(held.l_type, F_WRLCK);
  if (UnsupportedReason("posix_lock_pid").empty()) {
    EXPECT_EQ(held.l_pid, ::getpid());
  }
  EXPECT_EQ(held.l_whence, SEEK_SET);
  EXPECT_EQ(held.l_start, 0);
  EXPECT_EQ(held.l_len, 100);
  EXPECT_EQ(GetLockInChild(fp, F_WRLCK, 150, 10).l_type, F_UNLCK);
  // The holder's own locks never conflict with it.
  struct flock own = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(::fcntl(fd, F_GETLK, &own), 0);
  EXPECT_EQ(own.l_type, F_UNLCK);
  EXPECT_EQ(SetLock(fd, F_WRLCK, 50, 100), 0);  // extends its own lock
  // Converted to a read lock: other readers share it, writers still wait.
  ASSERT_EQ(SetLock(fd, F_RDLCK, 0, 150), 0);
  EXPECT_EQ(LockInChild(fp, F_RDLCK, 50, 10), 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 50, 10), EAGAIN);
  held = GetLockInChild(fp, F_WRLCK, 10, 10);
  EXPECT_EQ(held.l_type, F_RDLCK);
  EXPECT_EQ(held.l_start, 0);
  EXPECT_EQ(held.l_len, 150);
  EXPECT_EQ(GetLockInChild(fp, F_RDLCK, 10, 10).l_type, F_UNLCK);
  // Unlocked: free for all.
  ASSERT_EQ(SetLock(fd, F_UNLCK, 0, 0), 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 0, 0), 0);
  ::close(fd);
}

TEST_P(PosixTest, PosixUnlockInTheMiddleSplitsALock) {
  POSIX_REQUIRE("posix_lock");
  const std::string f = Path("f");
  const char* fp = f.c_str();
  int fd = OpenRw(f);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(SetLock(fd, F_WRLCK, 0, 100), 0);
  ASSERT_EQ(SetLock(fd, F_UNLCK, 40, 20), 0);
  // Two locks now: [0, 40) and [60, 100).
  EXPECT_EQ(GetLockInChild(fp, F_WRLCK, 40, 20).l_type, F_UNLCK);
  struct flock left = GetLockInChild(fp, F_WRLCK, 0, 50);
  EXPECT_EQ(left.l_type, F_WRLCK);
  EXPECT_EQ(left.l_start, 0);
  EXPECT_EQ(left.l_len, 40);
  struct flock right = GetLockInChild(fp, F_WRLCK, 50, 0);
  EXPECT_EQ(right.l_type, F_WRLCK);
  EXPECT_EQ(right.l_start, 60);
  EXPECT_EQ(right.l_len, 40);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 40, 20), 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 39, 2), EAGAIN);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 59, 2), EAGAIN);
  // A lock to the end of the file reports length 0.
  ASSERT_EQ(SetLock(fd, F_WRLCK, 300, 0), 0);
  struct flock open_ended = GetLockInChild(fp, F_RDLCK, 1000, 10);
  EXPECT_EQ(open_ended.l_type, F_WRLCK);
  EXPECT_EQ(open_ended.l_start, 300);
  EXPECT_EQ(open_ended.l_len, 0);
  // Unlocking its middle leaves a bounded piece and an open-ended one.
  ASSERT_EQ(SetLock(fd, F_UNLCK, 400, 100), 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 400, 100), 0);
  struct flock tail = GetLockInChild(fp, F_RDLCK, 450, 0);
  EXPECT_EQ(tail.l_start, 500);
  EXPECT_EQ(tail.l_len, 0);
  struct flock piece = GetLockInChild(fp, F_RDLCK, 300, 50);
  EXPECT_EQ(piece.l_start, 300);
  EXPECT_EQ(piece.l_len, 100);
  ::close(fd);
}

TEST_P(PosixTest, PosixLocksGoAtAnyClose) {
  POSIX_REQUIRE("posix_lock");
  const std::string f = Path("f");
  const char* fp = f.c_str();
  int fd = OpenRw(f);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(SetLock(fd, F_WRLCK, 0, 0), 0);
  int other = ::open(fp, O_RDONLY | O_CLOEXEC);
  ASSERT_GE(other, 0);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 0, 1), EAGAIN);
  // Closing another descriptor of the file (not the one locked through)
  // drops the process's locks on it.
  ASSERT_EQ(::close(other), 0);
  EXPECT_EQ(GetLockInChild(fp, F_WRLCK, 0, 0).l_type, F_UNLCK);
  EXPECT_EQ(LockInChild(fp, F_WRLCK, 0, 0), 0);
  // The descriptor still works.
  EXPECT_EQ(::pwrite(fd, "x", 1, 0), 1);
  // A child's exit drops its locks as well.
  EXPECT_EQ(posix::RunInChild([fp] {
              int cfd = ::open(fp, O_RDWR | O_CLOEXEC);
              if (cfd < 0) return kOpenFailed;
              return SetLock(cfd, F_WRLCK, 0, 0);
            }),
            0);
  EXPECT_EQ(SetLock(fd, F_WRLCK, 0, 0), 0);
  ::close(fd);
}

TEST_P(PosixTest, OfdLocksConflictBetweenOpens) {
  POSIX_REQUIRE("posix_lock");
  const std::string f = Path("f");
  int a = OpenRw(f);
  int b = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_EQ(SetLock(a, F_WRLCK, 0, 10, F_OFD_SETLK), 0) << strerror(errno);
  // One process, two opens: they conflict.
  EXPECT_EQ(SetLock(b, F_WRLCK, 5, 10, F_OFD_SETLK), EAGAIN);
  EXPECT_EQ(SetLock(b, F_RDLCK, 5, 10, F_OFD_SETLK), EAGAIN);
  EXPECT_EQ(SetLock(b, F_WRLCK, 10, 10, F_OFD_SETLK), 0);
  struct flock held = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(::fcntl(b, F_OFD_GETLK, &held), 0);
  EXPECT_EQ(held.l_type, F_WRLCK);
  EXPECT_EQ(held.l_start, 0);
  EXPECT_EQ(held.l_len, 10);
  EXPECT_EQ(held.l_pid, -1);  // an open file description has no pid
  // A duplicate of `a` is the same open: no conflict with itself.
  int dup_a = ::dup(a);
  ASSERT_GE(dup_a, 0);
  EXPECT_EQ(SetLock(dup_a, F_WRLCK, 0, 10, F_OFD_SETLK), 0);
  // A classic lock of this process conflicts with an OFD lock too.
  EXPECT_EQ(SetLock(b, F_WRLCK, 0, 5), EAGAIN);
  // Closing the duplicate keeps the lock (the open lives on through `a`)...
  ASSERT_EQ(::close(dup_a), 0);
  EXPECT_EQ(SetLock(b, F_WRLCK, 0, 10, F_OFD_SETLK), EAGAIN);
  // ... closing the last descriptor releases it (on FUSE with RELEASE, a
  // moment after close returns).
  ASSERT_EQ(::close(a), 0);
  EXPECT_TRUE(posix::Eventually([&] { return SetLock(b, F_WRLCK, 0, 10, F_OFD_SETLK) == 0; }));
  ::close(b);
}

TEST_P(PosixTest, FlockBetweenOpensUpgradeAndDowngrade) {
  POSIX_REQUIRE("flock");
  const std::string f = Path("f");
  const char* fp = f.c_str();
  int a = OpenRw(f);
  int b = ::open(fp, O_RDWR | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  auto try_flock = [](int fd, int op) { return ::flock(fd, op) == 0 ? 0 : errno; };
  auto child_flock = [fp](int op) {
    return posix::RunInChild([fp, op] {
      int fd = ::open(fp, O_RDONLY | O_CLOEXEC);
      if (fd < 0) return kOpenFailed;
      return ::flock(fd, op) == 0 ? 0 : errno;
    });
  };
  ASSERT_EQ(try_flock(a, LOCK_EX), 0);
  EXPECT_EQ(try_flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  EXPECT_EQ(try_flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  EXPECT_EQ(child_flock(LOCK_SH | LOCK_NB), EWOULDBLOCK);
  // A duplicate of `a` shares its lock.
  int dup_a = ::dup(a);
  ASSERT_GE(dup_a, 0);
  EXPECT_EQ(try_flock(dup_a, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::close(dup_a), 0);
  // Downgrade: shared by all.
  ASSERT_EQ(try_flock(a, LOCK_SH), 0);
  EXPECT_EQ(try_flock(b, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(child_flock(LOCK_SH | LOCK_NB), 0);
  // Upgrade: refused while `b` shares, granted once it lets go.
  EXPECT_EQ(try_flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  ASSERT_EQ(try_flock(b, LOCK_UN), 0);
  EXPECT_EQ(try_flock(a, LOCK_EX | LOCK_NB), 0);
  EXPECT_EQ(try_flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  // flock and fcntl locks do not see each other (Linux).
  if (UnsupportedReason("posix_lock").empty()) {
    EXPECT_EQ(SetLock(b, F_WRLCK, 0, 0), 0);
    EXPECT_EQ(SetLock(b, F_UNLCK, 0, 0), 0);
  }
  // The last close of `a` releases it (on FUSE a moment after close).
  ASSERT_EQ(::close(a), 0);
  EXPECT_TRUE(posix::Eventually([&] { return try_flock(b, LOCK_EX | LOCK_NB) == 0; }));
  EXPECT_EQ(child_flock(LOCK_SH | LOCK_NB), EWOULDBLOCK);
  ::close(b);
}

}  // namespace
}  // namespace fusekit
