#include "testing/mount_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace fusekit {
namespace {

// The "major:minor" of the FUSE mount on `path`, from mountinfo (never by
// stat(2), which would block on a server that does not answer).
std::string FuseDeviceAt(const std::string& path) {
  absl::StatusOr<std::vector<MountInfoEntry>> mounts = ReadMountInfo();
  if (!mounts.ok()) return "";
  std::string device;
  for (const MountInfoEntry& m : *mounts) {
    if (m.mount_point == path && absl::StartsWith(m.fs_type, "fuse")) device = m.device;
  }
  return device;
}

// Ends a FUSE connection by force (fusectl): every request fails and the
// server's reads return ENODEV.
void AbortConnection(const std::string& device) {
  std::vector<std::string> parts = absl::StrSplit(device, ':');
  if (parts.size() != 2) return;
  std::string abort_path = absl::StrCat("/sys/fs/fuse/connections/", parts[1], "/abort");
  int fd = ::open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "fusekit TestMount: cannot abort connection %s (%s)\n", device.c_str(),
                 abort_path.c_str());
    return;
  }
  (void)!::write(fd, "1", 1);
  ::close(fd);
}

// Appends `text` to the NUL-terminated `buf` of `size` bytes (truncating).
void Append(char* buf, size_t size, const char* text) {
  size_t n = 0;
  while (n < size && buf[n] != '\0') ++n;
  while (n + 1 < size && *text != '\0') buf[n++] = *text++;
  if (n < size) buf[n] = '\0';
}

