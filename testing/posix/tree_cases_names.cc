// Cases on names, paths and descriptors: 255-byte names and 256-byte ones,
// every byte value but '/' and NUL in names (invalid UTF-8 included), empty
// names, paths at and past PATH_MAX, nesting deeper than PATH_MAX through
// openat; and a thousand files open at once, with nothing left open after.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

int ErrnoOf(int result) { return result >= 0 ? 0 : errno; }

// The names in `dir`, "." and ".." left out.
std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  EXPECT_NE(d, nullptr) << dir << ": " << strerror(errno);
  if (d == nullptr) return names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.insert(name);
  }
  ::closedir(d);
  return names;
}

// How many descriptors this process has open.
// Descriptors of this process other than pipes. An in-process daemon's
// workers may make their splice pipes on their first read, which is not a
// leak; a file or host descriptor left open is.
int OpenDescriptors() {
  int n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char target[64] = {};
    std::string link = std::string("/proc/self/fd/") + e->d_name;
    ssize_t len = ::readlink(link.c_str(), target, sizeof(target) - 1);
    if (len > 0 && std::string(target, static_cast<size_t>(len)).rfind("pipe:", 0) == 0) continue;
    ++n;
  }
  ::closedir(d);
  return n;
}

TEST_P(PosixTest, LongestNameAndOneByteMore) {
  const std::string longest(NAME_MAX, 'n');
  const std::string too_long(NAME_MAX + 1, 'n');
  const std::string f = Path(longest);
  ASSERT_TRUE(posix::WriteFile(f, "long")) << strerror(errno);
  EXPECT_TRUE(S_ISREG(posix::LStat(f).st_mode));
  EXPECT_EQ(posix::ReadFile(f), "long");
  EXPECT_EQ(Names(root()), std::set<std::string>{longest});
  // One byte more: ENAMETOOLONG for every call, and nothing is made.
  const std::string t = Path(too_long);
  EXPECT_EQ(ErrnoOf(::open(t.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::mkdir(t.c_str(), 0755)), ENAMETOOLONG);
  struct stat st {};
  EXPECT_EQ(ErrnoOf(::stat(t.c_str(), &st)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::rename(f.c_str(), t.c_str())), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::unlink(t.c_str())), ENAMETOOLONG);
  EXPECT_EQ(Names(root()), std::set<std::string>{longest});
  // Directories and renames with the longest name.
  ASSERT_EQ(::rename(f.c_str(), Path("short").c_str()), 0);
  ASSERT_EQ(::mkdir(f.c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path("short").c_str(), (f + "/" + longest).c_str()), 0);
  EXPECT_EQ(posix::ReadFile(f + "/" + longest), "long");
  EXPECT_EQ(Names(f), std::set<std::string>{longest});
  ASSERT_EQ(::unlink((f + "/" + longest).c_str()), 0);
  ASSERT_EQ(::rmdir(f.c_str()), 0);
  EXPECT_TRUE(Names(root()).empty());
  if (UnsupportedReason("symlink").empty()) {
    ASSERT_EQ(::symlink(longest.c_str(), f.c_str()), 0);
    EXPECT_EQ(Names(root()), std::set<std::string>{longest});
    ASSERT_EQ(::unlink(f.c_str()), 0);
  }
}

TEST_P(PosixTest, EveryByteValueInNames) {
  // Names made of every byte but NUL and '/': control characters, bytes
  // above 0x7f, invalid UTF-8 (lone continuation bytes, truncated
  // sequences, overlongs), valid UTF-8. A filesystem must treat them as
  // bytes.
  std::vector<std::string> names;
  std::string chunk;
  for (int b = 1; b < 256; ++b) {
    if (b == '/') continue;
    chunk += static_cast<char>(b);
    if (chunk.size() == 40) {
      names.push_back(chunk);
      chunk.clear();
    }
  }
  if (chunk != "." && chunk != ".." && !chunk.empty()) names.push_back(chunk);
  for (const char* special :
       {"\x80", "\xff", "\xc3\x28", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "caf\xc3\xa9",
        "\xf0\x9f\x98\x80", "new\nline", " leading space", "trailing space ", "-dash",
        "back\\slash", "\x7f", "...", ". ", "*?[]"}) {
    names.push_back(special);
  }
  std::set<std::string> expected(names.begin(), names.end());
  ASSERT_EQ(expected.size(), names.size());
  for (const std::string& name : names) {
    ASSERT_TRUE(posix::WriteFile(Path(name), name)) << absl::CHexEscape(name) << ": "
                                                    << strerror(errno);
  }
  EXPECT_EQ(Names(root()), expected);
  for (const std::string& name : names) {
    EXPECT_EQ(posix::ReadFile(Path(name)), name) << absl::CHexEscape(name);
  }
  // Renamed to and from such names, and as directory names.
  ASSERT_EQ(::mkdir(Path("\xff\xfe dir").c_str(), 0755), 0);
  ASSERT_EQ(::rename(Path(names[0]).c_str(), Path("\xff\xfe dir/\x80\x81").c_str()), 0);
  EXPECT_EQ(Names(Path("\xff\xfe dir")), std::set<std::string>{"\x80\x81"});
  EXPECT_EQ(posix::ReadFile(Path("\xff\xfe dir/\x80\x81")), names[0]);
  // Lookups are exact: a name differing in one byte (or case) is another.
  EXPECT_FALSE(posix::Exists(Path("CAF\xc3\xa9")));
  EXPECT_FALSE(posix::Exists(Path("caf\xc3\x89")));
  for (size_t i = 1; i < names.size(); ++i) {
    ASSERT_EQ(::unlink(Path(names[i]).c_str()), 0) << absl::CHexEscape(names[i]);
  }
  EXPECT_EQ(Names(root()), std::set<std::string>{"\xff\xfe dir"});
}

