// A gtest fixture for tests that run an example binary on a fresh
// mountpoint: SKIPPED (with the reason) where this machine cannot mount, and
// after each test, whatever happened in it, the mountpoint is unmounted
// (lazily if the binary left it busy) and removed. And ExpectUsageErrors,
// for the command lines a binary must refuse.
//
//   class MemfsBinaryTest : public ExampleBinaryTest {
//    protected:
//     MemfsBinaryTest() : ExampleBinaryTest("memfs") {}
//   };
//   TEST_F(MemfsBinaryTest, Serves) { ExampleProcess memfs(kBinary, {mountpoint_}); ... }
#pragma once

#include <unistd.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {

// A command line a binary must refuse, and what its one line of error says.
struct UsageErrorCase {
  std::vector<std::string> args;
  std::string says;
};

// Runs `binary` (a runfiles path) once per case and expects a usage error
// each time: exit code 2, exactly one line on stderr, holding `says`, and
// no FUSE mount left on `mountpoint`.
inline void ExpectUsageErrors(const std::string& binary, const std::vector<UsageErrorCase>& cases,
                              const std::string& mountpoint) {
  const std::string name = binary.substr(binary.find_last_of('/') + 1);
  for (const UsageErrorCase& c : cases) {
    SCOPED_TRACE(absl::StrCat(name, " ", absl::StrJoin(c.args, " ")));
    ExampleExit exit = RunExample(binary, c.args);
    EXPECT_TRUE(exit.exited) << "signal " << exit.signal
                             << (exit.timed_out ? " (timed out)" : "");
    EXPECT_EQ(exit.code, 2) << exit.stderr_text;
    EXPECT_THAT(exit.stderr_text, ::testing::HasSubstr(c.says));
    EXPECT_EQ(std::count(exit.stderr_text.begin(), exit.stderr_text.end(), '\n'), 1)
        << exit.stderr_text;
    EXPECT_FALSE(IsFuseMountPoint(mountpoint));
  }
}

class ExampleBinaryTest : public ::testing::Test {
 protected:
  // `prefix` names the temporary directory (for whoever finds one left).
  explicit ExampleBinaryTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    std::string reason = MountUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    mountpoint_ = MakeTempDir(prefix_);
    ASSERT_FALSE(mountpoint_.empty());
  }
  void TearDown() override {
    if (mountpoint_.empty()) return;
    EXPECT_TRUE(UnmountPath(mountpoint_).ok());
    ::rmdir(mountpoint_.c_str());
  }

  std::string mountpoint_;

 private:
  const std::string prefix_;
};

}  // namespace fusekit::examples
