// ServerOptions::spin_us against the real kernel: a busy-polling worker
// serves back-to-back requests, sleeps once the caller stops, lets the
// server stop while it spins, and stands down when the workers would share
// one descriptor. Runs as root; SKIPPED otherwise. (What spinning buys is
// measured by benchmarks/mount_bench, never here.)
#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"
#include "fuse/mount_test_util.h"
#include "fuse/mutex.h"
#include "fuse/server.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

constexpr uint64_t kFileId = 2;

// "/" holding one empty file "f"; nothing cached, so every stat is a
// LOOKUP round trip.
class OneFileFs : public RawFileSystem {
 public:
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    lookups_++;
    if (parent != abi::kRootId || name != "f") {
      reply.Error(Errno(ENOENT));
      return;
    }
    EntryParam e;
    e.nodeid = kFileId;
    e.attr = Attr(kFileId);
    reply.Entry(e);
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    reply.Attr(Attr(nodeid), absl::ZeroDuration());
  }
  int lookups() const { return lookups_.load(); }

 private:
  static abi::fuse_attr Attr(uint64_t nodeid) {
    abi::fuse_attr attr{};
    attr.ino = nodeid;
    attr.mode = nodeid == abi::kRootId ? S_IFDIR | 0755 : S_IFREG | 0644;
    attr.nlink = nodeid == abi::kRootId ? 2 : 1;
    return attr;
  }
  std::atomic<int> lookups_{0};
};

// CPU time (user + system) this process has used.
absl::Duration CpuTime() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

struct Config {
  int workers;
  bool clone_fd;
};

class SpinMountTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount";
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(tmp ? tmp : "/tmp", "/spin.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    mountpoint_ = tmpl;
    ServerOptions options;
    options.workers = GetParam().workers;
    options.clone_fd = GetParam().clone_fd;
    options.spin_us = 200;
    options.log = [this](absl::string_view line) {
      MutexLock lock(&mu_);
      log_ += std::string(line) + "\n";
    };
    auto server = Mount(mountpoint_, &fs_, {.fsname = "spintest"}, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(server_->WaitInitialized(absl::Seconds(10)));
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      server_->Wait();
    }
    if (!mountpoint_.empty()) rmdir(mountpoint_.c_str());
  }
  std::string log() {
    MutexLock lock(&mu_);
    return log_;
  }
  // `n` stats of /f; how many succeeded.
  int Stats(int n) {
    const std::string f = mountpoint_ + "/f";
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      struct stat st;
      if (stat(f.c_str(), &st) == 0 && st.st_ino == kFileId) ++ok;
    }
    return ok;
  }

  OneFileFs fs_;
  std::string mountpoint_;
  std::unique_ptr<Server> server_;
  Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
};

TEST_P(SpinMountTest, ServesBackToBackRequests) {
  const int before = fs_.lookups();
  EXPECT_EQ(Stats(2000), 2000);
  EXPECT_GE(fs_.lookups() - before, 2000);  // every stat reached the server
}

TEST_P(SpinMountTest, SleepsOnceTheCallerStops) {
  EXPECT_EQ(Stats(500), 500);
  absl::SleepFor(absl::Milliseconds(50));  // well past spin_us
  const absl::Duration cpu = CpuTime();
  const absl::Time start = absl::Now();
  absl::SleepFor(absl::Milliseconds(500));
  const absl::Duration idle_cpu = CpuTime() - cpu;
  // A worker still spinning would use about all of the window.
  EXPECT_LT(idle_cpu, (absl::Now() - start) * 0.3) << "CPU while idle: " << idle_cpu;
}

TEST_P(SpinMountTest, StopsWhileACallerKeepsItSpinning) {
  // Hangs if a spinning worker never sees the end.
  StopWhileACallerStats(server_.get(), mountpoint_ + "/f");
  server_.reset();
}

TEST_P(SpinMountTest, StandsDownWhenWorkersShareADescriptor) {
  EXPECT_EQ(Stats(100), 100);
  const bool shared = GetParam().workers > 1 && !GetParam().clone_fd;
  EXPECT_EQ(absl::StrContains(log(), "not spinning"), shared) << log();
}

INSTANTIATE_TEST_SUITE_P(Workers, SpinMountTest,
                         ::testing::Values(Config{1, true}, Config{2, true}, Config{2, false}),
                         [](const ::testing::TestParamInfo<Config>& info) {
                           return absl::StrCat(info.param.workers, "Workers",
                                               info.param.clone_fd ? "Cloned" : "Shared");
                         });

}  // namespace
}  // namespace fusekit
