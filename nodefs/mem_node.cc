#include "nodefs/mem_node.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/time/time.h"

namespace fusekit {
namespace {

constexpr uint64_t kPage = MemStore::kPageSize;
// The largest file size and offset (the kernel's MAX_LFS_FILESIZE, and
// fuse_file_lock's OFFSET_MAX for "to the end of the file").
constexpr uint64_t kMaxFileSize = uint64_t{INT64_MAX};
constexpr uint64_t kOffsetMax = uint64_t{INT64_MAX};
// How often a waiting F_SETLKW looks for an INTERRUPT.
constexpr absl::Duration kLockPoll = absl::Milliseconds(20);

struct timespec Now() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

bool NotAfter(const struct timespec& a, const struct timespec& b) {
  return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec <= b.tv_nsec);
}

// The xattr namespaces tmpfs stores (system.* ACLs are the kernel's).
bool SupportedXattr(absl::string_view name) {
  return absl::StartsWith(name, "user.") || absl::StartsWith(name, "trusted.") ||
         absl::StartsWith(name, "security.");
}

bool Overlaps(uint64_t start1, uint64_t end1, uint64_t start2, uint64_t end2) {
  return start1 <= end2 && start2 <= end1;
}

// std::condition_variable_any over fusekit::Mutex.
class LockAdapter {
 public:
  explicit LockAdapter(Mutex* mu) : mu_(mu) {}
  void lock() ABSL_NO_THREAD_SAFETY_ANALYSIS { mu_->Lock(); }
  void unlock() ABSL_NO_THREAD_SAFETY_ANALYSIS { mu_->Unlock(); }

 private:
  Mutex* const mu_;
};

}  // namespace

// --- MemStore -------------------------------------------------------------------

MemStore::MemStore(const MemFsOptions& options) : options_(options) {}

bool MemStore::TakePages(uint64_t pages) {
  if (pages == 0) return true;
  if (options_.max_bytes == 0) {
    used_pages_.fetch_add(pages);
    return true;
  }
  const uint64_t limit = options_.max_bytes / kPage;
  uint64_t used = used_pages_.load();
  do {
    if (pages > limit || used > limit - pages) return false;
  } while (!used_pages_.compare_exchange_weak(used, used + pages));
  return true;
}

void MemStore::GivePages(uint64_t pages) { used_pages_.fetch_sub(pages); }

bool MemStore::InodesOverLimit() const {
  return options_.max_inodes != 0 && inodes_.load() > options_.max_inodes;
}

