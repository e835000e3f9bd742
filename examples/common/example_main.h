// What every example binary shares: the common flags, a strict command-line
// parser (a bad flag or argument is one line on stderr and exit code 2), the
// mountpoint checks, and serving a node tree until SIGINT/SIGTERM/unmount.
//
//   int main(int argc, char** argv) {
//     std::vector<std::string> args = fusekit::examples::ParseFlags(
//         argc, argv, "hellofs MOUNTPOINT: mounts a read-only hello.txt", 1);
//     return fusekit::examples::Serve(args[0], std::make_unique<HelloRoot>(),
//                                     fusekit::examples::OptionsFromFlags("hellofs"));
//   }
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nodefs/bridge.h"

ABSL_DECLARE_FLAG(bool, debug);
ABSL_DECLARE_FLAG(bool, allow_other);
ABSL_DECLARE_FLAG(bool, read_only);
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(bool, splice);
ABSL_DECLARE_FLAG(absl::Duration, entry_timeout);
ABSL_DECLARE_FLAG(absl::Duration, attr_timeout);
ABSL_DECLARE_FLAG(std::vector<std::string>, o);

namespace fusekit::examples {

// Exit codes: 0 served and unmounted, 1 failed while serving, 2 bad usage or
// nothing mounted.
inline constexpr int kExitUsage = 2;

// Parses argv with the registered absl flags (--name=value, --name value,
// --bool / --nobool, -o a,b, and "--" ending flags). --help prints `usage`
// and the flags, then exits 0. Exactly `positional` arguments must remain
// (the first is the mountpoint); anything else exits 2 with one line saying
// what was wrong.
std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage,
                                    size_t positional);

// Like ParseFlags, but from `min_positional` to `max_positional` arguments
// may remain (rawhello: an optional MOUNTPOINT).
std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage,
                                    size_t min_positional, size_t max_positional);

// Like ParseFlags, but returns an error instead of exiting (for tests).
absl::Status ParseFlagsOrError(const std::vector<std::string>& argv, size_t positional,
                               std::vector<std::string>* args, bool* help);
absl::Status ParseFlagsOrError(const std::vector<std::string>& argv, size_t min_positional,
                               size_t max_positional, std::vector<std::string>* args,
                               bool* help);

// Options built from the common flags, with `fsname` as the source shown in
// /proc/mounts and the subtype ("fuse.<fsname>").
Options OptionsFromFlags(absl::string_view fsname);

// The mountpoint must exist and be a directory, and (if `must_be_empty`)
// hold nothing.
absl::Status CheckMountpoint(absl::string_view path, bool must_be_empty = false);

// Mounts `root` on `mountpoint` and serves it until SIGINT/SIGTERM/SIGHUP
// (which unmount) or an unmount from outside. A mount error is one line on
// stderr and returns kExitUsage with nothing mounted.
int Serve(absl::string_view mountpoint, std::unique_ptr<Node> root, const Options& options);

}  // namespace fusekit::examples
