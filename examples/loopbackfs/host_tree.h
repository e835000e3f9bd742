// HostTree: the host side of a loopback test. A fresh directory under
// $TEST_TMPDIR holding `src/` (what the loopback mirrors) and `outside/`
// (what it must never reach), removed again, whatever it holds, at the end;
// plus plain system calls on host paths for checking what the mount did.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fusekit::examples {

// Not thread-safe (one owner); the helpers below are plain system calls.
class HostTree {
 public:
  HostTree();
  ~HostTree();
  HostTree(const HostTree&) = delete;
  HostTree& operator=(const HostTree&) = delete;

  bool ok() const { return !base_.empty(); }
  const std::string& base() const { return base_; }
  // base()/src and base()/outside, or a path below them.
  std::string src(absl::string_view relative = "") const;
  std::string outside(absl::string_view relative = "") const;

 private:
  std::string base_;
};

// The content of a host file ("" if unreadable).
std::string ReadHostFile(const std::string& path);
// Creates or truncates a host file with `content`; false on error.
bool WriteHostFile(const std::string& path, absl::string_view content, mode_t mode = 0644);
// lstat(2); st_ino 0 if it fails.
struct stat HostLstat(const std::string& path);
bool HostExists(const std::string& path);
// The names in a host directory, sorted, without "." and "..".
std::vector<std::string> HostList(const std::string& path);
// Removes `path` and everything below it (never following symlinks).
void RemoveHostTree(const std::string& path);

}  // namespace fusekit::examples
