#include "nodefs/inode.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nodefs/bridge.h"
#include "nodefs/pins.h"

namespace fusekit {
namespace {

thread_local PinScope* t_scope = nullptr;

bool ValidName(absl::string_view name) {
  return !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
         name.find('/') == absl::string_view::npos && name.find('\0') == absl::string_view::npos;
}

// Locks several inodes in ascending node-id order (the tree's lock order),
// skipping nulls and duplicates. Clang's analysis cannot follow a lock set
// chosen at run time: callers AssertHeld() each mutex they passed.
class ABSL_SCOPED_LOCKABLE MultiLock {
 public:
  explicit MultiLock(std::vector<Inode*> inodes, std::vector<Mutex*> mutexes)
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    std::vector<std::pair<uint64_t, Mutex*>> order;
    for (size_t i = 0; i < inodes.size(); ++i) {
      if (inodes[i] != nullptr) order.push_back({inodes[i]->node_id(), mutexes[i]});
    }
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    for (auto& [id, mu] : order) {
      mu->Lock();
      locked_.push_back(mu);
    }
  }
  ~MultiLock() ABSL_UNLOCK_FUNCTION() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    for (auto it = locked_.rbegin(); it != locked_.rend(); ++it) (*it)->Unlock();
  }

 private:
  std::vector<Mutex*> locked_;
};

}  // namespace

// --- PinScope -------------------------------------------------------------------

PinScope::PinScope() : outer_(t_scope) { t_scope = this; }

PinScope::~PinScope() {
  t_scope = outer_;
  for (std::shared_ptr<Inode>& inode : pinned_) {
    {
      MutexLock lock(&inode->mu_);
      inode->pins_--;
    }
    inode->bridge_->MaybeRelease(inode.get());
  }
}

PinScope* PinScope::Current() { return t_scope; }

void PinScope::Add(std::shared_ptr<Inode> inode) { pinned_.push_back(std::move(inode)); }

// --- Inode ---------------------------------------------------------------------

Inode::Inode(Bridge* bridge, uint64_t node_id, StableAttr stable, std::unique_ptr<Node> node,
             bool persistent)
    : bridge_(bridge),
      node_id_(node_id),
      stable_(stable),
      node_(std::move(node)),
      persistent_(persistent) {}

Inode::~Inode() {
  // A directory freed while it still lists children (a detached static
  // subtree): its children lose this parent and may be freed in turn.
  ChildTable children;
  {
    MutexLock lock(&mu_);
    children.Swap(children_);
  }
  children.ForEachByName([this](const std::string& name, Inode* child) {
    // Held across the release: once this parent is gone another thread's
    // MaybeRelease (a FORGET of the child) may free the child at any time.
    std::shared_ptr<Inode> keep = child->weak_from_this().lock();
    {
      MutexLock lock(&child->mu_);
      child->RemoveParent(this, name);
    }
    if (keep) bridge_->MaybeRelease(child);
  });
}

bool Inode::Unreferenced() const {
  return lookup_count_ == 0 && parents_.empty() && open_count_ == 0 && pins_ == 0 &&
         !persistent_ && node_id_ != abi::kRootId;
}

Inode* Inode::Pin() {
  PinScope* scope = PinScope::Current();
  if (scope == nullptr) return this;
  {
    MutexLock lock(&mu_);
    pins_++;
  }
  scope->Add(shared_from_this());
  return this;
}

void Inode::AddParent(Inode* parent, absl::string_view name) {
  parents_.emplace_back(parent, std::string(name));
}

void Inode::RemoveParent(Inode* parent, absl::string_view name) {
  for (auto it = parents_.begin(); it != parents_.end(); ++it) {
    if (it->first == parent && it->second == name) {
      parents_.erase(it);
      return;
    }
  }
}

Inode* Inode::NewInode(std::unique_ptr<Node> node, StableAttr attr) {
  return bridge_->MakeInode(std::move(node), attr, /*persistent=*/false);
}