void MemStore::Statfs(abi::fuse_kstatfs* out) const {
  const uint64_t used = used_pages_.load();
  uint64_t total;
  if (options_.max_bytes != 0) {
    total = options_.max_bytes / kPage;
  } else {
    long pages = sysconf(_SC_AVPHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    uint64_t available = pages > 0 && page_size > 0
                             ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / kPage
                             : 0;
    total = used + available;
  }
  out->bsize = kPage;
  out->frsize = kPage;
  out->namelen = 255;
  out->blocks = total;
  out->bfree = out->bavail = total > used ? total - used : 0;
  const uint64_t inodes = inodes_.load();
  out->files = options_.max_inodes != 0 ? options_.max_inodes : uint64_t{1} << 32;
  out->ffree = out->files > inodes ? out->files - inodes : 0;
}

bool MemStore::WouldDeadlock(uint64_t waiter, uint64_t holder) {
  MutexLock lock(&waits_mu_);
  // Follow the chain of waits from the holder; the kernel's
  // posix_locks_deadlock does the same (and also gives up after a bound).
  for (int steps = 0; steps < 1024; ++steps) {
    if (holder == waiter) return true;
    auto it = waits_for_.find(holder);
    if (it == waits_for_.end()) return false;
    holder = it->second;
  }
  return false;
}

void MemStore::SetWaiting(uint64_t waiter, uint64_t holder) {
  MutexLock lock(&waits_mu_);
  waits_for_[waiter] = holder;
}

void MemStore::ClearWaiting(uint64_t waiter) {
  MutexLock lock(&waits_mu_);
  waits_for_.erase(waiter);
}

// --- MemNode ---------------------------------------------------------------------

MemNode::MemNode(uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
                 std::shared_ptr<MemStore> store)
    : store_(store ? std::move(store) : std::make_shared<MemStore>()),
      mode_(mode),
      uid_(uid),
      gid_(gid),
      rdev_(rdev) {
  atime_ = mtime_ = ctime_ = Now();
  store_->AddInode();
}

MemNode::~MemNode() { store_->RemoveInode(); }

void MemNode::FillAttrLocked(abi::fuse_attr* a) {
  a->mode = mode_;
  a->uid = uid_;
  a->gid = gid_;
  a->rdev = rdev_;
  a->size = SizeLocked();
  a->blocks = BlocksLocked();
  a->blksize = kPage;
  a->atime = atime_.tv_sec;
  a->atimensec = atime_.tv_nsec;
  a->mtime = mtime_.tv_sec;
  a->mtimensec = mtime_.tv_nsec;
  a->ctime = ctime_.tv_sec;
  a->ctimensec = ctime_.tv_nsec;
}

void MemNode::TouchAccessedLocked() {
  struct timespec now = Now();
  if (NotAfter(atime_, mtime_) || NotAfter(atime_, ctime_) || now.tv_sec - atime_.tv_sec >= 86400) {
    atime_ = now;
  }
}

Errno MemNode::Getattr(const Context&, FileHandle*, AttrOut* out) {
  // A file's link count is the number of names the tree holds for it.
  size_t links = inode()->ParentCount();
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
      mtime_ = now;  // truncate(2) always; the kernel sends MTIME too
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
    // Any attribute change is a status change (POSIX: ctime), utimensat(2)
    // with explicit times included.
    ctime_ = (in.valid & abi::kFattrCtime)
                 ? timespec{static_cast<time_t>(in.ctime), static_cast<long>(in.ctimensec)}
                 : now;
  }
  return Getattr(ctx, fh, out);
}

Errno MemNode::Statfs(const Context&, abi::fuse_kstatfs* out) {
  store_->Statfs(out);
  return kOk;
}

Errno MemNode::Getxattr(const Context&, absl::string_view name, std::string* value) {
  if (!SupportedXattr(name)) return Errno(EOPNOTSUPP);
  MutexLock lock(&mu_);
  auto it = xattrs_.find(name);
  if (it == xattrs_.end()) return Errno(ENODATA);
  *value = it->second;
  return kOk;
}

