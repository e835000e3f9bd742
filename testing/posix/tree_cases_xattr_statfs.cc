// Cases on extended attributes (user.*), statfs, fsync/fdatasync, and
// O_DIRECT.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

int ErrnoOf(ssize_t result) { return result >= 0 ? 0 : errno; }

// The value of `name`, or "<error: ...>".
std::string GetXattr(const std::string& path, const char* name) {
  ssize_t size = ::getxattr(path.c_str(), name, nullptr, 0);
  if (size < 0) return absl::StrCat("<error: ", strerror(errno), ">");
  std::string value(static_cast<size_t>(size), '\0');
  ssize_t got = ::getxattr(path.c_str(), name, value.data(), value.size());
  if (got < 0) return absl::StrCat("<error: ", strerror(errno), ">");
  value.resize(static_cast<size_t>(got));
  return value;
}

// The user.* names listxattr(2) gives (other namespaces, which a security
// module may add, left out), checking the size query agrees.
std::set<std::string> UserXattrs(const std::string& path) {
  ssize_t size = ::listxattr(path.c_str(), nullptr, 0);
  EXPECT_GE(size, 0) << strerror(errno);
  if (size <= 0) return {};
  std::string buf(static_cast<size_t>(size), '\0');
  ssize_t got = ::listxattr(path.c_str(), buf.data(), buf.size());
  EXPECT_EQ(got, size);
  if (got <= 0) return {};
  buf.resize(static_cast<size_t>(got));
  EXPECT_EQ(buf.back(), '\0') << "every name ends with NUL";
  std::set<std::string> names;
  for (size_t at = 0; at < buf.size();) {
    size_t end = buf.find('\0', at);
    if (end == std::string::npos) end = buf.size();
    std::string name = buf.substr(at, end - at);
    if (name.rfind("user.", 0) == 0) names.insert(name);
    at = end + 1;
  }
  return names;
}

bool Set(const std::string& path, const char* name, const std::string& value, int flags = 0) {
  return ::setxattr(path.c_str(), name, value.data(), value.size(), flags) == 0;
}

void CheckXattrs(const std::string& path) {
  const char* p = path.c_str();
  EXPECT_TRUE(UserXattrs(path).empty());
  // getxattr of a missing name: ENODATA, whatever the buffer.
  char buf[64];
  EXPECT_EQ(ErrnoOf(::getxattr(p, "user.missing", buf, sizeof(buf))), ENODATA);
  EXPECT_EQ(ErrnoOf(::getxattr(p, "user.missing", nullptr, 0)), ENODATA);
  // Create, then XATTR_CREATE on it: EEXIST; XATTR_REPLACE of a missing
  // one: ENODATA.
  ASSERT_TRUE(Set(path, "user.a", "first", XATTR_CREATE)) << strerror(errno);
  EXPECT_EQ(ErrnoOf(::setxattr(p, "user.a", "x", 1, XATTR_CREATE)), EEXIST);
  EXPECT_EQ(ErrnoOf(::setxattr(p, "user.nope", "x", 1, XATTR_REPLACE)), ENODATA);
  EXPECT_EQ(ErrnoOf(::getxattr(p, "user.nope", nullptr, 0)), ENODATA);
  EXPECT_EQ(GetXattr(path, "user.a"), "first");
  // Size query: size 0 gives the length and copies nothing.
  EXPECT_EQ(::getxattr(p, "user.a", nullptr, 0), 5);
  // A buffer too small: ERANGE; exactly right: the value.
  EXPECT_EQ(ErrnoOf(::getxattr(p, "user.a", buf, 4)), ERANGE);
  EXPECT_EQ(::getxattr(p, "user.a", buf, 5), 5);
  EXPECT_EQ(std::string(buf, 5), "first");
  // XATTR_REPLACE of an existing one; a plain set replaces as well.
  ASSERT_TRUE(Set(path, "user.a", "second", XATTR_REPLACE));
  EXPECT_EQ(GetXattr(path, "user.a"), "second");
  ASSERT_TRUE(Set(path, "user.a", "3"));
  EXPECT_EQ(GetXattr(path, "user.a"), "3");
  // Binary values (NULs, high bytes), an empty value, a larger one.
  std::string binary("\0\x01\xff\xfe\0zz\x80", 8);
  ASSERT_TRUE(Set(path, "user.bin", binary));
  EXPECT_EQ(GetXattr(path, "user.bin"), binary);
  ASSERT_TRUE(Set(path, "user.empty", ""));
  EXPECT_EQ(::getxattr(p, "user.empty", nullptr, 0), 0);
  EXPECT_EQ(GetXattr(path, "user.empty"), "");
  std::string big(3000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7);
  ASSERT_TRUE(Set(path, "user.big", big)) << strerror(errno);
  EXPECT_EQ(GetXattr(path, "user.big"), big);
  // The listing: exactly those names; a small buffer: ERANGE.
  EXPECT_EQ(UserXattrs(path),
            (std::set<std::string>{"user.a", "user.bin", "user.empty", "user.big"}));
  char tiny[4];
  EXPECT_EQ(ErrnoOf(::listxattr(p, tiny, sizeof(tiny))), ERANGE);
  // removexattr, then it is gone; removing it again: ENODATA.
  ASSERT_EQ(::removexattr(p, "user.a"), 0);
  EXPECT_EQ(ErrnoOf(::getxattr(p, "user.a", nullptr, 0)), ENODATA);
  EXPECT_EQ(ErrnoOf(::removexattr(p, "user.a")), ENODATA);
  EXPECT_EQ(UserXattrs(path), (std::set<std::string>{"user.bin", "user.empty", "user.big"}));
  // Through a descriptor too.
  int fd = ::open(p, O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fsetxattr(fd, "user.fd", "v", 1, 0), 0);
  EXPECT_EQ(::fgetxattr(fd, "user.fd", buf, sizeof(buf)), 1);
  EXPECT_EQ(::fremovexattr(fd, "user.fd"), 0);
  ::close(fd);
  // An attribute name without a namespace is not supported.
  EXPECT_EQ(ErrnoOf(::setxattr(p, "plain", "x", 1, 0)), EOPNOTSUPP);
}

