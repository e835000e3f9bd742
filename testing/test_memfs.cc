#include "testing/test_memfs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <ctime>
#include <vector>

namespace fusekit {
namespace {

using abi::Opcode;

void SetTimes(abi::fuse_attr& attr, bool modified) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  attr.ctime = static_cast<uint64_t>(now.tv_sec);
  attr.ctimensec = static_cast<uint32_t>(now.tv_nsec);
  if (modified) {
    attr.mtime = attr.ctime;
    attr.mtimensec = attr.ctimensec;
  }
}

absl::string_view AsString(absl::Span<const uint8_t> bytes) {
  return absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

}  // namespace

TestMemFs::TestMemFs() {
  MutexLock lock(&mu_);
  Node& root = nodes_[abi::kRootId];
  root.attr.ino = abi::kRootId;
  root.attr.mode = S_IFDIR | 0755;
  root.attr.nlink = 2;
  root.attr.blksize = 4096;
  root.attr.uid = ::geteuid();
  root.attr.gid = ::getegid();
  root.parent = abi::kRootId;
  SetTimes(root.attr, true);
  root.attr.atime = root.attr.mtime;
}

void TestMemFs::set_entry_timeout(absl::Duration d) {
  MutexLock lock(&mu_);
  entry_timeout_ = d;
}

void TestMemFs::set_attr_timeout(absl::Duration d) {
  MutexLock lock(&mu_);
  attr_timeout_ = d;
}

void TestMemFs::set_negative_timeout(absl::Duration d) {
  MutexLock lock(&mu_);
  negative_timeout_ = d;
}

size_t TestMemFs::node_count() const {
  MutexLock lock(&mu_);
  return nodes_.size();
}

int TestMemFs::requests(Opcode opcode) const {
  MutexLock lock(&mu_);
  auto it = requests_.find(static_cast<uint32_t>(opcode));
  return it == requests_.end() ? 0 : it->second;
}

void TestMemFs::Count(Opcode op) {
  MutexLock lock(&mu_);
  requests_[static_cast<uint32_t>(op)]++;
}

std::map<uint64_t, uint64_t> TestMemFs::LookupCounts() {
  MutexLock lock(&mu_);
  std::map<uint64_t, uint64_t> counts;
  for (const auto& [id, node] : nodes_) {
    if (node.nlookup != 0) counts[id] = node.nlookup;
  }
  return counts;
}

TestMemFs::Node* TestMemFs::Find(uint64_t id) {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : &it->second;
}

TestMemFs::Node* TestMemFs::Dir(uint64_t id, Errno* error) {
  Node* n = Find(id);
  if (n == nullptr) {
    *error = Errno(ENOENT);
  } else if ((n->attr.mode & S_IFMT) != S_IFDIR) {
    *error = Errno(ENOTDIR);
    n = nullptr;
  }
  return n;
}

uint64_t TestMemFs::NewNode(uint32_t mode, const RequestContext& who) {
  uint64_t id = next_id_++;
  Node& n = nodes_[id];
  n.attr.ino = id;
  n.attr.mode = mode;
  n.attr.nlink = (mode & S_IFMT) == S_IFDIR ? 2 : 1;
  n.attr.uid = who.uid;
  n.attr.gid = who.gid;
  n.attr.blksize = 4096;
  SetTimes(n.attr, true);
  n.attr.atime = n.attr.mtime;
  return id;
}

EntryParam TestMemFs::EntryFor(uint64_t id) {
  Node& n = nodes_.at(id);
  EntryParam e;
  e.nodeid = id;
  e.generation = n.generation;
  e.entry_timeout = entry_timeout_;
  e.attr_timeout = attr_timeout_;
  e.attr = n.attr;
  return e;
}

void TestMemFs::ReplyWithEntry(ReplyEntry& reply, uint64_t id) {
  // Counted before sending, so a FORGET racing the reply never finds the
  // count short; taken back if the kernel did not take the reply.
  nodes_.at(id).nlookup++;
  if (!reply.Entry(EntryFor(id)).ok()) {
    nodes_.at(id).nlookup--;
    MaybeFree(id);
  }
}

void TestMemFs::Touch(Node& node, bool modified) { SetTimes(node.attr, modified); }

void TestMemFs::DropLink(uint64_t id) {
  Node* n = Find(id);
  if (n == nullptr) return;
  if ((n->attr.mode & S_IFMT) == S_IFDIR) {
    n->attr.nlink = 0;
  } else if (n->attr.nlink > 0) {
    n->attr.nlink--;
  }
  SetTimes(n->attr, false);
  MaybeFree(id);
}

void TestMemFs::MaybeFree(uint64_t id) {
  Node* n = Find(id);
  if (n != nullptr && id != abi::kRootId && n->attr.nlink == 0 && n->nlookup == 0) {
    nodes_.erase(id);
  }
}

// --- Names ----------------------------------------------------------------------

void TestMemFs::Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) {
  Count(Opcode::kLookup);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    if (negative_timeout_ > absl::ZeroDuration()) {
      EntryParam negative;
      negative.entry_timeout = negative_timeout_;
      reply.Entry(negative);
    } else {
      reply.Error(Errno(ENOENT));
    }
    return;
  }
  ReplyWithEntry(reply, it->second);
}

