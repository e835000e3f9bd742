// fusekit's node-tree API: write a filesystem by subclassing Node and
// overriding only the operations it serves. The toolkit keeps the books.
//
// The hello filesystem, complete (nodefs/nodefs_mount_test.cc runs it):
//
//   constexpr absl::string_view kHello = "Hello, world!\n";
//   class HelloFile : public fusekit::Node {
//     fusekit::Errno Getattr(const fusekit::Context&, fusekit::FileHandle*,
//                            fusekit::AttrOut* out) override {
//       out->attr.mode = S_IFREG | 0444;
//       out->attr.size = kHello.size();
//       return fusekit::kOk;
//     }
//     fusekit::Errno Read(const fusekit::Context&, fusekit::FileHandle*,
//                         uint64_t offset, fusekit::ReadResult* out) override {
//       out->SetData(kHello.substr(std::min<uint64_t>(offset, kHello.size())));
//       return fusekit::kOk;
//     }
//   };
//   class HelloRoot : public fusekit::Node {
//     void OnAdd(const fusekit::Context&) override {
//       fusekit::Inode* file = inode()->NewPersistentInode(
//           std::make_unique<HelloFile>(), {.mode = S_IFREG});
//       inode()->AddChild("hello.txt", file, /*overwrite=*/false);
//     }
//   };
//   auto mount = fusekit::Mount("/mnt/hello", std::make_unique<HelloRoot>());
//   if (mount.ok()) (*mount)->WaitForUnmountOrSignal();
//
// A dynamic filesystem overrides Lookup (make the child on demand with
// inode()->NewInode(node, {.mode = S_IFREG, .ino = stable_number})) and
// Readdir (return a DirStream); see SquaresRoot in the same test.
//
// A short manual of what FUSE makes hard, and what fusekit does about it:
//
// * Three numbers name a file, and they are different things.
//   - The node id is the kernel's handle for an Inode. fusekit allocates
//     them sequentially, never reuses one while the filesystem runs, and
//     gives the root node id 1.
//   - st_ino is what stat(2) shows. It comes from StableAttr::ino, or is
//     allocated automatically when that is 0. Two Inodes may not share an
//     st_ino: asking NewInode for an ino that is already live returns that
//     live Inode (this is how hard links are one inode).
//   - A file handle names one open(2). Open and Create may return a
//     FileHandle; fusekit gives the kernel a number for it and hands the
//     object back on every Read/Write/Release. A node without handles works
//     too: data operations then arrive on the Node with a null handle.
//
// * The kernel caches three things, each for as long as you let it
//   (Options, or per reply in EntryOut/AttrOut): dentries (name -> node, the
//   entry timeout), negative dentries (name -> nothing, the negative
//   timeout), and attributes (the attribute timeout). Page-cache contents
//   stay until the file changes size or mtime on the kernel's side, unless
//   the open asks for FOPEN_DIRECT_IO. A filesystem whose data changes
//   behind the kernel's back must either use short timeouts or tell the
//   kernel with Inode::NotifyContent / NotifyEntry / NotifyDelete.
//
// * Lookup counts. The kernel counts how often it was told about each node
//   (every successful LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE and
//   READDIRPLUS entry) and gives the references back with FORGET. fusekit
//   keeps that count per Inode and frees an Inode only when the count is 0,
//   no directory in the tree holds it, and no handle is open; then
//   Node::OnForget runs once. Persistent inodes (NewPersistentInode) are
//   never freed. A child made up by your Lookup (or found by READDIRPLUS)
//   that no directory held yet joins the tree only while the kernel knows
//   it: once forgotten it leaves the tree and is freed, so a dynamic
//   filesystem does not keep every name ever looked up. Children you add
//   (AddChild, or by Mkdir/Create/...) stay. You never touch counts yourself.
//
// * The tree. Every Inode may sit in directories under names (AddChild).
//   After a successful Mkdir/Mknod/Create/Symlink/Link the returned child
//   is added under the new name; after Unlink/Rmdir the name is removed;
//   after Rename the entry moves (NOREPLACE and EXCHANGE honoured). The
//   default Lookup and Readdir answer from the tree, so a static filesystem
//   is built by adding children in OnAdd and overriding nothing else.
//
// * Interrupts. A process waiting on a request can be signalled; the kernel
//   then sends INTERRUPT. Long operations should poll
//   Context::Interrupted() and return EINTR.
//
// * The deadlock to avoid: a thread serving the filesystem must not make
//   system calls on the mount itself (stat, open, ...): the kernel would
//   wait for a reply that only this thread can give. Notifications are
//   safe anywhere: called inside a handler they are queued and sent after
//   the reply.
//
// * Threads. Requests run concurrently on several workers: a Node's methods
//   may be called concurrently with each other (for the same node too), so
//   guard your own state. The tree operations on Inode are thread-safe.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"
#include "fuse/reply.h"
#include "fuse/write_payload.h"

