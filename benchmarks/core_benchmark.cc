// Per-request cost of fusekit's protocol core: decode -> dispatch -> encode.
//
//   bazel run -c opt //benchmarks:core_benchmark
//   bazel run -c opt //benchmarks:core_benchmark -- --benchmark_min_time=0.01
//
// Each benchmark runs GETATTR, LOOKUP and a 128 KiB READ:
//
//   BM_Decode/*            DecodeRequest() alone on a prebuilt frame.
//   BM_InProcess/*         Session::HandleMessage() on a prebuilt frame: decode,
//                          in-flight bookkeeping, the filesystem call and the
//                          reply's writev. Replies go to one end of a
//                          SOCK_SEQPACKET socketpair whose other end a
//                          background thread drains, so the write costs what it
//                          costs on a real channel (a kernel copy of the reply;
//                          128 KiB for READ). BM_InProcessDevNull/* is the same
//                          with replies written to /dev/null, which accepts and
//                          drops them without copying: the difference between
//                          the two is the transport, the rest is the core.
//   BM_RoundTrip/*         A Server (workers = 1) on a socketpair, driven through
//                          WirePeer: send a frame, wait for its reply. Adds two
//                          thread wake-ups per request and WirePeer's own costs
//                          (a poll() and a copy of the reply body into a
//                          std::string per message).
//   BM_RoundTripSocket/*   The same Server round trip with plain send()/recv()
//                          into a reused buffer: the transport without WirePeer.
//
// Round trips depend on where the scheduler puts the two threads. Pinned to
// one CPU (`taskset -c 0 bazel-bin/benchmarks/core_benchmark`) they measure
// the software path; on two CPUs each request pays a cross-CPU wake-up,
// which on a VM can cost tens of microseconds and varies run to run. Use
// --benchmark_repetitions=N and compare medians.
//
// The filesystem is trivial: fixed attributes and entry; READ answers with
// ReplyData::Data() straight from a static 128 KiB buffer (no copy in user
// space). Items/s is requests per second; READ also reports bytes/s of data.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "fuse/kernel_abi.h"
#include "fuse/raw_filesystem.h"
#include "fuse/reply.h"
#include "fuse/request.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"
#include "fuse/session.h"
#include "fuse/wire_test_util.h"

namespace fusekit {
namespace {

constexpr uint32_t kReadSize = 128 * 1024;
alignas(64) uint8_t g_file_data[kReadSize];

void NoLog(absl::string_view) {}

// Answers GETATTR, LOOKUP and READ with fixed data; everything else ENOSYS.
class TrivialFs : public RawFileSystem {
 public:
  TrivialFs() {
    attr_.ino = 2;
    attr_.size = kReadSize;
    attr_.blocks = kReadSize / 512;
    attr_.mode = S_IFREG | 0644;
    attr_.nlink = 1;
    attr_.uid = 1000;
    attr_.gid = 1000;
    attr_.blksize = 4096;
    entry_.nodeid = 2;
    entry_.generation = 1;
    entry_.entry_timeout = absl::Seconds(1);
    entry_.attr_timeout = absl::Seconds(1);
    entry_.attr = attr_;
  }

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    reply.Entry(entry_);
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) override {
    reply.Attr(attr_, absl::Seconds(1));
  }
  void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) override {
    uint64_t offset = in.offset < kReadSize ? in.offset : kReadSize;
    size_t n = std::min<uint64_t>(in.size, kReadSize - offset);
    reply.Data(absl::MakeConstSpan(g_file_data + offset, n));
  }

 private:
  abi::fuse_attr attr_{};
  EntryParam entry_;
};

enum class Op { kGetattr, kLookup, kRead };

// A request frame in a malloc'd (so 16-byte aligned, like the server's read
// buffer) vector, with a settable unique.
struct Frame {
  std::vector<uint8_t> bytes;