void TestMemFs::Forget(const RequestContext&, uint64_t nodeid, uint64_t nlookup) {
  Count(Opcode::kForget);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) return;
  n->nlookup -= std::min(n->nlookup, nlookup);
  MaybeFree(nodeid);
}

void TestMemFs::Symlink(ReplyEntry reply, uint64_t parent, absl::string_view name,
                        absl::string_view target) {
  Count(Opcode::kSymlink);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  if (dir->children.count(std::string(name))) {
    reply.Error(Errno(EEXIST));
    return;
  }
  uint64_t id = NewNode(S_IFLNK | 0777, reply.context());
  Node& n = nodes_.at(id);
  n.data = std::string(target);
  n.attr.size = target.size();
  dir = Find(parent);
  dir->children[std::string(name)] = id;
  Touch(*dir, true);
  ReplyWithEntry(reply, id);
}

void TestMemFs::Mknod(ReplyEntry reply, uint64_t parent, absl::string_view name,
                      const abi::fuse_mknod_in& in) {
  Count(Opcode::kMknod);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  if (dir->children.count(std::string(name))) {
    reply.Error(Errno(EEXIST));
    return;
  }
  uint32_t type = in.mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  // With DONT_MASK granted the kernel leaves the umask to the filesystem;
  // without it in.umask is 0 after the kernel applied it.
  uint64_t id = NewNode(type | (in.mode & 07777 & ~in.umask), reply.context());
  nodes_.at(id).attr.rdev = in.rdev;
  dir = Find(parent);
  dir->children[std::string(name)] = id;
  Touch(*dir, true);
  ReplyWithEntry(reply, id);
}

void TestMemFs::Mkdir(ReplyEntry reply, uint64_t parent, absl::string_view name,
                      const abi::fuse_mkdir_in& in) {
  Count(Opcode::kMkdir);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  if (dir->children.count(std::string(name))) {
    reply.Error(Errno(EEXIST));
    return;
  }
  uint64_t id = NewNode(S_IFDIR | (in.mode & 07777 & ~in.umask), reply.context());
  nodes_.at(id).parent = parent;
  dir = Find(parent);
  dir->children[std::string(name)] = id;
  dir->attr.nlink++;
  Touch(*dir, true);
  ReplyWithEntry(reply, id);
}

void TestMemFs::Unlink(ReplyEmpty reply, uint64_t parent, absl::string_view name) {
  Count(Opcode::kUnlink);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    reply.Error(Errno(ENOENT));
    return;
  }
  uint64_t id = it->second;
  if ((nodes_.at(id).attr.mode & S_IFMT) == S_IFDIR) {
    reply.Error(Errno(EISDIR));
    return;
  }
  dir->children.erase(it);
  Touch(*dir, true);
  DropLink(id);
  reply.Ok();
}

void TestMemFs::Rmdir(ReplyEmpty reply, uint64_t parent, absl::string_view name) {
  Count(Opcode::kRmdir);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  auto it = dir->children.find(std::string(name));
  if (it == dir->children.end()) {
    reply.Error(Errno(ENOENT));
    return;
  }
  uint64_t id = it->second;
  Node& child = nodes_.at(id);
  if ((child.attr.mode & S_IFMT) != S_IFDIR) {
    reply.Error(Errno(ENOTDIR));
    return;
  }
  if (!child.children.empty()) {
    reply.Error(Errno(ENOTEMPTY));
    return;
  }
  dir->children.erase(it);
  dir->attr.nlink--;
  Touch(*dir, true);
  DropLink(id);
  reply.Ok();
}

