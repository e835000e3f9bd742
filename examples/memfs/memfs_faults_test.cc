// memfs under faults, on real mounts: the daemon killed with SIGKILL (the
// mount answers ENOTCONN, cleanup removes it, a new memfs mounts on the same
// directory), and a full filesystem (ENOSPC from write, fallocate and
// create reaches the caller unchanged, and nothing else is damaged). Root
// (or fusermount3) and /dev/fuse needed; SKIPPED with the reason otherwise.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "examples/memfs/memfs.h"
#include "fuse/mount.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

constexpr char kBinary[] = "examples/memfs/memfs";

// FNV-1a: enough to notice a changed byte.
uint64_t Checksum(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string Cat(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return absl::StrCat("<open failed: ", strerror(errno), ">");
  // Straight from memfs, not from pages the kernel kept.
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
  close(fd);
  return out;
}

bool Put(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return close(fd) == 0 && ok;
}

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

std::vector<std::string> List(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return {"<opendir failed>"};
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(d);
  return names;
}

// Lines of /proc/mounts naming `path` as a mount point.
int MountsAt(const std::string& path) {
  std::ifstream in("/proc/mounts");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string source, target;
    fields >> source >> target;
    if (target == path) ++n;
  }
  return n;
}

// ---- SIGKILL ----------------------------------------------------------------

class MemfsKillTest : public ExampleBinaryTest {
 protected:
  MemfsKillTest() : ExampleBinaryTest("memfs-kill") {}
};

TEST_F(MemfsKillTest, DeadDaemonGivesEnotconnAndTheMountCanBeReplaced) {
  auto memfs = std::make_unique<ExampleProcess>(kBinary, std::vector<std::string>{mountpoint_});
  ASSERT_TRUE(memfs->WaitForMount(mountpoint_)) << memfs->Wait().stderr_text;
  const std::string f = mountpoint_ + "/f";
  ASSERT_TRUE(Put(f, "lost with the daemon"));
  // A descriptor held open across the kill: the dead mount is busy.
  int held = open(f.c_str(), O_RDONLY);
  ASSERT_GE(held, 0);

  ExampleExit exit = memfs->Stop(SIGKILL);
  EXPECT_EQ(exit.signal, SIGKILL);
  EXPECT_FALSE(exit.timed_out);

  // The mount stays, with nobody behind it: every call says so.
  EXPECT_TRUE(IsFuseMountPoint(mountpoint_));
  struct stat st;
  errno = 0;
  EXPECT_EQ(stat(f.c_str(), &st), -1);
  EXPECT_EQ(errno, ENOTCONN) << strerror(errno);
  errno = 0;
  EXPECT_EQ(open((mountpoint_ + "/g").c_str(), O_CREAT | O_WRONLY, 0644), -1);
  EXPECT_EQ(errno, ENOTCONN) << strerror(errno);
  char buf[8];
  errno = 0;
  EXPECT_EQ(pread(held, buf, sizeof(buf), 0), -1);
  EXPECT_EQ(errno, ENOTCONN) << strerror(errno);

  // The cleanup path removes the dead mount, busy as it is.
  ASSERT_TRUE(UnmountPath(mountpoint_).ok());
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
  EXPECT_EQ(MountsAt(mountpoint_), 0);
  close(held);

  // A new memfs on the same directory works, and starts empty.
  auto again = std::make_unique<ExampleProcess>(kBinary, std::vector<std::string>{mountpoint_});
  ASSERT_TRUE(again->WaitForMount(mountpoint_)) << again->Wait().stderr_text;
  EXPECT_TRUE(List(mountpoint_).empty());
  ASSERT_TRUE(Put(mountpoint_ + "/new", "fresh"));
  EXPECT_EQ(Cat(mountpoint_ + "/new"), "fresh");
  EXPECT_EQ(MountsAt(mountpoint_), 1);
  exit = again->Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                              << exit.stderr_text;
  EXPECT_EQ(MountsAt(mountpoint_), 0);
}

// Killed again and again on one directory: each round mounts a fresh,
// empty memfs there, and each cleanup leaves nothing in /proc/mounts.
TEST_F(MemfsKillTest, KilledTwiceInARowLeavesNothing) {
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    ExampleProcess memfs(kBinary, {mountpoint_});
    ASSERT_TRUE(memfs.WaitForMount(mountpoint_));
    EXPECT_TRUE(List(mountpoint_).empty());
    ASSERT_TRUE(Put(mountpoint_ + "/f", "x"));
    EXPECT_EQ(memfs.Stop(SIGKILL).signal, SIGKILL);
    struct stat st;
    errno = 0;
    EXPECT_EQ(stat((mountpoint_ + "/f").c_str(), &st), -1);
    EXPECT_EQ(errno, ENOTCONN);
    ASSERT_TRUE(UnmountPath(mountpoint_).ok());
    EXPECT_EQ(MountsAt(mountpoint_), 0);
  }
}

// ---- ENOSPC -------------------------------------------------------------------

constexpr uint64_t kLimit = 256 * 1024;  // bytes of file data
constexpr uint64_t kInodes = 16;         // nodes, the root included

class MemfsEnospcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options = MemfsOptions(Options());
    options.mount.fsname = "memfs-enospc";
    bridge_ = std::make_unique<Bridge>(MemDir::NewRoot(MemfsLimits(kLimit, kInodes)), options);
    MountForTest(bridge_.get(), options.mount, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
    // Two files that must come through every fault intact.
    keep_["keep1"] = RandomBytes(20000, 1);
    keep_["keep2"] = RandomBytes(4096 * 3, 2);
    for (auto& [name, data] : keep_) ASSERT_TRUE(Put(Path(name), data)) << name;
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  std::string Path(absl::string_view relative) { return mount_->Path(relative); }
  void ExpectKeptFilesIntact() {
    for (auto& [name, data] : keep_) {
      EXPECT_EQ(Checksum(Cat(Path(name))), Checksum(data)) << name;
    }
  }

  std::map<std::string, std::string> keep_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

#define REQUIRE_MOUNT() \
  if (mount_ == nullptr) return

TEST_F(MemfsEnospcTest, WriteUntilFullIsConsistent) {
  REQUIRE_MOUNT();
  // Chunks that do not divide the space left, so one write is short.
  const std::string data = RandomBytes(kLimit, 3);
  const std::string f = Path("filler");
  int fd = open(f.c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  size_t total = 0;
  ssize_t n = 0;
  int short_writes = 0;
  const size_t kChunk = 10000;
  while (total < data.size()) {
    size_t want = std::min(kChunk, data.size() - total);
    n = write(fd, data.data() + total, want);
    if (n < 0) break;
    if (static_cast<size_t>(n) < want) ++short_writes;
    total += n;
  }
  const int err = errno;
  ASSERT_EQ(n, -1) << "the data never filled the filesystem";
  EXPECT_EQ(err, ENOSPC) << strerror(err);
  EXPECT_GT(total, 0u);
  // Nothing past what write(2) returned; what it returned is there.
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), total);
  close(fd);
  ASSERT_EQ(stat(f.c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), total);
  const std::string back = Cat(f);
  EXPECT_EQ(back.size(), total);
  EXPECT_EQ(Checksum(back), Checksum(absl::string_view(data).substr(0, total)));
  RecordProperty("bytes_written_before_enospc", static_cast<int>(total));
  RecordProperty("short_writes", short_writes);
  ExpectKeptFilesIntact();

  // Appending to a kept file while full: what fits in its last page goes
  // in (write(2) returns that much), then ENOSPC; size and content agree
  // with what write(2) returned.
  const std::string keep1 = Path("keep1");
  fd = open(keep1.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const std::string tail(8192, 't');
  size_t appended = 0;
  while ((n = write(fd, tail.data() + appended, tail.size() - appended)) > 0) appended += n;
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ENOSPC) << strerror(errno);
  close(fd);
  // 20000 bytes end 3616 bytes into their fifth page: 480 bytes fit.
  EXPECT_EQ(appended, 4096u - 20000u % 4096u);
  keep_["keep1"] += tail.substr(0, appended);
  ASSERT_EQ(stat(keep1.c_str(), &st), 0);
  EXPECT_EQ(static_cast<size_t>(st.st_size), keep_["keep1"].size());
  ExpectKeptFilesIntact();

  // Space comes back when the filler goes.
  ASSERT_EQ(unlink(f.c_str()), 0);
  // FORGET, which frees the space, follows unlink a moment later: poll
  // (bounded) for the event.
  bool wrote = false;
  for (int i = 0; i < 3000 && !wrote; ++i) {
    int probe = open(Path("after").c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (probe >= 0) {
      wrote = write(probe, "ok", 2) == 2;
      close(probe);
    }
    if (!wrote) usleep(10000);
  }
  ASSERT_TRUE(wrote) << "the space of the unlinked file never came back";
  EXPECT_EQ(Cat(Path("after")), "ok");
  ExpectKeptFilesIntact();
}

TEST_F(MemfsEnospcTest, FallocatePastTheLimitFailsWhole) {
  REQUIRE_MOUNT();
  const std::string f = Path("prealloc");
  int fd = open(f.c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "head", 4), 4);
  errno = 0;
  EXPECT_EQ(fallocate(fd, 0, 0, 2 * kLimit), -1);
  EXPECT_EQ(errno, ENOSPC) << strerror(errno);
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 4);  // all or nothing: no size change
  EXPECT_EQ(st.st_blocks, 8);
  // What fits still succeeds.
  ASSERT_EQ(fallocate(fd, 0, 0, 8192), 0) << strerror(errno);
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  close(fd);
  EXPECT_EQ(Cat(f), std::string("head") + std::string(8188, '\0'));
  ExpectKeptFilesIntact();
}

TEST_F(MemfsEnospcTest, CreatePastTheInodeLimit) {
  REQUIRE_MOUNT();
  // The root and the two kept files are nodes already.
  int created = 0;
  int err = 0;
  for (int i = 0; i < static_cast<int>(kInodes) + 4; ++i) {
    int fd = open(Path(absl::StrCat("n", i)).c_str(), O_CREAT | O_WRONLY | O_EXCL, 0644);
    if (fd < 0) {
      err = errno;
      break;
    }
    close(fd);
    ++created;
  }
  EXPECT_EQ(err, ENOSPC) << strerror(err);
  EXPECT_EQ(created, static_cast<int>(kInodes) - 3);
  // mkdir and symlink are refused the same way, and leave no entry.
  errno = 0;
  EXPECT_EQ(mkdir(Path("d").c_str(), 0755), -1);
  EXPECT_EQ(errno, ENOSPC);
  errno = 0;
  EXPECT_EQ(symlink("target", Path("l").c_str()), -1);
  EXPECT_EQ(errno, ENOSPC);
  struct stat st;
  EXPECT_NE(lstat(Path("d").c_str(), &st), 0);
  EXPECT_NE(lstat(Path(absl::StrCat("n", created)).c_str(), &st), 0);
  EXPECT_EQ(List(mount_->path()).size(), static_cast<size_t>(created) + 2);
  ExpectKeptFilesIntact();
}

}  // namespace
}  // namespace fusekit::examples
