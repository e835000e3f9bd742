// FakeVfs: extended attributes, open files (open, read, write, flush,
// release, fsync, lseek, fallocate, copy_file_range) and locks, as fs/fuse
// sends them. Path walks are in fake_vfs.cc.
#include <fcntl.h>
#include <sys/file.h>

#include <climits>
#include <cstdio>

#include "absl/strings/str_split.h"
#include "testing/fake_vfs.h"

namespace fusekit {
namespace {

using abi::Opcode;

constexpr uint32_t kXattrSizeMax = 65536;   // XATTR_SIZE_MAX
constexpr size_t kXattrNameMax = 255;       // XATTR_NAME_MAX
constexpr uint64_t kOffsetMax = LLONG_MAX;  // OFFSET_MAX

// fs/fuse/file.c: fuse_lk_fill from a struct flock (whence SEEK_SET).
abi::fuse_file_lock ToFileLock(const struct flock& l, uint32_t pid) {
  abi::fuse_file_lock lk{};
  uint64_t start = static_cast<uint64_t>(l.l_start);
  lk.start = start;
  lk.end = l.l_len == 0 ? kOffsetMax : start + static_cast<uint64_t>(l.l_len) - 1;
  lk.type = static_cast<uint32_t>(l.l_type);
  lk.pid = l.l_type == F_UNLCK ? 0 : pid;
  return lk;
}

struct flock FromFileLock(const abi::fuse_file_lock& lk) {
  struct flock l {};
  l.l_type = static_cast<short>(lk.type);
  if (lk.type == F_UNLCK) return l;
  l.l_whence = SEEK_SET;
  l.l_start = static_cast<off_t>(lk.start);
  l.l_len = lk.end == kOffsetMax ? 0 : static_cast<off_t>(lk.end - lk.start + 1);
  l.l_pid = static_cast<pid_t>(lk.pid);
  return l;
}

}  // namespace

// --- Extended attributes ---------------------------------------------------------------

Errno FakeVfs::Setxattr(absl::string_view path, absl::string_view name, absl::string_view value,
                        int flags) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  if (value.size() > kXattrSizeMax) return Errno(E2BIG);
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kSetxattr)) return Errno(EOPNOTSUPP);
  Errno e = kernel_
                ->Call(FuseRequest::Setxattr(node->id(), name, value,
                                             static_cast<uint32_t>(flags)))
                .error();
  return e == Errno(ENOSYS) ? Errno(EOPNOTSUPP) : e;
}

Result<std::string> FakeVfs::Getxattr(absl::string_view path, absl::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kGetxattr)) return Errno(EOPNOTSUPP);
  FuseReply r = kernel_->Call(FuseRequest::Getxattr(node->id(), name, kXattrSizeMax));
  if (r.error() == Errno(ENOSYS)) return Errno(EOPNOTSUPP);
  if (!r.error().ok()) return r.error();
  return r.body;
}

Result<size_t> FakeVfs::GetxattrSize(absl::string_view path, absl::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kGetxattr)) return Errno(EOPNOTSUPP);
  FuseReply r = kernel_->Call(FuseRequest::Getxattr(node->id(), name, 0));
  if (r.error() == Errno(ENOSYS)) return Errno(EOPNOTSUPP);
  if (!r.error().ok()) return r.error();
  return static_cast<size_t>(r.As<abi::fuse_getxattr_out>().size);
}

Result<std::vector<std::string>> FakeVfs::Listxattr(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kListxattr)) return Errno(EOPNOTSUPP);
  FuseReply r = kernel_->Call(FuseRequest::Listxattr(node->id(), kXattrSizeMax));
  if (r.error() == Errno(ENOSYS)) return Errno(EOPNOTSUPP);
  if (!r.error().ok()) return r.error();
  std::vector<std::string> names = absl::StrSplit(r.body, '\0', absl::SkipEmpty());
  return names;
}

