// FakeVfs: path walks, attributes, names and directory listings. Open
// files, extended attributes and locks are in fake_vfs_files.cc.
#include "testing/fake_vfs.h"

#include <dirent.h>
#include <sys/file.h>
#include <sys/sysmacros.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <deque>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace fusekit {
namespace {

using abi::Opcode;

constexpr int kMaxSymlinks = 40;              // MAXSYMLINKS
constexpr size_t kMaxCheckedListing = 256;    // offsets re-read per listing

std::vector<std::string> Split(absl::string_view path) {
  return absl::StrSplit(path, '/', absl::SkipEmpty());
}

// include/linux/kdev_t.h: new_encode_dev / new_decode_dev, the wire's form.
uint32_t EncodeDev(dev_t dev) {
  uint32_t ma = major(dev);
  uint32_t mi = minor(dev);
  return (mi & 0xff) | (ma << 8) | ((mi & ~0xffu) << 12);
}

dev_t DecodeDev(uint32_t dev) {
  uint32_t ma = (dev & 0xfff00) >> 8;
  uint32_t mi = (dev & 0xff) | ((dev >> 12) & 0xfff00);
  return makedev(ma, mi);
}

struct stat ToStat(const abi::fuse_attr& a) {
  struct stat st {};
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_rdev = DecodeDev(a.rdev);
  st.st_size = static_cast<off_t>(a.size);
  st.st_blocks = static_cast<blkcnt_t>(a.blocks);
  st.st_blksize = a.blksize != 0 ? a.blksize : 4096;  // fuse_fillattr: the sb's blocksize
  st.st_atim = {static_cast<time_t>(a.atime), static_cast<long>(a.atimensec)};
  st.st_mtim = {static_cast<time_t>(a.mtime), static_cast<long>(a.mtimensec)};
  st.st_ctim = {static_cast<time_t>(a.ctime), static_cast<long>(a.ctimensec)};
  return st;
}

uint64_t NextLockOwner() {
  static std::atomic<uint64_t> next{0x10000};
  return next.fetch_add(0x100);
}

}  // namespace

FakeVfs::FakeVfs(FakeKernel* kernel, mode_t umask)
    : kernel_(kernel), umask_(umask & 0777), lock_owner_(NextLockOwner()) {}

FakeVfs::~FakeVfs() {
  std::map<int, OpenFile> files;
  {
    MutexLock lock(&mu_);
    files.swap(files_);
  }
  for (const auto& [fd, file] : files) CloseFile(file, /*flush=*/true);
}

bool FakeVfs::Granted(uint64_t flag) const { return kernel_->connection().Has(flag); }

bool FakeVfs::KillSuidgidOnWrite() const {
  return Granted(abi::kInitHandleKillprivV2) && kernel_->options().caller.uid != 0;
}

uint32_t FakeVfs::ApplyUmask(mode_t mode) const {
  // fs/fuse/dir.c: without DONT_MASK the kernel applies the umask itself.
  return Granted(abi::kInitDontMask) ? mode : mode & ~umask_;
}

// --- Path walks -------------------------------------------------------------------

Result<FakeVfs::NodeRef> FakeVfs::Child(const NodeRef& dir, absl::string_view name) {
  if (name.size() > 255) return Errno(ENAMETOOLONG);
  Result<uint64_t> id = kernel_->WalkStep(dir.id(), name);
  if (!id.ok()) return id.error();
  return NodeRef(kernel_, *id);
}

Result<FakeVfs::NodeRef> FakeVfs::Resolve(absl::string_view path, bool follow_last) {
  if (path.empty()) return Errno(ENOENT);
  std::deque<std::string> todo;
  for (std::string& c : Split(path)) todo.push_back(std::move(c));
  kernel_->Hold(abi::kRootId);
  NodeRef cur(kernel_, abi::kRootId);
  int links = 0;
  while (!todo.empty()) {
    std::string name = std::move(todo.front());
    todo.pop_front();
    std::optional<KernelCache::Node> info = kernel_->NodeInfo(cur.id());
    if (!info.has_value() || info->type != S_IFDIR) return Errno(ENOTDIR);
    if (name == ".") continue;
    if (name == "..") {
      uint64_t parent = cur.id() == abi::kRootId || info->parent == 0 ? abi::kRootId : info->parent;
      kernel_->Hold(parent);
      cur = NodeRef(kernel_, parent);
      continue;
    }
    Result<NodeRef> next = Child(cur, name);
    if (!next.ok()) return next.error();
    std::optional<KernelCache::Node> next_info = kernel_->NodeInfo(next->id());
    if (next_info.has_value() && next_info->type == S_IFLNK && (!todo.empty() || follow_last)) {
      if (++links > kMaxSymlinks) return Errno(ELOOP);
      Result<std::string> target = ReadlinkNode(next->id());
      if (!target.ok()) return target.error();
      if (target->empty()) return Errno(ENOENT);
      std::vector<std::string> parts = Split(*target);
      todo.insert(todo.begin(), parts.begin(), parts.end());
      if ((*target)[0] == '/') {
        kernel_->Hold(abi::kRootId);
        cur = NodeRef(kernel_, abi::kRootId);
      }
      continue;
    }
    cur = std::move(next).value();
  }
  return cur;
}

