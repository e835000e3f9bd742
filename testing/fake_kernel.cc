// FakeKernel: the connection (socketpair, server, INIT), sending and
// waiting, the public calls, audits and teardown. What happens to each
// message that arrives is in fake_kernel_replies.cc.
#include "testing/fake_kernel.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "fuse/opcode.h"
#include "fuse/page_size.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using abi::Opcode;

// A reader gives up the socket this often so other waiters can check their
// deadlines (CondVar has no timed wait).
constexpr absl::Duration kReadSlice = absl::Milliseconds(50);
// Room for headers around the largest READ/WRITE payload in one message.
constexpr size_t kHeaderRoom = 4096;

// Socket buffers bound the largest message (AF_UNIX SEQPACKET refuses
// messages above sk_sndbuf - 32). Ask for room for 1 MiB WRITEs; as root the
// system limit does not apply.
int GrowBuffers(int fd) {
  int want = 8 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof(want)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want));
  }
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
  }
  int got = 0;
  socklen_t len = sizeof(got);
  ::getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &got, &len);
  return got;
}

bool CreatesEntry(Opcode op) {
  switch (op) {
    case Opcode::kMknod:
    case Opcode::kMkdir:
    case Opcode::kSymlink:
    case Opcode::kCreate:
    case Opcode::kTmpfile:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string ReceivedNotification::name() const {
  size_t offset = 0;
  uint32_t len = 0;
  if (code == abi::NotifyCode::kInvalEntry) {
    offset = sizeof(abi::fuse_notify_inval_entry_out);
    len = As<abi::fuse_notify_inval_entry_out>().namelen;
  } else if (code == abi::NotifyCode::kDelete) {
    offset = sizeof(abi::fuse_notify_delete_out);
    len = As<abi::fuse_notify_delete_out>().namelen;
  } else {
    return "";
  }
  if (offset + len > body.size()) return "";
  return body.substr(offset, len);
}

// --- Construction and teardown -----------------------------------------------

FakeKernel::FakeKernel(RawFileSystem* fs, FakeKernelOptions options)
    : options_(std::move(options)),
      own_clock_(options_.clock == nullptr ? std::make_unique<FakeClock>() : nullptr),
      clock_(options_.clock != nullptr ? options_.clock : own_clock_.get()),
      default_source_(options_.lookup_counts != nullptr ? options_.lookup_counts
                                                         : dynamic_cast<LookupCountSource*>(fs)),
      cache_(clock_),
      trace_(options_.trace_length) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    ADD_FAILURE() << "FakeKernel: socketpair: " << DescribeErrno(Errno::Last());
    return;
  }
  ScopedFd kernel_end(fds[0]);
  ScopedFd server_end(fds[1]);
  int server_sndbuf = GrowBuffers(server_end.get());
  server_ = Server::Serve(fs, std::move(server_end), options_.server);
  int own = GrowBuffers(kernel_end.get());
  max_message_ = static_cast<size_t>(std::max(0, std::min(own, server_sndbuf) - 64));
  recv_buffer_.resize(static_cast<size_t>(std::max(own, server_sndbuf)) + kHeaderRoom);
  Connect(std::move(kernel_end));
}

FakeKernel::FakeKernel(ScopedFd peer, FakeKernelOptions options)
    : options_(std::move(options)),
      own_clock_(options_.clock == nullptr ? std::make_unique<FakeClock>() : nullptr),
      clock_(options_.clock != nullptr ? options_.clock : own_clock_.get()),
      default_source_(options_.lookup_counts),
      cache_(clock_),
      trace_(options_.trace_length) {
  int own = GrowBuffers(peer.get());
  max_message_ = static_cast<size_t>(std::max(0, own - 64));
  recv_buffer_.resize(static_cast<size_t>(own) * 2 + kHeaderRoom);
  Connect(std::move(peer));
}

void FakeKernel::Connect(ScopedFd peer) {
  peer_ = std::move(peer);
  {
    MutexLock lock(&mu_);
    connected_ = true;
  }
  Negotiate();
}

