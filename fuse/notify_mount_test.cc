// Notifications against the real kernel: each one must change what the
// kernel's caches return, which proves the wire format as well as the
// plumbing. Runs as root (or with fusermount3); SKIPPED otherwise.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"
#include "fuse/mutex.h"
#include "fuse/server.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

constexpr absl::Duration kLongTimeout = absl::Hours(1);

// A flat directory of files the test edits behind the kernel's back. Caches
// are long-lived so only notifications can make the kernel see changes.
class MutableFs : public RawFileSystem {
 public:
  struct File {
    uint64_t id;
    std::string content;
  };

  void Set(const std::string& name, uint64_t id, const std::string& content) {
    MutexLock lock(&mu_);
    files_[name] = {id, content};
  }
  void Remove(const std::string& name) {
    MutexLock lock(&mu_);
    files_.erase(name);
  }
  int lookups(const std::string& name) {
    MutexLock lock(&mu_);
    return lookups_[name];
  }
  int reads() const { return reads_.load(); }
  uint64_t forgotten(uint64_t id) {
    MutexLock lock(&mu_);
    return forgets_[id];
  }
  // Called inside the LOOKUP handler of "trigger".
  std::function<void()> on_trigger;

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    std::string n(name);
    if (n == "trigger" && on_trigger) on_trigger();
    MutexLock lock(&mu_);
    lookups_[n]++;
    auto it = files_.find(n);
    if (parent != abi::kRootId || it == files_.end()) {
      reply.Error(Errno(ENOENT));
      return;
    }
    EntryParam e;
    e.nodeid = it->second.id;
    e.entry_timeout = kLongTimeout;
    e.attr_timeout = kLongTimeout;
    e.attr = AttrOf(it->second);
    reply.Entry(e);
  }
  void Forget(const RequestContext&, uint64_t nodeid, uint64_t nlookup) override {
    MutexLock lock(&mu_);
    forgets_[nodeid] += nlookup;
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    abi::fuse_attr attr{};
    if (nodeid == abi::kRootId) {
      attr.ino = 1;
      attr.mode = S_IFDIR | 0755;
      attr.nlink = 2;
      reply.Attr(attr, kLongTimeout);
      return;
    }
    MutexLock lock(&mu_);
    for (auto& [name, file] : files_) {
      if (file.id == nodeid) {
        reply.Attr(AttrOf(file), kLongTimeout);
        return;
      }
    }
    reply.Error(Errno(ENOENT));
  }
  void Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override {
    reply.Open({.open_flags = abi::kOpenKeepCache});
  }
  void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) override {
    reads_++;
    std::string data;
    {
      MutexLock lock(&mu_);
      for (auto& [name, file] : files_) {
        if (file.id == nodeid) data = file.content;
      }
    }
    data = in.offset >= data.size() ? "" : data.substr(in.offset, in.size);
    reply.Data(absl::string_view(data));
  }
  void Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) override { reply.Ok(); }
  void Flush(ReplyEmpty reply, uint64_t, const abi::fuse_flush_in&) override { reply.Ok(); }

 private:
  static abi::fuse_attr AttrOf(const File& f) {
    abi::fuse_attr attr{};
    attr.ino = f.id;
    attr.mode = S_IFREG | 0644;
    attr.nlink = 1;
    attr.size = f.content.size();
    attr.blksize = 4096;
    return attr;
  }

  Mutex mu_;
  std::map<std::string, File> files_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> lookups_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, uint64_t> forgets_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> reads_{0};
};

class NotifyMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
    if (geteuid() != 0) GTEST_SKIP() << "real-mount notification tests need root";
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(tmp ? tmp : "/tmp", "/notify.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    mountpoint_ = tmpl;
    auto server = Mount(mountpoint_, &fs_, {.fsname = "notifytest"}, {.workers = 2});
    if (absl::IsPermissionDenied(server.status()) || absl::IsUnavailable(server.status())) {
      GTEST_SKIP() << "cannot mount here: " << server.status();
    }
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    if (!mountpoint_.empty()) {
      EXPECT_TRUE(UnmountPath(mountpoint_).ok());
      rmdir(mountpoint_.c_str());
    }
  }

  std::string Path(absl::string_view name) { return absl::StrCat(mountpoint_, "/", name); }
  bool Exists(absl::string_view name) {
    struct stat st;
    return stat(Path(name).c_str(), &st) == 0;
  }
  std::string ReadAll(absl::string_view name) {
    int fd = open(Path(name).c_str(), O_RDONLY);
    if (fd < 0) return "<open failed>";
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    close(fd);
    return out;
  }
  // Skips the test when this kernel does not know the notification.
  void SkipIfUnsupported(Errno e, absl::string_view what) {
    if (e == Errno(ENOSYS) || e == Errno(EINVAL)) {
      GTEST_SKIP() << what << " is not supported by this kernel: " << DescribeErrno(e);
    }
  }

  MutableFs fs_;
  std::string mountpoint_;
  std::unique_ptr<Server> server_;
};

