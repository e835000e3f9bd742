// Cases on file data: creating, reading and writing at offsets, O_APPEND,
// O_TRUNC, truncation while another descriptor is open, reads past the end,
// sparse files and SEEK_DATA/SEEK_HOLE, files above 4 GiB, fallocate.
// (Links, unlink while open and ENOSPC: file_cases_links.cc; rename:
// file_cases_rename.cc.)
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

constexpr off_t kPage = 4096;
constexpr off_t kGiB = off_t{1} << 30;

using posix::PRead;

bool PWrite(int fd, absl::string_view data, off_t offset) {
  return ::pwrite(fd, data.data(), data.size(), offset) == static_cast<ssize_t>(data.size());
}

using posix::FStat;

TEST_P(PosixTest, CreateWriteReadBack) {
  ASSERT_TRUE(posix::WriteFile(Path("f"), "hello"));
  EXPECT_EQ(posix::ReadFile(Path("f")), "hello");
  struct stat st = posix::LStat(Path("f"));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 5);
  EXPECT_EQ(st.st_nlink, 1u);
  EXPECT_GT(st.st_blksize, 0);
  // Rewriting a file replaces its content.
  ASSERT_TRUE(posix::WriteFile(Path("f"), "hi"));
  EXPECT_EQ(posix::ReadFile(Path("f")), "hi");
  // An empty file has no blocks.
  ASSERT_TRUE(posix::WriteFile(Path("empty"), ""));
  st = posix::LStat(Path("empty"));
  EXPECT_EQ(st.st_size, 0);
  EXPECT_EQ(st.st_blocks, 0);
}

