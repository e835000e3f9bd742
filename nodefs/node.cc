#include "nodefs/node.h"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>

#include "nodefs/inode.h"

namespace fusekit {
namespace {
constexpr Errno kReadOnly(EROFS);
}  // namespace

const std::vector<uint32_t>& Context::supplementary_groups() const {
  static const std::vector<uint32_t> kNone;
  return reply_ ? reply_->context().supplementary_groups : kNone;
}

bool ListDirStream::Next(DirStreamEntry* entry, Errno* error) {
  if (next_ >= entries_.size()) return false;
  *entry = std::move(entries_[next_++]);
  return true;
}

// --- Node defaults ------------------------------------------------------------------

Errno Node::Lookup(const Context&, absl::string_view name, EntryOut*, Inode** child) {
  *child = inode()->GetChild(name);
  return *child != nullptr ? kOk : Errno(ENOENT);
}

// The bridge fills in the defaults before calling; nothing to add.
Errno Node::Getattr(const Context&, FileHandle*, AttrOut*) { return kOk; }

Errno Node::Setattr(const Context&, FileHandle*, const SetattrIn&, AttrOut*) { return kReadOnly; }

uint32_t ModeAfterKill(uint32_t mode, bool suid_sgid) {
  if (!S_ISREG(mode) || !suid_sgid) return mode;
  mode &= ~static_cast<uint32_t>(S_ISUID);
  if (mode & S_IXGRP) mode &= ~static_cast<uint32_t>(S_ISGID);
  return mode;
}

Errno Node::KillPrivileges(const Context& ctx, FileHandle* fh, PrivilegeKill* kill) {
  if (kill->suid_sgid) {
    AttrOut attr;
    Errno e = Getattr(ctx, fh, &attr);
    if (!e.ok()) return e;
    const uint32_t mode = ModeAfterKill(attr.attr.mode, true);
    if (mode != attr.attr.mode) {
      SetattrIn in{};
      in.valid = abi::kFattrMode;
      in.mode = mode;
      e = Setattr(ctx, fh, in, &attr);
      if (!e.ok()) return e;
      kill->mode_changed = true;
    }
  }
  if (kill->capability) {
    Errno e = Removexattr(ctx, "security.capability");
    if (!e.ok() && e != Errno(ENODATA) && e != Errno(ENOTSUP) && e != Errno(ENOSYS)) return e;
  }
  return kOk;
}

Errno Node::Access(const Context&, uint32_t) { return kOk; }

Errno Node::Readlink(const Context&, std::string*) { return Errno(EINVAL); }

Errno Node::Statfs(const Context&, abi::fuse_kstatfs*) { return kOk; }

Errno Node::Statx(const Context& ctx, FileHandle* fh, uint32_t mask, abi::fuse_statx* out,
                  absl::Duration* timeout) {
  // Built from Getattr, through the same defaults the bridge applies.
  AttrOut attr{.timeout = *timeout};
  attr.attr.ino = inode()->stable().ino;
  attr.attr.mode = inode()->stable().mode | (inode()->IsDir() ? 0755 : 0644);
  attr.attr.nlink = inode()->IsDir() ? 2 : 1;
  Errno e = Getattr(ctx, fh, &attr);
  if (!e.ok()) return e;
  const abi::fuse_attr& a = attr.attr;
  *out = {};
  out->mask = STATX_BASIC_STATS;
  out->blksize = a.blksize;
  out->nlink = a.nlink;
  out->uid = a.uid;
  out->gid = a.gid;
  out->mode = static_cast<uint16_t>(a.mode);
  out->ino = a.ino;
  out->size = a.size;
  out->blocks = a.blocks;
  out->atime = {static_cast<int64_t>(a.atime), a.atimensec, 0};
  out->mtime = {static_cast<int64_t>(a.mtime), a.mtimensec, 0};
  out->ctime = {static_cast<int64_t>(a.ctime), a.ctimensec, 0};
  out->rdev_major = a.rdev >> 8;
  out->rdev_minor = a.rdev & 0xff;
  *timeout = attr.timeout;
  return kOk;
}

Errno Node::Mknod(const Context&, absl::string_view, uint32_t, uint32_t, EntryOut*, Inode**) {
  return kReadOnly;
}
Errno Node::Mkdir(const Context&, absl::string_view, uint32_t, EntryOut*, Inode**) {
  return kReadOnly;
}
Errno Node::Symlink(const Context&, absl::string_view, absl::string_view, EntryOut*, Inode**) {
  return kReadOnly;
}
Errno Node::Link(const Context&, Inode*, absl::string_view, EntryOut*, Inode**) {
  return kReadOnly;
}
Errno Node::Unlink(const Context&, absl::string_view) { return kReadOnly; }
Errno Node::Rmdir(const Context&, absl::string_view) { return kReadOnly; }
Errno Node::Rename(const Context&, absl::string_view, Inode*, absl::string_view, uint32_t) {
  return kReadOnly;
}
Errno Node::Create(const Context&, absl::string_view, uint32_t, uint32_t, EntryOut*, Inode**,
                   OpenOut*) {
  return kReadOnly;
}

Errno Node::Open(const Context&, uint32_t flags, OpenOut*) {
  return (flags & O_ACCMODE) == O_RDONLY && !(flags & O_TRUNC) ? kOk : kReadOnly;
}

Errno Node::Opendir(const Context&, OpenOut*) { return kOk; }

namespace {

// The tree's own listing of a directory: ".", "..", then the children in
// the order they were added, read from the live tree a batch at a time.
// Offsets are the children's cookies (nodefs/child_table.h) moved past the
// two dot entries, so the stream seeks exactly and a listing's offsets stay
// valid in the next listing. A listing of a big directory costs per READDIR
// only what it returns (a snapshot of every child at opendir cost ~1 us per
// entry), and an entry present throughout comes exactly once even while
// others are added or removed.
class TreeDirStream : public DirStream {
 public:
  TreeDirStream(std::shared_ptr<Inode> dir, uint64_t parent_ino)
      : dir_(std::move(dir)), parent_ino_(parent_ino) {
    Seek(0);
  }

