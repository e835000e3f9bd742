// ChildTable: a directory's entries (name -> child Inode) and what the tree
// needs of them besides lookup by name: how many are directories (the
// directory's link count, in O(1)) and a listing order that survives
// changes. Each name gets a cookie when it is added, larger than every
// cookie before it, and keeps it until it is removed (pointing the name at
// another inode keeps it too). Listings go in cookie order and resume after
// a cookie, so a listing offset stays valid from one listing to the next
// (seekdir, the kernel's cached listings) while entries come and go, as
// tmpfs's do. Not thread-safe: the owning Inode's mutex guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace fusekit {

class Inode;

class ChildTable {
 public:
  ChildTable() = default;
  ChildTable(const ChildTable&) = delete;
  ChildTable& operator=(const ChildTable&) = delete;

  // The inode under `name`, or null.
  Inode* Get(absl::string_view name) const;
  // Points `name` at `child` (not null); returns what it pointed at before,
  // or null for a new name, which gets the next cookie.
  Inode* Set(absl::string_view name, Inode* child);
  // Removes `name`; returns what it pointed at, or null if it was absent.
  Inode* Erase(absl::string_view name);
  void Clear();
  void Swap(ChildTable& other);

  size_t size() const { return by_name_.size(); }
  // How many entries are directories.
  size_t directories() const { return directories_; }

  // f(name, child) for every entry, in name order.
  template <typename F>
  void ForEachByName(F f) const {
    for (const auto& [name, slot] : by_name_) f(name, slot.inode);
  }
  // f(name, child, cookie) for up to `max` entries whose cookies are over
  // `after` (0: from the first), in cookie order.
  template <typename F>
  void ForEachAfter(uint64_t after, size_t max, F f) const {
    for (auto it = by_cookie_.upper_bound(after); it != by_cookie_.end() && max > 0;
         ++it, --max) {
      f(it->second->first, it->second->second.inode, it->first);
    }
  }

 private:
  struct Slot {
    Inode* inode;
    uint64_t cookie;
  };
  using ByName = std::map<std::string, Slot, std::less<>>;

  ByName by_name_;
  // cookie -> the entry (std::map iterators stay valid until that entry is
  // erased).
  std::map<uint64_t, ByName::iterator> by_cookie_;
  uint64_t next_cookie_ = 1;
  size_t directories_ = 0;
};

}  // namespace fusekit
