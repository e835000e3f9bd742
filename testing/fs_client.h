// FsClient: file system calls by path, the same for the fake kernel and for
// a real mount, so one test body can check a filesystem both ways.
//
//   void CheckMkdir(FsClient& fs) {
//     ASSERT_THAT(fs.Mkdir("/d", 0755), IsOk());
//     EXPECT_THAT(fs.Mkdir("/d", 0755), FailsWith(EEXIST));
//   }
//
// FakeVfs (testing/fake_vfs.h) implements it over a FakeKernel; RealFsClient
// (testing/real_fs_client.h) with real system calls under a mount point.
// Paths are absolute within the filesystem ("/" is its root). Errors are
// the errno the system call gives. File descriptors belong to the client
// that opened them; Read and Write take explicit offsets (pread/pwrite).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuse/errno.h"
#include "testing/result.h"

namespace fusekit {

// One directory entry as readdir(3) returns it.
struct DirEntry {
  std::string name;
  uint64_t ino = 0;
  uint32_t type = 0;    // DT_* (DT_UNKNOWN if the filesystem gave none)
  uint64_t offset = 0;  // where a listing continues after this entry
  uint64_t nodeid = 0;  // READDIRPLUS through the fake kernel only
};

// Implementations document their own thread-safety.
class FsClient {
 public:
  virtual ~FsClient() = default;

  // --- Attributes -------------------------------------------------------
  virtual Result<struct stat> Stat(absl::string_view path) = 0;
  virtual Result<struct stat> Lstat(absl::string_view path) = 0;
  virtual Result<struct statvfs> Statfs(absl::string_view path) = 0;
  virtual Errno Access(absl::string_view path, int mode) = 0;
  virtual Errno Chmod(absl::string_view path, mode_t mode) = 0;
  // (uid_t)-1 / (gid_t)-1 leave that id unchanged.
  virtual Errno Chown(absl::string_view path, uid_t uid, gid_t gid) = 0;
  virtual Errno Truncate(absl::string_view path, off_t size) = 0;
  // utimensat(2): UTIME_NOW and UTIME_OMIT work; null means both now.
  virtual Errno Utimens(absl::string_view path, const struct timespec times[2]) = 0;

  // --- Names --------------------------------------------------------------
  virtual Errno Mkdir(absl::string_view path, mode_t mode) = 0;
  virtual Errno Mknod(absl::string_view path, mode_t mode, dev_t dev) = 0;
  virtual Errno Symlink(absl::string_view target, absl::string_view path) = 0;
  virtual Result<std::string> Readlink(absl::string_view path) = 0;
  virtual Errno Link(absl::string_view old_path, absl::string_view new_path) = 0;
  virtual Errno Unlink(absl::string_view path) = 0;
  virtual Errno Rmdir(absl::string_view path) = 0;
  // renameat2(2): `flags` is 0, RENAME_NOREPLACE or RENAME_EXCHANGE.
  virtual Errno Rename(absl::string_view old_path, absl::string_view new_path,
                       unsigned flags) = 0;
  // Every entry, in the filesystem's order ("." and ".." if it lists them).
  virtual Result<std::vector<DirEntry>> Readdir(absl::string_view path) = 0;

  // --- Extended attributes ----------------------------------------------
  // `flags`: 0, XATTR_CREATE or XATTR_REPLACE.
  virtual Errno Setxattr(absl::string_view path, absl::string_view name,
                         absl::string_view value, int flags) = 0;
  virtual Result<std::string> Getxattr(absl::string_view path, absl::string_view name) = 0;
  virtual Result<std::vector<std::string>> Listxattr(absl::string_view path) = 0;
  virtual Errno Removexattr(absl::string_view path, absl::string_view name) = 0;

  // --- Open files ---------------------------------------------------------
  virtual Result<int> Open(absl::string_view path, int flags, mode_t mode) = 0;
  virtual Result<std::string> Read(int fd, size_t size, off_t offset) = 0;
  virtual Result<size_t> Write(int fd, absl::string_view data, off_t offset) = 0;
  // What close(2) of one of several descriptors does: FLUSH only.
  virtual Errno Flush(int fd) = 0;
  virtual Errno Fsync(int fd, bool datasync) = 0;
  virtual Errno Close(int fd) = 0;
  virtual Result<off_t> Lseek(int fd, off_t offset, int whence) = 0;
  virtual Errno Fallocate(int fd, int mode, off_t offset, off_t length) = 0;
  virtual Result<size_t> CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out,
                                       size_t length) = 0;
  // fcntl(F_GETLK / F_SETLK / F_SETLKW) and flock(2).
  virtual Result<struct flock> Getlk(int fd, const struct flock& lock) = 0;
  virtual Errno Setlk(int fd, const struct flock& lock, bool wait) = 0;
  virtual Errno Flock(int fd, int operation) = 0;

  // --- Conveniences, built on the calls above ---------------------------
  // open(O_CREAT | flags, mode).
  Result<int> Create(absl::string_view path, mode_t mode, int flags = O_RDWR);
  // The whole content of a file.
  Result<std::string> ReadFile(absl::string_view path);
  // Creates or truncates `path` and writes `content`.
  Errno WriteFile(absl::string_view path, absl::string_view content, mode_t mode = 0644);
  // The entry names, sorted, without "." and "..".
  Result<std::vector<std::string>> ListDir(absl::string_view path);
};

}  // namespace fusekit
