// FUSE_HANDLE_KILLPRIV_V2 on real mounts of an in-memory tree and of a
// loopback tree, each with Options::handle_killpriv on and off: writes,
// truncates and chowns drop set-user-ID/set-group-ID bits and file
// capabilities exactly as the kernel does when it does it itself, and with
// V2 the kernel stops asking GETXATTR security.capability before every
// write. Runs as root (SKIPPED otherwise); the unprivileged cases fork a
// child that becomes nobody (SKIPPED where this user namespace maps only
// root, as Bazel's sandbox does: hence no-sandbox).
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fuse/mutex.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"

namespace fusekit {
namespace {

constexpr char kCapability[] = "security.capability";
constexpr uid_t kNobody = 65534;
constexpr int kCannotSwitchUser = 77;

// A valid file capability (revision 2: the kernel refuses malformed ones):
// cap_net_bind_service, permitted and effective.
std::string CapabilityValue() {
  struct vfs_cap_data cap {};
  cap.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
  cap.data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
  return std::string(reinterpret_cast<const char*>(&cap), XATTR_CAPS_SZ_2);
}

struct Config {
  bool loopback;
  bool handle_killpriv;
};

std::string ConfigName(const ::testing::TestParamInfo<Config>& info) {
  return absl::StrCat(info.param.loopback ? "Loopback" : "Mem",
                      info.param.handle_killpriv ? "V2" : "KernelKills");
}

class KillprivMountTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root (mounts with allow_other, sets capabilities)";
    std::unique_ptr<Node> root;
    if (GetParam().loopback) {
      std::string tmpl = absl::StrCat(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp",
                                      "/killpriv_host.XXXXXX");
      ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << strerror(errno);
      host_dir_ = tmpl;
      ASSERT_EQ(chmod(host_dir_.c_str(), 0755), 0);
      absl::StatusOr<std::unique_ptr<LoopbackNode>> lo = NewLoopbackRoot(host_dir_);
      ASSERT_TRUE(lo.ok()) << lo.status();
      root = *std::move(lo);
    } else {
      root = std::make_unique<MemDir>(S_IFDIR | 0755);
    }
    Options options;
    options.handle_killpriv = GetParam().handle_killpriv;
    options.entry_timeout = absl::Hours(1);
    options.attr_timeout = absl::Hours(1);
    options.server.log = [this](absl::string_view line) {
      if (absl::StartsWith(line, "-> GETXATTR ") && absl::StrContains(line, kCapability)) {
        MutexLock lock(&mu_);
        ++capability_probes_;
      }
    };
    options.server.debug = true;
    bridge_ = std::make_unique<Bridge>(std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "killpriv-test";
    mount_options.allow_other = true;  // for the child that becomes nobody
    mount_options.default_permissions = true;
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
    if (!host_dir_.empty()) {
      for (const char* name : {"f", "g"}) unlink(absl::StrCat(host_dir_, "/", name).c_str());
      rmdir(host_dir_.c_str());
    }
  }

  std::string M(absl::string_view name) { return mount_->Path(name); }
  int probes() {
    MutexLock lock(&mu_);
    return capability_probes_;
  }

  // A world-writable file holding "data" with `mode`'s special bits and a
  // file capability.
  void MakeFile(const std::string& path, mode_t mode) {
    int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0) << strerror(errno);
    ASSERT_EQ(write(fd, "data", 4), 4);
    ASSERT_EQ(close(fd), 0);
    ASSERT_EQ(chmod(path.c_str(), mode), 0) << strerror(errno);
    const std::string cap = CapabilityValue();
    ASSERT_EQ(setxattr(path.c_str(), kCapability, cap.data(), cap.size(), 0), 0)
        << strerror(errno);
  }
  mode_t Mode(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0) << strerror(errno);
    return st.st_mode & 07777;
  }
  bool HasCapability(const std::string& path) {
    return getxattr(path.c_str(), kCapability, nullptr, 0) > 0;
  }

  // Opens `path` for writing, then runs `body` on it as nobody, in a child
  // process; false where this user namespace cannot switch users. (The
  // open is root's: nobody could not walk down to a mount under Bazel's
  // output tree. What counts is who writes: the kernel asks for CAP_FSETID
  // at the write.)
  template <typename Body>
  bool AsNobody(const std::string& path, Body body) {
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(path.c_str(), O_WRONLY);
      if (fd < 0) _exit(2);
      if (setresgid(kNobody, kNobody, kNobody) != 0 || setresuid(kNobody, kNobody, kNobody) != 0) {
        _exit(kCannotSwitchUser);
      }
      _exit(body(fd) ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kCannotSwitchUser) return false;
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
    return true;
  }

  std::string host_dir_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
  Mutex mu_;
  int capability_probes_ ABSL_GUARDED_BY(mu_) = 0;
};