namespace fusekit {

class Inode;
class FileHandle;

// What fixes an Inode's identity for its life: the file type (S_IFMT bits
// of mode; permission bits are ignored here), the st_ino (0: automatic) and
// the generation.
struct StableAttr {
  uint32_t mode = 0;
  uint64_t ino = 0;
  uint64_t gen = 0;

  bool IsDir() const { return (mode & S_IFMT) == S_IFDIR; }
};

// Who asked, for one request. Valid during the call it is passed to.
class Context {
 public:
  explicit Context(const Reply* reply) : reply_(reply) {}
  Context(const Reply* reply, uint64_t lock_owner) : reply_(reply), lock_owner_(lock_owner) {}
  // For calls the toolkit makes on its own (OnAdd, READDIRPLUS lookups).
  Context() = default;

  uint32_t uid() const { return reply_ ? reply_->context().uid : 0; }
  uint32_t gid() const { return reply_ ? reply_->context().gid : 0; }
  uint32_t pid() const { return reply_ ? reply_->context().pid : 0; }
  // Only when asked for (InitOptions::want |= kInitCreateSuppGroup), and
  // only on requests that create.
  const std::vector<uint32_t>& supplementary_groups() const;
  // True once the kernel interrupted this request (the caller got a signal)
  // or the connection ended (unmounted): stop waiting and return EINTR.
  bool Interrupted() const { return reply_ != nullptr && reply_->Interrupted(); }
  // Flush and Release only: whose locks the close drops. On Flush (every
  // close(2)) the POSIX lock owner (fuse_flush_in.lock_owner): with
  // POSIX_LOCKS negotiated the kernel keeps no locks itself and sends no
  // unlock at close, so a filesystem serving Setlk must drop that owner's
  // locks here. On Release, the flock(2) owner when the file held a flock
  // (FUSE_RELEASE_FLOCK_UNLOCK). 0 otherwise.
  uint64_t lock_owner() const { return lock_owner_; }

 private:
  const Reply* reply_ = nullptr;
  uint64_t lock_owner_ = 0;
};

// Attributes as stat(2) shows them (the kernel's fuse_attr), with how long
// the kernel may cache them.
struct AttrOut {
  abi::fuse_attr attr{};
  absl::Duration timeout;  // preset from Options::attr_timeout
};

// What a new or found entry tells the kernel.
struct EntryOut {
  abi::fuse_attr attr{};
  absl::Duration entry_timeout;  // preset from Options::entry_timeout
  absl::Duration attr_timeout;   // preset from Options::attr_timeout
};

// SETATTR's request: `valid` has a FATTR_* bit (abi::kFattr*) for each field
// to change.
using SetattrIn = abi::fuse_setattr_in;

// What a write, truncate or chown takes away from a regular file, as the
// kernel's own filesystems do (Node::KillPrivileges).
struct PrivilegeKill {
  // Clear set-user-ID, and set-group-ID where group-execute is set (the
  // kernel asks for it when the caller lacks CAP_FSETID, and on chown).
  bool suid_sgid = false;
  // Remove the security.capability xattr (file capabilities).
  bool capability = false;
  // Out: set when the mode lost a bit, so that fusekit refreshes the
  // kernel's cached attributes.
  bool mode_changed = false;
};

// The mode a regular file keeps after a kill: `mode` without S_ISUID, and
// without S_ISGID where S_IXGRP is set (without it, set-group-ID means
// mandatory locking, not privilege).
uint32_t ModeAfterKill(uint32_t mode, bool suid_sgid);

// The answer to a read: point at bytes that stay valid until the call
// returns (no copy), fill the buffer fusekit lends (no allocation), or name
// a range of a file descriptor (spliced to the kernel, never copied).
class ReadResult {
 public:
  explicit ReadResult(absl::Span<uint8_t> buffer) : buffer_(buffer) {}
  // Replies with `data` as it is; it must stay valid until Read returns.
  void SetData(absl::Span<const uint8_t> data) {
    data_ = data;
    fd_ = -1;
  }
  void SetData(absl::string_view data) {
    SetData(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                      data.size()));
  }
  // A buffer of the requested size to read into; then call SetSize(n).
  absl::Span<uint8_t> buffer() { return buffer_; }
  void SetSize(size_t n) {
    SetData(absl::Span<const uint8_t>(buffer_.data(), std::min(n, buffer_.size())));
  }
  // Replies with up to `size` bytes of the file `fd` at `offset` (fewer at
  // its end, as pread would). With splice (InitOptions::splice_write, on by
  // default) the file's pages go to the kernel without a copy; otherwise
  // fusekit preads them. `fd` must stay open until Read returns (a
  // handle's own descriptor does). A read error answers that errno.
  void SetFd(int fd, uint64_t offset, size_t size) {
    fd_ = fd;
    fd_offset_ = offset;
    fd_size_ = std::min(size, buffer_.size());
    data_ = {};
  }
  absl::Span<const uint8_t> data() const { return data_; }
  // The SetFd range: fd() is -1 unless SetFd was the last call.
  int fd() const { return fd_; }
  uint64_t fd_offset() const { return fd_offset_; }
  size_t fd_size() const { return fd_size_; }

