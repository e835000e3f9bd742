#include "testing/real_fs_client.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace fusekit {
namespace {

Errno Check(int rc) { return rc == 0 ? kOk : Errno::Last(); }

}  // namespace

RealFsClient::RealFsClient(std::string root) : root_(std::move(root)) {}

RealFsClient::~RealFsClient() {
  MutexLock lock(&mu_);
  for (int fd : open_fds_) ::close(fd);
}

std::string RealFsClient::RealPath(absl::string_view path) const {
  if (path.empty()) return "";
  if (path[0] == '/') return absl::StrCat(root_, path);
  return absl::StrCat(root_, "/", path);
}

Result<struct stat> RealFsClient::Stat(absl::string_view path) {
  struct stat st;
  if (::stat(RealPath(path).c_str(), &st) != 0) return Errno::Last();
  return st;
}

Result<struct stat> RealFsClient::Lstat(absl::string_view path) {
  struct stat st;
  if (::lstat(RealPath(path).c_str(), &st) != 0) return Errno::Last();
  return st;
}

Result<struct statvfs> RealFsClient::Statfs(absl::string_view path) {
  struct statvfs st;
  if (::statvfs(RealPath(path).c_str(), &st) != 0) return Errno::Last();
  return st;
}

Errno RealFsClient::Access(absl::string_view path, int mode) {
  return Check(::access(RealPath(path).c_str(), mode));
}

Errno RealFsClient::Chmod(absl::string_view path, mode_t mode) {
  return Check(::chmod(RealPath(path).c_str(), mode));
}

Errno RealFsClient::Chown(absl::string_view path, uid_t uid, gid_t gid) {
  return Check(::chown(RealPath(path).c_str(), uid, gid));
}

Errno RealFsClient::Truncate(absl::string_view path, off_t size) {
  return Check(::truncate(RealPath(path).c_str(), size));
}

Errno RealFsClient::Utimens(absl::string_view path, const struct timespec times[2]) {
  return Check(::utimensat(AT_FDCWD, RealPath(path).c_str(), times, 0));
}

Errno RealFsClient::Mkdir(absl::string_view path, mode_t mode) {
  return Check(::mkdir(RealPath(path).c_str(), mode));
}

Errno RealFsClient::Mknod(absl::string_view path, mode_t mode, dev_t dev) {
  return Check(::mknod(RealPath(path).c_str(), mode, dev));
}

Errno RealFsClient::Symlink(absl::string_view target, absl::string_view path) {
  return Check(::symlink(std::string(target).c_str(), RealPath(path).c_str()));
}

Result<std::string> RealFsClient::Readlink(absl::string_view path) {
  std::string buf(4096, '\0');
  ssize_t n = ::readlink(RealPath(path).c_str(), buf.data(), buf.size());
  if (n < 0) return Errno::Last();
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Errno RealFsClient::Link(absl::string_view old_path, absl::string_view new_path) {
  return Check(::link(RealPath(old_path).c_str(), RealPath(new_path).c_str()));
}

Errno RealFsClient::Unlink(absl::string_view path) {
  return Check(::unlink(RealPath(path).c_str()));
}

Errno RealFsClient::Rmdir(absl::string_view path) {
  return Check(::rmdir(RealPath(path).c_str()));
}

Errno RealFsClient::Rename(absl::string_view old_path, absl::string_view new_path,
                           unsigned flags) {
  return Check(::renameat2(AT_FDCWD, RealPath(old_path).c_str(), AT_FDCWD,
                           RealPath(new_path).c_str(), flags));
}

Result<std::vector<DirEntry>> RealFsClient::Readdir(absl::string_view path) {
  DIR* dir = ::opendir(RealPath(path).c_str());
  if (dir == nullptr) return Errno::Last();
  std::vector<DirEntry> entries;
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(dir);
    if (d == nullptr) break;
    entries.push_back({d->d_name, d->d_ino, d->d_type, static_cast<uint64_t>(d->d_off), 0});
  }
  Errno e = Errno::Last();
  ::closedir(dir);
  if (!e.ok()) return e;
  return entries;
}

