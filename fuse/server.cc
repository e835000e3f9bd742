#include "fuse/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "fuse/aligned_buffer.h"
#include "fuse/request_pipe.h"
#include "fuse/uring_channels.h"
#include "fuse/write_payload.h"

namespace fusekit {
namespace {

int DefaultWorkers() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

// Self-pipe for WaitForUnmountOrSignal(): the handler only writes a byte.
int g_signal_pipe[2] = {-1, -1};

constexpr int kTerminationSignals[3] = {SIGINT, SIGTERM, SIGHUP};
constexpr size_t kSplicePageSize = 4096;

void OnSignal(int signo) {
  unsigned char b = static_cast<unsigned char>(signo);
  int saved = errno;
  if (g_signal_pipe[1] >= 0) (void)!::write(g_signal_pipe[1], &b, 1);
  errno = saved;
}

bool InstallSignalHandlers(struct sigaction old[3]) {
  if (::pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  struct sigaction action = {};
  action.sa_handler = OnSignal;
  sigemptyset(&action.sa_mask);
  for (int i = 0; i < 3; ++i) sigaction(kTerminationSignals[i], &action, &old[i]);
  return true;
}

// One request off `fd`: spliced into `pipe` when there is one, else read.
ssize_t TakeRequest(int fd, RequestPipe* pipe, uint8_t* buffer, size_t size) {
  return pipe ? pipe->SpliceFrom(fd, size) : ::read(fd, buffer, size);
}

}  // namespace

std::unique_ptr<Server> Server::Serve(RawFileSystem* fs, ScopedFd fd,
                                      const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server(fs, std::move(fd), nullptr, options));
  server->Start();
  return server;
}

Server::Server(RawFileSystem* fs, ScopedFd fd, std::unique_ptr<KernelMount> mount,
               const ServerOptions& options)
    : options_(options), mount_(std::move(mount)), own_fd_(std::move(fd)) {
  main_fd_ = mount_ ? mount_->fd() : own_fd_.get();
  struct stat st;
  is_device_ = ::fstat(main_fd_, &st) == 0 && S_ISCHR(st.st_mode);
  // With splice_read every request must fit a worker's pipe, which without
  // CAP_SYS_RESOURCE is at most pipe-max-size (1 MiB by default): offer a
  // max_write that fits (1 MiB less a page), rather than read(2) them all.
  InitOptions init = options.init;
  init.io_uring = options.io_uring && is_device_;
  size_t pipe_bytes = 0;
  if (options.splice_read && is_device_) {
    const size_t want = Session::BufferSizeFor(init);
    pipe_bytes = RequestPipe::LargestCapacity(want);
    if (pipe_bytes != 0 && pipe_bytes < want && pipe_bytes > 2 * kSplicePageSize) {
      init.max_write =
          std::min<uint32_t>(init.max_write, static_cast<uint32_t>(pipe_bytes - kSplicePageSize));
    }
  }
  session_ = std::make_unique<Session>(fs, init, options.debug, options.log, options.writer);
  session_->SetDeviceTransport(is_device_);
  if (init.max_write != options.init.max_write) {
    session_->Log(absl::StrCat("fusekit: splice_read: max_write ", options.init.max_write,
                               " lowered to ", init.max_write, " to fit a pipe of ", pipe_bytes,
                               " bytes (/proc/sys/fs/pipe-max-size)"));
  }
  notifier_ = std::make_unique<Notifier>(session_.get(), main_fd_);
}

Server::~Server() {
  Stop();
  Wait();
  notifier_.reset();
}

const std::string& Server::mountpoint() const { return mount_ ? mount_->mountpoint() : empty_; }

void Server::Start() {
  int n = options_.workers > 0 ? options_.workers : DefaultWorkers();
  std::vector<int> fds = {main_fd_};
  for (int i = 1; i < n; ++i) {
    int fd = main_fd_;
    if (is_device_ && options_.clone_fd) {
      // A cloned fd has its own processing queue in the kernel; replies
      // must go back on the fd the request came from (Reply keeps it).
      ScopedFd clone(::open("/dev/fuse", O_RDWR | O_CLOEXEC));
      uint32_t master = static_cast<uint32_t>(main_fd_);
      if (clone.valid() && ::ioctl(clone.get(), abi::kDevIocClone, &master) == 0) {
        fd = clone.get();
        clone_fds_.push_back(std::move(clone));
      } else {
        session_->Log(absl::StrCat("fusekit: FUSE_DEV_IOC_CLONE failed (",
                                   DescribeErrno(Errno::Last()), "); workers share one fd"));
      }
    }
    fds.push_back(fd);
  }
  running_workers_.store(n);
  // One worker busy-polls (spin_us), on a descriptor of its own: the others
  // sleep in read(2), where the kernel wakes one of them per request.
  bool spin = options_.spin_us > 0 && is_device_;
  if (spin && std::count(fds.begin(), fds.end(), fds[0]) > 1) {
    session_->Log("fusekit: spin_us: the workers share one descriptor; not spinning");
    spin = false;
  }
  for (size_t i = 0; i < fds.size(); ++i) {
    const int fd = fds[i];
    const bool spins = spin && i == 0;
    workers_.emplace_back([this, fd, spins] { WorkerLoop(fd, spins); });
  }
}

void Server::AfterInit() {
  if (!session_->initialized() || init_settled_.exchange(true)) return;
  // The kernel lowered the mount's read-ahead to INIT's max_readahead
  // (which it offered as its 128 KiB default) while taking the reply.
  if (mount_) {
    absl::Status s = mount_->ReapplyReadAhead();
    if (!s.ok()) session_->Log(absl::StrCat("fusekit: ", s.message()));
  }
  // INIT's reply is processed by now (the kernel does it inside our
  // write), so the kernel takes ring entries.
  if (session_->connection().Has(abi::kInitOverIoUring) && !stopping_.load()) {
    MutexLock lock(&uring_mu_);
    auto channels = std::make_unique<UringChannels>(session_.get(), main_fd_,
                                                    options_.io_uring_threads, mountpoint());
    UringChannels* raw = channels.get();
    session_->SetRingWriter(
        [raw](int channel, const struct iovec* iov, int count) {
          return raw->Write(channel, iov, count);
        });
    uring_ = std::move(channels);
    uring_->Start();
    if (session_->debug()) {
      session_->Log(absl::StrCat("fusekit: io_uring: ", uring_->queues(), " queues, ",
                                 options_.io_uring_threads, " threads each"));
    }
  }
}

uint64_t Server::io_uring_requests() {
  MutexLock lock(&uring_mu_);
  return uring_ ? uring_->requests() : uring_requests_;
}

void Server::LogSpliceReadFallback(absl::string_view why) {
  if (splice_read_fallback_logged_.exchange(true)) return;
  session_->Log(absl::StrCat("fusekit: splice_read: ", why, "; reading requests with read(2)"));
}

ssize_t Server::SpinForRequest(int fd, RequestPipe* pipe, uint8_t* buffer, size_t size) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point until = Clock::now() + std::chrono::microseconds(options_.spin_us);
  for (;;) {
    ssize_t n = TakeRequest(fd, pipe, buffer, size);
    if (n >= 0 || errno != EAGAIN || stopping_.load(std::memory_order_relaxed)) return n;
    if (Clock::now() < until) continue;
    // Nothing came: sleep until a request (or the end of the connection)
    // does. Every sleeping worker wakes for it; the ones that find EAGAIN
    // sleep again.
    struct pollfd p = {.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
  }
}

void Server::WorkerLoop(int fd, bool spins) {
  // One buffer per worker, reused for every request; sized for max_write,
  // and placed so that a WRITE's data (after its header and fuse_write_in)
  // starts on a page boundary, where the kernel copies into it and pwrite
  // copies out of it fastest.
  size_t size = session_->BufferSize();
  AlignedBuffer buffer(size, sizeof(abi::fuse_in_header) + sizeof(abi::fuse_write_in));
  // With splice_read, requests come through this pipe (sized before the
  // first splice: the kernel fails a request that does not fit with EIO).
  std::unique_ptr<RequestPipe> pipe;
  if (options_.splice_read && is_device_) {
    pipe = std::make_unique<RequestPipe>();
    absl::Status opened = pipe->Open(size);
    if (!opened.ok()) {
      LogSpliceReadFallback(opened.message());
      pipe.reset();
    }
  }
  // Busy-polling needs reads that return EAGAIN instead of sleeping.
  const bool spin = spins && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) == 0;
  bool channel_gone = false;
  for (;;) {
    ssize_t n = spin ? SpinForRequest(fd, pipe.get(), buffer.data(), size)
                     : TakeRequest(fd, pipe.get(), buffer.data(), size);
    if (n < 0) {
      int err = errno;
      // EINTR: a signal; EAGAIN: another worker took it; ENOENT: the
      // request was interrupted away before we read it.
      if (err == EINTR || err == EAGAIN || err == ENOENT) {
        if (stopping_.load()) break;
        continue;
      }
      if (pipe && err != ENODEV) {
        // The device refuses to splice (EINVAL), or the pipe was short of
        // room after all (EIO: that request failed): read from now on.
        LogSpliceReadFallback(absl::StrCat("splice from the channel failed: ",
                                           DescribeErrno(Errno(err))));
        pipe.reset();
        if (stopping_.load()) break;
        continue;
      }
      if (err != ENODEV && !stopping_.load()) {
        session_->Log(absl::StrCat("fusekit: read from channel failed: ",
                                   DescribeErrno(Errno(err))));
      }
      channel_gone = err == ENODEV;  // unmounted or aborted
      break;
    }
    if (n == 0) {  // the socket's peer (fake kernel) hung up
      channel_gone = true;
      break;
    }
    if (pipe) {
      RequestPipe::Taken taken;
      // A pipe left holding bytes is replaced (or given up for read(2)).
      auto replace_pipe = [&](absl::string_view what) {
        session_->Log(what);
        absl::Status reopened = pipe->Open(size);
        if (!reopened.ok()) {
          LogSpliceReadFallback(reopened.message());
          pipe.reset();
        }
      };
      if (!pipe->Take(static_cast<size_t>(n), buffer.data(), size, session_->WriteArgSize(),
                      &taken)) {
        // Cannot happen (the pipe holds what splice said); the request is
        // lost and its caller waits until the connection ends.
        replace_pipe("fusekit: a spliced request could not be read back out of the pipe");
        continue;
      }
      if (taken.in_pipe > 0) {
        WritePayload payload(pipe->read_end(), taken.in_pipe, buffer.data() + taken.in_buffer);
        session_->HandleMessage(fd, absl::MakeConstSpan(buffer.data(), taken.in_buffer),
                                &payload);
        // The next splice needs an empty pipe, whatever the handler did.
        if (!payload.Discard()) {
          replace_pipe("fusekit: a WRITE's data could not be drained from the pipe");
        }
        continue;
      }
      n = static_cast<ssize_t>(taken.in_buffer);
    }
    session_->HandleMessage(fd, absl::MakeConstSpan(buffer.data(), static_cast<size_t>(n)));
    if (!init_settled_.load(std::memory_order_relaxed)) AfterInit();
  }
  // Handlers still waiting on other workers (a lock wait polling
  // Interrupted()) would keep Wait() from returning: tell them.
  if (channel_gone || stopping_.load()) session_->ConnectionEnded();
  running_workers_.fetch_sub(1);
}

