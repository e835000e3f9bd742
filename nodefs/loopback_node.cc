#include "nodefs/loopback_node.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fuse/session.h"

namespace fusekit {
namespace {

// How many names (hard links) a node remembers.
constexpr size_t kMaxLinks = 8;
// How deep a path may be before we call it a loop (the tree can briefly
// disagree with the host, never by this much).
constexpr int kMaxDepth = 4096;
// The largest copy_file_range done in one request (the reply's count is 32
// bits before protocol 7.45's COPY_FILE_RANGE_64).
constexpr uint64_t kMaxCopy = uint64_t{1} << 30;
// fusekit's root node id, which is also the root's st_ino.
constexpr uint64_t kRootIno = abi::kRootId;

Errno Last() { return Errno::Last(); }

bool ValidName(absl::string_view name) {
  return !name.empty() && name.size() <= NAME_MAX && name != "." && name != ".." &&
         name.find('/') == absl::string_view::npos &&
         name.find('\0') == absl::string_view::npos;
}

std::string ProcFdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

// Whether openat2(2) exists here: 0 unknown, 1 yes, -1 no (before 5.6).
std::atomic<int> g_openat2{0};

int Openat2(int dir, const char* path, int flags, uint64_t resolve) {
  struct open_how how;
  std::memset(&how, 0, sizeof(how));
  how.flags = static_cast<uint64_t>(flags);
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dir, path, &how, sizeof(how)));
}

uint32_t ModeFromDirentType(unsigned char type) {
  switch (type) {
    case DT_REG: return S_IFREG;
    case DT_DIR: return S_IFDIR;
    case DT_LNK: return S_IFLNK;
    case DT_FIFO: return S_IFIFO;
    case DT_SOCK: return S_IFSOCK;
    case DT_CHR: return S_IFCHR;
    case DT_BLK: return S_IFBLK;
    default: return 0;
  }
}

void FillAttr(const struct stat& st, abi::fuse_attr* a) {
  a->ino = st.st_ino;
  a->size = static_cast<uint64_t>(st.st_size);
  a->blocks = static_cast<uint64_t>(st.st_blocks);
  a->atime = static_cast<uint64_t>(st.st_atim.tv_sec);
  a->atimensec = static_cast<uint32_t>(st.st_atim.tv_nsec);
  a->mtime = static_cast<uint64_t>(st.st_mtim.tv_sec);
  a->mtimensec = static_cast<uint32_t>(st.st_mtim.tv_nsec);
  a->ctime = static_cast<uint64_t>(st.st_ctim.tv_sec);
  a->ctimensec = static_cast<uint32_t>(st.st_ctim.tv_nsec);
  a->mode = st.st_mode;
  a->nlink = static_cast<uint32_t>(st.st_nlink);
  a->uid = st.st_uid;
  a->gid = st.st_gid;
  // glibc's dev_t encoding agrees with the kernel's 32-bit new_encode_dev
  // (what FUSE carries) for every device number that fits in it.
  a->rdev = static_cast<uint32_t>(st.st_rdev);
  a->blksize = static_cast<uint32_t>(st.st_blksize);
}

// A listing read from a host directory stream, d_ino and d_type kept.
class HostDirStream : public DirStream {
 public:
  explicit HostDirStream(DIR* dir) : dir_(dir) {}
  ~HostDirStream() override { closedir(dir_); }
  HostDirStream(const HostDirStream&) = delete;
  HostDirStream& operator=(const HostDirStream&) = delete;

  bool Next(DirStreamEntry* entry, Errno* error) override {
    errno = 0;
    struct dirent* e = readdir(dir_);
    if (e == nullptr) {
      if (errno != 0) *error = Last();
      return false;
    }
    entry->name = e->d_name;
    entry->ino = e->d_ino;
    entry->mode = ModeFromDirentType(e->d_type);
    return true;
  }

 private:
  DIR* const dir_;
};

// A listing of `fd` (a directory opened for reading) from its start. The
// descriptor is dup'd: the stream owns and closes the copy.
Errno ListDirectory(int fd, std::unique_ptr<DirStream>* stream) {
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return Last();
  DIR* dir = fdopendir(copy);
  if (dir == nullptr) {
    Errno e = Last();
    close(copy);
    return e;
  }
  rewinddir(dir);  // the copy shares the offset with earlier listings
  *stream = std::make_unique<HostDirStream>(dir);
  return kOk;
}

// The process's umask, read without changing it (umask(2) can only read by
// writing, which would briefly unmask files other threads create):
// /proc/self/status says it since Linux 4.7.
mode_t ProcessUmask() {
  FILE* status = fopen("/proc/self/status", "re");
  if (status != nullptr) {
    char line[256];
    while (fgets(line, sizeof(line), status) != nullptr) {
      unsigned int mask = 0;
      if (sscanf(line, "Umask: %o", &mask) == 1) {
        fclose(status);
        return static_cast<mode_t>(mask & 0777);
      }
    }
    fclose(status);
  }
  mode_t mask = ::umask(0);
  ::umask(mask);
  return mask;
}

// A waiting lock polls: sleeps between tries grow to this.
constexpr absl::Duration kLockPollMax = absl::Milliseconds(50);

// Retries `try_once` (which returns kOk, EAGAIN for "held by another", or
// another error) until it succeeds, fails otherwise, or the request is
// interrupted (EINTR).
template <typename F>
Errno WaitForLock(const Context& ctx, F try_once) {
  absl::Duration sleep = absl::Milliseconds(1);
  for (;;) {
    Errno e = try_once();
    if (e != Errno(EAGAIN)) return e;
    if (ctx.Interrupted()) return Errno(EINTR);
    absl::SleepFor(sleep);
    sleep = std::min(sleep * 2, kLockPollMax);
  }
}

}  // namespace

// --- LoopbackRoot -------------------------------------------------------------------

LoopbackRoot::LoopbackRoot(std::string host_dir, ScopedFd fd, uint64_t host_ino,
                           LoopbackOptions options)
    : host_dir_(std::move(host_dir)),
      fd_(std::move(fd)),
      host_ino_(host_ino),
      options_(std::move(options)),
      umask_(ProcessUmask()) {}