TEST_P(PosixTest, XattrsOnAFile) {
  POSIX_REQUIRE("xattr");
  ASSERT_TRUE(posix::WriteFile(Path("f"), "data"));
  CheckXattrs(Path("f"));
  // Attributes do not touch the content.
  EXPECT_EQ(posix::ReadFile(Path("f")), "data");
}

TEST_P(PosixTest, XattrsOnADirectory) {
  POSIX_REQUIRE("xattr");
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  CheckXattrs(Path("d"));
}

TEST_P(PosixTest, XattrsFollowRenameAndLinks) {
  POSIX_REQUIRE("xattr");
  ASSERT_TRUE(posix::WriteFile(Path("f"), ""));
  ASSERT_TRUE(Set(Path("f"), "user.k", "v"));
  ASSERT_EQ(::rename(Path("f").c_str(), Path("g").c_str()), 0);
  EXPECT_EQ(GetXattr(Path("g"), "user.k"), "v");
  if (UnsupportedReason("hardlink").empty()) {
    ASSERT_EQ(::link(Path("g").c_str(), Path("h").c_str()), 0);
    ASSERT_TRUE(Set(Path("h"), "user.k", "changed"));
    EXPECT_EQ(GetXattr(Path("g"), "user.k"), "changed");
  }
  // A new file at the old name starts with none.
  ASSERT_TRUE(posix::WriteFile(Path("f"), ""));
  EXPECT_TRUE(UserXattrs(Path("f")).empty());
}

