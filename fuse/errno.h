// Errno: the result of one FUSE request, as the wire protocol carries it.
#pragma once

#include <cerrno>
#include <string>

#include "absl/strings/string_view.h"

namespace fusekit {

// A positive errno value, or 0 for success. Request handlers return it (and
// the core sends -value in fuse_out_header.error); mounting and set-up use
// absl::Status instead. A strong type so a byte count or a node id is never
// mistaken for a result.
class Errno {
 public:
  constexpr Errno() = default;
  constexpr explicit Errno(int value) : value_(value < 0 ? -value : value) {}

  // The errno of the calling thread (after a failed libc call).
  static Errno Last() { return Errno(errno); }

  constexpr bool ok() const { return value_ == 0; }
  constexpr int value() const { return value_; }

  friend constexpr bool operator==(Errno a, Errno b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(Errno a, Errno b) { return a.value_ != b.value_; }

 private:
  int value_ = 0;
};

inline constexpr Errno kOk{};

// "ENOENT" for ENOENT, "OK" for 0, "E123" for values without a name.
absl::string_view ErrnoName(int value);
inline absl::string_view ErrnoName(Errno e) { return ErrnoName(e.value()); }

// "ENOENT (No such file or directory)", for test failure messages.
std::string DescribeErrno(Errno e);

}  // namespace fusekit
