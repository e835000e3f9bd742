// The memory half of the reliability report: memfs served by this process
// on a temporary mount, a million LOOKUPs of short-lived files (each round
// creates a distinct name, stats and unlinks it, and stats a distinct
// missing name), a kernel cache drop, and the daemon's resident memory and
// inode table before and after. Too slow for CI (a few minutes);
// examples/memfs:memfs_memory_test is the small, asserting version.
//
//   bazel run -c opt //benchmarks:memfs_memory              # as root
//   bazel run -c opt //benchmarks:memfs_memory -- --lookups=200000
//
// Prints one line per phase; exits 1 if the inode table does not return to
// the root alone or the mount fails, 2 on a bad argument.
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fuse/server.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"

namespace fusekit {
namespace {

int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

class CountingBridge : public Bridge {
 public:
  using Bridge::Bridge;
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    lookups_.fetch_add(1, std::memory_order_relaxed);
    Bridge::Lookup(std::move(reply), parent, name);
  }
  uint64_t lookups() const { return lookups_.load(); }

 private:
  std::atomic<uint64_t> lookups_{0};
};

bool DropCaches() {
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  bool ok = fd >= 0 && write(fd, "2", 1) == 1;
  if (fd >= 0) close(fd);
  return ok;
}

int Run(uint64_t lookups) {
  char dir_template[] = "/tmp/fusekit-memory.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    perror("mkdtemp");
    return 1;
  }
  Options options;
  options.server.workers = 2;
  auto root = MemDir::NewRoot(MemFsOptions());
  std::shared_ptr<MemStore> store = root->store();
  CountingBridge bridge(std::move(root), options);
  auto server = Mount(dir, &bridge, options.mount, ServerOptionsFor(options));
  if (!server.ok()) {
    fprintf(stderr, "mount: %s\n", std::string(server.status().message()).c_str());
    rmdir(dir);
    return 1;
  }
  bridge.SetNotifier(&(*server)->notifier());
  const std::string base = dir;
  int status = 0;

  auto settle = [&](absl::string_view phase) {
    if (!DropCaches()) fprintf(stderr, "drop_caches: %s (not root?)\n", strerror(errno));
    absl::Time start = absl::Now();
    while (bridge.InodeCount() != 1 && absl::Now() - start < absl::Seconds(60)) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    printf("%-28s VmRSS %7lld KiB, %zu inodes in the table (%s to settle)\n",
           std::string(phase).c_str(), static_cast<long long>(ResidentKiB()),
           bridge.InodeCount(), absl::FormatDuration(absl::Now() - start).c_str());
    return bridge.InodeCount() == 1;
  };
  auto churn = [&](uint64_t n, absl::string_view tag) {
    const uint64_t until = bridge.lookups() + n;
    for (uint64_t i = 0; bridge.lookups() < until; ++i) {
      const std::string path = absl::StrCat(base, "/", tag, i);
      int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path.c_str(), strerror(errno));
        return false;
      }
      close(fd);
      struct stat st;
      if (stat(path.c_str(), &st) != 0 || unlink(path.c_str()) != 0) {
        fprintf(stderr, "%s: %s\n", path.c_str(), strerror(errno));
        return false;
      }
      stat(absl::StrCat(base, "/", tag, "missing", i).c_str(), &st);
    }
    return true;
  };

  if (!churn(2000, "warm") || !settle("after a warm-up:")) status = 1;
  const int64_t before = ResidentKiB();
  const uint64_t first = bridge.lookups();
  absl::Time start = absl::Now();
  if (!churn(lookups, "f")) status = 1;
  const absl::Duration took = absl::Now() - start;
  printf("%-28s VmRSS %7lld KiB, %zu inodes in the table; %llu LOOKUPs in %s (%.0f/s)\n",
         "at the end of the run:", static_cast<long long>(ResidentKiB()), bridge.InodeCount(),
         static_cast<unsigned long long>(bridge.lookups() - first),
         absl::FormatDuration(took).c_str(),
         static_cast<double>(bridge.lookups() - first) / absl::ToDoubleSeconds(took));
  if (!settle("after the cache drop:")) status = 1;
  const int64_t after = ResidentKiB();
  malloc_trim(0);
  printf("%-28s VmRSS %7lld KiB\n", "after malloc_trim(0):", static_cast<long long>(ResidentKiB()));
  printf("growth over the run: %lld KiB; memfs nodes %llu, data pages %llu\n",
         static_cast<long long>(after - before), static_cast<unsigned long long>(store->inodes()),
         static_cast<unsigned long long>(store->used_pages()));

  server->reset();  // unmounts and joins the workers
  rmdir(dir);
  return status;
}

}  // namespace
}  // namespace fusekit

int main(int argc, char** argv) {
  uint64_t lookups = 1000000;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg.rfind("--lookups=", 0) != 0 || !absl::SimpleAtoi(arg.substr(10), &lookups)) {
      fprintf(stderr, "usage: memfs_memory [--lookups=N]\n");
      return 2;
    }
  }
  return fusekit::Run(lookups);
}
