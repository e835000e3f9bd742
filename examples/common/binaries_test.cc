// What every example binary promises on its command line, checked over all
// of them from one table: a bad flag, a bad flag value, a wrong argument
// count, a missing or non-directory mountpoint, a missing archive or source
// directory each give one line on stderr naming the problem, exit code 2,
// and no mount; --help says what it mounts; once mounted, SIGINT and
// SIGTERM unmount and exit 0, and an unmount from outside (umount) ends the
// process with exit code 0. The mount cases SKIP with the reason where
// mounting is impossible; the argument cases need no mount.
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "examples/archivefs/test_archive.h"
#include "examples/common/binary_fixture.h"
#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

using ::testing::HasSubstr;

bool WriteFile(const std::string& path, const std::string& content) {
  FILE* f = fopen(path.c_str(), "we");
  if (f == nullptr) return false;
  bool ok = fwrite(content.data(), 1, content.size(), f) == content.size();
  return fclose(f) == 0 && ok;
}

// A scratch directory with what the binaries are given: a mountpoint, a
// plain file, a source directory for loopbackfs and an archive for
// archivefs.
struct Scratch {
  Scratch() {
    base = MakeTempDir("binaries");
    mountpoint = base + "/mnt";
    plain = base + "/plain";
    source = base + "/source";
    archive = base + "/small.tar";
    ok = !base.empty() && mkdir(mountpoint.c_str(), 0755) == 0 &&
         mkdir(source.c_str(), 0755) == 0 &&
         WriteFile(plain, "not a directory\n") &&
         WriteTestArchive(archive, ArchiveFormat::kTar, {{.path = "a.txt", .content = "a\n"}})
             .ok();
  }
  ~Scratch() {
    if (base.empty()) return;
    if (IsFuseMountPoint(mountpoint)) (void)UnmountPath(mountpoint);
    unlink(plain.c_str());
    unlink(archive.c_str());
    rmdir(source.c_str());
    rmdir(mountpoint.c_str());
    rmdir(base.c_str());
  }
  bool ok = false;
  std::string base, mountpoint, plain, source, archive;
};

// One example binary: what it takes before its mountpoint, and what it
// says a missing one of those is.
struct Binary {
  std::string name;
  // Arguments before MOUNTPOINT (loopbackfs: SOURCE_DIR, archivefs: ARCHIVE).
  std::vector<std::string> (*leading)(const Scratch&);
  // Those arguments with the first one missing, and the error naming it.
  std::vector<std::string> (*missing_leading)(const Scratch&);
  std::string missing_says;
  bool mounts = true;  // demo takes no mountpoint (it makes its own)
  std::string runfile() const { return absl::StrCat("examples/", name, "/", name); }
};

std::vector<std::string> None(const Scratch&) { return {}; }

const std::vector<Binary>& Binaries() {
  static const std::vector<Binary> kBinaries = {
      {"hellofs", None},
      {"memfs", None},
      {"clockfs", None},
      {"rawhello", None},
      {"loopbackfs", [](const Scratch& s) { return std::vector<std::string>{s.source}; },
       [](const Scratch& s) { return std::vector<std::string>{s.base + "/no_source"}; },
       "no_source does not exist"},
      {"archivefs", [](const Scratch& s) { return std::vector<std::string>{s.archive}; },
       [](const Scratch& s) { return std::vector<std::string>{s.base + "/no_archive.tar"}; },
       "no_archive.tar"},
      {"demo", None, nullptr, "", /*mounts=*/false},
  };
  return kBinaries;
}

std::vector<std::string> Args(const Binary& b, const Scratch& s, std::vector<std::string> flags,
                              const std::string& mountpoint) {
  std::vector<std::string> args = std::move(flags);
  if (!b.mounts) return args;
  for (std::string& a : b.leading(s)) args.push_back(a);
  args.push_back(mountpoint);
  return args;
}

// Runs `b` expecting a usage error: exit 2, one stderr line holding
// `says`, nothing mounted.
void ExpectUsageError(const Binary& b, const Scratch& s, const std::vector<std::string>& args,
                      const std::string& says) {
  ExpectUsageErrors(b.runfile(), {{args, says}}, s.mountpoint);
}

class BinariesTest : public ::testing::TestWithParam<Binary> {
 protected:
  void SetUp() override { ASSERT_TRUE(scratch_.ok) << "cannot prepare " << scratch_.base; }
  const Binary& b() const { return GetParam(); }
  Scratch scratch_;
};

TEST_P(BinariesTest, ABadFlagExits2) {
  ExpectUsageError(b(), scratch_, Args(b(), scratch_, {"--no_such_flag"}, scratch_.mountpoint),
                   "unknown flag --no_such_flag");
  ExpectUsageError(b(), scratch_, Args(b(), scratch_, {"--threads=many"}, scratch_.mountpoint),
                   "bad value 'many' for --threads");
  ExpectUsageError(b(), scratch_,
                   Args(b(), scratch_, {"--entry_timeout=soon"}, scratch_.mountpoint),
                   "for --entry_timeout");
  ExpectUsageError(b(), scratch_, {"--attr_timeout"}, "flag --attr_timeout needs a value");
}

