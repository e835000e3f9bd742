// loopback's data path on real mounts: reads spliced from the host files
// (and the same bytes with splice off) at any offset, across the end of the
// file and through O_DIRECT; FUSE passthrough (the kernel reads and writes
// the host file itself: no READ or WRITE reaches the daemon, backing ids go
// with the last close, new opens work after); passthrough refused by the
// kernel falling back to reads and writes through the daemon. The wire log
// (ServerOptions::debug) shows what reached the daemon. SKIPPED with the
// reason where mounting (or, for passthrough, FUSE_PASSTHROUGH) is
// unavailable.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>
#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/loopbackfs/host_tree.h"
#include "fuse/mutex.h"
#include "fuse/session.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "testing/mount_fixture.h"
#include "testing/pattern.h"

namespace fusekit::examples {
namespace {

// Counts the wire log's lines of interest.
class WireCounts {
 public:
  LogSink Sink() {
    const bool echo = getenv("DATA_PATH_TEST_ECHO") != nullptr;  // for debugging
    return [this, echo](absl::string_view line) {
      if (echo) fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
      MutexLock lock(&mu_);
      if (absl::StartsWith(line, "-> READ ")) {
        ++reads_;
        size_t at = line.find(" size=");
        uint64_t size = 0;
        if (at != absl::string_view::npos &&
            absl::SimpleAtoi(line.substr(at + 6, line.find(' ', at + 6) - (at + 6)), &size)) {
          max_read_ = std::max(max_read_, size);
        }
      }
      if (absl::StartsWith(line, "-> WRITE ")) {
        ++writes_;
        if (absl::StrContains(line, "(data in pipe)")) ++piped_writes_;
      }
      if (absl::StartsWith(line, "<- READ ") && absl::StrContains(line, " splice ")) ++spliced_;
    };
  }
  int reads() {
    MutexLock lock(&mu_);
    return reads_;
  }
  int writes() {
    MutexLock lock(&mu_);
    return writes_;
  }
  int spliced() {
    MutexLock lock(&mu_);
    return spliced_;
  }
  // WRITEs taken off /dev/fuse by splice (ServerOptions::splice_read).
  int piped_writes() {
    MutexLock lock(&mu_);
    return piped_writes_;
  }
  uint64_t max_read() {
    MutexLock lock(&mu_);
    return max_read_;
  }
  void Reset() {
    MutexLock lock(&mu_);
    reads_ = writes_ = spliced_ = piped_writes_ = 0;
    max_read_ = 0;
  }

 private:
  Mutex mu_;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
  int spliced_ ABSL_GUARDED_BY(mu_) = 0;
  int piped_writes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t max_read_ ABSL_GUARDED_BY(mu_) = 0;
};

template <typename F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

// pread(2) of up to `size` bytes ("<error N>" on failure).
std::string PreadString(int fd, size_t size, off_t offset) {
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, out.data() + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) return "<error " + std::to_string(errno) + ">";
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

std::string ReadAllThrough(const std::string& path, size_t block) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "<open failed>";
  std::string out, buf(block, '\0');
  ssize_t n;
  while ((n = read(fd, buf.data(), buf.size())) > 0) out.append(buf.data(), n);
  close(fd);
  return n < 0 ? "<read failed>" : out;
}

class DataPathMountTest : public ::testing::Test {
 protected:
  // Mounts the loopback tree over host_.src() with `options`.
  void MountLoopback(Options options, LoopbackOptions loopback = {}) {
    ASSERT_TRUE(host_.ok());
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host_.src(), loopback);
    ASSERT_TRUE(root.ok()) << root.status();
    options = LoopbackMountOptions(options);
    options.server.workers = 2;
    options.server.debug = true;
    options.server.log = wire_.Sink();
    bridge_ = std::make_unique<Bridge>(*std::move(root), options);
    MountOptions mount_options;
    mount_options.fsname = "loopbackfs-data-test";
    mount_options.read_ahead_kb = options.mount.read_ahead_kb;
    mount_options.max_read = options.mount.max_read;
    MountForTest(bridge_.get(), mount_options, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
    bridge_->SetServer(&mount_->server());
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) {
      bridge_->SetNotifier(nullptr);
      bridge_->SetServer(nullptr);
    }
    bridge_.reset();
  }
  std::string M(absl::string_view relative) { return mount_->Path(relative); }
  bool Granted(uint64_t flag) { return mount_->server().connection().Has(flag); }

