// Server: serves a RawFileSystem on a FUSE connection with worker threads,
// and Mount(), which puts it on a directory.
//
//   MyFs fs;
//   auto server = fusekit::Mount("/mnt/x", &fs, {.fsname = "myfs"}, {});
//   if (!server.ok()) { ...server.status()... }
//   (*server)->WaitForUnmountOrSignal();   // Ctrl-C unmounts
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuse/mount.h"
#include "fuse/mutex.h"
#include "fuse/notifier.h"
#include "fuse/raw_filesystem.h"
#include "fuse/scoped_fd.h"
#include "fuse/session.h"

namespace fusekit {

class RequestPipe;
class UringChannels;

struct ServerOptions {
  // Worker threads reading requests: 0 means one per core, 1 is the
  // single-threaded mode (requests are then handled strictly in order).
  int workers = 0;
  // On /dev/fuse, give each worker its own fd (FUSE_DEV_IOC_CLONE) so the
  // kernel spreads requests without a shared queue lock in the daemon.
  bool clone_fd = true;
  // Take requests off /dev/fuse with splice(2) into a per-worker pipe
  // (fuse/request_pipe.h), so that a WRITE's data stays there and reaches
  // the filesystem as a WritePayload it can splice on to a file without a
  // copy (RawFileSystem::WriteBuf). Off by default: it costs a system call
  // per request (splice, then read), which metadata-heavy loads feel, and
  // gains only where data goes to a file descriptor. A worker whose pipe
  // cannot be made big enough (max_write + a page, rounded up to a power of
  // two pages; above /proc/sys/fs/pipe-max-size, 1 MiB by default, it
  // needs CAP_SYS_RESOURCE: so with init.max_write at its 1 MiB default;
  // 1 MiB less a page needs no privilege) or whose splice is refused reads
  // with read(2) instead, and the log says so once. Never used on the fake
  // kernel's socket.
  bool splice_read = false;
  // Busy-polling (/dev/fuse only): after each request one worker keeps
  // asking for the next one for up to this many microseconds before it
  // sleeps, so a caller issuing requests back to back (create, write, stat
  // in a loop) finds a worker awake instead of waiting for one to be
  // scheduled. That worker burns a CPU while it spins: for machines with a
  // core to spare. The other workers sleep in read(2) as always; with
  // workers sharing one descriptor (clone_fd off or refused) nobody spins.
  // 0 (default): no spinning.
  uint32_t spin_us = 0;
  // FUSE over io-uring (/dev/fuse only; Linux 6.14+ with the fuse module's
  // `enable_uring` parameter on, which is off unless an administrator sets
  // it): requests then come through per-CPU rings (fuse/uring_channels.h),
  // each served by a thread pinned to its CPU, so a request is taken on its
  // caller's CPU, and a reply and the next request cost one system call;
  // `io_uring_threads` - 1 more per CPU stand by for handlers that block.
  // The workers keep reading /dev/fuse for what does not come through the
  // rings (FORGET, INTERRUPT). When the kernel does not offer it, nothing
  // changes (connection() shows whether it was granted).
  bool io_uring = false;
  int io_uring_threads = 2;
  // One line per request and reply on `log`.
  bool debug = false;
  LogSink log;  // default: stderr
  InitOptions init;
  // Test seam: how replies and notifications are written (fuse/session.h).
  ChannelWriter writer;
  // Test seam: ioctl(2) on the channel fd for the passthrough registry
  // (OpenBacking/CloseBacking). Returns the ioctl's result, or -errno.
  // Null: ioctl(2) itself.
  std::function<int(int fd, unsigned long request, void* arg)> device_ioctl;
};

// A running server on one connection. Thread-safe. Destroying it unmounts
// (if it mounted) and waits for its workers.
class Server {
 public:
  // Serves `fd`: a /dev/fuse descriptor of a mounted connection, or one end
  // of a SOCK_SEQPACKET socketpair whose other end plays the kernel (the
  // fake kernel in testing/). Returns at once; workers run in the background.
  static std::unique_ptr<Server> Serve(RawFileSystem* fs, ScopedFd fd,
                                       const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Blocks until the connection ends: unmounted (from here or from outside),
  // DESTROY, the socket's peer closed, or Stop().
  void Wait();
  // Ends the connection: unmounts a mounted server (aborting the connection
  // if files are still open, so nothing waits on them), shuts a socket
  // down. Returns at once; Wait() to see the workers leave.
  void Stop();
  // Unmounts (mounted servers only); the workers then end by themselves.
  absl::Status Unmount();
  // Serves until unmounted from outside, or until SIGINT, SIGTERM or SIGHUP
  // arrives, which unmounts. Returns the signal number, or 0. Installs
  // handlers for those signals for the duration of the call, unless
  // CatchTerminationSignals() did already (which also catches a signal
  // that came before this call).
  int WaitForUnmountOrSignal();

  // --- FUSE passthrough (InitOptions::passthrough) -----------------------
  // Registers `backing_fd` (an open regular file; the kernel keeps its own
  // reference, so the caller may close it) with the kernel and returns its
  // backing id for an open reply's FOPEN_PASSTHROUGH (OpenParam::backing_id).
  // Errors: EOPNOTSUPP when passthrough was not negotiated; from the kernel
  // EPERM (no CAP_SYS_ADMIN), EINVAL/EISDIR (not a regular file), ELOOP (a
  // backing file on a stacked filesystem), ENOTTY (not /dev/fuse).
  Errno OpenBacking(int backing_fd, int32_t* backing_id);
  // Drops a backing id. Files the kernel already opened with it keep
  // working; a new open must not name it any more.
  Errno CloseBacking(int32_t backing_id);

  // Waits for FUSE_INIT; false on timeout or if the connection ended first.
  bool WaitInitialized(absl::Duration timeout);
  // The negotiated settings; valid once WaitInitialized() returned true.
  const ConnectionInfo& connection() const { return session_->connection(); }
  Notifier& notifier() { return *notifier_; }
  // Empty unless this server mounted itself.
  const std::string& mountpoint() const;
  bool running() const { return running_workers_.load() > 0; }
  // Requests served through io_uring rings so far (0 without them).
  uint64_t io_uring_requests();

 private:
  friend absl::StatusOr<std::unique_ptr<Server>> Mount(absl::string_view, RawFileSystem*,
                                                       const MountOptions&,
                                                       const ServerOptions&);
  Server(RawFileSystem* fs, ScopedFd fd, std::unique_ptr<KernelMount> mount,
         const ServerOptions& options);
  void Start();
  // `spins`: this worker busy-polls (ServerOptions::spin_us).
  void WorkerLoop(int fd, bool spins);
  // The next request on `fd` (non-blocking) with ServerOptions::spin_us:
  // read (or spliced into `pipe`) as soon as it is there, polling for up
  // to spin_us before sleeping in poll(2). As read(2) returns.
  ssize_t SpinForRequest(int fd, RequestPipe* pipe, uint8_t* buffer, size_t size);
  // splice_read could not be used by a worker: logged once per server.
  void LogSpliceReadFallback(absl::string_view why);
  // ioctl(2) on the main channel fd (or the test seam): result or -errno.
  int DeviceIoctl(unsigned long request, void* arg);

  const ServerOptions options_;
  std::unique_ptr<KernelMount> mount_;  // null when serving a socket
  ScopedFd own_fd_;                     // the main fd when not mounted here
  int main_fd_;
  bool is_device_ = false;
  std::unique_ptr<Session> session_;
  std::unique_ptr<Notifier> notifier_;
  std::vector<ScopedFd> clone_fds_;
  std::vector<std::thread> workers_;
  std::atomic<int> running_workers_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> splice_read_fallback_logged_{false};
  // What is done once INIT is answered (the mount's read-ahead, the rings).
  void AfterInit();
  Mutex uring_mu_;
  std::unique_ptr<UringChannels> uring_ ABSL_GUARDED_BY(uring_mu_);
  uint64_t uring_requests_ ABSL_GUARDED_BY(uring_mu_) = 0;  // once uring_ is gone
  std::atomic<bool> init_settled_{false};
  std::thread abort_watchdog_;  // started by Stop() on a mounted server
  Mutex wait_mu_;
  bool joined_ ABSL_GUARDED_BY(wait_mu_) = false;
  std::string empty_;
};

// Catches SIGINT, SIGTERM and SIGHUP from now on, only noting them, for a
// later WaitForUnmountOrSignal(). Call it before Mount(): a signal that
// arrives while mounting is then not lost (the default action would kill
// the process and leave the mount behind).
void CatchTerminationSignals();

// Mounts `fs` on `mountpoint` and serves it. Returns once the kernel's INIT
// is answered (so the mount is usable), or a Status naming what is wrong:
// the mountpoint (missing, not a directory, already a FUSE mount), the
// options, /dev/fuse, permissions, or INIT itself.
absl::StatusOr<std::unique_ptr<Server>> Mount(absl::string_view mountpoint, RawFileSystem* fs,
                                              const MountOptions& mount_options,
                                              const ServerOptions& server_options);

}  // namespace fusekit
