// archivefs on a real mount (real system calls against the sample tree),
// and the binary as a user runs it: it serves until SIGTERM, and refuses a
// missing, unreadable or corrupt archive, or a bad mountpoint, with one line
// and exit code 2, mounting nothing. Root (or fusermount3) and /dev/fuse
// needed for the mounts; SKIPPED with the reason otherwise.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/archivefs/archive_fs.h"
#include "examples/archivefs/test_archive.h"
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
using ::testing::HasSubstr;

constexpr char kBinary[] = "examples/archivefs/archivefs";

std::string TempPath(absl::string_view name) {
  const char* tmp = getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name);
}

class ArchiveFsMountTest : public ::testing::TestWithParam<ArchiveFormat> {
 protected:
  void SetUp() override {
    archive_ = TempPath(absl::StrCat("mounted.", ArchiveSuffix(GetParam())));
    ASSERT_TRUE(WriteTestArchive(archive_, GetParam(), SampleTree(GetParam())).ok());
    absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(archive_);
    ASSERT_TRUE(root.ok()) << root.status();
    Options options;
    options.entry_timeout = absl::Hours(1);
    options.attr_timeout = absl::Hours(1);
    bridge_ = std::make_unique<Bridge>(std::move(*root), options);
    MountForTest(bridge_.get(), {.fsname = "archivefs-test", .read_only = true},
                 ServerOptionsFor(options), &mount_);
  }
  void TearDown() override {
    mount_.reset();
    bridge_.reset();
    unlink(archive_.c_str());
  }
  std::string Path(absl::string_view relative) { return mount_->Path(relative); }
  bool tar() const { return GetParam() != ArchiveFormat::kZip; }

