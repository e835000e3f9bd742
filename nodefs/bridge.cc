#include "nodefs/bridge.h"

#include <fcntl.h>
#include <poll.h>
#include <linux/fs.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "absl/strings/str_cat.h"
#include "fuse/aligned_buffer.h"
#include "nodefs/pins.h"

namespace fusekit {
namespace {

// libfuse's FUSE_UNKNOWN_INO: a listing entry whose inode is not known.
constexpr uint64_t kUnknownIno = 0xffffffff;
constexpr Errno kStale(ESTALE);
constexpr Errno kBadHandle(EBADF);

void LogLine(absl::string_view line) {
  std::string s = absl::StrCat("fusekit: ", line, "\n");
  fwrite(s.data(), 1, s.size(), stderr);
}

// A reusable per-thread buffer for reads: no allocation per request once it
// has grown to max_read. Page-aligned: a Node's pread into it runs fastest
// there (finding 15 in docs/PERFORMANCE.md).
absl::Span<uint8_t> ReadBuffer(size_t size) {
  thread_local AlignedBuffer buffer;
  return absl::Span<uint8_t>(buffer.Reserve(size), size);
}

}  // namespace

// One open(2) or opendir(3): the inode (kept alive while open), the user's
// handle (may be null) and, for directories, the numbered listing.
struct Bridge::OpenFile {
  std::shared_ptr<Inode> inode;
  std::unique_ptr<FileHandle> handle;
  bool dir = false;
  bool passthrough = false;  // the kernel does this open's I/O itself
  Mutex mu;
  // A directory's listing, from Node::Readdir (or the handle's) at the
  // first READDIR and at every rewind (offset 0).
  // Null until the first READDIR, and again once the handle is released.
  std::unique_ptr<DirStream> stream ABSL_GUARDED_BY(mu);
  bool stream_ended ABSL_GUARDED_BY(mu) = false;
  Errno stream_error ABSL_GUARDED_BY(mu);  // how it ended, if not at its end
  // A stream that seeks (DirStream::Seek) carries its own offsets and is
  // read where the kernel asks: fusekit keeps only the entry that did not
  // fit the last reply.
  bool seekable ABSL_GUARDED_BY(mu) = false;
  uint64_t position ABSL_GUARDED_BY(mu) = 0;  // the offset the stream stands at
  std::optional<DirStreamEntry> pending ABSL_GUARDED_BY(mu);
  // Any other is numbered: entry i has offset i+1, and what was read stays
  // until a rewind, so telldir values stay valid. Pulled from the stream a
  // chunk at a time, into a buffer recycled from earlier listings
  // (Bridge::spare_listings_).
  std::vector<DirStreamEntry> listing ABSL_GUARDED_BY(mu);

  // The entry after offset `offset`, reading the stream as far as needed;
  // null at the end (and *error set if the stream failed there).
  const DirStreamEntry* EntryAfter(uint64_t offset, Errno* error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (seekable) {
      if (offset != position) {
        stream->Seek(offset);
        position = offset;
        pending.reset();
        stream_ended = false;
        stream_error = kOk;
      }
      if (!pending && !stream_ended) {
        DirStreamEntry entry;
        if (stream->Next(&entry, &stream_error)) {
          pending = std::move(entry);
        } else {
          stream_ended = true;
        }
      }
      if (!pending) *error = stream_error;
      return pending ? &*pending : nullptr;
    }
    while (offset >= listing.size()) {
      if (stream_ended) {
        *error = stream_error;
        return nullptr;
      }
      DirStreamEntry entry;
      if (!stream->Next(&entry, &stream_error)) {
        stream_ended = true;
        continue;
      }
      listing.push_back(std::move(entry));
    }
    return &listing[offset];
  }
  // The d_off of the entry EntryAfter(offset) returned.
  uint64_t OffsetOf(const DirStreamEntry& entry, uint64_t offset) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return seekable ? entry.offset : offset + 1;
  }
  // That entry went into the reply: the stream moves past it.
  void Advance(uint64_t offset) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!seekable) return;
    position = offset;
    pending.reset();
  }
};

Bridge::Bridge(std::unique_ptr<Node> root, const Options& options)
    : options_(options),
      default_uid_(options.uid >= 0 ? static_cast<uint32_t>(options.uid) : geteuid()),
      default_gid_(options.gid >= 0 ? static_cast<uint32_t>(options.gid) : getegid()),
      next_ino_(options.first_automatic_ino) {
  StableAttr attr{S_IFDIR, abi::kRootId, 0};
  root_ = std::shared_ptr<Inode>(new Inode(this, abi::kRootId, attr, std::move(root), true));
  root_->node_->inode_ = root_.get();
  {
    MutexLock lock(&NodeShardFor(abi::kRootId).mu);
    NodeShardFor(abi::kRootId).by_id[abi::kRootId] = root_;
  }
  {
    MutexLock lock(&InoShardFor(attr.ino).mu);
    InoShardFor(attr.ino).by_ino[attr.ino] = root_.get();
  }
  PinScope pins;
  root_->node()->OnAdd(Context());
}

Bridge::~Bridge() {
  // Free the tree top-down without MaybeRelease racing us: drop the tables'
  // references; each Inode's destructor detaches its children.
  for (HandleShard& shard : handle_shards_) {
    MutexLock lock(&shard.mu);
    shard.by_fh.clear();
  }
  std::vector<std::shared_ptr<Inode>> all;
  for (NodeShard& shard : node_shards_) {
    MutexLock lock(&shard.mu);
    for (auto& [id, inode] : shard.by_id) all.push_back(inode);
    shard.by_id.clear();
  }
  for (InoShard& shard : ino_shards_) {
    MutexLock lock(&shard.mu);
    shard.by_ino.clear();
  }
  // Cut every parent link first so destructors don't call back into tables.
  for (auto& inode : all) {
    MutexLock lock(&inode->mu_);
    inode->children_.Clear();
    inode->parents_.clear();
    inode->released_ = true;
  }
  all.clear();
  root_.reset();
}

// --- Inode table ---------------------------------------------------------------