absl::StatusOr<std::shared_ptr<LoopbackRoot>> LoopbackRoot::Open(absl::string_view host_dir,
                                                                 LoopbackOptions options) {
  std::string path(host_dir);
  if (path.empty()) return absl::InvalidArgumentError("source directory is an empty path");
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return absl::NotFoundError(absl::StrCat("source directory ", path, " does not exist"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("cannot stat source directory ", path, ": ", strerror(err)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("source ", path, " is not a directory"));
  }
  // The source itself may be reached through symlinks (the user named it);
  // nothing below it is.
  ScopedFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot open source directory ", path, ": ", strerror(errno)));
  }
  if (fstat(fd.get(), &st) != 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot stat source directory ", path, ": ", strerror(errno)));
  }
  return std::shared_ptr<LoopbackRoot>(
      new LoopbackRoot(std::move(path), std::move(fd), st.st_ino, std::move(options)));
}

Errno LoopbackRoot::OpenBeneath(absl::string_view relative, int flags, ScopedFd* out) const {
  flags |= O_NOFOLLOW | O_CLOEXEC;
  if (relative.empty()) {
    out->reset(::openat(fd_.get(), ".", flags));
    return out->valid() ? kOk : Last();
  }
  if (relative.size() >= PATH_MAX || g_openat2.load(std::memory_order_relaxed) < 0) {
    return WalkBeneath(relative, flags, out);
  }
  std::string path(relative);
  constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (int attempt = 0;; ++attempt) {
    int fd = Openat2(fd_.get(), path.c_str(), flags, kResolve);
    if (fd >= 0) {
      g_openat2.store(1, std::memory_order_relaxed);
      out->reset(fd);
      return kOk;
    }
    int err = errno;
    if (err == ENOSYS) {
      g_openat2.store(-1, std::memory_order_relaxed);
      return WalkBeneath(relative, flags, out);
    }
    // EAGAIN: a rename raced the check that nothing left the root; again.
    if (err == EAGAIN && attempt < 3) continue;
    // EXDEV: the result was no longer beneath the root (a directory on the
    // path was moved out): as far as this tree goes, it is gone.
    if (err == EXDEV || err == EAGAIN) return Errno(ENOENT);
    // A symlink (or a file) where the tree had a directory: the tree is
    // out of date.
    if (err == ELOOP || err == ENOTDIR) return Errno(ESTALE);
    return Errno(err);
  }
}

Errno LoopbackRoot::WalkBeneath(absl::string_view relative, int flags, ScopedFd* out) const {
  std::vector<absl::string_view> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
  ScopedFd dir;
  int at = fd_.get();
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string name(parts[i]);
    if (!ValidName(name)) return Errno(EINVAL);
    bool last = i + 1 == parts.size();
    int open_flags = last ? flags : (O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ScopedFd next(::openat(at, name.c_str(), open_flags));
    if (!next.valid()) {
      int err = errno;
      if (err == ELOOP || (err == ENOTDIR && !last)) return Errno(ESTALE);
      return Errno(err);
    }
    dir = std::move(next);
    at = dir.get();
  }
  *out = std::move(dir);
  return kOk;
}

std::unique_ptr<LoopbackNode> LoopbackRoot::NewNode(const struct stat& st) {
  if (options_.new_node) {
    if (std::unique_ptr<LoopbackNode> node = options_.new_node(shared_from_this(), st)) {
      return node;
    }
  }
  return std::make_unique<LoopbackNode>(shared_from_this(), st);
}

absl::StatusOr<std::unique_ptr<LoopbackNode>> NewLoopbackRoot(absl::string_view host_dir,
                                                              LoopbackOptions options) {
  absl::StatusOr<std::shared_ptr<LoopbackRoot>> root =
      LoopbackRoot::Open(host_dir, std::move(options));
  if (!root.ok()) return root.status();
  struct stat st;
  if (fstat((*root)->fd(), &st) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("cannot stat ", host_dir));
  }
  std::unique_ptr<LoopbackNode> node = (*root)->NewNode(st);
  node->is_root_ = true;
  return node;
}

Options LoopbackMountOptions(Options options) {
  options.server.init.want |= abi::kInitPosixLocks | abi::kInitFlockLocks;
  // READ replies are spliced from the host file only when they fit a pipe
  // (without CAP_SYS_RESOURCE a 1 MiB one does not, and is copied): cap
  // the kernel's READs at what does, unless the caller chose a size.
  if (options.server.init.splice_write && options.mount.max_read == 0) {
    const uint32_t largest = options.server.init.max_write;
    const uint32_t spliceable = Session::SpliceableReadSize(largest);
    if (spliceable < largest) options.mount.max_read = spliceable;
  }
  return options;
}

Options LoopbackMountOptions(Options options, const LoopbackOptions& loopback) {
  options = LoopbackMountOptions(std::move(options));
  if (loopback.direct_io) {
    options.server.init.want |= abi::kInitDirectIoAllowMmap;
    options.server.splice_read = false;
  }
  return options;
}

// --- LoopbackNode: where it is ---------------------------------------------------------

LoopbackNode::LoopbackNode(std::shared_ptr<LoopbackRoot> root, const struct stat& st)
    : root_(std::move(root)), host_ino_(st.st_ino) {}

LoopbackNode::~LoopbackNode() = default;

std::vector<std::pair<std::shared_ptr<Inode>, std::string>> LoopbackNode::LiveLinks() {
  std::vector<std::pair<std::shared_ptr<Inode>, std::string>> live;
  MutexLock lock(&mu_);
  for (auto it = links_.rbegin(); it != links_.rend(); ++it) {
    if (std::shared_ptr<Inode> parent = it->parent.lock()) live.emplace_back(parent, it->name);
  }
  links_.erase(std::remove_if(links_.begin(), links_.end(),
                              [](const KnownName& l) { return l.parent.expired(); }),
               links_.end());
  return live;
}

void LoopbackNode::NoteLink(Inode* parent, absl::string_view name) {
  std::weak_ptr<Inode> weak = parent->shared_from_this();
  MutexLock lock(&mu_);
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    if (it->name == name && !it->parent.owner_before(weak) && !weak.owner_before(it->parent)) {
      links_.erase(it);
      break;
    }
  }
  if (links_.size() >= kMaxLinks) links_.erase(links_.begin());
  links_.push_back(KnownName{std::move(weak), std::string(name)});
}

