// The POSIX conformance suite (testing/posix) on loopbackfs: for every case
// a fresh kernel tmpfs (64 MiB, so statfs and ENOSPC pass through with a
// limit) is the host directory, and the loopback tree of it is mounted as
// the loopbackfs binary mounts it (LoopbackMountOptions, default_permissions,
// created files owned by the caller) plus allow_other, so cases that run
// steps as another uid reach it. Needs root (the tmpfs) and FUSE; SKIPPED
// with the reason otherwise.
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nodefs/bridge.h"
#include "nodefs/loopback_node.h"
#include "testing/mount_fixture.h"
#include "testing/posix/posix_suite.h"

namespace fusekit::examples {
namespace {

constexpr uint64_t kSizeLimit = uint64_t{64} << 20;

struct LoopbackState {
  std::string host_dir;  // the tmpfs, mounted while non-empty
  std::unique_ptr<Bridge> bridge;
  std::unique_ptr<TestMount> mount;
};

void TakeDown(LoopbackState& state) {
  state.mount.reset();  // unmounts, aborting the connection if need be
  if (state.bridge) state.bridge->SetNotifier(nullptr);
  state.bridge.reset();  // closes the tree's descriptor of the host tmpfs
  if (!state.host_dir.empty()) {
    if (::umount2(state.host_dir.c_str(), 0) != 0) ::umount2(state.host_dir.c_str(), MNT_DETACH);
    ::rmdir(state.host_dir.c_str());
    state.host_dir.clear();
  }
}

PosixTarget LoopbackfsTarget() {
  auto state = std::make_shared<LoopbackState>();
  PosixTarget t;
  t.name = "loopbackfs";
  t.is_fuse = true;
  t.size_limit_bytes = kSizeLimit;
  t.unsupported["posix_lock_pid"] =
      "POSIX locks are OFD locks on the host, which have no pid: F_GETLK reports 0";
  t.set_up = [state]() -> absl::StatusOr<std::string> {
    std::string reason = MountUnavailableReason();
    if (!reason.empty()) return absl::UnavailableError(reason);
    if (::geteuid() != 0) return absl::UnavailableError("mounting the host tmpfs needs root");
    std::string host = PosixScratchBase() + "/host.XXXXXX";
    if (::mkdtemp(host.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", host, ": ", strerror(errno)));
    }
    const std::string data = absl::StrCat("mode=0777,size=", kSizeLimit);
    if (::mount("fusekit-loopback-host", host.c_str(), "tmpfs", 0, data.c_str()) != 0) {
      int err = errno;
      ::rmdir(host.c_str());
      return absl::UnavailableError(absl::StrCat("cannot mount the host tmpfs: ", strerror(err)));
    }
    state->host_dir = host;
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host);
    if (!root.ok()) {
      TakeDown(*state);
      return root.status();
    }
    Options options = LoopbackMountOptions();
    options.mount.fsname = "loopbackfs-posix";
    options.mount.allow_other = true;
    options.mount.default_permissions = true;
    options.server.workers = 4;  // a waiting lock keeps one
    state->bridge = std::make_unique<Bridge>(*std::move(root), options);
    absl::StatusOr<std::unique_ptr<TestMount>> mount = TestMount::CreateIn(
        PosixScratchBase(), state->bridge.get(), options.mount, ServerOptionsFor(options));
    if (!mount.ok()) {
      TakeDown(*state);
      if (IsMountUnavailable(mount.status())) return mount.status();
      return absl::InternalError(
          absl::StrCat("mounting loopbackfs: ", mount.status().ToString()));
    }
    state->mount = *std::move(mount);
    state->bridge->SetNotifier(&state->mount->server().notifier());
    return state->mount->path();
  };
  t.tear_down = [state] { TakeDown(*state); };
  return t;
}

INSTANTIATE_POSIX_SUITE(Fuse, LoopbackfsTarget());

}  // namespace
}  // namespace fusekit::examples