Inode* Bridge::MakeInode(std::unique_ptr<Node> node, StableAttr attr, bool persistent) {
  attr.mode &= S_IFMT;
  if (attr.ino != 0) {
    InoShard& shard = InoShardFor(attr.ino);
    MutexLock lock(&shard.mu);
    auto it = shard.by_ino.find(attr.ino);
    if (it != shard.by_ino.end()) {
      Inode* existing = it->second;
      bool alive;
      {
        // Seen alive and pinned under one lock: pinning after unlocking let
        // a racing MaybeRelease (count 0, out of the tree) free the inode in
        // between, and a released inode went back to the kernel.
        MutexLock inode_lock(&existing->mu_);
        alive = !existing->released_;
        PinScope* scope = PinScope::Current();
        if (alive && scope != nullptr) {
          existing->pins_++;
          scope->Add(existing->shared_from_this());
        }
      }
      if (alive) {
        if (existing->stable_.mode != attr.mode) {
          LogLine(absl::StrCat("NewInode: ino ", attr.ino, " is live with another file type;"
                               " returning the live inode"));
        }
        return existing;
      }
    }
  }
  uint64_t id = next_node_id_.fetch_add(1);
  if (attr.ino == 0) attr.ino = next_ino_.fetch_add(1);
  std::shared_ptr<Inode> inode(new Inode(this, id, attr, std::move(node), persistent));
  if (inode->node_) inode->node_->inode_ = inode.get();
  // Pinned before it is published: once in by_ino, another request for the
  // same ino finds it, pins and unpins it, and at that unpin it is
  // unreferenced (no lookups, no parents yet) and would be released under
  // us. Our caller would then add a released inode to the tree, which frees
  // it while a directory still lists it (loopbackfs_hostile_test).
  Inode* pinned = inode->Pin();
  {
    NodeShard& shard = NodeShardFor(id);
    MutexLock lock(&shard.mu);
    shard.by_id[id] = inode;
  }
  {
    InoShard& shard = InoShardFor(attr.ino);
    MutexLock lock(&shard.mu);
    shard.by_ino[attr.ino] = inode.get();
  }
  return pinned;
}

void Bridge::MaybeRelease(Inode* inode) {
  {
    MutexLock lock(&inode->mu_);
    if (inode->released_ || !inode->Unreferenced()) return;
    inode->released_ = true;
  }
  if (inode->node_) inode->node_->OnForget();
  {
    InoShard& shard = InoShardFor(inode->stable_.ino);
    MutexLock lock(&shard.mu);
    auto it = shard.by_ino.find(inode->stable_.ino);
    if (it != shard.by_ino.end() && it->second == inode) shard.by_ino.erase(it);
  }
  std::shared_ptr<Inode> last;  // freed after the shard lock is dropped
  {
    NodeShard& shard = NodeShardFor(inode->node_id_);
    MutexLock lock(&shard.mu);
    auto it = shard.by_id.find(inode->node_id_);
    if (it != shard.by_id.end()) {
      last = std::move(it->second);
      shard.by_id.erase(it);
    }
  }
}

void Bridge::AdjustLookup(Inode* inode, int64_t delta) {
  bool maybe_free = false;
  {
    MutexLock lock(&inode->mu_);
    if (delta < 0 && static_cast<uint64_t>(-delta) > inode->lookup_count_) {
      LogLine(absl::StrCat("FORGET of ", -delta, " for node ", inode->node_id_, " which has ",
                           inode->lookup_count_, ": clamped to 0"));
      inode->lookup_count_ = 0;
    } else {
      inode->lookup_count_ += delta;
    }
    maybe_free = inode->lookup_count_ == 0;
  }
  if (maybe_free) {
    inode->DetachIfLookupOnly();
    MaybeRelease(inode);
  }
}

std::shared_ptr<Inode> Bridge::FindInode(uint64_t node_id) {
  NodeShard& shard = NodeShardFor(node_id);
  MutexLock lock(&shard.mu);
  auto it = shard.by_id.find(node_id);
  return it == shard.by_id.end() ? nullptr : it->second;
}

std::shared_ptr<Inode> Bridge::FindInodeOrReply(Reply& reply, uint64_t node_id) {
  std::shared_ptr<Inode> inode = FindInode(node_id);
  // A node id the kernel still uses but we no longer know: stale.
  if (!inode) reply.Error(kStale);
  return inode;
}

std::map<uint64_t, uint64_t> Bridge::LookupCounts() {
  std::map<uint64_t, uint64_t> counts;
  for (NodeShard& shard : node_shards_) {
    std::vector<std::shared_ptr<Inode>> inodes;
    {
      MutexLock lock(&shard.mu);
      for (auto& [id, inode] : shard.by_id) inodes.push_back(inode);
    }
    for (auto& inode : inodes) counts[inode->node_id()] = inode->lookup_count();
  }
  return counts;
}

size_t Bridge::InodeCount() {
  size_t n = 0;
  for (NodeShard& shard : node_shards_) {
    MutexLock lock(&shard.mu);
    n += shard.by_id.size();
  }
  return n;
}

// --- Handles ------------------------------------------------------------------------

uint64_t Bridge::AddHandle(std::shared_ptr<Inode> inode, std::unique_ptr<FileHandle> handle,
                           bool dir, bool passthrough) {
  {
    MutexLock lock(&inode->mu_);
    inode->open_count_++;
  }
  auto open = std::make_shared<OpenFile>();
  open->inode = std::move(inode);
  open->handle = std::move(handle);
  open->dir = dir;
  open->passthrough = passthrough;
  uint64_t fh = next_fh_.fetch_add(1);
  HandleShard& shard = HandleShardFor(fh);
  MutexLock lock(&shard.mu);
  shard.by_fh[fh] = std::move(open);
  return fh;
}

std::shared_ptr<Bridge::OpenFile> Bridge::FindHandle(uint64_t fh) {
  HandleShard& shard = HandleShardFor(fh);
  MutexLock lock(&shard.mu);
  auto it = shard.by_fh.find(fh);
  return it == shard.by_fh.end() ? nullptr : it->second;
}