  bool Next(DirStreamEntry* entry, Errno*) override {
    if (next_ == batch_.size()) {
      if (at_end_) return false;
      batch_.clear();
      next_ = 0;
      dir_->ChildrenAfter(last_cookie_, batch_size_, &batch_);
      if (batch_.size() < batch_size_) at_end_ = true;
      batch_size_ = std::min(batch_size_ * 2, kMaxBatch);
      if (batch_.empty()) return false;
      last_cookie_ = batch_.back().offset;
      for (DirStreamEntry& e : batch_) e.offset += kDotEntries;
    }
    *entry = std::move(batch_[next_++]);
    return true;
  }

  bool Seek(uint64_t offset) override {
    batch_.clear();
    next_ = 0;
    at_end_ = false;
    if (offset < 1) batch_.push_back({".", S_IFDIR, dir_->stable().ino, 1});
    if (offset < 2) batch_.push_back({"..", S_IFDIR, parent_ino_, 2});
    last_cookie_ = offset > kDotEntries ? offset - kDotEntries : 0;
    batch_size_ = kFirstBatch;
    return true;
  }

 private:
  // Batches grow from what a 4 KiB reply takes after a seek (a seekdir
  // reads one chunk) to about a 32 KiB reply's worth of short names.
  static constexpr size_t kFirstBatch = 32, kMaxBatch = 256;
  size_t batch_size_ = kFirstBatch;
  // "." has offset 1, ".." 2, and a child its cookie plus 2.
  static constexpr uint64_t kDotEntries = 2;
  const std::shared_ptr<Inode> dir_;
  const uint64_t parent_ino_;
  std::vector<DirStreamEntry> batch_;
  size_t next_ = 0;
  uint64_t last_cookie_ = 0;  // children after this one come next
  bool at_end_ = false;
};

}  // namespace

Errno Node::Readdir(const Context&, std::unique_ptr<DirStream>* stream) {
  std::vector<std::pair<Inode*, std::string>> parents = inode()->Parents();
  uint64_t parent_ino = parents.empty() ? inode()->stable().ino : parents[0].first->stable().ino;
  *stream = std::make_unique<TreeDirStream>(inode()->shared_from_this(), parent_ino);
  return kOk;
}

Errno Node::Getxattr(const Context&, absl::string_view, std::string*) { return Errno(ENODATA); }
Errno Node::Setxattr(const Context&, absl::string_view, absl::Span<const uint8_t>, uint32_t) {
  return Errno(ENOTSUP);
}
Errno Node::Listxattr(const Context&, std::vector<std::string>*) { return kOk; }
Errno Node::Removexattr(const Context&, absl::string_view) { return Errno(ENOTSUP); }

Errno Node::Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out) {
  return fh ? fh->Read(ctx, offset, out) : Errno(EBADF);
}
Errno Node::Write(const Context& ctx, FileHandle* fh, uint64_t offset,
                  absl::Span<const uint8_t> data, uint32_t* written) {
  return fh ? fh->Write(ctx, offset, data, written) : Errno(EBADF);
}
Errno Node::WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset, WritePayload& payload,
                     uint32_t* written) {
  absl::Span<const uint8_t> data;
  Errno e = payload.Materialize(&data);
  return e.ok() ? Write(ctx, fh, offset, data, written) : e;
}
Errno Node::Flush(const Context& ctx, FileHandle* fh) { return fh ? fh->Flush(ctx) : kOk; }
Errno Node::Fsync(const Context& ctx, FileHandle* fh, bool datasync) {
  return fh ? fh->Fsync(ctx, datasync) : kOk;
}
Errno Node::Fallocate(const Context& ctx, FileHandle* fh, uint64_t offset, uint64_t length,
                      uint32_t mode) {
  return fh ? fh->Fallocate(ctx, offset, length, mode) : Errno(EOPNOTSUPP);
}
Errno Node::Lseek(const Context& ctx, FileHandle* fh, uint64_t offset, uint32_t whence,
                  uint64_t* result) {
  return fh ? fh->Lseek(ctx, offset, whence, result) : Errno(ENOSYS);
}

