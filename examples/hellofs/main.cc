// hellofs MOUNTPOINT: serves hello.txt ("Hello, world!") until Ctrl-C,
// SIGTERM or umount.
//
//   bazel run //examples/hellofs -- /mnt/hello
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "examples/common/example_main.h"
#include "examples/hellofs/hello_fs.h"

int main(int argc, char** argv) {
  namespace ex = fusekit::examples;
  std::vector<std::string> args = ex::ParseFlags(
      argc, argv,
      "hellofs MOUNTPOINT: mounts a read-only filesystem holding hello.txt "
      "(\"Hello, world!\") on MOUNTPOINT, until Ctrl-C, SIGTERM or umount.",
      1);
  if (absl::Status s = ex::CheckMountpoint(args[0]); !s.ok()) {
    absl::FPrintF(stderr, "hellofs: %s\n", s.message());
    return ex::kExitUsage;
  }
  return ex::Serve(args[0], std::make_unique<ex::HelloRoot>(), ex::OptionsFromFlags("hellofs"));
}
