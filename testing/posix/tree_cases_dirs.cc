// Cases on directories and symlinks: readdir while the directory changes,
// seekdir/telldir, a 10,000-entry listing; mkdir/rmdir/unlink errors and
// directory link counts; symlink contents, loops, dangling links and
// O_NOFOLLOW.
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

// errno of a call that is expected to fail: 0 if it succeeded instead.
int ErrnoOf(int result) { return result == 0 || result > 0 ? 0 : errno; }

bool Touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  return fd >= 0 && ::close(fd) == 0;
}

// A name of about 40 bytes, so that a few hundred entries span several
// getdents(2) buffers.
std::string LongName(const char* prefix, int i) {
  return absl::StrCat(prefix, "-", i, "-padding-to-make-entries-large");
}

// How many times each name appears in a listing read with readdir(3).
std::map<std::string, int> CountAll(DIR* dir) {
  std::map<std::string, int> seen;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) seen[e->d_name]++;
  EXPECT_EQ(errno, 0) << "readdir: " << strerror(errno);
  return seen;
}

// The next `n` names of a listing (fewer at its end).
std::vector<std::string> NextNames(DIR* dir, int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) {
    struct dirent* e = ::readdir(dir);
    if (e == nullptr) break;
    names.push_back(e->d_name);
  }
  return names;
}

TEST_P(PosixTest, ReaddirWhileEntriesComeAndGo) {
  constexpr int kEntries = 1500;  // about 100 KiB of dirents: several buffers
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  std::set<std::string> untouched;
  std::set<std::string> touched;  // removed, or created, during the listing
  for (int i = 0; i < kEntries; ++i) {
    std::string name = LongName("f", i);
    ASSERT_TRUE(Touch(Path("d/" + name))) << name << ": " << strerror(errno);
    // Every third one is removed mid-listing (some before it is reached,
    // some after).
    (i % 3 == 0 ? touched : untouched).insert(name);
  }
  DIR* dir = ::opendir(Path("d").c_str());
  ASSERT_NE(dir, nullptr) << strerror(errno);
  std::map<std::string, int> seen;
  auto read_some = [&](int n) {
    for (const std::string& name : NextNames(dir, n)) seen[name]++;
  };
  read_some(kEntries / 3);
  for (int i = 0; i < kEntries; i += 6) {
    ASSERT_EQ(::unlink(Path("d/" + LongName("f", i)).c_str()), 0);
  }
  for (int i = 0; i < 300; ++i) {
    std::string name = LongName("new", i);
    ASSERT_TRUE(Touch(Path("d/" + name)));
    touched.insert(name);
  }
  read_some(kEntries / 3);
  for (int i = 3; i < kEntries; i += 6) {
    ASSERT_EQ(::unlink(Path("d/" + LongName("f", i)).c_str()), 0);
  }
  for (int i = 300; i < 400; ++i) {
    std::string name = LongName("new", i);
    ASSERT_TRUE(Touch(Path("d/" + name)));
    touched.insert(name);
  }
  for (const auto& [name, n] : CountAll(dir)) seen[name] += n;
  ::closedir(dir);

  EXPECT_EQ(seen["."], 1);
  EXPECT_EQ(seen[".."], 1);
  seen.erase(".");
  seen.erase("..");
  int missing = 0;
  for (const std::string& name : untouched) {
    auto it = seen.find(name);
    int n = it == seen.end() ? 0 : it->second;
    if (n != 1) {
      ADD_FAILURE() << "untouched entry " << name << " listed " << n << " times";
      if (++missing > 10) break;
    }
  }
  for (const auto& [name, n] : seen) {
    if (untouched.contains(name)) continue;
    EXPECT_TRUE(touched.contains(name)) << "listed a name that never existed: " << name;
    EXPECT_LE(n, 1) << name;
  }
  // Afterwards a fresh listing is exact.
  dir = ::opendir(Path("d").c_str());
  ASSERT_NE(dir, nullptr);
  std::map<std::string, int> now = CountAll(dir);
  ::closedir(dir);
  EXPECT_EQ(now.size(), untouched.size() + 400 + 2);
  for (const std::string& name : untouched) EXPECT_EQ(now[name], 1) << name;
}

