// RawFileSystem: fusekit's low-level API, one virtual method per FUSE opcode.
//
// This is the layer below the node tree (nodefs/), like libfuse's
// fuse_lowlevel_ops: requests arrive with the kernel's node ids and file
// handles, and the filesystem keeps its own books. Subclass it, override the
// operations you serve, and pass it to Mount() (fuse/server.h).
//
// Rules every method shares:
// - Each gets a typed reply object (fuse/reply.h) and must answer through it
//   exactly once, now or later, from any thread. Dropping it answers EIO.
// - The defaults answer ENOSYS. For some opcodes the kernel then stops
//   asking (FLUSH, FSYNC, SETXATTR, ..., INTERRUPT) or falls back to a local
//   behaviour (GETLK/SETLK without POSIX_LOCKS, ACCESS).
// - Names and spans point into the request buffer: valid until the method
//   returns; copy them if the reply is deferred.
// - Lookup counts: every successful ReplyEntry::Entry() / ReplyCreate /
//   ReplyDirectory::AddPlus with nodeid != 0 (when accepted: kOk) adds one
//   to the kernel's count for that node id; FORGET and BATCH_FORGET take
//   counts away. A node id may be reused only after its count reached zero.
// - Node id 1 is the root (abi::kRootId); it is never forgotten.
// - Methods are called concurrently from the server's workers: an
//   implementation must be safe for concurrent use.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/reply.h"
#include "fuse/write_payload.h"

namespace fusekit {

// What FUSE_INIT settled; fixed for the connection's life.
struct ConnectionInfo {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t kernel_flags = 0;  // what the kernel offered (flags | flags2 << 32)
  uint64_t flags = 0;         // what was granted: abi::kInit* bits
  uint32_t max_write = 0;
  uint32_t max_readahead = 0;
  uint16_t max_pages = 0;
  uint16_t max_background = 0;
  uint16_t congestion_threshold = 0;
  uint32_t time_gran = 0;

  bool Has(uint64_t flag) const { return (flags & flag) != 0; }
};

class RawFileSystem {
 public:
  virtual ~RawFileSystem() = default;

  // Called once FUSE_INIT is negotiated, before any other request.
  virtual void Init(const ConnectionInfo& info) {}
  // FUSE_DESTROY (unmount): no more requests follow.
  virtual void Destroy() {}

