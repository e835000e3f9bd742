// INTERRUPT from the real kernel: a signal to a thread blocked in read(2)
// on a FUSE file makes the kernel send FUSE_INTERRUPT; the handler sees it
// and answers EINTR, and read(2) returns EINTR. Root only; SKIPPED otherwise.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"
#include "fuse/server.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

constexpr uint64_t kSlowId = 2;

// hello-like: one file whose READ waits until it is interrupted.
class SlowReadFs : public RawFileSystem {
 public:
  absl::Notification read_started;
  std::atomic<bool> callback_ran{false};
  std::atomic<bool> saw_interrupt{false};

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    if (name != "slow") {
      reply.Error(Errno(ENOENT));
      return;
    }
    EntryParam e;
    e.nodeid = kSlowId;
    e.attr = Attr();
    reply.Entry(e);
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    abi::fuse_attr a = Attr();
    if (nodeid == abi::kRootId) {
      a.ino = 1;
      a.mode = S_IFDIR | 0755;
    }
    reply.Attr(a, absl::ZeroDuration());
  }
  void Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override {
    reply.Open({.open_flags = abi::kOpenDirectIo});
  }
  void Read(ReplyData reply, uint64_t, const abi::fuse_read_in&) override {
    absl::Notification interrupted;
    reply.OnInterrupt([&] {
      callback_ran = true;
      interrupted.Notify();
    });
    read_started.Notify();
    // Bounded, so a missing INTERRUPT fails the test instead of hanging it.
    interrupted.WaitForNotificationWithTimeout(absl::Seconds(10));
    saw_interrupt = reply.Interrupted();
    reply.Error(Errno(EINTR));
  }
  void Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) override { reply.Ok(); }
  void Flush(ReplyEmpty reply, uint64_t, const abi::fuse_flush_in&) override { reply.Ok(); }

 private:
  static abi::fuse_attr Attr() {
    abi::fuse_attr a{};
    a.ino = kSlowId;
    a.mode = S_IFREG | 0644;
    a.nlink = 1;
    a.size = 4096;
    return a;
  }
};

void NoOpHandler(int) {}

TEST(InterruptMountTest, SignalInterruptsABlockedRead) {
  if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
  if (geteuid() != 0) GTEST_SKIP() << "real-mount tests need root";
  const char* tmp = getenv("TEST_TMPDIR");
  std::string mountpoint = absl::StrCat(tmp ? tmp : "/tmp", "/intr.XXXXXX");
  ASSERT_NE(mkdtemp(mountpoint.data()), nullptr);
  SlowReadFs fs;
  auto server = Mount(mountpoint, &fs, {.fsname = "intrtest"}, {.workers = 2});
  if (absl::IsPermissionDenied(server.status()) || absl::IsUnavailable(server.status())) {
    rmdir(mountpoint.c_str());
    GTEST_SKIP() << "cannot mount here: " << server.status();
  }
  ASSERT_TRUE(server.ok()) << server.status();

  // SIGUSR1 without SA_RESTART, so read(2) returns EINTR to the caller.
  struct sigaction action = {}, old;
  action.sa_handler = NoOpHandler;
  sigemptyset(&action.sa_mask);
  sigaction(SIGUSR1, &action, &old);

  std::atomic<ssize_t> result{0};
  std::atomic<int> read_errno{0};
  std::thread reader([&] {
    int fd = open((mountpoint + "/slow").c_str(), O_RDONLY);
    if (fd < 0) {
      result = -2;
      fs.read_started.Notify();
      return;
    }
    char buf[16];
    result = read(fd, buf, sizeof(buf));
    read_errno = errno;
    close(fd);
  });
  ASSERT_TRUE(fs.read_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  pthread_kill(reader.native_handle(), SIGUSR1);
  reader.join();
  sigaction(SIGUSR1, &old, nullptr);

  EXPECT_EQ(result.load(), -1);
  EXPECT_EQ(read_errno.load(), EINTR);
  EXPECT_TRUE(fs.callback_ran.load());
  EXPECT_TRUE(fs.saw_interrupt.load());

  (*server).reset();
  EXPECT_TRUE(UnmountPath(mountpoint).ok());
  rmdir(mountpoint.c_str());
}

}  // namespace
}  // namespace fusekit
