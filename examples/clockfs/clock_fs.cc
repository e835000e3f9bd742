#include "examples/clockfs/clock_fs.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace fusekit::examples {
namespace {

class RealClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
};

void SetTimes(abi::fuse_attr* attr, absl::Time t) {
  timespec ts = absl::ToTimespec(t);
  attr->atime = attr->mtime = attr->ctime = static_cast<uint64_t>(ts.tv_sec);
  attr->atimensec = attr->mtimensec = attr->ctimensec = static_cast<uint32_t>(ts.tv_nsec);
}

std::string UtcText(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone());
}

// Read-only opens only; the page cache is kept across opens (KEEP_CACHE): the
// kernel asks again only after a notification dropped it.
Errno ReadOnlyOpen(uint32_t flags, OpenOut* out) {
  if ((flags & O_ACCMODE) != O_RDONLY) return Errno(EROFS);
  out->flags = abi::kOpenKeepCache;
  return kOk;
}

// Serves `text` from `offset` into the buffer fusekit lends (the text may
// change as soon as the caller's lock is dropped, so it is copied).
void CopyOut(absl::string_view text, uint64_t offset, ReadResult* out) {
  absl::string_view part = text.substr(std::min<uint64_t>(offset, text.size()));
  size_t n = std::min(part.size(), out->buffer().size());
  std::memcpy(out->buffer().data(), part.data(), n);
  out->SetSize(n);
}

}  // namespace

Clock* SystemClock() {
  static RealClock* clock = new RealClock();
  return clock;
}

absl::Time ManualClock::Now() {
  MutexLock lock(&mu_);
  return now_;
}

void ManualClock::Advance(absl::Duration d) {
  MutexLock lock(&mu_);
  now_ += d;
}

std::string EventName(uint64_t tick) { return absl::StrFormat("tick-%06d", tick); }

// /time and /uptime: text replaced by Tick().
class LiveFile : public Node {
 public:
  void Set(std::string text, absl::Time mtime) {
    MutexLock lock(&mu_);
    text_ = std::move(text);
    mtime_ = mtime;
  }
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    MutexLock lock(&mu_);
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = text_.size();
    SetTimes(&out->attr, mtime_);
    return kOk;
  }
  Errno Open(const Context&, uint32_t flags, OpenOut* out) override {
    return ReadOnlyOpen(flags, out);
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    MutexLock lock(&mu_);
    CopyOut(text_, offset, out);
    return kOk;
  }

 private:
  Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  absl::Time mtime_ ABSL_GUARDED_BY(mu_);
};

// /events/tick-N: written once, never changed.
class EventFile : public Node {
 public:
  EventFile(std::string text, absl::Time mtime) : text_(std::move(text)), mtime_(mtime) {}
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = text_.size();
    SetTimes(&out->attr, mtime_);
    return kOk;
  }
  Errno Open(const Context&, uint32_t flags, OpenOut* out) override {
    return ReadOnlyOpen(flags, out);
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    out->SetData(absl::string_view(text_).substr(std::min<uint64_t>(offset, text_.size())));
    return kOk;
  }

 private:
  const std::string text_;
  const absl::Time mtime_;
};

// /events: its children are the tree's (the default Lookup and Readdir);
// it adds the directory's times and asks the kernel to cache its listing.
class EventsDir : public Node {
 public:
  void Changed(absl::Time when, size_t entries) {
    MutexLock lock(&mu_);
    mtime_ = when;
    entries_ = entries;
  }
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    MutexLock lock(&mu_);
    out->attr.mode = S_IFDIR | 0555;
    out->attr.size = entries_;
    SetTimes(&out->attr, mtime_);
    return kOk;
  }
  Errno Opendir(const Context&, OpenOut* out) override {
    // The kernel may keep the listing between opens; Tick() drops it with
    // NotifyContent when the set of files changes.
    out->flags = abi::kOpenCacheDir | abi::kOpenKeepCache;
    return kOk;
  }

 private:
  Mutex mu_;
  absl::Time mtime_ ABSL_GUARDED_BY(mu_);
  size_t entries_ ABSL_GUARDED_BY(mu_) = 0;
};

ClockRoot::ClockRoot(ClockFsOptions options)
    : options_(options), clock_(options.clock ? options.clock : SystemClock()) {}