// --- FileHandle defaults ---------------------------------------------------------------

Errno FileHandle::Read(const Context&, uint64_t, ReadResult*) { return Errno(EBADF); }
Errno FileHandle::Write(const Context&, uint64_t, absl::Span<const uint8_t>, uint32_t*) {
  return Errno(EBADF);
}
Errno FileHandle::WriteBuf(const Context& ctx, uint64_t offset, WritePayload& payload,
                           uint32_t* written) {
  absl::Span<const uint8_t> data;
  Errno e = payload.Materialize(&data);
  return e.ok() ? Write(ctx, offset, data, written) : e;
}
Errno FileHandle::Flush(const Context&) { return kOk; }
Errno FileHandle::Release(const Context&) { return kOk; }
Errno FileHandle::Fsync(const Context&, bool) { return kOk; }
Errno FileHandle::Fallocate(const Context&, uint64_t, uint64_t, uint32_t) {
  return Errno(EOPNOTSUPP);
}
Errno FileHandle::Lseek(const Context&, uint64_t, uint32_t, uint64_t*) { return Errno(ENOSYS); }
Errno FileHandle::Getlk(const Context&, uint64_t, abi::fuse_file_lock*) { return Errno(ENOSYS); }
Errno FileHandle::Setlk(const Context&, uint64_t, const abi::fuse_file_lock&, bool, bool) {
  return Errno(ENOSYS);
}
Errno FileHandle::Ioctl(const Context&, uint32_t, uint64_t, absl::Span<const uint8_t>,
                        std::string*, int32_t*) {
  return Errno(ENOTTY);
}
Errno FileHandle::Poll(const Context&, uint32_t events, uint32_t* revents) {
  *revents = events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
  return kOk;
}
Errno FileHandle::CopyFileRange(const Context&, uint64_t, FileHandle*, uint64_t, uint64_t,
                                uint64_t*) {
  return Errno(EXDEV);
}
Errno FileHandle::Readdir(const Context&, std::unique_ptr<DirStream>*) { return Errno(ENOSYS); }

}  // namespace fusekit