TEST_F(NotifyMountTest, InvalInodeMakesNewContentVisible) {
  fs_.Set("a", 10, "one");
  EXPECT_EQ(ReadAll("a"), "one");
  int reads = fs_.reads();
  fs_.Set("a", 10, "two!");
  EXPECT_EQ(ReadAll("a"), "one");  // page cache and size still cached
  EXPECT_EQ(fs_.reads(), reads);
  ASSERT_EQ(server_->notifier().InvalInode(10, 0, 0), kOk);
  EXPECT_EQ(ReadAll("a"), "two!");
}

TEST_F(NotifyMountTest, InvalEntryDropsTheDentry) {
  fs_.Set("b", 11, "x");
  ASSERT_TRUE(Exists("b"));
  ASSERT_TRUE(Exists("b"));
  EXPECT_EQ(fs_.lookups("b"), 1);  // the second stat came from the cache
  fs_.Remove("b");
  EXPECT_TRUE(Exists("b"));  // still cached
  ASSERT_EQ(server_->notifier().InvalEntry(abi::kRootId, "b"), kOk);
  EXPECT_FALSE(Exists("b"));
  EXPECT_EQ(fs_.lookups("b"), 2);
  // Nothing cached any more: the kernel says so.
  EXPECT_EQ(server_->notifier().InvalEntry(abi::kRootId, "never-looked-up"), Errno(ENOENT));
}

TEST_F(NotifyMountTest, ExpireOnlyMarksTheDentryStale) {
  fs_.Set("e", 12, "x");
  ASSERT_TRUE(Exists("e"));
  Errno e = server_->notifier().InvalEntry(abi::kRootId, "e", /*expire_only=*/true);
  SkipIfUnsupported(e, "FUSE_EXPIRE_ONLY");
  ASSERT_EQ(e, kOk);
  ASSERT_TRUE(Exists("e"));
  EXPECT_EQ(fs_.lookups("e"), 2);  // revalidated with a new LOOKUP
}

TEST_F(NotifyMountTest, DeleteRemovesTheEntry) {
  fs_.Set("c", 13, "x");
  ASSERT_TRUE(Exists("c"));
  fs_.Remove("c");
  ASSERT_EQ(server_->notifier().Delete(abi::kRootId, 13, "c"), kOk);
  EXPECT_FALSE(Exists("c"));
}

TEST_F(NotifyMountTest, StoreFillsThePageCacheAndRetrieveReadsIt) {
  fs_.Set("s", 14, "abcdef");
  EXPECT_EQ(ReadAll("s"), "abcdef");
  int reads = fs_.reads();
  const std::string stored = "STORED";
  ASSERT_EQ(server_->notifier().Store(
                14, 0, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(stored.data()),
                                           stored.size())),
            kOk);
  EXPECT_EQ(ReadAll("s"), "STORED");  // from the page cache
  EXPECT_EQ(fs_.reads(), reads);

  absl::Notification done;
  std::string retrieved;
  uint64_t retrieved_offset = 99;
  ASSERT_EQ(server_->notifier().Retrieve(14, 0, 6,
                                         [&](uint64_t offset, absl::Span<const uint8_t> data) {
                                           retrieved_offset = offset;
                                           retrieved.assign(
                                               reinterpret_cast<const char*>(data.data()),
                                               data.size());
                                           done.Notify();
                                         }),
            kOk);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(retrieved_offset, 0u);
  EXPECT_EQ(retrieved, "STORED");
}

TEST_F(NotifyMountTest, IncEpochRevalidatesEveryDentry) {
  fs_.Set("p", 15, "x");
  ASSERT_TRUE(Exists("p"));
  Errno e = server_->notifier().IncEpoch();
  SkipIfUnsupported(e, "FUSE_NOTIFY_INC_EPOCH");
  ASSERT_EQ(e, kOk);
  ASSERT_TRUE(Exists("p"));
  EXPECT_EQ(fs_.lookups("p"), 2);
}

TEST_F(NotifyMountTest, PruneMakesTheKernelForgetUnusedNodes) {
  fs_.Set("q", 16, "x");
  ASSERT_TRUE(Exists("q"));
  const uint64_t ids[] = {16};
  Errno e = server_->notifier().Prune(ids);
  SkipIfUnsupported(e, "FUSE_NOTIFY_PRUNE");
  ASSERT_EQ(e, kOk);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (fs_.forgotten(16) == 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_EQ(fs_.forgotten(16), 1u);
}

TEST_F(NotifyMountTest, NotifyingFromInsideAHandlerDoesNotDeadlock) {
  fs_.Set("b", 17, "x");
  ASSERT_TRUE(Exists("b"));
  fs_.Remove("b");
  // The kernel holds the root directory's lock while it waits for this
  // LOOKUP; an inval_entry on that directory sent synchronously here would
  // wait for the same lock. The notifier queues it instead.
  fs_.on_trigger = [this] { server_->notifier().InvalEntry(abi::kRootId, "b"); };
  EXPECT_FALSE(Exists("trigger"));
  server_->notifier().Flush();
  EXPECT_FALSE(Exists("b"));
}

}  // namespace
}  // namespace fusekit
