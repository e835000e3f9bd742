// Replies: one move-only object per request that owns the duty to answer it.
//
// Every raw handler receives a typed reply (ReplyEntry for LOOKUP, ReplyData
// for READ, ...). It must call exactly one of its methods, now or later and
// from any thread: a reply may be moved into a callback and sent when an
// asynchronous backend finishes. A second reply is ignored (and logged); a
// reply object destroyed without replying answers EIO, so the kernel never
// waits forever on a forgotten request.
//
// Each sending method returns:
//   kOk     the kernel took the reply;
//   ENOENT  the kernel no longer waits for it (the request was interrupted
//           and abandoned): an entry reply's lookup was NOT counted, so the
//           caller must undo what it did for it;
//   other   the write failed (the connection is going away).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"

namespace fusekit {

class Session;

// Who asked, from the request header (and extensions).
struct RequestContext {
  uint64_t unique = 0;
  uint64_t nodeid = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
  // Only when the filesystem asked for FUSE_CREATE_SUPP_GROUP, and only on
  // requests that create (the kernel sends them nowhere else).
  std::vector<uint32_t> supplementary_groups;
};

// What LOOKUP, MKDIR, MKNOD, SYMLINK, LINK and CREATE answer. A nodeid of 0
// with ENOENT semantics is a negative entry, cached for entry_timeout.
struct EntryParam {
  uint64_t nodeid = 0;
  uint64_t generation = 0;
  absl::Duration entry_timeout = absl::ZeroDuration();
  absl::Duration attr_timeout = absl::ZeroDuration();
  abi::fuse_attr attr{};
};

// What OPEN, OPENDIR and CREATE answer.
struct OpenParam {
  uint64_t fh = 0;
  uint32_t open_flags = 0;  // abi::kOpen* (FOPEN_KEEP_CACHE, DIRECT_IO, ...)
  int32_t backing_id = 0;   // with kOpenPassthrough
};

// Converts a duration to the wire's (seconds, nanoseconds); negative -> 0.
void ToWireTimeout(absl::Duration d, uint64_t* sec, uint32_t* nsec);

class Reply {
 public:
  Reply(Reply&& other) noexcept;
  Reply& operator=(Reply&& other) = delete;
  Reply(const Reply&) = delete;
  ~Reply();

  const RequestContext& context() const { return context_; }

  // True once the kernel has sent an INTERRUPT for this request, or once
  // the connection has ended (unmounted, aborted, the peer gone): either
  // way nobody waits for the answer, so a long wait should give up.
  bool Interrupted() const;
  // Runs `callback` (once, on the thread that reads the INTERRUPT or sees
  // the connection end, or at once if that already happened). Keep it short
  // and non-blocking.
  void OnInterrupt(std::function<void()> callback);

  // Answers with an error (positive errno). EINTR is the usual answer to an
  // interrupted request.
  Errno Error(Errno error);

  bool replied() const { return session_ == nullptr; }

  // Made by the core for each request; filesystems only receive them.
  Reply(Session* session, int fd, RequestContext context, uint32_t opcode);

 protected:
  // Sends a success reply made of `iov` (the header is prepended).
  Errno Send(const struct iovec* iov, int count);
  // Sends a success reply carrying `size` bytes of `fd` at `offset`.
  Errno SendFromFd(int fd, off_t offset, size_t size);
  uint32_t minor() const;

 protected:
  uint32_t opcode_;

