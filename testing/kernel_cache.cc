#include "testing/kernel_cache.h"

#include <sys/stat.h>

#include <limits>
#include <set>

namespace fusekit {

absl::Duration WireDuration(uint64_t sec, uint32_t nsec) {
  // Far beyond any test's clock: treat as forever (and avoid overflow).
  if (sec > static_cast<uint64_t>(std::numeric_limits<int64_t>::max() / 2)) {
    return absl::InfiniteDuration();
  }
  return absl::Seconds(static_cast<int64_t>(sec)) + absl::Nanoseconds(nsec);
}

KernelCache::KernelCache(const FakeClock* clock) : clock_(clock) {
  // The root inode exists from mount on with one lookup (fuse_fill_super ->
  // fuse_iget) that is never returned.
  Node& root = nodes_[abi::kRootId];
  root.nlookup = 1;
  root.type = S_IFDIR;
  root.parent = abi::kRootId;
}

const KernelCache::Dentry* KernelCache::FindDentry(uint64_t parent,
                                                   absl::string_view name) const {
  auto it = dentries_.find(MakeKey(parent, name));
  return it == dentries_.end() ? nullptr : &it->second;
}

void KernelCache::Touch(uint64_t parent, absl::string_view name) {
  auto it = dentries_.find(MakeKey(parent, name));
  if (it != dentries_.end()) it->second.last_used = ++tick_;
}

KernelCache::Node& KernelCache::NodeFor(const abi::fuse_entry_out& entry) {
  auto [it, inserted] = nodes_.try_emplace(entry.nodeid);
  Node& node = it->second;
  // A node id known with another generation or type is a reuse the
  // protocol checker reports; the model follows the newest reply.
  node.generation = entry.generation;
  node.type = entry.attr.mode & S_IFMT;
  return node;
}

void KernelCache::AddEntry(uint64_t parent, absl::string_view name,
                           const abi::fuse_entry_out& entry) {
  const Dentry* old = FindDentry(parent, name);
  if (old != nullptr && old->nodeid != entry.nodeid) RemoveDentry(parent, name);
  Node& node = NodeFor(entry);
  node.nlookup++;
  node.parent = parent;
  node.name = std::string(name);
  CacheAttr(entry.nodeid, entry.attr, WireDuration(entry.attr_valid, entry.attr_valid_nsec));
  Dentry& d = dentries_[MakeKey(parent, name)];
  d.nodeid = entry.nodeid;
  d.expiry = clock_->Now() + WireDuration(entry.entry_valid, entry.entry_valid_nsec);
  d.last_used = ++tick_;
}

void KernelCache::CountLookup(const abi::fuse_entry_out& entry) {
  Node& node = NodeFor(entry);
  node.nlookup++;
  CacheAttr(entry.nodeid, entry.attr, WireDuration(entry.attr_valid, entry.attr_valid_nsec));
}

void KernelCache::AddNegative(uint64_t parent, absl::string_view name, absl::Duration valid) {
  RemoveDentry(parent, name);
  if (valid <= absl::ZeroDuration()) return;
  Dentry& d = dentries_[MakeKey(parent, name)];
  d.nodeid = 0;
  d.expiry = clock_->Now() + valid;
  d.last_used = ++tick_;
}

void KernelCache::RemoveDentry(uint64_t parent, absl::string_view name) {
  auto it = dentries_.find(MakeKey(parent, name));
  if (it == dentries_.end()) return;
  uint64_t nodeid = it->second.nodeid;
  dentries_.erase(it);
  if (nodeid == 0) return;
  const Node* node = FindNode(nodeid);
  if (node == nullptr || node->type != S_IFDIR) return;
  for (const auto& [key, d] : dentries_) {
    if (d.nodeid == nodeid) return;  // another alias still reaches it
  }
  RemoveSubtree(nodeid);
}

void KernelCache::RemoveSubtree(uint64_t dir) {
  std::set<uint64_t> seen;
  std::vector<uint64_t> work = {dir};
  while (!work.empty()) {
    uint64_t d = work.back();
    work.pop_back();
    if (!seen.insert(d).second) continue;  // a filesystem that made a loop
    auto it = dentries_.lower_bound(Key(d, ""));
    while (it != dentries_.end() && it->first.first == d) {
      if (it->second.nodeid != 0 && it->second.nodeid != abi::kRootId) {
        work.push_back(it->second.nodeid);
      }
      it = dentries_.erase(it);
    }
  }
}

void KernelCache::ExpireDentry(uint64_t parent, absl::string_view name) {
  auto it = dentries_.find(MakeKey(parent, name));
  if (it != dentries_.end()) it->second.expiry = clock_->Now();
}

void KernelCache::ExpireAllDentries() {
  absl::Time now = clock_->Now();
  for (auto& [key, d] : dentries_) d.expiry = now;
}

void KernelCache::MoveDentry(uint64_t parent, absl::string_view name, uint64_t new_parent,
                             absl::string_view new_name) {
  auto it = dentries_.find(MakeKey(parent, name));
  if (it == dentries_.end()) {
    RemoveDentry(new_parent, new_name);
    return;
  }
  Dentry moved = it->second;
  dentries_.erase(it);
  RemoveDentry(new_parent, new_name);
  moved.last_used = ++tick_;
  dentries_[MakeKey(new_parent, new_name)] = moved;
  if (Node* node = FindNode(moved.nodeid)) {
    node->parent = new_parent;
    node->name = std::string(new_name);
  }
}

void KernelCache::ExchangeDentries(uint64_t parent, absl::string_view name, uint64_t new_parent,
                                   absl::string_view new_name) {
  auto a = dentries_.find(MakeKey(parent, name));
  auto b = dentries_.find(MakeKey(new_parent, new_name));
  if (a == dentries_.end() || b == dentries_.end()) {
    RemoveDentry(parent, name);
    RemoveDentry(new_parent, new_name);
    return;
  }
  std::swap(a->second.nodeid, b->second.nodeid);
  if (Node* n = FindNode(a->second.nodeid)) {
    n->parent = parent;
    n->name = std::string(name);
  }
  if (Node* n = FindNode(b->second.nodeid)) {
    n->parent = new_parent;
    n->name = std::string(new_name);
  }
}

void KernelCache::ShrinkChildren(uint64_t dir) {
  std::map<uint64_t, bool> held = HeldNodes();
  std::vector<std::string> names;
  for (auto it = dentries_.lower_bound(Key(dir, "")); it != dentries_.end() && it->first.first == dir;
       ++it) {
    if (it->second.nodeid == 0 || !held.count(it->second.nodeid)) names.push_back(it->first.second);
  }
  for (const std::string& n : names) RemoveDentry(dir, n);
}

std::vector<std::pair<std::string, KernelCache::Dentry>> KernelCache::Children(
    uint64_t dir) const {
  std::vector<std::pair<std::string, Dentry>> out;
  for (auto it = dentries_.lower_bound(Key(dir, "")); it != dentries_.end() && it->first.first == dir;
       ++it) {
    out.emplace_back(it->first.second, it->second);
  }
  return out;
}

KernelCache::Node* KernelCache::FindNode(uint64_t nodeid) {
  auto it = nodes_.find(nodeid);
  return it == nodes_.end() ? nullptr : &it->second;
}

const KernelCache::Node* KernelCache::FindNode(uint64_t nodeid) const {
  auto it = nodes_.find(nodeid);
  return it == nodes_.end() ? nullptr : &it->second;
}

void KernelCache::CacheAttr(uint64_t nodeid, const abi::fuse_attr& attr, absl::Duration valid) {
  Node* node = FindNode(nodeid);
  if (node == nullptr) return;
  node->attr = attr;
  node->attr_known = true;
  node->type = attr.mode & S_IFMT;
  node->attr_expiry = clock_->Now() + valid;
}

void KernelCache::InvalidateAttr(uint64_t nodeid) {
  if (Node* node = FindNode(nodeid)) node->attr_expiry = absl::InfinitePast();
}

void KernelCache::Ref(uint64_t nodeid) {
  if (Node* node = FindNode(nodeid)) node->refs++;
}

void KernelCache::Unref(uint64_t nodeid) {
  Node* node = FindNode(nodeid);
  if (node != nullptr && node->refs > 0) node->refs--;
}

void KernelCache::UnrefAll() {
  for (auto& [id, node] : nodes_) node.refs = 0;
}

std::map<uint64_t, bool> KernelCache::HeldNodes() const {
  std::map<uint64_t, bool> held;
  for (const auto& [id, node] : nodes_) {
    if (node.refs <= 0) continue;
    // A held dentry holds its parent, and so on up to the root.
    uint64_t at = id;
    while (at != 0 && held.emplace(at, true).second && at != abi::kRootId) {
      const Node* n = FindNode(at);
      at = n == nullptr ? 0 : n->parent;
    }
  }
  return held;
}

std::vector<abi::fuse_forget_one> KernelCache::TakeUnreferenced() {
  std::map<uint64_t, bool> held = HeldNodes();
  std::set<uint64_t> in_use;
  for (const auto& [key, d] : dentries_) {
    if (d.nodeid != 0) in_use.insert(d.nodeid);
    in_use.insert(key.first);  // child dentries hold their directory
  }
  std::vector<abi::fuse_forget_one> forgets;
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    uint64_t id = it->first;
    if (id == abi::kRootId || held.count(id) || in_use.count(id)) {
      ++it;
      continue;
    }
    if (it->second.nlookup > 0) forgets.push_back({id, it->second.nlookup});
    it = nodes_.erase(it);
  }
  return forgets;
}

