// loopbackfs on a real mount against a hostile host: symlinks in the source
// that lead outside it (absolute, relative through "..", deep "../../.."),
// and a host thread that swaps a directory of the source with a symlink to
// an outside canary directory and moves it out of the tree and back while
// other threads look up, stat, open, create, chmod and list beneath it
// through the mount. The daemon must never reach outside: the canary and
// its secret are never changed or added to, and nothing the daemon serves
// is the secret. Caches are off (timeouts 0), so every call reaches the
// daemon. Bounded by rounds, not time. SKIPPED with the reason where
// mounting is impossible.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/loopbackfs/host_tree.h"
#include "fuse/mount.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

std::string Parent(const std::string& path) { return path.substr(0, path.rfind('/')); }

// A host file's state: any change to its data, mode, owner, times or
// xattrs moves its ctime.
struct Snapshot {
  explicit Snapshot(const std::string& path)
      : st(HostLstat(path)), content(ReadHostFile(path)) {
    char names[1024];
    ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
    xattrs.assign(names, n > 0 ? static_cast<size_t>(n) : 0);
  }
  bool operator==(const Snapshot& o) const {
    return st.st_ino == o.st.st_ino && st.st_mode == o.st.st_mode && st.st_uid == o.st.st_uid &&
           st.st_gid == o.st.st_gid && st.st_size == o.st.st_size &&
           st.st_nlink == o.st.st_nlink && st.st_mtim.tv_sec == o.st.st_mtim.tv_sec &&
           st.st_mtim.tv_nsec == o.st.st_mtim.tv_nsec &&
           st.st_ctim.tv_sec == o.st.st_ctim.tv_sec &&
           st.st_ctim.tv_nsec == o.st.st_ctim.tv_nsec && content == o.content &&
           xattrs == o.xattrs;
  }
  struct stat st;
  std::string content;
  std::string xattrs;
};

class LoopbackHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.ok());
    ASSERT_EQ(mkdir(host_.outside("canary").c_str(), 0755), 0);
    ASSERT_TRUE(WriteHostFile(host_.outside("canary/secret"), "canary secret", 0644));
  }
  // Mounts host_.src() (after the test prepared it), all caches off.
  void Mount() {
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host_.src());
    ASSERT_TRUE(root.ok()) << root.status();
    Options options = LoopbackMountOptions();
    options.entry_timeout = absl::ZeroDuration();
    options.attr_timeout = absl::ZeroDuration();
    options.server.workers = 4;
    bridge_ = std::make_unique<Bridge>(*std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "loopbackfs-hostile";
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;  // skipped, or failed with the reason
    bridge_->SetNotifier(&mount_->server().notifier());
    dev_ = HostLstat(mount_->path()).st_dev;
    // The caller resolves a relative link next to the mount point: nothing
    // called outside/ may be there, or a caller-side "../outside" would
    // lead somewhere.
    ASSERT_FALSE(HostExists(Parent(mount_->path()) + "/outside"));
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  std::string M(absl::string_view relative) { return mount_->Path(relative); }
  // True if `fd` is a file of the mount that is the canary's secret: the
  // daemon served it. (A file of another st_dev was reached by the
  // caller's own kernel following a link, which is the caller's right.)
  bool ServedSecret(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != dev_) return false;
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    return st.st_ino == secret_ino() ||
           (n > 0 && std::string(buf, static_cast<size_t>(n)) == "canary secret");
  }
  uint64_t secret_ino() const { return HostLstat(host_.outside("canary/secret")).st_ino; }

  HostTree host_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
  dev_t dev_ = 0;
};