 private:
  Session* session_;  // null once replied
  int fd_;            // the channel the request came on (replies must match)
  RequestContext context_;
  absl::Time start_;
};

// Status-only replies: UNLINK, RMDIR, RENAME, SETXATTR, REMOVEXATTR, FLUSH,
// RELEASE*, FSYNC*, SETLK*, ACCESS, FALLOCATE, SYNCFS.
class ReplyEmpty : public Reply {
 public:
  using Reply::Reply;
  Errno Ok();
};

class ReplyEntry : public Reply {
 public:
  using Reply::Reply;
  Errno Entry(const EntryParam& entry);
};

class ReplyCreate : public Reply {
 public:
  using Reply::Reply;
  Errno Create(const EntryParam& entry, const OpenParam& open);
};

class ReplyAttr : public Reply {
 public:
  using Reply::Reply;
  Errno Attr(const abi::fuse_attr& attr, absl::Duration timeout);
};

class ReplyOpen : public Reply {
 public:
  using Reply::Reply;
  Errno Open(const OpenParam& open);
};

// READ and READLINK: the bytes go out with writev straight from the caller's
// buffers, never copied.
class ReplyData : public Reply {
 public:
  using Reply::Reply;
  Errno Data(absl::Span<const uint8_t> data);
  Errno Data(absl::string_view data);
  Errno DataIov(absl::Span<const struct iovec> parts);
  // READ from a file: `size` bytes of `fd` at `offset`, fewer at its end.
  // On /dev/fuse with InitOptions::splice_write the pages are spliced to
  // the kernel and never copied into the daemon; otherwise (the fake
  // kernel's socket, splice off or refused) they are pread into a
  // per-thread buffer and written. `fd` must stay open until this returns.
  // A read error before the first byte answers that error.
  Errno DataFromFd(int fd, off_t offset, size_t size);
};

class ReplyWrite : public Reply {
 public:
  using Reply::Reply;
  Errno Written(uint64_t bytes);  // COPY_FILE_RANGE too (fuse_write_out)
};

class ReplyStatfs : public Reply {
 public:
  using Reply::Reply;
  Errno Statfs(const abi::fuse_kstatfs& st);
};

// GETXATTR and LISTXATTR: the size alone when the caller asked with size 0,
// the data otherwise (ERANGE when it does not fit).
class ReplyXattr : public Reply {
 public:
  using Reply::Reply;
  Errno Size(uint32_t size);
  Errno Data(absl::Span<const uint8_t> data);
};

class ReplyLock : public Reply {
 public:
  using Reply::Reply;
  Errno Lock(const abi::fuse_file_lock& lock);
};

class ReplyBmap : public Reply {
 public:
  using Reply::Reply;
  Errno Block(uint64_t block);
};

class ReplyIoctl : public Reply {
 public:
  using Reply::Reply;
  Errno Result(int32_t result, absl::Span<const uint8_t> out_data);
};

class ReplyPoll : public Reply {
 public:
  using Reply::Reply;
  Errno Events(uint32_t revents);
};

class ReplyLseek : public Reply {
 public:
  using Reply::Reply;
  Errno Offset(uint64_t offset);
};

class ReplyStatx : public Reply {
 public:
  using Reply::Reply;
  Errno Statx(const abi::fuse_statx& stat, absl::Duration attr_timeout);
};

// READDIR and READDIRPLUS: entries are packed into a buffer of at most the
// size the kernel asked for. Add*() returns false (adding nothing) once an
// entry no longer fits; the filesystem stops there and resumes at that
// entry's offset on the next call. `next_offset` is the offset the kernel
// passes back to continue *after* this entry: never 0, strictly usable.
class ReplyDirectory : public Reply {
 public:
  ReplyDirectory(Session* session, int fd, RequestContext context, uint32_t opcode,
                 uint32_t max_size);
  bool plus() const;
  // READDIR: d_type is the S_IFMT bits of the mode shifted down by 12.
  bool Add(absl::string_view name, uint64_t ino, uint32_t d_type, uint64_t next_offset);
  // READDIRPLUS: the entry's lookup count rises by one in the kernel when
  // the reply is accepted, unless entry.nodeid is 0.
  bool AddPlus(absl::string_view name, const EntryParam& entry, uint64_t next_offset);
  // True if an entry named `name` would fit.
  bool Fits(absl::string_view name) const;
  size_t entry_count() const { return count_; }
  Errno Send();

 private:
  std::string buffer_;
  uint32_t max_size_;
  size_t count_ = 0;
};

}  // namespace fusekit