void LoopbackNode::DropLink(Inode* parent, absl::string_view name) {
  MutexLock lock(&mu_);
  for (auto it = links_.begin(); it != links_.end(); ++it) {
    std::shared_ptr<Inode> p = it->parent.lock();
    if (p.get() == parent && it->name == name) {
      links_.erase(it);
      return;
    }
  }
}

Errno LoopbackNode::RelativePath(std::string* path) {
  std::vector<std::string> parts;
  std::shared_ptr<Inode> keep;  // keeps `node` alive while we read it
  LoopbackNode* node = this;
  for (int depth = 0; !node->is_root_; ++depth) {
    if (depth >= kMaxDepth) return Errno(ELOOP);
    auto links = node->LiveLinks();
    if (links.empty()) return Errno(ENOENT);
    parts.push_back(std::move(links.front().second));
    keep = std::move(links.front().first);
    node = keep->node<LoopbackNode>();
    // A parent that is not ours: this tree was put under a foreign node
    // without NewLoopbackRoot.
    if (node == nullptr || node->root_ != root_) return Errno(ENOENT);
  }
  path->clear();
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!path->empty()) path->push_back('/');
    path->append(*it);
  }
  return kOk;
}

Errno LoopbackNode::OpenDir(int flags, ScopedFd* owned, int* fd) {
  // A request may name any node as its directory; only ours are.
  if (!inode()->IsDir()) return Errno(ENOTDIR);
  if (is_root_ && (flags & O_PATH)) {
    *fd = root_->fd();
    return kOk;
  }
  std::string path;
  Errno e = RelativePath(&path);
  if (!e.ok()) return e;
  e = root_->OpenBeneath(path, flags | O_DIRECTORY, owned);
  if (!e.ok()) return e;
  struct stat st;
  if (fstat(owned->get(), &st) != 0) return Last();
  if (st.st_ino != host_ino_) return Errno(ESTALE);
  *fd = owned->get();
  return kOk;
}

ScopedFd LoopbackNode::DupOpenFd() {
  MutexLock lock(&mu_);
  for (LoopbackFileHandle* h : handles_) {
    if (h->fd() >= 0) return ScopedFd(fcntl(h->fd(), F_DUPFD_CLOEXEC, 0));
  }
  if (!dir_fds_.empty()) return ScopedFd(fcntl(dir_fds_.front(), F_DUPFD_CLOEXEC, 0));
  return ScopedFd();
}

Errno LoopbackNode::Locate(HostName* where, struct stat* st) {
  struct stat scratch;
  if (st == nullptr) st = &scratch;
  if (is_root_) {
    where->dir = root_->fd();
    where->name.clear();
    return fstat(where->dir, st) == 0 ? kOk : Last();
  }
  Errno result(ENOENT);
  for (auto& [parent, name] : LiveLinks()) {
    LoopbackNode* dir_node = parent->node<LoopbackNode>();
    if (dir_node == nullptr || dir_node->root_ != root_) continue;
    ScopedFd owned;
    int dir = -1;
    Errno e = dir_node->OpenDir(O_PATH, &owned, &dir);
    if (e.ok() && fstatat(dir, name.c_str(), st, AT_SYMLINK_NOFOLLOW) != 0) e = Last();
    if (e.ok() && st->st_ino != host_ino_) e = Errno(ESTALE);
    if (e.ok()) {
      where->owned = std::move(owned);
      where->dir = dir;
      where->name = name;
      return kOk;
    }
    // Prefer "it is another file now" over "not there" for the answer.
    if (result != Errno(ESTALE)) result = e;
  }
  // No name leads to it any more: an unlinked file still open.
  ScopedFd open = DupOpenFd();
  if (open.valid() && fstat(open.get(), st) == 0) {
    where->dir = open.get();
    where->owned = std::move(open);
    where->name.clear();
    where->open_file = true;
    return kOk;
  }
  return result;
}

Inode* LoopbackNode::AddHostChild(absl::string_view name, const struct stat& st, EntryOut* out) {
  const uint32_t type = st.st_mode & S_IFMT;
  // Host inode 1 would be taken for fusekit's root: give it a number of
  // its own.
  uint64_t ino = st.st_ino == kRootIno ? 0 : st.st_ino;
  Inode* child = inode()->NewInode(root_->NewNode(st), {.mode = type, .ino = ino});
  LoopbackNode* node = child->node<LoopbackNode>();
  if ((child->stable().mode & S_IFMT) != type || node == nullptr || node->host_ino_ != st.st_ino ||
      node->root_ != root_) {
    // The host reused the number of a file we still know for an object of
    // another type (or another tree has it): a fresh inode, numbered by
    // fusekit, rather than a wrong one.
    child = inode()->NewInode(root_->NewNode(st), {.mode = type, .ino = 0});
    node = child->node<LoopbackNode>();
  }
  if (node != nullptr) node->NoteLink(inode(), name);
  FillAttr(st, &out->attr);
  return child;
}

void LoopbackNode::FixNewObject(const Context& ctx, int dir, absl::string_view name, int fd,
                                uint32_t mode, bool set_mode) {
  std::string n(name);
  bool chowned = false;
  if (root_->options().set_owner) {
    // Under a set-group-ID directory the object keeps the directory's group,
    // as it would have had the caller created it.
    struct stat dir_st;
    bool keep_group = fstat(dir, &dir_st) == 0 && (dir_st.st_mode & S_ISGID);
    gid_t gid = keep_group ? static_cast<gid_t>(-1) : ctx.gid();
    // Failures leave the daemon as owner; the object exists either way.
    chowned = fd >= 0 ? fchown(fd, ctx.uid(), gid) == 0
                      : fchownat(dir, n.c_str(), ctx.uid(), gid, AT_SYMLINK_NOFOLLOW) == 0;
  }
  if (!set_mode) return;
  // The kernel applied the caller's umask already: undo the daemon's. And
  // chown(2) clears set-user-ID and set-group-ID: put them back.
  const mode_t wanted = mode & 07777;
  if ((wanted & root_->umask()) == 0 && !(chowned && (wanted & (S_ISUID | S_ISGID)))) return;
  struct stat st;
  int r = fd >= 0 ? fstat(fd, &st) : fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW);
  if (r != 0) return;
  // A directory under a set-group-ID directory inherits the bit: keep it.
  mode_t final_mode = wanted | (S_ISDIR(st.st_mode) ? (st.st_mode & S_ISGID) : 0);
  if (fd >= 0) {
    (void)!fchmod(fd, final_mode);
  } else {
    (void)!fchmodat(dir, n.c_str(), final_mode, AT_SYMLINK_NOFOLLOW);
  }
}