Inode* Inode::NewPersistentInode(std::unique_ptr<Node> node, StableAttr attr) {
  return bridge_->MakeInode(std::move(node), attr, /*persistent=*/true);
}

bool Inode::AddChild(absl::string_view name, Inode* child, bool overwrite) {
  return AddChildImpl(name, child, overwrite, /*by_lookup=*/false);
}

void Inode::AddLookedUpChild(absl::string_view name, Inode* child) {
  AddChildImpl(name, child, /*overwrite=*/true, /*by_lookup=*/true);
}

bool Inode::AddChildImpl(absl::string_view name, Inode* child, bool overwrite, bool by_lookup) {
  if (!IsDir() || child == nullptr || child == this || !ValidName(name)) return false;
  Inode* old = nullptr;
  // Keeps `old` alive from here to its MaybeRelease below: once it leaves
  // children_, a racing FORGET may release it, and the raw pointer alone
  // would then dangle (ASan saw this under loopbackfs_hostile_test).
  // Taken under mu_, while `old` is our child and so cannot be released.
  std::shared_ptr<Inode> keep_old;
  for (;;) {
    {
      MutexLock lock(&mu_);
      old = children_.Get(name);
      keep_old = old != nullptr ? old->shared_from_this() : nullptr;
    }
    if (old == child) {
      if (!by_lookup) {
        MutexLock lock(&child->mu_);
        child->lookup_only_ = false;  // placed by the user now
      }
      return true;
    }
    if (old != nullptr && !overwrite) return false;
    MultiLock lock({this, child, old}, {&mu_, &child->mu_, old ? &old->mu_ : nullptr});
    mu_.AssertHeld();
    child->mu_.AssertHeld();
    if (children_.Get(name) != old) continue;  // changed while unlocked: look again
    if (old != nullptr) {
      old->mu_.AssertHeld();
      old->RemoveParent(this, name);
    }
    // A looked-up child the tree held already keeps its standing; one the
    // tree did not hold is there only for the kernel's sake.
    if (!by_lookup) {
      child->lookup_only_ = false;
    } else if (child->parents_.empty()) {
      child->lookup_only_ = true;
    }
    children_.Set(name, child);
    child->AddParent(this, name);
    break;
  }
  if (old != nullptr) bridge_->MaybeRelease(old);
  return true;
}

void Inode::DetachIfLookupOnly() {
  // Snapshot the entries, then remove each under the parent's and our lock
  // (the tree's lock order), re-checking that the kernel still has not
  // looked this inode up again meanwhile.
  std::vector<std::pair<std::shared_ptr<Inode>, std::string>> entries;
  {
    MutexLock lock(&mu_);
    if (!lookup_only_ || persistent_ || lookup_count_ != 0) return;
    for (auto& [parent, name] : parents_) {
      // null if the parent is being destroyed: its destructor removes the
      // entry itself.
      if (std::shared_ptr<Inode> p = parent->weak_from_this().lock()) {
        entries.emplace_back(std::move(p), name);
      }
    }
  }
  for (auto& [parent, name] : entries) {
    MultiLock lock({parent.get(), this}, {&parent->mu_, &mu_});
    parent->mu_.AssertHeld();
    mu_.AssertHeld();
    if (!lookup_only_ || lookup_count_ != 0) return;
    if (parent->children_.Get(name) != this) continue;
    parent->children_.Erase(name);
    RemoveParent(parent.get(), name);
  }
}

std::shared_ptr<Inode> Inode::ChildRef(absl::string_view name) {
  MutexLock lock(&mu_);
  Inode* child = children_.Get(name);
  return child != nullptr ? child->shared_from_this() : nullptr;
}

