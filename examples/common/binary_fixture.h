// A gtest fixture for tests that run an example binary on a fresh
// mountpoint: SKIPPED (with the reason) where this machine cannot mount, and
// after each test, whatever happened in it, the mountpoint is unmounted
// (lazily if the binary left it busy) and removed.
//
//   class MemfsBinaryTest : public ExampleBinaryTest {
//    protected:
//     MemfsBinaryTest() : ExampleBinaryTest("memfs") {}
//   };
//   TEST_F(MemfsBinaryTest, Serves) { ExampleProcess memfs(kBinary, {mountpoint_}); ... }
#pragma once

#include <unistd.h>

#include <string>
#include <utility>

#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gtest/gtest.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {

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
