// Faults on a real mount, served in-process (so TSan sees both sides):
// stopping the server while requests are blocked in the filesystem and in a
// lock wait; a blocked node next to requests that must still be served; a
// signal interrupting a read the node holds; EIO from loopbackfs's host
// (nodefs/fault_node.h injects it). Every wait is for an event, bounded
// generously so that a bug fails the test instead of hanging it; nothing
// asserts how fast anything is. Root (or fusermount3) and /dev/fuse needed;
// SKIPPED with the reason otherwise.
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/time/clock.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/fault_node.h"
#include "nodefs/loopback_node.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"

namespace fusekit {
namespace {

using ::testing::AnyOf;

// What a caller blocked on a request gets when the server stops: ENOTCONN
// (the connection is gone), ECONNABORTED (a request in flight when it was
// aborted: fs/fuse/dev.c's end_requests), EIO, or EINTR (the handler gave
// up as interrupted).
::testing::Matcher<int> IsCallerError() { return AnyOf(ENOTCONN, ECONNABORTED, EIO, EINTR); }

// The bound on every wait for an event that, when all is well, comes at
// once: reaching it is a failure, never a measurement.
constexpr absl::Duration kBound = absl::Seconds(30);

// A memfs file opened with FOPEN_DIRECT_IO: every read(2) is one READ that
// reaches the node, synchronously, so a signal to the reader interrupts it.
// (A buffered read waits for the page cache's asynchronous READ killably,
// so only a fatal signal would end it.)
class DirectIoFile : public MemFile {
 public:
  using MemFile::MemFile;
  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override {
    Errno e = MemFile::Open(ctx, flags, out);
    if (e.ok()) out->flags |= abi::kOpenDirectIo;
    return e;
  }
};

using FaultyFile = FaultNode<DirectIoFile>;

int CountThreads() {
  int n = 0;
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return -1;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n;
}

// FNV-1a: enough to notice a changed byte.
uint64_t Checksum(absl::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool WriteAll(const std::string& path, absl::string_view data) {
  int fd = open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd < 0) return false;
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  return close(fd) == 0 && ok;
}

// Drops the kernel's cached pages of `path`, so the next read reaches the
// filesystem. (The pages are clean: FUSE writes through.)
void DropPages(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return;
  posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  close(fd);
}

// True once `pid` is inside an fcntl(2) call (blocked in F_SETLKW), per
// /proc/PID/syscall; false if it ends first or `kBound` passes.
bool WaitUntilInFcntl(pid_t pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/syscall");
  const std::string want = absl::StrCat(SYS_fcntl, " ");
  absl::Time deadline = absl::Now() + kBound;
  while (absl::Now() < deadline) {
    std::string text = ReadAll(path);
    if (text.empty()) return false;  // gone
    if (text.rfind(want, 0) == 0) return true;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return false;
}

struct flock WholeFile(short type) {
  struct flock l {};
  l.l_type = type;
  l.l_whence = SEEK_SET;
  return l;
}

// A one-shot event with a bounded wait. Not absl::Notification: Debian's
// abseil is built without TSan instrumentation, so TSan would not see the
// happens-before edge and would report the results read after it as races.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }
  bool WaitForNotificationWithTimeout(absl::Duration bound) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(bound), [this] { return done_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
};

// A call made on another thread whose end the test waits for, bounded.
class Call {
 public:
  template <typename Fn>
  explicit Call(Fn fn) : thread_([this, fn] {
      result_ = fn();
      err_ = errno;
      done_.Notify();
    }) {}
  ~Call() { thread_.join(); }
  bool Finished(absl::Duration bound = kBound) {
    return done_.WaitForNotificationWithTimeout(bound);
  }
  pthread_t handle() { return thread_.native_handle(); }
  // Valid once Finished().
  long result() const { return result_; }
  int err() const { return err_; }

 private:
  Event done_;
  long result_ = 0;
  int err_ = 0;
  std::thread thread_;
};

// Runs a function when the scope ends, also on a failed ASSERT: tests
// release what they hold before joining threads that wait on it.
class Defer {
 public:
  explicit Defer(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~Defer() { fn_(); }
  Defer(const Defer&) = delete;
  Defer& operator=(const Defer&) = delete;

 private:
  std::function<void()> fn_;
};

void NoOpHandler(int) {}

// SIGUSR1 with a handler and without SA_RESTART, for the test's lifetime:
// a system call it interrupts returns EINTR.
class ScopedSigusr1 {
 public:
  ScopedSigusr1() {
    struct sigaction action = {};
    action.sa_handler = NoOpHandler;
    sigemptyset(&action.sa_mask);
    sigaction(SIGUSR1, &action, &old_);
  }
  ~ScopedSigusr1() { sigaction(SIGUSR1, &old_, nullptr); }

 private:
  struct sigaction old_;
};

// An in-memory tree (locks served, as memfs serves them) with two direct-I/O
// files whose operations go through a FaultPlan: "slow" and "fast".
class FaultTree {
 public:
  explicit FaultTree(int workers) {
    std::unique_ptr<MemDir> root = MemDir::NewRoot({});
    std::shared_ptr<MemStore> store = root->store();
    options_.mount.fsname = "fusekit-faults";
    options_.server.workers = workers;
    options_.server.init.want |= kMemLockCapabilities;
    bridge_ = std::make_unique<Bridge>(std::move(root), options_);
    for (const char* name : {"slow", "fast"}) {
      Inode* file = bridge_->root()->NewInode(
          std::make_unique<FaultyFile>(plan_, S_IFREG | 0644, getuid(), getgid(), 0, store),
          {.mode = S_IFREG});
      bridge_->root()->AddChild(name, file, /*overwrite=*/false);
    }
  }
  // Mounts; null (skipped or failed, with the reason) if it cannot.
  std::unique_ptr<TestMount> Mount() {
    std::unique_ptr<TestMount> mount;
    MountForTest(bridge_.get(), options_.mount, ServerOptionsFor(options_), &mount);
    return mount;
  }
  FaultPlan& plan() { return *plan_; }

 private:
  std::shared_ptr<FaultPlan> plan_ = std::make_shared<FaultPlan>();
  Options options_;
  std::unique_ptr<Bridge> bridge_;
};

uint64_t InoOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path << ": " << strerror(errno);
  return st.st_ino;
}

// ---- Stop while requests are in flight -------------------------------------

// Parameter: the number of workers. With 1 and 2 every worker is held by a
// blocked request when Stop() comes, so no worker reads the end of the
// connection: Stop() itself must tell the held handlers.
class StopInFlightTest : public ::testing::TestWithParam<int> {};

TEST_P(StopInFlightTest, ServerEndsAndCallersFail) {
  const int threads_before = CountThreads();
  auto tree = std::make_unique<FaultTree>(GetParam());
  std::unique_ptr<TestMount> mount = tree->Mount();
  if (mount == nullptr) return;
  const std::string slow = mount->Path("slow");
  const std::string locked = mount->Path("locked");
  ASSERT_TRUE(WriteAll(slow, "held"));
  ASSERT_TRUE(WriteAll(locked, "x"));

  // Another process, with the file open, waits for a lock this one holds.
  // It opens first and locks on a word from us: with one worker held by
  // the read below, its OPEN could not be served, but its SETLKW may wait
  // in the kernel's queue as well as in memfs.
  int lock_fd = open(locked.c_str(), O_RDWR);
  ASSERT_GE(lock_fd, 0);
  struct flock mine = WholeFile(F_WRLCK);
  ASSERT_EQ(fcntl(lock_fd, F_SETLK, &mine), 0);
  int report[2], go[2];
  ASSERT_EQ(pipe(report), 0);
  ASSERT_EQ(pipe(go), 0);
  pid_t child = fork();
  if (child == 0) {
    int fd = open(locked.c_str(), O_RDWR);
    int e = fd < 0 ? errno : 0;
    (void)!write(report[1], &e, sizeof(e));
    char c;
    if (fd < 0 || read(go[0], &c, 1) != 1) _exit(1);
    struct flock want = WholeFile(F_WRLCK);
    e = fcntl(fd, F_SETLKW, &want) == 0 ? 0 : errno;
    (void)!write(report[1], &e, sizeof(e));
    _exit(0);
  }
  close(report[1]);
  close(go[0]);
  int slow_fd = -1;
  std::unique_ptr<Call> reader;
  // Whatever happens below, nothing is left blocked: the gate opens, the
  // lock goes, the child dies; only then is the reader joined.
  Defer cleanup([&] {
    tree->plan().Clear();
    if (lock_fd >= 0) close(lock_fd);
    if (child > 0) {
      kill(child, SIGKILL);
      waitpid(child, nullptr, 0);
    }
    reader.reset();
    if (slow_fd >= 0) close(slow_fd);
    close(report[0]);
    close(go[1]);
  });
  int child_errno = -1;
  ASSERT_EQ(read(report[0], &child_errno, sizeof(child_errno)),
            static_cast<ssize_t>(sizeof(child_errno)));
  ASSERT_EQ(child_errno, 0) << "the child could not open: " << strerror(child_errno);

  // A read held in the node (which honours the end of the connection).
  int gate = tree->plan().Add(
      {.ops = FaultOp::kRead, .ino = InoOf(slow), .error = kOk, .block = true});
  slow_fd = open(slow.c_str(), O_RDONLY);
  ASSERT_GE(slow_fd, 0);
  reader = std::make_unique<Call>([fd = slow_fd] {
    char buf[16];
    return static_cast<long>(read(fd, buf, sizeof(buf)));
  });
  ASSERT_TRUE(tree->plan().WaitForBlocked(gate, 1, kBound));
  ASSERT_EQ(write(go[1], "g", 1), 1);
  ASSERT_TRUE(WaitUntilInFcntl(child));

  // Stop, and wait for the server with a watchdog: past the bound it lets
  // everything go (the gate, the lock, the child) and the test fails.
  mount->server().Stop();
  Event ended;
  std::thread waiter([&] {
    mount->server().Wait();
    ended.Notify();
  });
  const bool ended_in_bound = ended.WaitForNotificationWithTimeout(kBound);
  if (!ended_in_bound) {
    tree->plan().Clear();
    close(lock_fd);
    lock_fd = -1;
    kill(child, SIGKILL);
  }
  waiter.join();
  EXPECT_TRUE(ended_in_bound) << "Server::Wait() did not return after Stop()";

  // The blocked callers got an error.
  ASSERT_TRUE(reader->Finished());
  EXPECT_EQ(reader->result(), -1);
  EXPECT_THAT(reader->err(), IsCallerError()) << strerror(reader->err());
  child_errno = -1;
  EXPECT_EQ(read(report[0], &child_errno, sizeof(child_errno)),
            static_cast<ssize_t>(sizeof(child_errno)));
  EXPECT_THAT(child_errno, IsCallerError()) << strerror(child_errno);
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  child = -1;
  EXPECT_EQ(tree->plan().blocked(gate), 0);
  close(slow_fd);
  slow_fd = -1;
  close(lock_fd);
  lock_fd = -1;

  // No worker is left, and once the server object goes (with its notifier
  // thread) no thread at all.
  EXPECT_FALSE(mount->server().running());
  reader.reset();
  const std::string path = mount->path();
  mount.reset();
  EXPECT_FALSE(IsFuseMountPoint(path));
  EXPECT_EQ(CountThreads(), threads_before);
}

INSTANTIATE_TEST_SUITE_P(Workers, StopInFlightTest, ::testing::Values(1, 2, 4),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return absl::StrCat(info.param, "Workers");
                         });

// ---- A blocked node next to unrelated requests ------------------------------

TEST(SlowNodeTest, OtherRequestsAreServedMeanwhile) {
  FaultTree tree(/*workers=*/2);
  std::unique_ptr<TestMount> mount = tree.Mount();
  if (mount == nullptr) return;
  const std::string slow = mount->Path("slow");
  const std::string fast = mount->Path("fast");
  ASSERT_TRUE(WriteAll(slow, "slow data"));
  ASSERT_TRUE(WriteAll(fast, "fast data"));
  DropPages(slow);
  DropPages(fast);
  int gate = tree.plan().Add(
      {.ops = FaultOp::kRead, .ino = InoOf(slow), .error = kOk, .block = true});
  // Counts the reads of "fast" that reach the node (a rule that takes calls
  // and lets them through): proof they were served, not cached.
  int fast_reads = tree.plan().Add({.ops = FaultOp::kRead | FaultOp::kGetattr,
                                    .ino = InoOf(fast),
                                    .error = kOk});
  const int fast_before = tree.plan().hits(fast_reads);

  Call slow_read([&] {
    int fd = open(slow.c_str(), O_RDONLY);
    char buf[32];
    long n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
    if (fd >= 0) close(fd);
    return n;
  });
  Defer release_slow_read([&] { tree.plan().Clear(); });
  ASSERT_TRUE(tree.plan().WaitForBlocked(gate, 1, kBound));

  std::string fast_content;
  Call fast_calls([&] {
    struct stat st;
    if (stat(fast.c_str(), &st) != 0 || st.st_size != 9) return -1L;
    int fd = open(fast.c_str(), O_RDONLY);
    if (fd < 0) return -1L;
    char buf[32];
    long n = read(fd, buf, sizeof(buf));
    if (n > 0) fast_content.assign(buf, n);
    close(fd);
    return n;
  });
  Defer release_fast_calls([&] { tree.plan().Clear(); });
  const bool fast_done = fast_calls.Finished();
  EXPECT_TRUE(fast_done) << "stat/read of another file stalled behind a blocked read";
  EXPECT_EQ(tree.plan().blocked(gate), 1);  // the slow read is still held
  tree.plan().Release(gate);
  ASSERT_TRUE(slow_read.Finished());
  EXPECT_EQ(slow_read.result(), 9);
  ASSERT_TRUE(fast_calls.Finished());
  EXPECT_EQ(fast_calls.result(), 9);
  EXPECT_EQ(fast_content, "fast data");
  EXPECT_GT(tree.plan().hits(fast_reads), fast_before);
}

// With one worker a held request holds the whole filesystem: recorded (as a
// test property and on stderr), not asserted, since whether the kernel
// answers the stat from its caches is its business.
TEST(SlowNodeTest, OneWorkerStallIsDocumented) {
  FaultTree tree(/*workers=*/1);
  std::unique_ptr<TestMount> mount = tree.Mount();
  if (mount == nullptr) return;
  const std::string slow = mount->Path("slow");
  const std::string fast = mount->Path("fast");
  ASSERT_TRUE(WriteAll(slow, "slow data"));
  ASSERT_TRUE(WriteAll(fast, "fast data"));
  DropPages(slow);
  DropPages(fast);
  int gate = tree.plan().Add(
      {.ops = FaultOp::kRead, .ino = InoOf(slow), .error = kOk, .block = true});
  Call slow_read([&] {
    int fd = open(slow.c_str(), O_RDONLY);
    char buf[32];
    long n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
    if (fd >= 0) close(fd);
    return n;
  });
  Defer release_slow_read([&] { tree.plan().Clear(); });
  ASSERT_TRUE(tree.plan().WaitForBlocked(gate, 1, kBound));
  Call fast_read([&] {
    int fd = open(fast.c_str(), O_RDONLY);
    if (fd < 0) return -1L;
    char buf[32];
    long n = read(fd, buf, sizeof(buf));
    close(fd);
    return n;
  });
  Defer release_fast_read([&] { tree.plan().Clear(); });
  const bool stalled = !fast_read.Finished(absl::Seconds(1));
  RecordProperty("one_worker_other_read_stalled", stalled ? "yes" : "no");
  fprintf(stderr, "workers=1: a read of another file %s while one read was held\n",
          stalled ? "waited" : "did not wait");
  tree.plan().Release(gate);
  // Once the held read goes, everything does.
  ASSERT_TRUE(slow_read.Finished());
  EXPECT_EQ(slow_read.result(), 9);
  ASSERT_TRUE(fast_read.Finished());
  EXPECT_EQ(fast_read.result(), 9);
}

// ---- Interrupts at the node layer --------------------------------------------
// (fuse/interrupt_mount_test.cc covers the raw layer's Reply::OnInterrupt.)

TEST(NodeInterruptTest, SignalEndsAHeldReadWithEintr) {
  FaultTree tree(/*workers=*/2);
  std::unique_ptr<TestMount> mount = tree.Mount();
  if (mount == nullptr) return;
  const std::string slow = mount->Path("slow");
  ASSERT_TRUE(WriteAll(slow, "slow data"));
  DropPages(slow);
  ScopedSigusr1 handler;
  // Honours interrupts: Context::Interrupted() ends the wait with EINTR.
  int gate = tree.plan().Add(
      {.ops = FaultOp::kRead, .ino = InoOf(slow), .error = kOk, .block = true});
  int fd = open(slow.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  Call reader([fd] {
    char buf[32];
    return static_cast<long>(read(fd, buf, sizeof(buf)));
  });
  Defer release_reader([&] { tree.plan().Clear(); });
  ASSERT_TRUE(tree.plan().WaitForBlocked(gate, 1, kBound));
  pthread_kill(reader.handle(), SIGUSR1);
  const bool finished = reader.Finished();
  if (!finished) tree.plan().Release(gate);  // fail, not hang
  ASSERT_TRUE(finished) << "the signal did not end the read";
  EXPECT_EQ(reader.result(), -1);
  EXPECT_EQ(reader.err(), EINTR) << strerror(reader.err());
  EXPECT_EQ(tree.plan().hits(gate), 1);
  EXPECT_EQ(tree.plan().blocked(gate), 0);
  // The file is fine afterwards.
  tree.plan().Remove(gate);
  char buf[32];
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 9);
  close(fd);
}

TEST(NodeInterruptTest, NodeThatIgnoresTheSignalIsWaitedFor) {
  FaultTree tree(/*workers=*/2);
  std::unique_ptr<TestMount> mount = tree.Mount();
  if (mount == nullptr) return;
  const std::string slow = mount->Path("slow");
  ASSERT_TRUE(WriteAll(slow, "slow data"));
  DropPages(slow);
  ScopedSigusr1 handler;
  int gate = tree.plan().Add({.ops = FaultOp::kRead,
                              .ino = InoOf(slow),
                              .error = kOk,
                              .block = true,
                              .honour_interrupts = false});
  int fd = open(slow.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string got;
  Call reader([fd, &got] {
    char buf[32];
    long n = read(fd, buf, sizeof(buf));
    if (n > 0) got.assign(buf, n);
    return n;
  });
  Defer release_reader([&] { tree.plan().Clear(); });
  ASSERT_TRUE(tree.plan().WaitForBlocked(gate, 1, kBound));
  pthread_kill(reader.handle(), SIGUSR1);
  // Once a request is with the filesystem, a non-fatal signal only sends
  // INTERRUPT; the kernel then waits for the answer, which here is the data.
  tree.plan().Release(gate);
  ASSERT_TRUE(reader.Finished());
  EXPECT_EQ(reader.result(), 9) << strerror(reader.err());
  EXPECT_EQ(got, "slow data");
  close(fd);
}

// ---- EIO from loopbackfs's host ----------------------------------------------

class LoopbackEioTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = getenv("TEST_TMPDIR");
    host_ = absl::StrCat(tmp ? tmp : "/tmp", "/host.XXXXXX");
    ASSERT_NE(mkdtemp(host_.data()), nullptr);
    good_data_ = std::string(100000, 'g');
    bad_data_ = std::string(50000, 'b');
    ASSERT_TRUE(WriteAll(host_ + "/good", good_data_));
    ASSERT_TRUE(WriteAll(host_ + "/bad", bad_data_));
    LoopbackOptions lo;
    std::shared_ptr<FaultPlan> plan = plan_;
    lo.new_node = [plan](std::shared_ptr<LoopbackRoot> root, const struct stat& st) {
      return std::make_unique<FaultNode<LoopbackNode>>(plan, std::move(root), st);
    };
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root = NewLoopbackRoot(host_, lo);
    ASSERT_TRUE(root.ok()) << root.status();
    Options options = LoopbackMountOptions();
    options.mount.fsname = "fusekit-faults-loopback";
    bridge_ = std::make_unique<Bridge>(*std::move(root), options);
    MountForTest(bridge_.get(), options.mount, ServerOptionsFor(options), &mount_);
  }
  void TearDown() override {
    mount_.reset();
    bridge_.reset();
    for (const char* name : {"good", "bad"}) unlink((host_ + "/" + name).c_str());
    rmdir(host_.c_str());
  }