Result<size_t> FakeVfs::ListxattrSize(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kListxattr)) return Errno(EOPNOTSUPP);
  FuseReply r = kernel_->Call(FuseRequest::Listxattr(node->id(), 0));
  if (r.error() == Errno(ENOSYS)) return Errno(EOPNOTSUPP);
  if (!r.error().ok()) return r.error();
  return static_cast<size_t>(r.As<abi::fuse_getxattr_out>().size);
}

Errno FakeVfs::Removexattr(absl::string_view path, absl::string_view name) {
  if (name.empty() || name.size() > kXattrNameMax) return Errno(ERANGE);
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kRemovexattr)) return Errno(EOPNOTSUPP);
  Errno e = kernel_->Call(FuseRequest::Removexattr(node->id(), name)).error();
  return e == Errno(ENOSYS) ? Errno(EOPNOTSUPP) : e;
}

// --- Open files --------------------------------------------------------------------------

int FakeVfs::AddFile(const OpenFile& file) {
  MutexLock lock(&mu_);
  int fd = next_fd_++;
  files_[fd] = file;
  return fd;
}

Result<FakeVfs::OpenFile> FakeVfs::File(int fd) const {
  MutexLock lock(&mu_);
  auto it = files_.find(fd);
  if (it == files_.end()) return Errno(EBADF);
  return it->second;
}

Result<int> FakeVfs::Open(absl::string_view path, int flags, mode_t mode) {
  if ((flags & O_TMPFILE) == O_TMPFILE) {
    if ((flags & O_ACCMODE) == O_RDONLY) return Errno(EINVAL);
    Result<NodeRef> dir = Resolve(path, true);
    if (!dir.ok()) return dir.error();
    std::optional<KernelCache::Node> info = kernel_->NodeInfo(dir->id());
    if (!info.has_value() || info->type != S_IFDIR) return Errno(ENOTDIR);
    if (kernel_->Unsupported(Opcode::kTmpfile)) return Errno(EOPNOTSUPP);
    FuseReply r = kernel_->CallAndHold(FuseRequest::Tmpfile(
        dir->id(), static_cast<uint32_t>(flags) & ~O_NOCTTY, S_IFREG | ApplyUmask(mode & 07777),
        umask_));
    if (r.error() == Errno(ENOSYS)) return Errno(EOPNOTSUPP);  // fc->no_tmpfile
    if (!r.error().ok()) return r.error();
    abi::fuse_entry_out entry = r.As<abi::fuse_entry_out>();
    NodeRef made(kernel_, entry.nodeid);
    abi::fuse_open_out out = r.As<abi::fuse_open_out>(sizeof(abi::fuse_entry_out));
    OpenFile file;
    file.nodeid = entry.nodeid;
    file.fh = out.fh;
    file.flags = flags;
    file.open_flags = out.open_flags;
    return AddFile(file);  // TMPFILE's reply holds the node for the file
  }
  if (flags & O_CREAT) {
    Result<ParentAndName> where = ResolveParent(path);
    if (!where.ok()) return where.error() == Errno(EBUSY) ? Errno(EISDIR) : where.error();
    Result<NodeRef> existing = Child(where->dir, where->name);
    if (existing.ok()) {
      if (flags & O_EXCL) return Errno(EEXIST);
      std::optional<KernelCache::Node> info = kernel_->NodeInfo(existing->id());
      if (info.has_value() && info->type == S_IFLNK && !(flags & O_NOFOLLOW)) {
        Result<NodeRef> target = Resolve(path, true);
        if (!target.ok()) return target.error();
        return OpenNode(*target, flags & ~O_CREAT);
      }
      return OpenNode(*existing, flags & ~O_CREAT);
    }
    if (existing.error() != Errno(ENOENT)) return existing.error();
    return CreateFile(*where, flags, mode);
  }
  Result<NodeRef> node = Resolve(path, !(flags & O_NOFOLLOW));
  if (!node.ok()) return node.error();
  return OpenNode(*node, flags);
}

