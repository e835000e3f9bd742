#include "fuse/mount_test_util.h"

#include <sys/stat.h>

#include <atomic>
#include <thread>

#include "absl/time/clock.h"

namespace fusekit {

void StopWhileACallerStats(Server* server, const std::string& path) {
  std::atomic<bool> done{false};
  std::thread caller([&] {
    while (!done.load()) {
      struct stat st;
      if (stat(path.c_str(), &st) != 0) break;  // unmounted
    }
  });
  absl::SleepFor(absl::Milliseconds(100));
  server->Stop();
  server->Wait();
  done.store(true);
  caller.join();
}

}  // namespace fusekit
