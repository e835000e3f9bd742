// KernelCache: the fake kernel's model of the Linux dentry and inode caches
// of one FUSE mount, reduced to what a filesystem can observe: which
// (parent, name) pairs resolve to which node ids without asking, for how
// long, which attributes are cached, and how many lookups the kernel holds
// on each node id, which it gives back with FORGET when it drops the node.
//
// The rules, as fs/fuse and the VFS apply them:
// - Each positive entry reply adds one lookup to its node id (fuse_iget:
//   fi->nlookup++), whether it created the dentry or revalidated it.
// - A node id stays known while a dentry points at it, a child dentry hangs
//   below it, or something holds it (an open file, a path walk in progress,
//   and the directories above an open file). When none is left the inode is
//   evicted at once (FUSE drops inodes eagerly) and FORGET returns its whole
//   count.
// - Dentries and attributes expire after the timeouts the replies gave;
//   an expired dentry is revalidated with a LOOKUP, not dropped.
// - Dropping a directory's dentry drops the dentries below it.
// - The root (node id 1) is never forgotten.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuse/kernel_abi.h"
#include "testing/fake_clock.h"

namespace fusekit {

// A reply's (seconds, nanoseconds) timeout as a duration.
absl::Duration WireDuration(uint64_t sec, uint32_t nsec);

// Pure bookkeeping: no I/O. Not thread-safe; FakeKernel guards it.
class KernelCache {
 public:
  struct Node {
    uint64_t nlookup = 0;
    uint64_t generation = 0;
    uint32_t type = 0;  // S_IFMT bits of the mode last seen
    abi::fuse_attr attr{};
    bool attr_known = false;
    absl::Time attr_expiry = absl::InfinitePast();
    int refs = 0;          // open files and in-progress path walks
    uint64_t parent = 0;   // directory of the dentry last used to reach it
    std::string name;      // that dentry's name
  };
  struct Dentry {
    uint64_t nodeid = 0;  // 0: a negative entry ("no such name")
    absl::Time expiry = absl::InfinitePast();
    uint64_t last_used = 0;  // LRU tick
  };

  explicit KernelCache(const FakeClock* clock);

  // --- Dentries -------------------------------------------------------
  // The cached dentry, valid or expired, or null.
  const Dentry* FindDentry(uint64_t parent, absl::string_view name) const;
  bool Valid(const Dentry& d) const { return d.expiry > clock_->Now(); }
  // Marks a dentry used (for the LRU).
  void Touch(uint64_t parent, absl::string_view name);
  // A positive entry reply for (parent, name): one more lookup on the node
  // (created if new), the dentry now points at it (a dentry that pointed
  // elsewhere is dropped first), attributes cached.
  void AddEntry(uint64_t parent, absl::string_view name, const abi::fuse_entry_out& entry);
  // An entry reply that makes no dentry (TMPFILE): one more lookup.
  void CountLookup(const abi::fuse_entry_out& entry);
  // A negative entry cached for `valid` (nothing is cached for 0).
  void AddNegative(uint64_t parent, absl::string_view name, absl::Duration valid);
  // Drops the dentry and, if it names a directory, every dentry below it.
  void RemoveDentry(uint64_t parent, absl::string_view name);
  // Keeps the dentry but makes the next use revalidate it.
  void ExpireDentry(uint64_t parent, absl::string_view name);
  void ExpireAllDentries();
  // rename(2): the dentry moves; a dentry it replaces is dropped.
  void MoveDentry(uint64_t parent, absl::string_view name, uint64_t new_parent,
                  absl::string_view new_name);
  // renameat2(RENAME_EXCHANGE): the two dentries swap nodes.
  void ExchangeDentries(uint64_t parent, absl::string_view name, uint64_t new_parent,
                        absl::string_view new_name);
  // Drops the dentries directly below `dir` that nothing holds (rmdir(2)
  // does this before asking the filesystem).
  void ShrinkChildren(uint64_t dir);
  // All dentries below `dir`, in name order (for tests and traces).
  std::vector<std::pair<std::string, Dentry>> Children(uint64_t dir) const;

  // --- Nodes ----------------------------------------------------------
  Node* FindNode(uint64_t nodeid);
  const Node* FindNode(uint64_t nodeid) const;
  void CacheAttr(uint64_t nodeid, const abi::fuse_attr& attr, absl::Duration valid);
  void InvalidateAttr(uint64_t nodeid);
  bool AttrValid(const Node& n) const { return n.attr_known && n.attr_expiry > clock_->Now(); }
  // Holds / releases a node (an open file, a walk in progress).
  void Ref(uint64_t nodeid);
  void Unref(uint64_t nodeid);
  // Releases every hold (unmount: the open files are gone).
  void UnrefAll();

  // --- Dropping and forgetting ----------------------------------------
  // Removes every node nothing holds any more from the model and returns
  // them with their counts: the FORGETs to send.
  std::vector<abi::fuse_forget_one> TakeUnreferenced();
  // drop_caches: every dentry except those on the way to a held node.
  void DropAll();
  // Every dentry of `nodeid` (and below it), unless the node is held.
  void DropNode(uint64_t nodeid);
  // Evicts least recently used dentries until at most `limit` nodes
  // (root excluded) remain or only held ones are left.
  void Shrink(size_t limit);

  // Node id -> count, root excluded.
  std::map<uint64_t, uint64_t> LookupCounts() const;
  // Known node ids, root excluded.
  size_t node_count() const { return nodes_.size() - 1; }
  size_t dentry_count() const { return dentries_.size(); }

 private:
  using Key = std::pair<uint64_t, std::string>;
  Key MakeKey(uint64_t parent, absl::string_view name) const {
    return Key(parent, std::string(name));
  }
  // Node ids held directly or as an ancestor of a held node.
  std::map<uint64_t, bool> HeldNodes() const;
  void RemoveSubtree(uint64_t dir);
  Node& NodeFor(const abi::fuse_entry_out& entry);

  const FakeClock* const clock_;
  uint64_t tick_ = 0;
  std::map<uint64_t, Node> nodes_;
  std::map<Key, Dentry> dentries_;
};

}  // namespace fusekit