bool Inode::RmChild(absl::string_view name) {
  Inode* child = nullptr;
  std::shared_ptr<Inode> keep;  // see ChildRef
  for (;;) {
    keep = ChildRef(name);
    child = keep.get();
    if (child == nullptr) return false;
    MultiLock lock({this, child}, {&mu_, &child->mu_});
    mu_.AssertHeld();
    child->mu_.AssertHeld();
    Inode* now = children_.Get(name);
    if (now == nullptr) return false;
    if (now != child) continue;
    children_.Erase(name);
    child->RemoveParent(this, name);
    break;
  }
  bridge_->MaybeRelease(child);
  return true;
}

bool Inode::MvChild(absl::string_view name, Inode* new_parent, absl::string_view new_name,
                    bool overwrite) {
  if (new_parent == nullptr || !new_parent->IsDir() || !ValidName(new_name)) return false;
  Inode* child = nullptr;
  Inode* victim = nullptr;
  std::shared_ptr<Inode> keep_child, keep_victim;  // see ChildRef
  for (;;) {
    keep_child = ChildRef(name);
    child = keep_child.get();
    if (child == nullptr) return false;
    keep_victim = new_parent->ChildRef(new_name);
    victim = keep_victim.get();
    if (victim == child) {
      // Both names already lead to the same inode (hard links): rename(2)
      // does nothing then.
      return true;
    }
    if (victim != nullptr && !overwrite) return false;
    MultiLock lock({this, new_parent, child, victim},
                   {&mu_, &new_parent->mu_, &child->mu_, victim ? &victim->mu_ : nullptr});
    mu_.AssertHeld();
    new_parent->mu_.AssertHeld();
    child->mu_.AssertHeld();
    Inode* child_now = children_.Get(name);
    if (child_now == nullptr) return false;
    if (child_now != child || new_parent->children_.Get(new_name) != victim) continue;
    children_.Erase(name);
    child->RemoveParent(this, name);
    if (victim != nullptr) {
      victim->mu_.AssertHeld();
      victim->RemoveParent(new_parent, new_name);
    }
    new_parent->children_.Set(new_name, child);
    child->AddParent(new_parent, new_name);
    break;
  }
  if (victim != nullptr) bridge_->MaybeRelease(victim);
  return true;
}

bool Inode::ExchangeChild(absl::string_view name, Inode* new_parent, absl::string_view new_name) {
  if (new_parent == nullptr || !new_parent->IsDir()) return false;
  for (;;) {
    std::shared_ptr<Inode> keep_a = ChildRef(name);  // see ChildRef
    std::shared_ptr<Inode> keep_b = new_parent->ChildRef(new_name);
    Inode* a = keep_a.get();
    Inode* b = keep_b.get();
    if (a == nullptr || b == nullptr) return false;
    // Swapping an inode with itself (one entry, or two names of one inode)
    // changes nothing; done below it would add a parent entry twice for one
    // name and so keep the inode alive for ever.
    if (a == b) return true;
    MultiLock lock({this, new_parent, a, b}, {&mu_, &new_parent->mu_, &a->mu_, &b->mu_});
    mu_.AssertHeld();
    new_parent->mu_.AssertHeld();
    a->mu_.AssertHeld();
    b->mu_.AssertHeld();
    Inode* a_now = children_.Get(name);
    Inode* b_now = new_parent->children_.Get(new_name);
    if (a_now == nullptr || b_now == nullptr) return false;
    if (a_now != a || b_now != b) continue;
    a->RemoveParent(this, name);
    b->RemoveParent(new_parent, new_name);
    // Both names keep their places in listings (their cookies).
    children_.Set(name, b);
    new_parent->children_.Set(new_name, a);
    b->AddParent(this, name);
    a->AddParent(new_parent, new_name);
    return true;
  }
}

Inode* Inode::GetChild(absl::string_view name) {
  Inode* child;
  {
    MutexLock lock(&mu_);
    child = children_.Get(name);
    if (child == nullptr) return nullptr;
    // Pinned while the entry (and so the child) is surely alive.
    if (PinScope* scope = PinScope::Current()) {
      child->pins_.fetch_add(1);
      scope->Add(child->shared_from_this());
    }
  }
  return child;
}