// --- LoopbackNode: metadata -----------------------------------------------------------------

Errno LoopbackNode::Lookup(const Context&, absl::string_view name, EntryOut* out, Inode** child) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  struct stat st;
  if (fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    e = Last();
    if (e == Errno(ENOENT)) {
      // Gone on the host: forget the tree's entry and the name.
      if (Inode* old = inode()->GetChild(name)) {
        if (auto* node = old->node<LoopbackNode>()) node->DropLink(inode(), name);
        inode()->RmChild(name);
      }
    }
    return e;
  }
  *child = AddHostChild(name, st, out);
  return kOk;
}

Errno LoopbackNode::Getattr(const Context&, FileHandle* fh, AttrOut* out) {
  struct stat st;
  if (auto* handle = dynamic_cast<LoopbackFileHandle*>(fh); handle && handle->fd() >= 0) {
    if (fstat(handle->fd(), &st) != 0) return Last();
  } else {
    HostName where;
    Errno e = Locate(&where, &st);
    if (!e.ok()) return e;
  }
  FillAttr(st, &out->attr);
  return kOk;
}

Errno LoopbackNode::KillPrivileges(const Context& ctx, FileHandle* fh, PrivilegeKill* kill) {
  // A daemon without CAP_FSETID has the host drop the bits too; as root it
  // keeps them unless told, so they are ours to drop.
  if (!kill->suid_sgid) return kOk;
  kill->capability = false;
  return Node::KillPrivileges(ctx, fh, kill);
}

