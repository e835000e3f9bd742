// clockfs on a real mount with hour-long cache timeouts: what `cat` and `ls`
// show must follow the ticks, which only the notifications can arrange. And
// the binary as a user runs it: SIGTERM unmounts, bad arguments exit 2.
// Root (or fusermount3) and /dev/fuse needed; SKIPPED with the reason
// otherwise.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/clockfs/clock_fs.h"
#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "testing/mount_fixture.h"
#include "testing/posix/posix_util.h"

namespace fusekit::examples {
namespace {

using ::testing::ElementsAre;

constexpr char kBinary[] = "examples/clockfs/clockfs";

class ClockFsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    options.entry_timeout = absl::Hours(1);
    options.attr_timeout = absl::Hours(1);
    auto root = std::make_unique<ClockRoot>(ClockFsOptions{.clock = &clock_, .events_kept = 3});
    root_ = root.get();
    bridge_ = std::make_unique<Bridge>(std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "clockfs-test";
    mount_options.read_only = true;
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;  // skipped, or failed with the reason
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }
  void TickOnce() {
    clock_.Advance(absl::Seconds(1));
    root_->Tick();
  }
  std::string Path(absl::string_view relative) { return mount_->Path(relative); }

  ManualClock clock_;
  ClockRoot* root_ = nullptr;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

TEST_F(ClockFsMountTest, CatAfterATickShowsTheChange) {
  if (mount_ == nullptr) return;
  EXPECT_EQ(posix::ReadFile(Path("time")), "2023-11-14 22:13:20 UTC\n");
  EXPECT_EQ(posix::ReadFile(Path("uptime")), "0\n");
  struct stat before;
  ASSERT_EQ(stat(Path("time").c_str(), &before), 0);

  TickOnce();

  // The page cache (kept between opens) and the attributes (cached for an
  // hour) were dropped by NotifyContent.
  EXPECT_EQ(posix::ReadFile(Path("time")), "2023-11-14 22:13:21 UTC\n");
  EXPECT_EQ(posix::ReadFile(Path("uptime")), "1\n");
  struct stat after;
  ASSERT_EQ(stat(Path("time").c_str(), &after), 0);
  EXPECT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec + 1);