  explicit Frame(const std::string& s) : bytes(s.begin(), s.end()) {}
  absl::Span<const uint8_t> span() const { return absl::MakeConstSpan(bytes); }
  absl::string_view view() const {
    return absl::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void set_unique(uint64_t unique) {
    std::memcpy(bytes.data() + offsetof(abi::fuse_in_header, unique), &unique, sizeof(unique));
  }
};

Frame MakeFrame(Op op, uint64_t unique) {
  switch (op) {
    case Op::kGetattr: {
      abi::fuse_getattr_in in{};
      return Frame(RequestBuilder(abi::Opcode::kGetattr, unique, 2)
                       .Caller(1000, 1000, 4242)
                       .Arg(in)
                       .Build());
    }
    case Op::kLookup:
      return Frame(RequestBuilder(abi::Opcode::kLookup, unique, abi::kRootId)
                       .Caller(1000, 1000, 4242)
                       .Name("hello.txt")
                       .Build());
    case Op::kRead: {
      abi::fuse_read_in in{};
      in.fh = 7;
      in.offset = 0;
      in.size = kReadSize;
      return Frame(RequestBuilder(abi::Opcode::kRead, unique, 2)
                       .Caller(1000, 1000, 4242)
                       .Arg(in)
                       .Build());
    }
  }
  abort();
}

// Bytes of file data one request moves (0: metadata only).
int64_t DataBytes(Op op) { return op == Op::kRead ? kReadSize : 0; }

void SetCounters(benchmark::State& state, Op op) {
  state.SetItemsProcessed(state.iterations());
  if (DataBytes(op) > 0) state.SetBytesProcessed(state.iterations() * DataBytes(op));
}

std::string InitFrame(uint64_t unique) {
  abi::fuse_init_in in{};
  in.major = abi::kKernelVersion;
  in.minor = abi::kKernelMinorVersion;
  in.max_readahead = 128 * 1024;
  uint64_t flags = WirePeer::kAllInitFlags;
  in.flags = static_cast<uint32_t>(flags);
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  return RequestBuilder(abi::Opcode::kInit, unique, 0).Arg(in).Build();
}

// ---------------------------------------------------------------------------
// BM_Decode: DecodeRequest alone.
// ---------------------------------------------------------------------------

void BM_Decode(benchmark::State& state, Op op) {
  Frame frame = MakeFrame(op, 2);
  DecodeSettings settings;
  DecodedRequest request;
  DecodeError error;
  for (auto _ : state) {
    bool ok = DecodeRequest(frame.span(), settings, &request, &error);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(request);
  }
  if (!DecodeRequest(frame.span(), settings, &request, &error)) {
    state.SkipWithError(error.message.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Decode, getattr, Op::kGetattr);
BENCHMARK_CAPTURE(BM_Decode, lookup, Op::kLookup);
BENCHMARK_CAPTURE(BM_Decode, read_128k, Op::kRead);

// ---------------------------------------------------------------------------
// BM_InProcess: Session::HandleMessage with replies to a drained socket.
// ---------------------------------------------------------------------------

// A SOCK_SEQPACKET socketpair: the session writes to session_fd(); a thread
// reads and discards everything from the other end, counting messages and
// checking each is a successful reply.
class DrainedSocket {
 public:
  DrainedSocket() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
      perror("socketpair");
      abort();
    }
    session_end_.reset(fds[0]);
    drain_end_.reset(fds[1]);
    // Room for several 128 KiB replies in flight (the default, ~208 KiB,
    // holds one), so the session blocks on a full socket less often and the
    // drainer runs alongside it; the kernel caps this at net.core.wmem_max.
    int size = 4 << 20;
    ::setsockopt(session_end_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    drainer_ = std::thread([this] { Drain(); });
  }
  ~DrainedSocket() { Finish(); }

  int session_fd() const { return session_end_.get(); }

  // Stops writing, waits for the drainer to take everything. Returns the
  // number of messages it read, or -1 if any was malformed or an error.
  int64_t Finish() {
    if (drainer_.joinable()) {
      ::shutdown(session_end_.get(), SHUT_WR);  // the drainer reads end-of-file
      drainer_.join();
    }
    return bad_.load() ? -1 : messages_.load();
  }

 private:
  void Drain() {
    std::unique_ptr<uint8_t[]> buffer(new uint8_t[2 << 20]);
    for (;;) {
      ssize_t n = ::recv(drain_end_.get(), buffer.get(), 2 << 20, 0);
      if (n <= 0) break;
      abi::fuse_out_header h;
      std::memcpy(&h, buffer.get(), sizeof(h));
      if (static_cast<size_t>(n) < sizeof(h) || h.len != n || h.error != 0) bad_ = true;
      messages_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  ScopedFd session_end_;
  ScopedFd drain_end_;
  std::thread drainer_;
  std::atomic<int64_t> messages_{0};
  std::atomic<bool> bad_{false};
};

void RunInProcess(benchmark::State& state, Op op, int fd, Session& session) {
  Frame init(InitFrame(1));
  session.HandleMessage(fd, init.span());
  if (!session.initialized()) {
    state.SkipWithError("INIT failed");
    return;
  }
  Frame frame = MakeFrame(op, 2);
  uint64_t unique = 2;
  for (auto _ : state) {
    frame.set_unique(unique += 2);
    session.HandleMessage(fd, frame.span());
  }
  SetCounters(state, op);
}

void BM_InProcess(benchmark::State& state, Op op) {
  TrivialFs fs;
  Session session(&fs, InitOptions{}, /*debug=*/false, NoLog);
  DrainedSocket socket;
  RunInProcess(state, op, socket.session_fd(), session);
  int64_t messages = socket.Finish();
  // INIT's reply, then one per iteration.
  if (messages != static_cast<int64_t>(state.iterations()) + 1 && !state.error_occurred()) {
    state.SkipWithError("replies missing or failed");
  }
}
BENCHMARK_CAPTURE(BM_InProcess, getattr, Op::kGetattr)->UseRealTime();
BENCHMARK_CAPTURE(BM_InProcess, lookup, Op::kLookup)->UseRealTime();
BENCHMARK_CAPTURE(BM_InProcess, read_128k, Op::kRead)->UseRealTime();

void BM_InProcessDevNull(benchmark::State& state, Op op) {
  TrivialFs fs;
  Session session(&fs, InitOptions{}, /*debug=*/false, NoLog);
  ScopedFd dev_null(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  if (!dev_null.valid()) {
    state.SkipWithError("cannot open /dev/null");
    return;
  }
  RunInProcess(state, op, dev_null.get(), session);
}
BENCHMARK_CAPTURE(BM_InProcessDevNull, getattr, Op::kGetattr)->UseRealTime();
BENCHMARK_CAPTURE(BM_InProcessDevNull, lookup, Op::kLookup)->UseRealTime();
BENCHMARK_CAPTURE(BM_InProcessDevNull, read_128k, Op::kRead)->UseRealTime();

// ---------------------------------------------------------------------------
// BM_RoundTrip: a Server with one worker, through WirePeer.
// ---------------------------------------------------------------------------

ServerOptions OneWorker() {
  ServerOptions options;
  options.workers = 1;
  options.log = NoLog;
  return options;
}

void BM_RoundTrip(benchmark::State& state, Op op) {
  TrivialFs fs;
  WirePeer peer(&fs, OneWorker());
  std::optional<WireReply> init = peer.Init();
  if (!init || init->error() != 0) {
    state.SkipWithError("INIT failed");
    return;
  }
  Frame frame = MakeFrame(op, 2);
  const size_t body = op == Op::kGetattr  ? sizeof(abi::fuse_attr_out)
                      : op == Op::kLookup ? sizeof(abi::fuse_entry_out)
                                          : kReadSize;
  const size_t expected = sizeof(abi::fuse_out_header) + body;
  for (auto _ : state) {
    frame.set_unique(peer.NextUnique());
    peer.Send(frame.view());
    std::optional<WireReply> reply = peer.Receive();
    if (!reply || reply->error() != 0 || reply->header.len != expected) {
      state.SkipWithError("bad reply");
      break;
    }
  }
  SetCounters(state, op);
}
BENCHMARK_CAPTURE(BM_RoundTrip, getattr, Op::kGetattr)->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTrip, lookup, Op::kLookup)->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTrip, read_128k, Op::kRead)->UseRealTime();

// The same round trip on a plain socket with a reused receive buffer.
void BM_RoundTripSocket(benchmark::State& state, Op op) {
  TrivialFs fs;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    state.SkipWithError("socketpair failed");
    return;
  }
  ScopedFd kernel_end(fds[0]);
  std::unique_ptr<Server> server = Server::Serve(&fs, ScopedFd(fds[1]), OneWorker());
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[2 << 20]);
  auto call = [&](const Frame& frame) -> ssize_t {
    if (::send(kernel_end.get(), frame.bytes.data(), frame.bytes.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(frame.bytes.size())) {
      return -1;
    }
    ssize_t n = ::recv(kernel_end.get(), buffer.get(), 2 << 20, 0);
    if (n < static_cast<ssize_t>(sizeof(abi::fuse_out_header))) return -1;
    abi::fuse_out_header h;
    std::memcpy(&h, buffer.get(), sizeof(h));
    return h.error == 0 && h.len == n ? n : -1;
  };
  if (call(Frame(InitFrame(1))) < 0) {
    state.SkipWithError("INIT failed");
  } else {
    Frame frame = MakeFrame(op, 2);
    uint64_t unique = 2;
    for (auto _ : state) {
      frame.set_unique(unique += 2);
      if (call(frame) < 0) {
        state.SkipWithError("bad reply");
        break;
      }
    }
    SetCounters(state, op);
  }
  kernel_end.reset();  // the worker reads end-of-file
  server.reset();
}
BENCHMARK_CAPTURE(BM_RoundTripSocket, getattr, Op::kGetattr)->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTripSocket, lookup, Op::kLookup)->UseRealTime();
BENCHMARK_CAPTURE(BM_RoundTripSocket, read_128k, Op::kRead)->UseRealTime();

}  // namespace
}  // namespace fusekit

BENCHMARK_MAIN();