void TestMemFs::Rename(ReplyEmpty reply, uint64_t parent, absl::string_view name,
                       uint64_t new_parent, absl::string_view new_name, uint32_t flags) {
  Count(Opcode::kRename);
  MutexLock lock(&mu_);
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    reply.Error(Errno(EINVAL));
    return;
  }
  Errno error;
  Node* from = Dir(parent, &error);
  Node* to = from == nullptr ? nullptr : Dir(new_parent, &error);
  if (from == nullptr || to == nullptr) {
    reply.Error(error);
    return;
  }
  const std::string src_name(name), dst_name(new_name);
  auto src = from->children.find(src_name);
  if (src == from->children.end()) {
    reply.Error(Errno(ENOENT));
    return;
  }
  uint64_t src_id = src->second;
  bool src_dir = (nodes_.at(src_id).attr.mode & S_IFMT) == S_IFDIR;
  // A directory may not move below itself.
  for (uint64_t at = new_parent; src_dir;) {
    if (at == src_id) {
      reply.Error(Errno(EINVAL));
      return;
    }
    if (at == abi::kRootId) break;
    at = nodes_.at(at).parent;
  }
  auto dst = to->children.find(dst_name);
  uint64_t dst_id = dst == to->children.end() ? 0 : dst->second;
  if (flags & RENAME_EXCHANGE) {
    if (dst_id == 0) {
      reply.Error(Errno(ENOENT));
      return;
    }
    from->children[src_name] = dst_id;
    to->children[dst_name] = src_id;
    bool dst_dir = (nodes_.at(dst_id).attr.mode & S_IFMT) == S_IFDIR;
    if (src_dir) nodes_.at(src_id).parent = new_parent;
    if (dst_dir) nodes_.at(dst_id).parent = parent;
    if (src_dir != dst_dir && parent != new_parent) {
      Node* gains = src_dir ? to : from;
      Node* loses = src_dir ? from : to;
      gains->attr.nlink++;
      loses->attr.nlink--;
    }
    Touch(*from, true);
    Touch(*to, true);
    reply.Ok();
    return;
  }
  if (dst_id == src_id) {
    reply.Ok();
    return;
  }
  if (dst_id != 0) {
    if (flags & RENAME_NOREPLACE) {
      reply.Error(Errno(EEXIST));
      return;
    }
    Node& victim = nodes_.at(dst_id);
    bool dst_dir = (victim.attr.mode & S_IFMT) == S_IFDIR;
    if (src_dir && !dst_dir) {
      reply.Error(Errno(ENOTDIR));
      return;
    }
    if (!src_dir && dst_dir) {
      reply.Error(Errno(EISDIR));
      return;
    }
    if (dst_dir && !victim.children.empty()) {
      reply.Error(Errno(ENOTEMPTY));
      return;
    }
    to->children.erase(dst_name);
    if (dst_dir) to->attr.nlink--;
    DropLink(dst_id);
  }
  from = Find(parent);
  to = Find(new_parent);
  from->children.erase(src_name);
  to->children[dst_name] = src_id;
  if (src_dir) {
    nodes_.at(src_id).parent = new_parent;
    from->attr.nlink--;
    to->attr.nlink++;
  }
  Touch(*from, true);
  Touch(*to, true);
  SetTimes(nodes_.at(src_id).attr, false);
  reply.Ok();
}

void TestMemFs::Link(ReplyEntry reply, uint64_t nodeid, uint64_t new_parent,
                     absl::string_view new_name) {
  Count(Opcode::kLink);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(new_parent, &error);
  Node* n = Find(nodeid);
  if (dir == nullptr || n == nullptr) {
    reply.Error(dir == nullptr ? error : Errno(ENOENT));
    return;
  }
  if ((n->attr.mode & S_IFMT) == S_IFDIR) {
    reply.Error(Errno(EPERM));
    return;
  }
  if (dir->children.count(std::string(new_name))) {
    reply.Error(Errno(EEXIST));
    return;
  }
  dir->children[std::string(new_name)] = nodeid;
  n->attr.nlink++;
  SetTimes(n->attr, false);
  Touch(*dir, true);
  ReplyWithEntry(reply, nodeid);
}

// --- Attributes ----------------------------------------------------------------------

