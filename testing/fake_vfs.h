// FakeVfs: system calls by path over a FakeKernel, behaving like the Linux
// VFS and fs/fuse on a mount: what a test calls is what a program would.
//
// Path walks use the kernel's dentry cache and send LOOKUP only for names
// not cached or expired; symlinks are followed (READLINK each time; at most
// 40); the VFS's own checks come before any request (EEXIST for a cached
// name on mkdir, EISDIR, ENOTDIR, ...). Requests go out as fs/fuse sends
// them, including its fallbacks when the filesystem answers ENOSYS (OPEN:
// no open needed; CREATE: MKNOD + OPEN; FLUSH, FSYNC, ACCESS: success;
// xattrs, FALLOCATE: EOPNOTSUPP; RENAME2: EINVAL; COPY_FILE_RANGE: read and
// write), and HANDLE_KILLPRIV_V2's kill signals (KillSuidgidOnWrite).
// Not modelled: the page cache and writeback (READ and WRITE go to the
// filesystem as with FOPEN_DIRECT_IO), permission checks
// (default_permissions), file positions (Read/Write take offsets),
// POSIX/flock locks without POSIX_LOCKS/FLOCK_LOCKS (they succeed
// locally), and the kernel's own privilege dropping without V2.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuse/mutex.h"
#include "testing/fake_kernel.h"
#include "testing/fs_client.h"

namespace fusekit {

// One process using the fake kernel's mount. Declare it after its
// FakeKernel (it must be destroyed first: its destructor closes the files
// it still has open). Thread-safe.
class FakeVfs : public FsClient {
 public:
  // `umask` is applied by the kernel unless the filesystem asked for
  // DONT_MASK, and is sent with every creating request.
  explicit FakeVfs(FakeKernel* kernel, mode_t umask = 022);
  ~FakeVfs() override;
  FakeVfs(const FakeVfs&) = delete;
  FakeVfs& operator=(const FakeVfs&) = delete;

  FakeKernel& kernel() { return *kernel_; }

  // --- FsClient -------------------------------------------------------------
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

  // --- Beyond FsClient ------------------------------------------------------
  struct ReaddirOptions {
    enum class Mode {
      kAuto,   // as the kernel: READDIRPLUS if granted (with READDIRPLUS_AUTO
               // only for the first read of a listing), READDIR otherwise
      kPlain,  // always READDIR
      kPlus,   // always READDIRPLUS (even if not granted)
    };
    Mode mode = Mode::kAuto;
    // The size each READDIR asks for (the kernel asks for a page, more with
    // a large getdents buffer).
    uint32_t request_size = 4096;
    // How many entries each getdents(2) call takes from a reply; the rest
    // are asked for again from the last taken entry's offset (READDIRPLUS
    // entries count as lookups each time they arrive). 0: all.
    size_t entries_per_call = 0;
  };
  Result<std::vector<DirEntry>> Readdir(absl::string_view path, const ReaddirOptions& options);

  // The node id `path` names (a final symlink is not followed).
  Result<uint64_t> Lookup(absl::string_view path);
  // Drops the cached dentry of `path` and forgets its node if nothing else
  // holds it (FORGET with its whole count), like memory pressure would.
  Errno Forget(absl::string_view path);
  // SETATTR with any fields; returns the new attributes.
  Result<struct stat> Setattr(absl::string_view path, const abi::fuse_setattr_in& in);
  // getxattr(2) / listxattr(2) with size 0: the size needed.
  Result<size_t> GetxattrSize(absl::string_view path, absl::string_view name);
  Result<size_t> ListxattrSize(absl::string_view path);
  // RELEASE without FLUSH (a descriptor whose last reference is dropped
  // by something other than close, e.g. munmap).
  Errno Release(int fd);

  // What the kernel keeps per open file.
  struct OpenFile {
    uint64_t nodeid = 0;
    uint64_t fh = 0;
    int flags = 0;            // open(2) flags
    uint32_t open_flags = 0;  // FOPEN_* from the reply
    bool dir = false;
    bool opened = true;   // false: OPEN was not needed (ENOSYS), no RELEASE
    bool flock = false;   // flock(2) used: RELEASE unlocks it
    uint64_t flock_owner = 0;  // a flock's owner is the open file
  };
  Result<OpenFile> File(int fd) const;

 private:
  // A node the kernel holds for this call (a dentry reference, in the
  // kernel's terms); released when it goes out of scope. Move-only.
  class NodeRef {
   public:
    NodeRef() = default;
    // Adopts a hold already taken on `id`.
    NodeRef(FakeKernel* kernel, uint64_t id) : kernel_(kernel), id_(id) {}
    NodeRef(NodeRef&& other) noexcept
        : kernel_(std::exchange(other.kernel_, nullptr)), id_(other.id_) {}
    NodeRef& operator=(NodeRef&& other) noexcept {
      if (this != &other) {
        Reset();
        kernel_ = std::exchange(other.kernel_, nullptr);
        id_ = other.id_;
      }
      return *this;
    }
    ~NodeRef() { Reset(); }
    uint64_t id() const { return id_; }

   private:
    void Reset() {
      if (kernel_ != nullptr) kernel_->Release(id_);
      kernel_ = nullptr;
    }
    FakeKernel* kernel_ = nullptr;
    uint64_t id_ = 0;
  };
  // The directory holding a path's last component, and that component.
  struct ParentAndName {
    NodeRef dir;
    std::string name;
  };

  Result<NodeRef> Resolve(absl::string_view path, bool follow_last);
  Result<ParentAndName> ResolveParent(absl::string_view path);
  Result<NodeRef> Child(const NodeRef& dir, absl::string_view name);
  Result<std::string> ReadlinkNode(uint64_t nodeid);
  Result<struct stat> StatNode(uint64_t nodeid, std::optional<uint64_t> fh);
  Result<int> OpenNode(const NodeRef& node, int flags);
  Errno SetattrNode(uint64_t nodeid, const abi::fuse_setattr_in& in);
  // True if `ancestor` is `node` or a directory above it.
  bool IsAncestor(uint64_t ancestor, uint64_t node) const;
  Result<int> CreateFile(const ParentAndName& where, int flags, mode_t mode);
  Errno CloseFile(const OpenFile& file, bool flush);
  int AddFile(const OpenFile& file);
  uint32_t ApplyUmask(mode_t mode) const;
  bool Granted(uint64_t flag) const;
  // FUSE_HANDLE_KILLPRIV_V2's "kill set-user/group-ID" signal on a write,
  // truncate or open(O_TRUNC): the kernel sends it when the caller lacks
  // CAP_FSETID, modelled as a caller other than root.
  bool KillSuidgidOnWrite() const;
  // Re-reads a listing from each offset it gave and reports skips and
  // repeats (FakeKernelOptions::check_readdir_offsets).
  void CheckOffsets(absl::string_view path, uint64_t nodeid, uint64_t fh, bool plus,
                    const ReaddirOptions& options, const std::vector<DirEntry>& listing);

  FakeKernel* const kernel_;
  const mode_t umask_;
  const uint64_t lock_owner_;  // fs/fuse's fuse_lock_owner_id of this "process"

  mutable Mutex mu_;
  std::map<int, OpenFile> files_ ABSL_GUARDED_BY(mu_);
  int next_fd_ ABSL_GUARDED_BY(mu_) = 3;
};

}  // namespace fusekit
