#include "fuse/session.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/aligned_buffer.h"
#include "fuse/page_size.h"
#include "fuse/request_pipe.h"

namespace fusekit {
namespace {

using abi::Opcode;

constexpr uint32_t kMinMaxWrite = 4096;
constexpr uint32_t kMaxMaxWrite = 1 << 20;  // 256 pages: the kernel's default page limit
// XATTR_SIZE_MAX: a SETXATTR carries up to this much, whatever max_write is.
constexpr size_t kXattrSizeMax = 65536;

void DefaultLog(absl::string_view line) {
  std::string s(line.data(), line.size());
  s.push_back('\n');
  fwrite(s.data(), 1, s.size(), stderr);
}

uint32_t ClampMaxWrite(uint32_t v) { return std::clamp(v, kMinMaxWrite, kMaxMaxWrite); }

thread_local bool t_in_handler = false;
// RunWhenHandlerReturns() work for the handler running on this thread.
thread_local std::vector<std::function<void()>> t_after_handler;

// Marks the calling thread as inside a handler for the notifier's deadlock
// rule (fuse/notifier.h). Leaving the outermost scope runs what was put off
// until the handler returned.
class HandlerScope {
 public:
  HandlerScope() : saved_(t_in_handler) { t_in_handler = true; }
  ~HandlerScope() {
    t_in_handler = saved_;
    if (saved_) return;
    while (!t_after_handler.empty()) {
      std::vector<std::function<void()>> work;
      work.swap(t_after_handler);
      for (std::function<void()>& fn : work) fn();
    }
  }