void FakeKernel::Negotiate() {
  uint64_t flags = options_.init_flags;
  // flags2 (and the INIT_EXT bit announcing it) exist from 7.36 on.
  if (options_.minor < 36) flags &= 0xffffffffULL & ~abi::kInitExt;
  FuseRequest init = FuseRequest::Init(abi::kKernelVersion, options_.minor,
                                       options_.max_readahead, flags);
  {
    MutexLock lock(&mu_);
    Ticket t = StartLocked(std::move(init), false);
    AwaitLocked(t);
  }
  FlushOutbox();
}

FakeKernel::~FakeKernel() { Teardown(); }

void FakeKernel::Teardown() {
  ProcessPendingMessages();
  bool initialized;
  {
    MutexLock lock(&mu_);
    initialized = initialized_ && connected_;
  }
  LookupCountSource* source = Source(nullptr);
  if (initialized && source != nullptr && options_.audit_at_teardown) {
    ExpectLookupCountsMatch(source);
    // Unmount: files left open are closed, then every cache is dropped and
    // the filesystem must be back to holding nothing but the root.
    {
      MutexLock lock(&mu_);
      cache_.UnrefAll();
    }
    DropCaches();
    absl::Time deadline = absl::Now() + options_.audit_settle_time;
    std::map<uint64_t, uint64_t> left;
    for (;;) {
      ProcessPendingMessages();
      left.clear();
      for (const auto& [id, count] : source->LookupCounts()) {
        if (id != abi::kRootId && count != 0) left[id] = count;
      }
      if (left.empty() || absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(2));
    }
    if (!left.empty()) {
      std::string list;
      for (const auto& [id, count] : left) absl::StrAppendFormat(&list, "  node %d: %d\n", id, count);
      MutexLock lock(&mu_);
      ADD_FAILURE() << "After the kernel dropped every cache and forgot every node, the "
                       "filesystem still holds lookup counts (it leaks these nodes):\n"
                    << list << "Last messages on the wire:\n"
                    << trace_.Dump();
    }
  }
  // A request still without a reply would hang the kernel for ever.
  {
    absl::Time deadline = absl::Now() + absl::Seconds(1);
    MutexLock lock(&mu_);
    for (;;) {
      bool waiting = false;
      for (const auto& [unique, call] : in_flight_) waiting |= !call.answered;
      if (!waiting || !connected_) break;
      if (absl::Now() >= deadline) {
        for (const auto& [unique, call] : in_flight_) {
          if (!call.answered) {
            ViolationLocked(absl::StrCat("no reply before teardown to ", call.line));
          }
        }
        break;
      }
      PumpLocked(deadline - absl::Now());
    }
  }
  if (initialized && options_.send_destroy) Call(FuseRequest::Destroy());
  FlushOutbox();
  // The server reads end-of-file and its workers leave.
  if (peer_.valid()) ::shutdown(peer_.get(), SHUT_RDWR);
  server_.reset();
  peer_.reset();
}

// --- Public calls -----------------------------------------------------------------

bool FakeKernel::initialized() const {
  MutexLock lock(&mu_);
  return initialized_;
}

ConnectionInfo FakeKernel::connection() const {
  MutexLock lock(&mu_);
  return connection_;
}

FuseReply FakeKernel::Call(FuseRequest request) {
  FuseReply reply;
  {
    MutexLock lock(&mu_);
    Ticket t = StartLocked(std::move(request), false);
    reply = AwaitLocked(t);
  }
  FlushOutbox();
  return reply;
}

FakeKernel::Ticket FakeKernel::Start(FuseRequest request) {
  Ticket t;
  {
    MutexLock lock(&mu_);
    t = StartLocked(std::move(request), false);
  }
  FlushOutbox();
  return t;
}

FuseReply FakeKernel::Await(Ticket ticket) {
  FuseReply reply;
  {
    MutexLock lock(&mu_);
    reply = AwaitLocked(ticket);
  }
  FlushOutbox();
  return reply;
}