int Server::DeviceIoctl(unsigned long request, void* arg) {
  if (options_.device_ioctl) return options_.device_ioctl(main_fd_, request, arg);
  int result = ::ioctl(main_fd_, request, arg);
  return result < 0 ? -errno : result;
}

Errno Server::OpenBacking(int backing_fd, int32_t* backing_id) {
  if (!session_->initialized() || !session_->connection().Has(abi::kInitPassthrough)) {
    return Errno(EOPNOTSUPP);
  }
  abi::fuse_backing_map map{};
  map.fd = backing_fd;
  int result = DeviceIoctl(abi::kDevIocBackingOpen, &map);
  if (result < 0) return Errno(-result);
  if (result == 0) return Errno(EIO);  // ids start at 1
  *backing_id = result;
  return kOk;
}

Errno Server::CloseBacking(int32_t backing_id) {
  uint32_t id = static_cast<uint32_t>(backing_id);
  int result = DeviceIoctl(abi::kDevIocBackingClose, &id);
  return result < 0 ? Errno(-result) : kOk;
}

void Server::Wait() {
  MutexLock lock(&wait_mu_);
  if (!joined_) {
    for (std::thread& t : workers_) t.join();
    // The rings end with the connection (the kernel fails their entries);
    // Stop() in case it has not ended.
    MutexLock uring_lock(&uring_mu_);
    if (uring_) uring_requests_ = uring_->requests();
    uring_.reset();
    joined_ = true;
  }
  if (abort_watchdog_.joinable()) abort_watchdog_.join();
}