Result<FakeVfs::ParentAndName> FakeVfs::ResolveParent(absl::string_view path) {
  std::vector<std::string> parts = Split(path);
  if (path.empty()) return Errno(ENOENT);
  if (parts.empty()) return Errno(EBUSY);  // the root itself
  std::string name = std::move(parts.back());
  parts.pop_back();
  Result<NodeRef> dir = Resolve(absl::StrCat("/", absl::StrJoin(parts, "/")), true);
  if (!dir.ok()) return dir.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(dir->id());
  if (!info.has_value() || info->type != S_IFDIR) return Errno(ENOTDIR);
  if (name.size() > 255) return Errno(ENAMETOOLONG);
  return ParentAndName{std::move(dir).value(), std::move(name)};
}

Result<std::string> FakeVfs::ReadlinkNode(uint64_t nodeid) {
  FuseReply r = kernel_->Call(FuseRequest::Readlink(nodeid));
  if (!r.error().ok()) return r.error();
  return r.body;
}

Result<struct stat> FakeVfs::StatNode(uint64_t nodeid, std::optional<uint64_t> fh) {
  Result<abi::fuse_attr> attr = kernel_->Attr(nodeid, fh);
  if (!attr.ok()) return attr.error();
  return ToStat(*attr);
}

// --- Attributes ---------------------------------------------------------------------

Result<struct stat> FakeVfs::Stat(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  return StatNode(node->id(), std::nullopt);
}

Result<struct stat> FakeVfs::Lstat(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, false);
  if (!node.ok()) return node.error();
  return StatNode(node->id(), std::nullopt);
}

Result<struct statvfs> FakeVfs::Statfs(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  FuseReply r = kernel_->Call(FuseRequest::Statfs(node->id()));
  if (!r.error().ok()) return r.error();
  abi::fuse_kstatfs k = r.As<abi::fuse_statfs_out>().st;
  struct statvfs st {};
  st.f_bsize = k.bsize;
  st.f_frsize = k.frsize != 0 ? k.frsize : k.bsize;  // convert_fuse_statfs
  st.f_blocks = k.blocks;
  st.f_bfree = k.bfree;
  st.f_bavail = k.bavail;
  st.f_files = k.files;
  st.f_ffree = k.ffree;
  st.f_favail = k.ffree;
  st.f_namemax = k.namelen;
  return st;
}

Errno FakeVfs::Access(absl::string_view path, int mode) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  if (kernel_->Unsupported(Opcode::kAccess)) return kOk;
  FuseReply r = kernel_->Call(FuseRequest::Access(node->id(), static_cast<uint32_t>(mode) & 07));
  if (r.error() == Errno(ENOSYS)) return kOk;  // fc->no_access: allowed
  return r.error();
}

Errno FakeVfs::SetattrNode(uint64_t nodeid, const abi::fuse_setattr_in& in) {
  return kernel_->Call(FuseRequest::Setattr(nodeid, in)).error();
}

Result<struct stat> FakeVfs::Setattr(absl::string_view path, const abi::fuse_setattr_in& in) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  FuseReply r = kernel_->Call(FuseRequest::Setattr(node->id(), in));
  if (!r.error().ok()) return r.error();
  return ToStat(r.As<abi::fuse_attr_out>().attr);
}

Errno FakeVfs::Chmod(absl::string_view path, mode_t mode) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  abi::fuse_setattr_in in{};
  in.valid = abi::kFattrMode;
  // chmod_common keeps the file type bits.
  in.mode = (mode & 07777) | (info.has_value() ? info->type : 0);
  return SetattrNode(node->id(), in);
}