TEST_P(PosixTest, CreateExclusive) {
  const mode_t old_umask = ::umask(022);
  int fd = ::open(Path("f").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0666);
  const int open_errno = errno;
  ::umask(old_umask);
  ASSERT_GE(fd, 0) << strerror(open_errno);
  EXPECT_EQ(posix::LStat(Path("f")).st_mode, S_IFREG | 0644u);  // the umask applied
  EXPECT_EQ(FStat(fd).st_uid, ::geteuid());
  ASSERT_EQ(::close(fd), 0);
  // Again: the name exists.
  errno = 0;
  EXPECT_EQ(::open(Path("f").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644), -1);
  EXPECT_EQ(errno, EEXIST);
  // Without O_EXCL the existing file is opened, its content kept.
  ASSERT_TRUE(posix::WriteFile(Path("f"), "kept"));
  fd = ::open(Path("f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(PRead(fd, 16, 0), "kept");
  EXPECT_EQ(posix::LStat(Path("f")).st_mode & 07777, 0644u);  // the mode argument ignored
  ::close(fd);
  // O_EXCL on a directory's name too.
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  errno = 0;
  EXPECT_EQ(::open(Path("d").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644), -1);
  EXPECT_EQ(errno, EEXIST);
  // Without O_CREAT a missing file is ENOENT, and nothing is made.
  errno = 0;
  EXPECT_EQ(::open(Path("missing").c_str(), O_RDONLY | O_CLOEXEC), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(posix::Exists(Path("missing")));
}

TEST_P(PosixTest, PreadPwriteAtOffsets) {
  int fd = ::open(Path("f").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_TRUE(PWrite(fd, "head", 0));
  ASSERT_TRUE(PWrite(fd, "across", kPage - 3));  // straddles a page boundary
  ASSERT_TRUE(PWrite(fd, "far", 3 * kPage + 10));
  // pread/pwrite leave the file offset alone.
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 0);
  EXPECT_EQ(FStat(fd).st_size, 3 * kPage + 13);
  EXPECT_EQ(PRead(fd, 4, 0), "head");
  EXPECT_EQ(PRead(fd, 6, kPage - 3), "across");
  EXPECT_EQ(PRead(fd, 3, 3 * kPage + 10), "far");
  EXPECT_EQ(PRead(fd, 4, 100), std::string(4, '\0'));  // between the writes
  // Overwrite in the middle; the rest stays.
  ASSERT_TRUE(PWrite(fd, "HE", 1));
  EXPECT_EQ(PRead(fd, 4, 0), "hHEd");
  // A plain write moves the offset; a read follows it.
  ASSERT_EQ(::write(fd, "abc", 3), 3);
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 3);
  EXPECT_EQ(PRead(fd, 4, 0), "abcd");
  char c = 0;
  ASSERT_EQ(::read(fd, &c, 1), 1);
  EXPECT_EQ(c, 'd');
  // Another descriptor sees every write at once.
  int other = ::open(Path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(other, 0);
  EXPECT_EQ(PRead(other, 4, 0), "abcd");
  ASSERT_TRUE(PWrite(fd, "ABCD", 0));
  EXPECT_EQ(PRead(other, 4, 0), "ABCD");
  ::close(other);
  // The whole content, through a fresh open.
  std::string expected(3 * kPage + 13, '\0');
  expected.replace(0, 4, "ABCD");
  expected.replace(kPage - 3, 6, "across");
  expected.replace(3 * kPage + 10, 3, "far");
  EXPECT_EQ(posix::ReadFile(Path("f")), expected);
  ::close(fd);
}

TEST_P(PosixTest, SizeAndBlocksOfADenseFile) {
  const std::string data(100000, 'x');
  ASSERT_TRUE(posix::WriteFile(Path("f"), data));
  struct stat st = posix::LStat(Path("f"));
  EXPECT_EQ(st.st_size, 100000);
  // st_blocks counts 512-byte units: at least the data, and not far more
  // (allocation granularity only).
  EXPECT_GE(st.st_blocks * 512, 100000);
  EXPECT_LE(st.st_blocks * 512, 100000 + 64 * 1024);
  EXPECT_EQ(posix::ReadFile(Path("f")), data);
}

TEST_P(PosixTest, ReadsAtAndPastTheEndReturnZero) {
  ASSERT_TRUE(posix::WriteFile(Path("f"), "0123456789"));
  int fd = ::open(Path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(PRead(fd, 100, 6), "6789");  // a read across the end is short
  EXPECT_EQ(PRead(fd, 100, 10), "");     // at the end: 0
  EXPECT_EQ(PRead(fd, 100, 11), "");     // past it: 0
  EXPECT_EQ(PRead(fd, 100, 1 << 20), "");
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), 10);
  char buf[8];
  EXPECT_EQ(::read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(::lseek(fd, 1000, SEEK_SET), 1000);  // seeking past the end is allowed
  EXPECT_EQ(::read(fd, buf, sizeof(buf)), 0);
  EXPECT_EQ(FStat(fd).st_size, 10);  // and changes nothing
  ::close(fd);
  // Writing after a seek past the end fills the gap with zeros.
  fd = ::open(Path("f").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::lseek(fd, 20, SEEK_SET), 20);
  ASSERT_EQ(::write(fd, "!", 1), 1);
  ::close(fd);
  EXPECT_EQ(posix::ReadFile(Path("f")), std::string("0123456789") + std::string(10, '\0') + "!");
}

TEST_P(PosixTest, AppendFromTwoDescriptorsInterleaves) {
  const std::string f = Path("log");
  int a = ::open(f.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
  int b = ::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  int plain = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_GE(plain, 0);
  std::string expected;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(::write(a, "aaa", 3), 3);
    ASSERT_EQ(::write(b, "b", 1), 1);
    expected += "aaab";
    // Each append leaves its descriptor's offset at the new end.
    EXPECT_EQ(::lseek(b, 0, SEEK_CUR), static_cast<off_t>(expected.size()));
  }
  EXPECT_EQ(posix::ReadFile(f), expected);
  // A plain descriptor writes where it is; the appends still go to the end.
  ASSERT_EQ(::write(plain, "P", 1), 1);
  expected[0] = 'P';
  ASSERT_EQ(::write(a, "A", 1), 1);
  expected += "A";
  EXPECT_EQ(posix::ReadFile(f), expected);
  // Linux: pwrite on an O_APPEND descriptor appends too, whatever offset.
  ASSERT_EQ(::pwrite(b, "!", 1, 0), 1);
  expected += "!";
  EXPECT_EQ(posix::ReadFile(f), expected);
  // Appends after the file was cut by another descriptor go to the new end.
  ASSERT_EQ(::ftruncate(plain, 2), 0);
  ASSERT_EQ(::write(a, "z", 1), 1);
  EXPECT_EQ(posix::ReadFile(f), expected.substr(0, 2) + "z");
  ::close(a);
  ::close(b);
  ::close(plain);
}

TEST_P(PosixTest, AppendFromTwoProcessesLosesNothing) {
  const std::string f = Path("log");
  ASSERT_TRUE(posix::WriteFile(f, ""));
  constexpr int kRecords = 200;
  constexpr size_t kRecordSize = 64;
  // Each child appends records of its own letter through its own open.
  // (Built before forking: the children allocate nothing.)
  const std::string record_a = std::string(kRecordSize - 1, 'a') + "\n";
  const std::string record_b = std::string(kRecordSize - 1, 'b') + "\n";
  auto writer = [&](const std::string& record) {
    return [&f, &record]() -> int {
      int fd = ::open(f.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) return errno;
      for (int i = 0; i < kRecords; ++i) {
        if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
          return errno != 0 ? errno : EIO;
        }
      }
      return ::close(fd) == 0 ? 0 : errno;
    };
  };
  pid_t first = ::fork();
  if (first == 0) ::_exit(writer(record_a)());
  ASSERT_GT(first, 0);
  int second_result = posix::RunInChild(writer(record_b));
  int status = 0;
  ASSERT_EQ(::waitpid(first, &status, 0), first);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(second_result, 0);
  // Every record arrived whole: nothing overwrote anything.
  const std::string content = posix::ReadFile(f);
  ASSERT_EQ(content.size(), 2 * kRecords * kRecordSize);
  int a = 0, b = 0;
  for (size_t at = 0; at < content.size(); at += kRecordSize) {
    const char letter = content[at];
    ASSERT_TRUE(letter == 'a' || letter == 'b') << "at " << at;
    ASSERT_EQ(content.substr(at, kRecordSize),
              std::string(kRecordSize - 1, letter) + "\n")
        << "at " << at;
    (letter == 'a' ? a : b) += 1;
  }
  EXPECT_EQ(a, kRecords);
  EXPECT_EQ(b, kRecords);
}

TEST_P(PosixTest, OpenWithTruncate) {
  const std::string f = Path("f");
  ASSERT_TRUE(posix::WriteFile(f, std::string(10000, 'x')));
  int before = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(before, 0);
  EXPECT_EQ(PRead(before, 4, 0), "xxxx");  // in the page cache now
  int fd = ::open(f.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, 0);
  EXPECT_EQ(posix::LStat(f).st_size, 0);
  EXPECT_EQ(posix::LStat(f).st_blocks, 0);
  // The descriptor opened before sees the empty file.
  EXPECT_EQ(FStat(before).st_size, 0);
  EXPECT_EQ(PRead(before, 4, 0), "");
  ASSERT_EQ(::write(fd, "new", 3), 3);
  EXPECT_EQ(PRead(before, 10, 0), "new");
  ::close(fd);
  ::close(before);
  EXPECT_EQ(posix::ReadFile(f), "new");
  // O_TRUNC with O_CREAT on a new name just creates.
  fd = ::open(Path("g").c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(FStat(fd).st_size, 0);
  ::close(fd);
}

TEST_P(PosixTest, TruncateUpAndDownWhileOpenElsewhere) {
  const std::string f = Path("f");
  int a = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  int b = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  ASSERT_TRUE(PWrite(a, std::string(3 * kPage, 'x'), 0));
  EXPECT_EQ(PRead(a, 3 * kPage, 0), std::string(3 * kPage, 'x'));  // cached by a
  // Down through b: a sees the new size and no more data past it.
  ASSERT_EQ(::ftruncate(b, 1000), 0);
  EXPECT_EQ(FStat(a).st_size, 1000);
  EXPECT_EQ(PRead(a, 3 * kPage, 0), std::string(1000, 'x'));
  // Up again (by path): the bytes that were cut come back as zeros, not as
  // the old data.
  ASSERT_EQ(::truncate(f.c_str(), 2 * kPage + 5), 0);
  EXPECT_EQ(FStat(a).st_size, 2 * kPage + 5);
  EXPECT_EQ(PRead(a, 3 * kPage, 0),
            std::string(1000, 'x') + std::string(2 * kPage + 5 - 1000, '\0'));
  EXPECT_EQ(PRead(b, 3 * kPage, 0),
            std::string(1000, 'x') + std::string(2 * kPage + 5 - 1000, '\0'));
  // Truncating to the same size changes nothing; to 0 empties.
  ASSERT_EQ(::ftruncate(a, 2 * kPage + 5), 0);
  EXPECT_EQ(PRead(b, 4, 0), "xxxx");
  ASSERT_EQ(::ftruncate(a, 0), 0);
  EXPECT_EQ(FStat(b).st_size, 0);
  EXPECT_EQ(PRead(b, 10, 0), "");
  // Truncating up makes a hole, not data: no blocks.
  ASSERT_EQ(::ftruncate(a, 1 << 20), 0);
  EXPECT_EQ(FStat(b).st_size, 1 << 20);
  EXPECT_EQ(FStat(b).st_blocks, 0);
  EXPECT_EQ(PRead(b, 8, (1 << 20) - 8), std::string(8, '\0'));
  // Negative sizes are EINVAL; a directory cannot be truncated.
  errno = 0;
  EXPECT_EQ(::ftruncate(a, -1), -1);
  EXPECT_EQ(errno, EINVAL);
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  errno = 0;
  EXPECT_EQ(::truncate(Path("d").c_str(), 0), -1);
  EXPECT_EQ(errno, EISDIR);
  // A read-only descriptor cannot truncate.
  int ro = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ro, 0);
  errno = 0;
  EXPECT_EQ(::ftruncate(ro, 0), -1);
  EXPECT_EQ(errno, EINVAL);  // Linux: EINVAL (not EBADF) for a non-writable fd
  ::close(ro);
  ::close(a);
  ::close(b);
}

TEST_P(PosixTest, SparseFileReadsZerosInHoles) {
  const std::string f = Path("sparse");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(PWrite(fd, std::string(kPage, 'a'), 0));
  ASSERT_TRUE(PWrite(fd, std::string(kPage, 'b'), 256 * kPage));
  EXPECT_EQ(FStat(fd).st_size, 257 * kPage);
  // Only the written pages take space.
  EXPECT_GE(FStat(fd).st_blocks, 2 * kPage / 512);
  EXPECT_LT(FStat(fd).st_blocks * 512, 32 * kPage);
  EXPECT_EQ(PRead(fd, kPage, 100 * kPage), std::string(kPage, '\0'));
  EXPECT_EQ(PRead(fd, 8, kPage - 4), std::string("aaaa") + std::string(4, '\0'));
  EXPECT_EQ(PRead(fd, 8, 256 * kPage - 4), std::string(4, '\0') + "bbbb");
  ::close(fd);
}

TEST_P(PosixTest, SeekDataAndSeekHole) {
  POSIX_REQUIRE("seek_hole");
  const std::string f = Path("sparse");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  // Data in pages 0 and 256; holes between and after (up to the size).
  ASSERT_TRUE(PWrite(fd, std::string(kPage, 'a'), 0));
  ASSERT_TRUE(PWrite(fd, std::string(kPage, 'b'), 256 * kPage));
  ASSERT_EQ(::ftruncate(fd, 512 * kPage), 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_DATA), 0);
  EXPECT_EQ(::lseek(fd, 0, SEEK_HOLE), kPage);
  EXPECT_EQ(::lseek(fd, 100, SEEK_HOLE), kPage);
  EXPECT_EQ(::lseek(fd, kPage, SEEK_DATA), 256 * kPage);
  EXPECT_EQ(::lseek(fd, kPage + 1, SEEK_DATA), 256 * kPage);
  EXPECT_EQ(::lseek(fd, 256 * kPage + 7, SEEK_DATA), 256 * kPage + 7);  // inside data
  EXPECT_EQ(::lseek(fd, 256 * kPage, SEEK_HOLE), 257 * kPage);
  EXPECT_EQ(::lseek(fd, 300 * kPage, SEEK_HOLE), 300 * kPage);  // inside a hole
  // No data after the last page: ENXIO, as at or past the end.
  errno = 0;
  EXPECT_EQ(::lseek(fd, 257 * kPage, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  errno = 0;
  EXPECT_EQ(::lseek(fd, 512 * kPage, SEEK_HOLE), -1);
  EXPECT_EQ(errno, ENXIO);
  errno = 0;
  EXPECT_EQ(::lseek(fd, 512 * kPage, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  // The end of the file is a hole even right after data.
  ASSERT_EQ(::ftruncate(fd, 257 * kPage), 0);
  EXPECT_EQ(::lseek(fd, 256 * kPage, SEEK_HOLE), 257 * kPage);
  // The file offset moved to the last result.
  EXPECT_EQ(::lseek(fd, 0, SEEK_CUR), 257 * kPage);
  // An empty file: no data at all.
  int empty = ::open(Path("empty").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(empty, 0);
  errno = 0;
  EXPECT_EQ(::lseek(empty, 0, SEEK_DATA), -1);
  EXPECT_EQ(errno, ENXIO);
  ::close(empty);
  ::close(fd);
}

TEST_P(PosixTest, FileAboveFourGiB) {
  POSIX_REQUIRE("large_file");
  const std::string f = Path("big");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const off_t end = 5 * kGiB;
  ASSERT_TRUE(PWrite(fd, "end", end)) << strerror(errno);
  ASSERT_TRUE(PWrite(fd, "four", 4 * kGiB - 2));  // across the 32-bit boundary
  EXPECT_EQ(FStat(fd).st_size, end + 3);
  EXPECT_EQ(posix::LStat(f).st_size, end + 3);
  EXPECT_EQ(::lseek(fd, 0, SEEK_END), end + 3);
  EXPECT_EQ(PRead(fd, 3, end), "end");
  EXPECT_EQ(PRead(fd, 100, end), "end");
  EXPECT_EQ(PRead(fd, 4, 4 * kGiB - 2), "four");
  // Holes below, between and at low offsets read as zeros: no offset was cut
  // to 32 bits.
  EXPECT_EQ(PRead(fd, 8, 0), std::string(8, '\0'));
  EXPECT_EQ(PRead(fd, 8, 2), std::string(8, '\0'));
  EXPECT_EQ(PRead(fd, 8, 4 * kGiB + 100), std::string(8, '\0'));
  EXPECT_EQ(PRead(fd, 8, end - 5), std::string(5, '\0') + "end");
  // Still sparse.
  EXPECT_LT(FStat(fd).st_blocks * 512, 1 << 20);
  // Truncate down below 4 GiB keeps what is below.
  ASSERT_EQ(::ftruncate(fd, 4 * kGiB), 0);
  EXPECT_EQ(FStat(fd).st_size, 4 * kGiB);
  EXPECT_EQ(PRead(fd, 8, 4 * kGiB - 2), "fo");
  ::close(fd);
}

TEST_P(PosixTest, WritesNearTheLargestOffset) {
  POSIX_REQUIRE("large_file");
  // Linux's largest file size on 64-bit machines (MAX_LFS_FILESIZE), which
  // tmpfs and FUSE both allow: 2^63 - 1.
  constexpr off_t kMax = std::numeric_limits<off_t>::max();
  const std::string f = Path("huge");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, kMax), 0) << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, kMax);
  EXPECT_EQ(FStat(fd).st_blocks, 0);
  // The last bytes there are.
  EXPECT_EQ(::pwrite(fd, "abcd", 4, kMax - 4), 4) << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, kMax);
  EXPECT_EQ(PRead(fd, 4, kMax - 4), "abcd");
  EXPECT_EQ(PRead(fd, 4, kMax - 8), std::string(4, '\0'));
  // Past them the offset would overflow: EINVAL.
  errno = 0;
  EXPECT_EQ(::pwrite(fd, "x", 1, kMax), -1);
  EXPECT_EQ(errno, EINVAL);
  // (No SEEK_DATA/SEEK_HOLE here: tmpfs itself answers nonsense in the
  // file's last page, e.g. SEEK_HOLE giving 2^63.)
  EXPECT_LT(FStat(fd).st_blocks * 512, 1 << 20);
  // Truncating down drops it again.
  ASSERT_EQ(::ftruncate(fd, 10), 0);
  EXPECT_EQ(FStat(fd).st_size, 10);
  EXPECT_EQ(FStat(fd).st_blocks, 0);
  EXPECT_EQ(PRead(fd, 16, 0), std::string(10, '\0'));
  ::close(fd);
}

TEST_P(PosixTest, FallocateAllocates) {
  POSIX_REQUIRE("fallocate");
  const std::string f = Path("f");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  // Mode 0 extends the size and allocates; the new bytes read as zeros.
  ASSERT_EQ(::fallocate(fd, 0, 0, 2 * kPage), 0) << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, 2 * kPage);
  EXPECT_GE(FStat(fd).st_blocks * 512, 2 * kPage);
  EXPECT_EQ(PRead(fd, 2 * kPage, 0), std::string(2 * kPage, '\0'));
  // KEEP_SIZE past the end: blocks, not size.
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_KEEP_SIZE, 2 * kPage, 2 * kPage), 0);
  EXPECT_EQ(FStat(fd).st_size, 2 * kPage);
  EXPECT_GE(FStat(fd).st_blocks * 512, 4 * kPage);
  EXPECT_EQ(PRead(fd, 4 * kPage, 0), std::string(2 * kPage, '\0'));
  // Mode 0 inside the file keeps the data and the size.
  ASSERT_TRUE(PWrite(fd, "data", 10));
  ASSERT_EQ(::fallocate(fd, 0, 0, kPage), 0);
  EXPECT_EQ(FStat(fd).st_size, 2 * kPage);
  EXPECT_EQ(PRead(fd, 4, 10), "data");
  // Mode 0 starting past the end: the size is offset + length.
  ASSERT_EQ(::fallocate(fd, 0, 10 * kPage, 100), 0);
  EXPECT_EQ(FStat(fd).st_size, 10 * kPage + 100);
  EXPECT_EQ(PRead(fd, 8, 10 * kPage), std::string(8, '\0'));
  // Bad ranges are EINVAL.
  errno = 0;
  EXPECT_EQ(::fallocate(fd, 0, 0, 0), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(::fallocate(fd, 0, -1, 10), -1);
  EXPECT_EQ(errno, EINVAL);
  // A read-only descriptor cannot.
  int ro = ::open(f.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ro, 0);
  errno = 0;
  EXPECT_EQ(::fallocate(ro, 0, 0, kPage), -1);
  EXPECT_EQ(errno, EBADF);
  ::close(ro);
  ::close(fd);
}

