// memfs's memory after many short-lived files, on a real mount served by
// this process (so its VmRSS is the daemon's): distinct names are created,
// stat'ed and unlinked, and distinct missing names looked up, then the
// kernel drops its caches. The daemon's inode table must be back to its
// starting size with no lookup count left, and its resident memory close to
// where it started. A bound on memory, not on time.
//
// This runs 20,000 LOOKUPs; benchmarks/memfs_memory.cc runs the million
// the reliability report quotes. Root (to drop caches) and /dev/fuse needed;
// SKIPPED with the reason otherwise.
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/memfs/memfs.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"
#include "testing/process_stats.h"

namespace fusekit::examples {
namespace {

constexpr uint64_t kLookups = 20000;
constexpr int64_t kMaxGrowthKiB = 32 << 10;

// The bridge, counting the LOOKUPs it answers.
class CountingBridge : public Bridge {
 public:
  using Bridge::Bridge;
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    lookups_.fetch_add(1, std::memory_order_relaxed);
    Bridge::Lookup(std::move(reply), parent, name);
  }
  uint64_t lookups() const { return lookups_.load(); }

 private:
  std::atomic<uint64_t> lookups_{0};
};

class MemfsMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "dropping the kernel's caches needs root";
    Options options = MemfsOptions(Options());
    options.mount.fsname = "memfs-memory";
    auto root = MemDir::NewRoot(MemFsOptions());
    store_ = root->store();
    bridge_ = std::make_unique<CountingBridge>(std::move(root), options);
    MountForTest(bridge_.get(), options.mount, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
  }

  // Short-lived files until the daemon has answered `lookups` more LOOKUPs:
  // each round creates a distinct name (a negative LOOKUP, CREATE), stats
  // and unlinks it, and stats a distinct missing name (another LOOKUP).
  void Churn(uint64_t lookups, const std::string& tag) {
    const uint64_t until = bridge_->lookups() + lookups;
    for (uint64_t i = 0; bridge_->lookups() < until; ++i) {
      const std::string path = mount_->Path(absl::StrCat(tag, i));
      int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
      close(fd);
      struct stat st;
      ASSERT_EQ(stat(path.c_str(), &st), 0) << strerror(errno);
      ASSERT_EQ(unlink(path.c_str()), 0) << strerror(errno);
      ASSERT_EQ(stat(mount_->Path(absl::StrCat(tag, "missing", i)).c_str(), &st), -1);
    }
  }

  // Drops the kernel's dentries and inodes and waits for the FORGETs.
  bool DropCachesAndSettle() {
    int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
    if (fd < 0 || write(fd, "2", 1) != 1) {
      ADD_FAILURE() << "drop_caches: " << strerror(errno);
      if (fd >= 0) close(fd);
      return false;
    }
    close(fd);
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (bridge_->InodeCount() != 1) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return true;
  }

  std::shared_ptr<MemStore> store_;
  std::unique_ptr<CountingBridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

TEST_F(MemfsMemoryTest, ShortLivedFilesLeaveNothingBehind) {
  if (mount_ == nullptr) return;
  // Warm up (thread caches, the server's buffers, the kernel's dentry hash),
  // then take the baseline.
  Churn(2000, "warm");
  ASSERT_TRUE(DropCachesAndSettle()) << bridge_->InodeCount() << " inodes left";
  const int64_t before = ResidentKiB();
  const uint64_t first = bridge_->lookups();

  Churn(kLookups, "f");
  const int64_t peak = ResidentKiB();
  ASSERT_TRUE(DropCachesAndSettle()) << bridge_->InodeCount() << " inodes left";
  const int64_t after = ResidentKiB();
  malloc_trim(0);
  const int64_t trimmed = ResidentKiB();
  printf("memory: %llu LOOKUPs; VmRSS %lld KiB before, %lld KiB at the end of the run, %lld KiB "
         "after the cache drop, %lld KiB after malloc_trim\n",
         static_cast<unsigned long long>(bridge_->lookups() - first),
         static_cast<long long>(before),
         static_cast<long long>(peak), static_cast<long long>(after),
         static_cast<long long>(trimmed));

  EXPECT_EQ(bridge_->InodeCount(), 1u);
  for (auto& [id, count] : bridge_->LookupCounts()) {
    EXPECT_TRUE(id == abi::kRootId || count == 0) << "node " << id << " has lookup count " << count;
  }
  EXPECT_EQ(store_->inodes(), 1u);
  EXPECT_EQ(store_->used_pages(), 0u);
  if (kRssDistortedBySanitizer) {
    printf("memory: the VmRSS bound is not checked under a sanitizer (its quarantine and shadow "
           "memory keep freed blocks resident)\n");
  } else {
    EXPECT_LT(after - before, kMaxGrowthKiB) << "VmRSS grew from " << before << " to " << after
                                             << " KiB";
  }
}

}  // namespace
}  // namespace fusekit::examples
