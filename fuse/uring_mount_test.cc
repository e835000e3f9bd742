// ServerOptions::io_uring against the real kernel: requests come through the
// per-CPU rings, data of every size goes both ways intact, a reply sent
// later from another thread arrives, the server stops while a caller keeps
// it busy, and a kernel that does not offer io_uring is served as before.
// Runs as root; SKIPPED otherwise or when the kernel has no FUSE over
// io-uring. The fuse module's enable_uring parameter is turned on for the
// test (FuseUringSwitch) and put back afterwards. (What rings buy is
// measured by benchmarks/mount_bench.)
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"
#include "fuse/mount_test_util.h"
#include "fuse/mutex.h"
#include "fuse/server.h"
#include "fuse/uring_channels.h"
#include "testing/fuse_uring_switch.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

constexpr uint64_t kFileId = 2;   // "f": data read and written
constexpr uint64_t kLaterId = 3;  // "later": GETATTR answered from another thread
constexpr uint64_t kBlockId = 4;  // "block": GETATTR waits for a LOOKUP of "release"

class DataFs : public RawFileSystem {
 public:
  ~DataFs() override { JoinLater(); }
  // The threads sending late replies are done (before the server goes).
  void JoinLater() {
    std::vector<std::thread> later;
    {
      MutexLock lock(&mu_);
      later.swap(later_);
    }
    for (std::thread& t : later) t.join();
  }
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    lookups_++;
    if (name == "release") {
      MutexLock lock(&mu_);
      released_ = true;
    }
    uint64_t id = name == "f"       ? kFileId
                  : name == "later" ? kLaterId
                  : name == "block" ? kBlockId
                                    : 0;
    if (parent != abi::kRootId || id == 0) {
      reply.Error(Errno(ENOENT));
      return;
    }
    EntryParam e;
    e.nodeid = id;
    e.attr = Attr(id);
    reply.Entry(e);
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    if (nodeid == kBlockId) {
      // Blocks this thread until "release" is looked up (5 s at most).
      const absl::Time deadline = absl::Now() + absl::Seconds(5);
      for (;;) {
        {
          MutexLock lock(&mu_);
          if (released_) break;
        }
        if (absl::Now() > deadline) break;
        absl::SleepFor(absl::Milliseconds(1));
      }
      reply.Attr(Attr(nodeid), absl::ZeroDuration());
      return;
    }
    if (nodeid != kLaterId) {
      reply.Attr(Attr(nodeid), absl::ZeroDuration());
      return;
    }
    // The handler returns at once; the reply follows from another thread.
    MutexLock lock(&mu_);
    later_.emplace_back([this, r = std::move(reply)]() mutable {
      absl::SleepFor(absl::Milliseconds(20));
      r.Attr(Attr(kLaterId), absl::ZeroDuration());
    });
  }
  void Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in) override {
    if (nodeid == kFileId && (in.valid & abi::kFattrSize)) {
      MutexLock lock(&mu_);
      data_.resize(in.size);
    }
    reply.Attr(Attr(nodeid), absl::ZeroDuration());
  }
  void Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override {
    OpenParam open;
    open.open_flags = abi::kOpenDirectIo;  // every read(2) and write(2) comes here
    reply.Open(open);
  }
  void Read(ReplyData reply, uint64_t, const abi::fuse_read_in& in) override {
    MutexLock lock(&mu_);
    size_t start = std::min<size_t>(in.offset, data_.size());
    size_t size = std::min<size_t>(in.size, data_.size() - start);
    reply.Data(absl::string_view(data_).substr(start, size));
  }
  void Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in& in,
             absl::Span<const uint8_t> data) override {
    MutexLock lock(&mu_);
    if (data_.size() < in.offset + data.size()) data_.resize(in.offset + data.size());
    std::copy(data.begin(), data.end(), data_.begin() + in.offset);
    reply.Written(data.size());
    // Reading the request after replying must still see it (the reply may
    // share the ring entry's payload buffer with a large request).
    if (!data.empty()) last_byte_ = data.back();
  }
  int lookups() const { return lookups_.load(); }
  char last_byte() {
    MutexLock lock(&mu_);
    return last_byte_;
  }
  size_t size() {
    MutexLock lock(&mu_);
    return data_.size();
  }

 private:
  abi::fuse_attr Attr(uint64_t nodeid) {
    abi::fuse_attr attr{};
    attr.ino = nodeid;
    attr.mode = nodeid == abi::kRootId ? S_IFDIR | 0755 : S_IFREG | 0644;
    attr.nlink = nodeid == abi::kRootId ? 2 : 1;
    if (nodeid == kFileId) attr.size = size();
    return attr;
  }
  std::atomic<int> lookups_{0};
  Mutex mu_;
  std::string data_ ABSL_GUARDED_BY(mu_);
  char last_byte_ ABSL_GUARDED_BY(mu_) = 0;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> later_ ABSL_GUARDED_BY(mu_);
};

class UringMountTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { uring_ = new FuseUringSwitch; }
  static void TearDownTestSuite() {
    delete uring_;  // puts the parameter back
    uring_ = nullptr;
  }

  void SetUp() override {
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
    if (geteuid() != 0) GTEST_SKIP() << "needs root to mount";
    if (!uring_->why_not().empty()) GTEST_SKIP() << uring_->why_not();
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(tmp ? tmp : "/tmp", "/uring.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    mountpoint_ = tmpl;
  }
  void MountIt(bool io_uring = true) {
    ServerOptions options;
    options.workers = 2;
    options.io_uring = io_uring;
    options.log = [this](absl::string_view line) {
      MutexLock lock(&mu_);
      log_ += std::string(line) + "\n";
    };
    auto server = Mount(mountpoint_, &fs_, {.fsname = "uringtest"}, options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }
  // The kernel uses the rings once every queue has an entry, which the
  // ring threads offer just after INIT: until then requests come on
  // /dev/fuse. True once one came through a ring.
  bool WaitForRings() {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (server_->io_uring_requests() > 0) return true;
      Stats("f", 1);
      absl::SleepFor(absl::Milliseconds(1));
    }
    return false;
  }
  void TearDown() override {
    fs_.JoinLater();
    if (server_) {
      server_->Stop();
      server_->Wait();
      server_.reset();
    }
    if (!mountpoint_.empty()) rmdir(mountpoint_.c_str());
  }
  std::string log() {
    MutexLock lock(&mu_);
    return log_;
  }
  int Stats(const std::string& name, int n) {
    const std::string path = mountpoint_ + "/" + name;
    int ok = 0;
    for (int i = 0; i < n; ++i) {
      struct stat st;
      if (stat(path.c_str(), &st) == 0) ++ok;
    }
    return ok;
  }

  static FuseUringSwitch* uring_;
  DataFs fs_;
  std::string mountpoint_;
  std::unique_ptr<Server> server_;
  Mutex mu_;
  std::string log_ ABSL_GUARDED_BY(mu_);
};

FuseUringSwitch* UringMountTest::uring_ = nullptr;

TEST_F(UringMountTest, RequestsComeThroughTheRings) {
  MountIt();
  ASSERT_TRUE(server_->connection().Has(abi::kInitOverIoUring)) << log();
  ASSERT_TRUE(WaitForRings()) << log();
  const int before = fs_.lookups();
  EXPECT_EQ(Stats("f", 1000), 1000);
  EXPECT_GE(fs_.lookups() - before, 1000);
  // A few may come on /dev/fuse while the rings are being set up; the
  // rest come through them.
  EXPECT_GE(server_->io_uring_requests(), 900u) << log();
  EXPECT_EQ(Stats("absent", 10), 0);
  // Nothing blocked, so no standby entry joined a queue.
  EXPECT_EQ(log().find("one more ring entry"), std::string::npos) << log();
}

// Runs the calling thread on CPU 0 only: its requests go to queue 0.
bool PinToCpu0() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(0, &cpus);
  return sched_setaffinity(0, sizeof(cpus), &cpus) == 0;
}

TEST_F(UringMountTest, AHandlerThatBlocksDoesNotHoldItsCpusQueue) {
  MountIt();
  ASSERT_TRUE(server_->connection().Has(abi::kInitOverIoUring)) << log();
  ASSERT_TRUE(WaitForRings()) << log();
  const absl::Time start = absl::Now();
  std::atomic<bool> blocked_stat_ok{false};
  std::thread blocked([&] {
    if (!PinToCpu0()) return;
    struct stat st;
    blocked_stat_ok = stat((mountpoint_ + "/block").c_str(), &st) == 0;
  });
  ASSERT_TRUE(PinToCpu0());
  absl::SleepFor(absl::Milliseconds(30));
  // Queue 0's entry is held by the blocked GETATTR: this LOOKUP gets
  // through only on a standby entry, and it is what unblocks the other.
  struct stat st;
  EXPECT_NE(stat((mountpoint_ + "/release").c_str(), &st), 0);
  blocked.join();
  EXPECT_TRUE(blocked_stat_ok.load());
  EXPECT_LT(absl::Now() - start, absl::Seconds(3)) << "the LOOKUP waited for the handler";
  EXPECT_NE(log().find("one more ring entry"), std::string::npos) << log();
  EXPECT_EQ(Stats("f", 10), 10);
}