Result<int> FakeVfs::CreateFile(const ParentAndName& where, int flags, mode_t mode) {
  const uint32_t perm = ApplyUmask(mode & 07777);
  if (!kernel_->Unsupported(Opcode::kCreate)) {
    FuseRequest create =
        FuseRequest::Create(where.dir.id(), where.name, static_cast<uint32_t>(flags) & ~O_NOCTTY,
                            S_IFREG | perm, umask_);
    if ((flags & O_TRUNC) && !(flags & O_EXCL) && KillSuidgidOnWrite()) {
      create.EditArg<abi::fuse_create_in>(
          [](auto& in) { in.open_flags |= abi::kOpenInKillSuidgid; });
    }
    FuseReply r = kernel_->CallAndHold(create);
    if (r.error().ok()) {
      abi::fuse_entry_out entry = r.As<abi::fuse_entry_out>();
      NodeRef made(kernel_, entry.nodeid);
      abi::fuse_open_out out = r.As<abi::fuse_open_out>(sizeof(abi::fuse_entry_out));
      OpenFile file;
      file.nodeid = entry.nodeid;
      file.fh = out.fh;
      file.flags = flags;
      file.open_flags = out.open_flags;
      return AddFile(file);  // CREATE's reply holds the node for the file
    }
    if (r.error() != Errno(ENOSYS)) return r.error();
  }
  // fc->no_create: MKNOD, then an ordinary OPEN of the new file.
  FuseReply r = kernel_->CallAndHold(
      FuseRequest::Mknod(where.dir.id(), where.name, S_IFREG | perm, 0, umask_));
  if (!r.error().ok()) return r.error();
  NodeRef made(kernel_, r.As<abi::fuse_entry_out>().nodeid);
  return OpenNode(made, flags & ~(O_CREAT | O_EXCL | O_TRUNC));
}

Result<int> FakeVfs::OpenNode(const NodeRef& node, int flags) {
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node.id());
  uint32_t type = info.has_value() ? info->type : 0;
  if (type == S_IFLNK) return Errno(ELOOP);  // O_NOFOLLOW on a symlink
  const bool dir = type == S_IFDIR;
  if (dir && (flags & O_ACCMODE) != O_RDONLY) return Errno(EISDIR);
  if (!dir && (flags & O_DIRECTORY)) return Errno(ENOTDIR);
  // fs/fuse/file.c: fuse_open strips what only the VFS uses; without
  // ATOMIC_O_TRUNC the truncation is a SETATTR after the OPEN.
  uint32_t sent = static_cast<uint32_t>(flags) & ~(O_CREAT | O_EXCL | O_NOCTTY);
  bool truncate_after = false;
  if (!dir && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY &&
      !Granted(abi::kInitAtomicOTrunc)) {
    sent &= ~O_TRUNC;
    truncate_after = true;
  }
  OpenFile file;
  file.nodeid = node.id();
  file.flags = flags;
  file.dir = dir;
  Opcode op = dir ? Opcode::kOpendir : Opcode::kOpen;
  bool need_open = !kernel_->Unsupported(op);
  if (need_open) {
    FuseRequest open = FuseRequest::Open(node.id(), sent, dir);
    if ((sent & O_TRUNC) && KillSuidgidOnWrite()) {
      open.EditArg<abi::fuse_open_in>([](auto& in) { in.open_flags |= abi::kOpenInKillSuidgid; });
    }
    FuseReply r = kernel_->Call(open);
    if (r.error().ok()) {
      abi::fuse_open_out out = r.As<abi::fuse_open_out>();
      file.fh = out.fh;
      file.open_flags = out.open_flags;
    } else if (r.error() == Errno(ENOSYS)) {
      need_open = false;  // fc->no_open: no OPEN, no RELEASE from now on
    } else {
      return r.error();
    }
  }
  if (!need_open) {
    file.opened = false;
    kernel_->Hold(node.id());
  }
  int fd = AddFile(file);
  if (truncate_after) {
    abi::fuse_setattr_in in{};
    in.valid = abi::kFattrSize | abi::kFattrFh;
    in.fh = file.fh;
    Errno e = SetattrNode(node.id(), in);
    if (!e.ok()) {
      Close(fd);
      return e;
    }
  } else if (sent & O_TRUNC) {
    kernel_->InvalidateAttr(node.id());
  }
  return fd;
}

