// FakeClock: the fake kernel's time, which moves only when a test says so.
//
// The kernel's dentry and attribute caches expire after the timeouts a
// filesystem gives in its replies. With a real clock a test of "the entry is
// cached for 1s" is either slow or flaky; with this one it is
//   clock.Advance(absl::Milliseconds(1001));
#pragma once

#include "absl/time/time.h"
#include "fuse/mutex.h"

namespace fusekit {

// A settable clock. Starts at a fixed instant so runs are reproducible.
// Thread-safe.
class FakeClock {
 public:
  FakeClock() = default;
  explicit FakeClock(absl::Time start) : now_(start) {}
  FakeClock(const FakeClock&) = delete;
  FakeClock& operator=(const FakeClock&) = delete;

  absl::Time Now() const {
    MutexLock lock(&mu_);
    return now_;
  }
  // Moves time forward; negative durations are ignored (time never runs back).
  void Advance(absl::Duration d) {
    MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) now_ += d;
  }

 private:
  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_) = absl::FromUnixSeconds(1'000'000'000);
};

}  // namespace fusekit