  // lookup(2) of `name` in directory `parent`. Valid replies: Entry (count
  // +1 unless nodeid 0: a negative entry cached for entry_timeout), Error.
  virtual void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name);
  // The kernel dropped `nlookup` references to `nodeid`. No reply.
  virtual void Forget(const RequestContext& context, uint64_t nodeid, uint64_t nlookup) {}
  // Several forgets at once; the default calls Forget for each. No reply.
  virtual void BatchForget(const RequestContext& context,
                           absl::Span<const abi::fuse_forget_one> forgets);
  // stat(2). `fh` is set when the kernel names an open file (GETATTR_FH).
  virtual void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in);
  // chmod, chown, truncate, utimens: in.valid says which fields (FATTR_*).
  virtual void Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in);
  // readlink(2). Valid replies: Data (the target, no NUL), Error.
  virtual void Readlink(ReplyData reply, uint64_t nodeid);
  // symlink(2): creates `name` in `parent` pointing at `target`. Entry: +1.
  virtual void Symlink(ReplyEntry reply, uint64_t parent, absl::string_view name,
                       absl::string_view target);
  // mknod(2) (regular files too when CREATE is not served). Entry: +1.
  virtual void Mknod(ReplyEntry reply, uint64_t parent, absl::string_view name,
                     const abi::fuse_mknod_in& in);
  // mkdir(2). Entry: +1.
  virtual void Mkdir(ReplyEntry reply, uint64_t parent, absl::string_view name,
                     const abi::fuse_mkdir_in& in);
  // unlink(2). The node stays alive until forgotten.
  virtual void Unlink(ReplyEmpty reply, uint64_t parent, absl::string_view name);
  // rmdir(2).
  virtual void Rmdir(ReplyEmpty reply, uint64_t parent, absl::string_view name);
  // rename(2) and renameat2(2): `flags` is 0, RENAME_NOREPLACE or
  // RENAME_EXCHANGE (RENAME2 only; plain RENAME always passes 0).
  virtual void Rename(ReplyEmpty reply, uint64_t parent, absl::string_view name,
                      uint64_t new_parent, absl::string_view new_name, uint32_t flags);
  // link(2): a new name `new_name` in `new_parent` for `nodeid`. Entry: +1.
  virtual void Link(ReplyEntry reply, uint64_t nodeid, uint64_t new_parent,
                    absl::string_view new_name);
  // open(2). Valid replies: Open (a file handle and FOPEN_* flags), Error.
  // ENOSYS means "no open needed" from then on (fuse_do_open); the kernel
  // then sends READ/WRITE with fh 0. OPENDIR likewise (no_opendir).
  virtual void Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in);
  // read(2). Data may be shorter than in.size only at end of file (unless
  // the file was opened with FOPEN_DIRECT_IO).
  virtual void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in);
  // write(2). Valid replies: Written (bytes taken), Error.
  virtual void Write(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                     absl::Span<const uint8_t> data);
  // write(2), as the core delivers every WRITE: the data as a payload that
  // may still sit in the worker's pipe (ServerOptions::splice_read), so it
  // can go to a file with payload.SpliceTo() without being copied through
  // the daemon. The payload is valid only until this returns (a deferred
  // reply must take the data first); what is left of it is discarded then.
  // Default: materializes the data and calls Write(), so a filesystem that
  // serves Write() alone works unchanged (a payload that cannot be read out
  // of the pipe answers EIO). Valid replies: Written, Error.
  virtual void WriteBuf(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                        WritePayload& payload);
  // statfs(2).
  virtual void Statfs(ReplyStatfs reply, uint64_t nodeid);
  // close of the last descriptor of an open file. Errors are ignored.
  virtual void Release(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in);
  // fsync(2) / fdatasync(2) (in.fsync_flags & kFsyncFdatasync).
  virtual void Fsync(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in);
  // setxattr(2).
  virtual void Setxattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name,
                        absl::Span<const uint8_t> value, const abi::fuse_setxattr_in& in);
  // getxattr(2): `size` 0 asks for the value's size only.
  virtual void Getxattr(ReplyXattr reply, uint64_t nodeid, absl::string_view name,
                        uint32_t size);
  // listxattr(2): NUL-separated names; `size` 0 asks for the size only.
  virtual void Listxattr(ReplyXattr reply, uint64_t nodeid, uint32_t size);
  // removexattr(2).
  virtual void Removexattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name);
  // close(2) of any descriptor (there may be several per open).
  virtual void Flush(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_flush_in& in);
  // opendir(3). Valid replies: Open, Error.
  virtual void Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in);
  // getdents(2) from in.offset (0 = start; otherwise a next_offset this
  // filesystem gave earlier).
  virtual void Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in);
  // getdents(2) with attributes (DO_READDIRPLUS granted): each AddPlus with
  // a nodeid counts as a lookup once the reply is accepted.
  virtual void Readdirplus(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in);
  // closedir(3).
  virtual void Releasedir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in);
  // fsync(2) on a directory.
  virtual void Fsyncdir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in);
  // fcntl(F_GETLK) (POSIX_LOCKS granted).
  virtual void Getlk(ReplyLock reply, uint64_t nodeid, const abi::fuse_lk_in& in);
  // fcntl(F_SETLK/F_SETLKW), and flock(2) when in.lk_flags & kLkFlock.
  // `wait` is true for SETLKW: the reply may be deferred until the lock is
  // free, and Interrupted() says when the caller gave up.
  virtual void Setlk(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_lk_in& in, bool wait);
  // access(2) (not sent with default_permissions).
  virtual void Access(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_access_in& in);
  // open(2) with O_CREAT. Valid replies: Create (entry +1, and a handle),
  // Error. ENOSYS makes the kernel use MKNOD + OPEN from then on.
  virtual void Create(ReplyCreate reply, uint64_t parent, absl::string_view name,
                      const abi::fuse_create_in& in);
  // FIBMAP (fuseblk only).
  virtual void Bmap(ReplyBmap reply, uint64_t nodeid, const abi::fuse_bmap_in& in);
  // ioctl(2).
  virtual void Ioctl(ReplyIoctl reply, uint64_t nodeid, const abi::fuse_ioctl_in& in,
                     absl::Span<const uint8_t> in_data);
  // poll(2); with kPollScheduleNotify the filesystem later sends a poll
  // notification for in.kh (Server::notifier()).
  virtual void Poll(ReplyPoll reply, uint64_t nodeid, const abi::fuse_poll_in& in);
  // fallocate(2).
  virtual void Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in);
  // lseek(2) with SEEK_DATA / SEEK_HOLE (others are handled by the kernel).
  virtual void Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in);
  // copy_file_range(2) (COPY_FILE_RANGE and, from 7.45, COPY_FILE_RANGE_64,
  // which may copy more than 4 GiB at once). Valid replies: Written, Error.
  virtual void CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                             const abi::fuse_copy_file_range_in& in);
  // statx(2) (kernels that send FUSE_STATX).
  virtual void Statx(ReplyStatx reply, uint64_t nodeid, const abi::fuse_statx_in& in);
  // open(2) with O_TMPFILE in directory `parent`. Like Create.
  virtual void Tmpfile(ReplyCreate reply, uint64_t parent, const abi::fuse_create_in& in);
  // syncfs(2).
  virtual void Syncfs(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_syncfs_in& in);
};

}  // namespace fusekit
