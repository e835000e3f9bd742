#include "nodefs/mem_node.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <time.h>

#include <algorithm>
#include <cstring>

namespace fusekit {
namespace {

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

// The largest file we agree to hold (sparse files are stored densely).
constexpr uint64_t kMaxFileSize = uint64_t{1} << 32;

}  // namespace

// --- MemNode ---------------------------------------------------------------------

MemNode::MemNode(uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev)
    : mode_(mode), uid_(uid), gid_(gid), rdev_(rdev) {
  atime_ = mtime_ = ctime_ = Now();
}

void MemNode::FillAttrLocked(abi::fuse_attr* a) {
  a->mode = mode_;
  a->uid = uid_;
  a->gid = gid_;
  a->rdev = rdev_;
  a->size = SizeLocked();
  a->blocks = (a->size + 511) / 512;
  a->blksize = 4096;
  a->atime = atime_.tv_sec;
  a->atimensec = atime_.tv_nsec;
  a->mtime = mtime_.tv_sec;
  a->mtimensec = mtime_.tv_nsec;
  a->ctime = ctime_.tv_sec;
  a->ctimensec = ctime_.tv_nsec;
}

Errno MemNode::Getattr(const Context&, FileHandle*, AttrOut* out) {
  // A file's link count is the number of names the tree holds for it.
  size_t links = inode()->Parents().size();
  MutexLock lock(&mu_);
  FillAttrLocked(&out->attr);
  out->attr.nlink = static_cast<uint32_t>(links);
  return kOk;
}

Errno MemNode::TruncateLocked(uint64_t) {
  return Errno((mode_ & S_IFMT) == S_IFDIR ? EISDIR : EINVAL);
}

Errno MemNode::Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) {
  {
    MutexLock lock(&mu_);
    struct timespec now = Now();
    if (in.valid & abi::kFattrSize) {
      Errno e = TruncateLocked(in.size);
      if (!e.ok()) return e;
      mtime_ = now;
    }
    if (in.valid & abi::kFattrMode) mode_ = (mode_ & S_IFMT) | (in.mode & 07777);
    if (in.valid & abi::kFattrUid) uid_ = in.uid;
    if (in.valid & abi::kFattrGid) gid_ = in.gid;
    if (in.valid & abi::kFattrAtime) {
      atime_ = (in.valid & abi::kFattrAtimeNow)
                   ? now
                   : timespec{static_cast<time_t>(in.atime), static_cast<long>(in.atimensec)};
    }
    if (in.valid & abi::kFattrMtime) {
      mtime_ = (in.valid & abi::kFattrMtimeNow)
                   ? now
                   : timespec{static_cast<time_t>(in.mtime), static_cast<long>(in.mtimensec)};
    }
    // Any attribute change is a status change (POSIX: ctime).
    ctime_ = (in.valid & abi::kFattrCtime)
                 ? timespec{static_cast<time_t>(in.ctime), static_cast<long>(in.ctimensec)}
                 : now;
  }
  return Getattr(ctx, fh, out);
}