// Reads the file `dir`/`name` into `buf` (NUL-terminated); false if it
// cannot.
bool ReadProcFile(const char* dir, const char* name, char* buf, size_t size) {
  char path[160] = "";
  Append(path, sizeof(path), dir);
  Append(path, sizeof(path), "/");
  Append(path, sizeof(path), name);
  int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = ::read(fd, buf, size - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  return true;
}

// The hexadecimal mask after `key` ("SigPnd:") in a /proc status text.
unsigned long long MaskAfter(const char* text, const char* key) {
  for (const char* line = text; *line != '\0';) {
    const char* k = key;
    const char* c = line;
    while (*k != '\0' && *c == *k) ++c, ++k;
    if (*k == '\0') {
      while (*c == ' ' || *c == '\t') ++c;
      unsigned long long mask = 0;
      for (;; ++c) {
        int digit = *c >= '0' && *c <= '9'   ? *c - '0'
                    : *c >= 'a' && *c <= 'f' ? *c - 'a' + 10
                                             : -1;
        if (digit < 0) return mask;
        mask = mask << 4 | static_cast<unsigned long long>(digit);
      }
    }
    while (*line != '\0' && *line != '\n') ++line;
    if (*line == '\n') ++line;
  }
  return 0;
}

// True if the thread whose /proc directory is `task` is being killed with
// its process (SIGKILL pending: a crash, exit_group and SIGKILL all send it
// to every thread, which a thread stuck on the mount never takes), dumps
// core (PF_DUMPCORE) or, for the process's main thread, exits (PF_EXITING).
// Threads that end normally have neither. A thread gone counts as not.
bool TaskDying(const char* task, bool main_thread) {
  char buf[4096];
  if (ReadProcFile(task, "status", buf, sizeof(buf))) {
    constexpr unsigned long long kSigkill = 1ull << (SIGKILL - 1);
    if (((MaskAfter(buf, "SigPnd:") | MaskAfter(buf, "ShdPnd:")) & kSigkill) != 0) return true;
  }
  if (!ReadProcFile(task, "stat", buf, sizeof(buf))) return false;
  // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may
  // hold spaces and parentheses, so count from the last ')'.
  const char* p = nullptr;
  for (const char* c = buf; *c != '\0'; ++c) {
    if (*c == ')') p = c;
  }
  if (p == nullptr || p[1] != ' ') return false;
  p += 2;
  for (int field = 3; field < 9; ++field) {  // on to field 9, flags
    while (*p != ' ' && *p != '\0') ++p;
    if (*p == '\0') return false;
    ++p;
  }
  unsigned long flags = 0;
  for (; *p >= '0' && *p <= '9'; ++p) flags = flags * 10 + static_cast<unsigned long>(*p - '0');
  constexpr unsigned long kPfExiting = 0x4, kPfDumpcore = 0x200;  // include/linux/sched.h
  return (flags & kPfDumpcore) != 0 || (main_thread && (flags & kPfExiting) != 0);
}

// True once the process whose task directory is `task_dir`
// ("/proc/<pid>/task") is dying (TaskDying of any of its threads) or gone.
// Only system calls and stack buffers: it runs in a child forked from a
// multi-threaded process.
bool ProcessExiting(const char* task_dir, const char* main_tid) {
  int dir = ::open(task_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return true;
  bool exiting = false;
  alignas(8) char entries[4096];
  long n;
  while (!exiting && (n = ::syscall(SYS_getdents64, dir, entries, sizeof(entries))) > 0) {
    for (long at = 0; at < n && !exiting;) {
      // struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
      unsigned short reclen;
      std::memcpy(&reclen, entries + at + 16, sizeof(reclen));
      const char* name = entries + at + 19;
      if (name[0] >= '0' && name[0] <= '9') {
        char task[128] = "";
        Append(task, sizeof(task), task_dir);
        Append(task, sizeof(task), "/");
        Append(task, sizeof(task), name);
        exiting = TaskDying(task, std::strcmp(name, main_tid) == 0);
      }
      at += reclen;
    }
  }
  ::close(dir);
  return exiting;
}

// A child process that takes the mount at `path` down when this process
// dies without doing so. A crash with a thread waiting on the process's own
// mount would otherwise never end: the kernel waits, uninterruptibly, for a
// request a dead worker had taken (no timeout or signal ends it), and a
// plain crash leaves a dead mount behind. MNT_FORCE makes FUSE abort the
// connection (fuse_umount_begin); the lazy unmount then detaches the rest.
// The child closes every inherited descriptor (a /dev/fuse descriptor kept
// open would keep the connection alive), ignores the signals a test runner
// sends a process group to stop it, and uses only system calls: it is
// forked from a multi-threaded process. Root only (umount2); -1 if it could
// not start.
pid_t StartWatchdog(const std::string& path) {
  if (::geteuid() != 0) return -1;
  const pid_t parent = ::getpid();
  const std::string task_dir = absl::StrCat("/proc/", parent, "/task");
  const std::string main_tid = absl::StrCat(parent);
  const char* mountpoint = path.c_str();
  pid_t pid = ::fork();
  if (pid != 0) return pid;  // the parent (or -1)
  ::syscall(SYS_close_range, 3u, ~0u, 0u);
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGTERM, SIG_IGN);
  ::signal(SIGHUP, SIG_IGN);
  const struct timespec tick = {0, 20 * 1000 * 1000};
  while (::getppid() == parent && !ProcessExiting(task_dir.c_str(), main_tid.c_str())) {
    ::nanosleep(&tick, nullptr);
  }
  ::umount2(mountpoint, UMOUNT_NOFOLLOW | MNT_FORCE);
  ::umount2(mountpoint, UMOUNT_NOFOLLOW | MNT_DETACH);
  ::rmdir(mountpoint);
  ::_exit(0);
}

MountOptions TestMountOptions() {
  MountOptions options;
  options.fsname = "fusekit-test";
  return options;
}

}  // namespace

std::string MountUnavailableReason() {
  if (::access("/dev/fuse", F_OK) != 0) return "/dev/fuse is absent";
  if (::geteuid() != 0 && ::access("/usr/bin/fusermount3", X_OK) != 0 &&
      ::access("/bin/fusermount3", X_OK) != 0) {
    return "not root and no fusermount3";
  }
  return "";
}

bool IsMountUnavailable(const absl::Status& status) {
  if (absl::IsPermissionDenied(status)) return true;
  // fusekit::Mount also says Unavailable when the filesystem's own INIT
  // failed; that is the filesystem's fault, not the machine's.
  return absl::IsUnavailable(status) && !absl::StrContains(status.message(), "FUSE_INIT");
}

absl::StatusOr<std::unique_ptr<TestMount>> TestMount::Create(
    RawFileSystem* fs, const MountOptions& mount_options, const ServerOptions& server_options) {
  const char* tmp = ::getenv("TEST_TMPDIR");
  return CreateIn(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", fs, mount_options,
                  server_options);
}