TEST_P(PosixTest, SeekdirReturnsToTelldirPosition) {
  constexpr int kEntries = 700;
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  for (int i = 0; i < kEntries; ++i) ASSERT_TRUE(Touch(Path("d/" + LongName("f", i))));
  DIR* dir = ::opendir(Path("d").c_str());
  ASSERT_NE(dir, nullptr);
  std::vector<std::string> first = NextNames(dir, 100);
  ASSERT_EQ(first.size(), 100u);
  const long mark = ::telldir(dir);
  ASSERT_NE(mark, -1) << strerror(errno);
  // Far enough on that glibc has to fetch again from the filesystem.
  std::vector<std::string> after = NextNames(dir, 500);
  ASSERT_EQ(after.size(), 500u);
  const long late_mark = ::telldir(dir);
  std::vector<std::string> tail = NextNames(dir, kEntries);
  ::seekdir(dir, mark);
  EXPECT_EQ(NextNames(dir, 500), after);
  ::seekdir(dir, late_mark);
  EXPECT_EQ(NextNames(dir, kEntries), tail);
  // Back to the start: the same listing again.
  ::rewinddir(dir);
  EXPECT_EQ(NextNames(dir, 100), first);
  ::seekdir(dir, mark);
  EXPECT_EQ(NextNames(dir, 3), std::vector<std::string>(after.begin(), after.begin() + 3));
  ::closedir(dir);
  // Each entry exactly once in the whole listing.
  std::set<std::string> all(first.begin(), first.end());
  all.insert(after.begin(), after.end());
  all.insert(tail.begin(), tail.end());
  EXPECT_EQ(all.size(), first.size() + after.size() + tail.size());
  EXPECT_EQ(all.size(), static_cast<size_t>(kEntries) + 2);
}

TEST_P(PosixTest, ReaddirOfTenThousandEntries) {
  constexpr int kEntries = 10000;
  const bool symlinks = UnsupportedReason("symlink").empty();
  ASSERT_EQ(::mkdir(Path("big").c_str(), 0755), 0);
  // Mostly files; every 50th a directory and (where supported) every 50th a
  // symlink, so d_type is checked for each kind.
  std::map<std::string, unsigned char> expected;
  for (int i = 0; i < kEntries; ++i) {
    std::string name = absl::StrCat("entry", i);
    const std::string path = Path("big/" + name);
    if (i % 50 == 1) {
      ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << strerror(errno);
      expected[name] = DT_DIR;
    } else if (i % 50 == 2 && symlinks) {
      ASSERT_EQ(::symlink("entry0", path.c_str()), 0) << strerror(errno);
      expected[name] = DT_LNK;
    } else {
      ASSERT_TRUE(Touch(path)) << name << ": " << strerror(errno);
      expected[name] = DT_REG;
    }
  }
  DIR* dir = ::opendir(Path("big").c_str());
  ASSERT_NE(dir, nullptr);
  std::map<std::string, unsigned char> listed;
  int dots = 0;
  int errors = 0;
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") {
      ++dots;
      if (e->d_type != DT_UNKNOWN) {
        EXPECT_EQ(e->d_type, DT_DIR) << name;
      }
      continue;
    }
    if (!listed.emplace(name, e->d_type).second && ++errors <= 10) {
      ADD_FAILURE() << name << " listed twice";
    }
  }
  EXPECT_EQ(errno, 0);
  ::closedir(dir);
  EXPECT_EQ(dots, 2);
  ASSERT_EQ(listed.size(), expected.size());
  for (const auto& [name, type] : expected) {
    auto it = listed.find(name);
    if (it == listed.end()) {
      if (++errors <= 10) ADD_FAILURE() << name << " missing";
      continue;
    }
    if (it->second != type && ++errors <= 10) {
      ADD_FAILURE() << name << ": d_type " << int{it->second} << ", want " << int{type};
    }
  }
  EXPECT_EQ(errors, 0);
  // The directory's link count counts its subdirectories.
  EXPECT_EQ(posix::LStat(Path("big")).st_nlink, 2u + kEntries / 50);
}

