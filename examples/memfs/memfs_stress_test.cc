// memfs under load on a real mount: several threads and two forked
// processes create, write, read, append, rename, unlink, list and stat files
// in the same few directories for a fixed number of operations each. Then:
//
// * content: every worker kept the size and FNV-1a checksum of what it last
//   wrote to each of its own files; every read along the way, and a final
//   pass over all of them, must match (and stat(2) must show that size).
//   Each worker's own names are touched by it alone, so what a listing of a
//   shared directory shows of them is exact too. A few "shared" names are
//   created, renamed over and unlinked by everyone at once, for races
//   between workers; of those only the errors are checked.
// * lookup counts: once every file is removed and every descriptor closed,
//   and the kernel has dropped its caches (/proc/sys/vm/drop_caches, root
//   only), the daemon's inode table is back to its starting size and holds
//   no lookup count. FORGETs arrive asynchronously, so that is polled with a
//   bound.
//
// Run over /dev/fuse and over io_uring rings (ServerOptions::io_uring; the
// fuse module's enable_uring is turned on for it, FuseUringSwitch).
// Root (or fusermount3) and /dev/fuse needed; SKIPPED with the reason
// otherwise. The operation counts are sized for about a second on 2 cores
// (a few under ASan or TSan).
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/memfs/memfs.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/fuse_uring_switch.h"
#include "testing/mount_fixture.h"

namespace fusekit::examples {
namespace {

constexpr int kDirs = 4;
constexpr int kThreads = 4;
constexpr int kProcesses = 2;
constexpr int kOpsPerWorker = 2000;
constexpr int kFilesPerWorker = 12;
constexpr int kSharedNames = 4;
constexpr size_t kMaxFileSize = 48 << 10;

uint64_t Fnv1a(absl::string_view data) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// What a worker last wrote to one of its files.
struct FileRecord {
  int dir = -1;  // -1: the file does not exist
  size_t size = 0;
  uint64_t sum = Fnv1a("");
};

// Per-kind operation counts, summed over workers.
enum Kind { kWrite, kAppend, kRead, kRename, kUnlink, kList, kStat, kShared, kKinds };
const char* const kKindNames[kKinds] = {"write", "append", "read", "rename",
                                        "unlink", "readdir", "stat", "shared"};

// One worker: its own files w<id>_<k>, and the shared names. No gtest in
// here (it also runs in forked children): failures are collected as text.
class Worker {
 public:
  Worker(std::string root, int id) : root_(std::move(root)), id_(id), rng_(1000 + id) {}

  void Run(int ops) {
    for (int i = 0; i < ops && errors_.size() < 20; ++i) {
      int k = static_cast<int>(rng_() % kFilesPerWorker);
      switch (rng_() % 16) {
        case 0:
        case 1:
        case 2:
          Write(k);
          break;
        case 3:
          Append(k);
          break;
        case 4:
        case 5:
        case 6:
          Read(k);
          break;
        case 7:
        case 8:
          Rename(k);
          break;
        case 9:
          Unlink(k);
          break;
        case 10:
        case 11:
          List(static_cast<int>(rng_() % kDirs));
          break;
        case 12:
        case 13:
          Stat(k);
          break;
        default:
          Shared();
          break;
      }
    }
  }

  // Reads back every file (content and size must match), then removes them.
  void VerifyAndRemoveAll() {
    for (int k = 0; k < kFilesPerWorker; ++k) {
      if (files_[k].dir < 0) continue;
      Read(k);
      Stat(k);
      if (unlink(Path(files_[k].dir, k).c_str()) != 0) Fail("final unlink", Path(files_[k].dir, k));
      files_[k].dir = -1;
    }
  }

  const std::vector<std::string>& errors() const { return errors_; }
  const uint64_t* counts() const { return counts_; }

 private:
  std::string Dir(int d) const { return absl::StrCat(root_, "/d", d); }
  std::string Name(int k) const { return absl::StrCat("w", id_, "_", k); }
  std::string Path(int d, int k) const { return absl::StrCat(Dir(d), "/", Name(k)); }

  void Fail(absl::string_view what, absl::string_view path) {
    errors_.push_back(absl::StrCat("worker ", id_, ": ", what, " ", path, ": ", strerror(errno)));
  }

  std::string Content(size_t size) {
    std::string data(size, '\0');
    uint64_t x = rng_();
    for (size_t i = 0; i < size; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      data[i] = static_cast<char>(x >> 56);
    }
    return data;
  }