std::shared_ptr<Bridge::OpenFile> Bridge::TakeHandle(uint64_t fh) {
  std::shared_ptr<OpenFile> open;
  {
    HandleShard& shard = HandleShardFor(fh);
    MutexLock lock(&shard.mu);
    auto it = shard.by_fh.find(fh);
    if (it == shard.by_fh.end()) return nullptr;
    open = std::move(it->second);
    shard.by_fh.erase(it);
  }
  return open;
}

// --- Attributes -----------------------------------------------------------------------

void Bridge::ForceStable(Inode* inode, abi::fuse_attr* attr) {
  // The kernel marks an inode bad if its type changes; st_ino is ours.
  attr->ino = inode->stable().ino;
  attr->mode = (attr->mode & ~S_IFMT) | inode->stable().mode;
}

Errno Bridge::GetAttr(const Context& ctx, Inode* inode, FileHandle* fh, AttrOut* out) {
  abi::fuse_attr& a = out->attr;
  a = {};
  a.ino = inode->stable().ino;
  a.mode = inode->stable().mode | (inode->IsDir() ? 0755 : 0644);
  a.nlink = inode->IsDir() ? 2 : 1;
  a.uid = default_uid_;
  a.gid = default_gid_;
  a.blksize = 4096;
  Errno e = inode->node()->Getattr(ctx, fh, out);
  if (e.ok()) ForceStable(inode, &a);
  return e;
}

EntryOut Bridge::NewEntryOut() const {
  EntryOut out;
  out.entry_timeout = options_.entry_timeout;
  out.attr_timeout = options_.attr_timeout;
  return out;
}

void Bridge::ReplyWithEntry(ReplyEntry& reply, Inode* child, const EntryOut& out) {
  EntryParam param;
  param.nodeid = child->node_id();
  param.generation = child->stable().gen;
  param.entry_timeout = out.entry_timeout;
  param.attr_timeout = out.attr_timeout;
  param.attr = out.attr;
  ForceStable(child, &param.attr);
  // Counted before the reply goes out so a FORGET racing it cannot free the
  // inode; taken back if the kernel did not take the reply.
  AdjustLookup(child, +1);
  Errno sent = reply.Entry(param);
  if (!sent.ok()) AdjustLookup(child, -1);
}

void Bridge::FinishCreate(ReplyEntry& reply, Errno result, Inode* parent, absl::string_view name,
                          Inode* child, EntryOut& out) {
  if (!result.ok()) {
    reply.Error(result);
    return;
  }
  if (child == nullptr) {
    LogLine(absl::StrCat("a creating method of ", parent->Path(), " returned no child for '",
                         name, "'"));
    reply.Error(Errno(EIO));
    return;
  }
  // In the tree first, so attributes that depend on it (link counts) count
  // the new name. A name the tree refuses (the node accepted a name the
  // tree cannot hold, or created in a non-directory) would leave the kernel
  // a dentry nothing backs.
  if (!parent->AddChild(name, child, /*overwrite=*/true)) {
    LogLine(absl::StrCat("a creating method of ", parent->Path(), " returned a child the tree",
                         " cannot hold as '", name, "'"));
    reply.Error(Errno(EIO));
    return;
  }
  if (out.attr.mode == 0) {  // the node left the attributes to us
    AttrOut attr{.timeout = out.attr_timeout};
    Context ctx(&reply);
    GetAttr(ctx, child, nullptr, &attr);
    out.attr = attr.attr;
  }
  ReplyWithEntry(reply, child, out);
}

// --- Requests ----------------------------------------------------------------------------

void Bridge::Init(const ConnectionInfo& info) {
  passthrough_.store(info.Has(abi::kInitPassthrough));
  no_open_.store(info.Has(abi::kInitNoOpenSupport));
  no_opendir_.store(info.Has(abi::kInitNoOpendirSupport));
  writeback_.store(info.Has(abi::kInitWritebackCache));
  killpriv_.store(info.Has(abi::kInitHandleKillprivV2));
}

Errno Bridge::KillPrivileges(const Context& ctx, Inode* inode, FileHandle* fh, bool suid_sgid,
                             bool* mode_changed) {
  PrivilegeKill kill{.suid_sgid = suid_sgid,
                     .capability = killpriv_.load(std::memory_order_relaxed)};
  if ((!kill.suid_sgid && !kill.capability) || !S_ISREG(inode->stable().mode)) return kOk;
  Errno e = inode->node()->KillPrivileges(ctx, fh, &kill);
  if (kill.mode_changed) {
    // The kernel keeps the mode it had cached (a write invalidates only
    // size and times): without this, a set-user-ID bit we just dropped
    // would still count at exec until the attributes time out.
    inode->NotifyContent(-1, 0);
    if (mode_changed != nullptr) *mode_changed = true;
  }
  return e;
}

// --- Open modes: passthrough or through the node -------------------------------------

namespace {
// Open flags the kernel accepts with FOPEN_PASSTHROUGH (fs/fuse/iomode.c:
// FOPEN_PASSTHROUGH_MASK); any other makes it fail the open with EINVAL.
constexpr uint32_t kPassthroughFlags = abi::kOpenPassthrough | abi::kOpenDirectIo |
                                       abi::kOpenParallelDirectWrites | abi::kOpenNoflush;
}  // namespace

