// Fault injection for node trees: FaultNode<Base> is a Base node (any Node
// subclass: LoopbackNode, MemFile, your own) whose operations first ask a
// shared FaultPlan whether to fail with an errno, or to wait, before doing
// what Base does. A test uses it to see how everything above the node takes
// the fault: the kernel, the caller's system call, the rest of the tree. It
// is the third of the test seams (the transport, the fake kernel, this).
//
//   auto faults = std::make_shared<fusekit::FaultPlan>();
//   // Every node of a loopback tree, wrapped:
//   fusekit::LoopbackOptions lo;
//   lo.new_node = [faults](std::shared_ptr<fusekit::LoopbackRoot> root, const struct stat& st) {
//     return std::make_unique<fusekit::FaultNode<fusekit::LoopbackNode>>(faults, root, st);
//   };
//   auto root = fusekit::NewLoopbackRoot(dir, lo);
//   ... mount it ...
//   // The host's disk goes bad under one file (its st_ino through the mount):
//   int id = faults->Add({.ops = fusekit::FaultOp::kRead, .ino = st.st_ino,
//                         .error = fusekit::Errno(EIO)});
//   // A read of a file that hangs until the test lets it go (or the caller
//   // is interrupted, when it honours interrupts):
//   int gate = faults->Add({.ops = fusekit::FaultOp::kRead, .ino = ino, .error = fusekit::kOk,
//                           .block = true});
//   faults->WaitForBlocked(gate, 1, absl::Seconds(30));  // a read is waiting
//   faults->Release(gate);                                  // it goes on
//
// Only a node's own methods are wrapped (node.h's Node), not its
// FileHandle's: a handle's Read and Write are reached through Node::Read and
// Node::WriteBuf / Node::Write and so are covered; locks, Release, ioctl, poll and
// copy_file_range go to the handle directly and are not. Statx is not
// wrapped either: its default is built from Getattr, which is. Trees whose
// directories make their children themselves (MemDir) get wrapped children
// only where the test adds them (inode()->NewInode(FaultNode<MemFile>...)).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit {

// The operations a Fault applies to; combine with |.
enum class FaultOp : uint32_t {
  kLookup = 1u << 0,
  kGetattr = 1u << 1,
  kSetattr = 1u << 2,  // chmod, chown, truncate, utimens
  kAccess = 1u << 3,
  kReadlink = 1u << 4,
  kStatfs = 1u << 5,
  kMknod = 1u << 6,
  kMkdir = 1u << 7,
  kSymlink = 1u << 8,
  kLink = 1u << 9,
  kUnlink = 1u << 10,
  kRmdir = 1u << 11,
  kRename = 1u << 12,
  kCreate = 1u << 13,
  kOpen = 1u << 14,
  kOpendir = 1u << 15,
  kReaddir = 1u << 16,
  kGetxattr = 1u << 17,
  kSetxattr = 1u << 18,
  kListxattr = 1u << 19,
  kRemovexattr = 1u << 20,
  kRead = 1u << 21,
  kWrite = 1u << 22,
  kFlush = 1u << 23,
  kFsync = 1u << 24,
  kFallocate = 1u << 25,
  kLseek = 1u << 26,
  kAll = (1u << 27) - 1,
};

constexpr FaultOp operator|(FaultOp a, FaultOp b) {
  return static_cast<FaultOp>(static_cast<uint32_t>(a) | static_cast<uint32_t>(b));
}
constexpr bool Includes(FaultOp set, FaultOp op) {
  return (static_cast<uint32_t>(set) & static_cast<uint32_t>(op)) != 0;
}

// One rule: which calls it takes and what it does to them.
struct Fault {
  FaultOp ops = FaultOp::kAll;
  // The st_ino of the node the call is made on (StableAttr::ino, what stat(2)
  // through the mount shows; for namespace operations and Lookup, the
  // directory's). 0: any node.
  uint64_t ino = 0;
  // For calls that carry a name (Lookup, Create, Mknod, Mkdir, Symlink,
  // Link, Unlink, Rmdir, Rename's source, and the xattr name of Getxattr,
  // Setxattr, Removexattr): only this one. "": any call.
  std::string name;
  // What a taken call fails with. kOk: it is not failed (with `block`: it
  // waits, then does what Base does).
  Errno error = Errno(EIO);
  // Let this many matching calls through before taking any.
  int skip = 0;
  // Take this many calls, then let the rest through; -1: every one.
  int times = -1;
  // A taken call waits inside the node until FaultPlan::Release (or Remove)
  // before answering: a slow or hung backend.
  bool block = false;
  // While waiting: if the request is interrupted (the caller got a signal,
  // or the connection ended), stop waiting and fail with EINTR. false: a
  // backend that ignores interrupts and waits for Release regardless.
  bool honour_interrupts = true;
};