  bool WriteAll(int fd, absl::string_view data) {
    while (!data.empty()) {
      ssize_t n = write(fd, data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  bool ReadAll(const std::string& path, std::string* out) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return false;
    out->clear();
    char buf[16384];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
    close(fd);
    return n == 0;
  }

  // Creates or overwrites file k (in a random directory when it is new).
  void Write(int k) {
    counts_[kWrite]++;
    FileRecord& f = files_[k];
    if (f.dir < 0) f.dir = static_cast<int>(rng_() % kDirs);
    std::string data = Content(rng_() % kMaxFileSize);
    const std::string path = Path(f.dir, k);
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return Fail("create", path);
    bool ok = WriteAll(fd, data);
    if (close(fd) != 0 || !ok) return Fail("write", path);
    f.size = data.size();
    f.sum = Fnv1a(data);
  }

  void Append(int k) {
    counts_[kAppend]++;
    FileRecord& f = files_[k];
    if (f.dir < 0) return Write(k);
    const std::string path = Path(f.dir, k);
    std::string old;
    if (!ReadAll(path, &old)) return Fail("read before append", path);
    std::string more = Content(rng_() % 4096);
    int fd = open(path.c_str(), O_WRONLY | O_APPEND);
    if (fd < 0) return Fail("open for append", path);
    bool ok = WriteAll(fd, more);
    if (close(fd) != 0 || !ok) return Fail("append", path);
    f.size = old.size() + more.size();
    f.sum = Fnv1a(old + more);
  }

  void Read(int k) {
    counts_[kRead]++;
    const FileRecord& f = files_[k];
    if (f.dir < 0) {
      struct stat st;
      if (stat(Path(static_cast<int>(rng_() % kDirs), k).c_str(), &st) == 0) {
        errors_.push_back(absl::StrCat("worker ", id_, ": removed file ", Name(k), " exists"));
      }
      return;
    }
    std::string data;
    const std::string path = Path(f.dir, k);
    if (!ReadAll(path, &data)) return Fail("read", path);
    if (data.size() != f.size || Fnv1a(data) != f.sum) {
      errors_.push_back(absl::StrCat("worker ", id_, ": ", path, " holds ", data.size(),
                                     " bytes, checksum ", Fnv1a(data), "; wrote ", f.size,
                                     " bytes, checksum ", f.sum));
    }
  }

  // To another directory, sometimes over another of its own files.
  void Rename(int k) {
    counts_[kRename]++;
    FileRecord& f = files_[k];
    if (f.dir < 0) return Write(k);
    int to_dir = static_cast<int>(rng_() % kDirs);
    int to = static_cast<int>(rng_() % kFilesPerWorker);
    if (to == k && to_dir == f.dir) return;
    if (to != k && files_[to].dir >= 0 && files_[to].dir != to_dir) {
      // Keep one name per file: the target name is free elsewhere first.
      if (unlink(Path(files_[to].dir, to).c_str()) != 0) return Fail("unlink", Path(files_[to].dir, to));
      files_[to].dir = -1;
    }
    const std::string from = Path(f.dir, k);
    const std::string target = Path(to_dir, to);
    if (rename(from.c_str(), target.c_str()) != 0) return Fail("rename to " + target, from);
    FileRecord moved = f;
    moved.dir = to_dir;
    f.dir = -1;
    files_[to] = moved;
  }

  void Unlink(int k) {
    counts_[kUnlink]++;
    FileRecord& f = files_[k];
    if (f.dir < 0) return;
    if (unlink(Path(f.dir, k).c_str()) != 0) return Fail("unlink", Path(f.dir, k));
    f.dir = -1;
  }

  // A shared directory lists exactly this worker's files that are in it.
  void List(int d) {
    counts_[kList]++;
    DIR* dir = opendir(Dir(d).c_str());
    if (dir == nullptr) return Fail("opendir", Dir(d));
    std::set<std::string> mine;
    const std::string prefix = absl::StrCat("w", id_, "_");
    errno = 0;
    while (struct dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name.rfind(prefix, 0) == 0) {
        if (!mine.insert(name).second) {
          errors_.push_back(absl::StrCat("worker ", id_, ": ", name, " listed twice"));
        }
      }
    }
    if (errno != 0) Fail("readdir", Dir(d));
    closedir(dir);
    std::set<std::string> want;
    for (int k = 0; k < kFilesPerWorker; ++k) {
      if (files_[k].dir == d) want.insert(Name(k));
    }
    if (mine != want) {
      errors_.push_back(absl::StrCat("worker ", id_, ": ", Dir(d), " lists ", mine.size(),
                                     " of its files, want ", want.size()));
    }
  }

  void Stat(int k) {
    counts_[kStat]++;
    const FileRecord& f = files_[k];
    if (f.dir < 0) return;
    struct stat st;
    const std::string path = Path(f.dir, k);
    if (stat(path.c_str(), &st) != 0) return Fail("stat", path);
    if (!S_ISREG(st.st_mode) || static_cast<size_t>(st.st_size) != f.size || st.st_nlink != 1) {
      errors_.push_back(absl::StrCat("worker ", id_, ": ", path, " size ", st.st_size, " nlink ",
                                     st.st_nlink, ", want size ", f.size));
    }
  }

  // Everyone at once on the same few names: only ENOENT (the name went
  // meanwhile) and EEXIST (made meanwhile, O_EXCL) may be expected.
  void Shared() {
    counts_[kShared]++;
    const std::string a = absl::StrCat(Dir(static_cast<int>(rng_() % kDirs)), "/s",
                                       rng_() % kSharedNames);
    const std::string b = absl::StrCat(Dir(static_cast<int>(rng_() % kDirs)), "/s",
                                       rng_() % kSharedNames);
    auto allowed = [&](absl::string_view what) {
      if (errno != ENOENT && errno != EEXIST) Fail(absl::StrCat("shared ", what), a);
    };
    switch (rng_() % 5) {
      case 0: {
        int fd = open(a.c_str(), O_WRONLY | O_CREAT | (rng_() % 2 ? O_EXCL : O_TRUNC), 0644);
        if (fd < 0) return allowed("create");
        std::string data = Content(rng_() % 8192);
        if (!WriteAll(fd, data)) Fail("shared write", a);
        close(fd);
        break;
      }
      case 1:
        if (rename(a.c_str(), b.c_str()) != 0) allowed("rename");
        break;
      case 2:
        if (unlink(a.c_str()) != 0) allowed("unlink");
        break;
      case 3: {
        std::string data;
        if (!ReadAll(a, &data)) allowed("read");
        break;
      }
      default: {
        struct stat st;
        if (stat(a.c_str(), &st) != 0) allowed("stat");
        break;
      }
    }
  }

  const std::string root_;
  const int id_;
  std::mt19937_64 rng_;
  FileRecord files_[kFilesPerWorker];
  std::vector<std::string> errors_;
  uint64_t counts_[kKinds] = {};
};

// The process workers. A child forked from this multi-threaded process (the
// server's workers run here) could inherit a lock another thread held at
// the fork and wait on it for ever (seen under ASan), so a child execs this
// binary afresh; the environment says it is a worker, and this runs it
// before main(): FUSEKIT_STRESS_WORKER="<id> <root>".
constexpr char kWorkerEnv[] = "FUSEKIT_STRESS_WORKER";

void RunProcessWorkerAndExit(const char* spec);

[[maybe_unused]] const bool kProcessWorkerChecked = [] {
  if (const char* spec = getenv(kWorkerEnv)) RunProcessWorkerAndExit(spec);
  return true;
}();

void RunProcessWorkerAndExit(const char* spec) {
  char* rest = nullptr;
  const int id = static_cast<int>(strtol(spec, &rest, 10));
  if (rest == nullptr || *rest != ' ') _exit(2);
  Worker worker(rest + 1, id);
  worker.Run(kOpsPerWorker);
  worker.VerifyAndRemoveAll();
  for (const std::string& e : worker.errors()) fprintf(stderr, "%s\n", e.c_str());
  const uint64_t* c = worker.counts();
  uint64_t total = 0;
  for (int k = 0; k < kKinds; ++k) total += c[k];
  fprintf(stderr, "process worker %d: %llu operations\n", id, static_cast<unsigned long long>(total));
  _exit(worker.errors().empty() ? 0 : 1);
}

// The parameter: requests over /dev/fuse (false) or io_uring rings (true).
class MemfsStressTest : public ::testing::TestWithParam<bool> {
 protected:
  bool io_uring() const { return GetParam(); }
  void SetUp() override {
    if (io_uring()) {
      uring_ = std::make_unique<FuseUringSwitch>();
      if (!uring_->why_not().empty()) GTEST_SKIP() << uring_->why_not();
    }
    Options options = MemfsOptions(Options());
    options.mount.fsname = "memfs-stress";
    auto root = MemDir::NewRoot(MemFsOptions());
    store_ = root->store();
    bridge_ = std::make_unique<Bridge>(std::move(root), options);
    ServerOptions server = ServerOptionsFor(options);
    server.io_uring = io_uring();
    MountForTest(bridge_.get(), options.mount, server, &mount_);
    if (mount_ == nullptr) return;  // skipped, or failed with the reason
    bridge_->SetNotifier(&mount_->server().notifier());
    if (io_uring()) {
      ASSERT_TRUE(mount_->server().connection().Has(abi::kInitOverIoUring));
    }
  }
  void TearDown() override {
    mount_.reset();
    if (bridge_) bridge_->SetNotifier(nullptr);
    bridge_.reset();
    uring_.reset();  // the parameter as it was, once unmounted
  }