bool Bridge::BeginOpenMode(Inode* inode, const OpenOut& out, OpenParam* param) {
  if (!passthrough_.load()) return false;  // nothing to keep apart
  const uint64_t id = inode->node_id();
  MutexLock lock(&backing_mu_);
  auto backing = backings_.find(id);
  if (out.passthrough_fd >= 0) {
    auto cached = cached_opens_.find(id);
    if (cached == cached_opens_.end() || cached->second == 0) {
      if (backing == backings_.end()) {
        // The first passthrough open of the node registers its file; later
        // ones share it (the kernel keeps one backing file per inode and
        // fails an open naming another with EBUSY).
        int32_t backing_id = 0;
        Server* server = server_.load();
        Errno e = server != nullptr ? server->OpenBacking(out.passthrough_fd, &backing_id)
                                    : Errno(EOPNOTSUPP);
        if (e.ok()) {
          backing = backings_.emplace(id, Backing{backing_id, 0}).first;
        } else if (!passthrough_refusal_logged_.exchange(true)) {
          LogLine(absl::StrCat("passthrough refused (", DescribeErrno(e),
                               "): files are served through the filesystem"));
        }
      }
      if (backing != backings_.end()) {
        backing->second.opens++;
        param->open_flags = (param->open_flags & kPassthroughFlags) | abi::kOpenPassthrough;
        param->backing_id = backing->second.id;
        return true;
      }
    }
  }
  // A normal open. Beside passthrough opens the kernel allows only direct
  // I/O (a cached open would fail with ETXTBSY).
  if (backing != backings_.end()) param->open_flags |= abi::kOpenDirectIo;
  if (!(param->open_flags & abi::kOpenDirectIo)) cached_opens_[id]++;
  return false;
}

void Bridge::EndOpenMode(Inode* inode, bool passthrough) {
  if (!passthrough_.load()) return;
  const uint64_t id = inode->node_id();
  int32_t release = 0;
  {
    MutexLock lock(&backing_mu_);
    if (passthrough) {
      auto it = backings_.find(id);
      if (it == backings_.end()) return;
      if (--it->second.opens > 0) return;
      // The kernel has let go of the backing file too: it drops the inode's
      // with the last passthrough file's release, before sending RELEASE.
      release = it->second.id;
      backings_.erase(it);
    } else {
      auto it = cached_opens_.find(id);
      if (it == cached_opens_.end()) return;
      if (--it->second <= 0) cached_opens_.erase(it);
      return;
    }
  }
  Server* server = server_.load();
  if (server != nullptr) {
    Errno e = server->CloseBacking(release);
    if (!e.ok()) {
      LogLine(absl::StrCat("releasing backing id ", release, ": ", DescribeErrno(e)));
    }
  }
}

size_t Bridge::BackingCount() {
  MutexLock lock(&backing_mu_);
  return backings_.size();
}

void Bridge::AbandonOpen(uint64_t fh, Inode* inode) {
  // The kernel never saw this open: close it.
  if (std::shared_ptr<OpenFile> of = TakeHandle(fh)) {
    if (of->handle) of->handle->Release(Context());
    EndOpenMode(inode, of->passthrough);
    CloseOpen(inode);
  }
}

namespace {
// What a node's Open sees: with the writeback cache the kernel reads to
// fill partial pages (so write-only opens must read) and orders appends
// itself (so O_APPEND would misplace its writes).
uint32_t NodeOpenFlags(uint32_t flags, bool writeback) {
  if (!writeback) return flags;
  if ((flags & O_ACCMODE) == O_WRONLY) flags = (flags & ~O_ACCMODE) | O_RDWR;
  return flags & ~static_cast<uint32_t>(O_APPEND);
}
}  // namespace

void Bridge::Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  if (!dir->IsDir()) {
    reply.Error(Errno(ENOTDIR));
    return;
  }
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  Errno e = dir->node()->Lookup(ctx, name, &out, &child);
  if (e == Errno(ENOENT) && options_.negative_timeout > absl::ZeroDuration()) {
    EntryParam negative;  // node id 0: "no such entry", cached
    negative.entry_timeout = options_.negative_timeout;
    reply.Entry(negative);
    return;
  }
  // Looked-up children join the tree, so Path() and the default Readdir see
  // them and a later lookup finds the same inode. One the tree did not hold
  // stays only while the kernel knows it (Inode::lookup_only_).
  if (e.ok() && child != nullptr) dir->AddLookedUpChild(name, child);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  if (child == nullptr) {
    reply.Error(Errno(EIO));
    return;
  }
  if (out.attr.mode == 0) {
    AttrOut attr{.timeout = out.attr_timeout};
    GetAttr(ctx, child, nullptr, &attr);
    out.attr = attr.attr;
  }
  ReplyWithEntry(reply, child, out);
}

void Bridge::Forget(const RequestContext& context, uint64_t nodeid, uint64_t nlookup) {
  if (nodeid == abi::kRootId) return;  // the root's count is implicit
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  if (!inode) {
    LogLine(absl::StrCat("FORGET for unknown node ", nodeid, " (ignored)"));
    return;
  }
  // nlookup comes off the wire: 2^63 and above do not negate as int64_t.
  // Any count past what the inode holds clamps to 0 in AdjustLookup anyway.
  constexpr uint64_t kMaxForget = uint64_t{1} << 62;
  AdjustLookup(inode.get(), -static_cast<int64_t>(std::min(nlookup, kMaxForget)));
}

void Bridge::Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  std::shared_ptr<OpenFile> open;
  if (in.getattr_flags & abi::kGetattrFh) open = FindHandle(in.fh);
  Context ctx(&reply);
  AttrOut out{.timeout = options_.attr_timeout};
  Errno e = GetAttr(ctx, inode.get(), open ? open->handle.get() : nullptr, &out);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  reply.Attr(out.attr, out.timeout);
}

void Bridge::Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  std::shared_ptr<OpenFile> open;
  if (in.valid & abi::kFattrFh) open = FindHandle(in.fh);
  Context ctx(&reply);
  AttrOut out{.timeout = options_.attr_timeout};
  FileHandle* fh = open ? open->handle.get() : nullptr;
  Errno e = inode->node()->Setattr(ctx, fh, in, &out);
  bool mode_changed = false;
  if (e.ok() && (in.valid & (abi::kFattrSize | abi::kFattrUid | abi::kFattrGid))) {
    // truncate and chown take privileges away (FATTR_KILL_SUIDGID says
    // whether set-user/group-ID go too).
    e = KillPrivileges(ctx, inode.get(), fh, in.valid & abi::kFattrKillSuidgid, &mode_changed);
  }
  if (e.ok() && (out.attr.mode == 0 || mode_changed)) e = GetAttr(ctx, inode.get(), nullptr, &out);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  ForceStable(inode.get(), &out.attr);
  reply.Attr(out.attr, out.timeout);
}

