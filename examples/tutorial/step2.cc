// Step 2 of docs/tutorial.md: the root directory says what it is. Getattr
// fills in what stat(2) shows.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "nodefs/bridge.h"

class Root : public fusekit::Node {
 public:
  fusekit::Errno Getattr(const fusekit::Context&, fusekit::FileHandle*,
                         fusekit::AttrOut* out) override {
    out->attr.mode = S_IFDIR | 0555;  // a directory, readable by all
    out->attr.nlink = 2;
    out->attr.atime = out->attr.mtime = out->attr.ctime = absl::ToUnixSeconds(started_);
    return fusekit::kOk;
  }

 private:
  const absl::Time started_ = absl::Now();
};

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: step2 MOUNTPOINT\n");
    return 2;
  }
  fusekit::CatchTerminationSignals();
  auto mount = fusekit::Mount(argv[1], std::make_unique<Root>());
  if (!mount.ok()) {
    fprintf(stderr, "step2: %s\n", std::string(mount.status().message()).c_str());
    return 2;
  }
  (*mount)->WaitForUnmountOrSignal();
  return 0;
}
