#include "testing/posix/posix_suite.h"

#include <linux/magic.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace fusekit {
namespace {

// Every feature name a case may POSIX_REQUIRE. A case that needs a new one
// adds it here.
const absl::flat_hash_set<std::string>& KnownFeatures() {
  static const auto* features = new absl::flat_hash_set<std::string>{
      "hardlink",       // link(2)
      "symlink",        // symlink(2)
      "mknod",          // device nodes and fifos
      "xattr",          // user.* extended attributes
      "posix_lock",     // fcntl F_SETLK / F_GETLK / F_OFD_*
      "posix_lock_pid",  // F_GETLK reports the holding process's pid
      "flock",          // flock(2)
      "fallocate",      // fallocate(2) mode 0
      "punch_hole",     // FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
      "seek_hole",      // SEEK_DATA / SEEK_HOLE report real holes
      "rename_exchange",   // renameat2 RENAME_EXCHANGE
      "rename_noreplace",  // renameat2 RENAME_NOREPLACE
      "o_direct",       // open(O_DIRECT)
      "chown",          // changing owners (as root)
      "statfs_limit",   // a size limit statfs reports and ENOSPC enforces
      "large_file",     // files above 4 GiB (sparse)
      "atime",          // reads update atime (relatime rules)
  };
  return *features;
}

// Fills a fresh tmpfs directory; the cleanup undoes it.
struct TmpfsState {
  std::string dir;
  bool mounted = false;
};

std::string TempBase() {
  const char* tmp = ::getenv("TEST_TMPDIR");
  return tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
}

bool IsTmpfs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == TMPFS_MAGIC;
}

}  // namespace

void PosixTest::SetUp() {
  for (const auto& [feature, reason] : target().unsupported) {
    ASSERT_TRUE(KnownFeatures().contains(feature))
        << target().name << " declares unknown feature \"" << feature << "\"";
  }
  ASSERT_TRUE(target().set_up) << target().name << " has no set_up";
  absl::StatusOr<std::string> dir = target().set_up();
  if (!dir.ok()) {
    if (absl::IsUnavailable(dir.status()) || absl::IsPermissionDenied(dir.status())) {
      GTEST_SKIP() << target().name << " is unavailable here: " << dir.status().message();
    }
    FAIL() << target().name << " set-up failed: " << dir.status();
  }
  set_up_done_ = true;
  root_ = *dir;
}

void PosixTest::TearDown() {
  if (set_up_done_ && target().tear_down) target().tear_down();
}

std::string PosixTest::Path(absl::string_view relative) const {
  return absl::StrCat(root_, "/", relative);
}

std::string PosixTest::UnsupportedReason(absl::string_view feature) const {
  EXPECT_TRUE(KnownFeatures().contains(std::string(feature)))
      << "the suite asks for unknown feature \"" << feature << "\"";
  auto it = target().unsupported.find(std::string(feature));
  return it == target().unsupported.end() ? "" : it->second;
}

std::string PosixTargetName(const ::testing::TestParamInfo<const PosixTarget*>& info) {
  return info.param->name;
}

PosixTarget TmpfsTarget() {
  auto state = std::make_shared<TmpfsState>();
  PosixTarget t;
  t.name = "tmpfs";
  // As root the reference gets a tmpfs of its own with the size limit the
  // fusekit runners use, so the ENOSPC and statfs cases run on it too.
  const bool as_root = ::geteuid() == 0;
  if (as_root) t.size_limit_bytes = uint64_t{64} << 20;
  t.set_up = [state, as_root]() -> absl::StatusOr<std::string> {
    if (as_root) {
      // Under a directory every uid can reach: cases run steps as others.
      std::string dir = PosixScratchBase() + "/tmpfs.XXXXXX";
      if (::mkdtemp(dir.data()) == nullptr) {
        return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", strerror(errno)));
      }
      if (::mount("fusekit-posix", dir.c_str(), "tmpfs", 0, "mode=0777,size=64m") == 0) {
        state->dir = dir;
        state->mounted = true;
        return dir;
      }
      int err = errno;
      ::rmdir(dir.c_str());
      std::string why = absl::StrCat("mount tmpfs on ", dir, ": ", strerror(err));
      // Root without CAP_SYS_ADMIN (a container): the machine's limit.
      if (err == EPERM || err == EACCES) return absl::UnavailableError(why);
      return absl::InternalError(why);
    }
    if (!IsTmpfs("/dev/shm")) {
      return absl::UnavailableError("cannot mount tmpfs (not root) and /dev/shm is not a tmpfs");
    }
    std::string dir = "/dev/shm/fusekit-posix.XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      return absl::UnavailableError(absl::StrCat("mkdtemp ", dir, ": ", strerror(errno)));
    }
    state->dir = dir;
    state->mounted = false;
    return dir;
  };
  t.tear_down = [state] {
    if (state->dir.empty()) return;
    if (state->mounted) {
      if (::umount2(state->dir.c_str(), 0) != 0) ::umount2(state->dir.c_str(), MNT_DETACH);
    } else {
      std::string cmd = absl::StrCat("rm -rf '", state->dir, "'");
      (void)!::system(cmd.c_str());
    }
    ::rmdir(state->dir.c_str());
    state->dir.clear();
  };
  return t;
}

namespace {

// True if the id map at `path` (/proc/self/uid_map's format: inside,
// outside, count per line) maps every id in [0, 65535).
bool MapsLowIds(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (f == nullptr) return false;
  uint64_t covered = 0;  // ids [0, covered) are mapped
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  unsigned long long inside = 0, outside = 0, count = 0;
  while (std::fscanf(f, "%llu %llu %llu", &inside, &outside, &count) == 3) {
    ranges.emplace_back(inside, inside + count);
  }
  std::fclose(f);
  std::sort(ranges.begin(), ranges.end());
  for (const auto& [begin, end] : ranges) {
    if (begin > covered) break;
    covered = std::max<uint64_t>(covered, end);
  }
  return covered >= 65535;
}

}  // namespace

std::string OtherUsersUnavailableReason() {
  if (::geteuid() != 0) return "not root: cannot act as other users";
  if (!MapsLowIds("/proc/self/uid_map") || !MapsLowIds("/proc/self/gid_map")) {
    return "this user namespace (a sandbox?) does not map uids and gids 0-65534: "
           "run outside it (bazel test --strategy=TestRunner=local)";
  }
  return "";
}

std::string PosixScratchBase() {
  const std::string base = TempBase();
  for (std::string dir = base; !dir.empty(); dir = dir.substr(0, dir.rfind('/'))) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || (st.st_mode & S_IXOTH) == 0) return "/tmp";
  }
  return base;
}

}  // namespace fusekit