Errno MemNode::Getxattr(const Context&, absl::string_view name, std::string* value) {
  MutexLock lock(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno(ENODATA);
  *value = it->second;
  return kOk;
}

Errno MemNode::Setxattr(const Context&, absl::string_view name, absl::Span<const uint8_t> value,
                        uint32_t flags) {
  MutexLock lock(&mu_);
  auto it = xattrs_.find(name);
  if ((flags & XATTR_CREATE) && it != xattrs_.end()) return Errno(EEXIST);
  if ((flags & XATTR_REPLACE) && it == xattrs_.end()) return Errno(ENODATA);
  xattrs_[std::string(name)] =
      std::string(reinterpret_cast<const char*>(value.data()), value.size());
  ctime_ = Now();
  return kOk;
}

Errno MemNode::Listxattr(const Context&, std::vector<std::string>* names) {
  MutexLock lock(&mu_);
  for (auto& [name, value] : xattrs_) names->push_back(name);
  return kOk;
}

Errno MemNode::Removexattr(const Context&, absl::string_view name) {
  MutexLock lock(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno(ENODATA);
  xattrs_.erase(it);
  ctime_ = Now();
  return kOk;
}

void MemNode::TouchModified() {
  MutexLock lock(&mu_);
  mtime_ = ctime_ = Now();
}

void MemNode::TouchChanged() {
  MutexLock lock(&mu_);
  ctime_ = Now();
}

// --- MemFile ---------------------------------------------------------------------

Errno MemFile::Open(const Context&, uint32_t flags, OpenOut*) {
  if (flags & O_TRUNC) {
    MutexLock lock(&mu_);
    if (!data_.empty()) {
      data_.clear();
      mtime_ = ctime_ = Now();
    }
  }
  return kOk;  // no handle: data operations come to the node
}

Errno MemFile::Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) {
  MutexLock lock(&mu_);
  if (offset >= data_.size()) {
    out->SetSize(0);
    return kOk;
  }
  absl::Span<uint8_t> buffer = out->buffer();
  size_t n = std::min<uint64_t>(buffer.size(), data_.size() - offset);
  std::memcpy(buffer.data(), data_.data() + offset, n);
  out->SetSize(n);
  return kOk;
}

Errno MemFile::Write(const Context&, FileHandle*, uint64_t offset, absl::Span<const uint8_t> data,
                     uint32_t* written) {
  if (offset + data.size() > kMaxFileSize) return Errno(EFBIG);
  MutexLock lock(&mu_);
  if (offset + data.size() > data_.size()) data_.resize(offset + data.size(), '\0');
  std::memcpy(data_.data() + offset, data.data(), data.size());
  *written = static_cast<uint32_t>(data.size());
  mtime_ = ctime_ = Now();
  return kOk;
}

Errno MemFile::Fallocate(const Context&, FileHandle*, uint64_t offset, uint64_t length,
                         uint32_t mode) {
  if (offset + length > kMaxFileSize) return Errno(EFBIG);
  MutexLock lock(&mu_);
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    if (!(mode & FALLOC_FL_KEEP_SIZE)) return Errno(EINVAL);
    if (offset < data_.size()) {
      size_t n = std::min<uint64_t>(length, data_.size() - offset);
      std::memset(data_.data() + offset, 0, n);
    }
  } else if (mode & ~FALLOC_FL_KEEP_SIZE) {
    return Errno(EOPNOTSUPP);
  } else if (!(mode & FALLOC_FL_KEEP_SIZE) && offset + length > data_.size()) {
    data_.resize(offset + length, '\0');
  }
  mtime_ = ctime_ = Now();
  return kOk;
}

Errno MemFile::TruncateLocked(uint64_t size) {
  if ((mode_ & S_IFMT) != S_IFREG) return Errno(EINVAL);
  if (size > kMaxFileSize) return Errno(EFBIG);
  data_.resize(size, '\0');
  ctime_ = Now();
  return kOk;
}

std::string MemFile::content() {
  MutexLock lock(&mu_);
  return data_;
}

// --- MemSymlink --------------------------------------------------------------------

MemSymlink::MemSymlink(std::string target, uint32_t uid, uint32_t gid)
    : MemNode(S_IFLNK | 0777, uid, gid), target_(std::move(target)) {}

Errno MemSymlink::Readlink(const Context&, std::string* target) {
  *target = target_;
  return kOk;
}

// --- MemDir --------------------------------------------------------------------------

MemDir::MemDir(uint32_t mode, uint32_t uid, uint32_t gid)
    : MemNode(S_IFDIR | (mode & 07777), uid, gid) {}

Errno MemDir::Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) {
  // A directory's link count: its own entry, ".", and each subdirectory's "..".
  uint32_t subdirs = 0;
  for (auto& [name, child] : inode()->Children()) subdirs += child->IsDir() ? 1 : 0;
  MutexLock lock(&mu_);
  FillAttrLocked(&out->attr);
  out->attr.nlink = 2 + subdirs;
  out->attr.size = 4096;
  return kOk;
}

Errno MemDir::Open(const Context&, uint32_t, OpenOut*) { return Errno(EISDIR); }

