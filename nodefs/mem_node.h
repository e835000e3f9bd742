// In-memory nodes: directories, regular files, symlinks and special files
// kept in RAM, behaving like tmpfs. Building blocks to embed (a tmpfs-like
// tree in a few lines) and the whole of examples/memfs.
//
//   fusekit::Options options;
//   options.server.init.want |= fusekit::kMemLockCapabilities;  // locks
//   auto mount = fusekit::Mount("/mnt/mem", fusekit::MemDir::NewRoot({
//       .max_bytes = 64 << 20}), options);
//
// What they do, and where they differ from tmpfs:
// * Files are sparse: data lives in 4 KiB pages allocated on first write, so
//   a file may be far larger than memory (up to 2^63-1 bytes); holes read
//   as zeros; lseek SEEK_DATA/SEEK_HOLE, st_blocks and statfs see pages.
// * truncate up makes a hole (no space used, never ENOSPC, as on tmpfs);
//   truncate down frees the pages past the end. fallocate allocates (mode
//   0, KEEP_SIZE), frees (PUNCH_HOLE|KEEP_SIZE) or zeroes (ZERO_RANGE, which
//   tmpfs lacks) pages; other modes are EOPNOTSUPP.
// * Space: every node of one tree shares a MemStore holding the limits
//   (MemFsOptions). A write that needs pages past max_bytes writes what fits
//   and then fails with ENOSPC; fallocate is all or nothing; creating a node
//   past max_inodes is ENOSPC. statfs(2) reports both.
// * O_APPEND: an open for appending writes at the file's own end, whatever
//   offset the kernel sends (the kernel sends its cached size; the two agree
//   unless the file changes behind the kernel's back).
// * Times follow POSIX: writes and truncation set mtime and ctime; any
//   attribute change, link, unlink, rename and xattr change sets ctime;
//   creating or removing an entry sets the directory's mtime and ctime. atime
//   follows relatime's rule (a read or listing moves it when it is not newer
//   than mtime and ctime, or is a day old), but only for reads that reach
//   the node: those the kernel answers from its page cache do not, so atime
//   is approximate, as on any FUSE filesystem without FOPEN_DIRECT_IO.
// * Link counts come from the tree: a file has one link per name, a
//   directory two plus one per subdirectory. An unlinked file stays readable
//   and writable through open descriptors and is freed (with its space) when
//   the kernel forgets it after the last close (FORGET comes a moment after
//   close(2) returns; on tmpfs the space is back at once).
// * xattrs: "user.", "trusted." and "security." names; others are
//   EOPNOTSUPP. (The bridge answers size probes and ERANGE.)
// * Locks: regular files are opened with a handle serving POSIX record locks
//   (fcntl F_GETLK/F_SETLK/F_SETLKW, with EDEADLK for a wait that would close
//   a cycle) and flock(2), but the kernel sends them only when the INIT
//   capabilities kMemLockCapabilities are asked for; without them it keeps
//   locks itself, per mount (and with MemFsOptions::posix_locks false,
//   opens carry FOPEN_NOFLUSH: close(2) then costs no round trip). A close
//   drops the process's POSIX locks (FLUSH's lock owner); the last close of
//   an open file drops its flock and its open file description
//   (F_OFD_SETLK) locks. A waiting F_SETLKW occupies one server worker
//   until the lock is granted, the waiter is interrupted by a signal, or the
//   connection ends (the wait polls Context::Interrupted()), so serve with
//   more workers than processes expected to wait at once.
// * Permissions are not checked here: mount with default_permissions to have
//   the kernel check modes, as examples/memfs does.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/btree_map.h"
#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit {

// The INIT capabilities under which the kernel sends fcntl and flock locks to
// the filesystem: `options.server.init.want |= kMemLockCapabilities`.
inline constexpr uint64_t kMemLockCapabilities = abi::kInitPosixLocks | abi::kInitFlockLocks;

