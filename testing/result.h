// Result<T>: a value or the errno that prevented it, the return type of the
// fake kernel's and FsClient's calls. Like absl::StatusOr, but the error is
// a fusekit::Errno because that is what a FUSE reply carries and what a test
// asserts (`EXPECT_THAT(vfs.Stat("/x"), FailsWith(ENOENT))`, see
// testing/matchers.h).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>

#include "fuse/errno.h"

namespace fusekit {

// Holds either a T (ok() is true, error() is kOk) or a non-zero Errno.
// Reading value() of a failed Result aborts with the errno's name, as
// absl::StatusOr does: assert ok() first (ASSERT_THAT(r, IsOk())).
// A value type: thread-compatible.
template <typename T>
class Result {
 public:
  // Implicit from either side, so functions `return Errno(ENOENT);` or
  // `return value;`. An Errno of 0 is not a value: it becomes EIO, so a
  // Result never claims success without one.
  Result(T value) : value_(std::move(value)) {}  // NOLINT(runtime/explicit)
  Result(Errno error) : error_(error.ok() ? Errno(EIO) : error) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  // kOk when ok().
  Errno error() const { return error_; }

  const T& value() const& {
    CheckOk();
    return *value_;
  }
  T& value() & {
    CheckOk();
    return *value_;
  }
  T&& value() && {
    CheckOk();
    return std::move(*value_);
  }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

  // The value, or `fallback` on error.
  T value_or(T fallback) const& { return ok() ? *value_ : std::move(fallback); }

 private:
  void CheckOk() const {
    if (!value_.has_value()) {
      std::fprintf(stderr, "fusekit::Result::value() called on an error: %s\n",
                   DescribeErrno(error_).c_str());
      std::abort();
    }
  }

  Errno error_;
  std::optional<T> value_;
};

// The errno of either kind of result, for code that handles both.
inline Errno ErrnoOf(Errno e) { return e; }
template <typename T>
Errno ErrnoOf(const Result<T>& r) {
  return r.error();
}

}  // namespace fusekit
