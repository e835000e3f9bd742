// loopbackfs on real mounts: real system calls through the kernel, the host
// checked for each effect; hostile symlinks (more of them, and host renames
// racing lookups, in loopbackfs_hostile_test.cc); the binary (SIGTERM
// unmounts, bad arguments exit 2). Mount tests are SKIPPED with the reason where mounting
// is impossible (no /dev/fuse, not root and no fusermount3).
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <signal.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "examples/loopbackfs/host_tree.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

constexpr char kBinary[] = "examples/loopbackfs/loopbackfs";

using ::testing::HasSubstr;

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

class LoopbackMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.ok());
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host_.src());
    ASSERT_TRUE(root.ok()) << root.status();
    Options options = LoopbackMountOptions();
    options.server.workers = 4;  // lock waits and the race below need several
    bridge_ = std::make_unique<Bridge>(*std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "loopbackfs-test";
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;  // skipped, or failed with the reason
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  std::string M(absl::string_view relative = "") {
    return relative.empty() ? mount_->path() : mount_->Path(relative);
  }

  HostTree host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

struct stat Lstat(const std::string& path) { return HostLstat(path); }

// The kernel sends RELEASE (which drops an open file's flock and OFD locks)
// after close(2) returns: retries `attempt` for a while.
template <typename F>
bool Eventually(F attempt) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!attempt()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST_F(LoopbackMountTest, SystemCallsPassThrough) {
  if (mount_ == nullptr) return;
  // create, write, read.
  int fd = open(M("f").c_str(), O_CREAT | O_RDWR, 0640);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(write(fd, "hello, host", 11), 11);
  char buf[64];
  ASSERT_EQ(pread(fd, buf, sizeof(buf), 7), 4);
  EXPECT_EQ(std::string(buf, 4), "host");
  ASSERT_EQ(fsync(fd), 0);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(ReadHostFile(host_.src("f")), "hello, host");
  EXPECT_EQ(Lstat(host_.src("f")).st_mode, S_IFREG | 0640);
  EXPECT_EQ(Lstat(M("f")).st_ino, Lstat(host_.src("f")).st_ino);
  ASSERT_TRUE(WriteHostFile(host_.src("from_host"), "made on the host"));
  EXPECT_EQ(ReadHostFile(M("from_host")), "made on the host");

  // mkdir, rename, symlink, readlink, chmod, truncate, unlink, rmdir.
  ASSERT_EQ(mkdir(M("d").c_str(), 0750), 0);
  EXPECT_EQ(Lstat(host_.src("d")).st_mode, S_IFDIR | 0750);
  ASSERT_EQ(rename(M("f").c_str(), M("d/g").c_str()), 0);
  EXPECT_EQ(ReadHostFile(host_.src("d/g")), "hello, host");
  EXPECT_FALSE(HostExists(host_.src("f")));
  ASSERT_EQ(renameat2(AT_FDCWD, M("from_host").c_str(), AT_FDCWD, M("d/g").c_str(),
                      RENAME_EXCHANGE),
            0);
  EXPECT_EQ(ReadHostFile(host_.src("d/g")), "made on the host");
  EXPECT_EQ(ReadHostFile(host_.src("from_host")), "hello, host");
  ASSERT_EQ(rename(M("d").c_str(), M("e").c_str()), 0);
  EXPECT_EQ(ReadHostFile(M("e/g")), "made on the host");
  ASSERT_EQ(symlink("e/g", M("link").c_str()), 0);
  ssize_t n = readlink(host_.src("link").c_str(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "e/g");
  EXPECT_EQ(ReadHostFile(M("link")), "made on the host");  // followed by the caller
  ASSERT_EQ(chmod(M("e/g").c_str(), 0600), 0);
  EXPECT_EQ(Lstat(host_.src("e/g")).st_mode, S_IFREG | 0600);
  ASSERT_EQ(truncate(M("e/g").c_str(), 4), 0);
  EXPECT_EQ(ReadHostFile(host_.src("e/g")), "made");
  struct timespec times[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, M("e/g").c_str(), times, 0), 0);
  EXPECT_EQ(Lstat(host_.src("e/g")).st_mtim.tv_sec, 2000);
  EXPECT_NE(rmdir(M("e").c_str()), 0);
  EXPECT_EQ(errno, ENOTEMPTY);
  ASSERT_EQ(unlink(M("e/g").c_str()), 0);
  ASSERT_EQ(rmdir(M("e").c_str()), 0);
  EXPECT_FALSE(HostExists(host_.src("e")));
  ASSERT_EQ(mkfifo(M("fifo").c_str(), 0600), 0);
  EXPECT_TRUE(S_ISFIFO(Lstat(host_.src("fifo")).st_mode));

  // readdir: the host's names and inode numbers.
  DIR* dir = opendir(M().c_str());
  ASSERT_NE(dir, nullptr);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
    EXPECT_EQ(e->d_ino, Lstat(host_.src(name)).st_ino) << name;
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, HostList(host_.src()));

  struct statvfs through, host;
  ASSERT_EQ(statvfs(M().c_str(), &through), 0);
  ASSERT_EQ(statvfs(host_.src().c_str(), &host), 0);
  EXPECT_EQ(through.f_blocks, host.f_blocks);
}