 private:
  absl::Span<uint8_t> buffer_;
  absl::Span<const uint8_t> data_;
  int fd_ = -1;
  uint64_t fd_offset_ = 0;
  size_t fd_size_ = 0;
};

// One directory entry of a listing. `mode` needs only the S_IFMT bits; `ino`
// 0 means "unknown" (shown as the entry's inode number if it has one).
// `offset` is for streams that Seek (see DirStream): where a listing resumes
// after this entry, increasing along the listing, never 0.
// (Not "DirEntry": that is testing/fs_client.h's readdir(3) result, and a
// test of a node tree includes both headers.)
struct DirStreamEntry {
  std::string name;
  uint32_t mode = 0;
  uint64_t ino = 0;
  uint64_t offset = 0;
};

// A directory listing, produced by Node::Readdir. fusekit reads it as far as
// the kernel asks (a READDIR costs the entries it returns, not the size of
// the directory), keeps what it read until the next rewind and numbers the
// entries itself, so a listing resumes correctly wherever the kernel
// stopped, seekdir/telldir work, and entries added or removed meanwhile
// never make another entry skip or repeat. The stream lives from opendir
// (or rewinddir) until the listing ends, the next rewind or the close, and
// is read during later requests: it must not keep the Context it was made
// with.
//
// A stream that can Seek carries its own offsets instead (as the tree's
// default listing does): offsets the directory keeps valid from one listing
// to the next. Then fusekit keeps nothing of the listing, every seekdir
// lands exactly, and the kernel may cache listings (kOpenCacheDir, and
// NO_OPENDIR for a directory whose Opendir answers ENOSYS), since after the
// cache goes stale it carries on from a cached entry's offset with a fresh
// stream.
class DirStream {
 public:
  virtual ~DirStream() = default;
  // Next entry; false at the end. An error ends the listing with it.
  virtual bool Next(DirStreamEntry* entry, Errno* error) = 0;
  // Moves to just after the entry whose offset is `offset` (0: the start),
  // even if that entry is gone by now, and returns true; false (the
  // default) if entries do not carry offsets.
  virtual bool Seek(uint64_t offset) { return false; }
};

// A DirStream over a fixed list.
class ListDirStream : public DirStream {
 public:
  explicit ListDirStream(std::vector<DirStreamEntry> entries) : entries_(std::move(entries)) {}
  bool Next(DirStreamEntry* entry, Errno* error) override;

 private:
  std::vector<DirStreamEntry> entries_;
  size_t next_ = 0;
};