Errno MemNode::Setxattr(const Context&, absl::string_view name, absl::Span<const uint8_t> value,
                        uint32_t flags) {
  if (!SupportedXattr(name)) return Errno(EOPNOTSUPP);
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

Errno MemNode::KillPrivileges(const Context&, FileHandle*, PrivilegeKill* kill) {
  MutexLock lock(&mu_);
  const uint32_t mode = ModeAfterKill(mode_, kill->suid_sgid);
  bool changed = false;
  if (mode != mode_) {
    mode_ = mode;
    kill->mode_changed = changed = true;
  }
  if (kill->capability && !xattrs_.empty()) {
    auto it = xattrs_.find(absl::string_view("security.capability"));
    if (it != xattrs_.end()) {
      xattrs_.erase(it);
      changed = true;
    }
  }
  if (changed) ctime_ = Now();
  return kOk;
}

Errno MemNode::Removexattr(const Context&, absl::string_view name) {
  if (!SupportedXattr(name)) return Errno(EOPNOTSUPP);
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

// --- MemFile: data ---------------------------------------------------------------------

MemFile::~MemFile() {
  // The last reference is gone (no name, no open, forgotten): give the
  // space back.
  store_->GivePages(pages_.size());
}

void MemFile::FillOpen(uint32_t open_flags, OpenOut* out) {
  out->handle = std::make_unique<MemFileHandle>(this, open_flags);
  if (!store_->options().posix_locks) out->flags |= abi::kOpenNoflush;
}

Errno MemFile::Open(const Context&, uint32_t flags, OpenOut* out) {
  MutexLock lock(&mu_);
  const bool regular = (mode_ & S_IFMT) == S_IFREG;
  if ((flags & O_TRUNC) && regular) {
    // open(O_TRUNC) marks mtime and ctime even when the file was empty, as
    // do_truncate does on every Linux filesystem.
    Errno e = TruncateLocked(0);
    if (!e.ok()) return e;
    mtime_ = ctime_ = Now();
  }
  if (regular) FillOpen(flags, out);
  return kOk;
}

Errno MemFile::Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) {
  MutexLock lock(&mu_);
  if (offset >= size_) {
    out->SetSize(0);
    return kOk;
  }
  absl::Span<uint8_t> buffer = out->buffer();
  const uint64_t n = std::min<uint64_t>(buffer.size(), size_ - offset);
  auto it = pages_.lower_bound(offset / kPage);
  for (uint64_t done = 0; done < n;) {
    const uint64_t pos = offset + done;
    const uint64_t index = pos / kPage;
    const size_t in_page = pos % kPage;
    const size_t chunk = std::min<uint64_t>(kPage - in_page, n - done);
    while (it != pages_.end() && it->first < index) ++it;
    if (it != pages_.end() && it->first == index && it->second != nullptr) {
      std::memcpy(buffer.data() + done, it->second->bytes + in_page, chunk);
    } else {
      std::memset(buffer.data() + done, 0, chunk);  // a hole
    }
    done += chunk;
  }
  out->SetSize(n);
  TouchAccessedLocked();
  return kOk;
}

bool MemFile::WritePageLocked(uint64_t index, size_t in_page, const uint8_t* data, size_t n) {
  // A new page the write fills whole is not zeroed first (that would cost
  // as much as the copy); any other new page is, so it reads back zeros
  // around the data.
  auto new_page = [n] {
    return n == kPage ? std::make_unique_for_overwrite<Page>() : std::make_unique<Page>();
  };
  auto it = pages_.find(index);
  if (it == pages_.end()) {
    if (!store_->TakePages(1)) return false;
    it = pages_.emplace(index, new_page()).first;
  } else if (it->second == nullptr) {
    it->second = new_page();  // allocated by fallocate: space already taken
  }
  std::memcpy(it->second->bytes + in_page, data, n);
  return true;
}

Errno MemFile::Write(const Context&, FileHandle* fh, uint64_t offset,
                     absl::Span<const uint8_t> data, uint32_t* written) {
  MutexLock lock(&mu_);
  // O_APPEND: at our end of file, atomically with the write.
  auto* handle = dynamic_cast<MemFileHandle*>(fh);
  if (handle != nullptr && (handle->flags() & O_APPEND)) offset = size_;
  *written = 0;
  if (data.empty()) return kOk;
  if (offset >= kMaxFileSize || data.size() > kMaxFileSize - offset) return Errno(EFBIG);
  size_t done = 0;
  while (done < data.size()) {
    const uint64_t pos = offset + done;
    const size_t in_page = pos % kPage;
    const size_t chunk = std::min<size_t>(kPage - in_page, data.size() - done);
    if (!WritePageLocked(pos / kPage, in_page, data.data() + done, chunk)) break;
    done += chunk;
  }
  if (done == 0) return Errno(ENOSPC);
  size_ = std::max<uint64_t>(size_, offset + done);
  mtime_ = ctime_ = Now();
  *written = static_cast<uint32_t>(done);
  return kOk;
}

void MemFile::DropPagesFromLocked(uint64_t first) {
  auto it = pages_.lower_bound(first);
  uint64_t dropped = 0;
  for (auto i = it; i != pages_.end(); ++i) ++dropped;
  pages_.erase(it, pages_.end());
  store_->GivePages(dropped);
}

void MemFile::PunchLocked(uint64_t offset, uint64_t length) {
  const uint64_t end = offset + length;  // exclusive; callers keep it <= 2^63
  uint64_t freed = 0;
  for (auto it = pages_.lower_bound(offset / kPage);
       it != pages_.end() && it->first * kPage < end;) {
    const uint64_t page_start = it->first * kPage;
    const uint64_t from = std::max(offset, page_start);
    const uint64_t to = std::min(end, page_start + kPage);
    if (from == page_start && to == page_start + kPage) {
      it = pages_.erase(it);
      ++freed;
      continue;
    }
    if (it->second != nullptr) std::memset(it->second->bytes + (from - page_start), 0, to - from);
    ++it;
  }
  store_->GivePages(freed);
}

Errno MemFile::TruncateLocked(uint64_t size) {
  if ((mode_ & S_IFMT) != S_IFREG) return Errno(EINVAL);
  if (size > kMaxFileSize) return Errno(EFBIG);
  if (size < size_) {
    // Everything past the new end goes, so a later extension reads zeros
    // (bytes at or past size_ are always zero).
    DropPagesFromLocked((size + kPage - 1) / kPage);
    if (size % kPage != 0) {
      auto it = pages_.find(size / kPage);
      if (it != pages_.end() && it->second != nullptr) {
        std::memset(it->second->bytes + size % kPage, 0, kPage - size % kPage);
      }
    }
  }
  size_ = size;
  ctime_ = Now();
  return kOk;
}

Errno MemFile::Fallocate(const Context&, FileHandle*, uint64_t offset, uint64_t length,
                         uint32_t mode) {
  if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) {
    return Errno(EOPNOTSUPP);
  }
  if ((mode & FALLOC_FL_PUNCH_HOLE) &&
      (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE))) {
    return Errno(EINVAL);
  }
  if (length == 0) return Errno(EINVAL);
  if (offset >= kMaxFileSize || length > kMaxFileSize - offset) return Errno(EFBIG);
  MutexLock lock(&mu_);
  if ((mode_ & S_IFMT) != S_IFREG) return Errno(ENODEV);
  const uint64_t end = offset + length;
  if (mode & FALLOC_FL_PUNCH_HOLE) {
    PunchLocked(offset, length);
    mtime_ = ctime_ = Now();
    return kOk;
  }
  if (mode & FALLOC_FL_ZERO_RANGE) PunchLocked(offset, length);  // then allocate below
  // Allocate every page of the range that is not: all or nothing.
  const uint64_t first = offset / kPage;
  const uint64_t last = (end - 1) / kPage;
  uint64_t present = 0;
  for (auto it = pages_.lower_bound(first); it != pages_.end() && it->first <= last; ++it) {
    ++present;
  }
  if (!store_->TakePages(last - first + 1 - present)) return Errno(ENOSPC);
  for (uint64_t index = first; index <= last; ++index) pages_.try_emplace(index, nullptr);
  if (!(mode & FALLOC_FL_KEEP_SIZE) && end > size_) size_ = end;
  mtime_ = ctime_ = Now();
  return kOk;
}