Errno MemDir::Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
                    EntryOut*, Inode** child) {
  if (inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type == S_IFDIR || type == S_IFLNK) return Errno(EINVAL);
  *child = inode()->NewInode(
      std::make_unique<MemFile>(type | (mode & 07777), ctx.uid(), ctx.gid(), rdev),
      {.mode = type});
  TouchModified();
  return kOk;
}

Errno MemDir::Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut*,
                    Inode** child) {
  if (inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  *child = inode()->NewInode(std::make_unique<MemDir>(mode, ctx.uid(), ctx.gid()),
                             {.mode = S_IFDIR});
  TouchModified();
  return kOk;
}

Errno MemDir::Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                      EntryOut*, Inode** child) {
  if (inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  *child = inode()->NewInode(
      std::make_unique<MemSymlink>(std::string(target), ctx.uid(), ctx.gid()),
      {.mode = S_IFLNK});
  TouchModified();
  return kOk;
}

Errno MemDir::Link(const Context&, Inode* target, absl::string_view name, EntryOut*,
                   Inode** child) {
  if (target->IsDir()) return Errno(EPERM);
  if (inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  // An unlinked file (open, but no name left) may not get a name back.
  if (target->Parents().empty()) return Errno(ENOENT);
  *child = target;
  if (auto* node = target->node<MemNode>()) node->TouchChanged();
  TouchModified();
  return kOk;
}

Errno MemDir::Unlink(const Context&, absl::string_view name) {
  Inode* child = inode()->GetChild(name);
  if (child == nullptr) return Errno(ENOENT);
  if (child->IsDir()) return Errno(EISDIR);
  if (auto* node = child->node<MemNode>()) node->TouchChanged();
  TouchModified();
  return kOk;
}

Errno MemDir::Rmdir(const Context&, absl::string_view name) {
  Inode* child = inode()->GetChild(name);
  if (child == nullptr) return Errno(ENOENT);
  if (!child->IsDir()) return Errno(ENOTDIR);
  if (!child->Children().empty()) return Errno(ENOTEMPTY);
  TouchModified();
  return kOk;
}

Errno MemDir::Rename(const Context&, absl::string_view name, Inode* new_parent,
                     absl::string_view new_name, uint32_t flags) {
  Inode* source = inode()->GetChild(name);
  if (source == nullptr) return Errno(ENOENT);
  Inode* target = new_parent->GetChild(new_name);
  if (flags & RENAME_EXCHANGE) {
    if (target == nullptr) return Errno(ENOENT);
  } else if (target != nullptr && target != source) {
    if (flags & RENAME_NOREPLACE) return Errno(EEXIST);
    if (source->IsDir() && !target->IsDir()) return Errno(ENOTDIR);
    if (!source->IsDir() && target->IsDir()) return Errno(EISDIR);
    if (target->IsDir() && !target->Children().empty()) return Errno(ENOTEMPTY);
  }
  // A directory may not move into its own subtree (the kernel checks this
  // too; a tree edited directly may not be so careful).
  if (source->IsDir()) {
    for (Inode* at = new_parent; at != nullptr;) {
      if (at == source) return Errno(EINVAL);
      auto parents = at->Parents();
      at = parents.empty() ? nullptr : parents[0].first;
    }
  }
  TouchModified();
  if (auto* dir = new_parent->node<MemNode>()) dir->TouchModified();
  if (auto* node = source->node<MemNode>()) node->TouchChanged();
  return kOk;
}

Errno MemDir::Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
                     EntryOut*, Inode** child, OpenOut*) {
  if (Inode* existing = inode()->GetChild(name)) {
    if (flags & O_EXCL) return Errno(EEXIST);
    if (existing->IsDir()) return Errno(EISDIR);
    *child = existing;
    return kOk;
  }
  *child = inode()->NewInode(
      std::make_unique<MemFile>(S_IFREG | (mode & 07777), ctx.uid(), ctx.gid()),
      {.mode = S_IFREG});
  TouchModified();
  return kOk;
}

}  // namespace fusekit
