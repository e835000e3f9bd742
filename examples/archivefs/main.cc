// archivefs: an archive mounted read-only; its data is read on demand.
//
//   bazel run //examples/archivefs -- ARCHIVE MOUNTPOINT
//   ls -lR MOUNTPOINT; cat MOUNTPOINT/some/file; umount MOUNTPOINT
#include <stdlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "examples/archivefs/archive_fs.h"
#include "examples/common/example_main.h"

namespace {

constexpr absl::string_view kUsage =
    "archivefs [flags] ARCHIVE MOUNTPOINT: mounts ARCHIVE (.tar, .tar.gz/.tgz, .tar.bz2,\n"
    ".tar.xz, .zip, .cpio, .7z) read-only on MOUNTPOINT. The tree is built from the\n"
    "archive's headers at mount; file data is decompressed only when read, so large\n"
    "archives do not load into memory. Nothing in an archive changes, so the kernel may\n"
    "cache names and attributes for an hour by default (--entry_timeout, --attr_timeout).";

// `bazel run` starts the binary in its runfiles tree; relative paths on the
// command line are the user's, relative to where bazel was run.
std::string UserPath(const std::string& path) {
  const char* cwd = getenv("BUILD_WORKING_DIRECTORY");
  if (path.empty() || path[0] == '/' || cwd == nullptr) return path;
  return absl::StrCat(cwd, "/", path);
}

}  // namespace

int main(int argc, char** argv) {
  namespace ex = fusekit::examples;
  absl::SetFlag(&FLAGS_entry_timeout, absl::Hours(1));
  absl::SetFlag(&FLAGS_attr_timeout, absl::Hours(1));
  std::vector<std::string> args = ex::ParseFlags(argc, argv, kUsage, 2);
  for (std::string& arg : args) arg = UserPath(arg);
  // Everything that can fail before mounting: one line, exit 2, no mount.
  if (absl::Status s = ex::CheckMountpoint(args[1]); !s.ok()) {
    absl::FPrintF(stderr, "archivefs: %s\n", s.message());
    return ex::kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<ex::ArchiveRoot>> root = ex::OpenArchive(args[0]);
  if (!root.ok()) {
    absl::FPrintF(stderr, "archivefs: %s\n", root.status().message());
    return ex::kExitUsage;
  }
  fusekit::Options options = ex::OptionsFromFlags("archivefs");
  options.mount.read_only = true;
  return ex::Serve(args[1], std::move(*root), options);
}
