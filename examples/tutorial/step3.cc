// Step 3 of docs/tutorial.md: mounts the tree of step3_fs.h.
#include <cstdio>
#include <memory>
#include <string>

#include "examples/tutorial/step3_fs.h"
#include "nodefs/bridge.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: step3 MOUNTPOINT\n");
    return 2;
  }
  fusekit::CatchTerminationSignals();
  auto mount = fusekit::Mount(argv[1], std::make_unique<tutorial::Root>());
  if (!mount.ok()) {
    fprintf(stderr, "step3: %s\n", std::string(mount.status().message()).c_str());
    return 2;
  }
  (*mount)->WaitForUnmountOrSignal();
  return 0;
}
