// Cases on rename(2) and renameat2(2): replacing files and directories, the
// refusals (ENOTEMPTY, ENOTDIR, EISDIR, EINVAL, EEXIST), RENAME_NOREPLACE
// and RENAME_EXCHANGE, an open directory moved under its reader, and the
// no-op renames.
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

using ::testing::UnorderedElementsAre;

using posix::PRead;

using posix::FStat;

int Rename2(const std::string& from, const std::string& to, unsigned flags) {
  return ::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), flags);
}

// The names readdir gives for the open directory `fd` (from its start),
// "." and ".." included.
std::vector<std::string> ListFd(int fd) {
  std::vector<std::string> names;
  int dup_fd = ::dup(fd);
  if (dup_fd < 0) return {"<dup failed>"};
  DIR* dir = ::fdopendir(dup_fd);
  if (dir == nullptr) {
    ::close(dup_fd);
    return {"<fdopendir failed>"};
  }
  ::rewinddir(dir);
  while (struct dirent* e = ::readdir(dir)) names.push_back(e->d_name);
  ::closedir(dir);
  return names;
}

TEST_P(PosixTest, RenameOverAFileReplacesIt) {
  ASSERT_TRUE(posix::WriteFile(Path("a"), "A"));
  ASSERT_TRUE(posix::WriteFile(Path("b"), "B"));
  const ino_t a_ino = posix::LStat(Path("a")).st_ino;
  const ino_t b_ino = posix::LStat(Path("b")).st_ino;
  int old_b = ::open(Path("b").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(old_b, 0);
  ASSERT_EQ(::rename(Path("a").c_str(), Path("b").c_str()), 0) << strerror(errno);
  EXPECT_FALSE(posix::Exists(Path("a")));
  EXPECT_EQ(posix::ReadFile(Path("b")), "A");
  EXPECT_EQ(posix::LStat(Path("b")).st_ino, a_ino);
  EXPECT_EQ(posix::LStat(Path("b")).st_nlink, 1u);
  // The replaced inode has no name left, and lives only through old_b.
  struct stat st = FStat(old_b);
  EXPECT_EQ(st.st_ino, b_ino);
  EXPECT_EQ(st.st_nlink, 0u);
  EXPECT_EQ(PRead(old_b, 8, 0), "B");
  ::close(old_b);
  // Across directories, into a name that exists there.
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d/b"), "old"));
  ASSERT_EQ(::rename(Path("b").c_str(), Path("d/b").c_str()), 0);
  EXPECT_EQ(posix::ReadFile(Path("d/b")), "A");
  EXPECT_FALSE(posix::Exists(Path("b")));
  // A replaced file that had another link keeps it.
  ASSERT_TRUE(posix::WriteFile(Path("c"), "C"));
  if (UnsupportedReason("hardlink").empty()) {
    ASSERT_EQ(::link(Path("c").c_str(), Path("c2").c_str()), 0);
    ASSERT_TRUE(posix::WriteFile(Path("e"), "E"));
    ASSERT_EQ(::rename(Path("e").c_str(), Path("c").c_str()), 0);
    EXPECT_EQ(posix::ReadFile(Path("c")), "E");
    EXPECT_EQ(posix::ReadFile(Path("c2")), "C");
    EXPECT_EQ(posix::LStat(Path("c2")).st_nlink, 1u);
  }
}

TEST_P(PosixTest, RenameMovesFilesAndDirectoriesBetweenDirectories) {
  ASSERT_EQ(::mkdir(Path("from").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("to").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("from/sub").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("from/sub/f"), "deep"));
  ASSERT_TRUE(posix::WriteFile(Path("from/g"), "g"));
  const ino_t sub_ino = posix::LStat(Path("from/sub")).st_ino;
  EXPECT_EQ(posix::LStat(Path("from")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(Path("to")).st_nlink, 2u);
  // A directory: its parent's link count moves with it, and ".." follows.
  ASSERT_EQ(::rename(Path("from/sub").c_str(), Path("to/moved").c_str()), 0) << strerror(errno);
  EXPECT_EQ(posix::LStat(Path("to/moved")).st_ino, sub_ino);
  EXPECT_EQ(posix::ReadFile(Path("to/moved/f")), "deep");
  EXPECT_FALSE(posix::Exists(Path("from/sub")));
  EXPECT_EQ(posix::LStat(Path("from")).st_nlink, 2u);
  EXPECT_EQ(posix::LStat(Path("to")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(Path("to/moved/..")).st_ino, posix::LStat(Path("to")).st_ino);
  // A file.
  ASSERT_EQ(::rename(Path("from/g").c_str(), Path("to/moved/g").c_str()), 0);
  EXPECT_EQ(posix::ReadFile(Path("to/moved/g")), "g");
  EXPECT_FALSE(posix::Exists(Path("from/g")));
  // Files created in the moved directory afterwards are found there.
  ASSERT_TRUE(posix::WriteFile(Path("to/moved/new"), "n"));
  EXPECT_EQ(posix::ReadFile(Path("to/moved/new")), "n");
  // A missing source is ENOENT.
  errno = 0;
  EXPECT_EQ(::rename(Path("from/none").c_str(), Path("to/none").c_str()), -1);
  EXPECT_EQ(errno, ENOENT);
}

TEST_P(PosixTest, RenameOverDirectories) {
  ASSERT_EQ(::mkdir(Path("d1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("empty").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("full").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d1/f"), "f"));
  ASSERT_TRUE(posix::WriteFile(Path("full/x"), "x"));
  ASSERT_TRUE(posix::WriteFile(Path("file"), "file"));
  const ino_t d1_ino = posix::LStat(Path("d1")).st_ino;
  const nlink_t root_links = posix::LStat(root()).st_nlink;
  // Over an empty directory: replaced.
  ASSERT_EQ(::rename(Path("d1").c_str(), Path("empty").c_str()), 0) << strerror(errno);
  EXPECT_FALSE(posix::Exists(Path("d1")));
  EXPECT_EQ(posix::LStat(Path("empty")).st_ino, d1_ino);
  EXPECT_EQ(posix::ReadFile(Path("empty/f")), "f");
  EXPECT_EQ(posix::LStat(root()).st_nlink, root_links - 1);  // one subdirectory fewer
  // Over a non-empty directory: refused, both kept.
  errno = 0;
  EXPECT_EQ(::rename(Path("empty").c_str(), Path("full").c_str()), -1);
  EXPECT_EQ(errno, ENOTEMPTY);
  EXPECT_EQ(posix::ReadFile(Path("full/x")), "x");
  EXPECT_EQ(posix::ReadFile(Path("empty/f")), "f");
  // A directory onto a file: ENOTDIR; a file onto a directory: EISDIR.
  errno = 0;
  EXPECT_EQ(::rename(Path("empty").c_str(), Path("file").c_str()), -1);
  EXPECT_EQ(errno, ENOTDIR);
  errno = 0;
  EXPECT_EQ(::rename(Path("file").c_str(), Path("full").c_str()), -1);
  EXPECT_EQ(errno, EISDIR);
  EXPECT_EQ(posix::ReadFile(Path("file")), "file");
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("full")).st_mode));
  // A directory into its own subtree: EINVAL.
  ASSERT_EQ(::mkdir(Path("empty/sub").c_str(), 0755), 0);
  errno = 0;
  EXPECT_EQ(::rename(Path("empty").c_str(), Path("empty/sub/inside").c_str()), -1);
  EXPECT_EQ(errno, EINVAL);
  errno = 0;
  EXPECT_EQ(::rename(Path("empty").c_str(), Path("empty/inside").c_str()), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_TRUE(posix::Exists(Path("empty/sub")));
  EXPECT_FALSE(posix::Exists(Path("empty/sub/inside")));
  // A parent onto its own child: ENOTEMPTY (the child is not empty) or
  // EINVAL; never done.
  ASSERT_TRUE(posix::WriteFile(Path("empty/sub/y"), "y"));
  errno = 0;
  EXPECT_EQ(::rename(Path("empty/sub").c_str(), Path("empty").c_str()), -1);
  EXPECT_TRUE(errno == ENOTEMPTY || errno == EINVAL) << strerror(errno);
}

TEST_P(PosixTest, DirectoryReplacedByRenameIsDeadButOpen) {
  ASSERT_EQ(::mkdir(Path("a").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("b").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("a/f"), "f"));
  int fd = ::open(Path("b").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const ino_t b_ino = FStat(fd).st_ino;
  ASSERT_EQ(::rename(Path("a").c_str(), Path("b").c_str()), 0) << strerror(errno);
  // The descriptor holds the old, now nameless directory: no links, and
  // nothing can be made in it.
  struct stat st = FStat(fd);
  EXPECT_EQ(st.st_ino, b_ino);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_nlink, 0u);
  errno = 0;
  EXPECT_EQ(::openat(fd, "x", O_CREAT | O_WRONLY | O_CLOEXEC, 0644), -1);
  EXPECT_EQ(errno, ENOENT);
  errno = 0;
  EXPECT_EQ(::mkdirat(fd, "sub", 0755), -1);
  EXPECT_EQ(errno, ENOENT);
  // The name now holds the moved directory.
  EXPECT_EQ(posix::ReadFile(Path("b/f")), "f");
  EXPECT_NE(posix::LStat(Path("b")).st_ino, b_ino);
  ::close(fd);
}

TEST_P(PosixTest, RenameToTheSameFileIsANoOp) {
  ASSERT_TRUE(posix::WriteFile(Path("a"), "A"));
  const ino_t ino = posix::LStat(Path("a")).st_ino;
  ASSERT_EQ(::rename(Path("a").c_str(), Path("a").c_str()), 0) << strerror(errno);
  EXPECT_EQ(posix::ReadFile(Path("a")), "A");
  EXPECT_EQ(posix::LStat(Path("a")).st_ino, ino);
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path("d").c_str(), Path("d").c_str()), 0);
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("d")).st_mode));
  // Two links of one file: rename does nothing, both names stay.
  if (UnsupportedReason("hardlink").empty()) {
    ASSERT_EQ(::link(Path("a").c_str(), Path("b").c_str()), 0);
    ASSERT_EQ(::rename(Path("a").c_str(), Path("b").c_str()), 0);
    EXPECT_TRUE(posix::Exists(Path("a")));
    EXPECT_TRUE(posix::Exists(Path("b")));
    EXPECT_EQ(posix::LStat(Path("b")).st_nlink, 2u);
  }
}