Errno LoopbackNode::Setattr(const Context&, FileHandle* fh, const SetattrIn& in, AttrOut* out) {
  auto* handle = dynamic_cast<LoopbackFileHandle*>(fh);
  int hfd = handle != nullptr ? handle->fd() : -1;
  HostName where;
  if (hfd < 0) {
    Errno e = Locate(&where);
    if (!e.ok()) return e;
    // An unlinked open file: act on its descriptor.
    if (where.open_file) hfd = where.dir;
  }
  const std::string name = where.name;
  const bool by_name = hfd < 0 && !name.empty();
  // The root: its O_PATH descriptor, through /proc for calls that need a path.
  const std::string proc = hfd < 0 && name.empty() ? ProcFdPath(where.dir) : std::string();

  if (in.valid & (abi::kFattrUid | abi::kFattrGid)) {
    uid_t uid = (in.valid & abi::kFattrUid) ? in.uid : static_cast<uid_t>(-1);
    gid_t gid = (in.valid & abi::kFattrGid) ? in.gid : static_cast<gid_t>(-1);
    int r = hfd >= 0   ? fchown(hfd, uid, gid)
            : by_name  ? fchownat(where.dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW)
                       : fchownat(where.dir, "", uid, gid, AT_EMPTY_PATH);
    if (r != 0) return Last();
  }
  if (in.valid & abi::kFattrMode) {
    mode_t mode = in.mode & 07777;
    int r = hfd >= 0  ? fchmod(hfd, mode)
            : by_name ? fchmodat(where.dir, name.c_str(), mode, AT_SYMLINK_NOFOLLOW)
                      : chmod(proc.c_str(), mode);
    if (r != 0) return Last();
  }
  if (in.valid & abi::kFattrSize) {
    int r = hfd >= 0 ? ftruncate(hfd, static_cast<off_t>(in.size)) : -1;
    if (hfd < 0 || (r != 0 && (errno == EBADF || errno == EINVAL))) {
      // No writable descriptor at hand: open one. Through an O_PATH one
      // first, so a FIFO or a device is never opened for writing.
      ScopedFd path_fd;
      int obj = hfd;
      if (obj < 0) {
        if (by_name) {
          path_fd.reset(openat(where.dir, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
          if (!path_fd.valid()) return Last();
          obj = path_fd.get();
        } else {
          obj = where.dir;
        }
      }
      struct stat st;
      if (fstat(obj, &st) != 0) return Last();
      if (S_ISDIR(st.st_mode)) return Errno(EISDIR);
      if (!S_ISREG(st.st_mode)) return Errno(EINVAL);
      ScopedFd writable(open(ProcFdPath(obj).c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY));
      if (!writable.valid()) return Last();
      r = ftruncate(writable.get(), static_cast<off_t>(in.size));
    }
    if (r != 0) return Last();
  }
  if (in.valid & (abi::kFattrAtime | abi::kFattrMtime)) {
    struct timespec ts[2];
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_nsec = UTIME_OMIT;
    if (in.valid & abi::kFattrAtime) {
      ts[0] = (in.valid & abi::kFattrAtimeNow)
                  ? timespec{0, UTIME_NOW}
                  : timespec{static_cast<time_t>(in.atime), static_cast<long>(in.atimensec)};
    }
    if (in.valid & abi::kFattrMtime) {
      ts[1] = (in.valid & abi::kFattrMtimeNow)
                  ? timespec{0, UTIME_NOW}
                  : timespec{static_cast<time_t>(in.mtime), static_cast<long>(in.mtimensec)};
    }
    int r = hfd >= 0  ? futimens(hfd, ts)
            : by_name ? utimensat(where.dir, name.c_str(), ts, AT_SYMLINK_NOFOLLOW)
                      : utimensat(AT_FDCWD, proc.c_str(), ts, 0);
    if (r != 0) return Last();
  }
  struct stat st;
  int r = hfd >= 0  ? fstat(hfd, &st)
          : by_name ? fstatat(where.dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW)
                    : fstat(where.dir, &st);
  if (r != 0) return Last();
  FillAttr(st, &out->attr);
  return kOk;
}

Errno LoopbackNode::Readlink(const Context&, std::string* target) {
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  if (where.name.empty()) return Errno(EINVAL);
  std::string buf(PATH_MAX, '\0');
  ssize_t n = readlinkat(where.dir, where.name.c_str(), buf.data(), buf.size());
  if (n < 0) return Last();
  buf.resize(static_cast<size_t>(n));
  *target = std::move(buf);
  return kOk;
}

Errno LoopbackNode::Statfs(const Context&, abi::fuse_kstatfs* out) {
  ScopedFd owned;
  int fd = -1;
  HostName where;
  Errno e = inode()->IsDir() ? OpenDir(O_PATH, &owned, &fd) : Locate(&where);
  if (!e.ok()) return e;
  if (fd < 0) fd = where.dir;
  struct statfs st;
  if (fstatfs(fd, &st) != 0) return Last();
  out->blocks = st.f_blocks;
  out->bfree = st.f_bfree;
  out->bavail = st.f_bavail;
  out->files = st.f_files;
  out->ffree = st.f_ffree;
  out->bsize = static_cast<uint32_t>(st.f_bsize);
  out->namelen = static_cast<uint32_t>(st.f_namelen);
  out->frsize = static_cast<uint32_t>(st.f_frsize);
  return kOk;
}

// --- LoopbackNode: names --------------------------------------------------------------------

Errno LoopbackNode::Mknod(const Context& ctx, absl::string_view name, uint32_t mode,
                          uint32_t rdev, EntryOut* out, Inode** child) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  if (mknodat(dir, n.c_str(), mode, rdev) != 0) return Last();
  FixNewObject(ctx, dir, name, -1, mode, /*set_mode=*/true);
  struct stat st;
  if (fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Last();
  *child = AddHostChild(name, st, out);
  return kOk;
}

Errno LoopbackNode::Mkdir(const Context& ctx, absl::string_view name, uint32_t mode,
                          EntryOut* out, Inode** child) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  if (mkdirat(dir, n.c_str(), mode & 07777) != 0) return Last();
  FixNewObject(ctx, dir, name, -1, mode, /*set_mode=*/true);
  struct stat st;
  if (fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Last();
  *child = AddHostChild(name, st, out);
  return kOk;
}

Errno LoopbackNode::Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                            EntryOut* out, Inode** child) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  // The target is stored as given: it is the caller's to resolve.
  if (symlinkat(std::string(target).c_str(), dir, n.c_str()) != 0) return Last();
  FixNewObject(ctx, dir, name, -1, 0, /*set_mode=*/false);
  struct stat st;
  if (fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Last();
  *child = AddHostChild(name, st, out);
  return kOk;
}

Errno LoopbackNode::Link(const Context&, Inode* target, absl::string_view name, EntryOut* out,
                         Inode** child) {
  if (!ValidName(name)) return Errno(EINVAL);
  auto* source = target->node<LoopbackNode>();
  if (source == nullptr || source->root_ != root_) return Errno(EXDEV);
  HostName from;
  Errno e = source->Locate(&from);
  if (!e.ok()) return e;
  ScopedFd owned;
  int dir = -1;
  e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  int r;
  if (!from.name.empty()) {
    r = linkat(from.dir, from.name.c_str(), dir, n.c_str(), 0);
  } else if (from.open_file) {
    // An open file without a name: linkat through its descriptor's /proc
    // entry (works for O_TMPFILE files; others give ENOENT, as on the host).
    r = linkat(AT_FDCWD, ProcFdPath(from.dir).c_str(), dir, n.c_str(), AT_SYMLINK_FOLLOW);
  } else {
    return Errno(EPERM);  // the root directory
  }
  if (r != 0) return Last();
  struct stat st;
  if (fstatat(dir, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Last();
  *child = AddHostChild(name, st, out);
  return kOk;
}

Errno LoopbackNode::Unlink(const Context&, absl::string_view name) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  if (unlinkat(dir, std::string(name).c_str(), 0) != 0) return Last();
  if (Inode* child = inode()->GetChild(name)) {
    if (auto* node = child->node<LoopbackNode>()) node->DropLink(inode(), name);
  }
  return kOk;
}

Errno LoopbackNode::Rmdir(const Context&, absl::string_view name) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  if (unlinkat(dir, std::string(name).c_str(), AT_REMOVEDIR) != 0) return Last();
  if (Inode* child = inode()->GetChild(name)) {
    if (auto* node = child->node<LoopbackNode>()) node->DropLink(inode(), name);
  }
  return kOk;
}

Errno LoopbackNode::Rename(const Context&, absl::string_view name, Inode* new_parent,
                           absl::string_view new_name, uint32_t flags) {
  if (!ValidName(name) || !ValidName(new_name)) return Errno(EINVAL);
  auto* to = new_parent->node<LoopbackNode>();
  if (to == nullptr || to->root_ != root_) return Errno(EXDEV);
  ScopedFd from_owned, to_owned;
  int from_dir = -1, to_dir = -1;
  Errno e = OpenDir(O_PATH, &from_owned, &from_dir);
  if (!e.ok()) return e;
  if (to == this) {
    to_dir = from_dir;
  } else {
    e = to->OpenDir(O_PATH, &to_owned, &to_dir);
    if (!e.ok()) return e;
  }
  std::string old_n(name), new_n(new_name);
  if (renameat2(from_dir, old_n.c_str(), to_dir, new_n.c_str(), flags) != 0) return Last();
  // The tree moves its entries after we return; our names move now.
  Inode* moved = inode()->GetChild(name);
  Inode* other = new_parent->GetChild(new_name);
  auto* moved_node = moved ? moved->node<LoopbackNode>() : nullptr;
  auto* other_node = other ? other->node<LoopbackNode>() : nullptr;
  if (moved_node != nullptr) moved_node->DropLink(inode(), name);
  if (other_node != nullptr && other != moved) other_node->DropLink(new_parent, new_name);
  if (moved_node != nullptr) moved_node->NoteLink(new_parent, new_name);
  if ((flags & RENAME_EXCHANGE) && other_node != nullptr && other != moved) {
    other_node->NoteLink(inode(), name);
  }
  return kOk;
}

Errno LoopbackNode::Create(const Context& ctx, absl::string_view name, uint32_t flags,
                           uint32_t mode, EntryOut* entry, Inode** child, OpenOut* open) {
  if (!ValidName(name)) return Errno(EINVAL);
  ScopedFd owned;
  int dir = -1;
  Errno e = OpenDir(O_PATH, &owned, &dir);
  if (!e.ok()) return e;
  std::string n(name);
  const int base = (static_cast<int>(flags) & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT)) |
                   O_NOFOLLOW | O_CLOEXEC;
  // First with O_EXCL, so we know whether we made it: only a new file gets
  // the caller as owner and its exact mode.
  ScopedFd fd;
  bool created = false;
  for (int attempt = 0; attempt < 8 && !fd.valid(); ++attempt) {
    fd.reset(openat(dir, n.c_str(), base | O_CREAT | O_EXCL, mode & 07777));
    if (fd.valid()) {
      created = true;
      break;
    }
    if (errno != EEXIST || (flags & O_EXCL)) return Last();
    fd.reset(openat(dir, n.c_str(), base));
    if (!fd.valid() && errno != ENOENT) return Last();  // ENOENT: gone again; retry
  }
  if (!fd.valid()) return Errno(EAGAIN);
  if (created) FixNewObject(ctx, dir, name, fd.get(), mode, /*set_mode=*/true);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Last();
  *child = AddHostChild(name, st, entry);
  auto* node = (*child)->node<LoopbackNode>();
  if (node == nullptr) return Errno(EIO);
  // Used when the tree is served with Options::passthrough.
  open->passthrough_fd = fd.get();
  open->flags |= DirectIoFlags();
  open->handle = std::make_unique<LoopbackFileHandle>(node, std::move(fd), base);
  return kOk;
}