Errno FakeVfs::Chown(absl::string_view path, uid_t uid, gid_t gid) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  abi::fuse_setattr_in in{};
  if (uid != static_cast<uid_t>(-1)) {
    in.valid |= abi::kFattrUid;
    in.uid = uid;
  }
  if (gid != static_cast<gid_t>(-1)) {
    in.valid |= abi::kFattrGid;
    in.gid = gid;
  }
  // fs/fuse/dir.c: a chown of anything but a directory kills set-user/group-ID
  // whoever asks.
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  if (Granted(abi::kInitHandleKillprivV2) && (in.valid & (abi::kFattrUid | abi::kFattrGid)) &&
      !(info.has_value() && info->type == S_IFDIR)) {
    in.valid |= abi::kFattrKillSuidgid;
  }
  return SetattrNode(node->id(), in);
}

Errno FakeVfs::Truncate(absl::string_view path, off_t size) {
  if (size < 0) return Errno(EINVAL);
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  if (info.has_value() && info->type == S_IFDIR) return Errno(EISDIR);
  if (info.has_value() && info->type != S_IFREG) return Errno(EINVAL);
  abi::fuse_setattr_in in{};
  in.valid = abi::kFattrSize;
  in.size = static_cast<uint64_t>(size);
  if (KillSuidgidOnWrite()) in.valid |= abi::kFattrKillSuidgid;
  return SetattrNode(node->id(), in);
}

Errno FakeVfs::Utimens(absl::string_view path, const struct timespec times[2]) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  if (times == nullptr) times = now;
  abi::fuse_setattr_in in{};
  // fs/fuse/dir.c: iattr_to_fattr.
  if (times[0].tv_nsec != UTIME_OMIT) {
    in.valid |= abi::kFattrAtime;
    if (times[0].tv_nsec == UTIME_NOW) {
      in.valid |= abi::kFattrAtimeNow;
    } else {
      in.atime = static_cast<uint64_t>(times[0].tv_sec);
      in.atimensec = static_cast<uint32_t>(times[0].tv_nsec);
    }
  }
  if (times[1].tv_nsec != UTIME_OMIT) {
    in.valid |= abi::kFattrMtime;
    if (times[1].tv_nsec == UTIME_NOW) {
      in.valid |= abi::kFattrMtimeNow;
    } else {
      in.mtime = static_cast<uint64_t>(times[1].tv_sec);
      in.mtimensec = static_cast<uint32_t>(times[1].tv_nsec);
    }
  }
  if (in.valid == 0) return kOk;
  return SetattrNode(node->id(), in);
}

// --- Names ----------------------------------------------------------------------------

Errno FakeVfs::Mkdir(absl::string_view path, mode_t mode) {
  if (Split(path).empty() && !path.empty()) return Errno(EEXIST);
  Result<ParentAndName> where = ResolveParent(path);
  if (!where.ok()) return where.error();
  if (where->name == "." || where->name == "..") return Errno(EEXIST);
  Result<NodeRef> existing = Child(where->dir, where->name);
  if (existing.ok()) return Errno(EEXIST);
  if (existing.error() != Errno(ENOENT)) return existing.error();
  FuseReply r = kernel_->CallAndHold(FuseRequest::Mkdir(
      where->dir.id(), where->name, ApplyUmask(mode & 07777), umask_));
  if (!r.error().ok()) return r.error();
  NodeRef made(kernel_, r.As<abi::fuse_entry_out>().nodeid);
  return kOk;
}

Errno FakeVfs::Mknod(absl::string_view path, mode_t mode, dev_t dev) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type == S_IFDIR) return Errno(EPERM);  // may_mknod
  Result<ParentAndName> where = ResolveParent(path);
  if (!where.ok()) return where.error();
  Result<NodeRef> existing = Child(where->dir, where->name);
  if (existing.ok()) return Errno(EEXIST);
  if (existing.error() != Errno(ENOENT)) return existing.error();
  FuseReply r = kernel_->CallAndHold(FuseRequest::Mknod(
      where->dir.id(), where->name, type | ApplyUmask(mode & 07777), EncodeDev(dev), umask_));
  if (!r.error().ok()) return r.error();
  NodeRef made(kernel_, r.As<abi::fuse_entry_out>().nodeid);
  return kOk;
}