TEST_P(PosixTest, MkdirRmdirErrors) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("d")).st_mode));
  ASSERT_TRUE(posix::WriteFile(Path("file"), "x"));
  // mkdir over anything existing: EEXIST.
  EXPECT_EQ(ErrnoOf(::mkdir(Path("d").c_str(), 0755)), EEXIST);
  EXPECT_EQ(ErrnoOf(::mkdir(Path("file").c_str(), 0755)), EEXIST);
  // Through a missing directory or a file.
  EXPECT_EQ(ErrnoOf(::mkdir(Path("missing/d").c_str(), 0755)), ENOENT);
  EXPECT_EQ(ErrnoOf(::mkdir(Path("file/d").c_str(), 0755)), ENOTDIR);
  // rmdir: a non-empty directory, a file, a missing name, "." and "..".
  ASSERT_TRUE(posix::WriteFile(Path("d/inner"), ""));
  EXPECT_EQ(ErrnoOf(::rmdir(Path("d").c_str())), ENOTEMPTY);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("file").c_str())), ENOTDIR);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("missing").c_str())), ENOENT);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("d/.").c_str())), EINVAL);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("d/..").c_str())), ENOTEMPTY);
  // unlink of a directory: EISDIR (Linux; POSIX allows EPERM).
  EXPECT_EQ(ErrnoOf(::unlink(Path("d").c_str())), EISDIR);
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("d")).st_mode));
  // A non-empty directory holding only a subdirectory is not empty either.
  ASSERT_EQ(::unlink(Path("d/inner").c_str()), 0);
  ASSERT_EQ(::mkdir(Path("d/sub").c_str(), 0755), 0);
  EXPECT_EQ(ErrnoOf(::rmdir(Path("d").c_str())), ENOTEMPTY);
  ASSERT_EQ(::rmdir(Path("d/sub").c_str()), 0);
  ASSERT_EQ(::rmdir(Path("d").c_str()), 0);
  EXPECT_FALSE(posix::Exists(Path("d")));
  // The name is free again.
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0700), 0);
  EXPECT_EQ(posix::LStat(Path("d")).st_mode, S_IFDIR | 0700u);
}

TEST_P(PosixTest, DirectoryLinkCountCountsSubdirectories) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  const nlink_t root_links = posix::LStat(root()).st_nlink;
  EXPECT_EQ(posix::LStat(Path("d")).st_nlink, 2u);
  for (const char* sub : {"d/a", "d/b", "d/c"}) ASSERT_EQ(::mkdir(Path(sub).c_str(), 0755), 0);
  EXPECT_EQ(posix::LStat(Path("d")).st_nlink, 5u);
  // Files do not count.
  ASSERT_TRUE(posix::WriteFile(Path("d/file"), ""));
  EXPECT_EQ(posix::LStat(Path("d")).st_nlink, 5u);
  EXPECT_EQ(posix::LStat(Path("d/a")).st_nlink, 2u);
  ASSERT_EQ(::rmdir(Path("d/c").c_str()), 0);
  EXPECT_EQ(posix::LStat(Path("d")).st_nlink, 4u);
  // Moving a subdirectory moves its ".." link to the new parent.
  ASSERT_EQ(::rename(Path("d/b").c_str(), Path("moved").c_str()), 0);
  EXPECT_EQ(posix::LStat(Path("d")).st_nlink, 3u);
  EXPECT_EQ(posix::LStat(root()).st_nlink, root_links + 1);
  ASSERT_EQ(::rmdir(Path("moved").c_str()), 0);
  EXPECT_EQ(posix::LStat(root()).st_nlink, root_links);
}

std::string ReadLink(const std::string& path) {
  std::string buf(PATH_MAX + 1, '\0');
  ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
  if (n < 0) return absl::StrCat("<error: ", strerror(errno), ">");
  buf.resize(static_cast<size_t>(n));
  return buf;
}

TEST_P(PosixTest, SymlinkContentsAndSize) {
  POSIX_REQUIRE("symlink");
  // Contents are kept byte for byte, never interpreted.
  std::string long_target;
  while (long_target.size() < PATH_MAX - 1) long_target += "component/";
  long_target.resize(PATH_MAX - 1);  // 4095 bytes: the most symlink(2) takes
  const std::vector<std::string> targets = {
      "plain", "../up/and/down", "/absolute/path", "with space and \t tab",
      "trailing/", "high\xff\xfe bytes", "x", long_target};
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string link = Path(absl::StrCat("link", i));
    ASSERT_EQ(::symlink(targets[i].c_str(), link.c_str()), 0)
        << targets[i].size() << " bytes: " << strerror(errno);
    EXPECT_EQ(ReadLink(link), targets[i]);
    struct stat st = posix::LStat(link);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
    EXPECT_EQ(st.st_size, static_cast<off_t>(targets[i].size()));
  }
  // A short buffer gets a truncated copy (no NUL), as readlink(2) does.
  char small[4];
  EXPECT_EQ(::readlink(Path("link1").c_str(), small, sizeof(small)), 4);
  EXPECT_EQ(std::string(small, 4), "../u");
  // 4096 bytes is too long.
  const std::string too_long(PATH_MAX, 'y');
  EXPECT_EQ(ErrnoOf(::symlink(too_long.c_str(), Path("toolong").c_str())), ENAMETOOLONG);
  EXPECT_FALSE(posix::Exists(Path("toolong")));
  // An empty target is refused.
  EXPECT_EQ(ErrnoOf(::symlink("", Path("empty").c_str())), ENOENT);
  // readlink of something else: EINVAL.
  ASSERT_TRUE(posix::WriteFile(Path("file"), "data"));
  char buf[16];
  errno = 0;
  EXPECT_EQ(::readlink(Path("file").c_str(), buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EINVAL);
  // symlink onto an existing name: EEXIST.
  EXPECT_EQ(ErrnoOf(::symlink("x", Path("file").c_str())), EEXIST);
  // Following a link reaches the target's attributes and data.
  ASSERT_EQ(::symlink("file", Path("tofile").c_str()), 0);
  struct stat via_link {};
  ASSERT_EQ(::stat(Path("tofile").c_str(), &via_link), 0);
  EXPECT_TRUE(S_ISREG(via_link.st_mode));
  EXPECT_EQ(via_link.st_ino, posix::LStat(Path("file")).st_ino);
  EXPECT_EQ(posix::ReadFile(Path("tofile")), "data");
}

