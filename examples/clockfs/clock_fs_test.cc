// clockfs through the fake kernel: with hour-long timeouts the kernel's
// caches would hide every change; the notifications each Tick() sends must
// reach the kernel and invalidate exactly what changed.
#include "examples/clockfs/clock_fs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "testing/fake_kernel.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit::examples {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

constexpr absl::Duration kLong = absl::Hours(1);

Options LongCaches() {
  Options options;
  options.entry_timeout = kLong;
  options.attr_timeout = kLong;
  return options;
}

class ClockFsTest : public ::testing::Test {
 protected:
  explicit ClockFsTest(Options options = LongCaches()) {
    auto root = std::make_unique<ClockRoot>(ClockFsOptions{.clock = &clock_});
    root_ = root.get();
    fs_ = std::make_unique<NodefsFakeKernel>(std::move(root), options);
  }
  ~ClockFsTest() override { EXPECT_EQ(root_->notify_errors(), 0u); }

  FakeKernel& kernel() { return fs_->kernel(); }
  FakeVfs& vfs() { return fs_->vfs(); }
  // One second passes and the filesystem ticks; then the kernel handles the
  // notifications it sent (as the real kernel does when they are written).
  void TickOnce() {
    clock_.Advance(absl::Seconds(1));
    root_->Tick();
    kernel().server()->notifier().Flush();
    kernel().ProcessPendingMessages();
  }
  uint64_t NodeId(absl::string_view path) {
    Result<uint64_t> id = vfs().Lookup(path);
    EXPECT_THAT(id, IsOk()) << path;
    return id.ok() ? *id : 0;
  }
  std::vector<abi::NotifyCode> Codes(const std::vector<ReceivedNotification>& got) {
    std::vector<abi::NotifyCode> codes;
    for (const ReceivedNotification& n : got) codes.push_back(n.code);
    return codes;
  }

  ManualClock clock_;  // starts at 2023-11-14 22:13:20 UTC
  ClockRoot* root_ = nullptr;
  std::unique_ptr<NodefsFakeKernel> fs_;
};

TEST_F(ClockFsTest, ServesTheTreeReadOnly) {
  EXPECT_THAT(vfs().ListDir("/"), IsOkAndHolds(ElementsAre("events", "time", "uptime")));
  EXPECT_THAT(vfs().ReadFile("/time"), IsOkAndHolds("2023-11-14 22:13:20 UTC\n"));
  EXPECT_THAT(vfs().ReadFile("/uptime"), IsOkAndHolds("0\n"));
  EXPECT_THAT(vfs().ListDir("/events"), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(vfs().Stat("/time"), IsOkAndHolds(Field(&stat::st_mode, S_IFREG | 0444)));
  EXPECT_THAT(vfs().Stat("/time"), IsOkAndHolds(Field(&stat::st_ino, kTimeIno)));
  EXPECT_THAT(vfs().Stat("/events"), IsOkAndHolds(Field(&stat::st_mode, S_IFDIR | 0555)));
  EXPECT_THAT(vfs().Mkdir("/d", 0755), FailsWith(EROFS));
  EXPECT_THAT(vfs().Open("/time", O_WRONLY, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs().Unlink("/time"), FailsWith(EROFS));
}

TEST_F(ClockFsTest, OpensAskTheKernelToKeepTheirCaches) {
  Result<int> fd = vfs().Open("/time", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->open_flags & abi::kOpenKeepCache, abi::kOpenKeepCache);
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  Result<int> dir = vfs().Open("/events", O_RDONLY | O_DIRECTORY, 0);
  ASSERT_THAT(dir, IsOk());
  file = vfs().File(*dir);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->open_flags & abi::kOpenCacheDir, abi::kOpenCacheDir);
  EXPECT_THAT(vfs().Close(*dir), IsOk());
}

TEST_F(ClockFsTest, TickInvalidatesCachedAttributesDespiteLongTimeouts) {
  const uint64_t time_id = NodeId("/time");
  const uint64_t uptime_id = NodeId("/uptime");
  ASSERT_THAT(vfs().Stat("/time"), IsOk());
  ASSERT_THAT(vfs().Stat("/uptime"), IsOk());
  kernel().clock().Advance(absl::Minutes(30));
  ASSERT_TRUE(kernel().AttrCached(time_id));  // half an hour later, still cached
  const absl::Time before = clock_.Now();

  TickOnce();

  std::vector<ReceivedNotification> got = kernel().TakeNotifications();
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got[0].code, abi::NotifyCode::kInvalInode);
  EXPECT_EQ(got[0].As<abi::fuse_notify_inval_inode_out>().ino, time_id);
  EXPECT_EQ(got[0].kernel_result, kOk);  // the kernel had it cached
  EXPECT_EQ(got[1].code, abi::NotifyCode::kInvalInode);
  EXPECT_EQ(got[1].As<abi::fuse_notify_inval_inode_out>().ino, uptime_id);
  EXPECT_FALSE(kernel().AttrCached(time_id));
  EXPECT_FALSE(kernel().AttrCached(uptime_id));

  // The next stat asks the filesystem: the new mtime; the next read, the
  // new content.
  Result<struct stat> st = vfs().Stat("/time");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_mtim.tv_sec, absl::ToTimeT(before) + 1);
  EXPECT_THAT(vfs().ReadFile("/time"), IsOkAndHolds("2023-11-14 22:13:21 UTC\n"));
  EXPECT_THAT(vfs().ReadFile("/uptime"), IsOkAndHolds("1\n"));
  for (int i = 0; i < 9; ++i) TickOnce();
  EXPECT_THAT(vfs().ReadFile("/uptime"), IsOkAndHolds("10\n"));
  EXPECT_THAT(vfs().Stat("/uptime"), IsOkAndHolds(Field(&stat::st_size, 3)));
  EXPECT_THAT(vfs().ReadFile("/time"), IsOkAndHolds("2023-11-14 22:13:30 UTC\n"));
  EXPECT_EQ(root_->ticks(), 10u);
}