TEST_F(LoopbackMountTest, HardLinksAreOneInode) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.src("a"), "shared"));
  ASSERT_EQ(link(M("a").c_str(), M("b").c_str()), 0);
  ASSERT_EQ(link(host_.src("a").c_str(), host_.src("c").c_str()), 0);  // on the host
  struct stat a, b, c;
  ASSERT_EQ(stat(M("a").c_str(), &a), 0);
  ASSERT_EQ(stat(M("b").c_str(), &b), 0);
  ASSERT_EQ(stat(M("c").c_str(), &c), 0);
  EXPECT_EQ(a.st_ino, Lstat(host_.src("a")).st_ino);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_ino, c.st_ino);
  EXPECT_EQ(Lstat(host_.src("b")).st_ino, a.st_ino);
  EXPECT_EQ(c.st_nlink, 3u);
  // Written through one name, read through another.
  int fd = open(M("b").c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "!", 1), 1);
  close(fd);
  EXPECT_EQ(ReadHostFile(M("c")), "shared!");
  ASSERT_EQ(unlink(M("a").c_str()), 0);
  EXPECT_EQ(ReadHostFile(M("b")), "shared!");
}

TEST_F(LoopbackMountTest, XattrsPassThrough) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  if (lsetxattr(host_.src("f").c_str(), "user.probe", "1", 1, 0) != 0 && errno == ENOTSUP) {
    GTEST_SKIP() << "the host filesystem has no user xattrs";
  }
  ASSERT_EQ(setxattr(M("f").c_str(), "user.color", "blue", 4, 0), 0) << strerror(errno);
  char buf[64];
  EXPECT_EQ(lgetxattr(host_.src("f").c_str(), "user.color", buf, sizeof(buf)), 4);
  EXPECT_EQ(getxattr(M("f").c_str(), "user.probe", buf, sizeof(buf)), 1);
  ssize_t n = listxattr(M("f").c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  std::string list(buf, static_cast<size_t>(n));
  EXPECT_TRUE(absl::StrContains(list, std::string("user.color\0", 11)));
  EXPECT_TRUE(absl::StrContains(list, std::string("user.probe\0", 11)));
  EXPECT_NE(setxattr(M("f").c_str(), "user.color", "red", 3, XATTR_CREATE), 0);
  EXPECT_EQ(errno, EEXIST);
  ASSERT_EQ(removexattr(M("f").c_str(), "user.color"), 0);
  EXPECT_LT(lgetxattr(host_.src("f").c_str(), "user.color", buf, sizeof(buf)), 0);
  EXPECT_LT(getxattr(M("f").c_str(), "user.color", buf, sizeof(buf)), 0);
  EXPECT_EQ(errno, ENODATA);
  // On a symlink itself (lsetxattr): never its target. Linux refuses user.*
  // there; what matters is that the target is untouched.
  ASSERT_EQ(symlink("f", M("l").c_str()), 0);
  lsetxattr(M("l").c_str(), "user.via_link", "1", 1, 0);
  EXPECT_LT(lgetxattr(host_.src("f").c_str(), "user.via_link", buf, sizeof(buf)), 0);
}