Result<std::string> FakeVfs::Read(int fd, size_t size, off_t offset) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (file->dir) return Errno(EISDIR);
  if ((file->flags & O_ACCMODE) == O_WRONLY) return Errno(EBADF);
  if (offset < 0) return Errno(EINVAL);
  const uint32_t chunk_limit = kernel_->max_read();
  std::string data;
  while (data.size() < size) {
    uint32_t chunk = static_cast<uint32_t>(std::min<size_t>(size - data.size(), chunk_limit));
    FuseReply r = kernel_->Call(FuseRequest::Read(
        file->nodeid, file->fh, static_cast<uint64_t>(offset) + data.size(), chunk,
        static_cast<uint32_t>(file->flags)));
    if (!r.error().ok()) {
      if (data.empty()) return r.error();
      break;
    }
    data += r.body;
    if (r.body.size() < chunk) break;  // end of file
  }
  return data;
}

Result<size_t> FakeVfs::Write(int fd, absl::string_view data, off_t offset) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (file->dir || (file->flags & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
  if (offset < 0) return Errno(EINVAL);
  uint64_t at = static_cast<uint64_t>(offset);
  if (file->flags & O_APPEND) {
    Result<abi::fuse_attr> attr = kernel_->Attr(file->nodeid, file->fh);
    if (!attr.ok()) return attr.error();
    at = attr->size;
  }
  const uint32_t chunk_limit = kernel_->max_write();
  const bool kill_suidgid = KillSuidgidOnWrite();
  size_t done = 0;
  while (done < data.size()) {
    absl::string_view chunk = data.substr(done, chunk_limit);
    FuseRequest write = FuseRequest::Write(file->nodeid, file->fh, at + done, chunk,
                                           static_cast<uint32_t>(file->flags));
    if (kill_suidgid) {
      write.EditArg<abi::fuse_write_in>([](auto& in) { in.write_flags |= abi::kWriteKillSuidgid; });
    }
    FuseReply r = kernel_->Call(write);
    if (!r.error().ok()) {
      if (done == 0) return r.error();
      break;
    }
    uint32_t written = r.As<abi::fuse_write_out>().size;
    done += written;
    if (written < chunk.size()) break;  // a short write ends the call
  }
  return done;
}

Errno FakeVfs::Flush(int fd) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (file->dir) return kOk;  // directories have no ->flush
  // fs/fuse/file.c: fuse_flush.
  if ((file->open_flags & abi::kOpenNoflush) && !Granted(abi::kInitWritebackCache)) return kOk;
  if (kernel_->Unsupported(Opcode::kFlush)) return kOk;
  Errno e = kernel_->Call(FuseRequest::Flush(file->nodeid, file->fh, lock_owner_)).error();
  return e == Errno(ENOSYS) ? kOk : e;  // fc->no_flush
}

Errno FakeVfs::CloseFile(const OpenFile& file, bool flush) {
  Errno result;
  if (flush && !file.dir && !((file.open_flags & abi::kOpenNoflush) &&
                              !Granted(abi::kInitWritebackCache)) &&
      !kernel_->Unsupported(Opcode::kFlush)) {
    result = kernel_->Call(FuseRequest::Flush(file.nodeid, file.fh, lock_owner_)).error();
    if (result == Errno(ENOSYS)) result = kOk;
  }
  if (!file.opened) {
    kernel_->Release(file.nodeid);
    return result;
  }
  uint32_t release_flags = file.flock ? abi::kReleaseFlockUnlock : 0;
  // The reply (errors are ignored by the kernel) releases the node.
  kernel_->Call(FuseRequest::Release(file.nodeid, file.fh, static_cast<uint32_t>(file.flags),
                                     file.dir, release_flags, file.flock_owner));
  return result;
}