// open(2)'s result: an optional handle and FOPEN_* flags for the kernel.
// The caching ones: abi::kOpenKeepCache keeps the page cache of a file whose
// data has not changed since the last open (without it, every open drops
// it); kOpenDirectIo bypasses the page cache; on Opendir, kOpenCacheDir
// (with kOpenKeepCache) lets the kernel cache the listing.
struct OpenOut {
  std::unique_ptr<FileHandle> handle;
  uint32_t flags = 0;
  // FUSE passthrough (Options::passthrough): an open descriptor of a regular
  // host file holding this file's data. fusekit registers it with the
  // kernel (FUSE_DEV_IOC_BACKING_OPEN, once per node while it has such
  // opens) and answers FOPEN_PASSTHROUGH: the kernel then reads, writes
  // and mmaps that file itself, and Read/Write are not called for this
  // open. Only read during Open/Create (the kernel takes its own reference).
  // fusekit falls back to a normal open, served by Read/Write, when
  // passthrough was not negotiated, registering fails (EPERM without
  // CAP_SYS_ADMIN), or the node is also open without passthrough (the
  // kernel refuses to mix the two on one inode). Open flags other than
  // kOpenDirectIo, kOpenParallelDirectWrites and kOpenNoflush are dropped
  // from a passthrough open (the kernel refuses them, e.g. KEEP_CACHE).
  // A normal open (no passthrough_fd) of a node that has passthrough opens
  // is answered with kOpenDirectIo, the one mode the kernel allows beside
  // them. -1: no passthrough.
  int passthrough_fd = -1;
};

// The user's side of a node. Subclass it and override what you serve; each
// method names the system call behind it and says what the default does.
// Methods return kOk or an errno. Called concurrently: guard your state.
class Node {
 public:
  virtual ~Node() = default;

  // The Inode this node is attached to (set by NewInode / the root mount).
  Inode* inode() const { return inode_; }

  // --- Lifecycle ------------------------------------------------------------
  // Called once for the root node when its tree is mounted (or served by
  // the fake kernel): build a static tree here. Default: nothing.
  virtual void OnAdd(const Context& ctx) {}
  // Called once, when the kernel has forgotten the node and the tree no
  // longer holds it; the Inode is freed right after. Default: nothing.
  virtual void OnForget() {}