// Limits of one in-memory tree; 0 means none.
struct MemFsOptions {
  uint64_t max_bytes = 0;   // file data, counted in 4 KiB pages
  uint64_t max_inodes = 0;  // every node, the root included
  // The root directory's permissions and owner (-1: the daemon's own).
  uint32_t root_mode = 0755;
  int64_t root_uid = -1;
  int64_t root_gid = -1;
  // Directories answer Opendir with ENOSYS: where the kernel supports
  // NO_OPENDIR it sends no OPENDIR or RELEASEDIR (two of the three round
  // trips of listing a small directory) and keeps listings in its cache
  // until the directory changes, whatever cache_listings says.
  bool no_opendir = false;
  // Directory opens let the kernel cache the listing (kOpenCacheDir) until
  // the directory changes. (A listing served from the kernel's cache leaves
  // the directory's atime alone.)
  bool cache_listings = true;
  // The tree serves fcntl(2) record locks (ask abi::kInitPosixLocks, as
  // kMemLockCapabilities does): every close(2) then sends FLUSH, whose lock
  // owner's locks go. false: the kernel keeps POSIX locks itself (right for
  // a tree mounted once), and file opens carry kOpenNoflush, so close(2)
  // costs no round trip. Keep it true whenever kInitPosixLocks is asked.
  bool posix_locks = true;
};

// What the nodes of one in-memory tree share: the limits and their use (for
// ENOSPC and statfs), and the lock waits of the whole tree (for EDEADLK).
// Thread-safe.
class MemStore {
 public:
  static constexpr uint64_t kPageSize = 4096;

  explicit MemStore(const MemFsOptions& options = {});
  MemStore(const MemStore&) = delete;
  MemStore& operator=(const MemStore&) = delete;

  const MemFsOptions& options() const { return options_; }

  // Takes `pages` pages of space; false, taking none, if that would pass
  // max_bytes.
  bool TakePages(uint64_t pages);
  void GivePages(uint64_t pages);
  uint64_t used_pages() const { return used_pages_.load(); }

  // Every MemNode counts itself while it lives.
  void AddInode() { inodes_.fetch_add(1); }
  void RemoveInode() { inodes_.fetch_sub(1); }
  uint64_t inodes() const { return inodes_.load(); }
  bool InodesOverLimit() const;

  // statfs(2): blocks of kPageSize; without max_bytes the total is what is
  // used plus the memory still available; without max_inodes, 2^32 files.
  void Statfs(abi::fuse_kstatfs* out) const;

  // --- POSIX lock waits (owner -> the owner it waits for) ----------------
  // True if `waiter` waiting for `holder` would close a cycle of waits.
  bool WouldDeadlock(uint64_t waiter, uint64_t holder);
  void SetWaiting(uint64_t waiter, uint64_t holder);
  void ClearWaiting(uint64_t waiter);

 private:
  const MemFsOptions options_;
  std::atomic<uint64_t> used_pages_{0};
  std::atomic<uint64_t> inodes_{0};
  Mutex waits_mu_;
  std::map<uint64_t, uint64_t> waits_for_ ABSL_GUARDED_BY(waits_mu_);
};