  std::unique_ptr<FuseUringSwitch> uring_;
  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

// Polls `condition` for up to `limit` (FORGETs come asynchronously).
template <typename Condition>
bool Eventually(Condition condition, absl::Duration limit) {
  absl::Time deadline = absl::Now() + limit;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

TEST_P(MemfsStressTest, ThreadsAndProcessesKeepContentAndLookupCounts) {
  if (mount_ == nullptr) return;
  const std::string root = mount_->path();
  const size_t start_inodes = bridge_->InodeCount();
  for (int d = 0; d < kDirs; ++d) {
    ASSERT_EQ(mkdir(absl::StrCat(root, "/d", d).c_str(), 0755), 0) << strerror(errno);
  }
  const absl::Time begin = absl::Now();

  // Processes first; each execs this binary as a process worker (see
  // RunProcessWorkerAndExit). They report failures on stderr and by exit
  // status. Everything exec needs is built before fork: after it, the child
  // may only make async-signal-safe calls.
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    const std::string spec = absl::StrCat(kWorkerEnv, "=", 100 + p, " ", root);
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    env.push_back(const_cast<char*>(spec.c_str()));
    env.push_back(nullptr);
    char self[] = "/proc/self/exe";
    char* argv[] = {self, nullptr};
    pid_t pid = fork();
    ASSERT_GE(pid, 0) << strerror(errno);
    if (pid == 0) {
      execve(self, argv, env.data());
      _exit(127);
    }
    children.push_back(pid);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < kThreads; ++t) workers.push_back(std::make_unique<Worker>(root, t));
  std::vector<std::thread> threads;
  for (auto& w : workers) {
    threads.emplace_back([w = w.get()] { w->Run(kOpsPerWorker); });
  }
  for (std::thread& t : threads) t.join();
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "process worker failed (its errors are on stderr above); status " << status;
  }
  uint64_t counts[kKinds] = {};
  for (auto& w : workers) {
    w->VerifyAndRemoveAll();
    for (const std::string& e : w->errors()) ADD_FAILURE() << e;
    for (int k = 0; k < kKinds; ++k) counts[k] += w->counts()[k];
  }
  const absl::Duration took = absl::Now() - begin;
  std::string summary;
  uint64_t total = 0;
  for (int k = 0; k < kKinds; ++k) {
    absl::StrAppend(&summary, " ", kKindNames[k], "=", counts[k]);
    total += counts[k];
  }
  printf("stress: %d threads x %d operations (%llu:%s) plus %d processes x %d, in %s\n",
         kThreads, kOpsPerWorker, static_cast<unsigned long long>(total), summary.c_str(),
         kProcesses, kOpsPerWorker, absl::FormatDuration(took).c_str());

