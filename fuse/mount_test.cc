#include "fuse/mount.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "fuse/mount_options.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using ::testing::HasSubstr;

// ---------------------------------------------------------------------------
// ParseMountOptions.

struct GoodCase {
  std::string name;
  MountOptions options;
  unsigned long flags;
  std::string fs_type;
  std::string source;
  std::string kernel_data;
  std::string fusermount_options;
};

MountOptions Raw(std::vector<std::string> raw) {
  MountOptions o;
  o.raw_options = std::move(raw);
  return o;
}

constexpr unsigned long kDefault = MS_NOSUID | MS_NODEV;

std::vector<GoodCase> GoodCases() {
  std::vector<GoodCase> cases;
  cases.push_back({"defaults", MountOptions(), kDefault, "fuse", "fusekit", "",
                   "fsname=fusekit"});
  {
    MountOptions o;
    o.fsname = "src";
    o.subtype = "sub";
    o.allow_other = true;
    o.default_permissions = true;
    o.read_only = true;
    o.max_read = 65536;
    cases.push_back({"fields", o, kDefault | MS_RDONLY, "fuse.sub", "src",
                     "allow_other,default_permissions,max_read=65536",
                     "fsname=src,subtype=sub,allow_other,default_permissions,"
                     "max_read=65536,ro"});
  }
  cases.push_back(
      {"raw_fuse_options",
       Raw({"allow_other,default_permissions,max_read=4096"}), kDefault, "fuse",
       "fusekit", "allow_other,default_permissions,max_read=4096",
       "fsname=fusekit,allow_other,default_permissions,max_read=4096"});
  cases.push_back({"raw_names", Raw({"fsname=a=b:/c", "subtype=x.y-z_1+2"}),
                   kDefault, "fuse.x.y-z_1+2", "a=b:/c", "",
                   "fsname=a=b:/c,subtype=x.y-z_1+2"});
  cases.push_back({"flags", Raw({"ro,noexec,sync,dirsync,noatime"}),
                   kDefault | MS_RDONLY | MS_NOEXEC | MS_SYNCHRONOUS |
                       MS_DIRSYNC | MS_NOATIME,
                   "fuse", "fusekit", "",
                   "fsname=fusekit,ro,noexec,sync,dirsync,noatime"});
  cases.push_back({"later_wins", Raw({"ro,rw"}), kDefault, "fuse", "fusekit",
                   "", "fsname=fusekit"});
  {
    MountOptions o = Raw({"rw"});
    o.read_only = true;
    cases.push_back({"raw_overrides_field", o, kDefault, "fuse", "fusekit", "",
                     "fsname=fusekit"});
  }
  {
    MountOptions o = Raw({"max_read=0"});
    o.max_read = 4096;
    cases.push_back({"max_read_0_is_default", o, kDefault, "fuse", "fusekit",
                     "", "fsname=fusekit"});
  }
  cases.push_back({"suid_dev", Raw({"suid", "dev"}), 0, "fuse", "fusekit", "",
                   "fsname=fusekit,suid,dev"});
  cases.push_back({"negations_restore_defaults",
                   Raw({"ro,noexec,sync,rw,exec,async,suid,nosuid,dev,nodev"}),
                   kDefault, "fuse", "fusekit", "", "fsname=fusekit"});
  cases.push_back({"relatime_replaces_noatime", Raw({"noatime,relatime"}),
                   kDefault | MS_RELATIME, "fuse", "fusekit", "",
                   "fsname=fusekit"});
  cases.push_back({"noatime_replaces_relatime", Raw({"relatime,noatime"}),
                   kDefault | MS_NOATIME, "fuse", "fusekit", "",
                   "fsname=fusekit,noatime"});
  cases.push_back({"atime_clears_noatime", Raw({"noatime,atime"}), kDefault,
                   "fuse", "fusekit", "", "fsname=fusekit"});
  cases.push_back({"max_read_max", Raw({"max_read=4294967295"}), kDefault,
                   "fuse", "fusekit", "max_read=4294967295",
                   "fsname=fusekit,max_read=4294967295"});
  return cases;
}