void ClockRoot::OnAdd(const Context&) {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  {
    MutexLock start_lock(&start_mu_);
    start_ = now;
  }
  auto time = std::make_unique<LiveFile>();
  time->Set(absl::StrCat(UtcText(now), "\n"), now);
  auto uptime = std::make_unique<LiveFile>();
  uptime->Set("0\n", now);
  auto events = std::make_unique<EventsDir>();
  events->Changed(now, 0);
  time_ = inode()->NewPersistentInode(std::move(time), {.mode = S_IFREG, .ino = kTimeIno});
  uptime_ = inode()->NewPersistentInode(std::move(uptime), {.mode = S_IFREG, .ino = kUptimeIno});
  events_ = inode()->NewPersistentInode(std::move(events), {.mode = S_IFDIR, .ino = kEventsIno});
  inode()->AddChild("time", time_, /*overwrite=*/false);
  inode()->AddChild("uptime", uptime_, /*overwrite=*/false);
  inode()->AddChild("events", events_, /*overwrite=*/false);
}

Errno ClockRoot::Getattr(const Context&, FileHandle*, AttrOut* out) {
  MutexLock lock(&start_mu_);
  out->attr.mode = S_IFDIR | 0555;
  SetTimes(&out->attr, start_);
  return kOk;
}

void ClockRoot::Count(Errno e) {
  if (!e.ok() && e != Errno(ENOENT) && e != Errno(ENOTCONN)) ++notify_errors_;
}

void ClockRoot::Tick() {
  const absl::Time now = clock_->Now();
  MutexLock lock(&mu_);
  if (time_ == nullptr) return;  // not served yet
  const uint64_t tick = ++ticks_;

  // 1. The files' new content, then the kernel drops what it cached.
  time_->node<LiveFile>()->Set(absl::StrCat(UtcText(now), "\n"), now);
  Count(time_->NotifyContent(0, 0));
  absl::Time start;
  {
    MutexLock start_lock(&start_mu_);
    start = start_;
  }
  const int64_t uptime = absl::ToInt64Seconds(now - start);
  uptime_->node<LiveFile>()->Set(absl::StrCat(std::max<int64_t>(uptime, 0), "\n"), now);
  Count(uptime_->NotifyContent(0, 0));

  // 2. The new event file.
  const std::string name = EventName(tick);
  Inode* file = events_->NewInode(
      std::make_unique<EventFile>(absl::StrCat("tick ", tick, " at ", UtcText(now), "\n"),
                                  now),
      {.mode = S_IFREG, .ino = kFirstEventIno + tick});
  events_->AddChild(name, file, /*overwrite=*/true);
  event_names_.push_back(name);
  Count(events_->NotifyEntry(name));

  // 3. Expired event files: out of the tree first (so no new LOOKUP finds
  // them), then out of the kernel's dcache. The Inode may be freed as soon
  // as it leaves the tree; hold it for the notification.
  std::vector<std::string> removed;
  const size_t keep = std::max<size_t>(options_.events_kept, 1);
  while (event_names_.size() > keep) {
    std::string old = std::move(event_names_.front());
    event_names_.pop_front();
    std::shared_ptr<Inode> child;
    if (Inode* c = events_->GetChild(old)) child = c->shared_from_this();
    events_->RmChild(old);
    Count(events_->NotifyDelete(old, child.get()));
    removed.push_back(std::move(old));
  }
  // A LOOKUP that found a child just before it was removed puts it back in
  // the tree (and its reply may reach the kernel after the DELETE above):
  // sweep such names now, and invalidate last tick's removals once more.
  const std::set<std::string> live(event_names_.begin(), event_names_.end());
  for (const auto& [child_name, child] : events_->Children()) {
    if (live.count(child_name) == 0) {
      events_->RmChild(child_name);
      Count(events_->NotifyEntry(child_name));
      removed.push_back(child_name);
    }
  }
  for (const std::string& again : just_removed_) Count(events_->NotifyEntry(again));
  just_removed_ = std::move(removed);

  // 4. The directory's attributes and cached listing.
  events_->node<EventsDir>()->Changed(now, event_names_.size());
  Count(events_->NotifyContent(0, 0));
}

uint64_t ClockRoot::ticks() {
  MutexLock lock(&mu_);
  return ticks_;
}

std::vector<std::string> ClockRoot::EventNames() {
  MutexLock lock(&mu_);
  return {event_names_.begin(), event_names_.end()};
}

uint64_t ClockRoot::notify_errors() {
  MutexLock lock(&mu_);
  return notify_errors_;
}

Ticker::Ticker(ClockRoot* root, absl::Duration interval)
    : thread_([this, root, interval] {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
          if (wake_.wait_for(lock, absl::ToChronoNanoseconds(interval), [this] { return stop_; })) {
            return;
          }
          lock.unlock();
          root->Tick();
          lock.lock();
        }
      }) {}

Ticker::~Ticker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

}  // namespace fusekit::examples