// The rules FaultNodes consult. Shared by any number of nodes (of one or
// several trees); thread-safe. Rules are tried in the order added; the first
// that takes a call decides it.
class FaultPlan {
 public:
  FaultPlan() = default;
  ~FaultPlan();
  FaultPlan(const FaultPlan&) = delete;
  FaultPlan& operator=(const FaultPlan&) = delete;

  // Adds a rule; returns its id.
  int Add(Fault fault);
  // Removes a rule; calls it holds waiting go on (as on Release).
  void Remove(int id);
  // Removes every rule.
  void Clear();
  // Opens a blocking rule's gate: calls waiting on it go on (failing with
  // its error, if any) and later ones no longer wait.
  void Release(int id);

  // Calls the rule took so far (failed or held).
  int hits(int id);
  // Calls waiting on the rule now.
  int blocked(int id);
  // Waits until at least `n` calls wait on rule `id`; false if `timeout`
  // passes first (a generous bound, so a test fails rather than hangs).
  bool WaitForBlocked(int id, int n, absl::Duration timeout);

  // For FaultNode: decides a call of `op` on the node numbered `ino`,
  // carrying `name` (may be empty). kOk: go on with Base's method; otherwise
  // fail with the returned errno. May wait (block rules).
  Errno Enter(FaultOp op, uint64_t ino, absl::string_view name, const Context& ctx);

 private:
  struct Rule {
    Fault fault;
    int skipped = 0;
    int hits = 0;
    int blocked = 0;
    bool released = false;
  };

  Mutex mu_;
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // By id (ascending: the order added). Shared: a waiting call keeps its
  // rule while Remove drops it from the map.
  std::map<int, std::shared_ptr<Rule>> rules_ ABSL_GUARDED_BY(mu_);
};

// A Base node whose Node methods consult `plan` first. Base's constructor
// arguments follow the plan: FaultNode<MemFile>(plan, S_IFREG | 0644, uid,
// gid). Thread-safe as Base is.
template <typename Base>
class FaultNode : public Base {
 public:
  template <typename... Args>
  explicit FaultNode(std::shared_ptr<FaultPlan> plan, Args&&... args)
      : Base(std::forward<Args>(args)...), plan_(std::move(plan)) {}

  FaultPlan& faults() const { return *plan_; }