bool FakeKernel::Done(Ticket ticket) {
  ProcessPendingMessages();
  MutexLock lock(&mu_);
  auto it = in_flight_.find(ticket);
  return it == in_flight_.end() || it->second.answered;
}

void FakeKernel::Interrupt(Ticket ticket) {
  {
    MutexLock lock(&mu_);
    auto it = in_flight_.find(ticket);
    if (it == in_flight_.end() || it->second.answered || no_interrupt_ || !connected_) return;
    // fs/fuse/dev.c: the INTERRUPT's unique is its target's with the low bit
    // set; it carries no caller.
    FuseRequest interrupt = FuseRequest::Interrupt(ticket);
    std::string frame = interrupt.Encode(ticket | 1, Caller{}, interrupt.arg.size());
    trace_.Add(DescribeRequestLine(frame, connection_.minor, false));
    outbox_.push_back(std::move(frame));
  }
  FlushOutbox();
}

void FakeKernel::DropCaches() {
  {
    MutexLock lock(&mu_);
    cache_.DropAll();
    CollectLocked();
  }
  FlushOutbox();
}

void FakeKernel::ForgetNode(uint64_t nodeid) {
  {
    MutexLock lock(&mu_);
    cache_.DropNode(nodeid);
    CollectLocked();
  }
  FlushOutbox();
}

uint64_t FakeKernel::LookupCount(uint64_t nodeid) const {
  MutexLock lock(&mu_);
  const KernelCache::Node* n = cache_.FindNode(nodeid);
  return n == nullptr || nodeid == abi::kRootId ? 0 : n->nlookup;
}

std::map<uint64_t, uint64_t> FakeKernel::LookupCounts() const {
  MutexLock lock(&mu_);
  return cache_.LookupCounts();
}

std::optional<uint64_t> FakeKernel::CachedEntry(uint64_t parent, absl::string_view name) const {
  MutexLock lock(&mu_);
  const KernelCache::Dentry* d = cache_.FindDentry(parent, name);
  if (d == nullptr || !cache_.Valid(*d)) return std::nullopt;
  return d->nodeid;
}

bool FakeKernel::AttrCached(uint64_t nodeid) const {
  MutexLock lock(&mu_);
  const KernelCache::Node* n = cache_.FindNode(nodeid);
  return n != nullptr && cache_.AttrValid(*n);
}

size_t FakeKernel::cached_nodes() const {
  MutexLock lock(&mu_);
  return cache_.node_count();
}

void FakeKernel::ProcessPendingMessages() {
  FlushOutbox();
  {
    MutexLock lock(&mu_);
    for (;;) {
      if (reading_) {
        cv_.Wait(&mu_);
        continue;
      }
      if (!connected_) break;
      reading_ = true;
      mu_.Unlock();
      struct pollfd p = {peer_.get(), POLLIN, 0};
      bool ready = ::poll(&p, 1, 0) > 0;
      ssize_t n = ready ? ::recv(peer_.get(), recv_buffer_.data(), recv_buffer_.size(),
                                 MSG_TRUNC | MSG_DONTWAIT)
                        : -1;
      mu_.Lock();
      reading_ = false;
      cv_.SignalAll();
      if (n > static_cast<ssize_t>(recv_buffer_.size())) {
        ViolationLocked(absl::StrFormat("a message of %d bytes, larger than any reply can be", n));
        continue;
      }
      if (n > 0) {
        HandleMessageLocked(absl::string_view(recv_buffer_.data(), static_cast<size_t>(n)));
        continue;
      }
      if (n == 0 && ready) ConnectionLostLocked();
      break;
    }
  }
  FlushOutbox();
}

bool FakeKernel::WaitForNotifications(size_t count, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  bool ok;
  {
    MutexLock lock(&mu_);
    while (notifications_.size() < count && connected_ && absl::Now() < deadline) {
      PumpLocked(deadline - absl::Now());
    }
    ok = notifications_.size() >= count;
  }
  FlushOutbox();
  return ok;
}