void TestMemFs::Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) {
  Count(Opcode::kGetattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  reply.Attr(n->attr, attr_timeout_);
}

void TestMemFs::Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in) {
  Count(Opcode::kSetattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  if (in.valid & abi::kFattrSize) {
    if ((n->attr.mode & S_IFMT) == S_IFDIR) {
      reply.Error(Errno(EISDIR));
      return;
    }
    n->data.resize(in.size);
    n->attr.size = in.size;
    n->attr.blocks = (in.size + 511) / 512;
    SetTimes(n->attr, true);
  }
  if (in.valid & abi::kFattrMode) n->attr.mode = (n->attr.mode & S_IFMT) | (in.mode & 07777);
  if (in.valid & abi::kFattrUid) n->attr.uid = in.uid;
  if (in.valid & abi::kFattrGid) n->attr.gid = in.gid;
  if (in.valid & abi::kFattrAtime) {
    bool use_now = in.valid & abi::kFattrAtimeNow;
    n->attr.atime = use_now ? static_cast<uint64_t>(now.tv_sec) : in.atime;
    n->attr.atimensec = use_now ? static_cast<uint32_t>(now.tv_nsec) : in.atimensec;
  }
  if (in.valid & abi::kFattrMtime) {
    bool use_now = in.valid & abi::kFattrMtimeNow;
    n->attr.mtime = use_now ? static_cast<uint64_t>(now.tv_sec) : in.mtime;
    n->attr.mtimensec = use_now ? static_cast<uint32_t>(now.tv_nsec) : in.mtimensec;
  }
  SetTimes(n->attr, false);
  reply.Attr(n->attr, attr_timeout_);
}

void TestMemFs::Readlink(ReplyData reply, uint64_t nodeid) {
  Count(Opcode::kReadlink);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr || (n->attr.mode & S_IFMT) != S_IFLNK) {
    reply.Error(Errno(n == nullptr ? ENOENT : EINVAL));
    return;
  }
  reply.Data(absl::string_view(n->data));
}

void TestMemFs::Statfs(ReplyStatfs reply, uint64_t) {
  Count(Opcode::kStatfs);
  MutexLock lock(&mu_);
  abi::fuse_kstatfs st{};
  st.bsize = 4096;
  st.frsize = 4096;
  st.blocks = 1000;
  st.bfree = 500;
  st.bavail = 500;
  st.files = 1000;
  st.ffree = 1000 - nodes_.size();
  st.namelen = 255;
  reply.Statfs(st);
}

// --- Files ----------------------------------------------------------------------------

void TestMemFs::Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) {
  Count(Opcode::kOpen);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  if ((n->attr.mode & S_IFMT) == S_IFDIR) {
    reply.Error(Errno(EISDIR));
    return;
  }
  if ((in.flags & O_TRUNC) && (in.flags & O_ACCMODE) != O_RDONLY) {
    n->data.clear();
    n->attr.size = 0;
    n->attr.blocks = 0;
    SetTimes(n->attr, true);
  }
  reply.Open({.fh = next_fh_++});
}

void TestMemFs::Create(ReplyCreate reply, uint64_t parent, absl::string_view name,
                       const abi::fuse_create_in& in) {
  Count(Opcode::kCreate);
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(parent, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  uint64_t id;
  auto it = dir->children.find(std::string(name));
  if (it != dir->children.end()) {
    // The kernel believed the name was free; it was created meanwhile.
    if (in.flags & O_EXCL) {
      reply.Error(Errno(EEXIST));
      return;
    }
    id = it->second;
    if ((nodes_.at(id).attr.mode & S_IFMT) != S_IFREG) {
      reply.Error(Errno(EISDIR));
      return;
    }
  } else {
    id = NewNode(S_IFREG | (in.mode & 07777 & ~in.umask), reply.context());
    dir = Find(parent);
    dir->children[std::string(name)] = id;
    Touch(*dir, true);
  }
  nodes_.at(id).nlookup++;
  if (!reply.Create(EntryFor(id), {.fh = next_fh_++}).ok()) {
    nodes_.at(id).nlookup--;
    MaybeFree(id);
  }
}

void TestMemFs::Tmpfile(ReplyCreate reply, uint64_t parent, const abi::fuse_create_in& in) {
  Count(Opcode::kTmpfile);
  MutexLock lock(&mu_);
  Errno error;
  if (Dir(parent, &error) == nullptr) {
    reply.Error(error);
    return;
  }
  // Unnamed: nlink 0, freed once the kernel forgets it (after the close).
  uint64_t id = NewNode(S_IFREG | (in.mode & 07777 & ~in.umask), reply.context());
  nodes_.at(id).attr.nlink = 0;
  nodes_.at(id).nlookup++;
  if (!reply.Create(EntryFor(id), {.fh = next_fh_++}).ok()) {
    nodes_.at(id).nlookup--;
    MaybeFree(id);
  }
}

void TestMemFs::Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  Count(Opcode::kRead);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr || (n->attr.mode & S_IFMT) != S_IFREG) {
    reply.Error(Errno(n == nullptr ? ENOENT : EISDIR));
    return;
  }
  if (in.offset >= n->data.size()) {
    reply.Data(absl::string_view());
    return;
  }
  reply.Data(absl::string_view(n->data).substr(in.offset, in.size));
}

