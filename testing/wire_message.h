// The fake kernel's messages: requests it builds and encodes as the kernel
// lays them out on /dev/fuse, and replies it decodes. Knows the wire format
// and nothing of caches or transports; written independently of the core's
// decoder (fuse/request.h) so that one can check the other.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"

namespace fusekit {

// Who a request comes from (fuse_in_header uid, gid, pid).
struct Caller {
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t pid = 0;
};

// One request, before it gets its unique. Builders below fill it the way
// fs/fuse fills its args; tests may also build odd ones field by field.
// A value type: thread-compatible.
struct FuseRequest {
  abi::Opcode opcode = abi::Opcode::kLookup;
  uint64_t nodeid = 0;
  std::string arg;                 // the fixed argument struct, full size
  std::vector<std::string> names;  // each is sent followed by a NUL
  std::string payload;             // WRITE data, SETXATTR value, forget list
  std::string extensions;          // request extensions, 8-byte records
  // Unset: the fake kernel's caller (FakeKernelOptions::caller). FORGET,
  // BATCH_FORGET and INTERRUPT always go out with zeros, as the kernel's do.
  std::optional<Caller> caller;

  template <typename T>
  void SetArg(const T& value) {
    arg.assign(reinterpret_cast<const char*>(&value), sizeof(value));
  }
  // The argument struct (zero-filled past what `arg` holds).
  template <typename T>
  T Arg() const {
    T value{};
    std::memcpy(&value, arg.data(), std::min(arg.size(), sizeof(T)));
    return value;
  }
  // Changes fields of the argument struct: `edit(T&)`, e.g. to set a flag
  // a builder does not take.
  template <typename T, typename Edit>
  void EditArg(Edit edit) {
    T value = Arg<T>();
    edit(value);
    SetArg(value);
  }
  // The first / second name, or "" if absent.
  absl::string_view name() const {
    return names.empty() ? absl::string_view() : absl::string_view(names[0]);
  }
  absl::string_view name2() const {
    return names.size() < 2 ? absl::string_view() : absl::string_view(names[1]);
  }

  // The frame: fuse_in_header, then `arg` cut to `arg_size` bytes (older
  // protocol minors take shorter structs), names, payload, extensions.
  std::string Encode(uint64_t unique, const Caller& from, size_t arg_size) const;