// What every in-memory node keeps: stat(2)'s fields and the xattrs.
// Thread-safe (one mutex per node). `store` null: a store of its own
// without limits (for a node used outside a MemDir tree).
class MemNode : public Node {
 public:
  MemNode(uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev = 0,
          std::shared_ptr<MemStore> store = nullptr);
  ~MemNode() override;

  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) override;
  // Under the node's lock, without a copy of the attributes: runs before
  // every WRITE.
  Errno KillPrivileges(const Context& ctx, FileHandle* fh, PrivilegeKill* kill) override;
  Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out) override;
  Errno Getxattr(const Context& ctx, absl::string_view name, std::string* value) override;
  Errno Setxattr(const Context& ctx, absl::string_view name, absl::Span<const uint8_t> value,
                 uint32_t flags) override;
  Errno Listxattr(const Context& ctx, std::vector<std::string>* names) override;
  Errno Removexattr(const Context& ctx, absl::string_view name) override;

  // Marks a change of content (mtime and ctime) or of metadata (ctime).
  void TouchModified();
  void TouchChanged();

  const std::shared_ptr<MemStore>& store() const { return store_; }

 protected:
  // The size and 512-byte blocks stat(2) shows; files override.
  virtual uint64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return 0; }
  virtual uint64_t BlocksLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return 0; }
  // Truncates (files only; others refuse with EISDIR / EINVAL).
  virtual Errno TruncateLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillAttrLocked(abi::fuse_attr* attr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // relatime: atime moves when it is not newer than mtime and ctime, or is
  // a day old.
  void TouchAccessedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::shared_ptr<MemStore> store_;
  Mutex mu_;
  uint32_t mode_ ABSL_GUARDED_BY(mu_);
  uint32_t uid_ ABSL_GUARDED_BY(mu_);
  uint32_t gid_ ABSL_GUARDED_BY(mu_);
  const uint32_t rdev_;
  struct timespec atime_ ABSL_GUARDED_BY(mu_);
  struct timespec mtime_ ABSL_GUARDED_BY(mu_);
  struct timespec ctime_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> xattrs_ ABSL_GUARDED_BY(mu_);
};

class MemFileHandle;