void TestMemFs::Write(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                      absl::Span<const uint8_t> data) {
  Count(Opcode::kWrite);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr || (n->attr.mode & S_IFMT) != S_IFREG) {
    reply.Error(Errno(n == nullptr ? ENOENT : EISDIR));
    return;
  }
  size_t end = in.offset + data.size();
  if (end > n->data.size()) n->data.resize(end);
  std::copy(data.begin(), data.end(), n->data.begin() + static_cast<ptrdiff_t>(in.offset));
  n->attr.size = n->data.size();
  n->attr.blocks = (n->attr.size + 511) / 512;
  SetTimes(n->attr, true);
  reply.Written(data.size());
}

void TestMemFs::Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  Count(Opcode::kRelease);
  reply.Ok();
}

void TestMemFs::Flush(ReplyEmpty reply, uint64_t, const abi::fuse_flush_in&) {
  Count(Opcode::kFlush);
  reply.Ok();
}

void TestMemFs::Fsync(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) {
  Count(Opcode::kFsync);
  reply.Ok();
}

void TestMemFs::Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in) {
  Count(Opcode::kFallocate);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr || (n->attr.mode & S_IFMT) != S_IFREG) {
    reply.Error(Errno(n == nullptr ? ENOENT : ENODEV));
    return;
  }
  if (in.mode != 0) {
    reply.Error(Errno(EOPNOTSUPP));
    return;
  }
  if (in.offset + in.length > n->data.size()) {
    n->data.resize(in.offset + in.length);
    n->attr.size = n->data.size();
    n->attr.blocks = (n->attr.size + 511) / 512;
  }
  SetTimes(n->attr, true);
  reply.Ok();
}

void TestMemFs::Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in) {
  Count(Opcode::kLseek);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  // No holes: data everywhere, one hole at the end.
  if (in.offset >= n->data.size()) {
    reply.Error(Errno(ENXIO));
    return;
  }
  reply.Offset(in.whence == SEEK_DATA ? in.offset : n->data.size());
}

