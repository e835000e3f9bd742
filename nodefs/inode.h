// Inode: the toolkit-owned object behind each Node. It holds the node's
// identity (node id, StableAttr), its place in the tree (children and
// parents), the kernel's lookup count, and sends the node's notifications.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "nodefs/child_table.h"
#include "nodefs/node.h"

namespace fusekit {

class Bridge;

// Thread-safe. Inode pointers handed to Node methods are valid for the call;
// an Inode stays alive while it is in the tree, known to the kernel, open,
// or persistent. Lock order: Inode::mu_ of several inodes are taken in
// ascending node-id order; Bridge's tables are never locked while holding
// an Inode's mu_ except as noted in bridge.cc.
class Inode : public std::enable_shared_from_this<Inode> {
 public:
  ~Inode();
  Inode(const Inode&) = delete;
  Inode& operator=(const Inode&) = delete;

  uint64_t node_id() const { return node_id_; }
  const StableAttr& stable() const { return stable_; }
  bool IsDir() const { return stable_.IsDir(); }
  bool IsRoot() const { return node_id_ == abi::kRootId; }
  bool persistent() const { return persistent_; }
  Node* node() const { return node_.get(); }
  // The node as its own type, e.g. inode->node<MyFile>(); null if it is not.
  template <typename T>
  T* node() const {
    return dynamic_cast<T*>(node_.get());
  }

  // --- Making inodes ----------------------------------------------------------
  // A new Inode for `node`, not yet in the tree (Lookup/Mkdir/... return it
  // and fusekit adds it). If attr.ino is not 0 and an Inode with that st_ino
  // is alive, that Inode is returned instead and `node` is dropped: this is
  // how hard links and stable inode numbers work.
  Inode* NewInode(std::unique_ptr<Node> node, StableAttr attr);
  // Like NewInode, but the Inode is never freed, even when the kernel forgets
  // it and no directory holds it (for trees built once and kept).
  Inode* NewPersistentInode(std::unique_ptr<Node> node, StableAttr attr);

  // --- The tree -----------------------------------------------------------------
  // Adds `child` under `name` in this directory. If the name is taken: with
  // `overwrite` the old entry is replaced, without it nothing changes and
  // false is returned. False too for a bad name (empty, '/', over 255 bytes)
  // or when this is not a directory.
  bool AddChild(absl::string_view name, Inode* child, bool overwrite);
  // Removes the entry `name`; false if there was none.
  bool RmChild(absl::string_view name);
  // Moves entry `name` to `new_parent` under `new_name` (replacing what is
  // there when `overwrite`). False if `name` is missing, or the target
  // exists and !overwrite.
  bool MvChild(absl::string_view name, Inode* new_parent, absl::string_view new_name,
               bool overwrite);
  // Swaps the entries `name` here and `new_name` in `new_parent`; both must
  // exist.
  bool ExchangeChild(absl::string_view name, Inode* new_parent, absl::string_view new_name);
  // The child under `name`, or null. Valid while the entry stays.
  Inode* GetChild(absl::string_view name);
  // A snapshot of the children, in name order.
  std::vector<std::pair<std::string, Inode*>> Children();
  // Up to `max` entries of the children whose cookies (ChildTable) are over
  // `after` (0: from the first), in cookie order, appended to *out with
  // name, mode, ino, and the cookie as `offset`: a listing read in batches
  // from the live tree, with nothing copied or pinned beyond the batch.
  void ChildrenAfter(uint64_t after, size_t max, std::vector<DirStreamEntry>* out);
  // How many children are directories (a directory's link count is 2 plus
  // this). O(1): a directory's getattr, asked after every change to it and
  // on every path walk with attr timeout 0, stays cheap when it is large.
  size_t ChildDirectoryCount();
  // How many (directory, name) pairs hold this inode (a file's link count),
  // without copying them: GETATTR allocates nothing.
  size_t ParentCount();
  // A snapshot of the (directory, name) pairs holding this inode.
  std::vector<std::pair<Inode*, std::string>> Parents();
  Inode* Root() const;
  // "/a/b" through the first parent chain, for logs; "<deleted>/name" parts
  // when a chain is cut.
  std::string Path();

