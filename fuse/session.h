// Session: one FUSE connection's protocol state, shared by its workers.
//
// Bytes in, bytes out: HandleMessage() takes one message read from a channel
// fd, decodes it, answers INIT / INTERRUPT / DESTROY / NOTIFY_REPLY itself,
// dispatches the rest to the RawFileSystem, and replies are written back to
// the same fd. It knows nothing of threads or mounting (fuse/server.h) and
// works the same over /dev/fuse, a socketpair (the fake kernel) or a fuzzer.
// Thread-safe: any number of workers may call HandleMessage concurrently.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "fuse/raw_filesystem.h"
#include "fuse/reply.h"
#include "fuse/request.h"
#include "fuse/write_payload.h"

namespace fusekit {

// What the filesystem asks of FUSE_INIT. Capabilities are granted only when
// the kernel offers them: granted = want & offered & ~refuse.
struct InitOptions {
  // Largest WRITE the kernel may send (4 KiB .. 1 MiB); above 128 KiB it
  // needs FUSE_MAX_PAGES, which is asked for automatically.
  uint32_t max_write = 1 << 20;
  uint32_t max_readahead = 1 << 20;
  uint16_t max_background = 0;        // 0: the kernel's default
  uint16_t congestion_threshold = 0;  // 0: the kernel's default
  uint32_t time_gran = 1;             // timestamp granularity in ns
  uint64_t want = kDefaultWant;
  uint64_t refuse = 0;
  // false: the first INTERRUPT is answered ENOSYS and the kernel stops
  // sending them.
  bool interrupts = true;
  // READ replies from a file descriptor (ReplyData::DataFromFd) go out with
  // splice(2): the file's pages move through a per-worker pipe to /dev/fuse
  // without being copied into the daemon. Used only on /dev/fuse (not on
  // the fake kernel's socket) and when the kernel offers SPLICE_WRITE;
  // otherwise, or false, the data is read into a buffer and written.
  bool splice_write = true;
  // FUSE passthrough (Linux 6.9+): asks FUSE_PASSTHROUGH (max_stack_depth
  // 1), so opens may name a backing file (Server::OpenBacking) whose reads
  // and writes the kernel then does itself. Registering backing files needs
  // CAP_SYS_ADMIN. The kernel refuses passthrough together with the
  // writeback cache: when both are asked, passthrough wins and
  // kInitWritebackCache is not granted.
  bool passthrough = false;
  // FUSE over io-uring (Linux 6.14+, with the fuse module's enable_uring
  // parameter on): asks kInitOverIoUring. Set by the Server for
  // ServerOptions::io_uring, which serves the rings (fuse/uring_channels.h).
  bool io_uring = false;