TEST_P(PosixTest, RenameNoReplace) {
  POSIX_REQUIRE("rename_noreplace");
  ASSERT_TRUE(posix::WriteFile(Path("a"), "A"));
  ASSERT_TRUE(posix::WriteFile(Path("b"), "B"));
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  errno = 0;
  EXPECT_EQ(Rename2(Path("a"), Path("b"), RENAME_NOREPLACE), -1);
  EXPECT_EQ(errno, EEXIST);
  errno = 0;
  EXPECT_EQ(Rename2(Path("a"), Path("d"), RENAME_NOREPLACE), -1);
  EXPECT_EQ(errno, EEXIST);
  EXPECT_EQ(posix::ReadFile(Path("a")), "A");
  EXPECT_EQ(posix::ReadFile(Path("b")), "B");
  // To a free name it is a plain rename.
  ASSERT_EQ(Rename2(Path("a"), Path("d/c"), RENAME_NOREPLACE), 0) << strerror(errno);
  EXPECT_EQ(posix::ReadFile(Path("d/c")), "A");
  EXPECT_FALSE(posix::Exists(Path("a")));
  // Both flags at once are EINVAL.
  errno = 0;
  EXPECT_EQ(Rename2(Path("b"), Path("d/c"), RENAME_NOREPLACE | RENAME_EXCHANGE), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_P(PosixTest, RenameExchange) {
  POSIX_REQUIRE("rename_exchange");
  // Two files in one directory.
  ASSERT_TRUE(posix::WriteFile(Path("a"), "A"));
  ASSERT_TRUE(posix::WriteFile(Path("b"), "B"));
  const ino_t a_ino = posix::LStat(Path("a")).st_ino;
  ASSERT_EQ(Rename2(Path("a"), Path("b"), RENAME_EXCHANGE), 0) << strerror(errno);
  EXPECT_EQ(posix::ReadFile(Path("a")), "B");
  EXPECT_EQ(posix::ReadFile(Path("b")), "A");
  EXPECT_EQ(posix::LStat(Path("b")).st_ino, a_ino);
  // A file and a directory in different directories: the directory's
  // link count and ".." go with it.
  ASSERT_EQ(::mkdir(Path("d1").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("d2").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Path("d2/sub").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d2/sub/inside"), "in"));
  ASSERT_TRUE(posix::WriteFile(Path("d1/f"), "F"));
  EXPECT_EQ(posix::LStat(Path("d1")).st_nlink, 2u);
  EXPECT_EQ(posix::LStat(Path("d2")).st_nlink, 3u);
  ASSERT_EQ(Rename2(Path("d1/f"), Path("d2/sub"), RENAME_EXCHANGE), 0) << strerror(errno);
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("d1/f")).st_mode));
  EXPECT_EQ(posix::ReadFile(Path("d1/f/inside")), "in");
  EXPECT_TRUE(S_ISREG(posix::LStat(Path("d2/sub")).st_mode));
  EXPECT_EQ(posix::ReadFile(Path("d2/sub")), "F");
  EXPECT_EQ(posix::LStat(Path("d1")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(Path("d2")).st_nlink, 2u);
  EXPECT_EQ(posix::LStat(Path("d1/f/..")).st_ino, posix::LStat(Path("d1")).st_ino);
  // New files in the exchanged directory land in it.
  ASSERT_TRUE(posix::WriteFile(Path("d1/f/new"), "n"));
  EXPECT_EQ(posix::ReadFile(Path("d1/f/new")), "n");
  // Both names must exist.
  errno = 0;
  EXPECT_EQ(Rename2(Path("a"), Path("missing"), RENAME_EXCHANGE), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_FALSE(posix::Exists(Path("missing")));
  // A directory cannot be exchanged into its own subtree.
  errno = 0;
  EXPECT_EQ(Rename2(Path("d1"), Path("d1/f/inside"), RENAME_EXCHANGE), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_P(PosixTest, RenamedOpenDirectoryStillReads) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  for (const char* name : {"a", "b", "c"}) {
    ASSERT_TRUE(posix::WriteFile(Path(absl::StrCat("d/", name)), name));
  }
  int fd = ::open(Path("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(ListFd(fd), UnorderedElementsAre(".", "..", "a", "b", "c"));
  // Moved to another parent under another name, while open.
  ASSERT_EQ(::mkdir(Path("p").c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path("d").c_str(), Path("p/e").c_str()), 0) << strerror(errno);
  EXPECT_THAT(ListFd(fd), UnorderedElementsAre(".", "..", "a", "b", "c"));
  // The descriptor still names the directory: *at() calls through it work.
  int f = ::openat(fd, "new", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(f, 0) << strerror(errno);
  ::close(f);
  EXPECT_TRUE(posix::Exists(Path("p/e/new")));
  EXPECT_EQ(::unlinkat(fd, "a", 0), 0) << strerror(errno);
  EXPECT_FALSE(posix::Exists(Path("p/e/a")));
  EXPECT_THAT(ListFd(fd), UnorderedElementsAre(".", "..", "b", "c", "new"));
  struct stat st {};
  ASSERT_EQ(::fstatat(fd, "..", &st, 0), 0);
  EXPECT_EQ(st.st_ino, posix::LStat(Path("p")).st_ino);
  ::close(fd);
}

}  // namespace
}  // namespace fusekit