TEST_P(PosixTest, StatfsFields) {
  struct statfs st {};
  ASSERT_EQ(::statfs(root().c_str(), &st), 0) << strerror(errno);
  EXPECT_GT(st.f_bsize, 0);
  EXPECT_EQ(st.f_namelen, 255);
  EXPECT_LE(st.f_bfree, st.f_blocks);
  EXPECT_LE(st.f_bavail, st.f_bfree);
  EXPECT_LE(st.f_ffree, st.f_files);
  const uint64_t fragment = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  if (target().size_limit_bytes != 0) {
    EXPECT_EQ(st.f_blocks * fragment, target().size_limit_bytes);
  }
  // fstatfs on a file of the filesystem: the same filesystem.
  ASSERT_TRUE(posix::WriteFile(Path("f"), "x"));
  int fd = ::open(Path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  struct statfs fst {};
  ASSERT_EQ(::fstatfs(fd, &fst), 0);
  ::close(fd);
  EXPECT_EQ(fst.f_type, st.f_type);
  EXPECT_EQ(fst.f_blocks, st.f_blocks);
  EXPECT_EQ(fst.f_bsize, st.f_bsize);
}

TEST_P(PosixTest, StatfsFreeSpaceFollowsWrites) {
  POSIX_REQUIRE("statfs_limit");
  constexpr size_t kBytes = 2 << 20;
  struct statfs before {};
  ASSERT_EQ(::statfs(root().c_str(), &before), 0);
  const uint64_t fragment = before.f_frsize != 0 ? before.f_frsize : before.f_bsize;
  ASSERT_TRUE(posix::WriteFile(Path("f"), std::string(kBytes, 'x')));
  int fd = ::open(Path("f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::fsync(fd), 0);  // for filesystems that write back later
  ::close(fd);
  struct statfs after {};
  ASSERT_EQ(::statfs(root().c_str(), &after), 0);
  EXPECT_EQ(after.f_blocks, before.f_blocks);
  ASSERT_LT(after.f_bfree, before.f_bfree);
  EXPECT_GE((before.f_bfree - after.f_bfree) * fragment, kBytes);
  // Removing the file gives the space back (on FUSE, once the kernel has
  // forgotten the inode, a moment after).
  ASSERT_EQ(::unlink(Path("f").c_str()), 0);
  EXPECT_TRUE(posix::Eventually([&] {
    struct statfs now {};
    return ::statfs(root().c_str(), &now) == 0 && now.f_bfree >= before.f_bfree;
  }));
}

TEST_P(PosixTest, FsyncAndFdatasync) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  ASSERT_TRUE(posix::WriteFile(Path("d/f"), "data"));
  // A directory descriptor (as after creating an entry, to make it durable).
  int dir = ::open(Path("d").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(::fsync(dir), 0) << strerror(errno);
  EXPECT_EQ(::fdatasync(dir), 0) << strerror(errno);
  ::close(dir);
  int fd = ::open(Path("d/f").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "DATA", 4, 0), 4);
  EXPECT_EQ(::fdatasync(fd), 0) << strerror(errno);
  EXPECT_EQ(::fsync(fd), 0) << strerror(errno);
  ::close(fd);
  EXPECT_EQ(posix::ReadFile(Path("d/f")), "DATA");
  // A read-only descriptor may be synced too.
  fd = ::open(Path("d/f").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(::fsync(fd), 0);
  ::close(fd);
  // The root directory as well.
  dir = ::open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(::fsync(dir), 0);
  ::close(dir);
  // syncfs of the whole filesystem.
  dir = ::open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  EXPECT_EQ(::syncfs(dir), 0);
  ::close(dir);
}

TEST_P(PosixTest, ODirectOpenWriteRead) {
  // Either supported (open works; block-aligned I/O goes straight through)
  // or, declared unsupported by the target, open refuses with EINVAL.
  const std::string reason = UnsupportedReason("o_direct");
  const std::string f = Path("f");
  int fd = ::open(f.c_str(), O_CREAT | O_RDWR | O_DIRECT | O_CLOEXEC, 0644);
  if (!reason.empty()) {
    const int err = errno;
    EXPECT_EQ(fd, -1) << "declared unsupported (" << reason << ") but open succeeded";
    EXPECT_EQ(err, EINVAL);
    if (fd >= 0) ::close(fd);
    return;
  }
  ASSERT_GE(fd, 0) << strerror(errno);
  constexpr size_t kAlign = 4096;
  constexpr size_t kSize = 4 * kAlign;
  void* raw = nullptr;
  ASSERT_EQ(::posix_memalign(&raw, kAlign, 2 * kSize), 0);
  char* out = static_cast<char*>(raw);
  char* in = out + kSize;
  for (size_t i = 0; i < kSize; ++i) out[i] = static_cast<char>('a' + i % 26);
  EXPECT_EQ(::pwrite(fd, out, kSize, 0), static_cast<ssize_t>(kSize)) << strerror(errno);
  EXPECT_EQ(::pwrite(fd, out, kAlign, 2 * kSize), static_cast<ssize_t>(kAlign));
  std::memset(in, 0, kSize);
  EXPECT_EQ(::pread(fd, in, kSize, 0), static_cast<ssize_t>(kSize)) << strerror(errno);
  EXPECT_EQ(std::memcmp(in, out, kSize), 0);
  // The hole between reads as zeros; the size is what was written.
  EXPECT_EQ(::pread(fd, in, kAlign, kSize), static_cast<ssize_t>(kAlign));
  EXPECT_EQ(std::count(in, in + kAlign, '\0'), static_cast<long>(kAlign));
  struct stat st {};
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(2 * kSize + kAlign));
  // A buffered open sees the same bytes.
  std::string content = posix::ReadFile(f);
  ASSERT_EQ(content.size(), 2 * kSize + kAlign);
  EXPECT_EQ(content.substr(0, kSize), std::string(out, kSize));
  EXPECT_EQ(content.substr(2 * kSize), std::string(out, kAlign));
  ::close(fd);
  ::free(raw);
}

}  // namespace
}  // namespace fusekit