TEST_F(LoopbackMountTest, FallocateCopyFileRangeAndSeekData) {
  if (mount_ == nullptr) return;
  int fd = open(M("f").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(fallocate(fd, 0, 0, 1 << 20), 0) << strerror(errno);
  EXPECT_EQ(Lstat(host_.src("f")).st_size, 1 << 20);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20), 0);
  struct stat before = Lstat(host_.src("f"));
  EXPECT_EQ(before.st_size, 1 << 20);
  ASSERT_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20), 0);
  EXPECT_LT(Lstat(host_.src("f")).st_blocks, before.st_blocks);
  close(fd);

  // A sparse file: data at 0 and at 1 MiB, a hole between.
  int host_fd = open(host_.src("sparse").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(host_fd, 0);
  std::string block(4096, 's');
  ASSERT_EQ(pwrite(host_fd, block.data(), block.size(), 0), 4096);
  ASSERT_EQ(pwrite(host_fd, block.data(), block.size(), 1 << 20), 4096);
  off_t host_hole = lseek(host_fd, 0, SEEK_HOLE);
  off_t host_data = lseek(host_fd, 8192, SEEK_DATA);
  close(host_fd);
  fd = open(M("sparse").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(lseek(fd, 0, SEEK_HOLE), host_hole);
  EXPECT_EQ(lseek(fd, 8192, SEEK_DATA), host_data);
  EXPECT_EQ(host_data, 1 << 20);

  // copy_file_range between two files on the mount.
  int out = open(M("copy").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(out, 0);
  loff_t in_off = 1 << 20, out_off = 10;
  EXPECT_EQ(copy_file_range(fd, &in_off, out, &out_off, 4096, 0), 4096) << strerror(errno);
  close(out);
  close(fd);
  EXPECT_EQ(ReadHostFile(host_.src("copy")), std::string(10, '\0') + block);
}

// Runs `body` in a child process (fork; the body makes only system calls)
// and returns its exit code.
template <typename F>
int InChild(F body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

struct flock Range(short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

TEST_F(LoopbackMountTest, PosixLocksFollowPosixAndReachTheHost) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.src("f"), std::string(100, 'x')));
  const std::string path = M("f");
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock mine = Range(F_WRLCK, 0, 10);
  ASSERT_EQ(fcntl(fd, F_SETLK, &mine), 0) << strerror(errno);

  // Another process conflicts, and F_GETLK shows the lock.
  EXPECT_EQ(InChild([&] {
              int child_fd = open(path.c_str(), O_RDWR);
              struct flock want = Range(F_RDLCK, 5, 1);
              if (fcntl(child_fd, F_SETLK, &want) == 0) return 1;
              if (errno != EAGAIN && errno != EACCES) return 2;
              struct flock probe = Range(F_WRLCK, 0, 100);
              if (fcntl(child_fd, F_GETLK, &probe) != 0) return 3;
              if (probe.l_type != F_WRLCK || probe.l_start != 0 || probe.l_len != 10) return 4;
              struct flock elsewhere = Range(F_WRLCK, 50, 10);
              return fcntl(child_fd, F_SETLK, &elsewhere) == 0 ? 0 : 5;
            }),
            0);
  // So does the host.
  int host_fd = open(host_.src("f").c_str(), O_RDWR);
  ASSERT_GE(host_fd, 0);
  struct flock probe = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(host_fd, F_OFD_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_WRLCK);
  EXPECT_EQ(probe.l_start, 0);
  // And a host lock is seen through the mount.
  struct flock host_lock = Range(F_WRLCK, 90, 5);
  ASSERT_EQ(fcntl(host_fd, F_OFD_SETLK, &host_lock), 0);
  struct flock blocked = Range(F_WRLCK, 92, 1);
  EXPECT_NE(fcntl(fd, F_SETLK, &blocked), 0);
  close(host_fd);
  EXPECT_EQ(fcntl(fd, F_SETLK, &blocked), 0);

  // POSIX: closing any descriptor of the file drops all the process's locks.
  int other = open(path.c_str(), O_RDONLY);
  ASSERT_GE(other, 0);
  close(other);
  EXPECT_EQ(InChild([&] {
              int child_fd = open(path.c_str(), O_RDWR);
              struct flock want = Range(F_WRLCK, 0, 100);
              return fcntl(child_fd, F_SETLK, &want) == 0 ? 0 : 1;
            }),
            0);

  // OFD locks through the mount: two open files of one process conflict.
  int a = open(path.c_str(), O_RDWR), b = open(path.c_str(), O_RDWR);
  struct flock ofd = Range(F_WRLCK, 0, 1);
  ofd.l_pid = 0;
  ASSERT_EQ(fcntl(a, F_OFD_SETLK, &ofd), 0);
  EXPECT_NE(fcntl(b, F_OFD_SETLK, &ofd), 0);
  close(a);
  EXPECT_TRUE(Eventually([&] { return fcntl(b, F_OFD_SETLK, &ofd) == 0; }));
  close(b);
  close(fd);
}

TEST_F(LoopbackMountTest, AWaitingLockGetsItWhenReleased) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  int host_fd = open(host_.src("f").c_str(), O_RDWR);
  ASSERT_GE(host_fd, 0);
  struct flock host_lock = Range(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(host_fd, F_OFD_SETLK, &host_lock), 0);
  std::thread releaser([&] {
    absl::SleepFor(absl::Milliseconds(100));
    close(host_fd);
  });
  int fd = open(M("f").c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  struct flock want = Range(F_WRLCK, 0, 0);
  absl::Time start = absl::Now();
  EXPECT_EQ(fcntl(fd, F_SETLKW, &want), 0) << strerror(errno);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(50));
  releaser.join();
  close(fd);
}