  std::string archive_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

TEST_P(ArchiveFsMountTest, RealSystemCallsSeeTheArchive) {
  if (mount_ == nullptr) return;
  EXPECT_THAT(posix::ListDir(Path("top")), ::testing::Contains("hello.txt"));
  EXPECT_THAT(posix::ListDir(Path("implied/deep")), ElementsAre("file.txt"));
  EXPECT_EQ(posix::ReadFile(Path("top/hello.txt")), "Hello, world!\n");
  EXPECT_EQ(posix::ReadFile(Path("top/link")), "Hello, world!\n");
  EXPECT_EQ(posix::ReadFile(Path("top/replaced")), "new\n");
  EXPECT_EQ(posix::ReadFile(Path("unicode-\xc3\xbcn\xc3\xaf.txt")), "utf8\n");
  EXPECT_TRUE(posix::ReadFile(Path("medium.bin")) == PatternBytes(0, kSampleMediumSize));
  char target[64] = {};
  ASSERT_EQ(readlink(Path("top/dangling").c_str(), target, sizeof(target) - 1), 10);
  EXPECT_STREQ(target, "../nowhere");

  struct stat st;
  ASSERT_EQ(stat(Path("top/exec.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0755u);
  ASSERT_EQ(stat(Path("top/hello.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, kSampleTime + 100);
  EXPECT_EQ(st.st_size, 14);
  if (tar()) {
    struct stat hard;
    ASSERT_EQ(stat(Path("top/hard").c_str(), &hard), 0);
    EXPECT_EQ(hard.st_ino, st.st_ino);
    EXPECT_EQ(hard.st_nlink, 2u);
    ASSERT_EQ(lstat(Path("fifo").c_str(), &st), 0);
    EXPECT_TRUE(S_ISFIFO(st.st_mode));
  }
  struct statvfs vfs;
  ASSERT_EQ(statvfs(Path("").c_str(), &vfs), 0);
  EXPECT_TRUE(vfs.f_flag & ST_RDONLY);
}

TEST_P(ArchiveFsMountTest, WritesAreRefused) {
  if (mount_ == nullptr) return;
  errno = 0;
  EXPECT_LT(open(Path("top/hello.txt").c_str(), O_WRONLY), 0);
  EXPECT_EQ(errno, EROFS);
  errno = 0;
  EXPECT_NE(mkdir(Path("top/d").c_str(), 0755), 0);
  EXPECT_EQ(errno, EROFS);
  errno = 0;
  EXPECT_NE(unlink(Path("top/hello.txt").c_str()), 0);
  EXPECT_EQ(errno, EROFS);
}

INSTANTIATE_TEST_SUITE_P(Formats, ArchiveFsMountTest,
                         ::testing::Values(ArchiveFormat::kTar, ArchiveFormat::kTarGz,
                                           ArchiveFormat::kZip),
                         [](const ::testing::TestParamInfo<ArchiveFormat>& info) {
                           return info.param == ArchiveFormat::kTar     ? std::string("Tar")
                                  : info.param == ArchiveFormat::kTarGz ? std::string("TarGz")
                                                                        : std::string("Zip");
                         });

// ---- The binary ---------------------------------------------------------

TEST(ArchiveFsBinaryTest, ServesUntilSigterm) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) GTEST_SKIP() << reason;
  const std::string archive = TempPath("binary.tar.gz");
  ASSERT_TRUE(WriteTestArchive(archive, ArchiveFormat::kTarGz,
                               SampleTree(ArchiveFormat::kTarGz))
                  .ok());
  const std::string mountpoint = MakeTempDir("archivefs");
  ASSERT_FALSE(mountpoint.empty());
  {
    ExampleProcess archivefs(kBinary, {archive, mountpoint});
    ASSERT_TRUE(archivefs.started());
    if (!archivefs.WaitForMount(mountpoint)) {
      ExampleExit exit = archivefs.Wait();
      UnmountPath(mountpoint).IgnoreError();
      FAIL() << "archivefs never mounted: " << exit.stderr_text;
    }
    EXPECT_EQ(posix::ReadFile(mountpoint + "/top/hello.txt"), "Hello, world!\n");
    EXPECT_EQ(posix::ReadFile(mountpoint + "/implied/deep/file.txt"), "deep\n");
    ExampleExit exit = archivefs.Stop(SIGTERM);
    EXPECT_TRUE(exit.exited && exit.code == 0) << "signal " << exit.signal << ": "
                                                << exit.stderr_text;
  }
  EXPECT_FALSE(IsFuseMountPoint(mountpoint));
  EXPECT_TRUE(UnmountPath(mountpoint).ok());
  rmdir(mountpoint.c_str());
  unlink(archive.c_str());
}

// Needs no mount: every case fails before mounting.
TEST(ArchiveFsBinaryTest, BadArchivesAndArgumentsExit2WithOneLine) {
  const std::string mountpoint = MakeTempDir("archivefs-args");
  ASSERT_FALSE(mountpoint.empty());
  const std::string good = TempPath("good.tar");
  ASSERT_TRUE(WriteTestArchive(good, ArchiveFormat::kTar, {{.path = "f", .content = "x"}}).ok());
  const std::string corrupt = TempPath("corrupt.zip");
  {
    std::ofstream out(corrupt, std::ios::binary);
    out << "PK\x03\x04 this is not really a zip file at all";
  }
  const std::string truncated = TempPath("truncated.tar.gz");
  {
    ASSERT_TRUE(WriteTestArchive(truncated, ArchiveFormat::kTarGz,
                                 SampleTree(ArchiveFormat::kTarGz))
                    .ok());
    std::ifstream in(truncated, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(truncated, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const std::vector<UsageErrorCase> cases = {
      {{}, "expected 2 arguments, got 0"},
      {{good}, "expected 2 arguments, got 1"},
      {{TempPath("missing.tar"), mountpoint}, "missing.tar: No such file or directory"},
      {{mountpoint, mountpoint}, "is a directory"},
      {{corrupt, mountpoint}, "corrupt.zip"},
      {{truncated, mountpoint}, "truncated.tar.gz"},
      {{good, mountpoint + "/missing"}, "does not exist"},
      {{good, good}, "is not a directory"},
      {{"--bogus", good, mountpoint}, "unknown flag --bogus"},
  };
  ExpectUsageErrors(kBinary, cases, mountpoint);
  rmdir(mountpoint.c_str());
  unlink(good.c_str());
  unlink(corrupt.c_str());
  unlink(truncated.c_str());
}

TEST(ArchiveFsBinaryTest, HelpSaysWhatItMounts) {
  ExampleExit exit = RunExample(kBinary, {"--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0);
  EXPECT_THAT(exit.stdout_text, HasSubstr("ARCHIVE MOUNTPOINT"));
  EXPECT_THAT(exit.stdout_text, HasSubstr("--read_only"));
}

}  // namespace
}  // namespace fusekit::examples
