// archivefs through the fake kernel, on archives written by the test with
// libarchive: the same tree in .tar, .tar.gz and .zip must look the same.
#include "examples/archivefs/archive_fs.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/archivefs/test_archive.h"
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
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kTime = kSampleTime;
constexpr size_t kMedium = kSampleMediumSize;

std::string TempPath(absl::string_view name) {
  const char* tmp = getenv("TEST_TMPDIR");
  return absl::StrCat(tmp ? tmp : "/tmp", "/", name);
}

class ArchiveFsTest : public ::testing::TestWithParam<ArchiveFormat> {
 protected:
  void SetUp() override {
    path_ = TempPath(absl::StrCat("tree.", ArchiveSuffix(GetParam())));
    ASSERT_TRUE(WriteTestArchive(path_, GetParam(), SampleTree(GetParam())).ok());
    absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path_);
    ASSERT_TRUE(root.ok()) << root.status();
    root_ = root->get();
    fs_ = std::make_unique<NodefsFakeKernel>(std::move(*root));
    struct stat st;
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    archive_mtime_ = st.st_mtim.tv_sec;
  }
  void TearDown() override {
    fs_.reset();
    unlink(path_.c_str());
  }
  bool tar() const { return GetParam() != ArchiveFormat::kZip; }
  FakeVfs& vfs() { return fs_->vfs(); }
  struct stat StatOf(absl::string_view path) {
    Result<struct stat> st = vfs().Lstat(path);
    EXPECT_THAT(st, IsOk()) << path;
    return st.ok() ? *st : (struct stat){};
  }

  std::string path_;
  ArchiveRoot* root_ = nullptr;
  std::unique_ptr<NodefsFakeKernel> fs_;
  time_t archive_mtime_ = 0;
};

TEST_P(ArchiveFsTest, TreeHasEveryEntryAndTheDirectoriesPathsImply) {
  std::vector<std::string> top = {"dotted", "implied", "medium.bin", "top",
                                  "unicode-\xc3\xbcn\xc3\xaf.txt"};
  if (tar()) top.insert(top.begin() + 1, "fifo");
  EXPECT_THAT(vfs().ListDir("/"), IsOkAndHolds(top));
  std::vector<std::string> in_top = {"dangling", "empty", "exec.sh", "hello.txt", "link",
                                     "replaced"};
  if (tar()) in_top.insert(in_top.begin() + 3, "hard");
  EXPECT_THAT(vfs().ListDir("/top"), IsOkAndHolds(in_top));
  EXPECT_THAT(vfs().ListDir("/implied"), IsOkAndHolds(ElementsAre("deep")));
  EXPECT_THAT(vfs().ListDir("/implied/deep"), IsOkAndHolds(ElementsAre("file.txt")));
  EXPECT_THAT(vfs().ListDir("/dotted"), IsOkAndHolds(ElementsAre("name")));
  EXPECT_TRUE(root_->warnings().empty());
}

TEST_P(ArchiveFsTest, ContentsAreTheArchives) {
  EXPECT_THAT(vfs().ReadFile("/top/hello.txt"), IsOkAndHolds("Hello, world!\n"));
  EXPECT_THAT(vfs().ReadFile("/top/exec.sh"), IsOkAndHolds("#!/bin/sh\necho hi\n"));
  EXPECT_THAT(vfs().ReadFile("/top/empty"), IsOkAndHolds(""));
  EXPECT_THAT(vfs().ReadFile("/implied/deep/file.txt"), IsOkAndHolds("deep\n"));
  EXPECT_THAT(vfs().ReadFile("/unicode-\xc3\xbcn\xc3\xaf.txt"), IsOkAndHolds("utf8\n"));
  EXPECT_THAT(vfs().ReadFile("/dotted/name"), IsOkAndHolds("normalised\n"));
  EXPECT_THAT(vfs().ReadFile("/top/replaced"), IsOkAndHolds("new\n"));  // the later entry
  Result<std::string> medium = vfs().ReadFile("/medium.bin");
  ASSERT_THAT(medium, IsOk());
  EXPECT_TRUE(*medium == PatternBytes(0, kMedium)) << "medium.bin differs";
  EXPECT_THAT(vfs().Stat("/medium.bin"), IsOkAndHolds(Field(&stat::st_size, kMedium)));
}