  for (int i = 0; i < 9; ++i) TickOnce();  // "10\n" is a byte longer
  EXPECT_EQ(posix::ReadFile(Path("uptime")), "10\n");
  EXPECT_EQ(root_->notify_errors(), 0u);
}

TEST_F(ClockFsMountTest, RemovedEventFileDisappearsFromCachedLookupsAndListings) {
  if (mount_ == nullptr) return;
  EXPECT_THAT(posix::ListDir(Path("events")), ElementsAre());
  ASSERT_FALSE(posix::Exists(Path("events/tick-000001")));
  for (int i = 0; i < 3; ++i) TickOnce();
  EXPECT_THAT(posix::ListDir(Path("events")),
              ElementsAre("tick-000001", "tick-000002", "tick-000003"));
  // Cached now: dentry and attributes for an hour.
  ASSERT_TRUE(posix::Exists(Path("events/tick-000001")));
  EXPECT_EQ(posix::ReadFile(Path("events/tick-000001")), "tick 1 at 2023-11-14 22:13:21 UTC\n");
  int held = open(Path("events/tick-000001").c_str(), O_RDONLY);
  ASSERT_GE(held, 0);

  TickOnce();  // keeps 3: tick-000001 goes

  EXPECT_FALSE(posix::Exists(Path("events/tick-000001")));
  EXPECT_THAT(posix::ListDir(Path("events")),
              ElementsAre("tick-000002", "tick-000003", "tick-000004"));
  EXPECT_EQ(posix::ReadFile(Path("events/tick-000004")), "tick 4 at 2023-11-14 22:13:24 UTC\n");
  // An open file outlives its name, as on any filesystem.
  char buf[64];
  EXPECT_GT(pread(held, buf, sizeof(buf), 0), 0);
  close(held);
  struct stat dir;
  ASSERT_EQ(stat(Path("events").c_str(), &dir), 0);
  EXPECT_EQ(dir.st_size, 3);
  EXPECT_EQ(root_->notify_errors(), 0u);
}

TEST_F(ClockFsMountTest, ListingStaysCurrentOverManyTicks) {
  if (mount_ == nullptr) return;
  for (uint64_t i = 1; i <= 20; ++i) {
    TickOnce();
    std::vector<std::string> expected;
    for (uint64_t t = i > 2 ? i - 2 : 1; t <= i; ++t) expected.push_back(EventName(t));
    ASSERT_EQ(posix::ListDir(Path("events")), expected) << "after tick " << i;
    for (const std::string& name : expected) {
      ASSERT_TRUE(posix::Exists(Path(absl::StrCat("events/", name)))) << name;
    }
    if (i > 3) {
      ASSERT_FALSE(posix::Exists(Path(absl::StrCat("events/", EventName(i - 3)))));
    }
  }
  EXPECT_EQ(root_->notify_errors(), 0u);
}

// ---- The binary ---------------------------------------------------------

class ClockFsBinaryTest : public ExampleBinaryTest {
 protected:
  ClockFsBinaryTest() : ExampleBinaryTest("clockfs") {}
};

TEST_F(ClockFsBinaryTest, TicksAndUnmountsOnSigterm) {
  ExampleProcess clockfs(kBinary, {"--tick=100ms", "--events=2", mountpoint_});
  ASSERT_TRUE(clockfs.started());
  if (!clockfs.WaitForMount(mountpoint_)) {
    ExampleExit exit = clockfs.Wait();
    FAIL() << "clockfs never mounted: " << exit.stderr_text;
  }
  const std::string first = posix::ReadFile(mountpoint_ + "/time");
  std::string later = first;
  std::vector<std::string> events;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  // The time file changes a second later despite the hour-long caches.
  while ((later == first || events.size() < 2) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(100));
    later = posix::ReadFile(mountpoint_ + "/time");
    events = posix::ListDir(mountpoint_ + "/events");
  }
  EXPECT_NE(later, first);
  EXPECT_TRUE(absl::EndsWith(later, " UTC\n")) << later;
  EXPECT_EQ(events.size(), 2u);

  ExampleExit exit = clockfs.Stop(SIGTERM);
  EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                              << exit.stderr_text;
  EXPECT_FALSE(IsFuseMountPoint(mountpoint_));
}

// Needs no mount: every case fails before mounting.
TEST(ClockFsArgsTest, BadArgumentsExit2WithOneLine) {
  const std::string mountpoint_ = MakeTempDir("clockfs-args");
  ASSERT_FALSE(mountpoint_.empty());
  const std::string file = mountpoint_ + "/plain";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  const std::vector<UsageErrorCase> cases = {
      {{}, "expected 1 argument, got 0"},
      {{mountpoint_, "extra"}, "got 2"},
      {{"--tick=0", mountpoint_}, "--tick must be positive"},
      {{"--tick=soon", mountpoint_}, "bad value 'soon' for --tick"},
      {{"--events=0", mountpoint_}, "--events must be at least 1"},
      {{"--no_such_flag", mountpoint_}, "unknown flag --no_such_flag"},
      {{mountpoint_ + "/missing"}, "does not exist"},
      {{file}, "is not a directory"},
  };
  ExpectUsageErrors(kBinary, cases, mountpoint_);
  unlink(file.c_str());
  rmdir(mountpoint_.c_str());
}

TEST(ClockFsArgsTest, HelpSaysWhatItMounts) {
  ExampleExit exit = RunExample(kBinary, {"--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0);
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("uptime   seconds since the mount"));
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("--tick"));
  EXPECT_THAT(exit.stdout_text, ::testing::HasSubstr("--entry_timeout"));
}

}  // namespace
}  // namespace fusekit::examples