Errno FakeVfs::Close(int fd) {
  OpenFile file;
  {
    MutexLock lock(&mu_);
    auto it = files_.find(fd);
    if (it == files_.end()) return Errno(EBADF);
    file = it->second;
    files_.erase(it);
  }
  return CloseFile(file, /*flush=*/true);
}

Errno FakeVfs::Release(int fd) {
  OpenFile file;
  {
    MutexLock lock(&mu_);
    auto it = files_.find(fd);
    if (it == files_.end()) return Errno(EBADF);
    file = it->second;
    files_.erase(it);
  }
  return CloseFile(file, /*flush=*/false);
}

Errno FakeVfs::Fsync(int fd, bool datasync) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  Opcode op = file->dir ? Opcode::kFsyncdir : Opcode::kFsync;
  if (kernel_->Unsupported(op)) return kOk;
  Errno e =
      kernel_->Call(FuseRequest::Fsync(file->nodeid, file->fh, datasync, file->dir)).error();
  return e == Errno(ENOSYS) ? kOk : e;  // fc->no_fsync / no_fsyncdir
}

Result<off_t> FakeVfs::Lseek(int fd, off_t offset, int whence) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  switch (whence) {
    case SEEK_SET:
    case SEEK_CUR:  // no file position is kept: relative to 0
      if (offset < 0) return Errno(EINVAL);
      return offset;
    case SEEK_END: {
      Result<abi::fuse_attr> attr = kernel_->Attr(file->nodeid, file->fh);
      if (!attr.ok()) return attr.error();
      off_t at = static_cast<off_t>(attr->size) + offset;
      if (at < 0) return Errno(EINVAL);
      return at;
    }
    case SEEK_DATA:
    case SEEK_HOLE:
      break;
    default:
      return Errno(EINVAL);
  }
  if (!kernel_->Unsupported(Opcode::kLseek)) {
    FuseReply r = kernel_->Call(FuseRequest::Lseek(file->nodeid, file->fh,
                                                   static_cast<uint64_t>(offset),
                                                   static_cast<uint32_t>(whence)));
    if (r.error().ok()) return static_cast<off_t>(r.As<abi::fuse_lseek_out>().offset);
    if (r.error() != Errno(ENOSYS)) return r.error();
  }
  // fc->no_lseek: the generic answer, all data and one hole at the end.
  Result<abi::fuse_attr> attr = kernel_->Attr(file->nodeid, file->fh);
  if (!attr.ok()) return attr.error();
  off_t size = static_cast<off_t>(attr->size);
  if (offset < 0 || offset >= size) return Errno(ENXIO);
  return whence == SEEK_DATA ? offset : size;
}

Errno FakeVfs::Fallocate(int fd, int mode, off_t offset, off_t length) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (offset < 0 || length <= 0) return Errno(EINVAL);
  if ((file->flags & O_ACCMODE) == O_RDONLY) return Errno(EBADF);
  if (kernel_->Unsupported(Opcode::kFallocate)) return Errno(EOPNOTSUPP);
  Errno e = kernel_
                ->Call(FuseRequest::Fallocate(file->nodeid, file->fh,
                                              static_cast<uint64_t>(offset),
                                              static_cast<uint64_t>(length),
                                              static_cast<uint32_t>(mode)))
                .error();
  return e == Errno(ENOSYS) ? Errno(EOPNOTSUPP) : e;
}