void Bridge::Readlink(ReplyData reply, uint64_t nodeid) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  std::string target;
  Errno e = inode->node()->Readlink(ctx, &target);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  reply.Data(absl::string_view(target));
}

void Bridge::Symlink(ReplyEntry reply, uint64_t parent, absl::string_view name,
                     absl::string_view target) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  Errno e = dir->node()->Symlink(ctx, target, name, &out, &child);
  FinishCreate(reply, e, dir.get(), name, child, out);
}

void Bridge::Mknod(ReplyEntry reply, uint64_t parent, absl::string_view name,
                   const abi::fuse_mknod_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  Errno e = dir->node()->Mknod(ctx, name, in.mode, in.rdev, &out, &child);
  FinishCreate(reply, e, dir.get(), name, child, out);
}

void Bridge::Mkdir(ReplyEntry reply, uint64_t parent, absl::string_view name,
                   const abi::fuse_mkdir_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  Errno e = dir->node()->Mkdir(ctx, name, (in.mode & ~S_IFMT) | S_IFDIR, &out, &child);
  FinishCreate(reply, e, dir.get(), name, child, out);
}

void Bridge::Link(ReplyEntry reply, uint64_t nodeid, uint64_t new_parent,
                  absl::string_view new_name) {
  PinScope pins;
  std::shared_ptr<Inode> target = FindInode(nodeid);
  std::shared_ptr<Inode> dir = FindInode(new_parent);
  if (!target || !dir) {
    reply.Error(kStale);
    return;
  }
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  Errno e = dir->node()->Link(ctx, target.get(), new_name, &out, &child);
  FinishCreate(reply, e, dir.get(), new_name, child, out);
}

void Bridge::Unlink(ReplyEmpty reply, uint64_t parent, absl::string_view name) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  Errno e = dir->node()->Unlink(ctx, name);
  if (e.ok()) dir->RmChild(name);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Rmdir(ReplyEmpty reply, uint64_t parent, absl::string_view name) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  Errno e = dir->node()->Rmdir(ctx, name);
  if (e.ok()) dir->RmChild(name);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Rename(ReplyEmpty reply, uint64_t parent, absl::string_view name,
                    uint64_t new_parent, absl::string_view new_name, uint32_t flags) {
  PinScope pins;
  std::shared_ptr<Inode> from = FindInode(parent);
  std::shared_ptr<Inode> to = FindInode(new_parent);
  if (!from || !to) {
    reply.Error(kStale);
    return;
  }
  if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) {
    reply.Error(Errno(EINVAL));
    return;
  }
  if ((flags & RENAME_NOREPLACE) && to->GetChild(new_name) != nullptr) {
    reply.Error(Errno(EEXIST));
    return;
  }
  Context ctx(&reply);
  Errno e = from->node()->Rename(ctx, name, to.get(), new_name, flags);
  if (e.ok()) {
    if (flags & RENAME_EXCHANGE) {
      if (!from->ExchangeChild(name, to.get(), new_name)) {
        // Not both in the tree (a dynamic filesystem): forget what we had.
        from->RmChild(name);
        to->RmChild(new_name);
      }
    } else if (!from->MvChild(name, to.get(), new_name, /*overwrite=*/true)) {
      to->RmChild(new_name);
    }
  }
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Create(ReplyCreate reply, uint64_t parent, absl::string_view name,
                    const abi::fuse_create_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInodeOrReply(reply, parent);
  if (!dir) return;
  Context ctx(&reply);
  EntryOut out = NewEntryOut();
  Inode* child = nullptr;
  OpenOut open;
  // O_CREAT without O_EXCL opens a file that is already there; with
  // O_TRUNC that is a truncate, which takes privileges away (a new file
  // keeps the mode it was made with).
  const bool truncates_existing = (in.flags & O_TRUNC) && dir->GetChild(name) != nullptr;
  Errno e = dir->node()->Create(ctx, name, NodeOpenFlags(in.flags, writeback_.load()), in.mode,
                                &out, &child, &open);
  if (e.ok() && child == nullptr) e = Errno(EIO);
  if (e.ok() && (child->stable().mode & S_IFMT) != S_IFREG) {
    // The kernel takes only a regular file from CREATE: anything else is
    // EIO there (fs/fuse/dir.c: fuse_create_open), with the lookup and the
    // open we would count never given back.
    LogLine(absl::StrCat("Create of '", name, "' in ", dir->Path(),
                         " returned a node that is not a regular file"));
    if (open.handle) open.handle->Release(ctx);
    e = Errno(EIO);
  }
  if (e.ok() && truncates_existing) {
    bool mode_changed = false;
    e = KillPrivileges(ctx, child, open.handle.get(), in.open_flags & abi::kOpenInKillSuidgid,
                       &mode_changed);
    if (!e.ok() && open.handle) open.handle->Release(ctx);
    if (mode_changed) out.attr.mode = 0;  // fetched again below
  }
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  dir->AddChild(name, child, /*overwrite=*/true);
  if (out.attr.mode == 0) {
    AttrOut attr{.timeout = out.attr_timeout};
    GetAttr(ctx, child, open.handle.get(), &attr);
    out.attr = attr.attr;
  }
  OpenParam open_param{.open_flags = open.flags};
  bool passthrough = BeginOpenMode(child, open, &open_param);
  uint64_t fh = AddHandle(child->shared_from_this(), std::move(open.handle), false, passthrough);
  open_param.fh = fh;
  EntryParam param;
  param.nodeid = child->node_id();
  param.generation = child->stable().gen;
  param.entry_timeout = out.entry_timeout;
  param.attr_timeout = out.attr_timeout;
  param.attr = out.attr;
  ForceStable(child, &param.attr);
  AdjustLookup(child, +1);
  Errno sent = reply.Create(param, open_param);
  if (!sent.ok()) {
    // The kernel never saw this open: close it and take the count back.
    AbandonOpen(fh, child);
    AdjustLookup(child, -1);
  }
}