Errno MemFile::Lseek(const Context&, FileHandle*, uint64_t offset, uint32_t whence,
                     uint64_t* result) {
  if (whence != SEEK_DATA && whence != SEEK_HOLE) return Errno(EINVAL);
  MutexLock lock(&mu_);
  if (offset >= size_) return Errno(ENXIO);
  const uint64_t index = offset / kPage;
  auto it = pages_.lower_bound(index);
  if (whence == SEEK_DATA) {
    if (it == pages_.end() || it->first * kPage >= size_) return Errno(ENXIO);
    *result = std::max(offset, it->first * kPage);
    return kOk;
  }
  uint64_t hole = index;  // the first page at or after `index` not allocated
  for (; it != pages_.end() && it->first == hole; ++it) ++hole;
  *result = std::min(std::max(offset, hole * kPage), size_);  // EOF is a hole
  return kOk;
}

std::string MemFile::content() {
  MutexLock lock(&mu_);
  std::string data(size_, '\0');
  for (auto& [index, page] : pages_) {
    if (page == nullptr || index * kPage >= size_) continue;
    std::memcpy(data.data() + index * kPage, page->bytes,
                std::min<uint64_t>(kPage, size_ - index * kPage));
  }
  return data;
}

uint64_t MemFile::allocated_pages() {
  MutexLock lock(&mu_);
  return pages_.size();
}

// --- MemFile: locks -----------------------------------------------------------------------