TEST_F(ClockFsTest, EventsComeAndGo) {
  for (int i = 0; i < 3; ++i) TickOnce();
  EXPECT_THAT(vfs().ListDir("/events"),
              IsOkAndHolds(ElementsAre("tick-000001", "tick-000002", "tick-000003")));
  EXPECT_THAT(vfs().ReadFile("/events/tick-000002"),
              IsOkAndHolds("tick 2 at 2023-11-14 22:13:22 UTC\n"));
  EXPECT_THAT(vfs().Stat("/events/tick-000001"),
              IsOkAndHolds(Field(&stat::st_ino, kFirstEventIno + 1)));
  const uint64_t events = NodeId("/events");
  const uint64_t first = NodeId("/events/tick-000001");
  ASSERT_EQ(kernel().CachedEntry(events, "tick-000001"), first);  // cached for an hour
  kernel().TakeNotifications();

  for (int i = 0; i < 3; ++i) TickOnce();  // 6 ticks: tick-000001 expires

  // The DELETE arrived and the kernel acted on it (it had the dentry).
  bool deleted = false;
  for (const ReceivedNotification& n : kernel().TakeNotifications()) {
    if (n.code == abi::NotifyCode::kDelete && n.name() == "tick-000001") {
      EXPECT_EQ(n.As<abi::fuse_notify_delete_out>().child, first);
      EXPECT_EQ(n.kernel_result, kOk);
      deleted = true;
    }
  }
  EXPECT_TRUE(deleted);
  EXPECT_FALSE(kernel().CachedEntry(events, "tick-000001").has_value());
  EXPECT_EQ(kernel().LookupCount(first), 0u);  // and sent FORGET for the node
  EXPECT_THAT(vfs().Stat("/events/tick-000001"), FailsWith(ENOENT));
  // The one worker handles requests in order: the FORGET came before that
  // LOOKUP, so the tree has freed the inode by now.
  EXPECT_EQ(fs_->bridge().FindInode(first), nullptr);
  EXPECT_THAT(vfs().ListDir("/events"),
              IsOkAndHolds(ElementsAre("tick-000002", "tick-000003", "tick-000004",
                                       "tick-000005", "tick-000006")));
  EXPECT_THAT(root_->EventNames(), ElementsAre("tick-000002", "tick-000003", "tick-000004",
                                               "tick-000005", "tick-000006"));
  EXPECT_THAT(vfs().Stat("/events"), IsOkAndHolds(Field(&stat::st_size, 5)));
}