// Links that lead outside are served as links: lstat and readlink show the
// link, the no-follow calls (lchown, lutimes, l*xattr) act on the link, and
// the file they point at is never touched by the daemon.
TEST_F(LoopbackHostileTest, SymlinksLeadingOutsideAreServedAsSymlinks) {
  ASSERT_EQ(symlink(host_.outside("canary/secret").c_str(), host_.src("abs").c_str()), 0);
  ASSERT_EQ(symlink("../outside/canary/secret", host_.src("rel").c_str()), 0);
  ASSERT_EQ(symlink("../outside/canary", host_.src("reldir").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../../../../../../../etc/passwd", host_.src("deep").c_str()),
            0);
  const Snapshot secret(host_.outside("canary/secret"));
  const Snapshot passwd("/etc/passwd");
  Mount();
  if (mount_ == nullptr) return;

  for (const char* name : {"abs", "rel", "reldir", "deep"}) {
    SCOPED_TRACE(name);
    const std::string link = M(name);
    struct stat st;
    ASSERT_EQ(lstat(link.c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_ino, HostLstat(host_.src(name)).st_ino);
    char through[256], on_host[256];
    ssize_t n = readlink(link.c_str(), through, sizeof(through));
    ssize_t m = readlink(host_.src(name).c_str(), on_host, sizeof(on_host));
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(through, n), std::string(on_host, m > 0 ? m : 0));
    // These reach the daemon as requests on the link node.
    EXPECT_EQ(lchown(link.c_str(), getuid(), getgid()), 0);
    struct timeval times[2] = {{1'000'000'000, 0}, {1'000'000'000, 0}};
    EXPECT_EQ(lutimes(link.c_str(), times), 0);
    EXPECT_EQ(HostLstat(host_.src(name)).st_mtim.tv_sec, 1'000'000'000);
    char value[64];
    EXPECT_LT(lgetxattr(link.c_str(), "user.x", value, sizeof(value)), 0);
    EXPECT_LT(lsetxattr(link.c_str(), "user.x", "1", 1, 0), 0);
    char names[256];
    ssize_t listed = llistxattr(link.c_str(), names, sizeof(names));
    if (listed > 0) {
      EXPECT_FALSE(absl::StrContains(std::string(names, listed), "user."));
    }
  }
  // Followed by the caller: the relative links resolve next to the mount
  // point, where there is no outside/ (and nothing may be made there).
  struct stat st;
  EXPECT_NE(stat(M("rel").c_str(), &st), 0);
  EXPECT_NE(stat(M("reldir/secret").c_str(), &st), 0);
  EXPECT_LT(open(M("rel").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644), 0);
  EXPECT_LT(open(M("reldir/planted").c_str(), O_WRONLY | O_CREAT, 0644), 0);
  EXPECT_NE(mkdir(M("reldir/planted_dir").c_str(), 0755), 0);
  EXPECT_NE(mknod(M("reldir/planted_fifo").c_str(), S_IFIFO | 0644, 0), 0);
  // The absolute link is the caller's own path on this machine: whatever it
  // opens there is not served by the daemon (another st_dev).
  int fd = open(M("abs").c_str(), O_RDONLY);
  if (fd >= 0) {
    EXPECT_FALSE(ServedSecret(fd));
    close(fd);
  }
  EXPECT_TRUE(Snapshot(host_.outside("canary/secret")) == secret);
  EXPECT_TRUE(Snapshot("/etc/passwd") == passwd);
  EXPECT_EQ(HostList(host_.outside("canary")), std::vector<std::string>{"secret"});
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"canary"});
}

