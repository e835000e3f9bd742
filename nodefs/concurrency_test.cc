// The node tree under concurrent requests: several "processes" (FakeVfs
// instances) create, write, read, rename, link, unlink, list and stat in a
// few shared directories of an in-memory tree served by four workers, while
// the fake kernel, with a small cache, evicts and FORGETs nodes the others
// are looking up. Afterwards the books must balance: the kernel's and the
// bridge's lookup counts agree, every count returns to 0 once the kernel
// drops its caches, and the only live inodes are the tree's. Run it under
// TSan too: bazel test --config=tsan //nodefs:concurrency_test
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit {
namespace {

constexpr int kThreads = 6;
constexpr int kOpsPerThread = 300;
constexpr int kDirs = 3;
constexpr int kNames = 6;

// Every distinct Inode reachable from `root` (hard links counted once).
size_t TreeSize(Inode* root) {
  std::set<Inode*> seen{root};
  std::vector<Inode*> todo{root};
  while (!todo.empty()) {
    Inode* dir = todo.back();
    todo.pop_back();
    for (auto& [name, child] : dir->Children()) {
      if (seen.insert(child).second && child->IsDir()) todo.push_back(child);
    }
  }
  return seen.size();
}

// One client's random walk through the shared namespace. Races make many
// calls fail in ordinary ways (ENOENT, EEXIST, ...); anything else, ESTALE
// above all (the bridge dropped a node the kernel still used), is recorded.
class Worker {
 public:
  Worker(FakeKernel* kernel, int seed) : vfs_(kernel), rng_(seed) {}

  void Run() {
    for (int i = 0; i < kOpsPerThread; ++i) Step();
  }
  const std::vector<std::string>& unexpected() const { return unexpected_; }
  int succeeded() const { return succeeded_; }
  int failed() const { return failed_; }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string Dir() { return absl::StrCat("/d", Pick(kDirs)); }
  std::string File() { return absl::StrCat(Dir(), "/f", Pick(kNames)); }
  std::string Subdir() { return absl::StrCat(Dir(), "/s", Pick(kNames)); }

  void Check(Errno e, absl::string_view what) {
    static const std::set<int> kOrdinary = {ENOENT, EEXIST, ENOTEMPTY, ENOTDIR,
                                            EISDIR, EINVAL, EBUSY};
    (e.ok() ? succeeded_ : failed_)++;
    if (!e.ok() && kOrdinary.count(e.value()) == 0) {
      unexpected_.push_back(absl::StrCat(what, ": ", DescribeErrno(e)));
    }
  }
  template <typename T>
  void Check(const Result<T>& r, absl::string_view what) {
    Check(r.error(), what);
  }

  void Step() {
    switch (Pick(11)) {
      case 0:
        Check(vfs_.Mkdir(Subdir(), 0755), "mkdir");
        break;
      case 1:
        Check(vfs_.WriteFile(File(), absl::StrCat("data", Pick(100))), "write");
        break;
      case 2:
        Check(vfs_.ReadFile(File()), "read");
        break;
      case 3: {
        static constexpr unsigned kFlags[] = {0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE};
        Check(vfs_.Rename(File(), File(), kFlags[Pick(4)]), "rename");
        break;
      }
      case 4:
        Check(vfs_.Rename(Subdir(), Subdir(), 0), "rename dir");
        break;
      case 5:
        Check(vfs_.Unlink(File()), "unlink");
        break;
      case 6: {
        FakeVfs::ReaddirOptions options;
        options.mode =
            Pick(2) ? FakeVfs::ReaddirOptions::Mode::kPlus : FakeVfs::ReaddirOptions::Mode::kPlain;
        options.entries_per_call = Pick(3);
        Check(vfs_.Readdir(Dir(), options), "readdir");
        break;
      }
      case 7:
        Check(vfs_.Stat(Pick(2) ? File() : Subdir()), "stat");
        break;
      case 8:
        Check(vfs_.Rmdir(Subdir()), "rmdir");
        break;
      case 9:
        Check(vfs_.Link(File(), File()), "link");
        break;
      case 10: {  // unlink while open, then use and close
        std::string path = File();
        Result<int> fd = vfs_.Open(path, O_CREAT | O_RDWR, 0644);
        Check(fd, "open");
        if (!fd.ok()) break;
        Check(vfs_.Write(*fd, "open file", 0), "write fd");
        Check(vfs_.Unlink(path), "unlink open");
        Check(vfs_.Read(*fd, 64, 0), "read fd");
        Check(vfs_.Close(*fd), "close");
        break;
      }
    }
  }

  FakeVfs vfs_;
  std::mt19937 rng_;
  std::vector<std::string> unexpected_;
  int succeeded_ = 0;
  int failed_ = 0;
};

TEST(NodefsConcurrencyTest, ParallelClientsLeaveBalancedBooks) {
  FakeKernelOptions kernel_options;
  kernel_options.server.workers = 4;
  kernel_options.cache_limit = 24;  // evictions, so FORGETs race LOOKUPs
  // Re-reading a listing from offset 0 lists afresh; with others changing
  // the directory meanwhile that differs, as it may.
  kernel_options.check_readdir_offsets = false;
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  for (int d = 0; d < kDirs; ++d) ASSERT_THAT(fs.vfs().Mkdir(absl::StrCat("/d", d), 0755), IsOk());

  {
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < kThreads; ++i) {
      workers.push_back(std::make_unique<Worker>(&fs.kernel(), 1000 + i));
    }
    std::vector<std::thread> threads;
    for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
    for (std::thread& t : threads) t.join();
    int succeeded = 0, failed = 0;
    for (auto& w : workers) {
      EXPECT_THAT(w->unexpected(), ::testing::IsEmpty());
      succeeded += w->succeeded();
      failed += w->failed();
    }
    // Not vacuous: most calls do something (about two in three succeed).
    EXPECT_GT(succeeded, (succeeded + failed) / 3);
  }  // each client's files are closed

  fs.kernel().ExpectLookupCountsMatch();
  EXPECT_THAT(fs.kernel().violations(), ::testing::IsEmpty());

  // The kernel forgets everything: no count is left, and only the tree's
  // inodes live on (requests' pins go as their handlers return).
  fs.kernel().DropCaches();
  fs.kernel().ExpectLookupCountsMatch();
  const size_t tree = TreeSize(fs.root());
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (fs.bridge().InodeCount() != tree && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_EQ(fs.bridge().InodeCount(), tree);
  for (const auto& [id, count] : fs.bridge().LookupCounts()) EXPECT_EQ(count, 0u) << id;

  // The tree is consistent: each entry is listed by its directory and the
  // child knows that parent.
  std::vector<Inode*> todo{fs.root()};
  while (!todo.empty()) {
    Inode* dir = todo.back();
    todo.pop_back();
    for (auto& [name, child] : dir->Children()) {
      std::vector<std::pair<Inode*, std::string>> parents = child->Parents();
      EXPECT_THAT(parents, ::testing::Contains(std::make_pair(dir, name)));
      if (child->IsDir()) {
        EXPECT_EQ(parents.size(), 1u) << child->Path();
        todo.push_back(child);
      }
    }
  }
  // And what a client sees now matches it.
  for (int d = 0; d < kDirs; ++d) {
    std::string path = absl::StrCat("/d", d);
    Result<std::vector<std::string>> names = fs.vfs().ListDir(path);
    ASSERT_THAT(names, IsOk());
    std::vector<std::string> expected;
    for (auto& [name, child] : fs.root()->GetChild(absl::StrCat("d", d))->Children()) {
      expected.push_back(name);
    }
    EXPECT_EQ(*names, expected) << path;
  }
}

}  // namespace
}  // namespace fusekit