Errno FakeVfs::Symlink(absl::string_view target, absl::string_view path) {
  if (target.empty()) return Errno(ENOENT);
  Result<ParentAndName> where = ResolveParent(path);
  if (!where.ok()) return where.error();
  Result<NodeRef> existing = Child(where->dir, where->name);
  if (existing.ok()) return Errno(EEXIST);
  if (existing.error() != Errno(ENOENT)) return existing.error();
  FuseReply r =
      kernel_->CallAndHold(FuseRequest::Symlink(where->dir.id(), where->name, target));
  if (!r.error().ok()) return r.error();
  NodeRef made(kernel_, r.As<abi::fuse_entry_out>().nodeid);
  return kOk;
}

Result<std::string> FakeVfs::Readlink(absl::string_view path) {
  Result<NodeRef> node = Resolve(path, false);
  if (!node.ok()) return node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  if (!info.has_value() || info->type != S_IFLNK) return Errno(EINVAL);
  return ReadlinkNode(node->id());
}

Errno FakeVfs::Link(absl::string_view old_path, absl::string_view new_path) {
  Result<NodeRef> old_node = Resolve(old_path, false);  // link(2) does not follow
  if (!old_node.ok()) return old_node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(old_node->id());
  if (info.has_value() && info->type == S_IFDIR) return Errno(EPERM);
  Result<ParentAndName> where = ResolveParent(new_path);
  if (!where.ok()) return where.error();
  Result<NodeRef> existing = Child(where->dir, where->name);
  if (existing.ok()) return Errno(EEXIST);
  if (existing.error() != Errno(ENOENT)) return existing.error();
  FuseReply r = kernel_->CallAndHold(
      FuseRequest::Link(old_node->id(), where->dir.id(), where->name));
  if (!r.error().ok()) return r.error();
  NodeRef made(kernel_, r.As<abi::fuse_entry_out>().nodeid);
  return kOk;
}

Errno FakeVfs::Unlink(absl::string_view path) {
  Result<ParentAndName> where = ResolveParent(path);
  if (!where.ok()) return where.error() == Errno(EBUSY) ? Errno(EISDIR) : where.error();
  Result<NodeRef> node = Child(where->dir, where->name);
  if (!node.ok()) return node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  if (info.has_value() && info->type == S_IFDIR) return Errno(EISDIR);
  return kernel_->Call(FuseRequest::Unlink(where->dir.id(), where->name)).error();
}

Errno FakeVfs::Rmdir(absl::string_view path) {
  Result<ParentAndName> where = ResolveParent(path);
  if (!where.ok()) return where.error();
  if (where->name == ".") return Errno(EINVAL);
  if (where->name == "..") return Errno(ENOTEMPTY);
  Result<NodeRef> node = Child(where->dir, where->name);
  if (!node.ok()) return node.error();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(node->id());
  if (!info.has_value() || info->type != S_IFDIR) return Errno(ENOTDIR);
  // vfs_rmdir: shrink_dcache_parent before asking the filesystem.
  kernel_->ShrinkChildren(node->id());
  return kernel_->Call(FuseRequest::Rmdir(where->dir.id(), where->name)).error();
}

bool FakeVfs::IsAncestor(uint64_t ancestor, uint64_t node) const {
  // Up the parent links of the dentries the walk used; the walk holds them.
  for (int depth = 0; depth < 4096 && node != 0; ++depth) {
    if (node == ancestor) return true;
    if (node == abi::kRootId) return false;
    std::optional<KernelCache::Node> info = kernel_->NodeInfo(node);
    node = info.has_value() ? info->parent : 0;
  }
  return false;
}