absl::Status Server::Unmount() {
  if (!mount_) return absl::FailedPreconditionError("server was not mounted by fusekit::Mount");
  return mount_->Unmount();
}

void Server::Stop() {
  if (stopping_.exchange(true)) return;
  if (mount_) {
    absl::Status s = mount_->Unmount(KernelMount::UnmountMode::kAbortIfBusy);
    if (!s.ok()) session_->Log(absl::StrCat("fusekit: unmount failed: ", s.ToString()));
    // Files still open keep a lazily unmounted connection, and so our
    // blocked reads, alive: abort it after a grace period rather than hang.
    abort_watchdog_ = std::thread([this] {
      absl::Time deadline = absl::Now() + absl::Seconds(2);
      while (running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
      if (!running()) return;
      absl::Status abort = mount_->AbortConnection();
      session_->Log(absl::StrCat("fusekit: connection still busy after unmount; abort: ",
                                 abort.ToString()));
    });
  } else if (!is_device_) {
    // Wakes every worker blocked in read() with end-of-file.
    ::shutdown(main_fd_, SHUT_RDWR);
  }
  {
    MutexLock lock(&uring_mu_);
    if (uring_) uring_->Stop();
  }
  // Handlers waiting for an event (a lock wait polling Interrupted()) learn
  // here that nobody waits for them: a worker that reads the end of the
  // connection would tell them too, but when every worker is inside such a
  // handler none is left to read it, and Wait() would hang.
  session_->ConnectionEnded();
}

bool Server::WaitInitialized(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (session_->initialized()) return true;
    if (!running()) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return session_->initialized();
}

int Server::WaitForUnmountOrSignal() {
  bool installed_here = g_signal_pipe[0] < 0;
  struct sigaction old[3];
  if (installed_here && !InstallSignalHandlers(old)) {
    Wait();
    return 0;
  }
  int received = 0;
  while (running()) {
    struct pollfd p = {g_signal_pipe[0], POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      unsigned char b;
      if (::read(g_signal_pipe[0], &b, 1) == 1) {
        received = b;
        Stop();
        break;
      }
    }
  }
  Wait();
  if (installed_here) {
    for (int i = 0; i < 3; ++i) sigaction(kTerminationSignals[i], &old[i], nullptr);
    ::close(g_signal_pipe[0]);
    ::close(g_signal_pipe[1]);
    g_signal_pipe[0] = g_signal_pipe[1] = -1;
  }
  return received;
}

void CatchTerminationSignals() {
  if (g_signal_pipe[0] >= 0) return;
  struct sigaction old[3];
  InstallSignalHandlers(old);
}

absl::StatusOr<std::unique_ptr<Server>> Mount(absl::string_view mountpoint, RawFileSystem* fs,
                                              const MountOptions& mount_options,
                                              const ServerOptions& server_options) {
  absl::StatusOr<std::unique_ptr<KernelMount>> mount =
      KernelMount::Create(mountpoint, mount_options);
  if (!mount.ok()) return mount.status();
  std::unique_ptr<Server> server(
      new Server(fs, ScopedFd(), std::move(*mount), server_options));
  server->Start();
  // The kernel sends INIT as soon as the mount exists; a mount is only
  // usable once it is answered, and a refusal is best reported here.
  if (!server->WaitInitialized(absl::Seconds(30))) {
    std::string where = server->mountpoint();
    server.reset();  // unmounts
    return absl::UnavailableError(
        absl::StrCat("FUSE_INIT on ", where, " did not complete (see the log)"));
  }
  return server;
}

}  // namespace fusekit
