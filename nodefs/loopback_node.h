// Loopback nodes: a node tree that mirrors a directory of the host. The
// building block of examples/loopbackfs, to embed as a whole tree or as one
// subdirectory of a larger one (go-fuse's fs/loopback.go).
//
//   absl::StatusOr<std::unique_ptr<fusekit::LoopbackNode>> root =
//       fusekit::NewLoopbackRoot("/srv/data");
//   if (!root.ok()) return root.status();  // names the missing directory
//   auto mount = fusekit::Mount("/mnt/data", *std::move(root),
//                               fusekit::LoopbackMountOptions());
//
// What it guarantees, and how:
//
// * Nothing outside the mirrored directory is ever reached. The tree keeps
//   one descriptor: an O_PATH one of the mirrored directory. A request
//   resolves the path of its directory beneath it with openat2(
//   RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), then acts
//   on one name in that directory with the *at() calls, AT_SYMLINK_NOFOLLOW
//   and O_NOFOLLOW. Names are single components ("", ".", "..", '/' are
//   refused with EINVAL). So a symlink in the source (to /etc, to ../../) is
//   served as a symlink, and the *caller's* kernel resolves it, in the
//   caller's namespace; the daemon never follows one, not even one swapped in
//   for a directory mid-request. A directory the host moves out of the tree
//   is not found from then on; one moved during a resolution is caught by
//   openat2 (its last step checks that the result is still beneath).
//   Kernels without openat2 (before 5.6), and paths longer than PATH_MAX,
//   get a walk of one O_NOFOLLOW openat per component: no symlink is
//   followed, but a directory moved out mid-walk is not detected. Some
//   calls go through the daemon's own /proc/self/fd (xattrs, chmod of the
//   root, reopening for truncate and locks): /proc must be mounted.
//
// * Paths come from the tree, as in go-fuse's loopback: each node remembers
//   the (directory, name) pairs it was last seen under (lookup, create, link,
//   rename), and a request uses the newest one that still names the same
//   host inode, then older ones (hard links), then an open descriptor of the
//   file (unlinked but open files keep working through fstat, fchmod, ...).
//   A name that now holds another host file (replaced behind the kernel's
//   back) answers ESTALE, on which the kernel looks the path up again. Like
//   go-fuse's loopback, a request on a descendant of a directory that is
//   being renamed through the mount can, in the instant between the host's
//   rename and the tree's update, see ENOENT.
//
// * Inode numbers are the host's: StableAttr::ino = st_ino, so hard links
//   stay one Inode (and one st_ino) through the mount. st_dev is ignored:
//   a source spanning several host filesystems (mount points below it) may
//   show two files with one inode number, and NewInode would then take them
//   for one; a found inode of another file type gets a fresh automatic
//   number instead. The root of a mount is st_ino 1 (fusekit's root), and a
//   host inode numbered 1 (another filesystem's root mounted below) gets an
//   automatic number.
//
// * Data. Reads name the host descriptor's range (ReadResult::SetFd), so
//   with splice (the default) the host's pages reach the kernel without a
//   copy. Served with Options::passthrough (root, Linux 6.9+), opens of
//   regular files give their descriptor as the passthrough backing file and
//   the kernel reads and writes the host file itself (falling back to
//   normal opens where it refuses).
//
// * With ServerOptions::splice_read (loopbackfs --splice), WRITE data
//   goes from the kernel's pipe into the host file by splice(2): the
//   daemon never copies it (LoopbackFileHandle::WriteBuf).
//
// * File handles hold host descriptors: Read/Write are pread/pwrite, Flush
//   is close(dup(fd)), Fsync, Fallocate, Lseek (SEEK_DATA/SEEK_HOLE) and
//   CopyFileRange (between two loopback handles) act on them, Release
//   closes. O_DIRECT is dropped from host opens (the kernel's buffers are
//   not aligned for it).
//
// * Locks reach the host, so locks taken through the mount and by host
//   processes see each other. POSIX locks become OFD locks on one host
//   descriptor per (file, kernel lock owner): owners conflict with each
//   other as processes do, and FLUSH (every close(2)) closes the owner's
//   descriptor, dropping its locks as POSIX requires. flock(2) locks are
//   taken on the handle's own descriptor (one per open(2), as flock
//   wants). OFD locks (F_OFD_SETLK through the mount) come with the open
//   file as their owner; RELEASE (the open file's last close) drops what
//   owners took through it. The kernel sends RELEASE after close(2) has
//   returned, so for a moment after the last close its flock and OFD
//   locks are still held, as with any FUSE filesystem. A waiting F_SETLKW/LOCK_EX polls, so a signal (INTERRUPT) ends
//   it with EINTR; it keeps a worker busy meanwhile, so serve with more
//   workers than expected waiters. A conflicting lock's pid is reported as
//   0 (OFD locks have none) and deadlocks are not detected (EDEADLK).
//   The kernel passes locks to the filesystem only when INIT grants
//   POSIX_LOCKS and FLOCK_LOCKS: mount with LoopbackMountOptions().
//
// * The daemon's credentials do the work. With LoopbackOptions::set_owner
//   (default when running as root) each created file, directory, symlink
//   and device node is given the caller's uid and gid (the gid stays the
//   directory's under a set-group-ID directory). Serve with
//   default_permissions so that the kernel checks the caller against the
//   mirrored modes and owners. The daemon's umask is undone for created
//   objects (the kernel already applied the caller's).
//
// * Resources: no descriptor is held per node; each request opens (and
//   closes) the directory it works in. Open files hold one descriptor each,
//   plus one per lock owner while it holds POSIX locks.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit {

class LoopbackNode;
class LoopbackRoot;
class LoopbackFileHandle;

struct LoopbackOptions {
  // Give created objects the caller's uid and gid (fchown after creating).
  // Only root may; the default is on exactly then.
  bool set_owner = ::geteuid() == 0;
  // Open regular files with kOpenDirectIo (and kOpenParallelDirectWrites):
  // the kernel keeps no page cache of them, and each read(2) and write(2)
  // is a request carrying the caller's own pages, with no cache pages to
  // allocate and fill first (large writes: 0.5x tmpfs instead of 0.3x), at
  // the price of the kernel's caching and read-ahead: every read(2) is a
  // READ. Shared mmap then needs abi::kInitDirectIoAllowMmap in
  // InitOptions::want; LoopbackMountOptions(options, loopback) asks it.
  bool direct_io = false;
  // Makes the node for each host object found or created (st is its
  // lstat). Null: a plain LoopbackNode. Set it to serve some files with a
  // subclass (go-fuse's LoopbackRoot.NewNode).
  std::function<std::unique_ptr<LoopbackNode>(std::shared_ptr<LoopbackRoot> root,
                                              const struct stat& st)>
      new_node;
};

// The host directory a loopback tree mirrors, shared by all its nodes.
// Immutable after Open; thread-safe.
class LoopbackRoot : public std::enable_shared_from_this<LoopbackRoot> {
 public:
  // Opens `host_dir` (O_PATH). NotFound if it does not exist,
  // FailedPrecondition if it is not a directory, PermissionDenied if it
  // cannot be opened; each message names the directory.
  static absl::StatusOr<std::shared_ptr<LoopbackRoot>> Open(absl::string_view host_dir,
                                                            LoopbackOptions options = {});
  LoopbackRoot(const LoopbackRoot&) = delete;
  LoopbackRoot& operator=(const LoopbackRoot&) = delete;

  const std::string& host_dir() const { return host_dir_; }
  // The O_PATH descriptor of host_dir(), valid while this lives.
  int fd() const { return fd_.get(); }
  uint64_t host_ino() const { return host_ino_; }
  const LoopbackOptions& options() const { return options_; }
  // The daemon's umask when the root was opened (undone on created objects;
  // read from /proc/self/status, so opening never changes it).
  mode_t umask() const { return umask_; }

  // Opens `relative` ("a/b/c": names this tree found; "" is the root
  // itself) beneath the root with `flags` (O_PATH, O_RDONLY | O_DIRECTORY,
  // ...; O_NOFOLLOW and O_CLOEXEC are added): no symlink, magic link or ".."
  // is followed and the result is beneath the root. ENOENT if it is not
  // there (EXDEV from openat2, a move out of the tree, is reported so too),
  // ESTALE if a component is no longer a directory.
  Errno OpenBeneath(absl::string_view relative, int flags, ScopedFd* out) const;

  // The node for a host object (options().new_node, or a LoopbackNode).
  std::unique_ptr<LoopbackNode> NewNode(const struct stat& st);

 private:
  LoopbackRoot(std::string host_dir, ScopedFd fd, uint64_t host_ino, LoopbackOptions options);
  // One component at a time, each O_NOFOLLOW (no openat2, or a path longer
  // than PATH_MAX).
  Errno WalkBeneath(absl::string_view relative, int flags, ScopedFd* out) const;

  const std::string host_dir_;
  const ScopedFd fd_;
  const uint64_t host_ino_;
  const LoopbackOptions options_;
  const mode_t umask_;
};