const MemFile::Lock* MemFile::ConflictLocked(const std::vector<Lock>& table, uint64_t owner,
                                             uint64_t start, uint64_t end, uint32_t type) const {
  for (const Lock& held : table) {
    if (held.owner == owner || !Overlaps(held.start, held.end, start, end)) continue;
    if (held.type == F_WRLCK || type == F_WRLCK) return &held;
  }
  return nullptr;
}

void MemFile::ApplyPosixLocked(uint64_t owner, uint64_t start, uint64_t end, uint32_t type,
                               uint32_t pid) {
  std::vector<Lock> others, mine;
  for (const Lock& held : posix_locks_) {
    if (held.owner != owner) {
      others.push_back(held);
      continue;
    }
    if (!Overlaps(held.start, held.end, start, end)) {
      mine.push_back(held);
      continue;
    }
    // The parts outside the new range keep their type.
    if (held.start < start) mine.push_back({owner, held.start, start - 1, held.type, held.pid});
    if (held.end > end) mine.push_back({owner, end + 1, held.end, held.type, held.pid});
  }
  if (type != F_UNLCK) mine.push_back({owner, start, end, type, pid});
  // Merge touching ranges of one type, as fcntl does.
  std::sort(mine.begin(), mine.end(),
            [](const Lock& a, const Lock& b) { return a.start < b.start; });
  for (const Lock& l : mine) {
    if (!others.empty() && others.back().owner == owner && others.back().type == l.type &&
        others.back().end + 1 >= l.start) {
      others.back().end = std::max(others.back().end, l.end);
      continue;
    }
    others.push_back(l);
  }
  posix_locks_ = std::move(others);
}

void MemFile::WaitForLockChangeLocked(absl::Duration timeout) {
  LockAdapter adapter(&mu_);
  locks_changed_.wait_for(adapter, absl::ToChronoNanoseconds(timeout));
}

Errno MemFile::GetLock(uint64_t owner, abi::fuse_file_lock* lock) {
  if (lock->type != F_RDLCK && lock->type != F_WRLCK) return Errno(EINVAL);
  if (lock->start > lock->end) return Errno(EINVAL);
  MutexLock guard(&mu_);
  const Lock* conflict = ConflictLocked(posix_locks_, owner, lock->start, lock->end, lock->type);
  if (conflict == nullptr) {
    lock->type = F_UNLCK;
    return kOk;
  }
  lock->type = conflict->type;
  lock->start = conflict->start;
  lock->end = conflict->end;
  lock->pid = conflict->pid;
  return kOk;
}

Errno MemFile::SetLock(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock,
                       bool wait, bool flock, const FileHandle* file) {
  if (lock.type != F_RDLCK && lock.type != F_WRLCK && lock.type != F_UNLCK) return Errno(EINVAL);
  if (lock.start > lock.end) return Errno(EINVAL);
  const uint64_t end = std::min(lock.end, kOffsetMax);
  MutexLock guard(&mu_);
  bool waited = false;
  Errno result = kOk;
  for (;;) {
    std::vector<Lock>& table = flock ? flocks_ : posix_locks_;
    const Lock* conflict = lock.type == F_UNLCK
                               ? nullptr
                               : ConflictLocked(table, owner, lock.start, end, lock.type);
    if (conflict == nullptr) {
      if (flock) {
        // One flock per open file: replace it (atomically, unlike Linux,
        // which drops the old lock before waiting for the new one).
        flocks_.erase(std::remove_if(flocks_.begin(), flocks_.end(),
                                     [&](const Lock& l) { return l.owner == owner; }),
                      flocks_.end());
        if (lock.type != F_UNLCK) {
          flocks_.push_back({owner, lock.start, end, lock.type, lock.pid, file});
        }
      } else {
        ApplyPosixLocked(owner, lock.start, end, lock.type, lock.pid);
      }
      locks_changed_.notify_all();
      break;
    }
    if (!wait) {
      result = Errno(EAGAIN);
      break;
    }
    // fcntl's deadlock detection (flock has none, as in Linux).
    if (!flock && store_->WouldDeadlock(owner, conflict->owner)) {
      result = Errno(EDEADLK);
      break;
    }
    // The caller got a signal: the kernel restarts the call or returns
    // EINTR, as the signal's handler asks.
    if (ctx.Interrupted()) {
      result = Errno(EINTR);
      break;
    }
    if (!flock) store_->SetWaiting(owner, conflict->owner);
    waited = true;
    WaitForLockChangeLocked(kLockPoll);
  }
  if (waited && !flock) store_->ClearWaiting(owner);
  return result;
}