 private:
  bool saved_;
};

}  // namespace

bool InRequestHandler() { return t_in_handler; }

void RunWhenHandlerReturns(std::function<void()> fn) {
  if (!t_in_handler) {
    fn();
    return;
  }
  t_after_handler.push_back(std::move(fn));
}

Session::Session(RawFileSystem* fs, InitOptions init, bool debug, LogSink log,
                 ChannelWriter writer)
    : fs_(fs),
      init_options_(init),
      debug_(debug),
      log_(log ? std::move(log) : LogSink(DefaultLog)),
      writer_(std::move(writer)),
      interrupts_enabled_(init.interrupts) {
  // Sized up front: a small table grows (allocates) when its deleted slots
  // run out, a larger one reuses them in place, so requests coming and
  // going allocate nothing once the server runs.
  for (Shard& shard : shards_) {
    MutexLock lock(&shard.mu);
    shard.in_flight.reserve(32);
  }
}

Session::~Session() = default;

size_t Session::BufferSizeFor(const InitOptions& init) {
  // The kernel refuses reads into buffers smaller than a header, a
  // fuse_write_in and max_write (fs/fuse/dev.c); a page on top holds them.
  size_t payload = std::max<size_t>(ClampMaxWrite(init.max_write), kXattrSizeMax + 256);
  return std::max<size_t>(payload + PageSize(), abi::kMinReadBuffer);
}

size_t Session::WriteArgSize() const {
  return ArgSizeForMinor(*FindOpcode(static_cast<uint32_t>(Opcode::kWrite)), Opcode::kWrite,
                         decode_minor_.load(std::memory_order_relaxed), false);
}

void Session::Log(absl::string_view line) const { log_(line); }

bool Session::WaitInitialized(absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  MutexLock lock(&init_mu_);
  while (!initialized() && !destroyed()) {
    if (absl::Now() >= deadline) return false;
    // CondVar has no timed wait; INIT is quick, so poll gently.
    init_mu_.Unlock();
    absl::SleepFor(absl::Milliseconds(1));
    init_mu_.Lock();
  }
  return initialized();
}

void Session::HandleMessage(int fd, absl::Span<const uint8_t> message, WritePayload* payload) {
  absl::Time start = debug_ ? absl::Now() : absl::InfinitePast();
  DecodeSettings settings;
  settings.minor = decode_minor_.load(std::memory_order_relaxed);
  settings.setxattr_ext = setxattr_ext_.load(std::memory_order_relaxed);
  DecodedRequest request;
  DecodeError error;
  if (!DecodeRequest(message, settings, &request, &error, payload ? payload->size() : 0)) {
    Log(absl::StrCat("fusekit: bad request: ", error.message, " -> ",
                     error.can_reply ? ErrnoName(error.error) : "no reply"));
    if (error.can_reply) {
      ReplyError(fd, request.header.unique, request.header.opcode, error.error, start);
    }
    return;
  }
  if (debug_) {
    Log(absl::StrCat("-> ", DescribeRequest(request), payload ? " (data in pipe)" : "",
                     IsRingChannel(fd) ? " (ring)" : ""));
  }

  const abi::fuse_in_header& h = request.header;
  if (request.opcode() == Opcode::kInit) {
    HandleInit(fd, request);
    return;
  }
  if (!initialized()) {
    Log(absl::StrCat("fusekit: ", request.info->name, " before INIT"));
    if (request.info->replies) ReplyError(fd, h.unique, h.opcode, EIO, start);
    return;
  }
  switch (request.opcode()) {
    case Opcode::kInterrupt:
      HandleInterrupt(fd, request);
      return;
    case Opcode::kNotifyReply:
      HandleNotifyReply(request);
      return;
    case Opcode::kDestroy: {
      {
        HandlerScope in_handler;
        fs_->Destroy();
      }
      destroyed_.store(true, std::memory_order_release);
      ReplyError(fd, h.unique, h.opcode, 0, start);
      return;
    }
    default:
      break;
  }
  if (!request.info->served) {
    ReplyError(fd, h.unique, h.opcode, ENOSYS, start);
    return;
  }

  RequestContext context;
  context.unique = h.unique;
  context.nodeid = h.nodeid;
  context.uid = h.uid;
  context.gid = h.gid;
  context.pid = h.pid;
  if (!request.extensions.empty()) {
    context.supplementary_groups = SupplementaryGroups(request);
  }
  if (request.info->replies && interrupts_enabled_.load(std::memory_order_relaxed)) {
    BeginRequest(h.unique);
  }
  HandlerScope in_handler;
  Dispatch(fd, request, std::move(context), payload);
}

void Session::HandleInit(int fd, const DecodedRequest& request) {
  const abi::fuse_in_header& h = request.header;
  absl::Time start = debug_ ? absl::Now() : absl::InfinitePast();
  if (initialized()) {
    Log("fusekit: second INIT refused");
    ReplyError(fd, h.unique, h.opcode, EIO, start);
    return;
  }
  // fuse_init_in grew over time: copy what the kernel sent, zero the rest.
  abi::fuse_init_in in{};
  absl::Span<const uint8_t> body(request.arg.data(), request.arg.size() + request.payload.size());
  std::memcpy(&in, body.data(), std::min(body.size(), sizeof(in)));

  abi::fuse_init_out out{};
  out.major = abi::kKernelVersion;
  out.minor = abi::kKernelMinorVersion;
  if (in.major < abi::kKernelVersion) {
    Log(absl::StrFormat("fusekit: kernel protocol %d.%d is too old", in.major, in.minor));
    ReplyError(fd, h.unique, h.opcode, EPROTO, start);
    return;
  }
  if (in.major > abi::kKernelVersion) {
    // The kernel re-sends INIT with our major after a major-only reply.
    struct iovec iov = {&out, abi::kCompatInitOutSize};
    WriteReply(fd, h.unique, h.opcode, 0, &iov, 1, start);
    return;
  }
  uint32_t minor = std::min(in.minor, abi::kKernelMinorVersion);
  uint64_t offered = in.flags;
  if (minor >= 36 && (in.flags & abi::kInitExt)) {
    offered |= static_cast<uint64_t>(in.flags2) << 32;
  }
  uint32_t max_write = ClampMaxWrite(init_options_.max_write);
  // Without MAX_PAGES a request carries at most 32 pages
  // (FUSE_DEFAULT_MAX_PAGES_PER_REQ).
  const uint32_t default_max_write = static_cast<uint32_t>(32 * PageSize());
  uint64_t want = init_options_.want;
  if (max_write > default_max_write) want |= abi::kInitMaxPages;
  if (init_options_.splice_write) want |= abi::kInitSpliceWrite;
  if (init_options_.passthrough) want |= abi::kInitPassthrough;
  if (init_options_.io_uring) want |= abi::kInitOverIoUring;
  uint64_t granted = want & offered & ~init_options_.refuse;
  if ((granted & abi::kInitPassthrough) && (granted & abi::kInitWritebackCache)) {
    // The kernel enables passthrough only without the writeback cache
    // (fs/fuse/inode.c: process_init_reply); granting both would leave
    // passthrough silently off.
    Log("fusekit: passthrough asked with the writeback cache: the writeback cache is off");
    granted &= ~abi::kInitWritebackCache;
  }
  if (!(granted & abi::kInitMaxPages)) max_write = std::min(max_write, default_max_write);
  // The informational INIT_EXT bit is ours to set when flags2 is in use.
  granted &= ~abi::kInitExt;

  ConnectionInfo info;
  info.major = abi::kKernelVersion;
  info.minor = minor;
  info.kernel_flags = offered;
  info.flags = granted;
  info.max_write = max_write;
  info.max_readahead = std::min(in.max_readahead, init_options_.max_readahead);
  info.max_pages = (granted & abi::kInitMaxPages)
                       ? static_cast<uint16_t>((max_write + PageSize() - 1) / PageSize())
                       : 0;
  info.max_background = init_options_.max_background;
  info.congestion_threshold = init_options_.congestion_threshold;
  info.time_gran = init_options_.time_gran;

  out.minor = minor;
  out.max_readahead = info.max_readahead;
  out.flags = static_cast<uint32_t>(granted);
  if (offered & abi::kInitExt) {
    out.flags |= static_cast<uint32_t>(abi::kInitExt);
    out.flags2 = static_cast<uint32_t>(granted >> 32);
  }
  out.max_background = info.max_background;
  out.congestion_threshold = info.congestion_threshold;
  out.max_write = info.max_write;
  out.time_gran = info.time_gran;
  out.max_pages = info.max_pages;
  // Backing files may sit on any filesystem that is not itself stacked
  // (max_stack_depth 1: ours becomes a stacking filesystem of depth 1).
  if (granted & abi::kInitPassthrough) out.max_stack_depth = 1;

  connection_ = info;
  splice_replies_.store(device_ && !writer_ && init_options_.splice_write &&
                            (granted & abi::kInitSpliceWrite) != 0,
                        std::memory_order_relaxed);
  decode_minor_.store(minor, std::memory_order_relaxed);
  setxattr_ext_.store((granted & abi::kInitSetxattrExt) != 0, std::memory_order_relaxed);
  // Held until the reply is out, so notifications sent from Init() follow it.
  HandlerScope in_handler;
  fs_->Init(connection_);
  {
    MutexLock lock(&init_mu_);
    initialized_.store(true, std::memory_order_release);
  }
  // Old kernels take a shorter reply (fs/fuse/inode.c: process_init_reply).
  size_t size = minor < 5 ? abi::kCompatInitOutSize
                : minor < 23 ? abi::kCompat22InitOutSize
                             : sizeof(out);
  struct iovec iov = {&out, size};
  WriteReply(fd, h.unique, h.opcode, 0, &iov, 1, start);
  if (debug_) {
    Log(absl::StrFormat("fusekit: INIT protocol 7.%d flags=%#x max_write=%d max_pages=%d", minor,
                        granted, info.max_write, info.max_pages));
  }
}

// --- Interrupts ------------------------------------------------------------

void Session::BeginRequest(uint64_t unique) {
  Shard& shard = ShardFor(unique);
  PendingInterrupt stale{};
  bool answer_stale = false;
  {
    MutexLock lock(&shard.mu);
    InFlight& entry = shard.in_flight[unique];
    for (auto it = shard.pending.begin(); it != shard.pending.end(); ++it) {
      if (it->target == unique) {
        entry.interrupted = true;  // the INTERRUPT overtook its request
        shard.pending.erase(it);
        return;
      }
    }
    // An interrupt for a request that never showed up (it finished before
    // the INTERRUPT was read): answer EAGAIN so the kernel re-sends it if
    // it still cares (libfuse does the same), keeping the list short.
    if (!shard.pending.empty()) {
      stale = shard.pending.front();
      shard.pending.pop_front();
      answer_stale = true;
    }
  }
  if (answer_stale) {
    ReplyError(stale.fd, stale.unique, static_cast<uint32_t>(Opcode::kInterrupt), EAGAIN,
               absl::InfinitePast());
  }
}

void Session::EndRequest(uint64_t unique) {
  if (!interrupts_enabled_.load(std::memory_order_relaxed)) return;
  Shard& shard = ShardFor(unique);
  MutexLock lock(&shard.mu);
  shard.in_flight.erase(unique);
}

bool Session::IsInterrupted(uint64_t unique) {
  if (connection_ended_.load(std::memory_order_acquire)) return true;
  Shard& shard = ShardFor(unique);
  MutexLock lock(&shard.mu);
  auto it = shard.in_flight.find(unique);
  return it != shard.in_flight.end() && it->second.interrupted;
}

void Session::SetInterruptCallback(uint64_t unique, std::function<void()> callback) {
  if (connection_ended_.load(std::memory_order_acquire)) {
    callback();
    return;
  }
  Shard& shard = ShardFor(unique);
  {
    MutexLock lock(&shard.mu);
    auto it = shard.in_flight.find(unique);
    if (it == shard.in_flight.end()) return;  // interrupts off, or already answered
    if (!it->second.interrupted) {
      it->second.on_interrupt = std::move(callback);
      return;
    }
  }
  callback();
}

void Session::ConnectionEnded() {
  if (connection_ended_.exchange(true)) return;
  std::vector<std::function<void()>> callbacks;
  for (Shard& shard : shards_) {
    MutexLock lock(&shard.mu);
    for (auto& [unique, entry] : shard.in_flight) {
      entry.interrupted = true;
      if (entry.on_interrupt) callbacks.push_back(std::move(entry.on_interrupt));
    }
  }
  for (auto& callback : callbacks) callback();
}

void Session::HandleInterrupt(int fd, const DecodedRequest& request) {
  const abi::fuse_in_header& h = request.header;
  if (!interrupts_enabled_.load(std::memory_order_relaxed)) {
    // ENOSYS tells the kernel to stop sending INTERRUPTs (fc->no_interrupt).
    ReplyError(fd, h.unique, h.opcode, ENOSYS, absl::InfinitePast());
    return;
  }
  uint64_t target = request.Arg<abi::fuse_interrupt_in>().unique;
  Shard& shard = ShardFor(target);
  std::function<void()> callback;
  {
    MutexLock lock(&shard.mu);
    auto it = shard.in_flight.find(target);
    if (it == shard.in_flight.end()) {
      // Not seen yet (another worker may be about to read it): remember.
      shard.pending.push_back({target, h.unique, fd});
      return;
    }
    it->second.interrupted = true;
    callback = std::move(it->second.on_interrupt);
  }
  // The INTERRUPT itself needs no reply once its target is found.
  if (callback) callback();
}

// --- Notify replies ----------------------------------------------------------

uint64_t Session::RegisterRetrieve(RetrieveCallback callback) {
  MutexLock lock(&retrieve_mu_);
  uint64_t id = next_notify_unique_++;
  retrieves_[id] = std::move(callback);
  return id;
}

void Session::CancelRetrieve(uint64_t notify_unique) {
  MutexLock lock(&retrieve_mu_);
  retrieves_.erase(notify_unique);
}

void Session::HandleNotifyReply(const DecodedRequest& request) {
  RetrieveCallback callback;
  {
    MutexLock lock(&retrieve_mu_);
    auto it = retrieves_.find(request.header.unique);
    if (it == retrieves_.end()) {
      Log(absl::StrCat("fusekit: NOTIFY_REPLY for unknown retrieve ", request.header.unique));
      return;
    }
    callback = std::move(it->second);
    retrieves_.erase(it);
  }
  abi::fuse_notify_retrieve_in in = request.Arg<abi::fuse_notify_retrieve_in>();
  absl::Span<const uint8_t> data = request.payload;
  if (data.size() > in.size) data = data.first(in.size);
  callback(in.offset, data);
}

// --- Writing ---------------------------------------------------------------------

Errno Session::WriteRaw(int fd, const struct iovec* iov, int count) {
  if (IsRingChannel(fd)) return ring_writer_ ? ring_writer_(fd, iov, count) : Errno(EBADF);
  if (writer_) return writer_(fd, iov, count);
  for (;;) {
    ssize_t n = ::writev(fd, iov, count);
    if (n >= 0) return kOk;
    if (errno == EINTR) continue;
    return Errno::Last();
  }
}

Errno Session::WriteReply(int fd, uint64_t unique, uint32_t opcode, int error,
                          const struct iovec* iov, int count, absl::Time start) {
  constexpr int kInline = 16;
  struct iovec inline_iov[kInline + 1];
  std::unique_ptr<struct iovec[]> heap_iov;
  struct iovec* all = inline_iov;
  if (count > kInline) {
    heap_iov.reset(new struct iovec[count + 1]);
    all = heap_iov.get();
  }
  abi::fuse_out_header out{};
  size_t total = sizeof(out);
  for (int i = 0; i < count; ++i) {
    all[i + 1] = iov[i];
    total += iov[i].iov_len;
  }
  out.len = static_cast<uint32_t>(total);
  out.error = -error;
  out.unique = unique;
  all[0] = {&out, sizeof(out)};
  Errno result = WriteRaw(fd, all, count + 1);
  EndRequest(unique);
  LogReply(opcode, unique, error, total, result, start, "");
  return result;
}

void Session::LogReply(uint32_t opcode, uint64_t unique, int error, size_t total, Errno result,
                       absl::Time start, absl::string_view how) {
  if (debug_) {
    Log(absl::StrFormat("<- %s unique=%d %s len=%d%s%s (%s)", OpcodeName(opcode), unique,
                        ErrnoName(error), total, how,
                        result.ok() ? "" : absl::StrCat(" write failed: ", ErrnoName(result)),
                        start == absl::InfinitePast()
                            ? "-"
                            : absl::FormatDuration(absl::Now() - start)));
  } else if (!result.ok() && result != Errno(ENOENT)) {
    Log(absl::StrFormat("fusekit: reply to %s unique=%d failed: %s", OpcodeName(opcode), unique,
                        DescribeErrno(result)));
  }
}

// --- READ replies from a file descriptor ------------------------------------------

namespace {

// The pipe room a spliced message of `bytes` needs: every pipe buffer
// holds at most one page, the header takes one and an unaligned file range
// one more than its size in pages.
size_t SplicePipeBytesFor(size_t bytes) {
  const size_t page = PageSize();
  return ((bytes + page - 1) / page + 2) * page;
}

// A worker's pipe for splicing replies: header and file pages go in, the
// whole message goes to /dev/fuse in one splice (the kernel takes a reply
// only whole: fs/fuse/dev.c fuse_dev_splice_write). One per thread, made on
// first use, grown to the largest reply seen.
class SplicePipe {
 public:
  ~SplicePipe() { Close(); }
  // Makes sure a message of `bytes` fits (SplicePipeBytesFor).
  bool Fit(size_t bytes) {
    const size_t need = SplicePipeBytesFor(bytes);
    if (read_end_ >= 0 && capacity_ >= need) return true;
    if (read_end_ < 0) {
      int fds[2];
      if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return false;
      read_end_ = fds[0];
      write_end_ = fds[1];
      int size = ::fcntl(write_end_, F_GETPIPE_SZ);
      capacity_ = size > 0 ? static_cast<size_t>(size) : 0;
    }
    if (capacity_ >= need) return true;
    // Above /proc/sys/fs/pipe-max-size only with CAP_SYS_RESOURCE: if it
    // cannot grow, such replies are copied.
    int size = ::fcntl(write_end_, F_SETPIPE_SZ, static_cast<int>(need));
    if (size > 0) capacity_ = static_cast<size_t>(size);
    return capacity_ >= need;
  }
  void Close() {
    if (read_end_ >= 0) ::close(read_end_);
    if (write_end_ >= 0) ::close(write_end_);
    read_end_ = write_end_ = -1;
    capacity_ = 0;
  }
  int read_end() const { return read_end_; }
  int write_end() const { return write_end_; }

