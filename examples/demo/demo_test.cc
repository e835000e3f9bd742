// The demo as the README runs it: every step behaves, exit 0, nothing left
// mounted or on disk; a SIGTERM mid-session still unmounts; bad flags exit
// 2. SKIPPED with the reason where mounting is impossible.
#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

using ::testing::HasSubstr;

constexpr char kBinary[] = "examples/demo/demo";

// The entries of `dir` (without . and ..).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    closedir(d);
  }
  return names;
}

// Runs the demo with its temporary directory under a fresh `tmp_`.
class DemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = MountUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    tmp_ = MakeTempDir("demo-tmp");
    ASSERT_FALSE(tmp_.empty());
    const char* old = getenv("TMPDIR");
    if (old != nullptr) old_tmpdir_ = old;
    setenv("TMPDIR", tmp_.c_str(), 1);  // the demo's mkdtemp goes here
  }
  void TearDown() override {
    if (tmp_.empty()) return;
    for (const std::string& name : Entries(tmp_)) {
      std::string path = tmp_ + "/" + name;
      if (IsFuseMountPoint(path)) {
        ADD_FAILURE() << "left mounted: " << path;
        (void)UnmountPath(path);
      }
      rmdir(path.c_str());
    }
    rmdir(tmp_.c_str());
    if (old_tmpdir_.empty()) {
      unsetenv("TMPDIR");
    } else {
      setenv("TMPDIR", old_tmpdir_.c_str(), 1);
    }
  }

  std::string tmp_;
  std::string old_tmpdir_;
};

TEST_F(DemoTest, EveryStepBehavesAndNothingIsLeft) {
  ExampleExit exit = RunExample(kBinary, {}, absl::Seconds(30));
  EXPECT_TRUE(exit.exited && exit.code == 0)
      << "code " << exit.code << " signal " << exit.signal << "\nstdout:\n"
      << exit.stdout_text << "\nstderr:\n"
      << exit.stderr_text;
  for (const char* line :
       {"mounted memfs (64 MiB, in memory) on ", "$ mkdir docs\n", "$ cat docs/hello.txt\n",
        "Hello from fusekit!\n", "$ ls -l docs\n", "hello.txt\n",
        "$ mv docs/hello.txt docs/greeting.txt\n", "2 links)\n",
        "symlink.txt -> docs/greeting.txt\n", "user.note=\"written by the demo\"\n", "$ df .\n",
        "memfs-demo", "unmounted ", "demo: every step behaved\n"}) {
    EXPECT_THAT(exit.stdout_text, HasSubstr(line));
  }
  EXPECT_THAT(exit.stdout_text, ::testing::Not(HasSubstr("FAILED")));
  // The temporary directory is gone, and with it any mount.
  EXPECT_THAT(Entries(tmp_), ::testing::IsEmpty());
}

TEST_F(DemoTest, SigtermMidSessionUnmounts) {
  ExampleProcess demo(kBinary, {"--step_delay=500ms"});
  ASSERT_TRUE(demo.started());
  // Its mount appears under tmp_.
  std::string mountpoint;
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (mountpoint.empty() && absl::Now() < deadline) {
    for (const std::string& name : Entries(tmp_)) {
      if (IsFuseMountPoint(tmp_ + "/" + name)) mountpoint = tmp_ + "/" + name;
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(mountpoint.empty()) << "the demo never mounted";
  absl::SleepFor(absl::Milliseconds(200));  // mid-session
  ExampleExit exit = demo.Stop(SIGTERM, absl::Seconds(15));
  EXPECT_TRUE(exit.exited) << "signal " << exit.signal;
  EXPECT_EQ(exit.code, 1) << exit.stdout_text << exit.stderr_text;
  EXPECT_THAT(exit.stdout_text, HasSubstr("demo: interrupted by signal 15; unmounted"));
  EXPECT_FALSE(IsFuseMountPoint(mountpoint));
  EXPECT_THAT(Entries(tmp_), ::testing::IsEmpty());
}

// Needs no mount: refused before mounting.
TEST(DemoArgsTest, BadArgumentsExit2WithOneLine) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--no_such_flag"}, {"/some/dir"},
                                             {"--step_delay=soon"}}) {
    ExampleExit exit = RunExample(kBinary, args);
    EXPECT_TRUE(exit.exited);
    EXPECT_EQ(exit.code, 2) << args[0];
    EXPECT_EQ(std::count(exit.stderr_text.begin(), exit.stderr_text.end(), '\n'), 1)
        << exit.stderr_text;
    EXPECT_EQ(exit.stdout_text, "");
  }
}

}  // namespace
}  // namespace fusekit::examples