TEST(ParseMountOptionsTest, GoodOptions) {
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ParsedMountOptions> parsed = ParseMountOptions(c.options);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->mount_flags, c.flags);
    EXPECT_EQ(parsed->fs_type, c.fs_type);
    EXPECT_EQ(parsed->source, c.source);
    EXPECT_EQ(parsed->kernel_data, c.kernel_data);
    EXPECT_EQ(parsed->fusermount_options, c.fusermount_options);
  }
}

TEST(ParseMountOptionsTest, ParsedFieldsFollowOptions) {
  absl::StatusOr<ParsedMountOptions> parsed = ParseMountOptions(
      Raw({"allow_other", "default_permissions,max_read=8192,subtype=s"}));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->allow_other);
  EXPECT_TRUE(parsed->default_permissions);
  EXPECT_EQ(parsed->max_read, 8192u);
  EXPECT_EQ(parsed->subtype, "s");
}

struct BadCase {
  std::string name;
  MountOptions options;
  std::string message;  // a substring of the error
};

MountOptions Fsname(std::string fsname) {
  MountOptions o;
  o.fsname = std::move(fsname);
  return o;
}

MountOptions Subtype(std::string subtype) {
  MountOptions o;
  o.subtype = std::move(subtype);
  return o;
}

MountOptions ReadAhead(uint32_t kib) {
  MountOptions o;
  o.read_ahead_kb = kib;
  return o;
}

std::vector<BadCase> BadCases() {
  return {
      {"unknown", Raw({"ro,bogus"}), "unknown mount option \"bogus\""},
      {"read_ahead_too_big", ReadAhead((1u << 20) + 1),
       "read_ahead_kb 1048577 is over the limit of 1048576"},
      {"unknown_with_value", Raw({"bogus=1"}),
       "unknown mount option \"bogus=1\""},
      {"empty_string", Raw({""}), "empty mount option in \"\""},
      {"empty_between", Raw({"ro,,rw"}), "empty mount option in \"ro,,rw\""},
      {"empty_trailing", Raw({"ro,"}), "empty mount option in \"ro,\""},
      {"empty_leading", Raw({",ro"}), "empty mount option"},
      {"flag_with_value", Raw({"ro=1"}),
       "mount option \"ro=1\" takes no value"},
      {"flag_with_empty_value", Raw({"nodev="}), "\"nodev=\" takes no value"},
      {"allow_other_with_value", Raw({"allow_other=yes"}), "takes no value"},
      {"fsname_without_value", Raw({"fsname"}),
       "mount option \"fsname\" needs a value (fsname=...)"},
      {"fsname_empty", Raw({"fsname="}), "\"fsname=\" needs a value"},
      {"subtype_empty", Raw({"subtype="}), "\"subtype=\" needs a value"},
      {"max_read_missing", Raw({"max_read"}), "\"max_read\" needs a value"},
      {"max_read_text", Raw({"max_read=abc"}),
       "\"max_read=abc\": value is not an unsigned 32-bit integer"},
      {"max_read_negative", Raw({"max_read=-1"}), "\"max_read=-1\""},
      {"max_read_plus", Raw({"max_read=+5"}), "\"max_read=+5\""},
      {"max_read_too_big", Raw({"max_read=4294967296"}), "not an unsigned"},
      {"max_read_hex", Raw({"max_read=0x10"}), "not an unsigned"},
      {"fd", Raw({"fd=3"}), "\"fd=3\" is set by fusekit itself"},
      {"rootmode", Raw({"rootmode=40000"}), "set by fusekit itself"},
      {"user_id", Raw({"user_id=0"}), "set by fusekit itself"},
      {"group_id", Raw({"group_id=0"}), "set by fusekit itself"},
      {"blksize", Raw({"blksize=4096"}),
       "\"blksize=4096\" applies only to fuseblk"},
      {"allow_root", Raw({"allow_root"}), "\"allow_root\" is not supported"},
      {"comma_in_raw_value_splits", Raw({"fsname=a,b"}),
       "unknown mount option \"b\""},
      {"fsname_comma", Fsname("a,b"), "fsname \"a,b\" contains ','"},
      {"fsname_backslash", Fsname("a\\b"), "contains '\\'"},
      {"fsname_space", Fsname("a b"), "contains whitespace"},
      {"fsname_tab", Fsname("a\tb"), "contains whitespace"},
      {"fsname_newline_raw", Raw({"fsname=a\nb"}), "contains whitespace"},
      {"fsname_empty_field", Fsname(""), "fsname must not be empty"},
      {"subtype_equals", Subtype("a=b"), "subtype \"a=b\" may only hold"},
      {"subtype_space", Subtype("a b"), "may only hold"},
      {"subtype_comma", Subtype("a,b"), "may only hold"},
      {"subtype_slash_raw", Raw({"subtype=a/b"}),
       "subtype \"a/b\" may only hold"},
  };
}

