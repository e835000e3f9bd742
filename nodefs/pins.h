// Request pins: every Inode the API hands out during a request stays alive
// until the request ends, even if another thread unlinks it meanwhile.
// Internal to nodefs.
#pragma once

#include <memory>

#include "absl/container/inlined_vector.h"

namespace fusekit {

class Inode;

// Collects pins for the request running on this thread; releases them (and
// frees what nothing else holds) when it goes out of scope.
class PinScope {
 public:
  PinScope();
  ~PinScope();
  PinScope(const PinScope&) = delete;
  PinScope& operator=(const PinScope&) = delete;

  // The current thread's scope, or null outside a request.
  static PinScope* Current();
  void Add(std::shared_ptr<Inode> inode);

 private:
  PinScope* outer_;
  // Inline: a request pins a few inodes, and must not allocate for them.
  absl::InlinedVector<std::shared_ptr<Inode>, 4> pinned_;
};

}  // namespace fusekit