 private:
  int read_end_ = -1;
  int write_end_ = -1;
  size_t capacity_ = 0;
};

thread_local SplicePipe t_splice_pipe;

}  // namespace

uint32_t Session::SpliceableReadSize(uint32_t max_read) {
  constexpr size_t kHeader = sizeof(abi::fuse_out_header);
  const size_t capacity = RequestPipe::LargestCapacity(SplicePipeBytesFor(kHeader + max_read));
  auto fits = [capacity](size_t read) { return SplicePipeBytesFor(kHeader + read) <= capacity; };
  // No pipe at all (out of descriptors): every reply is copied, whatever
  // its size, so a smaller READ would only cost more of them.
  if (capacity == 0 || fits(max_read)) return max_read;
  // A power of two, as callers' block sizes are: a 1 MiB read(2) then
  // becomes two READs of 512 KiB, not one of 1020 KiB and one of 4 KiB.
  uint32_t size = 4096;
  while (size <= max_read / 2) size *= 2;
  while (size > 4096 && !fits(size)) size /= 2;
  return fits(size) ? size : max_read;
}

namespace {

// The buffer READ replies are copied through when they are not spliced;
// grows to the largest read, then no allocation.
uint8_t* CopyBuffer(size_t size) {
  // Page-aligned: the kernel copies file data into it (pread) several
  // times faster than into malloc's offset on some machines.
  thread_local AlignedBuffer buffer;
  return buffer.Reserve(size);
}

}  // namespace

bool Session::SpliceReply(int fd, uint64_t unique, int data_fd, off_t offset, size_t size,
                          uint8_t* buffer, size_t* moved, Errno* result) {
  *moved = 0;
  SplicePipe& pipe = t_splice_pipe;
  abi::fuse_out_header out{};
  out.len = static_cast<uint32_t>(sizeof(out) + size);
  out.unique = unique;
  if (!pipe.Fit(out.len)) return false;
  if (::write(pipe.write_end(), &out, sizeof(out)) != static_cast<ssize_t>(sizeof(out))) {
    pipe.Close();
    return false;
  }
  loff_t at = offset;
  while (*moved < size) {
    ssize_t n = ::splice(data_fd, &at, pipe.write_end(), nullptr, size - *moved,
                         SPLICE_F_NONBLOCK);
    if (n > 0) {
      *moved += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;  // end of file, or the file cannot splice: copy instead
  }
  if (*moved < size) {
    // The header in the pipe announces more than there is: take it all
    // back out (what was spliced is the start of the data) and let the
    // caller send a copy with the right length.
    uint8_t header[sizeof(out)];
    if (!ReadExactly(pipe.read_end(), header, sizeof(header)) ||
        !ReadExactly(pipe.read_end(), buffer, *moved)) {
      pipe.Close();
      *moved = 0;
    }
    return false;
  }
  for (;;) {
    // No SPLICE_F_MOVE: the kernel would steal the pages out of the
    // source file's page cache.
    ssize_t n = ::splice(pipe.read_end(), nullptr, fd, nullptr, out.len, 0);
    if (n == static_cast<ssize_t>(out.len)) {
      *result = kOk;
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    *result = n < 0 ? Errno::Last() : Errno(EIO);
    break;
  }
  // Whatever the kernel left in the pipe is of no use now.
  pipe.Close();
  *moved = 0;
  // ENOENT: the request is gone (interrupted); the connection ending: a
  // copy would fail the same way. Others (the device refusing a splice):
  // try the copy.
  return *result == Errno(ENOENT) || *result == Errno(ENODEV) || *result == Errno(ENOTCONN);
}

Errno Session::WriteReplyFromFd(int fd, uint64_t unique, uint32_t opcode, int data_fd,
                                off_t offset, size_t size, absl::Time start) {
  size = std::min<size_t>(size, kMaxMaxWrite * 2);
  uint8_t* buffer = CopyBuffer(std::max<size_t>(size, 1));
  size_t done = 0;
  // A ring entry's reply is copied into its payload buffer.
  if (size > 0 && !IsRingChannel(fd) && splice_replies_.load(std::memory_order_relaxed)) {
    Errno result;
    if (SpliceReply(fd, unique, data_fd, offset, size, buffer, &done, &result)) {
      EndRequest(unique);
      LogReply(opcode, unique, 0, sizeof(abi::fuse_out_header) + size, result, start, " splice");
      return result;
    }
  }
  while (done < size) {
    ssize_t n = ::pread(data_fd, buffer + done, size - done, offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (done > 0) break;
      Errno error = Errno::Last();
      return WriteReply(fd, unique, opcode, error.value(), nullptr, 0, start);
    }
    if (n == 0) break;  // end of file
    done += static_cast<size_t>(n);
  }
  struct iovec iov = {buffer, done};
  return WriteReply(fd, unique, opcode, 0, &iov, done > 0 ? 1 : 0, start);
}

void Session::ReplyError(int fd, uint64_t unique, uint32_t opcode, int error, absl::Time start) {
  WriteReply(fd, unique, opcode, error, nullptr, 0, start);
}

Errno Session::SendNotify(int fd, abi::NotifyCode code, const struct iovec* iov, int count) {
  struct iovec all[8];
  if (count > 7) return Errno(EINVAL);
  abi::fuse_out_header out{};
  size_t total = sizeof(out);
  for (int i = 0; i < count; ++i) {
    all[i + 1] = iov[i];
    total += iov[i].iov_len;
  }
  out.len = static_cast<uint32_t>(total);
  out.error = static_cast<int32_t>(code);  // notifications carry their code here
  out.unique = 0;
  all[0] = {&out, sizeof(out)};
  Errno result = WriteRaw(fd, all, count + 1);
  if (debug_) {
    Log(absl::StrFormat("<- NOTIFY code=%d len=%d %s", static_cast<int>(code), total,
                        ErrnoName(result)));
  }
  return result;
}

// --- Dispatch ---------------------------------------------------------------------

void Session::Dispatch(int fd, const DecodedRequest& r, RequestContext context,
                       WritePayload* payload) {
  const uint64_t node = r.header.nodeid;
  const uint32_t op = r.header.opcode;
  auto ctx = [&]() -> RequestContext { return std::move(context); };
  switch (r.opcode()) {
    case Opcode::kLookup:
      fs_->Lookup(ReplyEntry(this, fd, ctx(), op), node, r.name);
      return;
    case Opcode::kForget:
      fs_->Forget(context, node, r.Arg<abi::fuse_forget_in>().nlookup);
      return;
    case Opcode::kBatchForget: {
      // The list may be unaligned in the buffer: copy in chunks.
      size_t count = r.payload.size() / sizeof(abi::fuse_forget_one);
      abi::fuse_forget_one chunk[256];
      for (size_t done = 0; done < count;) {
        size_t n = std::min<size_t>(count - done, 256);
        std::memcpy(chunk, r.payload.data() + done * sizeof(abi::fuse_forget_one),
                    n * sizeof(abi::fuse_forget_one));
        fs_->BatchForget(context, absl::MakeConstSpan(chunk, n));
        done += n;
      }
      return;
    }
    case Opcode::kGetattr:
      fs_->Getattr(ReplyAttr(this, fd, ctx(), op), node, r.Arg<abi::fuse_getattr_in>());
      return;
    case Opcode::kSetattr:
      fs_->Setattr(ReplyAttr(this, fd, ctx(), op), node, r.Arg<abi::fuse_setattr_in>());
      return;
    case Opcode::kReadlink:
      fs_->Readlink(ReplyData(this, fd, ctx(), op), node);
      return;
    case Opcode::kSymlink:
      fs_->Symlink(ReplyEntry(this, fd, ctx(), op), node, r.name, r.name2);
      return;
    case Opcode::kMknod:
      fs_->Mknod(ReplyEntry(this, fd, ctx(), op), node, r.name, r.Arg<abi::fuse_mknod_in>());
      return;
    case Opcode::kMkdir:
      fs_->Mkdir(ReplyEntry(this, fd, ctx(), op), node, r.name, r.Arg<abi::fuse_mkdir_in>());
      return;
    case Opcode::kUnlink:
      fs_->Unlink(ReplyEmpty(this, fd, ctx(), op), node, r.name);
      return;
    case Opcode::kRmdir:
      fs_->Rmdir(ReplyEmpty(this, fd, ctx(), op), node, r.name);
      return;
    case Opcode::kRename:
      fs_->Rename(ReplyEmpty(this, fd, ctx(), op), node, r.name,
                  r.Arg<abi::fuse_rename_in>().newdir, r.name2, 0);
      return;
    case Opcode::kRename2: {
      abi::fuse_rename2_in in = r.Arg<abi::fuse_rename2_in>();
      fs_->Rename(ReplyEmpty(this, fd, ctx(), op), node, r.name, in.newdir, r.name2, in.flags);
      return;
    }
    case Opcode::kLink:
      fs_->Link(ReplyEntry(this, fd, ctx(), op), r.Arg<abi::fuse_link_in>().oldnodeid, node,
                r.name);
      return;
    case Opcode::kOpen:
      fs_->Open(ReplyOpen(this, fd, ctx(), op), node, r.Arg<abi::fuse_open_in>());
      return;
    case Opcode::kRead:
      fs_->Read(ReplyData(this, fd, ctx(), op), node, r.Arg<abi::fuse_read_in>());
      return;
    case Opcode::kWrite: {
      // Every WRITE goes through WriteBuf, its data in the pipe or (read(2),
      // the fake kernel) already in the buffer: one path for filesystems.
      if (payload != nullptr) {
        fs_->WriteBuf(ReplyWrite(this, fd, ctx(), op), node, r.Arg<abi::fuse_write_in>(),
                      *payload);
        return;
      }
      WritePayload in_memory(r.payload);
      fs_->WriteBuf(ReplyWrite(this, fd, ctx(), op), node, r.Arg<abi::fuse_write_in>(),
                    in_memory);
      return;
    }
    case Opcode::kStatfs:
      fs_->Statfs(ReplyStatfs(this, fd, ctx(), op), node);
      return;
    case Opcode::kRelease:
      fs_->Release(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_release_in>());
      return;
    case Opcode::kFsync:
      fs_->Fsync(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_fsync_in>());
      return;
    case Opcode::kSetxattr:
      fs_->Setxattr(ReplyEmpty(this, fd, ctx(), op), node, r.name, r.payload,
                    r.Arg<abi::fuse_setxattr_in>());
      return;
    case Opcode::kGetxattr:
      fs_->Getxattr(ReplyXattr(this, fd, ctx(), op), node, r.name,
                    r.Arg<abi::fuse_getxattr_in>().size);
      return;
    case Opcode::kListxattr:
      fs_->Listxattr(ReplyXattr(this, fd, ctx(), op), node, r.Arg<abi::fuse_getxattr_in>().size);
      return;
    case Opcode::kRemovexattr:
      fs_->Removexattr(ReplyEmpty(this, fd, ctx(), op), node, r.name);
      return;
    case Opcode::kFlush:
      fs_->Flush(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_flush_in>());
      return;
    case Opcode::kOpendir:
      fs_->Opendir(ReplyOpen(this, fd, ctx(), op), node, r.Arg<abi::fuse_open_in>());
      return;
    case Opcode::kReaddir: {
      abi::fuse_read_in in = r.Arg<abi::fuse_read_in>();
      fs_->Readdir(ReplyDirectory(this, fd, ctx(), op, in.size), node, in);
      return;
    }
    case Opcode::kReaddirplus: {
      abi::fuse_read_in in = r.Arg<abi::fuse_read_in>();
      fs_->Readdirplus(ReplyDirectory(this, fd, ctx(), op, in.size), node, in);
      return;
    }
    case Opcode::kReleasedir:
      fs_->Releasedir(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_release_in>());
      return;
    case Opcode::kFsyncdir:
      fs_->Fsyncdir(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_fsync_in>());
      return;
    case Opcode::kGetlk:
      fs_->Getlk(ReplyLock(this, fd, ctx(), op), node, r.Arg<abi::fuse_lk_in>());
      return;
    case Opcode::kSetlk:
    case Opcode::kSetlkw:
      fs_->Setlk(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_lk_in>(),
                 r.opcode() == Opcode::kSetlkw);
      return;
    case Opcode::kAccess:
      fs_->Access(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_access_in>());
      return;
    case Opcode::kCreate:
      fs_->Create(ReplyCreate(this, fd, ctx(), op), node, r.name, r.Arg<abi::fuse_create_in>());
      return;
    case Opcode::kBmap:
      fs_->Bmap(ReplyBmap(this, fd, ctx(), op), node, r.Arg<abi::fuse_bmap_in>());
      return;
    case Opcode::kIoctl:
      fs_->Ioctl(ReplyIoctl(this, fd, ctx(), op), node, r.Arg<abi::fuse_ioctl_in>(), r.payload);
      return;
    case Opcode::kPoll:
      fs_->Poll(ReplyPoll(this, fd, ctx(), op), node, r.Arg<abi::fuse_poll_in>());
      return;
    case Opcode::kFallocate:
      fs_->Fallocate(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_fallocate_in>());
      return;
    case Opcode::kLseek:
      fs_->Lseek(ReplyLseek(this, fd, ctx(), op), node, r.Arg<abi::fuse_lseek_in>());
      return;
    case Opcode::kCopyFileRange:
    case Opcode::kCopyFileRange64:
      fs_->CopyFileRange(ReplyWrite(this, fd, ctx(), op), node,
                         r.Arg<abi::fuse_copy_file_range_in>());
      return;
    case Opcode::kStatx:
      fs_->Statx(ReplyStatx(this, fd, ctx(), op), node, r.Arg<abi::fuse_statx_in>());
      return;
    case Opcode::kTmpfile:
      fs_->Tmpfile(ReplyCreate(this, fd, ctx(), op), node, r.Arg<abi::fuse_create_in>());
      return;
    case Opcode::kSyncfs:
      fs_->Syncfs(ReplyEmpty(this, fd, ctx(), op), node, r.Arg<abi::fuse_syncfs_in>());
      return;
    default:
      // Known to the table but handled nowhere (cannot happen: the table's
      // `served` flag and the cases above agree). Answer rather than hang.
      Log(absl::StrCat("fusekit: no dispatch for ", r.info->name));
      if (r.info->replies) {
        ReplyError(fd, r.header.unique, op, ENOSYS, absl::InfinitePast());
      }
      return;
  }
}

}  // namespace fusekit