TEST_P(ArchiveFsTest, ReadsAtAnyOffsetInAnyOrder) {
  Result<int> fd = vfs().Open("/medium.bin", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  // Backwards, forwards, across read boundaries, past the end.
  for (uint64_t offset : {250'000u, 5u, 131'072u, 131'000u, 299'990u, 0u, 299'999u}) {
    size_t want = 1000;
    size_t got = std::min<size_t>(want, kMedium - offset);
    EXPECT_THAT(vfs().Read(*fd, want, offset), IsOkAndHolds(PatternBytes(offset, got)))
        << "at " << offset;
  }
  EXPECT_THAT(vfs().Read(*fd, 10, kMedium), IsOkAndHolds(""));
  EXPECT_THAT(vfs().Read(*fd, 10, kMedium + 100), IsOkAndHolds(""));
  // Interleaved with another file's reads.
  EXPECT_THAT(vfs().ReadFile("/top/hello.txt"), IsOkAndHolds("Hello, world!\n"));
  EXPECT_THAT(vfs().Read(*fd, 16, 16), IsOkAndHolds("000000000000010\n"));
  EXPECT_THAT(vfs().Close(*fd), IsOk());
}

TEST_P(ArchiveFsTest, SequentialReadsReuseOneCursor) {
  ArchiveReader::Stats before = root_->reader().stats();
  ASSERT_THAT(vfs().ReadFile("/medium.bin"), IsOk());
  ASSERT_THAT(vfs().ReadFile("/medium.bin"), IsOk());  // from the start: a new cursor
  ArchiveReader::Stats after = root_->reader().stats();
  EXPECT_EQ(after.cursors_opened - before.cursors_opened, 2u);
  EXPECT_EQ(after.bytes_skipped, before.bytes_skipped);  // nothing decompressed twice
}

TEST_P(ArchiveFsTest, ModesTimesAndTypes) {
  struct stat st = StatOf("/top");
  EXPECT_EQ(st.st_mode, S_IFDIR | 0750u);
  EXPECT_EQ(st.st_mtim.tv_sec, kTime + 2);
  st = StatOf("/top/hello.txt");
  EXPECT_EQ(st.st_mode, S_IFREG | 0644u);
  EXPECT_EQ(st.st_size, 14);
  EXPECT_EQ(st.st_mtim.tv_sec, kTime + 100);
  EXPECT_EQ(st.st_uid, geteuid());  // the mounting user's, not the archive's 1234
  EXPECT_EQ(StatOf("/top/exec.sh").st_mode, S_IFREG | 0755u);
  EXPECT_EQ(StatOf("/top/empty").st_mode, S_IFREG | 0600u);
  EXPECT_EQ(StatOf("/implied/deep/file.txt").st_mode, S_IFREG | 0444u);
  // Implied directories: 0755 and the archive file's mtime.
  st = StatOf("/implied");
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755u);
  EXPECT_EQ(st.st_mtim.tv_sec, archive_mtime_);
  EXPECT_EQ(st.st_nlink, 3u);  // ".", its entry, deep's ".."
  EXPECT_EQ(StatOf("/implied/deep").st_nlink, 2u);
  if (tar()) {
    EXPECT_EQ(StatOf("/fifo").st_mode, S_IFIFO | 0640u);
  }
  EXPECT_THAT(vfs().Statfs("/"), IsOkAndHolds(Field(&statvfs::f_files, tar() ? 16u : 15u)));
}

TEST_P(ArchiveFsTest, Symlinks) {
  EXPECT_THAT(vfs().Readlink("/top/link"), IsOkAndHolds("hello.txt"));
  struct stat st = StatOf("/top/link");
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(st.st_size, 9);
  EXPECT_THAT(vfs().ReadFile("/top/link"), IsOkAndHolds("Hello, world!\n"));  // followed
  EXPECT_THAT(vfs().Readlink("/top/dangling"), IsOkAndHolds("../nowhere"));
  EXPECT_THAT(vfs().Stat("/top/dangling"), FailsWith(ENOENT));
  EXPECT_THAT(vfs().Readlink("/top/hello.txt"), FailsWith(EINVAL));
}

TEST_P(ArchiveFsTest, HardLinksAreOneInode) {
  if (!tar()) GTEST_SKIP() << "zip has no hard links";
  struct stat a = StatOf("/top/hello.txt");
  struct stat b = StatOf("/top/hard");
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(a.st_nlink, 2u);
  EXPECT_EQ(b.st_nlink, 2u);
  EXPECT_THAT(vfs().ReadFile("/top/hard"), IsOkAndHolds("Hello, world!\n"));
  EXPECT_EQ(StatOf("/top/exec.sh").st_nlink, 1u);
}

TEST_P(ArchiveFsTest, NothingCanBeChanged) {
  EXPECT_THAT(vfs().Open("/top/hello.txt", O_WRONLY, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs().Open("/top/hello.txt", O_RDWR, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs().Open("/top/new", O_WRONLY | O_CREAT, 0644), FailsWith(EROFS));
  EXPECT_THAT(vfs().Mkdir("/top/d", 0755), FailsWith(EROFS));
  EXPECT_THAT(vfs().Unlink("/top/hello.txt"), FailsWith(EROFS));
  EXPECT_THAT(vfs().Rename("/top/hello.txt", "/top/x", 0), FailsWith(EROFS));
  EXPECT_THAT(vfs().Chmod("/top/hello.txt", 0600), FailsWith(EROFS));
  EXPECT_THAT(vfs().ReadFile("/top/hello.txt"), IsOkAndHolds("Hello, world!\n"));
}

INSTANTIATE_TEST_SUITE_P(Formats, ArchiveFsTest,
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

// ---- Archives that cannot be mounted ---------------------------------------

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(OpenArchiveTest, MissingArchiveIsNotFound) {
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive("/nonexistent/x.tar");
  EXPECT_TRUE(absl::IsNotFound(root.status())) << root.status();
  EXPECT_EQ(root.status().message(), "archive /nonexistent/x.tar: No such file or directory");
}

TEST(OpenArchiveTest, DirectoryIsRefused) {
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(TempPath(""));
  EXPECT_TRUE(absl::IsFailedPrecondition(root.status())) << root.status();
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("is a directory"));
}

TEST(OpenArchiveTest, GarbageIsRefusedWithLibarchivesReason) {
  std::string path = TempPath("garbage.tar");
  std::string junk;
  for (int i = 0; i < 10000; ++i) junk.push_back(static_cast<char>((i * 7919) % 251 + 1));
  WriteBytes(path, junk);
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path);
  EXPECT_FALSE(root.ok());
  EXPECT_THAT(std::string(root.status().message()), HasSubstr(path));
  EXPECT_THAT(std::string(root.status().message()), HasSubstr("Unrecognized archive format"));
}

TEST(OpenArchiveTest, TruncatedArchivesAreRefused) {
  for (ArchiveFormat format : {ArchiveFormat::kTar, ArchiveFormat::kTarGz, ArchiveFormat::kZip}) {
    SCOPED_TRACE(ArchiveSuffix(format));
    std::string path = TempPath(absl::StrCat("truncated.", ArchiveSuffix(format)));
    ASSERT_TRUE(WriteTestArchive(path, format, SampleTree(format)).ok());
    std::string bytes = ReadBytes(path);
    WriteBytes(path, bytes.substr(0, bytes.size() / 2));
    absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path);
    EXPECT_FALSE(root.ok()) << "half an archive mounted";
    EXPECT_THAT(std::string(root.status().message()), HasSubstr(path));
    unlink(path.c_str());
  }
}

TEST(OpenArchiveTest, EmptyFileIsAnEmptyArchive) {
  std::string path = TempPath("empty.tar");
  WriteBytes(path, "");
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path);
  ASSERT_TRUE(root.ok()) << root.status();
  NodefsFakeKernel fs(std::move(*root));
  EXPECT_THAT(fs.vfs().ListDir("/"), IsOkAndHolds(IsEmpty()));
}

