// RealFsClient: FsClient over real system calls below a directory (a FUSE
// mount point, usually a TestMount's), so a test body written against
// FsClient runs on the real kernel unchanged.
#pragma once

#include <set>
#include <string>

#include "absl/strings/string_view.h"
#include "fuse/mutex.h"
#include "testing/fs_client.h"

namespace fusekit {

// Paths given to it are relative to `root` ("/a" is root + "/a"). File
// descriptors are real ones; those a test leaves open are closed on
// destruction, so a failed test does not keep its mount busy. Thread-safe.
class RealFsClient : public FsClient {
 public:
  explicit RealFsClient(std::string root);
  ~RealFsClient() override;
  RealFsClient(const RealFsClient&) = delete;
  RealFsClient& operator=(const RealFsClient&) = delete;

  // The real path of `path`.
  std::string RealPath(absl::string_view path) const;

  Result<struct stat> Stat(absl::string_view path) override;
  Result<struct stat> Lstat(absl::string_view path) override;
  Result<struct statvfs> Statfs(absl::string_view path) override;
  Errno Access(absl::string_view path, int mode) override;
  Errno Chmod(absl::string_view path, mode_t mode) override;
  Errno Chown(absl::string_view path, uid_t uid, gid_t gid) override;
  Errno Truncate(absl::string_view path, off_t size) override;
  Errno Utimens(absl::string_view path, const struct timespec times[2]) override;
  Errno Mkdir(absl::string_view path, mode_t mode) override;
  Errno Mknod(absl::string_view path, mode_t mode, dev_t dev) override;
  Errno Symlink(absl::string_view target, absl::string_view path) override;
  Result<std::string> Readlink(absl::string_view path) override;
  Errno Link(absl::string_view old_path, absl::string_view new_path) override;
  Errno Unlink(absl::string_view path) override;
  Errno Rmdir(absl::string_view path) override;
  Errno Rename(absl::string_view old_path, absl::string_view new_path, unsigned flags) override;
  Result<std::vector<DirEntry>> Readdir(absl::string_view path) override;
  Errno Setxattr(absl::string_view path, absl::string_view name, absl::string_view value,
                 int flags) override;
  Result<std::string> Getxattr(absl::string_view path, absl::string_view name) override;
  Result<std::vector<std::string>> Listxattr(absl::string_view path) override;
  Errno Removexattr(absl::string_view path, absl::string_view name) override;
  Result<int> Open(absl::string_view path, int flags, mode_t mode) override;
  Result<std::string> Read(int fd, size_t size, off_t offset) override;
  Result<size_t> Write(int fd, absl::string_view data, off_t offset) override;
  Errno Flush(int fd) override;
  Errno Fsync(int fd, bool datasync) override;
  Errno Close(int fd) override;
  Result<off_t> Lseek(int fd, off_t offset, int whence) override;
  Errno Fallocate(int fd, int mode, off_t offset, off_t length) override;
  Result<size_t> CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out,
                               size_t length) override;
  Result<struct flock> Getlk(int fd, const struct flock& lock) override;
  Errno Setlk(int fd, const struct flock& lock, bool wait) override;
  Errno Flock(int fd, int operation) override;

 private:
  const std::string root_;
  Mutex mu_;
  std::set<int> open_fds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fusekit