std::vector<std::pair<std::string, Inode*>> Inode::Children() {
  MutexLock lock(&mu_);
  std::vector<std::pair<std::string, Inode*>> out;
  out.reserve(children_.size());
  PinScope* scope = PinScope::Current();
  children_.ForEachByName([&](const std::string& name, Inode* child) {
    if (scope != nullptr) {
      child->pins_.fetch_add(1);
      scope->Add(child->shared_from_this());
    }
    out.emplace_back(name, child);
  });
  return out;
}

void Inode::ChildrenAfter(uint64_t after, size_t max, std::vector<DirStreamEntry>* out) {
  MutexLock lock(&mu_);
  children_.ForEachAfter(after, max, [out](const std::string& name, Inode* child, uint64_t cookie) {
    out->push_back({name, child->stable().mode, child->stable().ino, cookie});
  });
}

size_t Inode::ChildDirectoryCount() {
  MutexLock lock(&mu_);
  return children_.directories();
}

size_t Inode::ParentCount() {
  MutexLock lock(&mu_);
  return parents_.size();
}

std::vector<std::pair<Inode*, std::string>> Inode::Parents() {
  MutexLock lock(&mu_);
  return parents_;
}

Inode* Inode::Root() const { return bridge_->root(); }

std::string Inode::Path() {
  if (IsRoot()) return "/";
  std::vector<std::string> parts;
  std::shared_ptr<Inode> at = shared_from_this();
  // Bounded: a tree edited concurrently could otherwise keep us walking.
  for (int depth = 0; depth < 4096 && !at->IsRoot(); ++depth) {
    std::shared_ptr<Inode> parent;
    {
      MutexLock lock(&at->mu_);
      if (at->parents_.empty()) {
        parts.push_back(absl::StrCat("<deleted:", at->node_id_, ">"));
        break;
      }
      parts.push_back(at->parents_.front().second);
      parent = at->parents_.front().first->shared_from_this();
    }
    at = std::move(parent);
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (!(it == parts.rbegin() && absl::StartsWith(*it, "<deleted"))) path += "/";
    path += *it;
  }
  return path;
}

uint64_t Inode::lookup_count() {
  MutexLock lock(&mu_);
  return lookup_count_;
}

// --- Notifications -----------------------------------------------------------------

namespace {
constexpr Errno kNotServing(ENOTCONN);
}  // namespace

Errno Inode::NotifyContent(int64_t offset, int64_t length) {
  Notifier* n = bridge_->notifier();
  return n ? n->InvalInode(node_id_, offset, length) : kNotServing;
}

Errno Inode::NotifyEntry(absl::string_view name) {
  Notifier* n = bridge_->notifier();
  return n ? n->InvalEntry(node_id_, name) : kNotServing;
}

Errno Inode::NotifyDelete(absl::string_view name, Inode* child) {
  Notifier* n = bridge_->notifier();
  if (n == nullptr) return kNotServing;
  return n->Delete(node_id_, child ? child->node_id() : 0, name);
}

Errno Inode::NotifyStore(uint64_t offset, absl::Span<const uint8_t> data) {
  Notifier* n = bridge_->notifier();
  return n ? n->Store(node_id_, offset, data) : kNotServing;
}

Errno Inode::NotifyRetrieve(uint64_t offset, uint32_t size,
                            std::function<void(uint64_t, absl::Span<const uint8_t>)> done) {
  Notifier* n = bridge_->notifier();
  return n ? n->Retrieve(node_id_, offset, size, std::move(done)) : kNotServing;
}

Errno Inode::NotifyPrune() {
  Notifier* n = bridge_->notifier();
  const uint64_t ids[] = {node_id_};
  return n ? n->Prune(ids) : kNotServing;
}

}  // namespace fusekit