void MemFile::DropPosixLocks(uint64_t owner) {
  MutexLock guard(&mu_);
  size_t before = posix_locks_.size();
  posix_locks_.erase(std::remove_if(posix_locks_.begin(), posix_locks_.end(),
                                    [&](const Lock& l) { return l.owner == owner; }),
                     posix_locks_.end());
  if (posix_locks_.size() != before) locks_changed_.notify_all();
}

void MemFile::DropFlocks(const FileHandle* file, uint64_t owner) {
  MutexLock guard(&mu_);
  size_t before = flocks_.size();
  flocks_.erase(std::remove_if(flocks_.begin(), flocks_.end(),
                               [&](const Lock& l) {
                                 return l.file == file || (owner != 0 && l.owner == owner);
                               }),
                flocks_.end());
  if (flocks_.size() != before) locks_changed_.notify_all();
}

// --- MemFileHandle ---------------------------------------------------------------------

Errno MemFileHandle::Getlk(const Context&, uint64_t owner, abi::fuse_file_lock* lock) {
  return file_->GetLock(owner, lock);
}

Errno MemFileHandle::Setlk(const Context& ctx, uint64_t owner, const abi::fuse_file_lock& lock,
                           bool wait, bool flock) {
  if (!flock && lock.type != F_UNLCK) {
    MutexLock guard(&mu_);
    if (std::find(posix_owners_.begin(), posix_owners_.end(), owner) == posix_owners_.end()) {
      posix_owners_.push_back(owner);
    }
  }
  return file_->SetLock(ctx, owner, lock, wait, flock, this);
}

Errno MemFileHandle::Flush(const Context& ctx) {
  // close(2): the closing process's POSIX locks on this file go (the
  // kernel sends no unlock of its own under POSIX_LOCKS).
  if (ctx.lock_owner() != 0) file_->DropPosixLocks(ctx.lock_owner());
  return kOk;
}

Errno MemFileHandle::Release(const Context& ctx) {
  file_->DropFlocks(this, ctx.lock_owner());
  std::vector<uint64_t> owners;
  {
    MutexLock guard(&mu_);
    owners.swap(posix_owners_);
  }
  for (uint64_t owner : owners) file_->DropPosixLocks(owner);
  return kOk;
}

// --- MemSymlink --------------------------------------------------------------------

MemSymlink::MemSymlink(std::string target, uint32_t uid, uint32_t gid,
                       std::shared_ptr<MemStore> store)
    : MemNode(S_IFLNK | 0777, uid, gid, 0, std::move(store)), target_(std::move(target)) {}

Errno MemSymlink::Readlink(const Context&, std::string* target) {
  *target = target_;
  return kOk;
}

// --- MemDir --------------------------------------------------------------------------

MemDir::MemDir(uint32_t mode, uint32_t uid, uint32_t gid, std::shared_ptr<MemStore> store)
    : MemNode(S_IFDIR | (mode & 07777), uid, gid, 0, std::move(store)) {}

std::unique_ptr<MemDir> MemDir::NewRoot(const MemFsOptions& options) {
  uint32_t uid = options.root_uid >= 0 ? static_cast<uint32_t>(options.root_uid) : geteuid();
  uint32_t gid = options.root_gid >= 0 ? static_cast<uint32_t>(options.root_gid) : getegid();
  return std::make_unique<MemDir>(S_IFDIR | (options.root_mode & 07777), uid, gid,
                                  std::make_shared<MemStore>(options));
}

