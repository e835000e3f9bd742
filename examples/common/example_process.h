// Testing an example binary as a user runs it: spawn it, wait for its mount,
// signal it, collect its exit status and stderr. For the *_mount_test targets
// (the binary is a `data` dependency, found relative to the runfiles
// directory, e.g. "examples/clockfs/clockfs").
//
//   ExampleProcess p("examples/clockfs/clockfs", {"--tick=100ms", dir});
//   ASSERT_TRUE(p.WaitForMount(dir));
//   ... real system calls on dir ...
//   ExampleExit exit = p.Stop(SIGTERM);
//   EXPECT_EQ(exit.code, 0) << exit.stderr_text;
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fusekit::examples {

// How a process ended.
struct ExampleExit {
  bool exited = false;   // false: killed by a signal, or timed out
  int code = -1;         // exit code when exited
  int signal = 0;        // the signal that ended it, if any
  bool timed_out = false;
  std::string stderr_text;
  std::string stdout_text;
};

// A running example binary with stdout and stderr sent to files. The
// destructor kills it (SIGKILL) if it still runs. Not thread-safe.
class ExampleProcess {
 public:
  ExampleProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ExampleProcess();
  ExampleProcess(const ExampleProcess&) = delete;
  ExampleProcess& operator=(const ExampleProcess&) = delete;

  bool started() const { return pid_ > 0; }
  // Polls /proc/self/mountinfo until a FUSE mount is on `mountpoint`, then
  // waits for it to answer (a stat(2): the daemon has finished FUSE_INIT);
  // false if the process exits first, the stat fails, or `timeout` passes.
  bool WaitForMount(const std::string& mountpoint, absl::Duration timeout = absl::Seconds(10));
  // Waits for the process to exit on its own (SIGKILL after `timeout`).
  ExampleExit Wait(absl::Duration timeout = absl::Seconds(10));
  // Sends `signo`, then Wait().
  ExampleExit Stop(int signo, absl::Duration timeout = absl::Seconds(10));

 private:
  std::string stderr_path_;
  std::string stdout_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;  // WaitForMount saw it exit; its status is in status_
  int status_ = 0;
};

// Runs `binary args...` to completion (killed after `timeout`).
ExampleExit RunExample(const std::string& binary, const std::vector<std::string>& args,
                       absl::Duration timeout = absl::Seconds(10));

// A fresh directory under $TEST_TMPDIR (or /tmp) named after `prefix`.
std::string MakeTempDir(absl::string_view prefix);

}  // namespace fusekit::examples