TEST_P(PosixTest, SymlinkLoopsDanglingAndNofollow) {
  POSIX_REQUIRE("symlink");
  // A loop of two, and one pointing at itself: ELOOP when followed.
  ASSERT_EQ(::symlink("b", Path("a").c_str()), 0);
  ASSERT_EQ(::symlink("a", Path("b").c_str()), 0);
  ASSERT_EQ(::symlink("self", Path("self").c_str()), 0);
  struct stat st {};
  for (const char* name : {"a", "b", "self"}) {
    errno = 0;
    EXPECT_EQ(::stat(Path(name).c_str(), &st), -1) << name;
    EXPECT_EQ(errno, ELOOP) << name;
    errno = 0;
    EXPECT_EQ(::open(Path(name).c_str(), O_RDONLY | O_CLOEXEC), -1) << name;
    EXPECT_EQ(errno, ELOOP) << name;
    EXPECT_TRUE(S_ISLNK(posix::LStat(Path(name)).st_mode)) << name;
  }
  errno = 0;
  EXPECT_EQ(::stat(Path("a/x").c_str(), &st), -1);
  EXPECT_EQ(errno, ELOOP);
  // Dangling: stat ENOENT, lstat fine.
  ASSERT_EQ(::symlink("nowhere", Path("dangling").c_str()), 0);
  errno = 0;
  EXPECT_EQ(::stat(Path("dangling").c_str(), &st), -1);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_TRUE(S_ISLNK(posix::LStat(Path("dangling")).st_mode));
  // O_CREAT|O_EXCL refuses the dangling link; O_CREAT alone creates its
  // target (Linux follows it).
  errno = 0;
  EXPECT_EQ(::open(Path("dangling").c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644), -1);
  EXPECT_EQ(errno, EEXIST);
  int fd = ::open(Path("dangling").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << strerror(errno);
  ASSERT_EQ(::write(fd, "made", 4), 4);
  ::close(fd);
  EXPECT_EQ(posix::ReadFile(Path("nowhere")), "made");
  ASSERT_EQ(::stat(Path("dangling").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  // O_NOFOLLOW on a symlink: ELOOP, whatever it points at.
  ASSERT_TRUE(posix::WriteFile(Path("file"), "x"));
  ASSERT_EQ(::symlink("file", Path("tofile").c_str()), 0);
  for (const char* name : {"tofile", "dangling", "self"}) {
    errno = 0;
    EXPECT_EQ(::open(Path(name).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC), -1) << name;
    EXPECT_EQ(errno, ELOOP) << name;
  }
  // ... but not on a symlink earlier in the path.
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d/f"), "inside"));
  ASSERT_EQ(::symlink("d", Path("tod").c_str()), 0);
  fd = ::open(Path("tod/f").c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  EXPECT_GE(fd, 0) << strerror(errno);
  if (fd >= 0) ::close(fd);
  // Removing a link leaves its target alone.
  ASSERT_EQ(::unlink(Path("tofile").c_str()), 0);
  EXPECT_EQ(posix::ReadFile(Path("file")), "x");
  // A symlink to a directory: rmdir refuses it (ENOTDIR), unlink removes
  // the link only.
  EXPECT_EQ(ErrnoOf(::rmdir(Path("tod").c_str())), ENOTDIR);
  ASSERT_EQ(::unlink(Path("tod").c_str()), 0);
  EXPECT_EQ(posix::ReadFile(Path("d/f")), "inside");
}

}  // namespace
}  // namespace fusekit