TEST_F(LoopbackMountTest, FlockLocksReachTheHost) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  int one = open(M("f").c_str(), O_RDONLY), two = open(M("f").c_str(), O_RDONLY);
  ASSERT_GE(one, 0);
  ASSERT_GE(two, 0);
  ASSERT_EQ(flock(one, LOCK_EX | LOCK_NB), 0) << strerror(errno);
  EXPECT_NE(flock(two, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(errno, EWOULDBLOCK);
  int host_fd = open(host_.src("f").c_str(), O_RDONLY);
  EXPECT_NE(flock(host_fd, LOCK_SH | LOCK_NB), 0);
  close(one);
  EXPECT_TRUE(Eventually([&] { return flock(two, LOCK_EX | LOCK_NB) == 0; }));
  EXPECT_NE(flock(host_fd, LOCK_SH | LOCK_NB), 0);
  close(two);
  EXPECT_TRUE(Eventually([&] { return flock(host_fd, LOCK_SH | LOCK_NB) == 0; }));
  close(host_fd);
}

TEST_F(LoopbackMountTest, HostileSymlinksAreResolvedByTheCaller) {
  if (mount_ == nullptr) return;
  ASSERT_TRUE(WriteHostFile(host_.outside("secret"), "outside"));
  // On the host, src/up leads to outside/. Through the mount the caller
  // resolves it next to the mount point, where there is no outside/.
  ASSERT_EQ(symlink("../outside", host_.src("up").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../../../../../etc", host_.src("deep").c_str()), 0);
  ASSERT_EQ(symlink("/etc", host_.src("etc").c_str()), 0);
  ASSERT_FALSE(HostExists(Parent(M()) + "/outside"));

  for (const char* name : {"up", "deep", "etc"}) {
    EXPECT_TRUE(S_ISLNK(Lstat(M(name)).st_mode)) << name;
  }
  char buf[256];
  ssize_t n = readlink(M("up").c_str(), buf, sizeof(buf));
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), "../outside");
  struct stat st;
  EXPECT_NE(stat(M("up/secret").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_LT(open(M("up/planted").c_str(), O_CREAT | O_WRONLY, 0644), 0);
  EXPECT_NE(mkdir(M("up/planted_dir").c_str(), 0755), 0);
  // Absolute links are the caller's too: /etc is the caller's /etc (here
  // the same machine), read by the caller's kernel, not by the daemon.
  EXPECT_EQ(stat(M("etc/hostname").c_str(), &st) == 0, stat("/etc/hostname", &st) == 0);
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"secret"});
  EXPECT_EQ(ReadHostFile(host_.outside("secret")), "outside");
}

// ---- The binary ---------------------------------------------------------------------

class LoopbackBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = MountUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    ASSERT_TRUE(host_.ok());
    mountpoint_ = MakeTempDir("loopbackfs");
    ASSERT_FALSE(mountpoint_.empty());
  }
  void TearDown() override {
    if (mountpoint_.empty()) return;
    if (IsFuseMountPoint(mountpoint_)) {
      EXPECT_TRUE(UnmountPath(mountpoint_).ok());
    }
    rmdir(mountpoint_.c_str());
  }
  HostTree host_;
  std::string mountpoint_;
};