Errno FakeVfs::Rename(absl::string_view old_path, absl::string_view new_path, unsigned flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return Errno(EINVAL);
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) return Errno(EINVAL);
  Result<ParentAndName> from = ResolveParent(old_path);
  if (!from.ok()) return from.error();
  Result<ParentAndName> to = ResolveParent(new_path);
  if (!to.ok()) return to.error();
  if (from->name == "." || from->name == ".." || to->name == "." || to->name == "..") {
    return Errno(EBUSY);
  }
  Result<NodeRef> source = Child(from->dir, from->name);
  if (!source.ok()) return source.error();
  Result<NodeRef> target = Child(to->dir, to->name);
  if (!target.ok() && target.error() != Errno(ENOENT)) return target.error();
  if ((flags & RENAME_EXCHANGE) && !target.ok()) return Errno(ENOENT);
  if ((flags & RENAME_NOREPLACE) && target.ok()) return Errno(EEXIST);
  // fs/namei.c: do_renameat2 checks ancestry (lock_rename's trap) before
  // vfs_rename checks identity and types.
  std::optional<KernelCache::Node> src_info = kernel_->NodeInfo(source->id());
  bool src_dir = src_info.has_value() && src_info->type == S_IFDIR;
  if (src_dir && IsAncestor(source->id(), to->dir.id())) return Errno(EINVAL);
  if (target.ok() && IsAncestor(target->id(), from->dir.id())) {
    return Errno((flags & RENAME_EXCHANGE) ? EINVAL : ENOTEMPTY);
  }
  if (target.ok()) {
    if (target->id() == source->id()) return kOk;  // vfs_rename: same inode
    std::optional<KernelCache::Node> dst_info = kernel_->NodeInfo(target->id());
    bool dst_dir = dst_info.has_value() && dst_info->type == S_IFDIR;
    if (!(flags & RENAME_EXCHANGE)) {
      if (src_dir && !dst_dir) return Errno(ENOTDIR);
      if (!src_dir && dst_dir) return Errno(EISDIR);
    }
  }
  if (flags != 0 &&
      (kernel_->connection().minor < 23 || kernel_->Unsupported(Opcode::kRename2))) {
    return Errno(EINVAL);
  }
  Errno e = kernel_
                ->Call(FuseRequest::Rename(from->dir.id(), from->name, to->dir.id(), to->name,
                                           flags))
                .error();
  if (flags != 0 && e == Errno(ENOSYS)) return Errno(EINVAL);  // fc->no_rename2
  return e;
}

// --- Directories ------------------------------------------------------------------------

Result<std::vector<DirEntry>> FakeVfs::Readdir(absl::string_view path) {
  return Readdir(path, ReaddirOptions());
}

Result<std::vector<DirEntry>> FakeVfs::Readdir(absl::string_view path,
                                               const ReaddirOptions& options) {
  Result<NodeRef> node = Resolve(path, true);
  if (!node.ok()) return node.error();
  const uint64_t id = node->id();
  std::optional<KernelCache::Node> info = kernel_->NodeInfo(id);
  if (!info.has_value() || info->type != S_IFDIR) return Errno(ENOTDIR);

  uint64_t fh = 0;
  bool opened = false;
  if (!kernel_->Unsupported(Opcode::kOpendir)) {
    FuseReply r = kernel_->Call(FuseRequest::Open(id, O_RDONLY | O_DIRECTORY, /*dir=*/true));
    if (r.error().ok()) {
      fh = r.As<abi::fuse_open_out>().fh;
      opened = true;
    } else if (r.error() != Errno(ENOSYS)) {
      return r.error();
    }
    // ENOSYS: no OPENDIR needed (fc->no_opendir); the walk's hold stands in
    // for the open directory.
  }

  const bool granted_plus = Granted(abi::kInitDoReaddirplus);
  const bool plus_auto = Granted(abi::kInitReaddirplusAuto);
  auto use_plus = [&](uint64_t pos) {
    switch (options.mode) {
      case ReaddirOptions::Mode::kPlain:
        return false;
      case ReaddirOptions::Mode::kPlus:
        return true;
      case ReaddirOptions::Mode::kAuto:
        break;
    }
    // fs/fuse/readdir.c: fuse_use_readdirplus().
    return granted_plus && (!plus_auto || pos == 0);
  };

  std::vector<DirEntry> listing;
  std::set<std::string> names;
  const uint64_t changes_at_start = kernel_->DirChanges(id);
  std::set<uint64_t> offsets;
  Errno result;
  bool broken = false;  // a violation was reported already
  uint64_t pos = 0;
  for (;;) {
    bool plus = use_plus(pos);
    FuseReply r = kernel_->Call(FuseRequest::Readdir(id, fh, pos, options.request_size, plus));
    if (!r.error().ok()) {
      result = r.error();
      break;
    }
    std::vector<std::string> problems;  // already reported by the reply checks
    std::vector<ParsedDirent> entries = ParseDirents(r.body, plus, &problems);
    if (entries.empty()) break;
    size_t take = options.entries_per_call == 0
                      ? entries.size()
                      : std::min(options.entries_per_call, entries.size());
    bool stop = false;
    for (size_t i = 0; i < take && !stop; ++i) {
      const ParsedDirent& e = entries[i];
      // A name twice is a listing that restarted or shifted, unless the
      // directory changed meanwhile: a name removed and made again (or
      // renamed back) may come again, as on tmpfs (POSIX leaves it open).
      if (!names.insert(e.name).second && kernel_->DirChanges(id) == changes_at_start) {
        kernel_->ReportViolation(absl::StrFormat(
            "the listing of %s returned \"%s\" twice: continuing from an entry's offset must "
            "not repeat entries",
            path, e.name));
        stop = broken = true;
        break;
      }
      listing.push_back({e.name, e.ino, e.type, e.off, e.entry.has_value() ? e.entry->nodeid : 0});
    }
    if (stop) break;
    uint64_t next = entries[take - 1].off;
    if (!offsets.insert(next).second) {
      kernel_->ReportViolation(absl::StrFormat(
          "the listing of %s returned offset %d twice: it would never end", path, next));
      broken = true;
      break;
    }
    pos = next;
  }
  if (result.ok() && !broken) CheckOffsets(path, id, fh, use_plus(1), options, listing);
  if (opened) {
    kernel_->Call(FuseRequest::Release(id, fh, O_RDONLY | O_DIRECTORY, /*dir=*/true));
  }
  if (!result.ok()) return result;
  return listing;
}