TEST_P(PosixTest, EmptyNamesAndPathLimits) {
  struct stat st {};
  // The empty path names nothing.
  EXPECT_EQ(ErrnoOf(::open("", O_RDONLY | O_CLOEXEC)), ENOENT);
  EXPECT_EQ(ErrnoOf(::open("", O_CREAT | O_WRONLY | O_CLOEXEC, 0644)), ENOENT);
  EXPECT_EQ(ErrnoOf(::stat("", &st)), ENOENT);
  EXPECT_EQ(ErrnoOf(::mkdir("", 0755)), ENOENT);
  int dir = ::open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(ErrnoOf(::openat(dir, "", O_RDONLY | O_CLOEXEC)), ENOENT);
  EXPECT_EQ(ErrnoOf(::mkdirat(dir, "", 0755)), ENOENT);
  EXPECT_EQ(ErrnoOf(::unlinkat(dir, "", 0)), ENOENT);
  ::close(dir);
  // Paths: 4095 bytes (PATH_MAX with its NUL) work, 4096 do not. Padded
  // with "./" so no single name is long.
  ASSERT_TRUE(posix::WriteFile(Path("f"), "end"));
  auto padded = [&](size_t length) {
    std::string p = root() + "/";
    const size_t pad = length - 1 - p.size();
    for (size_t i = 0; i < pad / 2; ++i) p += "./";
    if (pad % 2 != 0) p += "/";  // "//" is one separator
    return p + "f";
  };
  const std::string at_limit = padded(PATH_MAX - 1);
  const std::string over = padded(PATH_MAX);
  ASSERT_EQ(at_limit.size(), static_cast<size_t>(PATH_MAX - 1));
  ASSERT_EQ(over.size(), static_cast<size_t>(PATH_MAX));
  EXPECT_EQ(posix::ReadFile(at_limit), "end");
  EXPECT_EQ(ErrnoOf(::stat(over.c_str(), &st)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::open(over.c_str(), O_RDONLY | O_CLOEXEC)), ENAMETOOLONG);
  EXPECT_EQ(ErrnoOf(::mkdir(over.c_str(), 0755)), ENAMETOOLONG);
  const std::string way_over = std::string(2 * PATH_MAX, 'a');
  EXPECT_EQ(ErrnoOf(::stat(way_over.c_str(), &st)), ENAMETOOLONG);
}