  Errno Lookup(const Context& ctx, absl::string_view name, EntryOut* out,
               Inode** child) override {
    Errno e = Check(FaultOp::kLookup, ctx, name);
    return e.ok() ? Base::Lookup(ctx, name, out, child) : e;
  }
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override {
    Errno e = Check(FaultOp::kGetattr, ctx);
    return e.ok() ? Base::Getattr(ctx, fh, out) : e;
  }
  Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) override {
    Errno e = Check(FaultOp::kSetattr, ctx);
    return e.ok() ? Base::Setattr(ctx, fh, in, out) : e;
  }
  Errno Access(const Context& ctx, uint32_t mask) override {
    Errno e = Check(FaultOp::kAccess, ctx);
    return e.ok() ? Base::Access(ctx, mask) : e;
  }
  Errno Readlink(const Context& ctx, std::string* target) override {
    Errno e = Check(FaultOp::kReadlink, ctx);
    return e.ok() ? Base::Readlink(ctx, target) : e;
  }
  Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out) override {
    Errno e = Check(FaultOp::kStatfs, ctx);
    return e.ok() ? Base::Statfs(ctx, out) : e;
  }
  Errno Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
              EntryOut* out, Inode** child) override {
    Errno e = Check(FaultOp::kMknod, ctx, name);
    return e.ok() ? Base::Mknod(ctx, name, mode, rdev, out, child) : e;
  }
  Errno Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut* out,
              Inode** child) override {
    Errno e = Check(FaultOp::kMkdir, ctx, name);
    return e.ok() ? Base::Mkdir(ctx, name, mode, out, child) : e;
  }
  Errno Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                EntryOut* out, Inode** child) override {
    Errno e = Check(FaultOp::kSymlink, ctx, name);
    return e.ok() ? Base::Symlink(ctx, target, name, out, child) : e;
  }
  Errno Link(const Context& ctx, Inode* target, absl::string_view name, EntryOut* out,
             Inode** child) override {
    Errno e = Check(FaultOp::kLink, ctx, name);
    return e.ok() ? Base::Link(ctx, target, name, out, child) : e;
  }
  Errno Unlink(const Context& ctx, absl::string_view name) override {
    Errno e = Check(FaultOp::kUnlink, ctx, name);
    return e.ok() ? Base::Unlink(ctx, name) : e;
  }
  Errno Rmdir(const Context& ctx, absl::string_view name) override {
    Errno e = Check(FaultOp::kRmdir, ctx, name);
    return e.ok() ? Base::Rmdir(ctx, name) : e;
  }
  Errno Rename(const Context& ctx, absl::string_view name, Inode* new_parent,
               absl::string_view new_name, uint32_t flags) override {
    Errno e = Check(FaultOp::kRename, ctx, name);
    return e.ok() ? Base::Rename(ctx, name, new_parent, new_name, flags) : e;
  }
  Errno Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
               EntryOut* entry, Inode** child, OpenOut* open) override {
    Errno e = Check(FaultOp::kCreate, ctx, name);
    return e.ok() ? Base::Create(ctx, name, flags, mode, entry, child, open) : e;
  }
  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override {
    Errno e = Check(FaultOp::kOpen, ctx);
    return e.ok() ? Base::Open(ctx, flags, out) : e;
  }
  Errno Opendir(const Context& ctx, OpenOut* out) override {
    Errno e = Check(FaultOp::kOpendir, ctx);
    return e.ok() ? Base::Opendir(ctx, out) : e;
  }
  Errno Readdir(const Context& ctx, std::unique_ptr<DirStream>* stream) override {
    Errno e = Check(FaultOp::kReaddir, ctx);
    return e.ok() ? Base::Readdir(ctx, stream) : e;
  }
  Errno Getxattr(const Context& ctx, absl::string_view name, std::string* value) override {
    Errno e = Check(FaultOp::kGetxattr, ctx, name);
    return e.ok() ? Base::Getxattr(ctx, name, value) : e;
  }
  Errno Setxattr(const Context& ctx, absl::string_view name, absl::Span<const uint8_t> value,
                 uint32_t flags) override {
    Errno e = Check(FaultOp::kSetxattr, ctx, name);
    return e.ok() ? Base::Setxattr(ctx, name, value, flags) : e;
  }
  Errno Listxattr(const Context& ctx, std::vector<std::string>* names) override {
    Errno e = Check(FaultOp::kListxattr, ctx);
    return e.ok() ? Base::Listxattr(ctx, names) : e;
  }
  Errno Removexattr(const Context& ctx, absl::string_view name) override {
    Errno e = Check(FaultOp::kRemovexattr, ctx, name);
    return e.ok() ? Base::Removexattr(ctx, name) : e;
  }
  Errno Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out) override {
    Errno e = Check(FaultOp::kRead, ctx);
    return e.ok() ? Base::Read(ctx, fh, offset, out) : e;
  }
  Errno Write(const Context& ctx, FileHandle* fh, uint64_t offset, absl::Span<const uint8_t> data,
              uint32_t* written) override {
    if (!t_write_checked_) {
      Errno e = Check(FaultOp::kWrite, ctx);
      if (!e.ok()) return e;
    }
    return Base::Write(ctx, fh, offset, data, written);
  }
  // Every WRITE arrives here first. A Base that takes payloads itself
  // (LoopbackNode) never reaches Write above, so the fault is checked
  // here; a Base that materializes calls back into Write, which then must
  // not check (and count, or block) the same WRITE again.
  Errno WriteBuf(const Context& ctx, FileHandle* fh, uint64_t offset, WritePayload& payload,
                 uint32_t* written) override {
    Errno e = Check(FaultOp::kWrite, ctx);
    if (!e.ok()) return e;
    t_write_checked_ = true;
    e = Base::WriteBuf(ctx, fh, offset, payload, written);
    t_write_checked_ = false;
    return e;
  }
  Errno Flush(const Context& ctx, FileHandle* fh) override {
    Errno e = Check(FaultOp::kFlush, ctx);
    return e.ok() ? Base::Flush(ctx, fh) : e;
  }
  Errno Fsync(const Context& ctx, FileHandle* fh, bool datasync) override {
    Errno e = Check(FaultOp::kFsync, ctx);
    return e.ok() ? Base::Fsync(ctx, fh, datasync) : e;
  }
  Errno Fallocate(const Context& ctx, FileHandle* fh, uint64_t offset, uint64_t length,
                  uint32_t mode) override {
    Errno e = Check(FaultOp::kFallocate, ctx);
    return e.ok() ? Base::Fallocate(ctx, fh, offset, length, mode) : e;
  }
  Errno Lseek(const Context& ctx, FileHandle* fh, uint64_t offset, uint32_t whence,
              uint64_t* result) override {
    Errno e = Check(FaultOp::kLseek, ctx);
    return e.ok() ? Base::Lseek(ctx, fh, offset, whence, result) : e;
  }

 private:
  Errno Check(FaultOp op, const Context& ctx, absl::string_view name = {}) {
    Inode* inode = this->inode();
    return plan_->Enter(op, inode != nullptr ? inode->stable().ino : 0, name, ctx);
  }

  const std::shared_ptr<FaultPlan> plan_;
  // Set while this thread is in WriteBuf, whose fault check covers the
  // Write it may lead to.
  static inline thread_local bool t_write_checked_ = false;
};

}  // namespace fusekit