TEST_P(BinariesTest, TheCommonFlagsAreAccepted) {
  // --help after the common flags: they parse, then the help exits 0.
  ExampleExit exit = RunExample(
      b().runfile(), {"--debug", "--allow_other", "--read_only", "--threads=2", "--clone_fd=false",
                      "--entry_timeout=2s", "--attr_timeout=0", "-o", "noatime", "--help"});
  EXPECT_TRUE(exit.exited && exit.code == 0) << exit.stderr_text;
  EXPECT_THAT(exit.stdout_text, HasSubstr(b().name));
  for (const char* flag : {"--debug", "--allow_other", "--read_only", "--threads",
                           "--clone_fd", "--entry_timeout", "--attr_timeout", "--o"}) {
    EXPECT_THAT(exit.stdout_text, HasSubstr(flag)) << b().name;
  }
}

TEST_P(BinariesTest, AWrongArgumentCountExits2) {
  std::vector<std::string> extra = Args(b(), scratch_, {}, scratch_.mountpoint);
  extra.push_back("extra");
  extra.push_back("more");
  ExpectUsageError(b(), scratch_, extra, "expected");
  if (b().mounts && b().name != "rawhello") {  // rawhello alone runs a demo without arguments
    ExpectUsageError(b(), scratch_, {}, "expected");
  }
}

TEST_P(BinariesTest, AMissingMountpointExits2) {
  if (!b().mounts) GTEST_SKIP() << b().name << " takes no mountpoint";
  const std::string missing = scratch_.base + "/no_mountpoint";
  ExpectUsageError(b(), scratch_, Args(b(), scratch_, {}, missing),
                   "mountpoint " + missing + " does not exist");
}

TEST_P(BinariesTest, ANonDirectoryMountpointExits2) {
  if (!b().mounts) GTEST_SKIP() << b().name << " takes no mountpoint";
  ExpectUsageError(b(), scratch_, Args(b(), scratch_, {}, scratch_.plain),
                   "mountpoint " + scratch_.plain + " is not a directory");
}

TEST_P(BinariesTest, AMissingSourceExits2) {
  if (b().missing_leading == nullptr) GTEST_SKIP() << b().name << " takes no source";
  std::vector<std::string> args = b().missing_leading(scratch_);
  args.push_back(scratch_.mountpoint);
  ExpectUsageError(b(), scratch_, args, b().missing_says);
}

// Mounts `b` on the scratch mountpoint; false (with the reason recorded)
// if it never mounts.
class BinariesMountTest : public BinariesTest {
 protected:
  void SetUp() override {
    BinariesTest::SetUp();
    if (HasFatalFailure()) return;
    if (!b().mounts) GTEST_SKIP() << b().name << " takes no mountpoint";
    std::string reason = MountUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
  }
  void StartAndWaitForMount() {
    process_ = std::make_unique<ExampleProcess>(
        b().runfile(), Args(b(), scratch_, {"--threads=2"}, scratch_.mountpoint));
    ASSERT_TRUE(process_->started());
    if (!process_->WaitForMount(scratch_.mountpoint)) {
      ExampleExit exit = process_->Wait();
      FAIL() << b().name << " never mounted: " << exit.stderr_text;
    }
  }
  void ExpectCleanExit(const ExampleExit& exit) {
    EXPECT_TRUE(exit.exited && exit.code == 0)
        << b().name << ": signal " << exit.signal << (exit.timed_out ? " (timed out)" : "")
        << ", code " << exit.code << ": " << exit.stderr_text;
    EXPECT_FALSE(IsFuseMountPoint(scratch_.mountpoint));
  }
  std::unique_ptr<ExampleProcess> process_;
};

TEST_P(BinariesMountTest, SigintUnmounts) {
  StartAndWaitForMount();
  if (HasFatalFailure()) return;
  ExpectCleanExit(process_->Stop(SIGINT));
}

TEST_P(BinariesMountTest, SigtermUnmounts) {
  StartAndWaitForMount();
  if (HasFatalFailure()) return;
  ExpectCleanExit(process_->Stop(SIGTERM));
}

TEST_P(BinariesMountTest, AnUnmountFromOutsideEndsIt) {
  StartAndWaitForMount();
  if (HasFatalFailure()) return;
  ASSERT_TRUE(UnmountPath(scratch_.mountpoint).ok());
  ExpectCleanExit(process_->Wait());
}

std::string Name(const ::testing::TestParamInfo<Binary>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(All, BinariesTest, ::testing::ValuesIn(Binaries()), Name);
INSTANTIATE_TEST_SUITE_P(All, BinariesMountTest, ::testing::ValuesIn(Binaries()), Name);

}  // namespace
}  // namespace fusekit::examples