TEST_F(LoopbackBinaryTest, MirrorsAndUnmountsOnSigterm) {
  ASSERT_TRUE(WriteHostFile(host_.src("hello.txt"), "from the source\n"));
  ExampleProcess loopbackfs(kBinary, {"--threads=2", host_.src(), mountpoint_});
  ASSERT_TRUE(loopbackfs.started());
  if (!loopbackfs.WaitForMount(mountpoint_)) {
    ExampleExit exit = loopbackfs.Wait();
    FAIL() << "loopbackfs never mounted: " << exit.stderr_text;
  }
  EXPECT_EQ(ReadHostFile(mountpoint_ + "/hello.txt"), "from the source\n");
  EXPECT_TRUE(WriteHostFile(mountpoint_ + "/back.txt", "through the mount"));
  EXPECT_EQ(ReadHostFile(host_.src("back.txt")), "through the mount");
  struct stat through, host;
  ASSERT_EQ(stat((mountpoint_ + "/hello.txt").c_str(), &through), 0);
  ASSERT_EQ(stat(host_.src("hello.txt").c_str(), &host), 0);
  EXPECT_EQ(through.st_ino, host.st_ino);

  ExampleExit exit = loopbackfs.Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0)
      << "signal " << exit.signal << ": " << exit.stderr_text;
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
  EXPECT_TRUE(HostExists(host_.src("hello.txt")));
}

// Needs no mount: every case fails before mounting.
TEST(LoopbackArgsTest, BadArgumentsExit2WithOneLine) {
  HostTree host;
  ASSERT_TRUE(host.ok());
  const std::string mountpoint = host.base() + "/mnt";
  ASSERT_EQ(mkdir(mountpoint.c_str(), 0755), 0);
  ASSERT_EQ(mkdir(host.src("inner").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host.src("plain"), "x"));
  const std::vector<UsageErrorCase> cases = {
      {{}, "expected 2 arguments, got 0"},
      {{host.src()}, "expected 2 arguments, got 1"},
      {{host.src(), mountpoint, "extra"}, "got 3"},
      {{host.src("missing"), mountpoint}, "source directory " + host.src("missing") +
                                              " does not exist"},
      {{host.src("plain"), mountpoint}, "is not a directory"},
      {{host.src(), mountpoint + "/missing"}, "does not exist"},
      {{host.src(), host.src("plain")}, "is not a directory"},
      {{host.src(), host.src("inner")}, "is inside the source directory"},
      {{"--no_such_flag", host.src(), mountpoint}, "unknown flag --no_such_flag"},
      {{"--threads=many", host.src(), mountpoint}, "bad value 'many' for --threads"},
      {{"--direct_io", "--passthrough", host.src(), mountpoint}, "exclude each other"},
  };
  ExpectUsageErrors(kBinary, cases, mountpoint);
  EXPECT_FALSE(IsFuseMountPoint(host.src("inner")));
}

TEST(LoopbackArgsTest, HelpSaysWhatItMounts) {
  ExampleExit exit = RunExample(kBinary, {"--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0);
  EXPECT_THAT(exit.stdout_text, HasSubstr("loopbackfs SOURCE_DIR MOUNTPOINT"));
  EXPECT_THAT(exit.stdout_text, HasSubstr("--set_owner"));
  EXPECT_THAT(exit.stdout_text, HasSubstr("--default_permissions"));
  EXPECT_THAT(exit.stdout_text, HasSubstr("--direct_io"));
  EXPECT_THAT(exit.stdout_text, HasSubstr("--allow_other"));
}

}  // namespace
}  // namespace fusekit::examples