TEST_F(ClockFsTest, ManyTicksLeakNoInodes) {
  for (int i = 1; i <= 100; ++i) {
    TickOnce();
    // Every new file is looked up, so every expiry has a dentry to delete.
    ASSERT_THAT(vfs().Stat(absl::StrCat("/events/", EventName(i))), IsOk());
  }
  // root, time, uptime, events and the five event files.
  EXPECT_EQ(fs_->bridge().InodeCount(), 9u);
  kernel().ExpectLookupCountsMatch();
}

TEST_F(ClockFsTest, ATickSweepsANameALookupRaceBroughtBack) {
  for (int i = 0; i < 6; ++i) TickOnce();  // tick-000001 has expired
  // What Bridge::Lookup does when a LOOKUP found the child just before the
  // tick removed it: the name goes back into the tree, and the kernel
  // caches it.
  Inode* events = fs_->root()->GetChild("events");
  ASSERT_NE(events, nullptr);
  Inode* ghost = events->NewInode(std::make_unique<Node>(), {.mode = S_IFREG});
  ASSERT_TRUE(events->AddChild("tick-000001", ghost, /*overwrite=*/false));
  ASSERT_THAT(vfs().Stat("/events/tick-000001"), IsOk());

  TickOnce();  // sweeps the name out of the tree and the kernel's dcache

  EXPECT_EQ(events->GetChild("tick-000001"), nullptr);
  EXPECT_THAT(vfs().Stat("/events/tick-000001"), FailsWith(ENOENT));
  EXPECT_THAT(vfs().ListDir("/events"),
              IsOkAndHolds(ElementsAre("tick-000003", "tick-000004", "tick-000005",
                                       "tick-000006", "tick-000007")));
  // The next tick invalidates the swept name once more (a LOOKUP reply in
  // flight could have re-installed it); nothing is cached, nothing breaks.
  TickOnce();
  EXPECT_THAT(vfs().Stat("/events/tick-000001"), FailsWith(ENOENT));
}

// With negative entries cached too, a name looked up before its file exists
// is remembered as missing; NotifyEntry for each new file drops that.
class ClockFsNegativeCacheTest : public ClockFsTest {
 protected:
  static Options WithNegativeCache() {
    Options options = LongCaches();
    options.negative_timeout = kLong;
    return options;
  }
  ClockFsNegativeCacheTest() : ClockFsTest(WithNegativeCache()) {}
};

TEST_F(ClockFsNegativeCacheTest, NewEventReplacesACachedNegativeEntry) {
  const uint64_t events = NodeId("/events");
  ASSERT_THAT(vfs().Stat("/events/tick-000001"), FailsWith(ENOENT));
  ASSERT_EQ(kernel().CachedEntry(events, "tick-000001"), 0u);  // negative, for an hour
  TickOnce();
  EXPECT_FALSE(kernel().CachedEntry(events, "tick-000001").has_value());
  EXPECT_THAT(vfs().ReadFile("/events/tick-000001"),
              IsOkAndHolds("tick 1 at 2023-11-14 22:13:21 UTC\n"));
}

TEST(ClockFsTickerTest, TicksInTheBackgroundUntilDestroyed) {
  ManualClock clock;
  auto root = std::make_unique<ClockRoot>(ClockFsOptions{.clock = &clock, .events_kept = 2});
  ClockRoot* clock_root = root.get();
  NodefsFakeKernel fs(std::move(root), LongCaches());
  ASSERT_THAT(fs.vfs().Stat("/time"), IsOk());
  {
    Ticker ticker(clock_root, absl::Milliseconds(5));
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (clock_root->ticks() < 3 && absl::Now() < deadline) {
      clock.Advance(absl::Seconds(1));
      // Calls made while the ticker runs see a consistent tree.
      ASSERT_THAT(fs.vfs().ListDir("/"), IsOk());
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  const uint64_t ticks = clock_root->ticks();
  EXPECT_GE(ticks, 3u);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(clock_root->ticks(), ticks);  // stopped
  EXPECT_THAT(fs.vfs().ListDir("/events"),
              IsOkAndHolds(ElementsAre(EventName(ticks - 1), EventName(ticks))));
  EXPECT_EQ(clock_root->notify_errors(), 0u);
}

}  // namespace
}  // namespace fusekit::examples