Errno MemDir::Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) {
  // A directory's link count: its own entry, ".", and each subdirectory's "..".
  // (Counted without a snapshot: the kernel asks after every entry made or
  // removed here, and copying 10000 children each time made filling a big
  // directory quadratic.)
  const uint32_t subdirs = static_cast<uint32_t>(inode()->ChildDirectoryCount());
  // Removed (rmdir, or replaced by a rename) but still open: no links, as
  // on tmpfs.
  const bool removed = !inode()->IsRoot() && inode()->ParentCount() == 0;
  MutexLock lock(&mu_);
  FillAttrLocked(&out->attr);
  out->attr.nlink = removed ? 0 : 2 + subdirs;
  out->attr.size = 4096;
  return kOk;
}

Errno MemDir::Open(const Context&, uint32_t, OpenOut*) { return Errno(EISDIR); }

Errno MemDir::Opendir(const Context&, OpenOut* out) {
  if (store_->options().no_opendir) return Errno(ENOSYS);
  // Every change to a directory goes through the kernel, which then drops
  // its cached listing, and the tree's listings seek (DirStream), so the
  // kernel resumes a stale cached listing exactly.
  if (store_->options().cache_listings) out->flags = abi::kOpenCacheDir | abi::kOpenKeepCache;
  return kOk;
}

Errno MemDir::Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream) {
  {
    MutexLock lock(&mu_);
    TouchAccessedLocked();
  }
  return Node::Readdir(ctx, stream);
}

namespace {

// "." and ".." are never the name to create, remove or rename: the kernel's
// path walk answers before it asks a filesystem, and a peer that sends them
// anyway gets what the kernel would say (fs/namei.c): filename_create
// EEXIST, do_unlinkat EISDIR, do_rmdir EINVAL for "." and ENOTEMPTY for
// "..", do_renameat2 EBUSY (EEXIST for a target with RENAME_NOREPLACE).
bool IsDots(absl::string_view name) { return name == "." || name == ".."; }

}  // namespace

Errno MemDir::AddNode(std::unique_ptr<MemNode> node, uint32_t type, Inode** child) {
  // The node counted itself; past the limit it is dropped (and uncounted).
  if (store_->InodesOverLimit()) return Errno(ENOSPC);
  // st_ino is automatic (Options::first_automatic_ino on): numbers of our
  // own could meet those of other nodes mounted in the same tree.
  *child = inode()->NewInode(std::move(node), {.mode = type});
  TouchModified();
  return kOk;
}

namespace {

// The owner of a new node: the caller, but a set-group-ID directory's group
// (and, for subdirectories, its set-group-ID bit), as in inode_init_owner.
void InheritOwner(uint32_t dir_mode, uint32_t dir_gid, bool is_dir, uint32_t* mode,
                  uint32_t* gid) {
  if (!(dir_mode & S_ISGID)) return;
  *gid = dir_gid;
  if (is_dir) *mode |= S_ISGID;
}

}  // namespace

Errno MemDir::Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
                    EntryOut*, Inode** child) {
  if (IsDots(name) || inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFIFO && type != S_IFCHR && type != S_IFBLK &&
      type != S_IFSOCK) {
    return Errno(EINVAL);
  }
  uint32_t perm = mode & 07777, gid = ctx.gid();
  {
    MutexLock lock(&mu_);
    InheritOwner(mode_, gid_, false, &perm, &gid);
  }
  return AddNode(std::make_unique<MemFile>(type | perm, ctx.uid(), gid, rdev, store_), type,
                 child);
}