std::vector<ReceivedNotification> FakeKernel::TakeNotifications() {
  ProcessPendingMessages();
  MutexLock lock(&mu_);
  std::vector<ReceivedNotification> out(notifications_.begin(), notifications_.end());
  notifications_.clear();
  return out;
}

std::vector<std::string> FakeKernel::violations() const {
  MutexLock lock(&mu_);
  return violations_;
}

std::string FakeKernel::Trace() const {
  MutexLock lock(&mu_);
  return trace_.Dump();
}

LookupCountSource* FakeKernel::Source(LookupCountSource* source) {
  return source != nullptr ? source : default_source_;
}

std::vector<LookupCountMismatch> FakeKernel::LookupCountMismatches(LookupCountSource* source) {
  source = Source(source);
  if (source == nullptr) {
    ADD_FAILURE() << "LookupCountMismatches: the filesystem is no LookupCountSource and none "
                     "was given";
    return {};
  }
  absl::Time deadline = absl::Now() + options_.audit_settle_time;
  std::vector<LookupCountMismatch> out;
  for (;;) {
    ProcessPendingMessages();
    std::map<uint64_t, uint64_t> kernel = LookupCounts();
    // Outside mu_: the filesystem takes its own locks.
    std::map<uint64_t, uint64_t> fs = source->LookupCounts();
    out.clear();
    std::map<uint64_t, std::pair<uint64_t, uint64_t>> all;
    for (const auto& [id, n] : kernel) all[id].first = n;
    for (const auto& [id, n] : fs) all[id].second = n;
    for (const auto& [id, counts] : all) {
      if (id != abi::kRootId && counts.first != counts.second) {
        out.push_back({id, counts.first, counts.second});
      }
    }
    // A FORGET has no reply, so whether the server has processed the last
    // ones is only seen by its counts settling.
    if (out.empty() || absl::Now() >= deadline) return out;
    absl::SleepFor(absl::Milliseconds(2));
  }
}

void FakeKernel::ExpectLookupCountsMatch(LookupCountSource* source) {
  std::vector<LookupCountMismatch> mismatches = LookupCountMismatches(source);
  if (mismatches.empty()) return;
  std::string list;
  for (const LookupCountMismatch& m : mismatches) {
    absl::StrAppendFormat(
        &list, "  node %d: kernel holds %d, filesystem counts %d (%s)\n", m.nodeid, m.kernel,
        m.filesystem,
        m.filesystem > m.kernel
            ? "a leak: the kernel will never FORGET the difference"
            : "premature release: the filesystem may free or reuse an id the kernel uses");
  }
  MutexLock lock(&mu_);
  ADD_FAILURE() << "Lookup counts differ between the kernel and the filesystem:\n"
                << list << "Last messages on the wire:\n"
                << trace_.Dump();
}

// --- Sending ---------------------------------------------------------------------

size_t FakeKernel::ArgSizeLocked(const FuseRequest& request) const {
  uint32_t minor = initialized_ ? connection_.minor : options_.minor;
  size_t full = request.arg.size();
  // Older protocol minors sent shorter structs (fs/fuse and fuse_kernel.h's
  // *_COMPAT_* sizes); the server decodes by the negotiated minor.
  switch (request.opcode) {
    case Opcode::kInit:
      return minor >= 36 ? full : 16;
    case Opcode::kGetattr:
      return minor < 9 ? 0 : full;
    case Opcode::kRead:
    case Opcode::kWrite:
      return minor < 9 ? abi::kCompatWriteInSize : full;
    case Opcode::kMknod:
    case Opcode::kCreate:
      return minor < 12 ? 8 : full;
    case Opcode::kSetxattr:
      return connection_.Has(abi::kInitSetxattrExt) ? full : abi::kCompatSetxattrInSize;
    default:
      return full;
  }
}

