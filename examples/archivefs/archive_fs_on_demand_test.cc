// archivefs reads data on demand: a .tar.gz holding a 256 MiB file (small
// on disk: the data compresses well) is indexed and read through the fake
// kernel while the process's resident memory (VmRSS) stays far below the
// data's size; reads jump backwards into the compressed stream (each one
// decompresses again from the archive's start) and return exact bytes;
// reading the whole file twice returns identical bytes. Bounds are on
// memory and content, never on time (times are only reported).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "examples/archivefs/archive_fs.h"
#include "examples/archivefs/test_archive.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"
#include "testing/process_stats.h"

namespace fusekit::examples {
namespace {

constexpr uint64_t kSize = 256ull << 20;
constexpr size_t kChunk = 1 << 20;
// What streaming needs is a few MiB (libarchive's buffers, the 2 MiB block
// cache, the 1 MiB read buffers): far below the 256 MiB of data.
constexpr int64_t kRssBoundKb = 32 * 1024;


void Report(const std::string& what, int64_t value) {
  ::testing::Test::RecordProperty(what, std::to_string(value));
  printf("archivefs on demand: %s = %lld\n", what.c_str(), static_cast<long long>(value));
}

TEST(ArchiveOnDemandTest, A256MibTarGzIsReadOnDemandInLittleMemory) {
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp ? tmp : "/tmp", "/on_demand.tar.gz");
  ASSERT_TRUE(WritePatternArchive(path, ArchiveFormat::kTarGz, "big.bin", kSize).ok());
  struct stat archive_st;
  ASSERT_EQ(stat(path.c_str(), &archive_st), 0);
  Report("archive_file_kb", archive_st.st_size >> 10);
  // What is on disk is a fraction of the data: holding the data in memory
  // would show in RSS below.
  EXPECT_LT(static_cast<uint64_t>(archive_st.st_size), kSize / 4);

  const int64_t rss_before = ResidentKiB();
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path);
  ASSERT_TRUE(root.ok()) << root.status();
  ArchiveRoot* archive = root->get();
  NodefsFakeKernel fs(std::move(*root));
  const int64_t rss_indexed = ResidentKiB();
  Report("rss_index_growth_kb", rss_indexed - rss_before);
  ASSERT_THAT(fs.vfs().Stat("/big.bin"), IsOkAndHolds(::testing::Field(&stat::st_size, kSize)));
  Result<int> fd = fs.vfs().Open("/big.bin", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  int64_t rss_peak = rss_indexed;

  // Backwards jumps: near the end, the middle, the start, the end again.
  // Each is behind every cursor the one before left, so the archive is
  // decompressed again from its start.
  absl::Time start = absl::Now();
  const uint64_t jumps[] = {kSize - 5000, kSize / 2 + 12345, 777, kSize - 4096, kSize / 3};
  for (uint64_t offset : jumps) {
    Result<std::string> data = fs.vfs().Read(*fd, 4096, offset);
    ASSERT_THAT(data, IsOk());
    const std::string want = PatternBytes(offset, std::min<uint64_t>(4096, kSize - offset));
    EXPECT_EQ(*data, want) << "at " << offset;
    rss_peak = std::max(rss_peak, ResidentKiB());
  }
  Report("backward_jumps_ms", absl::ToInt64Milliseconds(absl::Now() - start));
  const ArchiveReader::Stats after_jumps = archive->reader().stats();
  // Jumping back cannot reuse a cursor: a new one decompressed up to it.
  EXPECT_GE(after_jumps.cursors_opened, 3u);
  Report("mib_decompressed_to_skip", static_cast<int64_t>(after_jumps.bytes_skipped >> 20));

  // The whole file, twice: one hash per MiB; the first pass also checks a
  // page at each end of every MiB against the pattern.
  std::vector<size_t> first, second;
  for (std::vector<size_t>* pass : {&first, &second}) {
    start = absl::Now();
    for (uint64_t offset = 0; offset < kSize; offset += kChunk) {
      Result<std::string> data = fs.vfs().Read(*fd, kChunk, offset);
      ASSERT_THAT(data, IsOk());
      ASSERT_EQ(data->size(), kChunk) << "at " << offset;
      if (pass == &first) {
        ASSERT_EQ(data->substr(0, 4096), PatternBytes(offset, 4096)) << "at " << offset;
        ASSERT_EQ(data->substr(kChunk - 4096), PatternBytes(offset + kChunk - 4096, 4096))
            << "at " << offset;
      }
      pass->push_back(std::hash<std::string>()(*data));
      if (offset % (32 * kChunk) == 0) rss_peak = std::max(rss_peak, ResidentKiB());
    }
    Report(pass == &first ? "first_read_ms" : "second_read_ms",
           absl::ToInt64Milliseconds(absl::Now() - start));
  }
  EXPECT_EQ(first, second);
  EXPECT_THAT(fs.vfs().Read(*fd, kChunk, kSize), IsOkAndHolds(""));
  EXPECT_THAT(fs.vfs().Close(*fd), IsOk());

  Report("rss_before_kb", rss_before);
  Report("rss_growth_kb", rss_peak - rss_before);
  if (!kRssDistortedBySanitizer) {
    EXPECT_LT(rss_peak - rss_before, kRssBoundKb)
        << "reading 256 MiB (twice) grew the process by " << (rss_peak - rss_before) << " kB";
  }
  unlink(path.c_str());
}

}  // namespace
}  // namespace fusekit::examples