  // --- Keeping the kernel's caches true ---------------------------------------
  // Drops cached data in [offset, offset+length) (length 0: to the end;
  // offset -1: attributes only). kOk, ENOENT if the kernel has nothing, or
  // kOk when queued (called inside a handler).
  Errno NotifyContent(int64_t offset, int64_t length);
  // Drops the kernel's dentry `name` in this directory.
  Errno NotifyEntry(absl::string_view name);
  // Like NotifyEntry, and deletes the dentry if it points at `child`.
  Errno NotifyDelete(absl::string_view name, Inode* child);
  // Puts `data` into the kernel's page cache of this file at `offset`.
  Errno NotifyStore(uint64_t offset, absl::Span<const uint8_t> data);
  // Asks for the kernel's cached data; `done` gets it later.
  Errno NotifyRetrieve(uint64_t offset, uint32_t size,
                       std::function<void(uint64_t offset, absl::Span<const uint8_t>)> done);
  // Asks the kernel to forget this node if it is unused.
  Errno NotifyPrune();

  // The kernel's lookup count (for tests and audits).
  uint64_t lookup_count();

 private:
  friend class Bridge;
  friend class PinScope;
  Inode(Bridge* bridge, uint64_t node_id, StableAttr stable, std::unique_ptr<Node> node,
        bool persistent);
  // Whether nothing holds this inode any more (mu_ held).
  bool Unreferenced() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps this inode alive until the current request ends (no-op outside a
  // request). Every Inode* the API hands out inside a handler is pinned.
  Inode* Pin();
  // Adds (parent, name) to parents_ / removes it. mu_ held.
  void AddParent(Inode* parent, absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveParent(Inode* parent, absl::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // AddChild on the bridge's own account (a Lookup or READDIRPLUS result):
  // a child no directory held until now is marked lookup_only_.
  bool AddChildImpl(absl::string_view name, Inode* child, bool overwrite, bool by_lookup);
  // The child called `name` (null if none), kept alive by the reference:
  // taken under mu_, while the entry makes the child surely alive. The
  // tree's methods hold it across the moment they let go of mu_ to lock
  // the child too: another thread may remove the same entry meanwhile (two
  // lookups that find one stale name) and free the child.
  std::shared_ptr<Inode> ChildRef(absl::string_view name) ABSL_LOCKS_EXCLUDED(mu_);
  void AddLookedUpChild(absl::string_view name, Inode* child);
  // Once the kernel has forgotten a lookup_only_ inode, takes it out of
  // every directory so it can be freed (Bridge::AdjustLookup calls this).
  void DetachIfLookupOnly();

  Bridge* const bridge_;
  const uint64_t node_id_;
  const StableAttr stable_;
  const std::unique_ptr<Node> node_;
  const bool persistent_;

  Mutex mu_;
  // name -> child. A std::map so listings come in a stable order.
  ChildTable children_ ABSL_GUARDED_BY(mu_);
  // (parent, name) pairs holding this inode; usually one.
  std::vector<std::pair<Inode*, std::string>> parents_ ABSL_GUARDED_BY(mu_);
  uint64_t lookup_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t open_count_ ABSL_GUARDED_BY(mu_) = 0;
  // Atomic, not under mu_: GetChild/Children pin a child while holding the
  // parent's lock, and taking the child's lock there would invert the tree's
  // lock order (ascending node id). The child cannot be released meanwhile:
  // it has that parent.
  std::atomic<uint64_t> pins_{0};
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  // The tree holds this inode only because the bridge put a node's Lookup
  // (or READDIRPLUS) result there: a dynamic filesystem's child, which the
  // user never placed. Such entries last while the kernel knows the inode
  // (as go-fuse drops forgotten non-persistent inodes from their parents);
  // otherwise every name ever looked up would stay in memory and never get
  // OnForget. AddChild by the user or a creating operation clears it.
  bool lookup_only_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace fusekit