TEST_P(PosixTest, FallocatePunchHole) {
  POSIX_REQUIRE("fallocate");
  POSIX_REQUIRE("punch_hole");
  const std::string f = Path("f");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  const std::string data(4 * kPage, 'x');
  ASSERT_TRUE(PWrite(fd, data, 0));
  EXPECT_EQ(PRead(fd, 4 * kPage, 0), data);  // in the page cache now
  const blkcnt_t blocks_before = FStat(fd).st_blocks;
  // A whole page: zeros, its space freed, the size kept.
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, kPage, kPage), 0)
      << strerror(errno);
  EXPECT_EQ(FStat(fd).st_size, 4 * kPage);
  EXPECT_EQ(FStat(fd).st_blocks, blocks_before - kPage / 512);
  std::string expected = data;
  expected.replace(kPage, kPage, std::string(kPage, '\0'));
  EXPECT_EQ(PRead(fd, 4 * kPage, 0), expected);
  // Part of a page: zeros there, the rest of the page kept.
  ASSERT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 50), 0);
  expected.replace(100, 50, std::string(50, '\0'));
  EXPECT_EQ(PRead(fd, 4 * kPage, 0), expected);
  // Through the end and past it: the size still kept.
  ASSERT_EQ(
      ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 3 * kPage + 10, 10 * kPage),
      0);
  EXPECT_EQ(FStat(fd).st_size, 4 * kPage);
  expected.replace(3 * kPage + 10, kPage - 10, std::string(kPage - 10, '\0'));
  EXPECT_EQ(PRead(fd, 4 * kPage, 0), expected);
  EXPECT_EQ(posix::ReadFile(f), expected);
  // Punching without KEEP_SIZE is refused.
  errno = 0;
  EXPECT_EQ(::fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, kPage), -1);
  EXPECT_EQ(errno, EOPNOTSUPP);
  ::close(fd);
}

}  // namespace
}  // namespace fusekit