absl::StatusOr<std::unique_ptr<TestMount>> TestMount::CreateIn(
    absl::string_view parent_dir, RawFileSystem* fs, const MountOptions& mount_options,
    const ServerOptions& server_options) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) return absl::UnavailableError(reason);
  std::string dir = absl::StrCat(parent_dir, "/mnt.XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", DescribeErrno(Errno::Last())));
  }
  absl::StatusOr<std::unique_ptr<Server>> server = Mount(dir, fs, mount_options, server_options);
  if (!server.ok()) {
    ::rmdir(dir.c_str());
    return server.status();
  }
  return std::unique_ptr<TestMount>(new TestMount(dir, std::move(*server)));
}

TestMount::TestMount(std::string path, std::unique_ptr<Server> server)
    : path_(std::move(path)), server_(std::move(server)), watchdog_(StartWatchdog(path_)) {}

TestMount::~TestMount() {
  // This process takes the mount down itself.
  if (watchdog_ > 0) {
    ::kill(watchdog_, SIGKILL);
    while (::waitpid(watchdog_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  // Noted before unmounting: afterwards the mount is no longer listed.
  std::string device = FuseDeviceAt(path_);
  if (::geteuid() == 0 && !device.empty() &&
      ::umount2(path_.c_str(), UMOUNT_NOFOLLOW) != 0 && errno == EBUSY) {
    // Busy (a descriptor left open in it): MNT_FORCE makes FUSE abort the
    // connection (fuse_umount_begin), so the server's workers end; the lazy
    // unmount below then detaches what remains.
    ::umount2(path_.c_str(), UMOUNT_NOFOLLOW | MNT_FORCE);
  }
  // Whatever is still there (and the fusermount3 case), lazily.
  absl::Status unmounted = UnmountPath(path_);
  if (!unmounted.ok()) {
    std::fprintf(stderr, "fusekit TestMount: unmounting %s: %s\n", path_.c_str(),
                 unmounted.ToString().c_str());
  }
  // A lazily detached mount lives on while something uses it, and so does
  // the connection the workers read; end it rather than wait for ever.
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (server_->running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  if (server_->running() && !device.empty()) AbortConnection(device);
  server_.reset();
  ::rmdir(path_.c_str());
}

std::string TestMount::Path(absl::string_view relative) const {
  if (!relative.empty() && relative[0] == '/') relative.remove_prefix(1);
  return absl::StrCat(path_, "/", relative);
}

void MountForTest(RawFileSystem* fs, const MountOptions& mount_options,
                  const ServerOptions& server_options, std::unique_ptr<TestMount>* mount) {
  mount->reset();
  absl::StatusOr<std::unique_ptr<TestMount>> made =
      TestMount::Create(fs, mount_options, server_options);
  if (made.ok()) {
    *mount = std::move(*made);
    return;
  }
  if (IsMountUnavailable(made.status())) {
    GTEST_SKIP() << "cannot mount a FUSE filesystem here: " << made.status();
  }
  ADD_FAILURE() << "mounting failed: " << made.status();
}

MountOptions MountedFsTest::GetMountOptions() const { return TestMountOptions(); }

void MountedFsTest::SetUp() {
  MountForTest(FileSystem(), GetMountOptions(), GetServerOptions(), &mount_);
  if (mount_ == nullptr) return;
  client_ = std::make_unique<RealFsClient>(mount_->path());
}

void MountedFsTest::TearDown() {
  client_.reset();  // closes what the test left open, so the unmount is clean
  mount_.reset();
}

std::string FsBackendName(const ::testing::TestParamInfo<FsBackend>& info) {
  return info.param == FsBackend::kFakeKernel ? "FakeKernel" : "RealMount";
}

MountOptions FsClientTest::GetMountOptions() const { return TestMountOptions(); }

void FsClientTest::SetUp() {
  if (GetParam() == FsBackend::kFakeKernel) {
    kernel_ = std::make_unique<FakeKernel>(FileSystem(), GetFakeKernelOptions());
    ASSERT_TRUE(kernel_->initialized()) << "FUSE_INIT failed on the fake kernel";
    vfs_ = std::make_unique<FakeVfs>(kernel_.get());
    client_ = vfs_.get();
    return;
  }
  MountForTest(FileSystem(), GetMountOptions(), GetServerOptions(), &mount_);
  if (mount_ == nullptr) return;
  real_client_ = std::make_unique<RealFsClient>(mount_->path());
  client_ = real_client_.get();
}

void FsClientTest::TearDown() {
  client_ = nullptr;
  vfs_.reset();     // closes its files
  kernel_.reset();  // audits lookup counts, forgets everything
  real_client_.reset();
  mount_.reset();
}

}  // namespace fusekit
