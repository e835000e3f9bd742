// Step 1 of docs/tutorial.md: the smallest filesystem. Its root directory is
// a Node that overrides nothing; fusekit answers for it.
#include <cstdio>
#include <memory>
#include <string>

#include "nodefs/bridge.h"

class EmptyRoot : public fusekit::Node {};

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: step1 MOUNTPOINT\n");
    return 2;
  }
  fusekit::CatchTerminationSignals();  // Ctrl-C will unmount, not kill us
  auto mount = fusekit::Mount(argv[1], std::make_unique<EmptyRoot>());
  if (!mount.ok()) {
    fprintf(stderr, "step1: %s\n", std::string(mount.status().message()).c_str());
    return 2;
  }
  (*mount)->WaitForUnmountOrSignal();  // serves until Ctrl-C or umount
  return 0;
}