void FakeKernel::CountDirChangeLocked(const FuseRequest& request) {
  switch (request.opcode) {
    case Opcode::kMknod:
    case Opcode::kMkdir:
    case Opcode::kSymlink:
    case Opcode::kLink:
    case Opcode::kCreate:
    case Opcode::kUnlink:
    case Opcode::kRmdir:
      ++dir_changes_[request.nodeid];
      break;
    case Opcode::kRename:
      ++dir_changes_[request.nodeid];
      ++dir_changes_[request.Arg<abi::fuse_rename_in>().newdir];
      break;
    case Opcode::kRename2:
      ++dir_changes_[request.nodeid];
      ++dir_changes_[request.Arg<abi::fuse_rename2_in>().newdir];
      break;
    default:
      break;
  }
}

uint64_t FakeKernel::DirChanges(uint64_t dir) const {
  MutexLock lock(&mu_);
  auto it = dir_changes_.find(dir);
  return it == dir_changes_.end() ? 0 : it->second;
}

FakeKernel::Ticket FakeKernel::StartLocked(FuseRequest request, bool ref_result) {
  if (!request.caller.has_value()) request.caller = options_.caller;
  // Counted when sent and again when answered, so that a change a daemon
  // works on while a listing goes on is seen by whichever check comes.
  CountDirChangeLocked(request);
  uint64_t unique = (next_unique_ += 2);  // fuse_get_unique: even, step 2
  InFlight& call = in_flight_[unique];
  if (!connected_ || (!initialized_ && request.opcode != Opcode::kInit)) {
    call.request = std::move(request);
    call.answered = true;
    call.reply = FuseReply::ErrorFor(unique, Errno(ENOTCONN));
    return unique;
  }
  // With SECURITY_CTX granted the kernel sends a (here empty) security
  // context with every creating request.
  if (connection_.Has(abi::kInitSecurityCtx) && CreatesEntry(request.opcode) &&
      request.extensions.empty()) {
    abi::fuse_secctx_header h{};
    h.size = sizeof(h);
    h.nr_secctx = 0;
    request.extensions.assign(reinterpret_cast<const char*>(&h), sizeof(h));
  }
  std::string frame = request.Encode(unique, *request.caller, ArgSizeLocked(request));
  uint32_t minor = initialized_ ? connection_.minor : options_.minor;
  call.line = DescribeRequestLine(frame, minor, connection_.Has(abi::kInitSetxattrExt));
  trace_.Add(call.line);
  call.request = std::move(request);
  call.ref_result = ref_result;
  if (frame.size() > max_message_) {
    ADD_FAILURE() << "FakeKernel: a " << frame.size() << "-byte request does not fit the socket ("
                  << max_message_ << " bytes)";
    call.answered = true;
    call.reply = FuseReply::ErrorFor(unique, Errno(E2BIG));
    return unique;
  }
  outbox_.push_back(std::move(frame));
  return unique;
}

void FakeKernel::QueueOneWayLocked(const FuseRequest& request, uint64_t unique) {
  std::string frame = request.Encode(unique, request.caller.value_or(Caller{}),
                                     ArgSizeLocked(request));
  trace_.Add(DescribeRequestLine(frame, connection_.minor, false));
  one_way_[unique] = request.opcode;
  outbox_.push_back(std::move(frame));
}

void FakeKernel::FlushOutbox() {
  MutexLock send_lock(&send_mu_);
  std::deque<std::string> frames;
  {
    MutexLock lock(&mu_);
    frames.swap(outbox_);
  }
  for (const std::string& frame : frames) {
    ssize_t n = ::send(peer_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(frame.size())) {
      // The server is gone; the reader sees end-of-file and fails calls.
      Errno e = Errno::Last();
      MutexLock lock(&mu_);
      if (connected_) trace_.Add(absl::StrCat("!! send failed: ", DescribeErrno(e)));
      return;
    }
  }
}

// --- Receiving -------------------------------------------------------------------

