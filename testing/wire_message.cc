#include "testing/wire_message.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>

namespace fusekit {
namespace {

using abi::Opcode;

template <typename T>
FuseRequest Make(Opcode opcode, uint64_t nodeid, const T& arg) {
  FuseRequest r;
  r.opcode = opcode;
  r.nodeid = nodeid;
  r.SetArg(arg);
  return r;
}

FuseRequest MakeBare(Opcode opcode, uint64_t nodeid) {
  FuseRequest r;
  r.opcode = opcode;
  r.nodeid = nodeid;
  return r;
}

}  // namespace

std::string FuseRequest::Encode(uint64_t unique, const Caller& from, size_t arg_size) const {
  arg_size = std::min(arg_size, arg.size());
  abi::fuse_in_header h{};
  h.opcode = static_cast<uint32_t>(opcode);
  h.unique = unique;
  h.nodeid = nodeid;
  h.uid = from.uid;
  h.gid = from.gid;
  h.pid = from.pid;
  h.total_extlen = static_cast<uint16_t>(extensions.size() / 8);
  std::string frame(sizeof(h), '\0');
  frame.append(arg.data(), arg_size);
  for (const std::string& n : names) {
    frame.append(n);
    frame.push_back('\0');
  }
  frame.append(payload);
  frame.append(extensions);
  h.len = static_cast<uint32_t>(frame.size());
  std::memcpy(frame.data(), &h, sizeof(h));
  return frame;
}

FuseRequest FuseRequest::Init(uint32_t major, uint32_t minor, uint32_t max_readahead,
                              uint64_t flags) {
  abi::fuse_init_in in{};
  in.major = major;
  in.minor = minor;
  in.max_readahead = max_readahead;
  in.flags = static_cast<uint32_t>(flags);
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  FuseRequest r = Make(Opcode::kInit, 0, in);
  r.caller = Caller{};
  return r;
}

FuseRequest FuseRequest::Destroy() {
  FuseRequest r = MakeBare(Opcode::kDestroy, 0);
  r.caller = Caller{};
  return r;
}

FuseRequest FuseRequest::Lookup(uint64_t parent, absl::string_view name) {
  FuseRequest r = MakeBare(Opcode::kLookup, parent);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Forget(uint64_t nodeid, uint64_t nlookup) {
  abi::fuse_forget_in in{};
  in.nlookup = nlookup;
  FuseRequest r = Make(Opcode::kForget, nodeid, in);
  r.caller = Caller{};
  return r;
}

FuseRequest FuseRequest::BatchForget(absl::Span<const abi::fuse_forget_one> forgets) {
  abi::fuse_batch_forget_in in{};
  in.count = static_cast<uint32_t>(forgets.size());
  FuseRequest r = Make(Opcode::kBatchForget, 0, in);
  r.payload.assign(reinterpret_cast<const char*>(forgets.data()),
                   forgets.size() * sizeof(abi::fuse_forget_one));
  r.caller = Caller{};
  return r;
}

FuseRequest FuseRequest::Getattr(uint64_t nodeid, std::optional<uint64_t> fh) {
  abi::fuse_getattr_in in{};
  if (fh.has_value()) {
    in.getattr_flags = abi::kGetattrFh;
    in.fh = *fh;
  }
  return Make(Opcode::kGetattr, nodeid, in);
}

FuseRequest FuseRequest::Setattr(uint64_t nodeid, const abi::fuse_setattr_in& in) {
  return Make(Opcode::kSetattr, nodeid, in);
}

FuseRequest FuseRequest::Readlink(uint64_t nodeid) { return MakeBare(Opcode::kReadlink, nodeid); }

FuseRequest FuseRequest::Symlink(uint64_t parent, absl::string_view name,
                                 absl::string_view target) {
  FuseRequest r = MakeBare(Opcode::kSymlink, parent);
  r.names.emplace_back(name);
  r.names.emplace_back(target);
  return r;
}

FuseRequest FuseRequest::Mknod(uint64_t parent, absl::string_view name, uint32_t mode,
                               uint32_t rdev, uint32_t umask) {
  abi::fuse_mknod_in in{};
  in.mode = mode;
  in.rdev = rdev;
  in.umask = umask;
  FuseRequest r = Make(Opcode::kMknod, parent, in);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Mkdir(uint64_t parent, absl::string_view name, uint32_t mode,
                               uint32_t umask) {
  abi::fuse_mkdir_in in{};
  in.mode = mode;
  in.umask = umask;
  FuseRequest r = Make(Opcode::kMkdir, parent, in);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Unlink(uint64_t parent, absl::string_view name) {
  FuseRequest r = MakeBare(Opcode::kUnlink, parent);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Rmdir(uint64_t parent, absl::string_view name) {
  FuseRequest r = MakeBare(Opcode::kRmdir, parent);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Rename(uint64_t parent, absl::string_view name, uint64_t new_parent,
                                absl::string_view new_name, uint32_t flags) {
  FuseRequest r;
  if (flags == 0) {
    abi::fuse_rename_in in{};
    in.newdir = new_parent;
    r = Make(Opcode::kRename, parent, in);
  } else {
    abi::fuse_rename2_in in{};
    in.newdir = new_parent;
    in.flags = flags;
    r = Make(Opcode::kRename2, parent, in);
  }
  r.names.emplace_back(name);
  r.names.emplace_back(new_name);
  return r;
}

FuseRequest FuseRequest::Link(uint64_t nodeid, uint64_t new_parent, absl::string_view new_name) {
  abi::fuse_link_in in{};
  in.oldnodeid = nodeid;
  FuseRequest r = Make(Opcode::kLink, new_parent, in);
  r.names.emplace_back(new_name);
  return r;
}

FuseRequest FuseRequest::Open(uint64_t nodeid, uint32_t flags, bool dir) {
  abi::fuse_open_in in{};
  in.flags = flags;
  return Make(dir ? Opcode::kOpendir : Opcode::kOpen, nodeid, in);
}

FuseRequest FuseRequest::Create(uint64_t parent, absl::string_view name, uint32_t flags,
                                uint32_t mode, uint32_t umask) {
  abi::fuse_create_in in{};
  in.flags = flags;
  in.mode = mode;
  in.umask = umask;
  FuseRequest r = Make(Opcode::kCreate, parent, in);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Tmpfile(uint64_t dir, uint32_t flags, uint32_t mode, uint32_t umask) {
  abi::fuse_create_in in{};
  in.flags = flags;
  in.mode = mode;
  in.umask = umask;
  FuseRequest r = Make(Opcode::kTmpfile, dir, in);
  r.names.emplace_back("/");  // vfs_tmpfile's slash_name
  return r;
}

FuseRequest FuseRequest::Read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size,
                              uint32_t flags) {
  abi::fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  in.flags = flags;
  return Make(Opcode::kRead, nodeid, in);
}

FuseRequest FuseRequest::Write(uint64_t nodeid, uint64_t fh, uint64_t offset,
                               absl::string_view data, uint32_t flags) {
  abi::fuse_write_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = static_cast<uint32_t>(data.size());
  in.flags = flags;
  FuseRequest r = Make(Opcode::kWrite, nodeid, in);
  r.payload.assign(data.data(), data.size());
  return r;
}

FuseRequest FuseRequest::Statfs(uint64_t nodeid) { return MakeBare(Opcode::kStatfs, nodeid); }

FuseRequest FuseRequest::Release(uint64_t nodeid, uint64_t fh, uint32_t flags, bool dir,
                                 uint32_t release_flags, uint64_t lock_owner) {
  abi::fuse_release_in in{};
  in.fh = fh;
  in.flags = flags;
  in.release_flags = release_flags;
  in.lock_owner = lock_owner;
  return Make(dir ? Opcode::kReleasedir : Opcode::kRelease, nodeid, in);
}

FuseRequest FuseRequest::Fsync(uint64_t nodeid, uint64_t fh, bool datasync, bool dir) {
  abi::fuse_fsync_in in{};
  in.fh = fh;
  in.fsync_flags = datasync ? abi::kFsyncFdatasync : 0;
  return Make(dir ? Opcode::kFsyncdir : Opcode::kFsync, nodeid, in);
}

FuseRequest FuseRequest::Flush(uint64_t nodeid, uint64_t fh, uint64_t lock_owner) {
  abi::fuse_flush_in in{};
  in.fh = fh;
  in.lock_owner = lock_owner;
  return Make(Opcode::kFlush, nodeid, in);
}

FuseRequest FuseRequest::Setxattr(uint64_t nodeid, absl::string_view name,
                                  absl::string_view value, uint32_t flags) {
  abi::fuse_setxattr_in in{};
  in.size = static_cast<uint32_t>(value.size());
  in.flags = flags;
  FuseRequest r = Make(Opcode::kSetxattr, nodeid, in);
  r.names.emplace_back(name);
  r.payload.assign(value.data(), value.size());
  return r;
}

FuseRequest FuseRequest::Getxattr(uint64_t nodeid, absl::string_view name, uint32_t size) {
  abi::fuse_getxattr_in in{};
  in.size = size;
  FuseRequest r = Make(Opcode::kGetxattr, nodeid, in);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Listxattr(uint64_t nodeid, uint32_t size) {
  abi::fuse_getxattr_in in{};
  in.size = size;
  return Make(Opcode::kListxattr, nodeid, in);
}

FuseRequest FuseRequest::Removexattr(uint64_t nodeid, absl::string_view name) {
  FuseRequest r = MakeBare(Opcode::kRemovexattr, nodeid);
  r.names.emplace_back(name);
  return r;
}

FuseRequest FuseRequest::Readdir(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size,
                                 bool plus) {
  abi::fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  in.flags = O_RDONLY | O_DIRECTORY;
  return Make(plus ? Opcode::kReaddirplus : Opcode::kReaddir, nodeid, in);
}

FuseRequest FuseRequest::Getlk(uint64_t nodeid, uint64_t fh, uint64_t owner,
                               const abi::fuse_file_lock& lock, uint32_t lk_flags) {
  abi::fuse_lk_in in{};
  in.fh = fh;
  in.owner = owner;
  in.lk = lock;
  in.lk_flags = lk_flags;
  return Make(Opcode::kGetlk, nodeid, in);
}

FuseRequest FuseRequest::Setlk(uint64_t nodeid, uint64_t fh, uint64_t owner,
                               const abi::fuse_file_lock& lock, bool wait, uint32_t lk_flags) {
  abi::fuse_lk_in in{};
  in.fh = fh;
  in.owner = owner;
  in.lk = lock;
  in.lk_flags = lk_flags;
  return Make(wait ? Opcode::kSetlkw : Opcode::kSetlk, nodeid, in);
}

FuseRequest FuseRequest::Access(uint64_t nodeid, uint32_t mask) {
  abi::fuse_access_in in{};
  in.mask = mask;
  return Make(Opcode::kAccess, nodeid, in);
}

FuseRequest FuseRequest::Interrupt(uint64_t target_unique) {
  abi::fuse_interrupt_in in{};
  in.unique = target_unique;
  FuseRequest r = Make(Opcode::kInterrupt, 0, in);
  r.caller = Caller{};
  return r;
}

FuseRequest FuseRequest::Fallocate(uint64_t nodeid, uint64_t fh, uint64_t offset,
                                   uint64_t length, uint32_t mode) {
  abi::fuse_fallocate_in in{};
  in.fh = fh;
  in.offset = offset;
  in.length = length;
  in.mode = mode;
  return Make(Opcode::kFallocate, nodeid, in);
}

FuseRequest FuseRequest::Lseek(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t whence) {
  abi::fuse_lseek_in in{};
  in.fh = fh;
  in.offset = offset;
  in.whence = whence;
  return Make(Opcode::kLseek, nodeid, in);
}

FuseRequest FuseRequest::CopyFileRange(uint64_t nodeid_in, uint64_t fh_in, uint64_t off_in,
                                       uint64_t nodeid_out, uint64_t fh_out, uint64_t off_out,
                                       uint64_t len, uint64_t flags, bool wide) {
  abi::fuse_copy_file_range_in in{};
  in.fh_in = fh_in;
  in.off_in = off_in;
  in.nodeid_out = nodeid_out;
  in.fh_out = fh_out;
  in.off_out = off_out;
  in.len = len;
  in.flags = flags;
  return Make(wide ? Opcode::kCopyFileRange64 : Opcode::kCopyFileRange, nodeid_in, in);
}

FuseRequest FuseRequest::Syncfs(uint64_t nodeid) {
  return Make(Opcode::kSyncfs, nodeid, abi::fuse_syncfs_in{});
}

FuseRequest FuseRequest::NotifyReply(uint64_t nodeid, uint64_t offset, absl::string_view data) {
  abi::fuse_notify_retrieve_in in{};
  in.offset = offset;
  in.size = static_cast<uint32_t>(data.size());
  FuseRequest r = Make(Opcode::kNotifyReply, nodeid, in);
  r.payload.assign(data.data(), data.size());
  r.caller = Caller{};
  return r;
}

FuseReply FuseReply::ErrorFor(uint64_t unique, Errno error) {
  FuseReply r;
  r.header.len = sizeof(r.header);
  r.header.error = -error.value();
  r.header.unique = unique;
  return r;
}

bool DecodeReply(absl::string_view message, FuseReply* reply) {
  if (message.size() < sizeof(abi::fuse_out_header)) return false;
  std::memcpy(&reply->header, message.data(), sizeof(reply->header));
  reply->body.assign(message.data() + sizeof(reply->header),
                     message.size() - sizeof(reply->header));
  return true;
}

std::vector<ParsedDirent> ParseDirents(absl::string_view body, bool plus,
                                       std::vector<std::string>* problems) {
  std::vector<ParsedDirent> out;
  const size_t fixed = plus ? abi::kNameOffsetDirentplus : abi::kNameOffsetDirent;
  while (!body.empty()) {
    if (body.size() < fixed) {
      problems->push_back("a directory record is cut short (" + std::to_string(body.size()) +
                          " bytes left, the fixed part needs " + std::to_string(fixed) + ")");
      break;
    }
    ParsedDirent d;
    abi::fuse_dirent dirent;
    size_t dirent_at = plus ? sizeof(abi::fuse_entry_out) : 0;
    std::memcpy(&dirent, body.data() + dirent_at, sizeof(dirent));
    if (plus) {
      abi::fuse_entry_out e;
      std::memcpy(&e, body.data(), sizeof(e));
      d.entry = e;
    }
    // fs/fuse/readdir.c: a zero or over-long namelen is -EIO; a record
    // running past the reply ends parsing.
    if (dirent.namelen == 0 || dirent.namelen > 255) {
      problems->push_back("directory entry with namelen " + std::to_string(dirent.namelen) +
                          " (must be 1..255)");
      break;
    }
    size_t reclen = abi::DirentAlign(fixed + dirent.namelen);
    if (reclen > body.size()) {
      problems->push_back("directory entry of " + std::to_string(reclen) +
                          " bytes runs past the end of the reply (" +
                          std::to_string(body.size()) + " bytes left)");
      break;
    }
    d.name.assign(body.data() + fixed, dirent.namelen);
    if (d.name.find('/') != std::string::npos) {
      problems->push_back("directory entry name \"" + d.name + "\" contains '/'");
      break;
    }
    d.ino = dirent.ino;
    d.off = dirent.off;
    d.type = dirent.type;
    out.push_back(std::move(d));
    body.remove_prefix(reclen);
  }
  return out;
}

std::string EncodeDirent(absl::string_view name, uint64_t ino, uint64_t off, uint32_t type) {
  std::string rec(abi::DirentSize(name.size()), '\0');
  abi::fuse_dirent d{};
  d.ino = ino;
  d.off = off;
  d.namelen = static_cast<uint32_t>(name.size());
  d.type = type;
  std::memcpy(rec.data(), &d, sizeof(d));
  std::memcpy(rec.data() + abi::kNameOffsetDirent, name.data(), name.size());
  return rec;
}

std::string EncodeDirentplus(absl::string_view name, const abi::fuse_entry_out& entry,
                             uint64_t off) {
  std::string rec(abi::DirentplusSize(name.size()), '\0');
  abi::fuse_dirent d{};
  d.ino = entry.attr.ino;
  d.off = off;
  d.namelen = static_cast<uint32_t>(name.size());
  d.type = (entry.attr.mode & S_IFMT) >> 12;
  std::memcpy(rec.data(), &entry, sizeof(entry));
  std::memcpy(rec.data() + sizeof(entry), &d, sizeof(d));
  std::memcpy(rec.data() + abi::kNameOffsetDirentplus, name.data(), name.size());
  return rec;
}

absl::string_view NotifyCodeName(int32_t code) {
  switch (static_cast<abi::NotifyCode>(code)) {
    case abi::NotifyCode::kPoll: return "POLL";
    case abi::NotifyCode::kInvalInode: return "INVAL_INODE";
    case abi::NotifyCode::kInvalEntry: return "INVAL_ENTRY";
    case abi::NotifyCode::kStore: return "STORE";
    case abi::NotifyCode::kRetrieve: return "RETRIEVE";
    case abi::NotifyCode::kDelete: return "DELETE";
    case abi::NotifyCode::kResend: return "RESEND";
    case abi::NotifyCode::kIncEpoch: return "INC_EPOCH";
    case abi::NotifyCode::kPrune: return "PRUNE";
  }
  return "UNKNOWN_NOTIFY";
}

absl::string_view FileTypeName(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "REG";
    case S_IFDIR: return "DIR";
    case S_IFLNK: return "LNK";
    case S_IFCHR: return "CHR";
    case S_IFBLK: return "BLK";
    case S_IFIFO: return "FIFO";
    case S_IFSOCK: return "SOCK";
    case 0: return "NONE";
  }
  return "BADTYPE";
}

}  // namespace fusekit