void Bridge::Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  OpenOut out;
  Errno e = inode->node()->Open(ctx, NodeOpenFlags(in.flags, writeback_.load()), &out);
  if (e == Errno(ENOSYS)) {
    // "No open needed". With FUSE_NO_OPEN_SUPPORT the kernel takes ENOSYS
    // as success and sends no OPEN (nor RELEASE) again on this mount;
    // without it, answer an open without a handle.
    if (no_open_.load()) {
      reply.Error(e);
      return;
    }
    out = OpenOut();
    e = kOk;
  }
  if (e.ok() && (in.flags & O_TRUNC)) {
    // open(O_TRUNC) truncates (FUSE_ATOMIC_O_TRUNC): privileges go as with
    // truncate(2).
    e = KillPrivileges(ctx, inode.get(), out.handle.get(), in.open_flags & abi::kOpenInKillSuidgid);
    if (!e.ok() && out.handle) out.handle->Release(ctx);
  }
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  OpenParam param{.open_flags = out.flags};
  bool passthrough = BeginOpenMode(inode.get(), out, &param);
  uint64_t fh = AddHandle(inode, std::move(out.handle), false, passthrough);
  param.fh = fh;
  Errno sent = reply.Open(param);
  if (!sent.ok()) AbandonOpen(fh, inode.get());
}

void Bridge::Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  if (!inode->IsDir()) {
    reply.Error(Errno(ENOTDIR));
    return;
  }
  Context ctx(&reply);
  OpenOut out;
  Errno e = inode->node()->Opendir(ctx, &out);
  if (e == Errno(ENOSYS)) {
    // "No handle needed". With FUSE_NO_OPENDIR_SUPPORT the kernel then
    // sends no OPENDIR or RELEASEDIR again on this mount, lists with fh 0
    // and caches listings (as with kOpenCacheDir); without it, an open
    // without a handle.
    if (no_opendir_.load()) {
      reply.Error(e);
      return;
    }
    out = OpenOut();
    e = kOk;
  }
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  uint64_t fh = AddHandle(inode, std::move(out.handle), true);
  Errno sent = reply.Open(OpenParam{.fh = fh, .open_flags = out.flags});
  if (!sent.ok()) {
    if (std::shared_ptr<OpenFile> of = TakeHandle(fh)) CloseOpen(inode.get());
  }
}

void Bridge::Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!inode) {
    reply.Error(kStale);
    return;
  }
  if (!open && !(in.fh == 0 && no_open_.load())) {  // fh 0: opened without OPEN
    reply.Error(kBadHandle);
    return;
  }
  Context ctx(&reply);
  ReadResult result(ReadBuffer(in.size));
  Errno e = inode->node()->Read(ctx, open ? open->handle.get() : nullptr, in.offset, &result);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  if (result.fd() >= 0) {
    reply.DataFromFd(result.fd(), static_cast<off_t>(result.fd_offset()),
                     std::min<size_t>(result.fd_size(), in.size));
    return;
  }
  absl::Span<const uint8_t> data = result.data();
  if (data.size() > in.size) data = data.first(in.size);
  reply.Data(data);
}

void Bridge::Write(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                   absl::Span<const uint8_t> data) {
  WritePayload payload(data);
  WriteBuf(std::move(reply), nodeid, in, payload);
}

void Bridge::WriteBuf(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                      WritePayload& payload) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!inode) {
    reply.Error(kStale);
    return;
  }
  if (!open && !(in.fh == 0 && no_open_.load())) {  // fh 0: opened without OPEN
    reply.Error(kBadHandle);
    return;
  }
  Context ctx(&reply);
  FileHandle* fh = open ? open->handle.get() : nullptr;
  // Before the data, as the kernel's own filesystems do (file_remove_privs).
  Errno e = KillPrivileges(ctx, inode.get(), fh, in.write_flags & abi::kWriteKillSuidgid);
  uint32_t written = 0;
  if (e.ok()) e = inode->node()->WriteBuf(ctx, fh, in.offset, payload, &written);
  e.ok() ? reply.Written(written) : reply.Error(e);
}

void Bridge::Statfs(ReplyStatfs reply, uint64_t nodeid) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  if (!inode) inode = root_;
  Context ctx(&reply);
  abi::fuse_kstatfs st{};
  st.bsize = 4096;
  st.frsize = 4096;
  st.namelen = 255;
  Errno e = inode->node()->Statfs(ctx, &st);
  e.ok() ? reply.Statfs(st) : reply.Error(e);
}

void Bridge::CloseOpen(Inode* inode) {
  {
    MutexLock lock(&inode->mu_);
    inode->open_count_--;
  }
  MaybeRelease(inode);
}

void Bridge::Release(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) {
  PinScope pins;
  std::shared_ptr<OpenFile> open = TakeHandle(in.fh);
  if (!open) {
    reply.Error(kBadHandle);
    return;
  }
  Context ctx(&reply,
              (in.release_flags & abi::kReleaseFlockUnlock) ? in.lock_owner : uint64_t{0});
  if (open->handle) open->handle->Release(ctx);
  if (!open->dir) EndOpenMode(open->inode.get(), open->passthrough);
  if (open->dir) {
    MutexLock lock(&open->mu);
    EndListing(*open);
  }
  CloseOpen(open->inode.get());
  reply.Ok();
}

void Bridge::EndListing(OpenFile& open) {
  open.mu.AssertHeld();
  open.stream.reset();
  open.pending.reset();
  KeepSpareListing(std::move(open.listing));
}

std::vector<DirStreamEntry> Bridge::TakeSpareListing() {
  MutexLock lock(&spare_listings_mu_);
  if (spare_listings_.empty()) return {};
  std::vector<DirStreamEntry> listing = std::move(spare_listings_.back());
  spare_listings_.pop_back();
  return listing;
}

void Bridge::KeepSpareListing(std::vector<DirStreamEntry> listing) {
  // A few listings of up to 64k entries (48 bytes each): enough for the
  // directories people list over and over, little memory kept.
  constexpr size_t kMaxSpares = 4, kMaxEntries = size_t{1} << 16;
  if (listing.capacity() == 0 || listing.capacity() > kMaxEntries) return;
  listing.clear();  // names of up to 15 bytes live inside the entries
  MutexLock lock(&spare_listings_mu_);
  if (spare_listings_.size() < kMaxSpares) spare_listings_.push_back(std::move(listing));
}

