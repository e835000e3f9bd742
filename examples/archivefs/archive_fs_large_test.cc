// archivefs with a 64 MiB file in each format: the content read back is
// exact, and the process's resident memory stays far below the file's size
// (the data is streamed from the archive, never loaded). The memory growth
// and the times are reported (RecordProperty and stdout); the only bound
// asserted is on memory, not time.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "examples/archivefs/archive_fs.h"
#include "examples/archivefs/test_archive.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "testing/matchers.h"
#include "testing/mount_fixture.h"
#include "testing/nodefs_fake_kernel.h"
#include "testing/process_stats.h"

namespace fusekit::examples {
namespace {

constexpr uint64_t kSize = 64ull << 20;
constexpr size_t kChunk = 1 << 20;
// Well below the file's size: what streaming needs is a few MiB.
constexpr int64_t kRssBoundKb = 24 * 1024;

// The first byte of `data` (read at `offset`) that is not the pattern's, or
// -1.
int64_t FirstMismatch(const std::string& data, uint64_t offset) {
  for (size_t i = 0; i < data.size(); ++i) {
    if (data[i] != PatternByte(offset + i)) return static_cast<int64_t>(offset + i);
  }
  return -1;
}

class LargeArchiveTest : public ::testing::TestWithParam<ArchiveFormat> {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    path_ = absl::StrCat(tmp ? tmp : "/tmp", "/big.", ArchiveSuffix(GetParam()));
    absl::Time start = absl::Now();
    ASSERT_TRUE(WritePatternArchive(path_, GetParam(), "big.bin", kSize).ok());
    Report("write_archive_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  }
  void TearDown() override { unlink(path_.c_str()); }

  void Report(const std::string& what, int64_t value) {
    std::string key = absl::StrCat(ArchiveSuffix(GetParam()), ".", what);
    RecordProperty(key, std::to_string(value));
    printf("archivefs large %s = %lld\n", key.c_str(), static_cast<long long>(value));
  }

  std::string path_;
};

TEST_P(LargeArchiveTest, StreamsThroughTheFakeKernelInLittleMemory) {
  const int64_t rss_before = ResidentKiB();
  absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path_);
  ASSERT_TRUE(root.ok()) << root.status();
  Report("index_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  ArchiveRoot* archive = root->get();
  NodefsFakeKernel fs(std::move(*root));
  ASSERT_THAT(fs.vfs().Stat("/big.bin"), IsOkAndHolds(::testing::Field(&stat::st_size, kSize)));

  Result<int> fd = fs.vfs().Open("/big.bin", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  int64_t rss_peak = rss_before;
  start = absl::Now();
  for (uint64_t offset = 0; offset < kSize; offset += kChunk) {
    Result<std::string> data = fs.vfs().Read(*fd, kChunk, offset);
    ASSERT_THAT(data, IsOk());
    ASSERT_EQ(data->size(), kChunk);
    ASSERT_EQ(FirstMismatch(*data, offset), -1);
    rss_peak = std::max(rss_peak, ResidentKiB());
  }
  Report("sequential_read_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  EXPECT_THAT(fs.vfs().Read(*fd, kChunk, kSize), IsOkAndHolds(""));

  // Random 4 KiB reads: each one behind the cursors starts the entry (or,
  // for .tar.gz, the archive) again. Reported, not bounded.
  std::mt19937_64 random(42);
  start = absl::Now();
  for (int i = 0; i < 8; ++i) {
    uint64_t offset = random() % (kSize - 4096);
    Result<std::string> data = fs.vfs().Read(*fd, 4096, offset);
    ASSERT_THAT(data, IsOk());
    ASSERT_EQ(FirstMismatch(*data, offset), -1) << "at " << offset;
    rss_peak = std::max(rss_peak, ResidentKiB());
  }
  Report("random_reads_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  EXPECT_THAT(fs.vfs().Close(*fd), IsOk());

  ArchiveReader::Stats stats = archive->reader().stats();
  Report("cursors_opened", static_cast<int64_t>(stats.cursors_opened));
  Report("mib_skipped", static_cast<int64_t>(stats.bytes_skipped >> 20));
  Report("block_cache_hits", static_cast<int64_t>(stats.cache_hits));
  Report("rss_before_kb", rss_before);
  Report("rss_growth_kb", rss_peak - rss_before);
  if (!kRssDistortedBySanitizer) {
    EXPECT_LT(rss_peak - rss_before, kRssBoundKb)
        << "reading a 64 MiB file grew the process by " << (rss_peak - rss_before) << " kB";
  }
}

TEST_P(LargeArchiveTest, StreamsThroughARealMount) {
  const int64_t rss_before = ResidentKiB();
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path_);
  ASSERT_TRUE(root.ok()) << root.status();
  Options options;
  options.entry_timeout = absl::Hours(1);
  options.attr_timeout = absl::Hours(1);
  options.server.workers = 4;  // the kernel's readahead arrives in parallel
  auto bridge = std::make_unique<Bridge>(std::move(*root), options);
  std::unique_ptr<TestMount> mount;
  MountForTest(bridge.get(), {.fsname = "archivefs-test", .read_only = true},
               ServerOptionsFor(options), &mount);
  if (mount == nullptr) return;  // skipped (or failed) with the reason

  int fd = open(mount->Path("big.bin").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  int64_t rss_peak = rss_before;
  absl::Time start = absl::Now();
  std::string data(kChunk, '\0');
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, data.data(), data.size());
    ASSERT_GE(n, 0) << strerror(errno);
    if (n == 0) break;
    ASSERT_EQ(FirstMismatch(data.substr(0, n), total), -1);
    total += n;
    rss_peak = std::max(rss_peak, ResidentKiB());
  }
  close(fd);
  EXPECT_EQ(total, kSize);
  Report("mount_sequential_read_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  Report("mount_rss_growth_kb", rss_peak - rss_before);
  // With four workers the kernel's readahead requests arrive slightly out
  // of order; the idle cursors absorb that (few opened, little skipped).
  ArchiveReader::Stats stats = bridge->root()->node<ArchiveRoot>()->reader().stats();
  Report("mount_cursors_opened", static_cast<int64_t>(stats.cursors_opened));
  Report("mount_mib_skipped", static_cast<int64_t>(stats.bytes_skipped >> 20));
  Report("mount_block_cache_hits", static_cast<int64_t>(stats.cache_hits));
  if (!kRssDistortedBySanitizer) {
    EXPECT_LT(rss_peak - rss_before, kRssBoundKb);
  }
  mount.reset();
  bridge->SetNotifier(nullptr);
}

INSTANTIATE_TEST_SUITE_P(Formats, LargeArchiveTest,
                         ::testing::Values(ArchiveFormat::kTar, ArchiveFormat::kTarGz,
                                           ArchiveFormat::kZip),
                         [](const ::testing::TestParamInfo<ArchiveFormat>& info) {
                           switch (info.param) {
                             case ArchiveFormat::kTar:
                               return std::string("Tar");
                             case ArchiveFormat::kTarGz:
                               return std::string("TarGz");
                             case ArchiveFormat::kZip:
                               return std::string("Zip");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace fusekit::examples
