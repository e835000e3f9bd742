// The POSIX conformance suite: GoogleTest cases over a directory, run
// against any mounted filesystem. fusekit runs it on memfs and loopbackfs
// mounts and on a kernel tmpfs (the reference: every case must pass there).
//
// A user runs it against their own filesystem by describing it as a
// PosixTarget and instantiating the suite:
//
//   fusekit::PosixTarget MyTarget() {
//     fusekit::PosixTarget t;
//     t.name = "myfs";
//     t.set_up = [] { ... mount, return the directory to test in ... };
//     t.tear_down = [] { ... unmount ... };
//     t.unsupported["xattr"] = "myfs keeps no extended attributes";
//     return t;
//   }
//   INSTANTIATE_POSIX_SUITE(MyFs, MyTarget());
//
// and links //testing/posix:posix_suite_all (alwayslink) with gtest_main.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"

namespace fusekit {

// A filesystem under test.
struct PosixTarget {
  // Shown in test names: letters, digits and '_' only.
  std::string name;
  // Gives a fresh, empty, writable directory for one test (typically a new
  // mount). Unavailable or PermissionDenied: the machine cannot provide it
  // and the test is SKIPPED with the message; any other error fails it.
  std::function<absl::StatusOr<std::string>()> set_up;
  // Undoes set_up (unmounts); called after every test that set_up passed,
  // even a failed one.
  std::function<void()> tear_down;
  // Features this filesystem legitimately lacks, each with the reason; the
  // cases that need one are SKIPPED with it. Feature names used by the
  // suite are listed in posix_suite.cc (kKnownFeatures); an unknown name
  // here fails the run, so a typo cannot silently skip nothing.
  absl::flat_hash_map<std::string, std::string> unsupported;
  // True when the directory is on a FUSE mount (some cases need to know,
  // for instance which errno a refused O_DIRECT gives).
  bool is_fuse = false;
  // The size limit the filesystem enforces (statfs reports it and writes
  // past it fail with ENOSPC); 0: none declared, and the cases that fill the
  // filesystem are SKIPPED. Keep it small (tens of MiB): a case fills it.
  uint64_t size_limit_bytes = 0;
};

// The fixture every case of the suite uses: TEST_P(PosixTest, Name).
class PosixTest : public ::testing::TestWithParam<const PosixTarget*> {
 protected:
  void SetUp() override;
  void TearDown() override;

  const PosixTarget& target() const { return *GetParam(); }
  // The test's directory and paths under it.
  const std::string& root() const { return root_; }
  std::string Path(absl::string_view relative) const;
  // The reason the target lacks `feature`, or "" if it has it. Fails the
  // test if `feature` is not a known feature name.
  std::string UnsupportedReason(absl::string_view feature) const;

 private:
  std::string root_;
  bool set_up_done_ = false;
};

// Skips the current test (returning from it) when the target lacks
// `feature`, quoting the target's reason.
#define POSIX_REQUIRE(feature)                                                   \
  do {                                                                           \
    std::string posix_reason_ = UnsupportedReason(feature);                      \
    if (!posix_reason_.empty()) {                                                \
      GTEST_SKIP() << target().name << " lacks " << (feature) << ": "            \
                   << posix_reason_;                                             \
    }                                                                            \
  } while (0)

// Skips the current test unless the process is root (the reason says why
// the case needs it).
#define POSIX_REQUIRE_ROOT(why)                                                  \
  do {                                                                           \
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: " << (why);               \
  } while (0)

// Why this process cannot run steps as other users, or "" if it can: it
// must be root, in a user namespace mapping every uid and gid up to 65534
// (cases switch to 65534 and 65533 and chown to small ids; Bazel's
// linux-sandbox maps root alone).
std::string OtherUsersUnavailableReason();

// Skips the current test unless the process can act as other users (see
// OtherUsersUnavailableReason).
#define POSIX_REQUIRE_OTHER_USERS(why)                                           \
  do {                                                                           \
    std::string posix_users_reason_ = ::fusekit::OtherUsersUnavailableReason(); \
    if (!posix_users_reason_.empty()) {                                          \
      GTEST_SKIP() << posix_users_reason_ << " (" << (why) << ")";              \
    }                                                                            \
  } while (0)

// Test names: "<target name>".
std::string PosixTargetName(const ::testing::TestParamInfo<const PosixTarget*>& info);

// Instantiates every case of the suite for `target_expr` (a PosixTarget,
// built once and kept for the life of the process).
// (gtest evaluates the generator once per case: one target, held by a
// function-local static so LeakSanitizer sees it reachable.)
#define INSTANTIATE_POSIX_SUITE(prefix, target_expr)                             \
  const ::fusekit::PosixTarget* prefix##PosixSuiteTarget() {                     \
    static const ::fusekit::PosixTarget* const target =                          \
        new ::fusekit::PosixTarget(target_expr);                                 \
    return target;                                                               \
  }                                                                              \
  INSTANTIATE_TEST_SUITE_P(prefix, PosixTest,                                    \
                           ::testing::Values(prefix##PosixSuiteTarget()),        \
                           ::fusekit::PosixTargetName)

// The reference target: a fresh kernel tmpfs for each test. As root, a
// 64 MiB tmpfs mounted on a temporary directory (size_limit_bytes says so,
// so the ENOSPC cases run on it); otherwise a new directory under /dev/shm
// if that is a tmpfs, with no declared limit; otherwise Unavailable.
PosixTarget TmpfsTarget();

// A directory to put targets' mount points under that every uid can reach
// (cases run steps as other users): $TEST_TMPDIR when it and each directory
// above it are searchable by all, otherwise /tmp (as root under Bazel,
// $TEST_TMPDIR is inside /root, mode 0700).
std::string PosixScratchBase();

}  // namespace fusekit