void Bridge::Releasedir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) {
  Release(std::move(reply), nodeid, in);
}

void Bridge::Flush(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_flush_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!inode || (!open && !(in.fh == 0 && no_open_.load()))) {
    reply.Error(!inode ? kStale : kBadHandle);
    return;
  }
  Context ctx(&reply, in.lock_owner);
  Errno e = inode->node()->Flush(ctx, open ? open->handle.get() : nullptr);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Fsync(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  Context ctx(&reply);
  Errno e = inode->node()->Fsync(ctx, open ? open->handle.get() : nullptr,
                                 (in.fsync_flags & abi::kFsyncFdatasync) != 0);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Fsyncdir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) {
  Fsync(std::move(reply), nodeid, in);
}

void Bridge::Setxattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name,
                      absl::Span<const uint8_t> value, const abi::fuse_setxattr_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  Errno e = inode->node()->Setxattr(ctx, name, value, in.flags);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Getxattr(ReplyXattr reply, uint64_t nodeid, absl::string_view name, uint32_t size) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  std::string value;
  Errno e = inode->node()->Getxattr(ctx, name, &value);
  if (!e.ok()) {
    reply.Error(e);
  } else if (size == 0) {
    reply.Size(static_cast<uint32_t>(value.size()));
  } else if (value.size() > size) {
    reply.Error(Errno(ERANGE));
  } else {
    reply.Data(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()),
                                         value.size()));
  }
}

void Bridge::Listxattr(ReplyXattr reply, uint64_t nodeid, uint32_t size) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  std::vector<std::string> names;
  Errno e = inode->node()->Listxattr(ctx, &names);
  std::string list;
  for (const std::string& n : names) {
    list += n;
    list.push_back('\0');
  }
  if (!e.ok()) {
    reply.Error(e);
  } else if (size == 0) {
    reply.Size(static_cast<uint32_t>(list.size()));
  } else if (list.size() > size) {
    reply.Error(Errno(ERANGE));
  } else {
    reply.Data(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(list.data()),
                                         list.size()));
  }
}

void Bridge::Removexattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  Errno e = inode->node()->Removexattr(ctx, name);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::ReaddirCommon(ReplyDirectory& reply, uint64_t nodeid, const abi::fuse_read_in& in,
                           bool plus) {
  PinScope pins;
  std::shared_ptr<Inode> dir = FindInode(nodeid);
  if (!dir) {
    reply.Error(kStale);
    return;
  }
  // NO_OPENDIR (an Opendir answered ENOSYS): fh 0, and a listing made for
  // this READDIR alone, which a seeking stream makes cheap.
  const bool handleless = in.fh == 0 && no_opendir_.load();
  std::shared_ptr<OpenFile> open;
  if (handleless) {
    open = std::make_shared<OpenFile>();
    open->inode = dir;
    open->dir = true;
  } else {
    open = FindHandle(in.fh);
  }
  if (!open || !open->dir) {
    reply.Error(kBadHandle);
    return;
  }
  Context ctx(&reply);
  MutexLock lock(&open->mu);
  if (in.offset == 0 || open->stream == nullptr) {
    std::unique_ptr<DirStream> stream;
    Errno e = open->handle ? open->handle->Readdir(ctx, &stream) : Errno(ENOSYS);
    if (e == Errno(ENOSYS)) e = dir->node()->Readdir(ctx, &stream);
    if (e.ok() && stream == nullptr) e = Errno(EIO);
    if (!e.ok()) {
      reply.Error(e);
      return;
    }
    open->seekable = stream->Seek(0);
    if (!open->seekable && open->listing.capacity() == 0) open->listing = TakeSpareListing();
    open->listing.clear();
    open->stream = std::move(stream);
    open->stream_ended = false;
    open->stream_error = kOk;
    open->position = 0;
    open->pending.reset();
  }
  std::vector<Inode*> counted;  // READDIRPLUS lookups to undo if not sent
  for (uint64_t at = in.offset;;) {
    Errno stream_error;
    const DirStreamEntry* entry = open->EntryAfter(at, &stream_error);
    if (entry == nullptr) {
      // A failing stream: the error, unless entries before it are going
      // out now (the kernel asks again after them and gets it then).
      if (!stream_error.ok() && at == in.offset) {
        reply.Error(stream_error);
        if (handleless) EndListing(*open);
        return;
      }
      break;
    }
    const DirStreamEntry& d = *entry;
    const uint64_t off = open->OffsetOf(d, at);
    uint32_t type = (d.mode & S_IFMT) >> 12;
    uint64_t ino = d.ino != 0 ? d.ino : kUnknownIno;
    if (!plus) {
      if (!reply.Add(d.name, ino, type, off)) break;
      open->Advance(off);
      at = off;
      continue;
    }
    if (!reply.Fits(d.name)) break;
    EntryParam param;  // node id 0: the kernel makes no dentry for it
    param.attr.ino = ino;
    param.attr.mode = d.mode & S_IFMT;
    if (d.name != "." && d.name != "..") {
      EntryOut out = NewEntryOut();
      Inode* child = nullptr;
      Errno e = dir->node()->Lookup(ctx, d.name, &out, &child);
      if (e.ok() && child != nullptr) {
        dir->AddLookedUpChild(d.name, child);
        if (out.attr.mode == 0) {
          AttrOut attr{.timeout = out.attr_timeout};
          GetAttr(ctx, child, nullptr, &attr);
          out.attr = attr.attr;
        }
        param.nodeid = child->node_id();
        param.generation = child->stable().gen;
        param.entry_timeout = out.entry_timeout;
        param.attr_timeout = out.attr_timeout;
        param.attr = out.attr;
        ForceStable(child, &param.attr);
        AdjustLookup(child, +1);
        counted.push_back(child);
      }
    }
    reply.AddPlus(d.name, param, off);
    open->Advance(off);
    at = off;
  }
  Errno sent = reply.Send();
  if (!sent.ok()) {
    for (Inode* child : counted) AdjustLookup(child, -1);
  }
  if (handleless) EndListing(*open);
}