Result<size_t> FakeVfs::CopyFileRange(int fd_in, off_t off_in, int fd_out, off_t off_out,
                                      size_t length) {
  Result<OpenFile> in = File(fd_in);
  if (!in.ok()) return in.error();
  Result<OpenFile> out = File(fd_out);
  if (!out.ok()) return out.error();
  if (in->dir || out->dir) return Errno(EISDIR);
  if ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY) {
    return Errno(EBADF);
  }
  // fs/fuse/file.c: COPY_FILE_RANGE_64 first (7.45), then the 32-bit one,
  // then the VFS's read-and-write fallback.
  uint32_t minor = kernel_->connection().minor;
  for (Opcode op : {Opcode::kCopyFileRange64, Opcode::kCopyFileRange}) {
    bool wide = op == Opcode::kCopyFileRange64;
    if (minor < (wide ? 45u : 28u) || kernel_->Unsupported(op)) continue;
    uint64_t len = wide ? length : std::min<uint64_t>(length, UINT32_MAX);
    FuseReply r = kernel_->Call(FuseRequest::CopyFileRange(
        in->nodeid, in->fh, static_cast<uint64_t>(off_in), out->nodeid, out->fh,
        static_cast<uint64_t>(off_out), len, 0, wide));
    if (r.error().ok()) {
      return static_cast<size_t>(wide ? r.As<abi::fuse_copy_file_range_out>().bytes_copied
                                      : r.As<abi::fuse_write_out>().size);
    }
    if (r.error() != Errno(ENOSYS)) return r.error();
  }
  Result<std::string> data = Read(fd_in, length, off_in);
  if (!data.ok()) return data.error();
  if (data->empty()) return static_cast<size_t>(0);
  return Write(fd_out, *data, off_out);
}

Result<struct flock> FakeVfs::Getlk(int fd, const struct flock& lock) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (!Granted(abi::kInitPosixLocks)) {
    struct flock none = lock;  // local locks are not modelled: no conflict
    none.l_type = F_UNLCK;
    return none;
  }
  FuseReply r = kernel_->Call(FuseRequest::Getlk(
      file->nodeid, file->fh, lock_owner_, ToFileLock(lock, kernel_->options().caller.pid)));
  if (!r.error().ok()) return r.error();
  return FromFileLock(r.As<abi::fuse_lk_out>().lk);
}

Errno FakeVfs::Setlk(int fd, const struct flock& lock, bool wait) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (!Granted(abi::kInitPosixLocks)) return kOk;  // local, not modelled
  return kernel_
      ->Call(FuseRequest::Setlk(file->nodeid, file->fh, lock_owner_,
                                ToFileLock(lock, kernel_->options().caller.pid), wait))
      .error();
}

Errno FakeVfs::Flock(int fd, int operation) {
  Result<OpenFile> file = File(fd);
  if (!file.ok()) return file.error();
  if (!Granted(abi::kInitFlockLocks)) return kOk;  // local, not modelled
  abi::fuse_file_lock lk{};
  lk.start = 0;
  lk.end = kOffsetMax;
  switch (operation & ~LOCK_NB) {
    case LOCK_SH:
      lk.type = F_RDLCK;
      break;
    case LOCK_EX:
      lk.type = F_WRLCK;
      break;
    case LOCK_UN:
      lk.type = F_UNLCK;
      break;
    default:
      return Errno(EINVAL);
  }
  lk.pid = lk.type == F_UNLCK ? 0 : kernel_->options().caller.pid;
  // A flock belongs to the open file, so the owner is per descriptor.
  const uint64_t owner = lock_owner_ ^ static_cast<uint64_t>(fd);
  {
    MutexLock lock(&mu_);
    auto it = files_.find(fd);
    if (it != files_.end()) {
      it->second.flock = true;  // RELEASE must unlock it
      it->second.flock_owner = owner;
    }
  }
  bool wait = !(operation & LOCK_NB) && lk.type != F_UNLCK;
  return kernel_
      ->Call(FuseRequest::Setlk(file->nodeid, file->fh, owner, lk, wait, abi::kLkFlock))
      .error();
}

// --- Cache control ---------------------------------------------------------------------

Result<uint64_t> FakeVfs::Lookup(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, false);
  if (!node.ok()) return node.error();
  return node->id();
}

Errno FakeVfs::Forget(absl::string_view path) {
  Result<uint64_t> id = Lookup(path);
  if (!id.ok()) return id.error();
  kernel_->ForgetNode(*id);
  return kOk;
}

}  // namespace fusekit