  // --- Metadata -------------------------------------------------------------
  // lookup: find `name` in this directory. Return the child Inode in *child
  // (an existing one, or NewInode(...)) and fill out->attr. Default: the
  // tree's child of that name, with its Getattr; else ENOENT.
  virtual Errno Lookup(const Context& ctx, absl::string_view name, EntryOut* out, Inode** child);
  // stat(2). `fh` is the open handle when the kernel names one (fstat).
  // Default: the StableAttr's type and ino, permissions 0755 for
  // directories and 0644 otherwise, Options' uid/gid, nlink 1 (2 for dirs).
  virtual Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out);
  // chmod/chown/truncate/utimens. Default: EROFS.
  virtual Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out);
  // access(2) (not sent with default_permissions). Default: kOk.
  virtual Errno Access(const Context& ctx, uint32_t mask);
  // Privileges a write(2), truncate or chown(2) of a regular file takes
  // away (`kill` says which). fusekit negotiates FUSE_HANDLE_KILLPRIV_V2
  // (Options::handle_killpriv), so the kernel no longer asks for
  // security.capability before every write and the filesystem drops them
  // itself: fusekit calls this before each WRITE and after each truncate or
  // chown. Default: Getattr, then Setattr of the mode when a bit must go,
  // and Removexattr("security.capability") when asked, its ENODATA/ENOTSUP
  // ignored. Override where that is costly or can be done atomically.
  virtual Errno KillPrivileges(const Context& ctx, FileHandle* fh, PrivilegeKill* kill);
  // readlink(2). Default: EINVAL (not a symlink).
  virtual Errno Readlink(const Context& ctx, std::string* target);
  // statfs(2). Default: zeros, bsize 4096, namelen 255.
  virtual Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out);
  // statx(2) on kernels that send it. Default: built from Getattr.
  virtual Errno Statx(const Context& ctx, FileHandle* fh, uint32_t mask, abi::fuse_statx* out,
                      absl::Duration* timeout);

  // --- Namespace (directories) ---------------------------------------------
  // Each creating method returns the new child in *child (from NewInode) and
  // its attributes in *out; fusekit adds it to this directory under `name`.
  // Default for all of them: EROFS.
  // mknod(2) (and regular files when Create is not served).
  virtual Errno Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
                      EntryOut* out, Inode** child);
  // mkdir(2).
  virtual Errno Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut* out,
                      Inode** child);
  // symlink(2): a new entry `name` holding `target`.
  virtual Errno Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                        EntryOut* out, Inode** child);
  // link(2): a new name for `target` in this directory. Usually *child =
  // target.
  virtual Errno Link(const Context& ctx, Inode* target, absl::string_view name, EntryOut* out,
                     Inode** child);
  // unlink(2). fusekit removes the name from the tree afterwards; the
  // node lives on while the kernel or an open handle still holds it.
  virtual Errno Unlink(const Context& ctx, absl::string_view name);
  // rmdir(2). Default checks nothing: return ENOTEMPTY yourself if needed.
  virtual Errno Rmdir(const Context& ctx, absl::string_view name);
  // rename(2)/renameat2(2): `flags` is 0, RENAME_NOREPLACE or
  // RENAME_EXCHANGE. fusekit refuses NOREPLACE onto an existing tree entry
  // (EEXIST) before calling, and moves or swaps the tree entries after.
  virtual Errno Rename(const Context& ctx, absl::string_view name, Inode* new_parent,
                       absl::string_view new_name, uint32_t flags);
  // open(2) with O_CREAT: like Mknod, plus an open file.
  virtual Errno Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
                       EntryOut* entry, Inode** child, OpenOut* open);

  // --- Opening --------------------------------------------------------------
  // open(2). Default: read-only opens succeed without a handle; opens for
  // writing get EROFS. Returning ENOSYS means "no open needed": where the
  // kernel supports it (FUSE_NO_OPEN_SUPPORT) it then stops sending OPEN
  // and RELEASE for every file of the mount, and data operations arrive
  // with a null handle; elsewhere the open succeeds without a handle. Only
  // for filesystems none of whose files need handles.
  // With Options::writeback_cache, `flags` has O_WRONLY turned into O_RDWR
  // (the kernel reads to fill partial pages) and no O_APPEND (the kernel
  // places appends itself).
  virtual Errno Open(const Context& ctx, uint32_t flags, OpenOut* out);
  // opendir(3). Default: kOk, no handle. ENOSYS means "no handle needed":
  // where the kernel supports it (FUSE_NO_OPENDIR_SUPPORT) it then stops
  // sending OPENDIR and RELEASEDIR for every directory of the mount, lists
  // with a null handle, and caches listings (as kOpenCacheDir does), so
  // answer it only where every directory's listing seeks (DirStream; the
  // tree's default Readdir does) and the kernel sees every change;
  // elsewhere the open succeeds without a handle.
  virtual Errno Opendir(const Context& ctx, OpenOut* out);
  // getdents(2): the listing, read once per rewind. Default: "." and ".."
  // then the tree's children in name order. A directory handle whose
  // FileHandle::Readdir is overridden is asked instead.
  virtual Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream);

  // --- Extended attributes --------------------------------------------------
  // getxattr(2): put the value in *value. Default: ENODATA.
  virtual Errno Getxattr(const Context& ctx, absl::string_view name, std::string* value);
  // setxattr(2) (flags: XATTR_CREATE / XATTR_REPLACE). Default: ENOTSUP.
  virtual Errno Setxattr(const Context& ctx, absl::string_view name,
                         absl::Span<const uint8_t> value, uint32_t flags);
  // listxattr(2): the names. Default: none.
  virtual Errno Listxattr(const Context& ctx, std::vector<std::string>* names);
  // removexattr(2). Default: ENOTSUP.
  virtual Errno Removexattr(const Context& ctx, absl::string_view name);

  // --- Data -----------------------------------------------------------------
  // These get the open handle (null for handle-less opens). The defaults
  // forward to the handle's method when there is one; without a handle,
  // Read answers EBADF... unless overridden here, which is how a handle-less
  // node serves data.
  // read(2).
  virtual Errno Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out);
  // write(2): store `data` at `offset`; *written = bytes taken.
  virtual Errno Write(const Context& ctx, FileHandle* fh, uint64_t offset,
                      absl::Span<const uint8_t> data, uint32_t* written);
  // write(2) as every WRITE arrives: the data as a payload that, with
  // ServerOptions::splice_read, still sits in the worker's pipe, so a node
  // keeping data in a file descriptor can payload.SpliceTo() it there
  // without a copy through the daemon (fuse/write_payload.h). The payload
  // lives only during this call. Default: materializes the data and calls
  // Write() above, so a node serving Write() (or its handles') needs
  // nothing. A node whose handles override FileHandle::WriteBuf forwards to
  // them here (LoopbackNode does); the default does not, so that a node
  // overriding Write() is never bypassed.
  virtual Errno WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset,
                         WritePayload& payload, uint32_t* written);
  // close(2) of a descriptor (possibly several per open). Default: kOk.
  virtual Errno Flush(const Context& ctx, FileHandle* fh);
  // fsync(2)/fdatasync(2) (datasync true). Default: kOk.
  virtual Errno Fsync(const Context& ctx, FileHandle* fh, bool datasync);
  // fallocate(2). Default: EOPNOTSUPP.
  virtual Errno Fallocate(const Context& ctx, FileHandle* fh, uint64_t offset, uint64_t length,
                          uint32_t mode);
  // lseek(2) with SEEK_DATA/SEEK_HOLE. Default: ENOSYS, which makes the
  // kernel use its generic behaviour from then on.
  virtual Errno Lseek(const Context& ctx, FileHandle* fh, uint64_t offset, uint32_t whence,
                      uint64_t* result);

 private:
  friend class Inode;
  friend class Bridge;
  Inode* inode_ = nullptr;
};

