// loopbackfs: mirrors a host directory (nodefs/loopback_node.h does the
// work; this is the command line around it).
//
//   bazel run //examples/loopbackfs -- SOURCE_DIR MOUNTPOINT [flags]
//
// Serves until Ctrl-C, SIGTERM or umount. A missing or non-directory
// SOURCE_DIR or MOUNTPOINT, a mountpoint inside the source, or a bad flag is
// one line on stderr and exit code 2, with nothing mounted.
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "examples/common/example_main.h"
#include "nodefs/loopback_node.h"

ABSL_FLAG(bool, set_owner, ::geteuid() == 0,
          "give created files the calling user's uid and gid (needs root; default: on as root)");
ABSL_FLAG(bool, default_permissions, true,
          "let the kernel check permissions against the mirrored files' modes and owners "
          "(without it, every caller acts with this daemon's rights)");

ABSL_FLAG(bool, passthrough, false,
          "FUSE passthrough: the kernel reads and writes the source files itself (Linux 6.9+, "
          "needs root; falls back to serving reads and writes where refused; turns "
          "--writeback_cache off)");

ABSL_FLAG(bool, direct_io, false,
          "open files with FOPEN_DIRECT_IO: no page cache in the kernel, so no cache pages to "
          "fill on each write(2) (faster large writes), but every read(2) a READ (excludes "
          "--passthrough)");

namespace {

constexpr char kUsage[] =
    "loopbackfs SOURCE_DIR MOUNTPOINT: mirrors the directory SOURCE_DIR on MOUNTPOINT. Every "
    "operation is passed to SOURCE_DIR through descriptors, never leaving it (symlinks are "
    "served as symlinks); inode numbers, hard links, xattrs, POSIX and flock locks, "
    "fallocate, copy_file_range and SEEK_DATA/SEEK_HOLE pass through.";

int Fail(const std::string& message) {
  absl::FPrintF(stderr, "loopbackfs: %s\n", message);
  return fusekit::examples::kExitUsage;
}

// realpath(3), or "" if it fails.
std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

// The source as /proc/mounts shows it, when it is a valid fsname.
std::string FsName(const std::string& source) {
  for (char c : source) {
    if (c == ',' || c == '\\' || c <= ' ' || c == 0x7f) return "loopbackfs";
  }
  return source;
}

// Every open file through the mount is a descriptor here: take what the
// hard limit allows.
void RaiseFileLimit() {
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args = fusekit::examples::ParseFlags(argc, argv, kUsage, 2);
  const std::string& source = args[0];
  const std::string& mountpoint = args[1];

  fusekit::LoopbackOptions loopback;
  loopback.set_owner = absl::GetFlag(FLAGS_set_owner);
  loopback.direct_io = absl::GetFlag(FLAGS_direct_io);
  if (loopback.direct_io && absl::GetFlag(FLAGS_passthrough)) {
    return Fail("--direct_io and --passthrough exclude each other");
  }
  if (loopback.set_owner && geteuid() != 0) return Fail("--set_owner needs root");
  // Created objects get exactly the mode the caller asked for (the kernel
  // applied the caller's umask); set before the root reads it.
  umask(0);
  absl::StatusOr<std::unique_ptr<fusekit::LoopbackNode>> root =
      fusekit::NewLoopbackRoot(source, loopback);
  if (!root.ok()) return Fail(std::string(root.status().message()));
  absl::Status mountpoint_ok = fusekit::examples::CheckMountpoint(mountpoint);
  if (!mountpoint_ok.ok()) return Fail(std::string(mountpoint_ok.message()));
  // Serving a directory inside itself would have the daemon wait on its
  // own mount. Mounting over the source itself is fine (the root was
  // opened first).
  std::string real_source = RealPath(source), real_mountpoint = RealPath(mountpoint);
  std::string inside = real_source == "/" ? real_source : real_source + "/";
  if (!real_source.empty() && real_mountpoint != real_source &&
      absl::StartsWith(real_mountpoint, inside)) {
    return Fail(absl::StrCat("mountpoint ", mountpoint, " is inside the source directory ",
                             source));
  }
  RaiseFileLimit();

  fusekit::Options options = fusekit::examples::OptionsFromFlags("loopbackfs");
  options.mount.fsname = FsName(real_source.empty() ? source : real_source);
  options.mount.default_permissions = absl::GetFlag(FLAGS_default_permissions);
  options.passthrough = absl::GetFlag(FLAGS_passthrough);
  // WRITE data spliced from the kernel's pipe into the host files. Only
  // here: a filesystem that keeps data in memory would only read it out of
  // the pipe again, after a system call more per request.
  // LoopbackMountOptions turns it off again for --direct_io (finding 13 in
  // docs/PERFORMANCE.md).
  options.server.splice_read = absl::GetFlag(FLAGS_splice);
  options = fusekit::LoopbackMountOptions(std::move(options), loopback);
  // A waiting lock (F_SETLKW, flock) keeps a worker: never serve with one.
  if (options.server.workers == 1) options.server.workers = 2;
  return fusekit::examples::Serve(mountpoint, *std::move(root), options);
}