TEST(ParseMountOptionsTest, BadOptions) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ParsedMountOptions> parsed = ParseMountOptions(c.options);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
  }
}

// ---------------------------------------------------------------------------
// ParseMountInfo.

TEST(ParseMountInfoTest, ParsesFieldsAndEscapes) {
  const std::vector<MountInfoEntry> entries = ParseMountInfo(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "garbage line\n"
      "90 27 0:55 / /tmp/with\\040space rw,nosuid,nodev shared:5 master:1 - "
      "fuse.mine my\\134src rw,user_id=0,group_id=0,allow_other\n"
      "91 27 0:56 / /x rw - fuse\n"  // no source: skipped
      "92 90 0:57 / /tmp/with\\040space ro - fuseblk dev\n");
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].fs_type, "proc");
  const MountInfoEntry& e = entries[1];
  EXPECT_EQ(e.mount_id, 90);
  EXPECT_EQ(e.parent_id, 27);
  EXPECT_EQ(e.device, "0:55");
  EXPECT_EQ(e.root, "/");
  EXPECT_EQ(e.mount_point, "/tmp/with space");
  EXPECT_EQ(e.mount_options, "rw,nosuid,nodev");
  EXPECT_EQ(e.fs_type, "fuse.mine");
  EXPECT_EQ(e.source, "my\\src");
  EXPECT_EQ(e.super_options, "rw,user_id=0,group_id=0,allow_other");
  EXPECT_EQ(entries[2].super_options, "");
  EXPECT_EQ(entries[2].fs_type, "fuseblk");
}

// ---------------------------------------------------------------------------
// Helpers for tests that touch the filesystem.

std::string MakeTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base != nullptr && *base ? base : "/tmp",
                                  "/mount_test.XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << tmpl << "): " << strerror(errno);
    return "";
  }
  return tmpl;
}

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? buf : "";
}

// The FUSE entry of /proc/self/mountinfo at `mountpoint`, if any.
std::optional<MountInfoEntry> FuseEntryAt(const std::string& mountpoint) {
  absl::StatusOr<std::vector<MountInfoEntry>> entries = ReadMountInfo();
  if (!entries.ok()) return std::nullopt;
  std::optional<MountInfoEntry> found;
  for (const MountInfoEntry& e : *entries) {
    if (e.mount_point == mountpoint && absl::StartsWith(e.fs_type, "fuse")) {
      found = e;
    }
  }
  return found;
}

std::vector<std::string> SplitOptions(const std::string& options) {
  return absl::StrSplit(options, ',');
}

// A fresh directory tree per test: root_/mnt is the mount point. Tests never
// stat anything in a live mount (nothing answers FUSE_INIT), only read
// /proc/self/mountinfo; TearDown unmounts whatever a failed test left.
class MountFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = MakeTempDir();
    ASSERT_FALSE(root_.empty());
    dir_ = root_ + "/mnt";
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0) << strerror(errno);
    canonical_dir_ = RealPath(dir_);
    ASSERT_FALSE(canonical_dir_.empty());
  }

  void TearDown() override {
    if (IsFuseMountPoint(canonical_dir_)) {
      ADD_FAILURE() << canonical_dir_ << " was left mounted";
      EXPECT_TRUE(UnmountPath(canonical_dir_).ok());
    }
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
    EXPECT_FALSE(ec) << "removing " << root_ << ": " << ec.message();
  }

  std::string root_;
  std::string dir_;
  std::string canonical_dir_;
};

// ---------------------------------------------------------------------------
// Validation before mounting: none of these needs root or mounts anything.

using ValidationTest = MountFixture;