// --- LoopbackNode: opening ----------------------------------------------------------------------

uint32_t LoopbackNode::DirectIoFlags() const {
  return root_->options().direct_io ? abi::kOpenDirectIo | abi::kOpenParallelDirectWrites : 0;
}

Errno LoopbackNode::Open(const Context&, uint32_t flags, OpenOut* out) {
  if (inode()->IsDir()) return Errno(EISDIR);
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  const int oflags = (static_cast<int>(flags) & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT)) |
                     O_NOFOLLOW | O_CLOEXEC;
  ScopedFd fd;
  if (!where.name.empty()) {
    fd.reset(openat(where.dir, where.name.c_str(), oflags));
  } else if (where.open_file) {
    // Unlinked but open: a new open of the same file through /proc.
    fd.reset(open(ProcFdPath(where.dir).c_str(), oflags & ~O_NOFOLLOW));
  } else {
    return Errno(EISDIR);
  }
  if (!fd.valid()) return Last();
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Last();
  if (st.st_ino != host_ino_) return Errno(ESTALE);  // replaced since Locate
  // Used when the tree is served with Options::passthrough.
  if (S_ISREG(st.st_mode)) {
    out->passthrough_fd = fd.get();
    out->flags |= DirectIoFlags();
  }
  out->handle = std::make_unique<LoopbackFileHandle>(this, std::move(fd), oflags);
  return kOk;
}

Errno LoopbackNode::Opendir(const Context&, OpenOut* out) {
  ScopedFd fd;
  int unused = -1;
  Errno e = OpenDir(O_RDONLY, &fd, &unused);
  if (!e.ok()) return e;
  out->handle = std::make_unique<LoopbackDirHandle>(this, std::move(fd));
  return kOk;
}

Errno LoopbackNode::Readdir(const Context&, std::unique_ptr<DirStream>* stream) {
  ScopedFd fd;
  int unused = -1;
  Errno e = OpenDir(O_RDONLY, &fd, &unused);
  if (!e.ok()) return e;
  return ListDirectory(fd.get(), stream);
}

LoopbackDirHandle::LoopbackDirHandle(LoopbackNode* node, ScopedFd fd)
    : node_(node), fd_(std::move(fd)) {
  if (fd_.valid()) {
    MutexLock lock(&node_->mu_);
    node_->dir_fds_.push_back(fd_.get());
  }
}

LoopbackDirHandle::~LoopbackDirHandle() {
  if (node_ == nullptr || !fd_.valid()) return;
  MutexLock lock(&node_->mu_);
  auto& fds = node_->dir_fds_;
  fds.erase(std::remove(fds.begin(), fds.end(), fd_.get()), fds.end());
}

Errno LoopbackDirHandle::Readdir(const Context&, std::unique_ptr<DirStream>* stream) {
  return ListDirectory(fd_.get(), stream);
}

Errno LoopbackDirHandle::Fsync(const Context&, bool datasync) {
  return (datasync ? fdatasync(fd_.get()) : fsync(fd_.get())) == 0 ? kOk : Last();
}

// --- LoopbackNode: extended attributes ------------------------------------------------------------

namespace {

// Where xattr calls go: "/proc/self/fd/DIR/NAME" with the l* calls (the
// name is not followed; our own descriptor's magic link is), or, for the
// object itself, its descriptor.
struct XattrTarget {
  std::string path;
  bool follow = false;  // path is /proc/self/fd/N of the object itself
};

XattrTarget XattrTargetFor(int dir, const std::string& name) {
  if (name.empty()) return {ProcFdPath(dir), true};
  return {absl::StrCat(ProcFdPath(dir), "/", name), false};
}

}  // namespace

Errno LoopbackNode::Getxattr(const Context&, absl::string_view name, std::string* value) {
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  XattrTarget t = XattrTargetFor(where.dir, where.name);
  std::string n(name);
  auto get = [&](void* buf, size_t size) {
    return t.follow ? getxattr(t.path.c_str(), n.c_str(), buf, size)
                    : lgetxattr(t.path.c_str(), n.c_str(), buf, size);
  };
  for (int attempt = 0; attempt < 8; ++attempt) {
    ssize_t size = get(nullptr, 0);
    if (size < 0) return Last();
    value->resize(static_cast<size_t>(size));
    ssize_t got = get(value->data(), value->size());
    if (got >= 0) {
      value->resize(static_cast<size_t>(got));
      return kOk;
    }
    if (errno != ERANGE) return Last();  // ERANGE: it grew meanwhile
  }
  return Errno(ERANGE);
}

