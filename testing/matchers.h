// gtest printers and gmock matchers for Errno and Result<T>, so assertions
// read as the errno names a filesystem author knows:
//
//   EXPECT_THAT(vfs.Mkdir("/d", 0755), IsOk());
//   EXPECT_THAT(vfs.Stat("/missing"), FailsWith(ENOENT));
//   EXPECT_THAT(vfs.ReadFile("/f"), IsOkAndHolds("hello"));
//
// and a failure prints "ENOENT (No such file or directory)", not "2".
#pragma once

#include <ostream>
#include <string>
#include <utility>

#include "fuse/errno.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/result.h"

namespace fusekit {

// Found by argument-dependent lookup from gtest's universal printer.
inline void PrintTo(Errno e, std::ostream* os) { *os << DescribeErrno(e); }

template <typename T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r.ok()) {
    *os << "OK: " << ::testing::PrintToString(*r);
  } else {
    *os << DescribeErrno(r.error());
  }
}

// Matches a successful Errno or Result.
MATCHER(IsOk, negation ? "fails" : "succeeds") {
  Errno e = ErrnoOf(arg);
  if (!e.ok()) *result_listener << "which fails with " << DescribeErrno(e);
  return e.ok();
}

// Matches an Errno or a failed Result whose errno is `errnum` (ENOENT...).
MATCHER_P(FailsWith, errnum,
          std::string(negation ? "doesn't fail with " : "fails with ") +
              std::string(ErrnoName(Errno(errnum)))) {
  Errno e = ErrnoOf(arg);
  if (e.ok()) {
    *result_listener << "which succeeds";
  } else if (e != Errno(errnum)) {
    *result_listener << "which fails with " << DescribeErrno(e);
  }
  return e == Errno(errnum);
}

// Matches a successful Result whose value matches `matcher`.
template <typename InnerMatcher>
class IsOkAndHoldsMatcher {
 public:
  explicit IsOkAndHoldsMatcher(InnerMatcher inner) : inner_(std::move(inner)) {}

  template <typename T>
  operator ::testing::Matcher<const Result<T>&>() const {  // NOLINT(runtime/explicit)
    return ::testing::Matcher<const Result<T>&>(
        new Impl<T>(::testing::SafeMatcherCast<const T&>(inner_)));
  }

 private:
  template <typename T>
  class Impl : public ::testing::MatcherInterface<const Result<T>&> {
   public:
    explicit Impl(::testing::Matcher<const T&> inner) : inner_(std::move(inner)) {}
    void DescribeTo(std::ostream* os) const override {
      *os << "is OK and holds a value that ";
      inner_.DescribeTo(os);
    }
    void DescribeNegationTo(std::ostream* os) const override {
      *os << "fails, or holds a value that ";
      inner_.DescribeNegationTo(os);
    }
    bool MatchAndExplain(const Result<T>& r,
                         ::testing::MatchResultListener* listener) const override {
      if (!r.ok()) {
        *listener << "which fails with " << DescribeErrno(r.error());
        return false;
      }
      return inner_.MatchAndExplain(*r, listener);
    }

   private:
    ::testing::Matcher<const T&> inner_;
  };

  InnerMatcher inner_;
};

template <typename InnerMatcher>
IsOkAndHoldsMatcher<InnerMatcher> IsOkAndHolds(InnerMatcher matcher) {
  return IsOkAndHoldsMatcher<InnerMatcher>(std::move(matcher));
}

}  // namespace fusekit