TEST_F(ValidationTest, MissingMountpoint) {
  const std::string missing = root_ + "/nope";
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(missing, MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(m.status().message(),
            absl::StrCat("mountpoint ", missing, " does not exist"));
}

TEST_F(ValidationTest, MissingParent) {
  const std::string missing = root_ + "/nope/deeper";
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(missing, MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(m.status().message(), HasSubstr("does not exist"));
}

TEST_F(ValidationTest, RegularFile) {
  const std::string file = root_ + "/file";
  const int fd = open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(file, MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(m.status().message(),
            absl::StrCat("mountpoint ", file, " is not a directory"));

  // A path through the file.
  m = KernelMount::Create(file + "/sub", MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(m.status().message(), HasSubstr("is not a directory"));
}

TEST_F(ValidationTest, SymlinkToFileIsNotADirectory) {
  const std::string file = root_ + "/file";
  close(open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  const std::string link = root_ + "/link";
  ASSERT_EQ(symlink("file", link.c_str()), 0);
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(link, MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ValidationTest, SymlinkLoop) {
  const std::string link = root_ + "/loop";
  ASSERT_EQ(symlink("loop", link.c_str()), 0);
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(link, MountOptions());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(m.status().message(), HasSubstr("symbolic links"));
}

TEST_F(ValidationTest, EmptyPath) {
  EXPECT_EQ(KernelMount::Create("", MountOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ValidationTest, BadOptionsComeFirst) {
  absl::StatusOr<std::unique_ptr<KernelMount>> m =
      KernelMount::Create(root_ + "/nope", Raw({"bogus"}));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("bogus"));
}

TEST_F(ValidationTest, DevFuseAbsent) {
  for (bool force : {false, true}) {
    MountOptions o;
    o.dev_fuse_path = "/nonexistent/fuse";
    o.force_fusermount = force;
    absl::StatusOr<std::unique_ptr<KernelMount>> m =
        KernelMount::Create(dir_, o);
    EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(m.status().message(),
                HasSubstr("/nonexistent/fuse is absent: load the fuse module"));
  }
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
}

TEST_F(ValidationTest, DevFuseNotACharacterDevice) {
  MountOptions o;
  o.dev_fuse_path = root_;  // a directory
  absl::StatusOr<std::unique_ptr<KernelMount>> m = KernelMount::Create(dir_, o);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(m.status().message(), HasSubstr("is not a character device"));
}

TEST_F(ValidationTest, FusermountMissing) {
  const char* old = getenv("PATH");
  const std::string saved = old != nullptr ? old : "";
  ASSERT_EQ(setenv("PATH", "/nonexistent", 1), 0);
  MountOptions o;
  o.force_fusermount = true;
  o.dev_fuse_path = "/dev/null";  // any character device passes the check
  absl::StatusOr<std::unique_ptr<KernelMount>> m = KernelMount::Create(dir_, o);
  if (old != nullptr) {
    setenv("PATH", saved.c_str(), 1);
  } else {
    unsetenv("PATH");
  }
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(m.status().message(),
              HasSubstr("fusermount3 is not installed (not found in "
                        "PATH=/nonexistent)"));
}

TEST_F(ValidationTest, NotMountedQueries) {
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
  EXPECT_FALSE(IsFuseMountPoint(root_ + "/nope"));
  EXPECT_TRUE(UnmountPath(dir_).ok());
  EXPECT_TRUE(UnmountPath(root_ + "/nope").ok());
}

// ---------------------------------------------------------------------------
// Real mounts, both ways: parameter true forces fusermount3.

class RealMountTest : public MountFixture,
                      public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "not root";
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
    MountFixture::SetUp();
  }

  MountOptions Options() const {
    MountOptions o;
    o.force_fusermount = GetParam();
    return o;
  }
};

// Create(), skipping the test where mounting is not possible here: no
// permission (a container without CAP_SYS_ADMIN), or no fusermount3 for the
// forced case.
#define MOUNT_OR_SKIP(var, path, options)                                   \
  absl::StatusOr<std::unique_ptr<KernelMount>> var##_or =                   \
      KernelMount::Create(path, options);                                   \
  if (var##_or.status().code() == absl::StatusCode::kPermissionDenied ||    \
      absl::StrContains(var##_or.status().message(), "is not installed")) { \
    GTEST_SKIP() << var##_or.status();                                      \
  }                                                                         \
  ASSERT_TRUE(var##_or.ok()) << var##_or.status();                          \
  std::unique_ptr<KernelMount> var = *std::move(var##_or)

TEST_P(RealMountTest, MountsAndUnmounts) {
  MountOptions o = Options();
  o.fsname = "fusekit-test";
  o.subtype = "mounttest";
  o.allow_other = true;
  o.default_permissions = true;
  o.max_read = 65536;
  MOUNT_OR_SKIP(mount, dir_, o);
  EXPECT_EQ(mount->via_fusermount(), GetParam());
  EXPECT_EQ(mount->mountpoint(), canonical_dir_);
  ASSERT_GE(mount->fd(), 0);
  EXPECT_NE(fcntl(mount->fd(), F_GETFD) & FD_CLOEXEC, 0);

  EXPECT_TRUE(IsFuseMountPoint(canonical_dir_));
  std::optional<MountInfoEntry> entry = FuseEntryAt(canonical_dir_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->fs_type, "fuse.mounttest");
  EXPECT_EQ(entry->source, "fusekit-test");
  EXPECT_THAT(SplitOptions(entry->mount_options),
              ::testing::IsSupersetOf({"rw", "nosuid", "nodev"}));
  EXPECT_THAT(
      SplitOptions(entry->super_options),
      ::testing::IsSupersetOf({"user_id=0", "group_id=0", "allow_other",
                               "default_permissions", "max_read=65536"}));

  EXPECT_TRUE(mount->Unmount().ok());
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
  EXPECT_TRUE(mount->Unmount().ok()) << "idempotent";
  // The server's reads now fail: the connection is gone. (Non-blocking, so
  // that a regression fails here instead of hanging.)
  ASSERT_EQ(fcntl(mount->fd(), F_SETFL, O_NONBLOCK), 0);
  char buf[8192];
  errno = 0;
  EXPECT_EQ(read(mount->fd(), buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, ENODEV);
}

// read_ahead_kb lands in the mount's own backing device info (the kernel's
// 128 KiB default otherwise), and a later mount starts from the default.
TEST_P(RealMountTest, ReadAheadReachesTheMountsDeviceInfo) {
  auto read_ahead_of = [&]() -> std::string {
    std::optional<MountInfoEntry> entry = FuseEntryAt(canonical_dir_);
    if (!entry.has_value()) return "no mount";
    std::ifstream in(absl::StrCat("/sys/class/bdi/", entry->device, "/read_ahead_kb"));
    std::string text;
    if (!(in >> text)) return "unreadable";
    return text;
  };
  MountOptions o = Options();
  o.read_ahead_kb = 1024;
  {
    absl::StatusOr<std::unique_ptr<KernelMount>> sandboxed = KernelMount::Create(dir_, o);
    if (absl::StrContains(sandboxed.status().message(), "read-only")) {
      EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));  // the failed mount is gone
      GTEST_SKIP() << sandboxed.status();
    }
    sandboxed = absl::StatusOr<std::unique_ptr<KernelMount>>();  // unmounts
    MOUNT_OR_SKIP(mount, dir_, o);
    EXPECT_EQ(read_ahead_of(), "1024");
    EXPECT_TRUE(mount->Unmount().ok());
  }
  MOUNT_OR_SKIP(plain, dir_, Options());
  EXPECT_EQ(read_ahead_of(), "128");
  EXPECT_TRUE(plain->Unmount().ok());
}

TEST_P(RealMountTest, FlagsReachTheMount) {
  MountOptions o = Options();
  o.raw_options = {"ro,noexec", "noatime,dirsync"};
  MOUNT_OR_SKIP(mount, dir_, o);
  std::optional<MountInfoEntry> entry = FuseEntryAt(canonical_dir_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->fs_type, "fuse");
  EXPECT_EQ(entry->source, "fusekit");
  EXPECT_THAT(
      SplitOptions(entry->mount_options),
      ::testing::IsSupersetOf({"ro", "nosuid", "nodev", "noexec", "noatime"}));
  EXPECT_TRUE(mount->Unmount().ok());
}

TEST_P(RealMountTest, SuidDevSyncReachTheMount) {
  MountOptions o = Options();
  o.raw_options = {"suid,dev,sync"};
  MOUNT_OR_SKIP(mount, dir_, o);
  std::optional<MountInfoEntry> entry = FuseEntryAt(canonical_dir_);
  ASSERT_TRUE(entry.has_value());
  EXPECT_THAT(SplitOptions(entry->mount_options),
              ::testing::Not(::testing::Contains("nosuid")));
  EXPECT_THAT(SplitOptions(entry->mount_options),
              ::testing::Not(::testing::Contains("nodev")));
  EXPECT_THAT(SplitOptions(entry->super_options), ::testing::Contains("sync"));
  EXPECT_TRUE(mount->Unmount().ok());
}

TEST_P(RealMountTest, PathWithSpaceAndSymlink) {
  const std::string spaced = root_ + "/with space";
  ASSERT_EQ(mkdir(spaced.c_str(), 0755), 0);
  const std::string link = root_ + "/link";
  ASSERT_EQ(symlink("with space", link.c_str()), 0);
  MOUNT_OR_SKIP(mount, link + "/", Options());
  EXPECT_EQ(mount->mountpoint(), RealPath(spaced));
  EXPECT_TRUE(IsFuseMountPoint(mount->mountpoint()));
  EXPECT_TRUE(mount->Unmount().ok());
  EXPECT_FALSE(IsFuseMountPoint(mount->mountpoint()));
}

TEST_P(RealMountTest, AlreadyMounted) {
  MOUNT_OR_SKIP(mount, dir_, Options());
  const std::string link = root_ + "/link";
  ASSERT_EQ(symlink("mnt", link.c_str()), 0);
  // None of these may stat the mount point: nothing answers FUSE_INIT, so a
  // stat would hang rather than fail.
  for (const std::string& path :
       {dir_, dir_ + "/", root_ + "/./mnt",
        root_ + "/../" + std::filesystem::path(root_).filename().string() +
            "/mnt",
        link}) {
    SCOPED_TRACE(path);
    absl::StatusOr<std::unique_ptr<KernelMount>> again =
        KernelMount::Create(path, Options());
    EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_EQ(again.status().message(),
              absl::StrCat("mountpoint ", path, " is already a FUSE mount"));
  }
  EXPECT_TRUE(mount->Unmount().ok());
}

TEST_P(RealMountTest, UnmountAfterOutsideUnmountIsOk) {
  MOUNT_OR_SKIP(mount, dir_, Options());
  ASSERT_EQ(umount2(canonical_dir_.c_str(), MNT_DETACH), 0) << strerror(errno);
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
  EXPECT_TRUE(mount->Unmount().ok());
}

TEST_P(RealMountTest, UnmountLeavesALaterMountAlone) {
  MOUNT_OR_SKIP(first, dir_, Options());
  ASSERT_EQ(umount2(canonical_dir_.c_str(), MNT_DETACH), 0) << strerror(errno);
  MOUNT_OR_SKIP(second, dir_, Options());
  EXPECT_TRUE(first->Unmount().ok());
  EXPECT_TRUE(IsFuseMountPoint(canonical_dir_)) << "second mount was removed";
  first.reset();
  EXPECT_TRUE(IsFuseMountPoint(canonical_dir_)) << "second mount was removed";
  EXPECT_TRUE(second->Unmount().ok());
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
}

TEST_P(RealMountTest, DestructorUnmounts) {
  {
    MOUNT_OR_SKIP(mount, dir_, Options());
    EXPECT_TRUE(IsFuseMountPoint(canonical_dir_));
  }
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
}

TEST_P(RealMountTest, ConcurrentUnmounts) {
  MOUNT_OR_SKIP(mount, dir_, Options());
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(8);
  for (absl::Status& result : results) {
    threads.emplace_back([&mount, &result] { result = mount->Unmount(); });
  }
  for (std::thread& t : threads) t.join();
  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
}

TEST_P(RealMountTest, UnmountPathRemovesAnyonesMount) {
  MOUNT_OR_SKIP(mount, dir_, Options());
  EXPECT_TRUE(UnmountPath(dir_).ok());
  EXPECT_FALSE(IsFuseMountPoint(canonical_dir_));
  EXPECT_TRUE(mount->Unmount().ok()) << "already gone from outside: OK";
  EXPECT_TRUE(UnmountPath(dir_).ok()) << "nothing mounted: still OK";
}

TEST_P(RealMountTest, NoChildLeftBehind) {
  MOUNT_OR_SKIP(mount, dir_, Options());
  EXPECT_TRUE(mount->Unmount().ok());
  errno = 0;
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

INSTANTIATE_TEST_SUITE_P(Paths, RealMountTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Fusermount" : "Direct";
                         });

}  // namespace
}  // namespace fusekit