Errno LoopbackNode::Setxattr(const Context&, absl::string_view name,
                             absl::Span<const uint8_t> value, uint32_t flags) {
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  XattrTarget t = XattrTargetFor(where.dir, where.name);
  std::string n(name);
  int r = t.follow ? setxattr(t.path.c_str(), n.c_str(), value.data(), value.size(),
                              static_cast<int>(flags))
                   : lsetxattr(t.path.c_str(), n.c_str(), value.data(), value.size(),
                               static_cast<int>(flags));
  return r == 0 ? kOk : Last();
}

Errno LoopbackNode::Listxattr(const Context&, std::vector<std::string>* names) {
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  XattrTarget t = XattrTargetFor(where.dir, where.name);
  auto list = [&](char* buf, size_t size) {
    return t.follow ? listxattr(t.path.c_str(), buf, size)
                    : llistxattr(t.path.c_str(), buf, size);
  };
  std::string buf;
  for (int attempt = 0;; ++attempt) {
    ssize_t size = list(nullptr, 0);
    if (size < 0) return Last();
    buf.resize(static_cast<size_t>(size));
    ssize_t got = list(buf.data(), buf.size());
    if (got >= 0) {
      buf.resize(static_cast<size_t>(got));
      break;
    }
    if (errno != ERANGE || attempt >= 8) return Last();
  }
  for (absl::string_view n : absl::StrSplit(buf, '\0', absl::SkipEmpty())) {
    names->emplace_back(n);
  }
  return kOk;
}

Errno LoopbackNode::Removexattr(const Context&, absl::string_view name) {
  HostName where;
  Errno e = Locate(&where);
  if (!e.ok()) return e;
  XattrTarget t = XattrTargetFor(where.dir, where.name);
  std::string n(name);
  int r = t.follow ? removexattr(t.path.c_str(), n.c_str())
                   : lremovexattr(t.path.c_str(), n.c_str());
  return r == 0 ? kOk : Last();
}

// --- Handles and lock owners ---------------------------------------------------------------------

void LoopbackNode::AddHandle(LoopbackFileHandle* handle) {
  MutexLock lock(&mu_);
  handles_.push_back(handle);
}

void LoopbackNode::RemoveHandle(LoopbackFileHandle* handle) {
  std::map<uint64_t, std::shared_ptr<ScopedFd>> dropped;
  {
    MutexLock lock(&mu_);
    handles_.erase(std::remove(handles_.begin(), handles_.end(), handle), handles_.end());
    // Nobody has the file open any more: no lock can remain (a release
    // without FLUSH, e.g. after munmap, never named the owners).
    if (handles_.empty()) dropped.swap(lock_fds_);
  }
}

std::shared_ptr<ScopedFd> LoopbackNode::LockFd(uint64_t owner, int from_fd, int access,
                                               bool create, Errno* error) {
  MutexLock lock(&mu_);
  auto it = lock_fds_.find(owner);
  if (it != lock_fds_.end()) return it->second;
  if (!create) return nullptr;
  // A new open file description of the same file, for this owner alone.
  // Read-write if we may, so the owner can take read and write locks.
  std::string path = ProcFdPath(from_fd);
  ScopedFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) fd.reset(open(path.c_str(), access | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    *error = Last();
    return nullptr;
  }
  auto shared = std::make_shared<ScopedFd>(std::move(fd));
  lock_fds_[owner] = shared;
  return shared;
}

void LoopbackNode::DropLockOwner(uint64_t owner) {
  std::shared_ptr<ScopedFd> dropped;  // closed after the lock is released
  MutexLock lock(&mu_);
  auto it = lock_fds_.find(owner);
  if (it == lock_fds_.end()) return;
  dropped = std::move(it->second);
  lock_fds_.erase(it);
}

LoopbackFileHandle::LoopbackFileHandle(LoopbackNode* node, ScopedFd fd, int flags)
    : node_(node), fd_(std::move(fd)), flags_(flags) {
  node_->AddHandle(this);
}

LoopbackFileHandle::~LoopbackFileHandle() {
  if (registered_) node_->RemoveHandle(this);
}

Errno LoopbackFileHandle::Read(const Context&, uint64_t offset, ReadResult* out) {
  // The host file's pages go to the kernel by splice (or pread by fusekit
  // where splice cannot be used).
  out->SetFd(fd_.get(), offset, out->buffer().size());
  return kOk;
}

Errno LoopbackFileHandle::Write(const Context&, uint64_t offset, absl::Span<const uint8_t> data,
                                uint32_t* written) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = pwrite(fd_.get(), data.data() + done, data.size() - done,
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done > 0) break;
      return Last();
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *written = static_cast<uint32_t>(done);
  return kOk;
}

Errno LoopbackFileHandle::WriteBuf(const Context& ctx, uint64_t offset, WritePayload& payload,
                                   uint32_t* written) {
  size_t done = 0;
  // splice(2) refuses O_APPEND files (EINVAL): do not even try.
  if (payload.in_pipe() && !(flags_ & O_APPEND)) {
    if (payload.SpliceTo(fd_.get(), static_cast<off_t>(offset), &done).ok()) {
      *written = static_cast<uint32_t>(done);
      return kOk;
    }
    // Refused, or stopped part way: pwrite what is left, which also
    // reports a real error (ENOSPC, EIO) as write(2) would.
  }
  absl::Span<const uint8_t> rest;
  Errno e = payload.Materialize(&rest);
  if (!e.ok()) {
    if (done == 0) return e;
    *written = static_cast<uint32_t>(done);
    return kOk;
  }
  uint32_t more = 0;
  e = Write(ctx, offset + done, rest, &more);
  if (!e.ok() && done == 0) return e;
  *written = static_cast<uint32_t>(done + (e.ok() ? more : 0));
  return kOk;
}

Errno LoopbackNode::WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset,
                             WritePayload& payload, uint32_t* written) {
  if (fh != nullptr) return fh->WriteBuf(ctx, offset, payload, written);
  return Node::WriteBuf(ctx, fh, offset, payload, written);
}

