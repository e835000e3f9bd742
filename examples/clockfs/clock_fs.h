// clockfs: a filesystem whose content changes on its own, with the kernel's
// caches kept correct by notifications instead of short timeouts.
//
//   /time       the time of the last tick ("2024-05-01 12:00:03 UTC\n")
//   /uptime     whole seconds from the mount to the last tick ("42\n")
//   /events/    one file per recent tick (tick-000042 holds "tick 42 at
//               <time>\n"); the newest `events_kept` are kept
//
// Everything changes only in ClockRoot::Tick(), which a Ticker calls every
// interval from a background thread (or a test calls directly, with a
// ManualClock). The point is how the kernel learns of a change: clockfs is
// meant to be mounted with LONG entry and attribute timeouts (an hour) and
// opens files with KEEP_CACHE, so without notifications `cat time` would
// show the same second for an hour. After changing its state, Tick() sends:
//
//   - NotifyContent(0, 0) for /time and /uptime: drops their cached pages
//     and attributes (size, mtime), so the next read asks again;
//   - NotifyEntry(name) for a new event file: drops a negative dentry the
//     kernel may hold for the name;
//   - NotifyDelete(name, child) for an expired one: removes its dentry (and
//     marks the inode unlinked for processes that still have it open);
//   - NotifyContent(0, 0) for /events itself: its attributes and the cached
//     listing (the directory is opened with CACHE_DIR | KEEP_CACHE).
//
// A LOOKUP racing a tick can still install a dentry for a name the tick just
// removed (its reply is written after the tick's DELETE found nothing to
// delete). Each tick therefore sweeps the tree and sends NotifyEntry again
// for the names removed by the tick before, so such a stale name lives at
// most one tick interval.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "fuse/mutex.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit::examples {

// Where clockfs's time comes from. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
};

// absl::Now().
Clock* SystemClock();

// A clock that moves only when told (for tests). Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000)) : now_(start) {}
  absl::Time Now() override;
  void Advance(absl::Duration d);

 private:
  Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

struct ClockFsOptions {
  // Null: SystemClock(). Must outlive the filesystem.
  Clock* clock = nullptr;
  // How many event files /events keeps (at least 1).
  size_t events_kept = 5;
};

// Inode numbers (st_ino) of clockfs's files.
inline constexpr uint64_t kTimeIno = 2;
inline constexpr uint64_t kUptimeIno = 3;
inline constexpr uint64_t kEventsIno = 4;
// Event file N has st_ino kFirstEventIno + N.
inline constexpr uint64_t kFirstEventIno = 1000;

// The name of event file `tick` ("tick-000042").
std::string EventName(uint64_t tick);

class LiveFile;
class EventsDir;

// The root directory. The tree is built in OnAdd (the mount time is then
// tick 0); Tick() may be called from any thread, one call at a time or
// concurrently (calls are serialised).
class ClockRoot : public Node {
 public:
  explicit ClockRoot(ClockFsOptions options = {});

  void OnAdd(const Context& ctx) override;
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;

  // Reads the clock, updates /time and /uptime, adds the next event file,
  // drops the oldest beyond events_kept, and notifies the kernel of each
  // change. Notifications that find nothing cached (ENOENT) or no mount
  // (ENOTCONN, before mounting) are expected and ignored.
  void Tick();

  // How many ticks have run (0 after OnAdd).
  uint64_t ticks();
  // The names /events holds now, oldest first.
  std::vector<std::string> EventNames();
  // Notifications that failed with anything but ENOENT/ENOTCONN.
  uint64_t notify_errors();

 private:
  // Sends a notification's result through the error count.
  void Count(Errno e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClockFsOptions options_;
  Clock* const clock_;

  // The mount time, read by Getattr (handlers never take mu_, which Tick()
  // holds while the kernel acts on its notifications).
  Mutex start_mu_;
  absl::Time start_ ABSL_GUARDED_BY(start_mu_);

  // Serialises Tick() and guards the tick state.
  Mutex mu_ ABSL_ACQUIRED_BEFORE(start_mu_);
  uint64_t ticks_ ABSL_GUARDED_BY(mu_) = 0;
  // Set in OnAdd; the inodes are persistent.
  Inode* time_ ABSL_GUARDED_BY(mu_) = nullptr;
  Inode* uptime_ ABSL_GUARDED_BY(mu_) = nullptr;
  Inode* events_ ABSL_GUARDED_BY(mu_) = nullptr;
  // Names in /events, oldest first.
  std::deque<std::string> event_names_ ABSL_GUARDED_BY(mu_);
  // Names the previous tick removed (notified again by the next one).
  std::vector<std::string> just_removed_ ABSL_GUARDED_BY(mu_);
  uint64_t notify_errors_ ABSL_GUARDED_BY(mu_) = 0;
};

// Calls root->Tick() every `interval` on its own thread until destroyed.
// Destroy it before the tree (the mount) it ticks.
class Ticker {
 public:
  Ticker(ClockRoot* root, absl::Duration interval);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  // std::mutex rather than fusekit::Mutex for the timed wait.
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace fusekit::examples