#define REQUIRE_MOUNT() \
  if (mount_ == nullptr) return

// Runs `body` on `path` as nobody, or skips the test where that is impossible.
#define AS_NOBODY_OR_SKIP(path, body) \
  if (!AsNobody(path, body))          \
  GTEST_SKIP() << "cannot become nobody here (a user namespace that maps only root)"

TEST_P(KillprivMountTest, WithV2WritesStopAskingForTheCapability) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  int fd = open(f.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  const int before = probes();
  constexpr int kWrites = 8;
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(pwrite(fd, "abcd", 4, i * 4), 4);
  ASSERT_EQ(close(fd), 0);
  const int asked = probes() - before;
  if (GetParam().handle_killpriv) {
    // At most the first write asks: then the kernel marks the inode
    // S_NOSEC (SB_NOSEC comes with V2) and asks no more.
    EXPECT_LE(asked, 1);
  } else {
    EXPECT_GE(asked, kWrites);  // a round trip per write(2)
  }
}

TEST_P(KillprivMountTest, UnprivilegedWriteDropsSetuidSetgidAndCapability) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  MakeFile(f, 06777);
  ASSERT_TRUE(HasCapability(f));
  AS_NOBODY_OR_SKIP(f, [](int fd) { return write(fd, "x", 1) == 1; });
  EXPECT_EQ(Mode(f), 0777u);
  EXPECT_FALSE(HasCapability(f));
}

TEST_P(KillprivMountTest, UnprivilegedWriteKeepsSetgidWithoutGroupExecute) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  MakeFile(f, 06766);
  AS_NOBODY_OR_SKIP(f, [](int fd) { return write(fd, "x", 1) == 1; });
  EXPECT_EQ(Mode(f), 02766u);
}

TEST_P(KillprivMountTest, UnprivilegedTruncateDrops) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  MakeFile(f, 06777);
  AS_NOBODY_OR_SKIP(f, [](int fd) { return ftruncate(fd, 1) == 0; });
  EXPECT_EQ(Mode(f), 0777u);
  EXPECT_FALSE(HasCapability(f));
}

TEST_P(KillprivMountTest, RootWriteKeepsSetuidAndDropsTheCapability) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  MakeFile(f, 04755);
  int fd = open(f.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(write(fd, "x", 1), 1);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Mode(f), 04755u);  // root has CAP_FSETID
  EXPECT_FALSE(HasCapability(f));
}

TEST_P(KillprivMountTest, ChownDropsSetuidAndCapabilityEvenForRoot) {
  REQUIRE_MOUNT();
  const std::string f = M("f");
  MakeFile(f, 06755);
  ASSERT_EQ(chown(f.c_str(), 1, 1), 0) << strerror(errno);
  EXPECT_EQ(Mode(f), 0755u);
  EXPECT_FALSE(HasCapability(f));
  struct stat st;
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1u);
}

TEST_P(KillprivMountTest, NewFileKeepsTheSetuidItWasCreatedWith) {
  REQUIRE_MOUNT();
  const std::string g = M("g");
  mode_t old = umask(0);
  int fd = open(g.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 04755);
  umask(old);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(write(fd, "x", 1), 1);
  ASSERT_EQ(close(fd), 0);
  EXPECT_EQ(Mode(g), 04755u);
}

INSTANTIATE_TEST_SUITE_P(Trees, KillprivMountTest,
                         ::testing::Values(Config{false, true}, Config{false, false},
                                           Config{true, true}, Config{true, false}),
                         ConfigName);

}  // namespace
}  // namespace fusekit