TEST_P(PosixTest, NestingBeyondPathMaxThroughOpenat) {
  // Directories of 200-byte names, each opened relative to the one above,
  // down past PATH_MAX: the absolute path stops working there, relative
  // opens do not.
  const std::string name(200, 'd');
  const size_t levels = (PATH_MAX - root().size()) / (name.size() + 1) + 3;
  std::vector<int> fds;
  int top = ::open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(top, 0);
  fds.push_back(top);
  std::string absolute = root();
  size_t last_reachable = 0;  // deepest level whose absolute path fits
  for (size_t i = 1; i <= levels; ++i) {
    ASSERT_EQ(::mkdirat(fds.back(), name.c_str(), 0755), 0) << "level " << i << ": "
                                                             << strerror(errno);
    int fd = ::openat(fds.back(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << "level " << i << ": " << strerror(errno);
    fds.push_back(fd);
    absolute += "/" + name;
    if (absolute.size() + 2 < PATH_MAX) last_reachable = i;  // room for "/f"
  }
  ASSERT_GT(last_reachable, 0u);
  ASSERT_LT(last_reachable, levels);
  // A file at the deepest level reachable by absolute path, and one below
  // PATH_MAX's reach.
  auto write_at = [](int dir, const char* content) {
    int fd = ::openat(dir, "f", O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    bool ok = ::write(fd, content, strlen(content)) == static_cast<ssize_t>(strlen(content));
    return ::close(fd) == 0 && ok;
  };
  ASSERT_TRUE(write_at(fds[last_reachable], "near")) << strerror(errno);
  ASSERT_TRUE(write_at(fds[levels], "deep")) << strerror(errno);
  std::string near_path = root();
  for (size_t i = 0; i < last_reachable; ++i) near_path += "/" + name;
  near_path += "/f";
  ASSERT_LT(near_path.size(), static_cast<size_t>(PATH_MAX));
  EXPECT_EQ(posix::ReadFile(near_path), "near");
  std::string deep_path = root();
  for (size_t i = 0; i < levels; ++i) deep_path += "/" + name;
  struct stat st {};
  EXPECT_EQ(ErrnoOf(::stat((deep_path + "/f").c_str(), &st)), ENAMETOOLONG);
  // Relative to a deep descriptor it reads fine.
  int fd = ::openat(fds[levels], "f", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  char buf[8] = {};
  EXPECT_EQ(::read(fd, buf, sizeof(buf)), 4);
  EXPECT_EQ(std::string(buf, 4), "deep");
  ::close(fd);
  ASSERT_EQ(::fstatat(fds[levels - 1], name.c_str(), &st, AT_SYMLINK_NOFOLLOW), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // Taken down bottom up.
  ASSERT_EQ(::unlinkat(fds[levels], "f", 0), 0);
  ASSERT_EQ(::unlinkat(fds[last_reachable], "f", 0), 0);
  for (size_t i = levels; i >= 1; --i) {
    ::close(fds[i]);
    ASSERT_EQ(::unlinkat(fds[i - 1], name.c_str(), AT_REMOVEDIR), 0) << "level " << i << ": "
                                                                     << strerror(errno);
  }
  ::close(top);
  EXPECT_TRUE(Names(root()).empty());
}

TEST_P(PosixTest, AThousandFilesOpenAtOnce) {
  constexpr int kFiles = 1000;
  struct rlimit limit {};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlim_t need = 2 * kFiles + 256;  // the in-process server's too
  if (limit.rlim_cur < need) {
    if (limit.rlim_max < need) {
      GTEST_SKIP() << "RLIMIT_NOFILE's hard limit " << limit.rlim_max << " is below " << need;
    }
    struct rlimit raised = limit;
    raised.rlim_cur = need;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);
  }
  ASSERT_EQ(::mkdir(Path("many").c_str(), 0755), 0);
  const int descriptors_before = OpenDescriptors();
  std::vector<int> fds;
  for (int i = 0; i < kFiles; ++i) {
    int fd = ::open(Path(absl::StrCat("many/", i)).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << "file " << i << ": " << strerror(errno);
    fds.push_back(fd);
  }
  for (int i = 0; i < kFiles; ++i) {
    const std::string content = absl::StrCat("content of file ", i, "\n");
    ASSERT_EQ(::write(fds[i], content.data(), content.size()),
              static_cast<ssize_t>(content.size()));
  }
  // Read back through every descriptor while all are open.
  for (int i = 0; i < kFiles; ++i) {
    char buf[64];
    ssize_t n = ::pread(fds[i], buf, sizeof(buf), 0);
    ASSERT_GT(n, 0) << "file " << i;
    ASSERT_EQ(std::string(buf, static_cast<size_t>(n)), absl::StrCat("content of file ", i, "\n"));
  }
  for (int fd : fds) ASSERT_EQ(::close(fd), 0);
  fds.clear();
  for (int i = 0; i < kFiles; i += 97) {
    EXPECT_EQ(posix::ReadFile(Path(absl::StrCat("many/", i))),
              absl::StrCat("content of file ", i, "\n"));
  }
  // Nothing stays open: this process's descriptor count is back where it
  // was. For filesystems served in this process (fusekit's test mounts) it
  // includes the server's own descriptors, so an open file the server
  // failed to release (a leaked host descriptor of loopbackfs, say) shows
  // here; RELEASE reaches the server a moment after close(2).
  EXPECT_TRUE(posix::Eventually([&] { return OpenDescriptors() <= descriptors_before; }))
      << OpenDescriptors() << " descriptors open, " << descriptors_before << " before";
  // And every file can go, and then the directory.
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_EQ(::unlink(Path(absl::StrCat("many/", i)).c_str()), 0) << i << ": " << strerror(errno);
  }
  EXPECT_EQ(::rmdir(Path("many").c_str()), 0) << strerror(errno);
  if (limit.rlim_cur < need) ::setrlimit(RLIMIT_NOFILE, &limit);
}

}  // namespace
}  // namespace fusekit
