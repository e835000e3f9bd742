#include "nodefs/child_table.h"

#include <utility>

#include "nodefs/inode.h"

namespace fusekit {

Inode* ChildTable::Get(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.inode;
}

Inode* ChildTable::Set(absl::string_view name, Inode* child) {
  auto it = by_name_.find(name);
  Inode* old = nullptr;
  if (it == by_name_.end()) {
    const uint64_t cookie = next_cookie_++;
    it = by_name_.emplace(std::string(name), Slot{child, cookie}).first;
    by_cookie_.emplace(cookie, it);
  } else {
    old = it->second.inode;
    if (old->IsDir()) --directories_;
    it->second.inode = child;
  }
  if (child->IsDir()) ++directories_;
  return old;
}

Inode* ChildTable::Erase(absl::string_view name) {
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return nullptr;
  Inode* old = it->second.inode;
  if (old->IsDir()) --directories_;
  by_cookie_.erase(it->second.cookie);
  by_name_.erase(it);
  return old;
}

void ChildTable::Clear() {
  by_cookie_.clear();
  by_name_.clear();
  directories_ = 0;
}

void ChildTable::Swap(ChildTable& other) {
  // std::map::swap keeps iterators valid (they now belong to the other
  // map), so each by_cookie_ still points into its own by_name_.
  by_name_.swap(other.by_name_);
  by_cookie_.swap(other.by_cookie_);
  std::swap(next_cookie_, other.next_cookie_);
  std::swap(directories_, other.directories_);
}

}  // namespace fusekit
