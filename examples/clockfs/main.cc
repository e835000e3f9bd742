// clockfs: live files (the time, the uptime, a directory of recent ticks)
// served with hour-long cache timeouts, kept correct by notifications.
//
//   bazel run //examples/clockfs -- MOUNTPOINT [--tick=1s] [--events=5]
//   cat MOUNTPOINT/time; sleep 1; cat MOUNTPOINT/time   # a second later
//   ls MOUNTPOINT/events                                 # the last 5 ticks
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "examples/clockfs/clock_fs.h"
#include "examples/common/example_main.h"
#include "fuse/server.h"
#include "nodefs/bridge.h"

ABSL_FLAG(absl::Duration, tick, absl::Seconds(1), "how often the files change (e.g. 1s, 250ms)");
ABSL_FLAG(int, events, 5, "how many tick files events/ keeps");

namespace {

constexpr absl::string_view kUsage =
    "clockfs [flags] MOUNTPOINT: mounts a read-only filesystem whose files change on their own:\n"
    "  time     the time of the last tick\n"
    "  uptime   seconds since the mount\n"
    "  events/  one file per recent tick (the last --events)\n"
    "The kernel may cache names and attributes for --entry_timeout/--attr_timeout (1h by\n"
    "default here, not 1s) and keeps file pages between opens; every tick tells it what\n"
    "changed (NotifyContent, NotifyEntry, NotifyDelete), so reads are never stale.";

// `bazel run` starts the binary in its runfiles tree; relative paths on the
// command line are the user's, relative to where bazel was run.
std::string UserPath(const std::string& path) {
  const char* cwd = getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || cwd == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

}  // namespace

int main(int argc, char** argv) {
  namespace ex = fusekit::examples;
  // clockfs's point is long caches; the flags may still shorten them.
  absl::SetFlag(&FLAGS_entry_timeout, absl::Hours(1));
  absl::SetFlag(&FLAGS_attr_timeout, absl::Hours(1));
  std::vector<std::string> args = ex::ParseFlags(argc, argv, kUsage, 1);
  args[0] = UserPath(args[0]);
  const absl::Duration tick = absl::GetFlag(FLAGS_tick);
  if (tick <= absl::ZeroDuration()) {
    absl::FPrintF(stderr, "clockfs: --tick must be positive, got %s\n",
                  absl::FormatDuration(tick));
    return ex::kExitUsage;
  }
  const int events = absl::GetFlag(FLAGS_events);
  if (events < 1) {
    absl::FPrintF(stderr, "clockfs: --events must be at least 1, got %d\n", events);
    return ex::kExitUsage;
  }
  if (absl::Status s = ex::CheckMountpoint(args[0]); !s.ok()) {
    absl::FPrintF(stderr, "clockfs: %s\n", s.message());
    return ex::kExitUsage;
  }

  // As examples::Serve, but the ticker must stop before the tree it ticks
  // is unmounted and freed.
  fusekit::CatchTerminationSignals();
  auto root = std::make_unique<ex::ClockRoot>(
      ex::ClockFsOptions{.events_kept = static_cast<size_t>(events)});
  ex::ClockRoot* clock_root = root.get();
  fusekit::Options options = ex::OptionsFromFlags("clockfs");
  options.mount.read_only = true;
  auto mount = fusekit::Mount(args[0], std::move(root), options);
  if (!mount.ok()) {
    absl::FPrintF(stderr, "clockfs: %s\n", mount.status().message());
    return ex::kExitUsage;
  }
  absl::FPrintF(stderr, "clockfs: serving %s, ticking every %s (Ctrl-C or umount to stop)\n",
                (*mount)->mountpoint(), absl::FormatDuration(tick));
  int signo;
  {
    ex::Ticker ticker(clock_root, tick);
    signo = (*mount)->WaitForUnmountOrSignal();
  }
  mount->reset();
  if (signo != 0) absl::FPrintF(stderr, "clockfs: signal %d: unmounted\n", signo);
  return 0;
}