// The root node of a tree mirroring `host_dir` (errors as
// LoopbackRoot::Open). Mount it as a tree's root, or add it as a
// subdirectory of another tree (NewInode with {S_IFDIR, its host_ino()}).
absl::StatusOr<std::unique_ptr<LoopbackNode>> NewLoopbackRoot(absl::string_view host_dir,
                                                              LoopbackOptions options = {});

// `options` plus what a loopback tree needs from the kernel: INIT's
// POSIX_LOCKS and FLOCK_LOCKS, so lock requests reach the host.
Options LoopbackMountOptions(Options options = {});
// The same for a tree opened with `loopback`. With direct_io it also asks
// for shared mmap of direct-I/O files (DIRECT_IO_ALLOW_MMAP) and takes
// requests with read(2), not ServerOptions::splice_read: a direct write's
// data is the caller's own pages, which the kernel cannot lend a pipe, so
// splicing it means a copy into pages allocated for every request, where
// read(2) copies into the worker's buffer, which stays warm. READ replies
// are still spliced (InitOptions::splice_write).
Options LoopbackMountOptions(Options options, const LoopbackOptions& loopback);

// A host object of any type: the one node class of a loopback tree (as in
// go-fuse). Subclass it (LoopbackOptions::new_node) to change some
// operations; each override can still call the LoopbackNode version.
// Thread-safe: every method may run concurrently with any other.
class LoopbackNode : public Node {
 public:
  // `st` is the object's lstat; its st_ino is checked on every use, so a
  // name reused for another file is noticed.
  LoopbackNode(std::shared_ptr<LoopbackRoot> root, const struct stat& st);
  ~LoopbackNode() override;

  LoopbackRoot& root() const { return *root_; }
  uint64_t host_ino() const { return host_ino_; }
  // True for the node of the mirrored directory itself.
  bool is_root() const { return is_root_; }

  // --- Node ---------------------------------------------------------------
  Errno Lookup(const Context& ctx, absl::string_view name, EntryOut* out, Inode** child) override;
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) override;
  // Set-user/group-ID only: the host kernel drops file capabilities
  // itself when the daemon writes, truncates or chowns the host file.
  Errno KillPrivileges(const Context& ctx, FileHandle* fh, PrivilegeKill* kill) override;
  Errno Readlink(const Context& ctx, std::string* target) override;
  Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out) override;
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
  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override;
  Errno Opendir(const Context& ctx, OpenOut* out) override;
  Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream) override;
  Errno Getxattr(const Context& ctx, absl::string_view name, std::string* value) override;
  Errno Setxattr(const Context& ctx, absl::string_view name, absl::Span<const uint8_t> value,
                 uint32_t flags) override;
  Errno Listxattr(const Context& ctx, std::vector<std::string>* names) override;
  Errno Removexattr(const Context& ctx, absl::string_view name) override;
  // Hands a WRITE's payload to the open handle (LoopbackFileHandle splices
  // it into the host file); without a handle, Node's default. A subclass
  // that overrides Write must override this too (Node::WriteBuf calls
  // Write), or its Write is not reached.
  Errno WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset, WritePayload& payload,
                 uint32_t* written) override;

 protected:
  // Where this node is on the host for one call: a directory and a name in
  // it, or (empty name) a descriptor of the object itself: the root's
  // O_PATH descriptor, or a dup of an open file's (an unlinked open file).
  struct HostName {
    ScopedFd owned;      // what this call opened (closed with it)
    int dir = -1;        // owned.get(), or the root's descriptor
    std::string name;    // "" when `dir` is the object itself
    bool open_file = false;  // `dir` is a real open file, not O_PATH
  };
  // Finds this node on the host and checks it is still the same inode;
  // `st` (optional) gets its lstat. ENOENT, or ESTALE if a name it had now
  // holds another file.
  Errno Locate(HostName* where, struct stat* st = nullptr);
  // A descriptor of this directory opened with `flags` (O_PATH or
  // O_RDONLY), checked to be the same inode.
  Errno OpenDir(int flags, ScopedFd* owned, int* fd);
  // Makes (or finds, for a live host inode) the child for `st` and
  // remembers it under `name` here; fills out->attr.
  Inode* AddHostChild(absl::string_view name, const struct stat& st, EntryOut* out);

 private:
  friend class LoopbackFileHandle;
  friend class LoopbackDirHandle;
  friend absl::StatusOr<std::unique_ptr<LoopbackNode>> NewLoopbackRoot(absl::string_view,
                                                                      LoopbackOptions);
  struct KnownName {
    std::weak_ptr<Inode> parent;
    std::string name;
  };

  // This node's path below the root through the newest names ("" for the
  // root).
  Errno RelativePath(std::string* path);
  // The names this node is known under, newest first, parents alive.
  std::vector<std::pair<std::shared_ptr<Inode>, std::string>> LiveLinks();
  void NoteLink(Inode* parent, absl::string_view name);
  void DropLink(Inode* parent, absl::string_view name);
  // After creating `name` in `dir`: the caller as owner, the exact mode.
  void FixNewObject(const Context& ctx, int dir, absl::string_view name, int fd, uint32_t mode,
                    bool set_mode);
  // A dup of any open handle's descriptor (invalid if none).
  ScopedFd DupOpenFd();
  // An open's FOPEN_* flags from LoopbackOptions::direct_io.
  uint32_t DirectIoFlags() const;

  // --- Open handles and POSIX lock owners ---
  void AddHandle(LoopbackFileHandle* handle);
  void RemoveHandle(LoopbackFileHandle* handle);
  // The descriptor that carries `owner`'s POSIX locks on this file, opened
  // from `from_fd` on first use when `create`. Null if none.
  std::shared_ptr<ScopedFd> LockFd(uint64_t owner, int from_fd, int access, bool create,
                                   Errno* error);
  // Closes `owner`'s lock descriptor: its locks are dropped.
  void DropLockOwner(uint64_t owner);

  const std::shared_ptr<LoopbackRoot> root_;
  const uint64_t host_ino_;
  bool is_root_ = false;  // set once, by NewLoopbackRoot

  Mutex mu_;
  // Newest last; at most a few (hard links), pruned as parents die.
  std::vector<KnownName> links_ ABSL_GUARDED_BY(mu_);
  std::vector<LoopbackFileHandle*> handles_ ABSL_GUARDED_BY(mu_);
  // Descriptors of this directory's open handles (LoopbackDirHandle).
  std::vector<int> dir_fds_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::shared_ptr<ScopedFd>> lock_fds_ ABSL_GUARDED_BY(mu_);
};