// The race. The swapped-in link is relative ("../outside/canary"), so a
// caller that follows it lands next to the mount point, where there is
// nothing: anything of the canary seen or made through the mount would be
// the daemon's doing.
TEST_F(LoopbackHostileTest, HostRenamesRacingCallsNeverReachOutside) {
  constexpr int kRounds = 150;  // per caller thread
  constexpr int kCallers = 2;
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d/inner"), "in"));
  ASSERT_EQ(symlink("../outside/canary", host_.src("s").c_str()), 0);
  const Snapshot secret(host_.outside("canary/secret"));
  Mount();
  if (mount_ == nullptr) return;
  const std::string d = host_.src("d"), s = host_.src("s"), away = host_.outside("away");

  std::atomic<int> callers_left{kCallers};
  std::atomic<int> swaps{0}, served_secret{0}, inner_found{0}, inner_wrong{0};
  std::thread renamer([&] {
    while (callers_left.load() > 0) {
      // d <-> s: the link takes d's name, then back.
      renameat2(AT_FDCWD, d.c_str(), AT_FDCWD, s.c_str(), RENAME_EXCHANGE);
      renameat2(AT_FDCWD, d.c_str(), AT_FDCWD, s.c_str(), RENAME_EXCHANGE);
      // Out of the tree, and back in.
      rename(d.c_str(), away.c_str());
      rename(away.c_str(), d.c_str());
      swaps++;
    }
  });
  auto caller = [&](int id) {
    for (int i = 0; i < kRounds; ++i) {
      struct stat st;
      if (stat(M("d/secret").c_str(), &st) == 0 && st.st_dev == dev_) served_secret++;
      if (stat(M("d/inner").c_str(), &st) == 0) {
        inner_found++;
        if (st.st_ino == secret_ino()) inner_wrong++;
      }
      for (const char* name : {"d/secret", "d/inner"}) {
        int fd = open(M(name).c_str(), O_RDONLY);
        if (fd >= 0) {
          if (ServedSecret(fd)) served_secret++;
          close(fd);
        }
      }
      int fd = open(M("d/secret").c_str(), O_WRONLY | O_TRUNC);
      if (fd >= 0) close(fd);
      const std::string file = M(absl::StrCat("d/f_", id, "_", i));
      fd = open(file.c_str(), O_CREAT | O_WRONLY, 0644);
      if (fd >= 0) {
        close(fd);
        unlink(file.c_str());
      }
      const std::string dir = M(absl::StrCat("d/sub_", id, "_", i));
      if (mkdir(dir.c_str(), 0755) == 0) rmdir(dir.c_str());
      const std::string fifo = M(absl::StrCat("d/fifo_", id, "_", i));
      if (mknod(fifo.c_str(), S_IFIFO | 0644, 0) == 0) unlink(fifo.c_str());
      chmod(M("d/inner").c_str(), (i % 2) ? 0640 : 0644);
      chmod(M("d/secret").c_str(), 0600);
      lsetxattr(M("d/inner").c_str(), "user.race", "1", 1, 0);
      unlink(M("d/secret").c_str());
      if (DIR* listing = opendir(M("d").c_str())) {
        while (struct dirent* e = readdir(listing)) {
          if (strcmp(e->d_name, "secret") == 0) served_secret++;
        }
        closedir(listing);
      }
    }
    callers_left--;
  };
  std::vector<std::thread> callers;
  for (int id = 0; id < kCallers; ++id) callers.emplace_back(caller, id);
  for (std::thread& t : callers) t.join();
  renamer.join();

  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(inner_found.load(), 0);
  EXPECT_EQ(inner_wrong.load(), 0);
  EXPECT_EQ(served_secret.load(), 0);
  EXPECT_TRUE(Snapshot(host_.outside("canary/secret")) == secret);
  EXPECT_EQ(HostList(host_.outside("canary")), std::vector<std::string>{"secret"});
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"canary"});
  // The renamer always ends with everything back in place; whatever a
  // failed call left behind is inside d.
  EXPECT_TRUE(S_ISDIR(HostLstat(d).st_mode));
  EXPECT_TRUE(S_ISLNK(HostLstat(s).st_mode));
  EXPECT_EQ(HostList(host_.src()), (std::vector<std::string>{"d", "s"}));
  for (const std::string& name : HostList(d)) {
    EXPECT_TRUE(name == "inner" || absl::StartsWith(name, "f_") ||
                absl::StartsWith(name, "sub_") || absl::StartsWith(name, "fifo_"))
        << name;
  }
  // The mount still works.
  EXPECT_EQ(ReadHostFile(M("d/inner")), "in");
}

// OPENDIR of a directory that became a file, or a symlink to outside, on
// the host: opendir(3) through the mount says ENOTDIR (the kernel looks
// the name up again after the daemon's ESTALE) or, for the link the caller
// follows, ENOENT next to the mount point; never a listing of outside.
TEST_F(LoopbackHostileTest, OpendirOfADirectoryReplacedOnTheHost) {
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(host_.src("e").c_str(), 0755), 0);
  Mount();
  if (mount_ == nullptr) return;
  DIR* first = opendir(M("d").c_str());
  ASSERT_NE(first, nullptr);
  closedir(first);
  ASSERT_NE((first = opendir(M("e").c_str())), nullptr);
  closedir(first);

  ASSERT_EQ(rmdir(host_.src("d").c_str()), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d"), "now a file"));
  ASSERT_EQ(rmdir(host_.src("e").c_str()), 0);
  ASSERT_EQ(symlink("../outside/canary", host_.src("e").c_str()), 0);
  errno = 0;
  EXPECT_EQ(opendir(M("d").c_str()), nullptr);
  EXPECT_EQ(errno, ENOTDIR);
  errno = 0;
  EXPECT_EQ(opendir(M("e").c_str()), nullptr);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_EQ(ReadHostFile(M("d")), "now a file");
}

}  // namespace
}  // namespace fusekit::examples