void KernelCache::DropAll() {
  std::map<uint64_t, bool> held = HeldNodes();
  for (auto it = dentries_.begin(); it != dentries_.end();) {
    if (it->second.nodeid != 0 && held.count(it->second.nodeid)) {
      ++it;
    } else {
      it = dentries_.erase(it);
    }
  }
}

void KernelCache::DropNode(uint64_t nodeid) {
  if (nodeid == abi::kRootId || HeldNodes().count(nodeid)) return;
  std::vector<Key> keys;
  for (const auto& [key, d] : dentries_) {
    if (d.nodeid == nodeid) keys.push_back(key);
  }
  for (const Key& k : keys) RemoveDentry(k.first, k.second);
  RemoveSubtree(nodeid);
}

void KernelCache::Shrink(size_t limit) {
  for (;;) {
    // Count what would stay after a collection: nodes with a dentry or held.
    std::map<uint64_t, bool> held = HeldNodes();
    std::set<uint64_t> live;
    std::set<uint64_t> has_positive_child;
    for (const auto& [key, d] : dentries_) {
      if (d.nodeid != 0) {
        live.insert(d.nodeid);
        has_positive_child.insert(key.first);
      }
    }
    for (const auto& [id, h] : held) live.insert(id);
    live.erase(abi::kRootId);
    if (live.size() <= limit) return;
    // The least recently used dentry whose node nothing holds and which has
    // nothing but negative entries below it: the kernel's shrinker also
    // frees leaves first.
    const Key* victim = nullptr;
    uint64_t oldest = UINT64_MAX;
    for (const auto& [key, d] : dentries_) {
      if (d.nodeid == 0 || d.nodeid == abi::kRootId || held.count(d.nodeid) ||
          has_positive_child.count(d.nodeid)) {
        continue;
      }
      if (d.last_used < oldest) {
        oldest = d.last_used;
        victim = &key;
      }
    }
    if (victim == nullptr) return;
    Key k = *victim;
    RemoveDentry(k.first, k.second);
  }
}

std::map<uint64_t, uint64_t> KernelCache::LookupCounts() const {
  std::map<uint64_t, uint64_t> counts;
  for (const auto& [id, node] : nodes_) {
    if (id != abi::kRootId && node.nlookup > 0) counts[id] = node.nlookup;
  }
  return counts;
}

}  // namespace fusekit