  // --- Builders, one per opcode ---------------------------------------
  static FuseRequest Init(uint32_t major, uint32_t minor, uint32_t max_readahead, uint64_t flags);
  static FuseRequest Destroy();
  static FuseRequest Lookup(uint64_t parent, absl::string_view name);
  static FuseRequest Forget(uint64_t nodeid, uint64_t nlookup);
  static FuseRequest BatchForget(absl::Span<const abi::fuse_forget_one> forgets);
  static FuseRequest Getattr(uint64_t nodeid, std::optional<uint64_t> fh = std::nullopt);
  static FuseRequest Setattr(uint64_t nodeid, const abi::fuse_setattr_in& in);
  static FuseRequest Readlink(uint64_t nodeid);
  static FuseRequest Symlink(uint64_t parent, absl::string_view name, absl::string_view target);
  static FuseRequest Mknod(uint64_t parent, absl::string_view name, uint32_t mode, uint32_t rdev,
                           uint32_t umask);
  static FuseRequest Mkdir(uint64_t parent, absl::string_view name, uint32_t mode,
                           uint32_t umask);
  static FuseRequest Unlink(uint64_t parent, absl::string_view name);
  static FuseRequest Rmdir(uint64_t parent, absl::string_view name);
  // RENAME when `flags` is 0, RENAME2 otherwise (as fs/fuse/dir.c does).
  static FuseRequest Rename(uint64_t parent, absl::string_view name, uint64_t new_parent,
                            absl::string_view new_name, uint32_t flags);
  static FuseRequest Link(uint64_t nodeid, uint64_t new_parent, absl::string_view new_name);
  // OPEN, or OPENDIR when `dir`.
  static FuseRequest Open(uint64_t nodeid, uint32_t flags, bool dir = false);
  static FuseRequest Create(uint64_t parent, absl::string_view name, uint32_t flags,
                            uint32_t mode, uint32_t umask);
  // open(O_TMPFILE) in `dir`; the kernel names the unnamed dentry "/".
  static FuseRequest Tmpfile(uint64_t dir, uint32_t flags, uint32_t mode, uint32_t umask);
  static FuseRequest Read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size,
                          uint32_t flags = 0);
  static FuseRequest Write(uint64_t nodeid, uint64_t fh, uint64_t offset, absl::string_view data,
                           uint32_t flags = 0);
  static FuseRequest Statfs(uint64_t nodeid);
  // RELEASE, or RELEASEDIR when `dir`.
  static FuseRequest Release(uint64_t nodeid, uint64_t fh, uint32_t flags, bool dir = false,
                             uint32_t release_flags = 0, uint64_t lock_owner = 0);
  // FSYNC, or FSYNCDIR when `dir`.
  static FuseRequest Fsync(uint64_t nodeid, uint64_t fh, bool datasync, bool dir = false);
  static FuseRequest Flush(uint64_t nodeid, uint64_t fh, uint64_t lock_owner);
  static FuseRequest Setxattr(uint64_t nodeid, absl::string_view name, absl::string_view value,
                              uint32_t flags);
  static FuseRequest Getxattr(uint64_t nodeid, absl::string_view name, uint32_t size);
  static FuseRequest Listxattr(uint64_t nodeid, uint32_t size);
  static FuseRequest Removexattr(uint64_t nodeid, absl::string_view name);
  // READDIR, or READDIRPLUS when `plus`.
  static FuseRequest Readdir(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size,
                             bool plus);
  static FuseRequest Getlk(uint64_t nodeid, uint64_t fh, uint64_t owner,
                           const abi::fuse_file_lock& lock, uint32_t lk_flags = 0);
  // SETLK, or SETLKW when `wait`.
  static FuseRequest Setlk(uint64_t nodeid, uint64_t fh, uint64_t owner,
                           const abi::fuse_file_lock& lock, bool wait, uint32_t lk_flags = 0);
  static FuseRequest Access(uint64_t nodeid, uint32_t mask);
  static FuseRequest Interrupt(uint64_t target_unique);
  static FuseRequest Fallocate(uint64_t nodeid, uint64_t fh, uint64_t offset, uint64_t length,
                               uint32_t mode);
  static FuseRequest Lseek(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t whence);
  // COPY_FILE_RANGE, or COPY_FILE_RANGE_64 when `wide` (protocol 7.45).
  static FuseRequest CopyFileRange(uint64_t nodeid_in, uint64_t fh_in, uint64_t off_in,
                                   uint64_t nodeid_out, uint64_t fh_out, uint64_t off_out,
                                   uint64_t len, uint64_t flags, bool wide);
  static FuseRequest Syncfs(uint64_t nodeid);
  // NOTIFY_REPLY answering a RETRIEVE notification with `data`; it goes
  // out with the notification's notify_unique as its unique.
  static FuseRequest NotifyReply(uint64_t nodeid, uint64_t offset, absl::string_view data);
};

// One message from the server: a reply (unique != 0) or a notification
// (unique == 0; the notify code is then in header.error).
struct FuseReply {
  abi::fuse_out_header header{};
  std::string body;  // what follows the header

  // A bare error reply, as the kernel hands it to a caller.
  static FuseReply ErrorFor(uint64_t unique, Errno error);

  uint64_t unique() const { return header.unique; }
  // The reply's errno (positive); kOk for a success reply.
  Errno error() const { return Errno(-header.error); }
  // The body as T, zero-filled if shorter.
  template <typename T>
  T As(size_t offset = 0) const {
    T value{};
    if (offset < body.size()) {
      std::memcpy(&value, body.data() + offset, std::min(body.size() - offset, sizeof(T)));
    }
    return value;
  }
};

// Splits one message into header and body. False if shorter than a header.
bool DecodeReply(absl::string_view message, FuseReply* reply);

// One entry of a READDIR / READDIRPLUS reply.
struct ParsedDirent {
  std::string name;
  uint64_t ino = 0;
  uint64_t off = 0;   // where a READDIR continues after this entry
  uint32_t type = 0;  // DT_*
  std::optional<abi::fuse_entry_out> entry;  // READDIRPLUS only
};

// Parses a directory reply as fs/fuse/readdir.c does. Entries are returned
// up to the first malformed record; what is wrong with it (a record cut
// short, namelen 0 or above 255, a '/' in the name) goes to `problems`.
std::vector<ParsedDirent> ParseDirents(absl::string_view body, bool plus,
                                       std::vector<std::string>* problems);

// Builds a directory reply body, for tests that play the server by hand.
std::string EncodeDirent(absl::string_view name, uint64_t ino, uint64_t off, uint32_t type);
std::string EncodeDirentplus(absl::string_view name, const abi::fuse_entry_out& entry,
                             uint64_t off);

// Human-readable names used in traces.
absl::string_view NotifyCodeName(int32_t code);
// "REG", "DIR", ... for the S_IFMT bits of `mode`.
absl::string_view FileTypeName(uint32_t mode);

}  // namespace fusekit