Errno LoopbackFileHandle::Flush(const Context& ctx) {
  // close(2) of one descriptor: report what closing the host file would
  // (NFS reports write-back errors here), without closing ours.
  Errno result = kOk;
  int copy = fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    result = Last();
  } else if (close(copy) != 0) {
    result = Last();
  }
  // With POSIX_LOCKS the kernel leaves unlock-on-close to us: every close
  // by an owner drops all its locks on this file.
  if (ctx.lock_owner() != 0) node_->DropLockOwner(ctx.lock_owner());
  return result;
}

Errno LoopbackFileHandle::Release(const Context&) {
  std::vector<uint64_t> owners;
  {
    MutexLock lock(&mu_);
    owners.swap(lock_owners_);
  }
  for (uint64_t owner : owners) node_->DropLockOwner(owner);
  if (registered_) {
    node_->RemoveHandle(this);
    registered_ = false;
  }
  fd_.reset();  // also drops this open's flock(2) lock
  return kOk;
}

Errno LoopbackFileHandle::Fsync(const Context&, bool datasync) {
  return (datasync ? fdatasync(fd_.get()) : fsync(fd_.get())) == 0 ? kOk : Last();
}

Errno LoopbackFileHandle::Fallocate(const Context&, uint64_t offset, uint64_t length,
                                    uint32_t mode) {
  return fallocate(fd_.get(), static_cast<int>(mode), static_cast<off_t>(offset),
                   static_cast<off_t>(length)) == 0
             ? kOk
             : Last();
}

Errno LoopbackFileHandle::Lseek(const Context&, uint64_t offset, uint32_t whence,
                                uint64_t* result) {
  // Only SEEK_DATA and SEEK_HOLE come here; the answer does not depend on
  // the descriptor's own position, which nothing else uses.
  off_t r = lseek(fd_.get(), static_cast<off_t>(offset), static_cast<int>(whence));
  if (r < 0) return Last();
  *result = static_cast<uint64_t>(r);
  return kOk;
}

namespace {

struct flock ToFlock(const abi::fuse_file_lock& lk) {
  struct flock fl;
  std::memset(&fl, 0, sizeof(fl));
  fl.l_type = static_cast<short>(lk.type);
  fl.l_whence = SEEK_SET;
  fl.l_start = static_cast<off_t>(lk.start);
  // The kernel's "to the end of file" is OFFSET_MAX.
  fl.l_len = lk.end >= static_cast<uint64_t>(INT64_MAX) ? 0
                                                        : static_cast<off_t>(lk.end - lk.start + 1);
  return fl;
}

void FromFlock(const struct flock& fl, abi::fuse_file_lock* lk) {
  lk->type = static_cast<uint32_t>(fl.l_type);
  if (fl.l_type == F_UNLCK) return;
  lk->start = static_cast<uint64_t>(fl.l_start);
  lk->end = fl.l_len == 0 ? static_cast<uint64_t>(INT64_MAX)
                          : static_cast<uint64_t>(fl.l_start + fl.l_len - 1);
  // OFD locks have no pid (-1); host processes' POSIX locks have theirs,
  // which is meaningless to the caller's pid namespace only in exotic
  // set-ups.
  lk->pid = fl.l_pid > 0 ? static_cast<uint32_t>(fl.l_pid) : 0;
}

}  // namespace

Errno LoopbackFileHandle::Getlk(const Context&, uint64_t owner, abi::fuse_file_lock* lock) {
  // The owner's own locks never conflict with it: ask through its
  // descriptor if it has one. The handle's descriptor holds no POSIX lock.
  Errno error;
  std::shared_ptr<ScopedFd> owner_fd =
      node_->LockFd(owner, fd_.get(), flags_ & O_ACCMODE, /*create=*/false, &error);
  struct flock fl = ToFlock(*lock);
  if (fcntl(owner_fd ? owner_fd->get() : fd_.get(), F_OFD_GETLK, &fl) != 0) return Last();
  FromFlock(fl, lock);
  return kOk;
}

Errno LoopbackFileHandle::Setlk(const Context& ctx, uint64_t owner,
                                const abi::fuse_file_lock& lock, bool wait, bool flock_lock) {
  if (flock_lock) {
    int op = lock.type == F_RDLCK ? LOCK_SH : lock.type == F_WRLCK ? LOCK_EX : LOCK_UN;
    auto try_once = [&]() -> Errno {
      if (::flock(fd_.get(), op | LOCK_NB) == 0) return kOk;
      return errno == EWOULDBLOCK ? Errno(EAGAIN) : Last();
    };
    return wait ? WaitForLock(ctx, try_once) : try_once();
  }
  const bool unlock = lock.type == F_UNLCK;
  if (!unlock) {
    MutexLock lock_owners(&mu_);
    if (std::find(lock_owners_.begin(), lock_owners_.end(), owner) == lock_owners_.end()) {
      lock_owners_.push_back(owner);
    }
  }
  Errno error;
  std::shared_ptr<ScopedFd> owner_fd =
      node_->LockFd(owner, fd_.get(), flags_ & O_ACCMODE, /*create=*/!unlock, &error);
  if (owner_fd == nullptr) return unlock ? kOk : error;
  struct flock fl = ToFlock(lock);
  auto try_once = [&]() -> Errno {
    if (fcntl(owner_fd->get(), F_OFD_SETLK, &fl) == 0) return kOk;
    return (errno == EAGAIN || errno == EACCES) ? Errno(EAGAIN) : Last();
  };
  return wait ? WaitForLock(ctx, try_once) : try_once();
}

Errno LoopbackFileHandle::CopyFileRange(const Context&, uint64_t offset, FileHandle* out,
                                        uint64_t out_offset, uint64_t length, uint64_t* copied) {
  auto* to = dynamic_cast<LoopbackFileHandle*>(out);
  if (to == nullptr) return Errno(EXDEV);  // the kernel then copies by read and write
  loff_t in_off = static_cast<loff_t>(offset);
  loff_t out_off = static_cast<loff_t>(out_offset);
  ssize_t n = copy_file_range(fd_.get(), &in_off, to->fd_.get(), &out_off,
                              static_cast<size_t>(std::min(length, kMaxCopy)), 0);
  if (n < 0) return Last();
  *copied = static_cast<uint64_t>(n);
  return kOk;
}

}  // namespace fusekit