  std::shared_ptr<FaultPlan> plan_ = std::make_shared<FaultPlan>();
  std::string host_;
  std::string good_data_;
  std::string bad_data_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

TEST_F(LoopbackEioTest, ReadAndWriteErrorsReachTheCallerAndNothingElse) {
  if (mount_ == nullptr) return;
  const std::string good = mount_->Path("good");
  const std::string bad = mount_->Path("bad");
  struct stat host_bad {};
  ASSERT_EQ(stat((host_ + "/bad").c_str(), &host_bad), 0);
  ASSERT_EQ(InoOf(bad), host_bad.st_ino);  // loopback shows the host's numbers
  const uint64_t good_sum = Checksum(good_data_);

  int id = plan_->Add(
      {.ops = FaultOp::kRead | FaultOp::kWrite, .ino = host_bad.st_ino, .error = Errno(EIO)});
  int fd = open(bad.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char buf[4096];
  errno = 0;
  EXPECT_EQ(read(fd, buf, sizeof(buf)), -1);
  EXPECT_EQ(errno, EIO) << strerror(errno);
  errno = 0;
  EXPECT_EQ(pwrite(fd, "XXXX", 4, 0), -1);
  EXPECT_EQ(errno, EIO) << strerror(errno);
  EXPECT_GE(plan_->hits(id), 2);

  // Other files, and the failing file's metadata, are unaffected.
  EXPECT_EQ(Checksum(ReadAll(good)), good_sum);
  struct stat st {};
  ASSERT_EQ(fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(bad_data_.size()));
  close(fd);
  // The failed write changed nothing on the host.
  EXPECT_EQ(Checksum(ReadAll(host_ + "/bad")), Checksum(bad_data_));
  EXPECT_EQ(Checksum(ReadAll(host_ + "/good")), good_sum);

  // The disk "recovers": the same file reads in full.
  plan_->Remove(id);
  DropPages(bad);
  EXPECT_EQ(Checksum(ReadAll(bad)), Checksum(bad_data_));
}

}  // namespace
}  // namespace fusekit