// An open file: a host descriptor opened with the open(2)'s flags.
// Thread-safe (pread/pwrite need no lock); Release closes the descriptor.
class LoopbackFileHandle : public FileHandle {
 public:
  LoopbackFileHandle(LoopbackNode* node, ScopedFd fd, int flags);
  ~LoopbackFileHandle() override;

  int fd() const { return fd_.get(); }

  Errno Read(const Context& ctx, uint64_t offset, ReadResult* out) override;
  Errno Write(const Context& ctx, uint64_t offset, absl::Span<const uint8_t> data,
              uint32_t* written) override;
  // A payload still in the worker's pipe (ServerOptions::splice_read) is
  // spliced into the host file, never copied through the daemon; what
  // splice refuses (an O_APPEND open, a host filesystem that cannot
  // splice) or leaves is materialized and pwritten.
  Errno WriteBuf(const Context& ctx, uint64_t offset, WritePayload& payload,
                 uint32_t* written) override;
  Errno Flush(const Context& ctx) override;
  Errno Release(const Context& ctx) override;
  Errno Fsync(const Context& ctx, bool datasync) override;
  Errno Fallocate(const Context& ctx, uint64_t offset, uint64_t length, uint32_t mode) override;
  Errno Lseek(const Context& ctx, uint64_t offset, uint32_t whence, uint64_t* result) override;
  Errno Getlk(const Context& ctx, uint64_t owner, abi::fuse_file_lock* lock) override;
  Errno Setlk(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock, bool wait,
              bool flock) override;
  Errno CopyFileRange(const Context& ctx, uint64_t offset, FileHandle* out, uint64_t out_offset,
                      uint64_t length, uint64_t* copied) override;

 private:
  LoopbackNode* const node_;  // alive while the handle is open
  ScopedFd fd_;
  const int flags_;
  bool registered_ = true;  // in node_->handles_ (until Release)
  Mutex mu_;
  // The lock owners that took POSIX locks through this open file: an OFD
  // lock's owner is the open file itself, and the kernel sends no unlock
  // when it closes, so Release drops them.
  std::vector<uint64_t> lock_owners_ ABSL_GUARDED_BY(mu_);
};

// An open directory: a host descriptor; listings come from it.
class LoopbackDirHandle : public FileHandle {
 public:
  explicit LoopbackDirHandle(ScopedFd fd) : fd_(std::move(fd)) {}
  // Registered with `node` (alive while the handle is open): once no name
  // leads to the directory (removed, or replaced by a rename, while open)
  // its requests (getattr, ...) reach it through this descriptor.
  LoopbackDirHandle(LoopbackNode* node, ScopedFd fd);
  ~LoopbackDirHandle() override;
  Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream) override;
  Errno Fsync(const Context& ctx, bool datasync) override;

 private:
  LoopbackNode* const node_ = nullptr;
  ScopedFd fd_;
};

}  // namespace fusekit