  HostTree host_;
  WireCounts wire_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

// Not a multiple of the page size, so the last read is short.
constexpr size_t kFileSize = (8 << 20) + 4097;

// `unaligned_direct`: also O_DIRECT reads at any offset and size (through
// the daemon; a passthrough file's O_DIRECT reads are the host
// filesystem's, which wants them aligned).
void CheckReadsMatch(const std::string& mounted, const std::string& content,
                     bool unaligned_direct = true) {
  // Through the page cache, in 1 MiB blocks.
  EXPECT_TRUE(ReadAllThrough(mounted, 1 << 20) == content) << "sequential read differs";
  if (!unaligned_direct) return;
  // O_DIRECT: each read reaches the daemon at exactly this offset and size.
  int fd = open(mounted.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  ASSERT_GE(fd, 0) << errno;
  const size_t n = content.size();
  struct Case {
    off_t offset;
    size_t size;
  } cases[] = {{0, 1},           {1, 4096},          {4095, 65539},     {12295, 1 << 20},
               {1 << 20, 131072}, {static_cast<off_t>(n - 10), 4096}, {static_cast<off_t>(n), 4096},
               {static_cast<off_t>(n + 100), 10}};
  for (const Case& c : cases) {
    std::string expected =
        static_cast<size_t>(c.offset) >= n ? "" : content.substr(c.offset, c.size);
    std::string got = PreadString(fd, c.size, c.offset);
    EXPECT_TRUE(got == expected) << "O_DIRECT pread of " << c.size << " at " << c.offset
                                 << ": got " << got.size() << " bytes, want "
                                 << expected.size();
  }
  close(fd);
}

TEST_F(DataPathMountTest, SplicedReadsMatchTheHostFile) {
  const std::string content = Pattern(kFileSize, 1);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  MountLoopback(Options());
  if (mount_ == nullptr) return;
  CheckReadsMatch(M("big"), content);
  EXPECT_GT(wire_.reads(), 0);
  if (!Granted(abi::kInitSpliceWrite)) GTEST_SKIP() << "the kernel did not offer SPLICE_WRITE";
  // Full reads were spliced; the ones ending past the end were copied.
  EXPECT_GT(wire_.spliced(), 0);
  EXPECT_LT(wire_.spliced(), wire_.reads());
}

// LoopbackOptions::direct_io: no page cache in the kernel, so a range read
// twice is two READs, writes reach the host file as they are made, and
// shared mmap still works (FUSE_DIRECT_IO_ALLOW_MMAP, which
// LoopbackMountOptions asks for). Requests are read(2), not spliced, even
// when splice_read was asked for: the data is the caller's pages.
TEST_F(DataPathMountTest, DirectIoSendsEveryReadToTheDaemon) {
  const std::string content = Pattern(kFileSize, 5);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  Options options;
  options.server.splice_read = true;
  LoopbackOptions loopback;
  loopback.direct_io = true;
  options = LoopbackMountOptions(options, loopback);
  EXPECT_FALSE(options.server.splice_read);
  EXPECT_NE(options.server.init.want & abi::kInitDirectIoAllowMmap, 0u);
  MountLoopback(options, loopback);
  if (mount_ == nullptr) return;
  CheckReadsMatch(M("big"), content);
  int fd = open(M("big").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << errno;
  wire_.Reset();
  EXPECT_TRUE(PreadString(fd, 4096, 8192) == content.substr(8192, 4096));
  EXPECT_TRUE(PreadString(fd, 4096, 8192) == content.substr(8192, 4096));
  EXPECT_EQ(wire_.reads(), 2);  // no page cache: the second read is a READ too
  // A 1 MiB write is on the host when write(2) returns.
  const std::string block = Pattern(1 << 20, 6);
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 4097), static_cast<ssize_t>(block.size()));
  std::string expected = content;
  expected.replace(4097, block.size(), block);
  EXPECT_TRUE(ReadAllThrough(host_.src("big"), 1 << 20) == expected);
  EXPECT_GE(wire_.writes(), 1);
  EXPECT_EQ(wire_.piped_writes(), 0);
  if (Granted(abi::kInitDirectIoAllowMmap)) {
    void* map = mmap(nullptr, 8192, PROT_READ, MAP_SHARED, fd, 0);
    ASSERT_NE(map, MAP_FAILED) << errno;
    EXPECT_TRUE(std::string(static_cast<const char*>(map), 8192) == expected.substr(0, 8192));
    munmap(map, 8192);
  }
  close(fd);
  EXPECT_TRUE(ReadAllThrough(M("big"), 1 << 20) == expected);
}

// Through the page cache, with splice_read, a WRITE's data stays in the
// worker's pipe (the wire log says so, which the test above relies on).
TEST_F(DataPathMountTest, CachedWritesComeThroughThePipe) {
  Options options;
  options.server.splice_read = true;
  MountLoopback(options);
  if (mount_ == nullptr) return;
  const std::string block = Pattern(1 << 20, 8);
  int fd = open(M("w").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << errno;
  ASSERT_EQ(pwrite(fd, block.data(), block.size(), 0), static_cast<ssize_t>(block.size()));
  close(fd);
  EXPECT_TRUE(ReadAllThrough(host_.src("w"), 1 << 20) == block);
  EXPECT_GE(wire_.piped_writes(), 1);
}

// Without it a range read twice through one descriptor is one READ.
TEST_F(DataPathMountTest, WithoutDirectIoTheKernelCachesReads) {
  const std::string content = Pattern(kFileSize, 7);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  MountLoopback(Options());
  if (mount_ == nullptr) return;
  int fd = open(M("big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << errno;
  wire_.Reset();
  EXPECT_TRUE(PreadString(fd, 4096, 8192) == content.substr(8192, 4096));
  const int first = wire_.reads();
  EXPECT_TRUE(PreadString(fd, 4096, 8192) == content.substr(8192, 4096));
  EXPECT_GE(first, 1);
  EXPECT_EQ(wire_.reads(), first);
  close(fd);
}

TEST_F(DataPathMountTest, ReadsWithSpliceOffMatchTheHostFile) {
  const std::string content = Pattern(kFileSize, 2);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  Options options;
  options.server.init.splice_write = false;
  MountLoopback(options);
  if (mount_ == nullptr) return;
  CheckReadsMatch(M("big"), content);
  EXPECT_GT(wire_.reads(), 0);
  EXPECT_EQ(wire_.spliced(), 0);
}

// The kernel's READs are 128 KiB by default whatever INIT's max_readahead
// says; with MountOptions::read_ahead_kb = 1024 a sequential reader's
// READs are 1 MiB (max_pages allows 256 pages), or as large as a spliced
// reply can be (LoopbackMountOptions caps max_read where a 1 MiB reply
// does not fit a pipe), so they are still spliced.
TEST_F(DataPathMountTest, ReadAheadMakesReadsOneMebibyteOrAsLargeAsSplices) {
  const std::string content = Pattern(kFileSize, 3);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  for (uint32_t read_ahead_kb : {0u, 1024u}) {
    SCOPED_TRACE(read_ahead_kb);
    TearDown();
    wire_.Reset();
    Options options;
    options.mount.read_ahead_kb = read_ahead_kb;
    MountLoopback(options);
    if (mount_ == nullptr) return;
    EXPECT_TRUE(ReadAllThrough(M("big"), 1 << 20) == content);
    EXPECT_EQ(wire_.max_read(),
              read_ahead_kb == 0 ? 128u << 10 : Session::SpliceableReadSize(1u << 20));
    if (Granted(abi::kInitSpliceWrite)) {
      // All but the READs running past the end of the file (copied).
      EXPECT_GE(wire_.spliced(), wire_.reads() - 2);
      EXPECT_GT(wire_.spliced(), 0);
    }
  }
}

// Writes three pieces through `path` and reads them back.
void WriteThrough(const std::string& path, std::string* expected) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << errno;
  const std::string piece = Pattern(200000, 9);
  for (off_t at : {off_t{0}, off_t{5000}, static_cast<off_t>(expected->size() - 100)}) {
    ASSERT_EQ(pwrite(fd, piece.data(), piece.size(), at), static_cast<ssize_t>(piece.size()));
    if (expected->size() < at + piece.size()) expected->resize(at + piece.size());
    expected->replace(at, piece.size(), piece);
  }
  EXPECT_EQ(close(fd), 0);
}

TEST_F(DataPathMountTest, PassthroughBypassesTheDaemonAndReleasesBackingIds) {
  std::string content = Pattern(kFileSize, 3);
  ASSERT_TRUE(WriteHostFile(host_.src("big"), content));
  Options options;
  options.passthrough = true;
  MountLoopback(options);
  if (mount_ == nullptr) return;
  if (!Granted(abi::kInitPassthrough)) GTEST_SKIP() << "the kernel did not offer FUSE_PASSTHROUGH";
  {
    // The kernel wants CAP_SYS_ADMIN in its initial user namespace (not
    // given inside a sandbox's user namespace, e.g. Bazel's linux-sandbox:
    // hence tags = ["no-sandbox"]).
    int probe = open(host_.src("big").c_str(), O_RDONLY | O_CLOEXEC);
    int32_t id = 0;
    Errno e = mount_->server().OpenBacking(probe, &id);
    close(probe);
    if (e == Errno(EPERM)) GTEST_SKIP() << "the kernel refuses backing files here (EPERM)";
    ASSERT_TRUE(e.ok()) << DescribeErrno(e);
    EXPECT_TRUE(mount_->server().CloseBacking(id).ok());
  }

  // Two opens at once share the node's one backing id.
  int a = open(M("big").c_str(), O_RDONLY | O_CLOEXEC);
  int b = open(M("big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(bridge_->BackingCount(), 1u);
  EXPECT_TRUE(PreadString(a, 4096, 4095) == content.substr(4095, 4096));
  close(a);
  close(b);
  EXPECT_TRUE(Eventually([&] { return bridge_->BackingCount() == 0; }));

  // Reads and writes: the kernel's own work.
  CheckReadsMatch(M("big"), content, /*unaligned_direct=*/false);
  WriteThrough(M("big"), &content);
  EXPECT_TRUE(ReadHostFile(host_.src("big")) == content) << "the host file differs";
  EXPECT_TRUE(ReadAllThrough(M("big"), 1 << 20) == content) << "reading back differs";
  EXPECT_EQ(wire_.reads(), 0);
  EXPECT_EQ(wire_.writes(), 0);

  // Every id was released with its last close, and new opens still work.
  EXPECT_TRUE(Eventually([&] { return bridge_->BackingCount() == 0; }));
  int c = open(M("big").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(c, 0) << errno;
  EXPECT_EQ(bridge_->BackingCount(), 1u);
  EXPECT_TRUE(PreadString(c, 100, 0) == content.substr(0, 100));
  close(c);
  EXPECT_TRUE(Eventually([&] { return bridge_->BackingCount() == 0; }));
  EXPECT_EQ(wire_.reads(), 0);
}

TEST_F(DataPathMountTest, RefusedPassthroughFallsBackToTheDaemon) {
  std::string content = Pattern(1 << 20, 4);
  ASSERT_TRUE(WriteHostFile(host_.src("f"), content));
  Options options;
  options.passthrough = true;
  // The kernel refuses every backing file, as it does without CAP_SYS_ADMIN.
  options.server.device_ioctl = [](int fd, unsigned long request, void* arg) -> int {
    if (request == abi::kDevIocBackingOpen) return -EPERM;
    int result = ioctl(fd, request, arg);
    return result < 0 ? -errno : result;
  };
  MountLoopback(options);
  if (mount_ == nullptr) return;
  CheckReadsMatch(M("f"), content);
  WriteThrough(M("f"), &content);
  EXPECT_TRUE(ReadHostFile(host_.src("f")) == content) << "the host file differs";
  EXPECT_GT(wire_.reads(), 0);
  EXPECT_GT(wire_.writes(), 0);
  EXPECT_EQ(bridge_->BackingCount(), 0u);
}

}  // namespace
}  // namespace fusekit::examples