void FakeVfs::CheckOffsets(absl::string_view path, uint64_t nodeid, uint64_t fh, bool plus,
                           const ReaddirOptions& options, const std::vector<DirEntry>& listing) {
  if (!kernel_->options().check_readdir_offsets || listing.size() > kMaxCheckedListing) return;
  auto names_of = [](const std::vector<DirEntry>& entries) {
    std::vector<std::string> quoted;
    for (const DirEntry& e : entries) quoted.push_back(absl::StrCat("\"", e.name, "\""));
    return absl::StrCat("[", absl::StrJoin(quoted, ", "), "]");
  };
  // The reference: whole replies taken at a time, as with a large getdents
  // buffer. A listing read in small steps must come out the same.
  std::vector<DirEntry> reference;
  if (options.entries_per_call == 0) {
    reference = listing;
  } else {
    uint64_t pos = 0;
    std::set<uint64_t> seen;
    for (;;) {
      FuseReply r =
          kernel_->Call(FuseRequest::Readdir(nodeid, fh, pos, options.request_size, plus));
      if (!r.error().ok()) return;  // reported by the reply checks or the caller
      std::vector<std::string> problems;
      std::vector<ParsedDirent> got = ParseDirents(r.body, plus, &problems);
      if (got.empty() || !seen.insert(got.back().off).second ||
          reference.size() > kMaxCheckedListing) {
        break;
      }
      for (const ParsedDirent& e : got) reference.push_back({e.name, e.ino, e.type, e.off, 0});
      pos = got.back().off;
    }
    if (names_of(reference) != names_of(listing)) {
      kernel_->ReportViolation(absl::StrFormat(
          "the listing of %s read %d entr%s per getdents call was %s, but read whole replies at "
          "a time was %s: a directory offset must let a listing resume exactly after its entry",
          path, options.entries_per_call, options.entries_per_call == 1 ? "y" : "ies",
          names_of(listing), names_of(reference)));
      return;
    }
  }
  // seekdir(3) to any offset telldir(3) gave must resume right after that
  // entry: neither skip nor repeat.
  for (size_t i = 0; i < reference.size(); ++i) {
    FuseReply r = kernel_->Call(
        FuseRequest::Readdir(nodeid, fh, reference[i].offset, options.request_size, plus));
    if (!r.error().ok()) {
      kernel_->ReportViolation(absl::StrFormat(
          "READDIR continued from offset %d (after \"%s\") failed with %s", reference[i].offset,
          reference[i].name, DescribeErrno(r.error())));
      return;
    }
    std::vector<std::string> problems;
    std::vector<ParsedDirent> got = ParseDirents(r.body, plus, &problems);
    std::string expected = i + 1 < reference.size()
                               ? absl::StrCat("\"", reference[i + 1].name, "\"")
                               : std::string("the end of the directory");
    std::string first = got.empty() ? std::string("the end of the directory")
                                    : absl::StrCat("\"", got[0].name, "\"");
    if (first != expected) {
      kernel_->ReportViolation(absl::StrFormat(
          "READDIR continued from offset %d (the offset after \"%s\") returned %s, expected "
          "%s: a directory offset must let a listing resume exactly after its entry, neither "
          "skipping nor repeating (getdents with a small buffer, seekdir)",
          reference[i].offset, reference[i].name, first, expected));
      return;
    }
  }
}

}  // namespace fusekit