void Bridge::Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  ReaddirCommon(reply, nodeid, in, /*plus=*/false);
}

void Bridge::Readdirplus(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  ReaddirCommon(reply, nodeid, in, /*plus=*/true);
}

void Bridge::Getlk(ReplyLock reply, uint64_t nodeid, const abi::fuse_lk_in& in) {
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!open || !open->handle) {
    reply.Error(open ? Errno(ENOSYS) : kBadHandle);
    return;
  }
  Context ctx(&reply);
  abi::fuse_file_lock lock = in.lk;
  Errno e = open->handle->Getlk(ctx, in.owner, &lock);
  e.ok() ? reply.Lock(lock) : reply.Error(e);
}

void Bridge::Setlk(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_lk_in& in, bool wait) {
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!open || !open->handle) {
    reply.Error(open ? Errno(ENOSYS) : kBadHandle);
    return;
  }
  Context ctx(&reply);
  Errno e = open->handle->Setlk(ctx, in.owner, in.lk, wait, (in.lk_flags & abi::kLkFlock) != 0);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Access(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_access_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  Context ctx(&reply);
  Errno e = inode->node()->Access(ctx, in.mask);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Ioctl(ReplyIoctl reply, uint64_t nodeid, const abi::fuse_ioctl_in& in,
                   absl::Span<const uint8_t> in_data) {
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!open || !open->handle) {
    reply.Error(Errno(ENOTTY));
    return;
  }
  Context ctx(&reply);
  std::string out;
  int32_t result = 0;
  Errno e = open->handle->Ioctl(ctx, in.cmd, in.arg, in_data, &out, &result);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  if (out.size() > in.out_size) out.resize(in.out_size);
  reply.Result(result, absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(out.data()),
                                                 out.size()));
}

void Bridge::Poll(ReplyPoll reply, uint64_t nodeid, const abi::fuse_poll_in& in) {
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  Context ctx(&reply);
  uint32_t revents = in.events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
  Errno e = kOk;
  if (open && open->handle) e = open->handle->Poll(ctx, in.events, &revents);
  e.ok() ? reply.Events(revents) : reply.Error(e);
}

void Bridge::Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!inode) {
    reply.Error(kStale);
    return;
  }
  Context ctx(&reply);
  Errno e = inode->node()->Fallocate(ctx, open ? open->handle.get() : nullptr, in.offset,
                                     in.length, in.mode);
  e.ok() ? reply.Ok() : reply.Error(e);
}

void Bridge::Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInode(nodeid);
  std::shared_ptr<OpenFile> open = FindHandle(in.fh);
  if (!inode) {
    reply.Error(kStale);
    return;
  }
  Context ctx(&reply);
  uint64_t result = 0;
  Errno e = inode->node()->Lseek(ctx, open ? open->handle.get() : nullptr, in.offset, in.whence,
                                 &result);
  e.ok() ? reply.Offset(result) : reply.Error(e);
}

void Bridge::CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                           const abi::fuse_copy_file_range_in& in) {
  std::shared_ptr<OpenFile> from = FindHandle(in.fh_in);
  std::shared_ptr<OpenFile> to = FindHandle(in.fh_out);
  if (!from || !to) {
    reply.Error(kBadHandle);
    return;
  }
  if (!from->handle) {
    reply.Error(Errno(EXDEV));
    return;
  }
  Context ctx(&reply);
  uint64_t copied = 0;
  Errno e = from->handle->CopyFileRange(ctx, in.off_in, to->handle.get(), in.off_out, in.len,
                                        &copied);
  e.ok() ? reply.Written(copied) : reply.Error(e);
}

void Bridge::Statx(ReplyStatx reply, uint64_t nodeid, const abi::fuse_statx_in& in) {
  PinScope pins;
  std::shared_ptr<Inode> inode = FindInodeOrReply(reply, nodeid);
  if (!inode) return;
  std::shared_ptr<OpenFile> open;
  if (in.getattr_flags & abi::kGetattrFh) open = FindHandle(in.fh);
  Context ctx(&reply);
  abi::fuse_statx st{};
  absl::Duration timeout = options_.attr_timeout;
  Errno e = inode->node()->Statx(ctx, open ? open->handle.get() : nullptr, in.sx_mask, &st,
                                 &timeout);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  st.ino = inode->stable().ino;
  st.mode = static_cast<uint16_t>((st.mode & ~S_IFMT) | inode->stable().mode);
  reply.Statx(st, timeout);
}

// --- Mounting ---------------------------------------------------------------------------

ServerOptions ServerOptionsFor(const Options& options) {
  ServerOptions server = options.server;
  if (options.readdirplus) {
    server.init.want |= abi::kInitDoReaddirplus | abi::kInitReaddirplusAuto;
  }
  // A node's Open may answer ENOSYS ("no open needed"): let the kernel
  // skip OPEN from then on.
  server.init.want |= abi::kInitNoOpenSupport | abi::kInitNoOpendirSupport;
  if (options.writeback_cache) server.init.want |= abi::kInitWritebackCache;
  if (options.handle_killpriv) server.init.want |= abi::kInitHandleKillprivV2;
  if (options.passthrough) server.init.passthrough = true;
  return server;
}

TreeMount::~TreeMount() {
  server_.reset();  // unmounts and joins before the bridge goes
  bridge_.reset();
}

absl::StatusOr<std::unique_ptr<TreeMount>> Mount(absl::string_view mountpoint,
                                                std::unique_ptr<Node> root,
                                                const Options& options) {
  std::unique_ptr<TreeMount> mount(new TreeMount());
  mount->bridge_ = std::make_unique<Bridge>(std::move(root), options);
  absl::StatusOr<std::unique_ptr<Server>> server =
      Mount(mountpoint, mount->bridge_.get(), options.mount, ServerOptionsFor(options));
  if (!server.ok()) return server.status();
  mount->server_ = std::move(*server);
  mount->bridge_->SetNotifier(&mount->server_->notifier());
  mount->bridge_->SetServer(mount->server_.get());
  return mount;
}

}  // namespace fusekit