  // Remove what is left: the shared names, then the directories.
  for (int d = 0; d < kDirs; ++d) {
    for (int s = 0; s < kSharedNames; ++s) unlink(absl::StrCat(root, "/d", d, "/s", s).c_str());
    EXPECT_EQ(rmdir(absl::StrCat(root, "/d", d).c_str()), 0)
        << "d" << d << ": " << strerror(errno);
  }
  EXPECT_EQ(bridge_->root()->Children().size(), 0u);
  printf("stress: %zu inodes in the daemon's table after removing everything (%zu at the start)\n",
         bridge_->InodeCount(), start_inodes);
  if (io_uring()) {
    printf("stress: %llu requests came through io_uring rings\n",
           static_cast<unsigned long long>(mount_->server().io_uring_requests()));
    EXPECT_GT(mount_->server().io_uring_requests(), 1000u);
  }

  if (geteuid() != 0) {
    printf("stress: lookup-count check skipped: dropping the kernel's caches needs root\n");
    return;
  }
  // Dentries and inodes the kernel still caches (of the mount root's
  // children: none are left, but the kernel may hold the unlinked ones a
  // moment longer) go with the reclaimable slab objects.
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
  ASSERT_GE(fd, 0) << strerror(errno);
  EXPECT_EQ(write(fd, "2", 1), 1) << strerror(errno);
  close(fd);
  const absl::Time dropped = absl::Now();
  EXPECT_TRUE(Eventually([&] { return bridge_->InodeCount() == start_inodes; }, absl::Seconds(20)))
      << "the inode table holds " << bridge_->InodeCount() << ", started with " << start_inodes;
  printf("stress: %zu inodes in the table %s after the cache drop\n", bridge_->InodeCount(),
         absl::FormatDuration(absl::Now() - dropped).c_str());
  for (auto& [id, count] : bridge_->LookupCounts()) {
    EXPECT_TRUE(id == abi::kRootId || count == 0) << "node " << id << " has lookup count " << count;
  }
  EXPECT_EQ(store_->inodes(), start_inodes);
  EXPECT_EQ(store_->used_pages(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Transports, MemfsStressTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return std::string(info.param ? "IoUring" : "DevFuse");
                         });

}  // namespace
}  // namespace fusekit::examples