// An open file (or directory): what Open/Create/Opendir return. Override the
// operations the open file serves; the defaults are as listed. Methods may
// be called concurrently (several threads reading one open file).
class FileHandle {
 public:
  virtual ~FileHandle() = default;

  // read(2). Default: EBADF... via Node::Read's default.
  virtual Errno Read(const Context& ctx, uint64_t offset, ReadResult* out);
  // write(2). Default: EBADF.
  virtual Errno Write(const Context& ctx, uint64_t offset, absl::Span<const uint8_t> data,
                      uint32_t* written);
  // write(2) with the data as a payload (see Node::WriteBuf, which must
  // forward here for this to be called). Default: materializes it and
  // calls Write().
  virtual Errno WriteBuf(const Context& ctx, uint64_t offset, WritePayload& payload,
                         uint32_t* written);
  // close(2) of one descriptor. Default: kOk.
  virtual Errno Flush(const Context& ctx);
  // Last close: the handle is destroyed right after. Errors are ignored by
  // the kernel. Default: kOk.
  virtual Errno Release(const Context& ctx);
  // fsync(2). Default: kOk.
  virtual Errno Fsync(const Context& ctx, bool datasync);
  // fallocate(2). Default: EOPNOTSUPP.
  virtual Errno Fallocate(const Context& ctx, uint64_t offset, uint64_t length, uint32_t mode);
  // lseek(2) SEEK_DATA/SEEK_HOLE. Default: ENOSYS.
  virtual Errno Lseek(const Context& ctx, uint64_t offset, uint32_t whence, uint64_t* result);
  // fcntl(F_GETLK). Default: ENOSYS (the kernel then keeps locks locally
  // unless POSIX_LOCKS was negotiated).
  virtual Errno Getlk(const Context& ctx, uint64_t owner, abi::fuse_file_lock* lock);
  // fcntl(F_SETLK/F_SETLKW) (wait=true) and flock(2) (flock=true).
  // Default: ENOSYS. The kernel sends locks only when InitOptions::want has
  // kInitPosixLocks / kInitFlockLocks, and then sends no unlock at close:
  // drop `ctx.lock_owner()`'s POSIX locks in Flush and the open's flock in
  // Release. A waiting F_SETLKW holds a worker: poll ctx.Interrupted() and
  // return EINTR (nodefs/mem_node.cc's MemFile::SetLock does all of this).
  virtual Errno Setlk(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock,
                      bool wait, bool flock);
  // ioctl(2). Default: ENOTTY.
  virtual Errno Ioctl(const Context& ctx, uint32_t cmd, uint64_t arg,
                      absl::Span<const uint8_t> in, std::string* out, int32_t* result);
  // poll(2): the ready events. Default: readable and writable.
  virtual Errno Poll(const Context& ctx, uint32_t events, uint32_t* revents);
  // copy_file_range(2) from this handle to `out` at `out_offset`. Default:
  // EXDEV (the kernel then copies through read and write).
  virtual Errno CopyFileRange(const Context& ctx, uint64_t offset, FileHandle* out,
                              uint64_t out_offset, uint64_t length, uint64_t* copied);
  // For directory handles: the listing (instead of Node::Readdir). Default:
  // ENOSYS, meaning "ask the node".
  virtual Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream);
};

}  // namespace fusekit