  static constexpr uint64_t kDefaultWant =
      abi::kInitAsyncRead | abi::kInitBigWrites | abi::kInitAtomicOTrunc |
      abi::kInitAutoInvalData | abi::kInitAsyncDio | abi::kInitParallelDirops |
      abi::kInitMaxPages | abi::kInitExt | abi::kInitHasIoctlDir;
};

// Channel ids -2 and below name io_uring ring entries (fuse/uring_channels.h)
// where a file descriptor would otherwise be (-1 is no channel: tests).
inline bool IsRingChannel(int channel) { return channel <= -2; }

// Writes one line; the default writes to stderr.
using LogSink = std::function<void(absl::string_view line)>;

// Writes one message to a channel fd; the default is writev(2). A test seam:
// a test can make the "kernel" refuse a reply (ENOENT: the request was
// abandoned) to check that the layers above undo their bookkeeping.
using ChannelWriter = std::function<Errno(int fd, const struct iovec* iov, int count)>;

class Session {
 public:
  Session(RawFileSystem* fs, InitOptions init, bool debug, LogSink log,
          ChannelWriter writer = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Handles one complete message read from `fd`; replies go to `fd`.
  // `payload`: for a WRITE taken with splice (fuse/request_pipe.h), its
  // data, left in the worker's pipe; `message` then holds the header and
  // fuse_write_in only. The caller discards what the handler leaves of it.
  void HandleMessage(int fd, absl::Span<const uint8_t> message,
                     WritePayload* payload = nullptr);
  // Called once before serving: whether the channel fds are /dev/fuse
  // descriptors (splice works) or sockets.
  void SetDeviceTransport(bool device) { device_ = device; }
  // Replies to requests handled with a ring channel id (IsRingChannel:
  // taken from an io_uring ring entry, fuse/uring_channels.h) go to
  // `writer`. Set before any such request; only their replies read it.
  void SetRingWriter(ChannelWriter writer) { ring_writer_ = std::move(writer); }

  // The size a read buffer needs for the negotiated (or offered) max_write.
  size_t BufferSize() const { return BufferSizeFor(init_options_); }
  // The same for `init` (before a session exists, e.g. to size a pipe).
  static size_t BufferSizeFor(const InitOptions& init);
  // The largest READ, at most `max_read`, whose reply (header and data)
  // fits a pipe this process can make, so it can be spliced from a file
  // (Reply::SendFromFd): `max_read` itself with CAP_SYS_RESOURCE or a
  // large /proc/sys/fs/pipe-max-size, else a power of two (512 KiB under
  // the default 1 MiB limit). A larger READ's reply is copied instead,
  // which is slower than splicing it in two (finding 15 in
  // docs/PERFORMANCE.md); MountOptions::max_read caps the kernel's READs.
  static uint32_t SpliceableReadSize(uint32_t max_read);
  // A WRITE's fuse_write_in size at the negotiated protocol minor.
  size_t WriteArgSize() const;

  bool initialized() const { return initialized_.load(std::memory_order_acquire); }
  // DESTROY was received: the connection is over.
  bool destroyed() const { return destroyed_.load(std::memory_order_acquire); }
  // Valid once initialized().
  const ConnectionInfo& connection() const { return connection_; }
  // Waits until INIT is negotiated or `timeout` passes.
  bool WaitInitialized(absl::Duration timeout);

  // --- Notifications (unsolicited messages, unique 0) -----------------
  // Sent on `fd` (any channel fd of the connection). They go out directly;
  // the caller (Notifier) decides when it is safe to block.
  Errno SendNotify(int fd, abi::NotifyCode code, const struct iovec* iov, int count);
  // Registers a callback for the NOTIFY_REPLY answering a RETRIEVE and
  // returns the notify_unique to send with it.
  using RetrieveCallback = std::function<void(uint64_t offset, absl::Span<const uint8_t> data)>;
  uint64_t RegisterRetrieve(RetrieveCallback callback);
  void CancelRetrieve(uint64_t notify_unique);

  bool debug() const { return debug_; }
  void Log(absl::string_view line) const;

  // --- Used by Reply ----------------------------------------------------
  // Writes a reply (header prepended) and ends the request's bookkeeping.
  Errno WriteReply(int fd, uint64_t unique, uint32_t opcode, int error,
                   const struct iovec* iov, int count, absl::Time start);
  // Writes a READ reply carrying `size` bytes of `data_fd` at `offset`
  // (fewer at end of file): spliced when possible, else read and written.
  // A read error before any byte answers that error.
  Errno WriteReplyFromFd(int fd, uint64_t unique, uint32_t opcode, int data_fd, off_t offset,
                         size_t size, absl::Time start);
  bool IsInterrupted(uint64_t unique);
  void SetInterruptCallback(uint64_t unique, std::function<void()> callback);

  // The channel is gone (unmounted, aborted, the socket's peer closed):
  // every request in flight now reads as interrupted (its interrupt
  // callback runs), so handlers that wait (e.g. for a lock) end and the
  // workers can be joined. Idempotent.
  void ConnectionEnded();
  uint32_t minor() const { return decode_minor_.load(std::memory_order_relaxed); }

 private:
  struct InFlight {
    bool interrupted = false;
    std::function<void()> on_interrupt;
  };
  // An INTERRUPT whose target was not (yet) in flight.
  struct PendingInterrupt {
    uint64_t target;
    uint64_t unique;  // the INTERRUPT's own unique, to answer EAGAIN
    int fd;
  };
  // In-flight requests, sharded by unique so workers rarely contend.
  struct Shard {
    Mutex mu;
    absl::flat_hash_map<uint64_t, InFlight> in_flight ABSL_GUARDED_BY(mu);
    std::deque<PendingInterrupt> pending ABSL_GUARDED_BY(mu);
  };
  static constexpr int kShards = 16;
  Shard& ShardFor(uint64_t unique) { return shards_[(unique >> 1) % kShards]; }

  void HandleInit(int fd, const DecodedRequest& request);
  void HandleInterrupt(int fd, const DecodedRequest& request);
  void HandleNotifyReply(const DecodedRequest& request);
  void Dispatch(int fd, const DecodedRequest& request, RequestContext context,
                WritePayload* payload);
  // Registers a request as in flight; returns false if the interrupt path
  // must answer a stale INTERRUPT with EAGAIN (done inside).
  void BeginRequest(uint64_t unique);
  void EndRequest(uint64_t unique);
  Errno WriteRaw(int fd, const struct iovec* iov, int count);
  void ReplyError(int fd, uint64_t unique, uint32_t opcode, int error, absl::Time start);
  // WriteReplyFromFd's splice path; false (nothing sent) when it could not
  // be used, with `*moved` bytes of the data already read into `buffer`.
  bool SpliceReply(int fd, uint64_t unique, int data_fd, off_t offset, size_t size,
                   uint8_t* buffer, size_t* moved, Errno* result);
  void LogReply(uint32_t opcode, uint64_t unique, int error, size_t total, Errno result,
                absl::Time start, absl::string_view how);

  RawFileSystem* const fs_;
  const InitOptions init_options_;
  const bool debug_;
  const LogSink log_;
  const ChannelWriter writer_;  // null: writev(2)
  ChannelWriter ring_writer_;   // for ring channel ids

  std::atomic<bool> initialized_{false};
  std::atomic<bool> destroyed_{false};
  std::atomic<bool> connection_ended_{false};
  std::atomic<uint32_t> decode_minor_{abi::kKernelMinorVersion};
  std::atomic<bool> setxattr_ext_{false};
  std::atomic<bool> interrupts_enabled_;
  bool device_ = false;                     // set before serving
  std::atomic<bool> splice_replies_{false};  // set at INIT
  ConnectionInfo connection_;  // written once before initialized_ is set

  Mutex init_mu_;
  CondVar init_cv_;

  Shard shards_[kShards];

  Mutex retrieve_mu_;
  uint64_t next_notify_unique_ ABSL_GUARDED_BY(retrieve_mu_) = 1;
  absl::flat_hash_map<uint64_t, RetrieveCallback> retrieves_ ABSL_GUARDED_BY(retrieve_mu_);
};

// True while the calling thread runs a filesystem method for a request.
bool InRequestHandler();
// Runs `fn` on the calling thread once the request handler it is in has
// returned (after a reply the handler sent itself); at once outside one.
void RunWhenHandlerReturns(std::function<void()> fn);

// The wire log's line for a decoded request ("LOOKUP unique=4 nodeid=1
// name=\"hello.txt\"").
std::string DescribeRequest(const DecodedRequest& request);

}  // namespace fusekit