Errno RealFsClient::Setxattr(absl::string_view path, absl::string_view name,
                             absl::string_view value, int flags) {
  return Check(::setxattr(RealPath(path).c_str(), std::string(name).c_str(), value.data(),
                          value.size(), flags));
}

Result<std::string> RealFsClient::Getxattr(absl::string_view path, absl::string_view name) {
  std::string buf(65536, '\0');
  ssize_t n = ::getxattr(RealPath(path).c_str(), std::string(name).c_str(), buf.data(),
                         buf.size());
  if (n < 0) return Errno::Last();
  buf.resize(static_cast<size_t>(n));
  return buf;
}

Result<std::vector<std::string>> RealFsClient::Listxattr(absl::string_view path) {
  std::string buf(65536, '\0');
  ssize_t n = ::listxattr(RealPath(path).c_str(), buf.data(), buf.size());
  if (n < 0) return Errno::Last();
  buf.resize(static_cast<size_t>(n));
  std::vector<std::string> names = absl::StrSplit(buf, '\0', absl::SkipEmpty());
  return names;
}

Errno RealFsClient::Removexattr(absl::string_view path, absl::string_view name) {
  return Check(::removexattr(RealPath(path).c_str(), std::string(name).c_str()));
}

Result<int> RealFsClient::Open(absl::string_view path, int flags, mode_t mode) {
  int fd = ::open(RealPath(path).c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Errno::Last();
  MutexLock lock(&mu_);
  open_fds_.insert(fd);
  return fd;
}

Result<std::string> RealFsClient::Read(int fd, size_t size, off_t offset) {
  std::string buf(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pread(fd, buf.data() + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (done == 0) return Errno::Last();
      break;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  buf.resize(done);
  return buf;
}

Result<size_t> RealFsClient::Write(int fd, absl::string_view data, off_t offset) {
  ssize_t n = ::pwrite(fd, data.data(), data.size(), offset);
  if (n < 0) return Errno::Last();
  return static_cast<size_t>(n);
}

Errno RealFsClient::Flush(int fd) {
  // close(2) of a duplicate sends FLUSH and nothing else.
  int dup = ::dup(fd);
  if (dup < 0) return Errno::Last();
  return Check(::close(dup));
}

Errno RealFsClient::Fsync(int fd, bool datasync) {
  return Check(datasync ? ::fdatasync(fd) : ::fsync(fd));
}

Errno RealFsClient::Close(int fd) {
  {
    MutexLock lock(&mu_);
    if (open_fds_.erase(fd) == 0) return Errno(EBADF);  // not ours
  }
  return Check(::close(fd));
}

Result<off_t> RealFsClient::Lseek(int fd, off_t offset, int whence) {
  off_t at = ::lseek(fd, offset, whence);
  if (at < 0) return Errno::Last();
  return at;
}

Errno RealFsClient::Fallocate(int fd, int mode, off_t offset, off_t length) {
  return Check(::fallocate(fd, mode, offset, length));
}

Result<size_t> RealFsClient::CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out,
                                           size_t length) {
  loff_t in = off_in;
  loff_t out = off_out;
  ssize_t n = ::copy_file_range(fd_in, &in, fd_out, &out, length, 0);
  if (n < 0) return Errno::Last();
  return static_cast<size_t>(n);
}

Result<struct flock> RealFsClient::Getlk(int fd, const struct flock& lock) {
  struct flock l = lock;
  if (::fcntl(fd, F_GETLK, &l) != 0) return Errno::Last();
  return l;
}

Errno RealFsClient::Setlk(int fd, const struct flock& lock, bool wait) {
  struct flock l = lock;
  return Check(::fcntl(fd, wait ? F_SETLKW : F_SETLK, &l));
}

Errno RealFsClient::Flock(int fd, int operation) { return Check(::flock(fd, operation)); }

}  // namespace fusekit
