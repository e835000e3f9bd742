#include "examples/common/example_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"

extern char** environ;

namespace fusekit::examples {
namespace {

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ExampleExit Decode(int status) {
  ExampleExit exit;
  if (WIFEXITED(status)) {
    exit.exited = true;
    exit.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    exit.signal = WTERMSIG(status);
  }
  return exit;
}

}  // namespace

std::string MakeTempDir(absl::string_view prefix) {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/", prefix, ".XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return "";
  return dir;
}

ExampleProcess::ExampleProcess(const std::string& binary, const std::vector<std::string>& args) {
  static std::atomic<int> counter{0};
  const char* tmp = getenv("TEST_TMPDIR");
  std::string base = absl::StrCat(tmp ? tmp : "/tmp", "/example.", getpid(), ".", counter++);
  stderr_path_ = base + ".stderr";
  stdout_path_ = base + ".stdout";
  std::vector<std::string> argv_strings = {binary};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) == 0) pid_ = pid;
  posix_spawn_file_actions_destroy(&actions);
}

ExampleProcess::~ExampleProcess() {
  if (pid_ > 0 && !reaped_) {
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
  unlink(stderr_path_.c_str());
  unlink(stdout_path_.c_str());
}

bool ExampleProcess::WaitForMount(const std::string& mountpoint, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (pid_ > 0 && absl::Now() < deadline) {
    if (IsFuseMountPoint(mountpoint)) {
      // The mount exists before the daemon has answered FUSE_INIT; a
      // stat(2) waits for that answer (the kernel holds every request
      // until INIT is done), so the daemon is serving when this returns.
      // Unmounting or signalling it earlier would end it mid-mount.
      struct stat st;
      return ::stat(mountpoint.c_str(), &st) == 0;
    }
    if (waitpid(pid_, &status_, WNOHANG) == pid_) {
      reaped_ = true;  // exited first; Wait() reports how
      return false;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

ExampleExit ExampleProcess::Wait(absl::Duration timeout) {
  ExampleExit exit;
  if (pid_ <= 0) {
    exit.stderr_text = "(not started)";
    return exit;
  }
  const absl::Time deadline = absl::Now() + timeout;
  int status = status_;
  bool timed_out = false;
  if (!reaped_) {
    pid_t done = 0;
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (done == 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      timed_out = true;
    }
  }
  pid_ = -1;
  exit = Decode(status);
  exit.timed_out = timed_out;
  exit.stderr_text = ReadWholeFile(stderr_path_);
  exit.stdout_text = ReadWholeFile(stdout_path_);
  return exit;
}

ExampleExit ExampleProcess::Stop(int signo, absl::Duration timeout) {
  if (pid_ > 0 && !reaped_) kill(pid_, signo);
  return Wait(timeout);
}

ExampleExit RunExample(const std::string& binary, const std::vector<std::string>& args,
                       absl::Duration timeout) {
  ExampleProcess process(binary, args);
  return process.Wait(timeout);
}

}  // namespace fusekit::examples