TEST_F(UringMountTest, DataOfEverySizeGoesBothWaysIntact) {
  MountIt();
  ASSERT_TRUE(server_->connection().Has(abi::kInitOverIoUring)) << log();
  ASSERT_TRUE(WaitForRings()) << log();
  const std::string path = mountpoint_ + "/f";
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  // 1 byte, a page, and writes past the size the ring copies requests out
  // at (1 MiB: the request is read in place, and its reply staged).
  for (size_t size : {size_t{1}, size_t{4096}, size_t{100} << 10, size_t{1} << 20}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    ASSERT_EQ(ftruncate(fd, 0), 0);
    ASSERT_EQ(pwrite(fd, data.data(), size, 0), static_cast<ssize_t>(size)) << size;
    EXPECT_EQ(fs_.size(), size);
    EXPECT_EQ(fs_.last_byte(), data.back()) << size;
    std::string back(size + 10, '\0');
    ASSERT_EQ(pread(fd, back.data(), back.size(), 0), static_cast<ssize_t>(size)) << size;
    back.resize(size);
    EXPECT_TRUE(back == data) << "read back differs at size " << size;
  }
  close(fd);
  EXPECT_GT(server_->io_uring_requests(), 8u);
}

TEST_F(UringMountTest, AReplySentLaterFromAnotherThreadArrives) {
  MountIt();
  ASSERT_TRUE(server_->connection().Has(abi::kInitOverIoUring)) << log();
  ASSERT_TRUE(WaitForRings()) << log();
  const absl::Time start = absl::Now();
  EXPECT_EQ(Stats("later", 5), 5);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(5 * 20));  // each waited for its reply
  EXPECT_EQ(Stats("f", 10), 10);  // and the rings serve on
}

// NOTIFY_REPLY answers a RETRIEVE and gets no reply itself: whichever way
// the kernel sends it, the data arrives and the rings serve on.
TEST_F(UringMountTest, RetrieveAnswersArrive) {
  MountIt();
  ASSERT_TRUE(server_->connection().Has(abi::kInitOverIoUring)) << log();
  ASSERT_TRUE(WaitForRings()) << log();
  const std::string stored = "STORED";
  for (int i = 0; i < 3; ++i) {
    // Stored anew each time: the stats below fetch the file's size (0 in
    // the filesystem), which drops the stored pages.
    ASSERT_EQ(server_->notifier().Store(
                  kFileId, 0,
                  absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(stored.data()),
                                      stored.size())),
              kOk);
    // (A Mutex, not absl::Notification: TSan sees through this one.)
    Mutex mu;
    bool done = false;
    std::string retrieved;
    ASSERT_EQ(server_->notifier().Retrieve(kFileId, 0, 6,
                                           [&](uint64_t, absl::Span<const uint8_t> data) {
                                             MutexLock lock(&mu);
                                             retrieved.assign(
                                                 reinterpret_cast<const char*>(data.data()),
                                                 data.size());
                                             done = true;
                                           }),
              kOk);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    for (;;) {
      {
        MutexLock lock(&mu);
        if (done) break;
      }
      ASSERT_LT(absl::Now(), deadline) << "no NOTIFY_REPLY\n" << log();
      absl::SleepFor(absl::Milliseconds(1));
    }
    MutexLock lock(&mu);
    EXPECT_EQ(retrieved, "STORED");
    EXPECT_EQ(Stats("f", 20), 20);
  }
}

TEST_F(UringMountTest, StopsWhileACallerKeepsItBusy) {
  MountIt();
  StopWhileACallerStats(server_.get(), mountpoint_ + "/f");
  EXPECT_GT(server_->io_uring_requests(), 0u) << log();
  server_.reset();
}

TEST_F(UringMountTest, WithoutTheKernelsConsentServesAsBefore) {
  ASSERT_TRUE(FuseUringSwitch::Set(false));
  MountIt();
  // The parameter decides at INIT; the test suite's setting comes back now.
  FuseUringSwitch::Set(true);
  EXPECT_FALSE(server_->connection().Has(abi::kInitOverIoUring));
  EXPECT_EQ(Stats("f", 100), 100);
  EXPECT_EQ(server_->io_uring_requests(), 0u);
}

TEST(PossibleCpusTest, CountsTheKernelsQueues) {
  const int n = PossibleCpus();
  EXPECT_GE(n, 1);
  EXPECT_GE(n, static_cast<int>(std::thread::hardware_concurrency()));
}

TEST(UringPayloadSizeTest, IsWhatTheKernelRequiresOfAnEntry) {
  // The kernel refuses an entry whose payload is smaller than max_write,
  // than max_pages pages, or than 8 KiB (fs/fuse/dev_uring.c).
  EXPECT_EQ(UringChannels::PayloadSize(1 << 20, 256), size_t{1} << 20);
  EXPECT_EQ(UringChannels::PayloadSize(128 << 10, 256), size_t{256} * 4096);
  EXPECT_EQ(UringChannels::PayloadSize(4096, 1), size_t{8192});
  EXPECT_EQ(UringChannels::PayloadSize(0, 0), size_t{8192});
}

}  // namespace
}  // namespace fusekit