TEST(OpenArchiveTest, OddEntriesAreSkippedWithAWarning) {
  std::string path = TempPath("odd.tar");
  ASSERT_TRUE(WriteTestArchive(path, ArchiveFormat::kTar,
                               {
                                   {.path = "file", .content = "x"},
                                   {.path = "file/under-a-file", .content = "y"},
                                   {.path = "link", .hardlink = "missing"},
                                   {.path = "../../escape", .content = "z"},
                                   {.path = "/absolute/path", .content = "a"},
                               })
                  .ok());
  absl::StatusOr<std::unique_ptr<ArchiveRoot>> root = OpenArchive(path);
  ASSERT_TRUE(root.ok()) << root.status();
  ArchiveRoot* archive = root->get();
  NodefsFakeKernel fs(std::move(*root));
  EXPECT_THAT(fs.vfs().ListDir("/"), IsOkAndHolds(ElementsAre("absolute", "escape", "file")));
  EXPECT_THAT(fs.vfs().ReadFile("/escape"), IsOkAndHolds("z"));  // ".." stops at the root
  EXPECT_THAT(fs.vfs().ReadFile("/absolute/path"), IsOkAndHolds("a"));
  ASSERT_EQ(archive->warnings().size(), 2u);
  EXPECT_THAT(archive->warnings()[0], HasSubstr("file/under-a-file"));
  EXPECT_THAT(archive->warnings()[1], HasSubstr("hard link to missing"));
}

TEST(NormalizeArchivePathTest, Cases) {
  EXPECT_EQ(NormalizeArchivePath("./a//b/"), "a/b");
  EXPECT_EQ(NormalizeArchivePath("/a/b"), "a/b");
  EXPECT_EQ(NormalizeArchivePath("a/./c/../b"), "a/b");
  EXPECT_EQ(NormalizeArchivePath("../../x"), "x");
  EXPECT_EQ(NormalizeArchivePath("./"), "");
  EXPECT_EQ(NormalizeArchivePath(""), "");
}

}  // namespace
}  // namespace fusekit::examples