Errno MemDir::Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut*,
                    Inode** child) {
  if (IsDots(name) || inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  uint32_t perm = mode & 07777, gid = ctx.gid();
  {
    MutexLock lock(&mu_);
    InheritOwner(mode_, gid_, true, &perm, &gid);
  }
  return AddNode(std::make_unique<MemDir>(perm, ctx.uid(), gid, store_), S_IFDIR, child);
}

Errno MemDir::Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                      EntryOut*, Inode** child) {
  if (IsDots(name) || inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  uint32_t perm = 0777, gid = ctx.gid();
  {
    MutexLock lock(&mu_);
    InheritOwner(mode_, gid_, false, &perm, &gid);
  }
  return AddNode(std::make_unique<MemSymlink>(std::string(target), ctx.uid(), gid, store_),
                 S_IFLNK, child);
}

Errno MemDir::Link(const Context&, Inode* target, absl::string_view name, EntryOut*,
                   Inode** child) {
  if (target->IsDir()) return Errno(EPERM);
  if (IsDots(name) || inode()->GetChild(name) != nullptr) return Errno(EEXIST);
  // An unlinked file (open, but no name left) may not get a name back.
  if (target->Parents().empty()) return Errno(ENOENT);
  *child = target;
  if (auto* node = target->node<MemNode>()) node->TouchChanged();
  TouchModified();
  return kOk;
}

Errno MemDir::Unlink(const Context&, absl::string_view name) {
  if (IsDots(name)) return Errno(EISDIR);
  Inode* child = inode()->GetChild(name);
  if (child == nullptr) return Errno(ENOENT);
  if (child->IsDir()) return Errno(EISDIR);
  if (auto* node = child->node<MemNode>()) node->TouchChanged();
  TouchModified();
  return kOk;
}

Errno MemDir::Rmdir(const Context&, absl::string_view name) {
  if (name == ".") return Errno(EINVAL);
  if (name == "..") return Errno(ENOTEMPTY);
  Inode* child = inode()->GetChild(name);
  if (child == nullptr) return Errno(ENOENT);
  if (!child->IsDir()) return Errno(ENOTDIR);
  if (!child->Children().empty()) return Errno(ENOTEMPTY);
  TouchModified();
  return kOk;
}

Errno MemDir::Rename(const Context&, absl::string_view name, Inode* new_parent,
                     absl::string_view new_name, uint32_t flags) {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return Errno(EINVAL);
  if (IsDots(name)) return Errno(EBUSY);
  if (IsDots(new_name)) return Errno((flags & RENAME_NOREPLACE) ? EEXIST : EBUSY);
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
  auto inside = [](Inode* dir, Inode* at) {
    while (at != nullptr) {
      if (at == dir) return true;
      auto parents = at->Parents();
      at = parents.empty() ? nullptr : parents[0].first;
    }
    return false;
  };
  if (source->IsDir() && inside(source, new_parent)) return Errno(EINVAL);
  if ((flags & RENAME_EXCHANGE) && target->IsDir() && inside(target, inode())) {
    return Errno(EINVAL);
  }
  TouchModified();
  if (auto* dir = new_parent->node<MemNode>(); dir != nullptr && dir != this) dir->TouchModified();
  if (auto* node = source->node<MemNode>()) node->TouchChanged();
  // The entry replaced (one link less) or swapped changes too.
  if (target != nullptr && target != source) {
    if (auto* node = target->node<MemNode>()) node->TouchChanged();
  }
  return kOk;
}

Errno MemDir::Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
                     EntryOut*, Inode** child, OpenOut* open) {
  if (IsDots(name)) return Errno(EEXIST);
  if (Inode* existing = inode()->GetChild(name)) {
    // The kernel sends CREATE for names it believes missing; another
    // client may have made it meanwhile.
    if (flags & O_EXCL) return Errno(EEXIST);
    if (existing->IsDir()) return Errno(EISDIR);
    // The kernel takes only a regular file from CREATE (fs/fuse/dir.c:
    // fuse_create_open fails with EIO otherwise, keeping the lookup we
    // counted and never releasing the open). EEXIST makes it drop its
    // negative dentry (fuse_atomic_open) so the next open looks the name
    // up and follows the symlink or opens the fifo the VFS way.
    if ((existing->stable().mode & S_IFMT) != S_IFREG) return Errno(EEXIST);
    *child = existing;
    return existing->node()->Open(ctx, flags, open);
  }
  uint32_t perm = mode & 07777, gid = ctx.gid();
  {
    MutexLock lock(&mu_);
    InheritOwner(mode_, gid_, false, &perm, &gid);
  }
  auto node = std::make_unique<MemFile>(S_IFREG | perm, ctx.uid(), gid, 0, store_);
  MemFile* file = node.get();
  Errno e = AddNode(std::move(node), S_IFREG, child);
  if (!e.ok()) return e;
  file->FillOpen(flags, open);
  return kOk;
}

}  // namespace fusekit
