// The POSIX conformance suite (testing/posix) on memfs: a fresh memfs tree
// for every case, mounted as the memfs binary mounts it (MemfsOptions:
// locks to the tree, default_permissions) plus allow_other, so cases that
// run steps as another uid reach it, with a 64 MiB --size that statfs
// reports and ENOSPC enforces. SKIPPED with the reason where mounting is
// impossible.
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "examples/memfs/memfs.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"
#include "testing/posix/posix_suite.h"

namespace fusekit::examples {
namespace {

constexpr uint64_t kSizeLimit = uint64_t{64} << 20;

struct MemfsState {
  std::unique_ptr<Bridge> bridge;
  std::unique_ptr<TestMount> mount;
};

PosixTarget MemfsTarget(bool no_opendir) {
  auto state = std::make_shared<MemfsState>();
  PosixTarget t;
  t.name = no_opendir ? "memfs" : "memfs_opendir";
  t.is_fuse = true;
  t.size_limit_bytes = kSizeLimit;
  t.set_up = [state, no_opendir]() -> absl::StatusOr<std::string> {
    Options options = MemfsOptions(Options());
    options.mount.fsname = "memfs-posix";
    options.mount.allow_other = true;
    // Like the reference tmpfs (mode=0777): any uid may create in the root.
    MemFsOptions limits = MemfsLimits(kSizeLimit, 0);
    limits.root_mode = 0777;
    limits.no_opendir = no_opendir;
    state->bridge = std::make_unique<Bridge>(MemDir::NewRoot(limits), options);
    absl::StatusOr<std::unique_ptr<TestMount>> mount = TestMount::CreateIn(
        PosixScratchBase(), state->bridge.get(), options.mount, ServerOptionsFor(options));
    if (!mount.ok()) {
      state->bridge.reset();
      if (IsMountUnavailable(mount.status())) return mount.status();
      // memfs's own failure (its INIT, say), not the machine's: a failure.
      return absl::InternalError(absl::StrCat("mounting memfs: ", mount.status().ToString()));
    }
    state->mount = *std::move(mount);
    state->bridge->SetNotifier(&state->mount->server().notifier());
    return state->mount->path();
  };
  t.tear_down = [state] {
    state->mount.reset();  // unmounts, aborting the connection if need be
    if (state->bridge) state->bridge->SetNotifier(nullptr);
    state->bridge.reset();
  };
  return t;
}

INSTANTIATE_POSIX_SUITE(Fuse, MemfsTarget(true));
// memfs --no_opendir=false: directory handles, listings cached all the same.
INSTANTIATE_POSIX_SUITE(FuseOpendir, MemfsTarget(false));

}  // namespace
}  // namespace fusekit::examples