FuseReply FakeKernel::AwaitLocked(Ticket ticket) {
  absl::Time deadline = absl::Now() + options_.reply_timeout;
  for (;;) {
    auto it = in_flight_.find(ticket);
    if (it == in_flight_.end()) {
      ADD_FAILURE() << "FakeKernel::Await: unknown or already collected ticket " << ticket;
      return FuseReply::ErrorFor(ticket, Errno(EINVAL));
    }
    if (it->second.answered) {
      FuseReply reply = std::move(it->second.reply);
      in_flight_.erase(it);
      return reply;
    }
    absl::Time now = absl::Now();
    if (now >= deadline) {
      ViolationLocked(absl::StrCat("no reply within ", absl::FormatDuration(options_.reply_timeout),
                                   " to ", it->second.line,
                                   " (the kernel would wait for ever)"));
      in_flight_.erase(it);
      timed_out_.insert(ticket);
      return FuseReply::ErrorFor(ticket, Errno(ETIMEDOUT));
    }
    PumpLocked(deadline - now);
  }
}

void FakeKernel::PumpLocked(absl::Duration wait) {
  if (reading_) {
    cv_.Wait(&mu_);  // the reader signals after each slice
    return;
  }
  if (!connected_) return;
  reading_ = true;
  mu_.Unlock();
  FlushOutbox();
  int timeout_ms = static_cast<int>(
      absl::ToInt64Milliseconds(std::min(std::max(wait, absl::Milliseconds(1)), kReadSlice)));
  struct pollfd p = {peer_.get(), POLLIN, 0};
  bool ready = ::poll(&p, 1, timeout_ms) > 0;
  ssize_t n = ready ? ::recv(peer_.get(), recv_buffer_.data(), recv_buffer_.size(),
                             MSG_TRUNC | MSG_DONTWAIT)
                    : -1;
  mu_.Lock();
  reading_ = false;
  cv_.SignalAll();
  if (n > static_cast<ssize_t>(recv_buffer_.size())) {
    ViolationLocked(absl::StrFormat("a message of %d bytes, larger than any reply can be", n));
  } else if (n > 0) {
    HandleMessageLocked(absl::string_view(recv_buffer_.data(), static_cast<size_t>(n)));
  } else if (n == 0 && ready) {
    ConnectionLostLocked();
  }
}

void FakeKernel::ConnectionLostLocked() {
  if (!connected_) return;
  connected_ = false;
  trace_.Add("!! the server closed the connection");
  size_t unanswered = 0;
  for (auto& [unique, call] : in_flight_) {
    if (call.answered) continue;
    ++unanswered;
    call.answered = true;
    call.reply = FuseReply::ErrorFor(unique, Errno(ENOTCONN));  // as after an abort
  }
  if (unanswered > 0) {
    ViolationLocked(absl::StrFormat(
        "the server closed the connection with %d request(s) unanswered", unanswered));
  }
}

void FakeKernel::CollectLocked() {
  if (options_.cache_limit > 0) cache_.Shrink(options_.cache_limit);
  SendForgetsLocked(cache_.TakeUnreferenced());
}

void FakeKernel::SendForgetsLocked(const std::vector<abi::fuse_forget_one>& forgets) {
  if (forgets.empty() || !connected_) return;
  if (!options_.batch_forget || forgets.size() == 1 || connection_.minor < 16) {
    for (const abi::fuse_forget_one& f : forgets) {
      QueueOneWayLocked(FuseRequest::Forget(f.nodeid, f.nlookup), next_unique_ += 2);
    }
    return;
  }
  // fuse_read_batch_forget sends as many as fit the daemon's buffer; the
  // smallest buffer a daemon may use is 8 KiB.
  constexpr size_t kPerBatch = (abi::kMinReadBuffer - 128) / sizeof(abi::fuse_forget_one);
  for (size_t at = 0; at < forgets.size(); at += kPerBatch) {
    size_t n = std::min(kPerBatch, forgets.size() - at);
    absl::Span<const abi::fuse_forget_one> part(forgets.data() + at, n);
    FuseRequest r = n == 1 ? FuseRequest::Forget(part[0].nodeid, part[0].nlookup)
                           : FuseRequest::BatchForget(part);
    QueueOneWayLocked(r, next_unique_ += 2);
  }
}

void FakeKernel::ViolationLocked(const std::string& what) {
  std::string message = absl::StrCat("FUSE protocol violation: ", what,
                                     "\nLast messages on the wire (oldest first):\n",
                                     trace_.Dump());
  trace_.Add(absl::StrCat("!! ", what));
  violations_.push_back(message);
  if (options_.fail_on_violation) ADD_FAILURE() << message;
}