// A regular file (or, with another type in `mode`, a fifo, socket or device
// node: the kernel serves those itself and never reads their data). Data
// operations are the node's; the handle an open gets carries the open flags
// (O_APPEND) and serves locks.
class MemFile : public MemNode {
 public:
  using MemNode::MemNode;
  ~MemFile() override;

  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override;
  Errno Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out) override;
  Errno Write(const Context& ctx, FileHandle* fh, uint64_t offset,
              absl::Span<const uint8_t> data, uint32_t* written) override;
  Errno Fallocate(const Context& ctx, FileHandle* fh, uint64_t offset, uint64_t length,
                  uint32_t mode) override;
  Errno Lseek(const Context& ctx, FileHandle* fh, uint64_t offset, uint32_t whence,
              uint64_t* result) override;

  // A new open of this file, its handle and flags (what Open and
  // MemDir::Create hand the kernel).
  void FillOpen(uint32_t open_flags, OpenOut* out);

  // The whole content (holes as zeros); for tests of small files.
  std::string content();
  // Pages holding data (allocated), for tests.
  uint64_t allocated_pages();

 protected:
  uint64_t SizeLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return size_; }
  uint64_t BlocksLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return pages_.size() * (MemStore::kPageSize / 512);
  }
  Errno TruncateLocked(uint64_t size) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

 private:
  friend class MemFileHandle;
  // Not zeroed by itself: a page a write covers whole is never zeroed
  // (WritePageLocked).
  struct Page {
    uint8_t bytes[MemStore::kPageSize];
  };
  // One held lock. `end` is inclusive (OFFSET_MAX: to the end of the file);
  // `file` is the open (handle) that took a flock.
  struct Lock {
    uint64_t owner = 0;
    uint64_t start = 0;
    uint64_t end = 0;
    uint32_t type = 0;  // F_RDLCK or F_WRLCK
    uint32_t pid = 0;
    const FileHandle* file = nullptr;
  };

  // Frees the pages with index >= `first` (and gives their space back).
  void DropPagesFromLocked(uint64_t first) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Zeroes [offset, offset + length) within allocated pages and frees the
  // pages wholly inside it.
  void PunchLocked(uint64_t offset, uint64_t length) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes into page `index` at `in_page`, allocating it (false: no space).
  bool WritePageLocked(uint64_t index, size_t in_page, const uint8_t* data, size_t n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- Locks (for MemFileHandle) -------------------------------------------
  Errno GetLock(uint64_t owner, abi::fuse_file_lock* lock);
  Errno SetLock(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock, bool wait,
                bool flock, const FileHandle* file);
  // Drops the POSIX locks of `owner` (close), or the flocks of `file` or
  // `owner` (last close).
  void DropPosixLocks(uint64_t owner);
  void DropFlocks(const FileHandle* file, uint64_t owner);
  const Lock* ConflictLocked(const std::vector<Lock>& table, uint64_t owner, uint64_t start,
                             uint64_t end, uint32_t type) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sets `owner`'s POSIX lock on [start, end] to `type` (F_UNLCK removes),
  // splitting and merging its other locks as fcntl does.
  void ApplyPosixLocked(uint64_t owner, uint64_t start, uint64_t end, uint32_t type,
                        uint32_t pid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Waits up to `timeout` for a lock change (mu_ released meanwhile).
  void WaitForLockChangeLocked(absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  uint64_t size_ ABSL_GUARDED_BY(mu_) = 0;
  // Page index -> data. A null page is allocated (fallocate) but all zeros.
  absl::btree_map<uint64_t, std::unique_ptr<Page>> pages_ ABSL_GUARDED_BY(mu_);
  std::vector<Lock> posix_locks_ ABSL_GUARDED_BY(mu_);
  std::vector<Lock> flocks_ ABSL_GUARDED_BY(mu_);
  std::condition_variable_any locks_changed_;
};

// An open of a MemFile: the open flags, and the lock calls.
class MemFileHandle : public FileHandle {
 public:
  MemFileHandle(MemFile* file, uint32_t flags) : file_(file), flags_(flags) {}
  uint32_t flags() const { return flags_; }

  Errno Getlk(const Context& ctx, uint64_t owner, abi::fuse_file_lock* lock) override;
  Errno Setlk(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock, bool wait,
              bool flock) override;
  // close(2): the closing process's POSIX locks on the file go.
  Errno Flush(const Context& ctx) override;
  // The last close: the open's flock goes, and so do POSIX locks still held
  // by an owner that locked through this open. Every process's own locks
  // went at its close (Flush), so those are open file description locks
  // (F_OFD_SETLK), whose owner is the open file and which the kernel
  // releases with no request of its own.
  Errno Release(const Context& ctx) override;

 private:
  MemFile* const file_;  // alive while open (the bridge keeps the inode)
  const uint32_t flags_;
  Mutex mu_;
  std::vector<uint64_t> posix_owners_ ABSL_GUARDED_BY(mu_);
};

class MemSymlink : public MemNode {
 public:
  MemSymlink(std::string target, uint32_t uid, uint32_t gid,
             std::shared_ptr<MemStore> store = nullptr);
  Errno Readlink(const Context& ctx, std::string* target) override;

 protected:
  uint64_t SizeLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return target_.size();
  }

 private:
  const std::string target_;
};

// A directory whose entries are the tree's children: creating, removing and
// renaming only check POSIX's rules (and the store's limits); the toolkit
// moves the entries. Children share this directory's store.
class MemDir : public MemNode {
 public:
  MemDir(uint32_t mode = S_IFDIR | 0755, uint32_t uid = 0, uint32_t gid = 0,
         std::shared_ptr<MemStore> store = nullptr);
  // The root of a new tree with its own store.
  static std::unique_ptr<MemDir> NewRoot(const MemFsOptions& options);

  Errno Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
              EntryOut* out, Inode** child) override;
  Errno Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut* out,
              Inode** child) override;
  Errno Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                EntryOut* out, Inode** child) override;
  Errno Link(const Context& ctx, Inode* target, absl::string_view name, EntryOut* out,
             Inode** child) override;
  Errno Unlink(const Context& ctx, absl::string_view name) override;
  Errno Rmdir(const Context& ctx, absl::string_view name) override;
  Errno Rename(const Context& ctx, absl::string_view name, Inode* new_parent,
               absl::string_view new_name, uint32_t flags) override;
  Errno Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
               EntryOut* entry, Inode** child, OpenOut* open) override;
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override;
  Errno Opendir(const Context& ctx, OpenOut* out) override;
  Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream) override;

 private:
  // A new child inode for `node`, or ENOSPC past the store's inode limit.
  Errno AddNode(std::unique_ptr<MemNode> node, uint32_t type, Inode** child);
};

}  // namespace fusekit
