// memfs MOUNTPOINT: a read-write in-memory filesystem that behaves like
// tmpfs (nodefs/mem_node.h has the details), until Ctrl-C, SIGTERM or umount.
//
//   bazel run //examples/memfs -- --size=64M /mnt/mem
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_format.h"
#include "examples/common/example_main.h"
#include "examples/memfs/memfs.h"

ABSL_FLAG(std::string, size, "50%",
          "the most file data it holds, like tmpfs's size=: 64M, 2G, 50% (of RAM), 0 (no "
          "limit); writes past it fail with ENOSPC");
ABSL_FLAG(bool, default_permissions, true,
          "let the kernel check every caller against files' modes and owners (memfs checks "
          "none itself: --default_permissions=false lets anyone who can reach the mount do "
          "anything; it saves a GETATTR of each directory on a path when --attr_timeout=0)");
ABSL_FLAG(bool, no_opendir, true,
          "list directories without OPENDIR/RELEASEDIR round trips (FUSE_NO_OPENDIR_SUPPORT); "
          "the kernel then caches listings until a directory changes");
ABSL_FLAG(bool, cache_listings, true,
          "with --no_opendir=false: let the kernel cache listings until a directory changes");
ABSL_FLAG(bool, posix_locks, false,
          "serve fcntl(2) record locks in memfs (what a filesystem shared between mounts "
          "needs) instead of leaving them to the kernel, which costs a FLUSH round trip at "
          "every close(2)");
ABSL_FLAG(uint64_t, inodes, 0,
          "the most files, directories and links it holds (0: one per 4 KiB of --size)");

int main(int argc, char** argv) {
  namespace ex = fusekit::examples;
  std::vector<std::string> args = ex::ParseFlags(
      argc, argv,
      "memfs MOUNTPOINT: mounts an empty read-write in-memory filesystem on MOUNTPOINT "
      "(files, directories, links, device nodes, fifos, xattrs, locks; sparse files; a size "
      "limit) until Ctrl-C, SIGTERM or umount. Its content is lost at unmount.",
      1);
  absl::StatusOr<uint64_t> size = ex::ParseByteSize(absl::GetFlag(FLAGS_size));
  if (!size.ok()) {
    absl::FPrintF(stderr, "memfs: --size: %s\n", size.status().message());
    return ex::kExitUsage;
  }
  if (absl::Status s = ex::CheckMountpoint(args[0]); !s.ok()) {
    absl::FPrintF(stderr, "memfs: %s\n", s.message());
    return ex::kExitUsage;
  }
  fusekit::MemFsOptions limits = ex::MemfsLimits(*size, absl::GetFlag(FLAGS_inodes));
  limits.no_opendir = absl::GetFlag(FLAGS_no_opendir);
  limits.cache_listings = absl::GetFlag(FLAGS_cache_listings);
  limits.posix_locks = absl::GetFlag(FLAGS_posix_locks);
  fusekit::Options options =
      ex::MemfsOptions(ex::OptionsFromFlags("memfs"), limits.posix_locks);
  options.mount.default_permissions = absl::GetFlag(FLAGS_default_permissions);
  return ex::Serve(args[0], fusekit::MemDir::NewRoot(limits), options);
}