void FakeKernel::ReportViolation(const std::string& what) {
  MutexLock lock(&mu_);
  ViolationLocked(what);
}

// --- For FakeVfs -------------------------------------------------------------------

Result<uint64_t> FakeKernel::WalkStep(uint64_t dir, absl::string_view name) {
  FuseReply reply;
  {
    MutexLock lock(&mu_);
    const KernelCache::Dentry* d = cache_.FindDentry(dir, name);
    if (d != nullptr && cache_.Valid(*d)) {
      if (d->nodeid == 0) return Errno(ENOENT);
      uint64_t id = d->nodeid;
      cache_.Touch(dir, name);
      cache_.Ref(id);
      return id;
    }
    Ticket t = StartLocked(FuseRequest::Lookup(dir, name), /*ref_result=*/true);
    reply = AwaitLocked(t);
  }
  FlushOutbox();
  if (!reply.error().ok()) return reply.error();
  uint64_t id = reply.As<abi::fuse_entry_out>().nodeid;
  if (id == 0) return Errno(ENOENT);
  return id;
}

FuseReply FakeKernel::CallAndHold(FuseRequest request) {
  FuseReply reply;
  {
    MutexLock lock(&mu_);
    Ticket t = StartLocked(std::move(request), /*ref_result=*/true);
    reply = AwaitLocked(t);
  }
  FlushOutbox();
  return reply;
}

Result<abi::fuse_attr> FakeKernel::Attr(uint64_t nodeid, std::optional<uint64_t> fh) {
  FuseReply reply;
  {
    MutexLock lock(&mu_);
    const KernelCache::Node* n = cache_.FindNode(nodeid);
    if (n != nullptr && cache_.AttrValid(*n)) return n->attr;
    Ticket t = StartLocked(FuseRequest::Getattr(nodeid, fh), false);
    reply = AwaitLocked(t);
  }
  FlushOutbox();
  if (!reply.error().ok()) return reply.error();
  return reply.As<abi::fuse_attr_out>().attr;
}

std::optional<KernelCache::Node> FakeKernel::NodeInfo(uint64_t nodeid) const {
  MutexLock lock(&mu_);
  const KernelCache::Node* n = cache_.FindNode(nodeid);
  if (n == nullptr) return std::nullopt;
  return *n;
}

void FakeKernel::Hold(uint64_t nodeid) {
  MutexLock lock(&mu_);
  cache_.Ref(nodeid);
}

void FakeKernel::Release(uint64_t nodeid) {
  {
    MutexLock lock(&mu_);
    cache_.Unref(nodeid);
    CollectLocked();
  }
  FlushOutbox();
}

void FakeKernel::ShrinkChildren(uint64_t dir) {
  {
    MutexLock lock(&mu_);
    cache_.ShrinkChildren(dir);
    CollectLocked();
  }
  FlushOutbox();
}

void FakeKernel::InvalidateAttr(uint64_t nodeid) {
  MutexLock lock(&mu_);
  cache_.InvalidateAttr(nodeid);
}

bool FakeKernel::Unsupported(Opcode opcode) const {
  MutexLock lock(&mu_);
  return unsupported_.count(opcode) > 0;
}

uint32_t FakeKernel::max_read() const {
  MutexLock lock(&mu_);
  size_t limit = std::min<size_t>(static_cast<size_t>(connection_.max_pages) * PageSize(),
                                  max_message_ - kHeaderRoom);
  return static_cast<uint32_t>(std::max<size_t>(limit, PageSize()));
}

uint32_t FakeKernel::max_write() const {
  MutexLock lock(&mu_);
  size_t limit = std::min<size_t>(
      {connection_.max_write, static_cast<size_t>(connection_.max_pages) * PageSize(),
       max_message_ - kHeaderRoom});
  return static_cast<uint32_t>(std::max<size_t>(limit, PageSize()));
}

}  // namespace fusekit