void TestMemFs::CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                              const abi::fuse_copy_file_range_in& in) {
  Count(Opcode::kCopyFileRange);
  MutexLock lock(&mu_);
  Node* src = Find(nodeid);
  Node* dst = Find(in.nodeid_out);
  if (src == nullptr || dst == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  std::string bytes =
      in.off_in >= src->data.size() ? "" : src->data.substr(in.off_in, in.len);
  size_t end = in.off_out + bytes.size();
  if (end > dst->data.size()) dst->data.resize(end);
  std::copy(bytes.begin(), bytes.end(), dst->data.begin() + static_cast<ptrdiff_t>(in.off_out));
  dst->attr.size = dst->data.size();
  dst->attr.blocks = (dst->attr.size + 511) / 512;
  SetTimes(dst->attr, true);
  reply.Written(bytes.size());
}

void TestMemFs::Getlk(ReplyLock reply, uint64_t, const abi::fuse_lk_in& in) {
  Count(Opcode::kGetlk);
  abi::fuse_file_lock none = in.lk;
  none.type = F_UNLCK;  // no locks are kept: nothing ever conflicts
  reply.Lock(none);
}

void TestMemFs::Setlk(ReplyEmpty reply, uint64_t, const abi::fuse_lk_in&, bool) {
  Count(Opcode::kSetlk);
  reply.Ok();
}

void TestMemFs::Access(ReplyEmpty reply, uint64_t, const abi::fuse_access_in&) {
  Count(Opcode::kAccess);
  reply.Ok();
}

// --- Extended attributes ---------------------------------------------------------------

void TestMemFs::Setxattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name,
                         absl::Span<const uint8_t> value, const abi::fuse_setxattr_in& in) {
  Count(Opcode::kSetxattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  bool exists = n->xattrs.count(std::string(name)) > 0;
  if ((in.flags & XATTR_CREATE) && exists) {
    reply.Error(Errno(EEXIST));
    return;
  }
  if ((in.flags & XATTR_REPLACE) && !exists) {
    reply.Error(Errno(ENODATA));
    return;
  }
  n->xattrs[std::string(name)] = std::string(AsString(value));
  SetTimes(n->attr, false);
  reply.Ok();
}

void TestMemFs::Getxattr(ReplyXattr reply, uint64_t nodeid, absl::string_view name,
                         uint32_t size) {
  Count(Opcode::kGetxattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  auto it = n->xattrs.find(std::string(name));
  if (it == n->xattrs.end()) {
    reply.Error(Errno(ENODATA));
    return;
  }
  const std::string& value = it->second;
  if (size == 0) {
    reply.Size(static_cast<uint32_t>(value.size()));
  } else if (size < value.size()) {
    reply.Error(Errno(ERANGE));
  } else {
    reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
}

void TestMemFs::Listxattr(ReplyXattr reply, uint64_t nodeid, uint32_t size) {
  Count(Opcode::kListxattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  std::string list;
  for (const auto& [name, value] : n->xattrs) {
    list += name;
    list.push_back('\0');
  }
  if (size == 0) {
    reply.Size(static_cast<uint32_t>(list.size()));
  } else if (size < list.size()) {
    reply.Error(Errno(ERANGE));
  } else {
    reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(list.data()), list.size()));
  }
}

void TestMemFs::Removexattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name) {
  Count(Opcode::kRemovexattr);
  MutexLock lock(&mu_);
  Node* n = Find(nodeid);
  if (n == nullptr) {
    reply.Error(Errno(ENOENT));
    return;
  }
  if (n->xattrs.erase(std::string(name)) == 0) {
    reply.Error(Errno(ENODATA));
    return;
  }
  SetTimes(n->attr, false);
  reply.Ok();
}

// --- Directories -----------------------------------------------------------------------

void TestMemFs::Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in&) {
  Count(Opcode::kOpendir);
  MutexLock lock(&mu_);
  Errno error;
  if (Dir(nodeid, &error) == nullptr) {
    reply.Error(error);
    return;
  }
  reply.Open({.fh = next_fh_++});
}

void TestMemFs::ListDirectory(ReplyDirectory& reply, uint64_t nodeid,
                              const abi::fuse_read_in& in, bool plus) {
  MutexLock lock(&mu_);
  Errno error;
  Node* dir = Dir(nodeid, &error);
  if (dir == nullptr) {
    reply.Error(error);
    return;
  }
  // Entry i (".", "..", then the children by name) continues at i + 1.
  std::vector<std::pair<std::string, uint64_t>> rows = {{".", nodeid}, {"..", dir->parent}};
  for (const auto& [name, id] : dir->children) rows.emplace_back(name, id);
  std::vector<uint64_t> counted;
  for (uint64_t i = in.offset; i < rows.size(); ++i) {
    const auto& [name, id] = rows[i];
    const Node& n = nodes_.at(id);
    if (!plus) {
      if (!reply.Add(name, n.attr.ino, (n.attr.mode & S_IFMT) >> 12, i + 1)) break;
      continue;
    }
    bool dots = name == "." || name == "..";
    EntryParam e = EntryFor(id);
    if (dots) e.nodeid = 0;  // the kernel does not take "." and ".." as lookups
    if (!reply.AddPlus(name, e, i + 1)) break;
    if (!dots) {
      nodes_.at(id).nlookup++;
      counted.push_back(id);
    }
  }
  if (!reply.Send().ok()) {
    for (uint64_t id : counted) {
      nodes_.at(id).nlookup--;
      MaybeFree(id);
    }
  }
}

void TestMemFs::Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  Count(Opcode::kReaddir);
  ListDirectory(reply, nodeid, in, false);
}

void TestMemFs::Readdirplus(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
  Count(Opcode::kReaddirplus);
  ListDirectory(reply, nodeid, in, true);
}

void TestMemFs::Releasedir(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  Count(Opcode::kReleasedir);
  reply.Ok();
}

void TestMemFs::Fsyncdir(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) {
  Count(Opcode::kFsyncdir);
  reply.Ok();
}

}  // namespace fusekit
