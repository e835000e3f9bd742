// Tests of the protocol core (Session, Server, Notifier, Reply) over a
// socketpair: the test plays the kernel with hand-built frames (WirePeer).
// Every wait is bounded, so a bug fails a test instead of hanging it.

#include "fuse/server.h"

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "fuse/notifier.h"
#include "fuse/raw_filesystem.h"
#include "fuse/reply.h"
#include "fuse/scoped_fd.h"
#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using abi::Opcode;

// Long enough for a loaded sanitizer run; only reached when a test fails.
constexpr absl::Duration kTimeout = absl::Seconds(10);

// --- Helpers -------------------------------------------------------------------

// A one-shot event with a timed wait. std::mutex rather than absl's
// primitives: the system abseil is not TSan-instrumented.
class Event {
 public:
  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
    cv_.notify_all();
  }
  bool WaitFor(absl::Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [this] { return notified_; });
  }
  bool notified() {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
};

// A LogSink that keeps every line.
class LogCapture {
 public:
  LogSink sink() {
    return [this](absl::string_view line) {
      MutexLock lock(&mu_);
      lines_.emplace_back(line.data(), line.size());
    };
  }
  bool Contains(absl::string_view needle) {
    MutexLock lock(&mu_);
    for (const std::string& line : lines_) {
      if (absl::StrContains(line, needle)) return true;
    }
    return false;
  }

 private:
  Mutex mu_;
  std::vector<std::string> lines_ ABSL_GUARDED_BY(mu_);
};

// Collects the server's messages by unique: Receive() returns whatever comes
// next, so messages for other uniques are kept for later. Notifications
// have unique 0.
class Inbox {
 public:
  explicit Inbox(WirePeer& peer) : peer_(peer) {}

  // The next message with `unique`, or nullopt after `timeout`.
  std::optional<WireReply> Await(uint64_t unique, absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      auto it = stash_.find(unique);
      if (it != stash_.end()) {
        WireReply reply = std::move(it->second.front());
        it->second.pop_front();
        if (it->second.empty()) stash_.erase(it);
        return reply;
      }
      if (!Pump(deadline)) return std::nullopt;
    }
  }
  std::optional<WireReply> AwaitNotification(absl::Duration timeout = kTimeout) {
    return Await(0, timeout);
  }

  // Receives one message into the stash; false if none came by `deadline`.
  bool Pump(absl::Time deadline) {
    absl::Duration left = std::max(deadline - absl::Now(), absl::ZeroDuration());
    std::optional<WireReply> message = peer_.Receive(left);
    if (!message.has_value()) return false;
    arrivals_.push_back(message->header.unique);
    stash_[message->header.unique].push_back(std::move(*message));
    return true;
  }

  // True if nothing is stashed and nothing arrives within `wait`.
  bool Quiet(absl::Duration wait = absl::Milliseconds(100)) {
    return stash_.empty() && peer_.Quiet(wait);
  }

  // Every unique received, in arrival order.
  const std::vector<uint64_t>& arrivals() const { return arrivals_; }

 private:
  WirePeer& peer_;
  std::map<uint64_t, std::deque<WireReply>> stash_;
  std::vector<uint64_t> arrivals_;
};

std::string Bytes(const void* data, size_t size) {
  return std::string(static_cast<const char*>(data), size);
}
template <typename T>
std::string Bytes(const T& value) {
  return Bytes(&value, sizeof(value));
}

abi::fuse_init_in InitIn(uint32_t minor, uint64_t flags, uint32_t max_readahead = 128 * 1024) {
  abi::fuse_init_in in{};
  in.major = abi::kKernelVersion;
  in.minor = minor;
  in.max_readahead = max_readahead;
  in.flags = static_cast<uint32_t>(flags);
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  return in;
}

// Sends INIT with `in` and returns its reply (the first message to arrive).
std::optional<WireReply> SendInit(WirePeer& peer, const abi::fuse_init_in& in,
                                  size_t size = sizeof(abi::fuse_init_in)) {
  return peer.Call(
      RequestBuilder(Opcode::kInit, peer.NextUnique(), 0).Bytes(Bytes(&in, size)).Build());
}

// INIT with everything offered; asserts success.
void InitOrDie(WirePeer& peer) {
  std::optional<WireReply> reply = peer.Init();
  ASSERT_TRUE(reply.has_value()) << "no INIT reply";
  ASSERT_EQ(reply->error(), 0);
  ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
}

std::string GetattrFrame(uint64_t unique, uint64_t nodeid) {
  abi::fuse_getattr_in in{};
  return RequestBuilder(Opcode::kGetattr, unique, nodeid).Arg(in).Build();
}

std::string LookupFrame(uint64_t unique, uint64_t parent, absl::string_view name) {
  return RequestBuilder(Opcode::kLookup, unique, parent).Name(name).Build();
}

// The kernel's INTERRUPT for `target`: its own unique is target | 1.
std::string InterruptFrame(uint64_t target) {
  abi::fuse_interrupt_in in{};
  in.unique = target;
  return RequestBuilder(Opcode::kInterrupt, target | 1, 0).Arg(in).Build();
}

// A filesystem whose LOOKUP and GETATTR behaviour each test plugs in, and
// which records what the core hands it. Hooks must be set before serving.
class TestFs : public RawFileSystem {
 public:
  std::function<void(ReplyEntry, uint64_t, absl::string_view)> on_lookup;
  std::function<void(ReplyAttr, uint64_t, const abi::fuse_getattr_in&)> on_getattr;
  std::function<void()> on_init;
  std::function<void(ReplyWrite, const abi::fuse_write_in&, absl::Span<const uint8_t>)> on_write;

  void Init(const ConnectionInfo& info) override {
    {
      MutexLock lock(&mu);
      ++init_calls;
      init_info = info;
    }
    if (on_init) on_init();
  }
  void Destroy() override {
    MutexLock lock(&mu);
    ++destroy_calls;
  }
  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    {
      MutexLock lock(&mu);
      contexts.push_back(reply.context());
    }
    if (on_lookup) {
      on_lookup(std::move(reply), parent, name);
    } else {
      reply.Error(Errno(ENOENT));
    }
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) override {
    if (on_getattr) {
      on_getattr(std::move(reply), nodeid, in);
      return;
    }
    abi::fuse_attr attr{};
    attr.ino = nodeid;
    attr.mode = 0100644;
    attr.nlink = 1;
    reply.Attr(attr, absl::Seconds(1));
  }
  void Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in& in,
             absl::Span<const uint8_t> data) override {
    if (on_write) {
      on_write(std::move(reply), in, data);
    } else {
      reply.Error(Errno(ENOSYS));
    }
  }
  void Forget(const RequestContext& context, uint64_t nodeid, uint64_t nlookup) override {
    MutexLock lock(&mu);
    ++forget_calls;
    forgotten[nodeid] += nlookup;
  }
  void BatchForget(const RequestContext& context,
                   absl::Span<const abi::fuse_forget_one> forgets) override {
    MutexLock lock(&mu);
    ++batch_forget_calls;
    for (const abi::fuse_forget_one& f : forgets) {
      ++batch_forget_entries;
      forgotten[f.nodeid] += f.nlookup;
    }
  }

  Mutex mu;
  int init_calls ABSL_GUARDED_BY(mu) = 0;
  ConnectionInfo init_info ABSL_GUARDED_BY(mu);
  int destroy_calls ABSL_GUARDED_BY(mu) = 0;
  std::vector<RequestContext> contexts ABSL_GUARDED_BY(mu);
  int forget_calls ABSL_GUARDED_BY(mu) = 0;
  int batch_forget_calls ABSL_GUARDED_BY(mu) = 0;
  int batch_forget_entries ABSL_GUARDED_BY(mu) = 0;
  std::map<uint64_t, uint64_t> forgotten ABSL_GUARDED_BY(mu);
};

ServerOptions Options(int workers) {
  ServerOptions options;
  options.workers = workers;
  return options;
}

// --- INIT ------------------------------------------------------------------------

TEST(ServerInitTest, GrantsWantedAndOfferedButNotRefused) {
  TestFs fs;
  ServerOptions options = Options(1);
  options.init.want = abi::kInitAsyncRead | abi::kInitPosixLocks | abi::kInitBigWrites |
                      abi::kInitDoReaddirplus | abi::kInitHasExpireOnly |
                      abi::kInitCreateSuppGroup | abi::kInitPassthrough;
  options.init.refuse = abi::kInitPosixLocks | abi::kInitCreateSuppGroup;
  WirePeer peer(&fs, options);

  // Offered: some wanted, some refused, some not wanted; BigWrites,
  // DoReaddirplus and Passthrough are wanted but not offered.
  const uint64_t offered = abi::kInitAsyncRead | abi::kInitPosixLocks | abi::kInitMaxPages |
                           abi::kInitSpliceRead | abi::kInitExt | abi::kInitHasExpireOnly |
                           abi::kInitCreateSuppGroup | abi::kInitAllowIdmap;
  std::optional<WireReply> reply = SendInit(peer, InitIn(45, offered));
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->error(), 0);
  ASSERT_EQ(reply->body.size(), sizeof(abi::fuse_init_out));
  auto out = reply->As<abi::fuse_init_out>();

  // MaxPages is asked for automatically (max_write defaults to 1 MiB).
  const uint64_t granted = abi::kInitAsyncRead | abi::kInitMaxPages | abi::kInitHasExpireOnly;
  EXPECT_EQ(out.major, 7u);
  EXPECT_EQ(out.minor, 45u);
  EXPECT_EQ(out.flags, static_cast<uint32_t>(granted) | static_cast<uint32_t>(abi::kInitExt));
  EXPECT_EQ(out.flags2, static_cast<uint32_t>(granted >> 32));
  EXPECT_EQ(out.flags & abi::kInitPosixLocks, 0u) << "refused though offered";
  EXPECT_EQ(out.flags2 & (abi::kInitCreateSuppGroup >> 32), 0u) << "refused though offered";
  EXPECT_EQ(out.flags & abi::kInitSpliceRead, 0u) << "offered but not wanted";
  EXPECT_EQ(out.flags & abi::kInitBigWrites, 0u) << "wanted but not offered";

  ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
  const ConnectionInfo& info = peer.server().connection();
  EXPECT_EQ(info.flags, granted);
  EXPECT_EQ(info.kernel_flags, offered);
  EXPECT_TRUE(info.Has(abi::kInitHasExpireOnly));
  EXPECT_FALSE(info.Has(abi::kInitPosixLocks));
}

TEST(ServerInitTest, HighFlagsNeedInitExt) {
  TestFs fs;
  ServerOptions options = Options(1);
  options.init.want = abi::kInitAsyncRead | abi::kInitHasExpireOnly;
  WirePeer peer(&fs, options);
  // flags2 bits without INIT_EXT in flags: the kernel did not fill flags2.
  std::optional<WireReply> reply =
      SendInit(peer, InitIn(45, abi::kInitAsyncRead | abi::kInitHasExpireOnly));
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->error(), 0);
  auto out = reply->As<abi::fuse_init_out>();
  EXPECT_EQ(out.flags, static_cast<uint32_t>(abi::kInitAsyncRead));
  EXPECT_EQ(out.flags2, 0u);
  ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
  EXPECT_EQ(peer.server().connection().flags, abi::kInitAsyncRead);
}

TEST(ServerInitTest, MinorIsTheSmallerOfKernelAndOurs) {
  {
    TestFs fs;
    WirePeer peer(&fs, Options(1));
    std::optional<WireReply> reply =
        SendInit(peer, InitIn(50, WirePeer::kAllInitFlags));
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->error(), 0);
    auto out = reply->As<abi::fuse_init_out>();
    EXPECT_EQ(out.major, 7u);
    EXPECT_EQ(out.minor, 45u);
    ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
    EXPECT_EQ(peer.server().connection().minor, 45u);
  }
  {
    TestFs fs;
    WirePeer peer(&fs, Options(1));
    // A 7.30 kernel sends the 16-byte fuse_init_in of its time (no flags2).
    std::optional<WireReply> reply =
        SendInit(peer, InitIn(30, WirePeer::kAllInitFlags & 0xffffffffu), 16);
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->error(), 0);
    auto out = reply->As<abi::fuse_init_out>();
    EXPECT_EQ(out.major, 7u);
    EXPECT_EQ(out.minor, 30u);
    ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
    EXPECT_EQ(peer.server().connection().minor, 30u);
    // A GETATTR in 7.30 layout is still understood.
    std::optional<WireReply> attr = peer.Call(GetattrFrame(peer.NextUnique(), 5));
    ASSERT_TRUE(attr.has_value());
    EXPECT_EQ(attr->error(), 0);
    EXPECT_EQ(attr->As<abi::fuse_attr_out>().attr.ino, 5u);
  }
}

TEST(ServerInitTest, SizesAndPassThroughSettings) {
  TestFs fs;
  ServerOptions options = Options(1);
  options.init.max_write = 1 << 20;
  options.init.max_readahead = 64 * 1024;
  options.init.max_background = 32;
  options.init.congestion_threshold = 24;
  options.init.time_gran = 1000;
  WirePeer peer(&fs, options);
  std::optional<WireReply> reply =
      SendInit(peer, InitIn(45, abi::kInitMaxPages | abi::kInitAsyncRead, 128 * 1024));
  ASSERT_TRUE(reply.has_value());
  ASSERT_EQ(reply->error(), 0);
  auto out = reply->As<abi::fuse_init_out>();
  EXPECT_EQ(out.max_write, 1u << 20);
  EXPECT_EQ(out.max_pages, 256);
  EXPECT_NE(out.flags & abi::kInitMaxPages, 0u);
  EXPECT_EQ(out.max_readahead, 64u * 1024) << "min(kernel 128 KiB, ours 64 KiB)";
  EXPECT_EQ(out.max_background, 32);
  EXPECT_EQ(out.congestion_threshold, 24);
  EXPECT_EQ(out.time_gran, 1000u);

  ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
  const ConnectionInfo& info = peer.server().connection();
  EXPECT_EQ(info.major, 7u);
  EXPECT_EQ(info.minor, 45u);
  EXPECT_EQ(info.max_write, out.max_write);
  EXPECT_EQ(info.max_pages, out.max_pages);
  EXPECT_EQ(info.max_readahead, out.max_readahead);
  EXPECT_EQ(info.max_background, out.max_background);
  EXPECT_EQ(info.congestion_threshold, out.congestion_threshold);
  EXPECT_EQ(info.time_gran, out.time_gran);

  // The filesystem's Init saw the same settings, exactly once.
  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.init_calls, 1);
  EXPECT_EQ(fs.init_info.major, info.major);
  EXPECT_EQ(fs.init_info.minor, info.minor);
  EXPECT_EQ(fs.init_info.flags, info.flags);
  EXPECT_EQ(fs.init_info.kernel_flags, info.kernel_flags);
  EXPECT_EQ(fs.init_info.max_write, info.max_write);
  EXPECT_EQ(fs.init_info.max_readahead, info.max_readahead);
  EXPECT_EQ(fs.init_info.max_pages, info.max_pages);
  EXPECT_EQ(fs.init_info.max_background, info.max_background);
  EXPECT_EQ(fs.init_info.congestion_threshold, info.congestion_threshold);
  EXPECT_EQ(fs.init_info.time_gran, info.time_gran);
}

TEST(ServerInitTest, MaxWriteClampsTo128KiBWithoutMaxPages) {
  // Not offered by the kernel.
  {
    TestFs fs;
    WirePeer peer(&fs, Options(1));
    std::optional<WireReply> reply =
        SendInit(peer, InitIn(45, abi::kInitAsyncRead | abi::kInitBigWrites, 256 * 1024));
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->error(), 0);
    auto out = reply->As<abi::fuse_init_out>();
    EXPECT_EQ(out.max_write, 128u * 1024);
    EXPECT_EQ(out.max_pages, 0);
    EXPECT_EQ(out.flags & abi::kInitMaxPages, 0u);
    EXPECT_EQ(out.max_readahead, 256u * 1024) << "min(kernel 256 KiB, ours 1 MiB)";
    ASSERT_TRUE(peer.server().WaitInitialized(kTimeout));
    EXPECT_EQ(peer.server().connection().max_write, 128u * 1024);
    MutexLock lock(&fs.mu);
    EXPECT_EQ(fs.init_info.max_write, 128u * 1024);
  }
  // Offered, but refused by the filesystem.
  {
    TestFs fs;
    ServerOptions options = Options(1);
    options.init.refuse = abi::kInitMaxPages;
    WirePeer peer(&fs, options);
    std::optional<WireReply> reply = SendInit(peer, InitIn(45, abi::kInitMaxPages));
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->error(), 0);
    auto out = reply->As<abi::fuse_init_out>();
    EXPECT_EQ(out.max_write, 128u * 1024);
    EXPECT_EQ(out.max_pages, 0);
    EXPECT_EQ(out.flags & abi::kInitMaxPages, 0u);
  }
}

TEST(ServerInitTest, RequestsBeforeInitGetEio) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  uint64_t early = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(GetattrFrame(early, 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, early);
  EXPECT_EQ(reply->error(), EIO);
  // A FORGET before INIT is dropped silently (FORGET never gets a reply).
  abi::fuse_forget_in forget{};
  forget.nlookup = 1;
  peer.Send(RequestBuilder(Opcode::kForget, peer.NextUnique(), 5).Arg(forget).Build());
  EXPECT_TRUE(peer.Quiet());

  InitOrDie(peer);
  reply = peer.Call(GetattrFrame(peer.NextUnique(), 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), 0);
  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.forget_calls, 0);
  EXPECT_EQ(fs.init_calls, 1);
}

TEST(ServerInitTest, SecondInitGetsEio) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(
      RequestBuilder(Opcode::kInit, unique, 0).Arg(InitIn(45, WirePeer::kAllInitFlags)).Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), EIO);
  EXPECT_TRUE(reply->body.empty());
  // The first negotiation stands and the server keeps serving.
  EXPECT_EQ(peer.server().connection().minor, 45u);
  reply = peer.Call(GetattrFrame(peer.NextUnique(), 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), 0);
  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.init_calls, 1);
}

// --- Dispatch ----------------------------------------------------------------------

TEST(ServerDispatchTest, LookupAndGetattrReachTheFilesystem) {
  TestFs fs;
  Mutex mu;
  uint64_t lookup_parent = 0;
  std::string lookup_name;
  uint64_t getattr_node = 0;
  abi::fuse_getattr_in getattr_in{};
  RequestContext getattr_context;
  fs.on_lookup = [&](ReplyEntry reply, uint64_t parent, absl::string_view name) {
    {
      MutexLock lock(&mu);
      lookup_parent = parent;
      lookup_name = std::string(name);
    }
    EntryParam e;
    e.nodeid = 7;
    e.generation = 3;
    e.entry_timeout = absl::Seconds(5);
    e.attr_timeout = absl::Milliseconds(1500);
    e.attr.ino = 7;
    e.attr.mode = 0100644;
    EXPECT_EQ(reply.Entry(e), kOk);
  };
  fs.on_getattr = [&](ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) {
    {
      MutexLock lock(&mu);
      getattr_node = nodeid;
      getattr_in = in;
      getattr_context = reply.context();
    }
    abi::fuse_attr attr{};
    attr.ino = nodeid;
    attr.size = 1234;
    attr.mode = 0100600;
    EXPECT_EQ(reply.Attr(attr, absl::Milliseconds(2500)), kOk);
  };
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);

  uint64_t u1 = peer.NextUnique();
  std::optional<WireReply> reply =
      peer.Call(RequestBuilder(Opcode::kLookup, u1, abi::kRootId)
                    .Caller(1000, 100, 4242)
                    .Name("hello.txt")
                    .Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, u1);
  ASSERT_EQ(reply->error(), 0);
  ASSERT_EQ(reply->body.size(), sizeof(abi::fuse_entry_out));
  ASSERT_EQ(reply->header.len, sizeof(abi::fuse_out_header) + sizeof(abi::fuse_entry_out));
  auto entry = reply->As<abi::fuse_entry_out>();
  EXPECT_EQ(entry.nodeid, 7u);
  EXPECT_EQ(entry.generation, 3u);
  EXPECT_EQ(entry.entry_valid, 5u);
  EXPECT_EQ(entry.entry_valid_nsec, 0u);
  EXPECT_EQ(entry.attr_valid, 1u);
  EXPECT_EQ(entry.attr_valid_nsec, 500000000u);
  EXPECT_EQ(entry.attr.ino, 7u);

  uint64_t u2 = peer.NextUnique();
  abi::fuse_getattr_in in{};
  in.getattr_flags = abi::kGetattrFh;
  in.fh = 99;
  reply = peer.Call(
      RequestBuilder(Opcode::kGetattr, u2, 7).Caller(2000, 200, 777).Arg(in).Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, u2);
  ASSERT_EQ(reply->error(), 0);
  ASSERT_EQ(reply->body.size(), sizeof(abi::fuse_attr_out));
  auto attr = reply->As<abi::fuse_attr_out>();
  EXPECT_EQ(attr.attr.ino, 7u);
  EXPECT_EQ(attr.attr.size, 1234u);
  EXPECT_EQ(attr.attr_valid, 2u);
  EXPECT_EQ(attr.attr_valid_nsec, 500000000u);

  MutexLock lock(&mu);
  EXPECT_EQ(lookup_parent, abi::kRootId);
  EXPECT_EQ(lookup_name, "hello.txt");
  EXPECT_EQ(getattr_node, 7u);
  EXPECT_EQ(getattr_in.getattr_flags, abi::kGetattrFh);
  EXPECT_EQ(getattr_in.fh, 99u);
  EXPECT_EQ(getattr_context.unique, u2);
  EXPECT_EQ(getattr_context.nodeid, 7u);
  EXPECT_EQ(getattr_context.uid, 2000u);
  EXPECT_EQ(getattr_context.gid, 200u);
  EXPECT_EQ(getattr_context.pid, 777u);
  EXPECT_TRUE(getattr_context.supplementary_groups.empty());
  MutexLock fs_lock(&fs.mu);
  ASSERT_EQ(fs.contexts.size(), 1u);
  EXPECT_EQ(fs.contexts[0].unique, u1);
  EXPECT_EQ(fs.contexts[0].nodeid, abi::kRootId);
  EXPECT_EQ(fs.contexts[0].uid, 1000u);
  EXPECT_EQ(fs.contexts[0].gid, 100u);
  EXPECT_EQ(fs.contexts[0].pid, 4242u);
}

TEST(ServerDispatchTest, WriteDataReachesTheFilesystemOnAPageBoundary) {
  // The worker's buffer puts a WRITE's data on a page boundary: copies to
  // and from page-aligned memory are the fast ones (aligned_buffer.h).
  TestFs fs;
  Mutex mu;
  std::vector<uintptr_t> page_offsets;
  std::vector<std::string> received;
  fs.on_write = [&](ReplyWrite reply, const abi::fuse_write_in& in,
                    absl::Span<const uint8_t> data) {
    {
      MutexLock lock(&mu);
      page_offsets.push_back(reinterpret_cast<uintptr_t>(data.data()) % 4096);
      received.emplace_back(reinterpret_cast<const char*>(data.data()), data.size());
    }
    EXPECT_EQ(reply.Written(in.size), kOk);
  };
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);
  std::vector<std::string> sent;
  for (size_t size : {size_t{1}, size_t{4096}, size_t{65536} + 7}) {
    std::string data(size, '\0');
    for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + size) % 26);
    abi::fuse_write_in in{};
    in.fh = 1;
    in.size = static_cast<uint32_t>(size);
    const uint64_t unique = peer.NextUnique();
    std::optional<WireReply> reply =
        peer.Call(RequestBuilder(Opcode::kWrite, unique, 5).Arg(in).Bytes(data).Build());
    ASSERT_TRUE(reply.has_value());
    ASSERT_EQ(reply->error(), 0);
    EXPECT_EQ(reply->As<abi::fuse_write_out>().size, size);
    sent.push_back(data);
  }
  MutexLock lock(&mu);
  EXPECT_EQ(received, sent);
  EXPECT_EQ(page_offsets, std::vector<uintptr_t>(3, 0));
}

TEST(ServerDispatchTest, UnknownOpcodeGetsEnosysAndServingGoesOn) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  for (uint32_t opcode : {999u, 63u, 4095u, 0u}) {
    uint64_t unique = peer.NextUnique();
    std::optional<WireReply> reply =
        peer.Call(RequestBuilder(opcode, unique, 1).Bytes("some bytes").Build());
    ASSERT_TRUE(reply.has_value()) << "opcode " << opcode;
    EXPECT_EQ(reply->header.unique, unique);
    EXPECT_EQ(reply->error(), ENOSYS) << "opcode " << opcode;
    EXPECT_TRUE(reply->body.empty());
  }
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(GetattrFrame(unique, 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), 0);
  EXPECT_TRUE(peer.Quiet());
}

TEST(ServerDispatchTest, MalformedFrameGetsEioAndServingGoesOn) {
  TestFs fs;
  LogCapture log;
  ServerOptions options = Options(1);
  options.log = log.sink();
  WirePeer peer(&fs, options);
  InitOrDie(peer);

  abi::fuse_getattr_in in{};
  RequestBuilder getattr(Opcode::kGetattr, 0, 1);
  getattr.Arg(in);
  const uint32_t true_len = static_cast<uint32_t>(getattr.Build().size());
  for (uint32_t len : {true_len + 8, true_len - 8, 0u, 0xffffffffu}) {
    uint64_t unique = peer.NextUnique();
    std::optional<WireReply> reply =
        peer.Call(RequestBuilder(Opcode::kGetattr, unique, 1).Arg(in).BuildWithLength(len));
    ASSERT_TRUE(reply.has_value()) << "len " << len;
    EXPECT_EQ(reply->header.unique, unique);
    EXPECT_EQ(reply->error(), EIO) << "len " << len;
  }
  // A body too short for its opcode.
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply =
      peer.Call(RequestBuilder(Opcode::kGetattr, unique, 1).Bytes("abc").Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), EIO);
  // A malformed FORGET is dropped without a reply (it never takes one).
  abi::fuse_forget_in forget{};
  peer.Send(RequestBuilder(Opcode::kForget, peer.NextUnique(), 5).Arg(forget).BuildWithLength(7));
  EXPECT_TRUE(peer.Quiet());
  EXPECT_TRUE(log.Contains("bad request"));

  unique = peer.NextUnique();
  reply = peer.Call(GetattrFrame(unique, 3));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), 0);
  EXPECT_EQ(reply->As<abi::fuse_attr_out>().attr.ino, 3u);
  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.forget_calls, 0);
}

// --- Replies ------------------------------------------------------------------------

TEST(ServerReplyTest, DeferredReplyFromAnotherThread) {
  TestFs fs;
  Mutex mu;
  std::vector<std::thread> threads;
  Event fast_answered;
  fs.on_getattr = [&](ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) {
    abi::fuse_attr attr{};
    attr.ino = nodeid;
    EXPECT_EQ(reply.Attr(attr, absl::Seconds(1)), kOk);
    fast_answered.Notify();
  };
  fs.on_lookup = [&](ReplyEntry reply, uint64_t parent, absl::string_view name) {
    std::string copy(name);  // `name` dies with the request buffer
    MutexLock lock(&mu);
    threads.emplace_back([reply = std::move(reply), copy, &fast_answered]() mutable {
      absl::SleepFor(absl::Milliseconds(50));
      // On a loaded machine 50 ms may not suffice for the other request:
      // wait for it (bounded) so the order is certain.
      EXPECT_TRUE(fast_answered.WaitFor(kTimeout));
      EntryParam e;
      e.nodeid = copy == "deferred" ? 42 : 0;
      e.attr.ino = e.nodeid;
      EXPECT_EQ(reply.Entry(e), kOk);
    });
  };
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t slow = peer.NextUnique();
  peer.Send(LookupFrame(slow, 1, "deferred"));
  uint64_t fast = peer.NextUnique();
  peer.Send(GetattrFrame(fast, 9));

  std::optional<WireReply> fast_reply = inbox.Await(fast);
  ASSERT_TRUE(fast_reply.has_value());
  EXPECT_EQ(fast_reply->error(), 0);
  std::optional<WireReply> slow_reply = inbox.Await(slow);
  ASSERT_TRUE(slow_reply.has_value());
  EXPECT_EQ(slow_reply->error(), 0);
  EXPECT_EQ(slow_reply->As<abi::fuse_entry_out>().nodeid, 42u);
  ASSERT_EQ(inbox.arrivals().size(), 2u);
  EXPECT_EQ(inbox.arrivals()[0], fast) << "the deferred reply came first";
  EXPECT_EQ(inbox.arrivals()[1], slow);
  EXPECT_TRUE(inbox.Quiet());

  MutexLock lock(&mu);
  for (std::thread& t : threads) t.join();
}

TEST(ServerReplyTest, DroppedReplyAnswersEio) {
  TestFs fs;
  LogCapture log;
  fs.on_lookup = [](ReplyEntry reply, uint64_t, absl::string_view) {
    // Dropped: destroyed at the end of this call without an answer.
  };
  ServerOptions options = Options(1);
  options.log = log.sink();
  WirePeer peer(&fs, options);
  InitOrDie(peer);
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(LookupFrame(unique, 1, "x"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), EIO);
  EXPECT_TRUE(peer.Quiet());
  EXPECT_TRUE(log.Contains("dropped without a reply"));
}

TEST(ServerReplyTest, SecondReplyIsNotSent) {
  TestFs fs;
  std::atomic<int> second_ok{-1}, third_ok{-1};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t, absl::string_view) {
    EntryParam e;
    e.nodeid = 5;
    EXPECT_EQ(reply.Entry(e), kOk);
    EXPECT_TRUE(reply.replied());
    second_ok = reply.Entry(e).ok();
    third_ok = reply.Error(Errno(ENOENT)).ok();
  };
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(LookupFrame(unique, 1, "x"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), 0);
  EXPECT_EQ(reply->As<abi::fuse_entry_out>().nodeid, 5u);
  EXPECT_TRUE(peer.Quiet());
  EXPECT_EQ(second_ok.load(), 0);
  EXPECT_EQ(third_ok.load(), 0);
}

// --- Interrupts ------------------------------------------------------------------------

TEST(ServerInterruptTest, InterruptWhileHandlerBlocks) {
  TestFs fs;
  Event entered, callback_ran;
  std::atomic<bool> interrupted_at_entry{true}, interrupted_after{false};
  std::atomic<bool> callback_in_time{false};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t, absl::string_view) {
    interrupted_at_entry = reply.Interrupted();
    reply.OnInterrupt([&] { callback_ran.Notify(); });
    entered.Notify();
    callback_in_time = callback_ran.WaitFor(kTimeout);
    interrupted_after = reply.Interrupted();
    reply.Error(Errno(EINTR));
  };
  // Two workers: one blocks in the handler, the other reads the INTERRUPT.
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t target = peer.NextUnique();
  peer.Send(LookupFrame(target, 1, "slow"));
  ASSERT_TRUE(entered.WaitFor(kTimeout));
  peer.Send(InterruptFrame(target));

  std::optional<WireReply> reply = inbox.Await(target);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), EINTR);
  EXPECT_FALSE(interrupted_at_entry.load());
  EXPECT_TRUE(callback_in_time.load());
  EXPECT_TRUE(interrupted_after.load());
  // The INTERRUPT itself is not answered once its target was found.
  EXPECT_TRUE(inbox.Quiet());
}

TEST(ServerInterruptTest, InterruptBeforeItsRequestIsRemembered) {
  TestFs fs;
  std::atomic<bool> interrupted_at_entry{false};
  std::atomic<bool> callback_ran{false};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t, absl::string_view) {
    interrupted_at_entry = reply.Interrupted();
    // Already interrupted: the callback runs at once.
    reply.OnInterrupt([&] { callback_ran = true; });
    reply.Error(Errno(EINTR));
  };
  // One worker: the INTERRUPT is certainly handled before its target.
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t target = peer.NextUnique();
  peer.Send(InterruptFrame(target));
  peer.Send(LookupFrame(target, 1, "x"));
  std::optional<WireReply> reply = inbox.Await(target);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), EINTR);
  EXPECT_TRUE(interrupted_at_entry.load());
  EXPECT_TRUE(callback_ran.load());
  EXPECT_TRUE(inbox.Quiet());

  // The next request is not affected.
  uint64_t next = peer.NextUnique();
  reply = peer.Call(GetattrFrame(next, 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, next);
  EXPECT_EQ(reply->error(), 0);
}

TEST(ServerInterruptTest, InterruptsDisabledAnswerEnosys) {
  TestFs fs;
  std::atomic<bool> interrupted_at_entry{true};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t, absl::string_view) {
    interrupted_at_entry = reply.Interrupted();
    reply.Error(Errno(ENOENT));
  };
  ServerOptions options = Options(1);
  options.init.interrupts = false;
  WirePeer peer(&fs, options);
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t target = peer.NextUnique();
  peer.Send(InterruptFrame(target));
  std::optional<WireReply> reply = inbox.Await(target | 1);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), ENOSYS);
  EXPECT_EQ(reply->header.unique & 1, 1u);

  peer.Send(LookupFrame(target, 1, "x"));
  reply = inbox.Await(target);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), ENOENT);
  EXPECT_FALSE(interrupted_at_entry.load());
  EXPECT_TRUE(inbox.Quiet());
}

TEST(ServerInterruptTest, StaleInterruptIsAnsweredEagain) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t target = peer.NextUnique();
  peer.Send(GetattrFrame(target, 1));
  std::optional<WireReply> reply = inbox.Await(target);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), 0);

  // The target is already answered: the INTERRUPT is kept (it might have
  // overtaken its request) and answered EAGAIN once later requests show it
  // is stale.
  peer.Send(InterruptFrame(target));
  EXPECT_TRUE(inbox.Quiet());

  std::optional<WireReply> eagain;
  int requests = 0;
  for (; requests < 64 && !eagain.has_value(); ++requests) {
    uint64_t next = peer.NextUnique();
    peer.Send(GetattrFrame(next, 1));
    reply = inbox.Await(next);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->error(), 0);
    eagain = inbox.Await(target | 1, absl::Milliseconds(20));
  }
  // The core keeps such INTERRUPTs per shard of in-flight requests, so the
  // EAGAIN goes out with the next request of the same shard: within a few
  // requests, not necessarily the very next one.
  ASSERT_TRUE(eagain.has_value()) << "no EAGAIN after " << requests << " requests";
  EXPECT_EQ(eagain->error(), EAGAIN);
  EXPECT_TRUE(eagain->body.empty());
  EXPECT_TRUE(inbox.Quiet());
}

// --- FORGET, BATCH_FORGET, DESTROY ---------------------------------------------------

TEST(ServerForgetTest, ForgetAndBatchForgetAreNotAnswered) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);

  abi::fuse_forget_in forget{};
  forget.nlookup = 3;
  peer.Send(RequestBuilder(Opcode::kForget, peer.NextUnique(), 5).Arg(forget).Build());
  EXPECT_TRUE(peer.Quiet());

  // More than the core's 256-entry chunk, to cover the chunking.
  constexpr int kCount = 300;
  abi::fuse_batch_forget_in batch{};
  batch.count = kCount;
  RequestBuilder builder(Opcode::kBatchForget, peer.NextUnique(), 0);
  builder.Arg(batch);
  for (int i = 0; i < kCount; ++i) {
    abi::fuse_forget_one one{};
    one.nodeid = 100 + static_cast<uint64_t>(i % 10);
    one.nlookup = 2;
    builder.Arg(one);
  }
  peer.Send(builder.Build());
  EXPECT_TRUE(peer.Quiet());

  // A request after them: its reply is the only message (one worker, so
  // both forgets were handled before it).
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(GetattrFrame(unique, 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_TRUE(peer.Quiet());

  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.forget_calls, 1);
  EXPECT_EQ(fs.forgotten[5], 3u);
  EXPECT_GE(fs.batch_forget_calls, 1);
  EXPECT_EQ(fs.batch_forget_entries, kCount);
  for (uint64_t node = 100; node < 110; ++node) {
    EXPECT_EQ(fs.forgotten[node], 60u) << node;
  }
}

TEST(ServerDestroyTest, DestroyCallsTheFilesystemAndRepliesOk) {
  TestFs fs;
  WirePeer peer(&fs, Options(1));
  InitOrDie(peer);
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply =
      peer.Call(RequestBuilder(Opcode::kDestroy, unique, 0).Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), 0);
  EXPECT_TRUE(reply->body.empty());
  EXPECT_EQ(reply->header.len, sizeof(abi::fuse_out_header));
  MutexLock lock(&fs.mu);
  EXPECT_EQ(fs.destroy_calls, 1);
}

// --- Notifications -----------------------------------------------------------------

// Checks one notification: unique 0, the code in `error`, exactly `body`.
void ExpectNotification(const std::optional<WireReply>& message, abi::NotifyCode code,
                        const std::string& body) {
  ASSERT_TRUE(message.has_value()) << "no notification " << static_cast<int>(code);
  EXPECT_EQ(message->header.unique, 0u);
  EXPECT_EQ(message->header.error, static_cast<int32_t>(code));
  EXPECT_EQ(message->header.len, sizeof(abi::fuse_out_header) + body.size());
  EXPECT_EQ(message->body, body) << "notification " << static_cast<int>(code);
}

TEST(ServerNotifyTest, NotificationsFromOutsideAHandler) {
  TestFs fs;
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);
  Notifier& notifier = peer.server().notifier();

  {
    EXPECT_EQ(notifier.InvalInode(5, 100, 200), kOk);
    abi::fuse_notify_inval_inode_out out{};
    out.ino = 5;
    out.off = 100;
    out.len = 200;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kInvalInode, Bytes(out));
  }
  {
    EXPECT_EQ(notifier.InvalInode(6, -1, 0), kOk);
    abi::fuse_notify_inval_inode_out out{};
    out.ino = 6;
    out.off = -1;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kInvalInode, Bytes(out));
  }
  {
    EXPECT_EQ(notifier.InvalEntry(1, "foo"), kOk);
    abi::fuse_notify_inval_entry_out out{};
    out.parent = 1;
    out.namelen = 3;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kInvalEntry,
                       Bytes(out) + std::string("foo\0", 4));
  }
  {
    EXPECT_EQ(notifier.InvalEntry(2, "bar", /*expire_only=*/true), kOk);
    abi::fuse_notify_inval_entry_out out{};
    out.parent = 2;
    out.namelen = 3;
    out.flags = abi::kExpireOnly;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kInvalEntry,
                       Bytes(out) + std::string("bar\0", 4));
  }
  {
    EXPECT_EQ(notifier.Delete(1, 9, "gone"), kOk);
    abi::fuse_notify_delete_out out{};
    out.parent = 1;
    out.child = 9;
    out.namelen = 4;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kDelete,
                       Bytes(out) + std::string("gone\0", 5));
  }
  {
    const std::string data = "page cache bytes";
    EXPECT_EQ(notifier.Store(7, 4096,
                             absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()),
                                                 data.size())),
              kOk);
    abi::fuse_notify_store_out out{};
    out.nodeid = 7;
    out.offset = 4096;
    out.size = static_cast<uint32_t>(data.size());
    ExpectNotification(peer.Receive(), abi::NotifyCode::kStore, Bytes(out) + data);
  }
  {
    const uint64_t ids[] = {3, 4, 5};
    EXPECT_EQ(notifier.Prune(ids), kOk);
    abi::fuse_notify_prune_out out{};
    out.count = 3;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kPrune,
                       Bytes(out) + Bytes(ids, sizeof(ids)));
  }
  {
    EXPECT_EQ(notifier.IncEpoch(), kOk);
    ExpectNotification(peer.Receive(), abi::NotifyCode::kIncEpoch, "");
  }
  {
    EXPECT_EQ(notifier.PollWakeup(77), kOk);
    abi::fuse_notify_poll_wakeup_out out{};
    out.kh = 77;
    ExpectNotification(peer.Receive(), abi::NotifyCode::kPoll, Bytes(out));
  }
  // Names the kernel would refuse are refused here, and nothing is sent.
  EXPECT_EQ(notifier.InvalEntry(1, ""), Errno(EINVAL));
  EXPECT_EQ(notifier.Delete(1, 2, std::string(256, 'x')), Errno(EINVAL));
  EXPECT_TRUE(peer.Quiet());
}

TEST(ServerNotifyTest, NotificationFromAHandlerComesAfterItsReply) {
  TestFs fs;
  std::atomic<Notifier*> notifier{nullptr};
  std::atomic<int> inval_result{-1}, inode_result{-1};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t parent, absl::string_view name) {
    // Sent directly, this could block on a lock the kernel holds for this
    // very request: it must be queued, and the call must not wait.
    inval_result = notifier.load()->InvalEntry(parent, name).value();
    inode_result = notifier.load()->InvalInode(11, 0, 0).value();
    // Give a notification sent too early time to overtake the reply.
    absl::SleepFor(absl::Milliseconds(30));
    EntryParam e;
    e.nodeid = 11;
    reply.Entry(e);
  };
  WirePeer peer(&fs, Options(1));
  notifier = &peer.server().notifier();
  InitOrDie(peer);
  Inbox inbox(peer);

  uint64_t unique = peer.NextUnique();
  peer.Send(LookupFrame(unique, 1, "child"));
  std::optional<WireReply> reply = inbox.Await(unique);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error(), 0);
  // Flush() right after the reply covers what the handler submitted, even
  // if its worker has not yet handed it to the notifier: once it returns,
  // both notifications are already waiting in the socket.
  peer.server().notifier().Flush();
  abi::fuse_notify_inval_entry_out entry_out{};
  entry_out.parent = 1;
  entry_out.namelen = 5;
  ExpectNotification(inbox.AwaitNotification(absl::ZeroDuration()), abi::NotifyCode::kInvalEntry,
                     Bytes(entry_out) + std::string("child\0", 6));
  abi::fuse_notify_inval_inode_out inode_out{};
  inode_out.ino = 11;
  ExpectNotification(inbox.AwaitNotification(absl::ZeroDuration()), abi::NotifyCode::kInvalInode,
                     Bytes(inode_out));
  EXPECT_EQ(inval_result.load(), 0);
  EXPECT_EQ(inode_result.load(), 0);
  ASSERT_EQ(inbox.arrivals().size(), 3u);
  EXPECT_EQ(inbox.arrivals()[0], unique) << "a notification overtook the handler's reply";
  EXPECT_EQ(inbox.arrivals()[1], 0u);
  EXPECT_EQ(inbox.arrivals()[2], 0u);
  EXPECT_TRUE(inbox.Quiet());
}

TEST(ServerNotifyTest, NotificationFromInitComesAfterTheInitReply) {
  TestFs fs;
  std::atomic<Notifier*> notifier{nullptr};
  std::atomic<int> result{-1};
  fs.on_init = [&] {
    result = notifier.load()->IncEpoch().value();
    absl::SleepFor(absl::Milliseconds(30));
  };
  WirePeer peer(&fs, Options(1));
  notifier = &peer.server().notifier();
  std::optional<WireReply> reply = peer.Init();  // the first message to arrive
  ASSERT_TRUE(reply.has_value());
  EXPECT_NE(reply->header.unique, 0u) << "the notification overtook the INIT reply";
  EXPECT_EQ(reply->error(), 0);
  ExpectNotification(peer.Receive(), abi::NotifyCode::kIncEpoch, "");
  EXPECT_EQ(result.load(), 0);
  EXPECT_TRUE(peer.Quiet());
}

TEST(ServerNotifyTest, RetrieveAndNotifyReply) {
  TestFs fs;
  WirePeer peer(&fs, Options(2));
  InitOrDie(peer);

  Event got;
  Mutex mu;
  uint64_t got_offset = 0;
  std::string got_data;
  EXPECT_EQ(peer.server().notifier().Retrieve(
                7, 8192, 100,
                [&](uint64_t offset, absl::Span<const uint8_t> data) {
                  {
                    MutexLock lock(&mu);
                    got_offset = offset;
                    got_data.assign(reinterpret_cast<const char*>(data.data()), data.size());
                  }
                  got.Notify();
                }),
            kOk);
  std::optional<WireReply> message = peer.Receive();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->header.unique, 0u);
  EXPECT_EQ(message->header.error, static_cast<int32_t>(abi::NotifyCode::kRetrieve));
  ASSERT_EQ(message->body.size(), sizeof(abi::fuse_notify_retrieve_out));
  auto out = message->As<abi::fuse_notify_retrieve_out>();
  EXPECT_NE(out.notify_unique, 0u);
  EXPECT_EQ(out.nodeid, 7u);
  EXPECT_EQ(out.offset, 8192u);
  EXPECT_EQ(out.size, 100u);

  // The kernel answers with what it has cached: fewer bytes than asked.
  const std::string data = "cached!";
  abi::fuse_notify_retrieve_in in{};
  in.offset = 8192;
  in.size = static_cast<uint32_t>(data.size());
  peer.Send(RequestBuilder(Opcode::kNotifyReply, out.notify_unique, 7).Arg(in).Bytes(data).Build());
  ASSERT_TRUE(got.WaitFor(kTimeout));
  {
    MutexLock lock(&mu);
    EXPECT_EQ(got_offset, 8192u);
    EXPECT_EQ(got_data, data);
  }
  EXPECT_TRUE(peer.Quiet()) << "NOTIFY_REPLY must not be answered";

  // A second NOTIFY_REPLY for the same (now finished) retrieve, and one for
  // a retrieve never asked: ignored, unanswered.
  peer.Send(RequestBuilder(Opcode::kNotifyReply, out.notify_unique, 7).Arg(in).Bytes(data).Build());
  peer.Send(RequestBuilder(Opcode::kNotifyReply, 12345, 7).Arg(in).Bytes(data).Build());
  EXPECT_TRUE(peer.Quiet());
  uint64_t unique = peer.NextUnique();
  std::optional<WireReply> reply = peer.Call(GetattrFrame(unique, 1));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.unique, unique);
  EXPECT_EQ(reply->error(), 0);
}

// --- Concurrency and lifetime -------------------------------------------------------

TEST(ServerConcurrencyTest, ManyPipelinedRequestsEachAnsweredOnce) {
  TestFs fs;
  WirePeer peer(&fs, Options(4));
  InitOrDie(peer);

  constexpr int kRequests = 2000;
  std::vector<uint64_t> uniques;
  for (int i = 0; i < kRequests; ++i) uniques.push_back(peer.NextUnique());
  // Send from another thread while this one reads: a socket holds only a
  // few unread messages, so sending everything first would stall both ends.
  std::thread sender([&] {
    for (int i = 0; i < kRequests; ++i) peer.Send(GetattrFrame(uniques[i], 1000 + i));
  });
  std::map<uint64_t, int> count;
  int received = 0;
  for (; received < kRequests; ++received) {
    std::optional<WireReply> reply = peer.Receive(kTimeout);
    if (!reply.has_value()) break;
    ++count[reply->header.unique];
    EXPECT_EQ(reply->error(), 0);
  }
  sender.join();
  ASSERT_EQ(received, kRequests) << "replies stopped coming";
  EXPECT_EQ(count.size(), static_cast<size_t>(kRequests));
  for (uint64_t unique : uniques) EXPECT_EQ(count[unique], 1) << "unique " << unique;
  EXPECT_TRUE(peer.Quiet());
}

TEST(ServerLifetimeTest, ServerEndsWhenTheKernelEndCloses) {
  TestFs fs;
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
  ScopedFd kernel_end(fds[0]);
  std::unique_ptr<Server> server = Server::Serve(&fs, ScopedFd(fds[1]), Options(3));
  EXPECT_TRUE(server->running());

  kernel_end.reset();  // the kernel goes away; nobody calls Stop()
  absl::Time deadline = absl::Now() + kTimeout;
  while (server->running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  EXPECT_FALSE(server->running()) << "workers still running after the peer closed";

  Event waited;
  std::thread waiter([&] {
    server->Wait();
    waited.Notify();
  });
  bool returned = waited.WaitFor(kTimeout);
  if (!returned) {
    waiter.detach();  // Wait() hangs; the process will not end cleanly
    FAIL() << "Server::Wait did not return";
  }
  waiter.join();
  server.reset();
}

TEST(ServerLifetimeTest, WaitingHandlerEndsWhenTheConnectionEnds) {
  TestFs fs;
  Event entered;
  std::atomic<bool> saw_interrupt{false};
  fs.on_lookup = [&](ReplyEntry reply, uint64_t, absl::string_view) {
    // Like a lock wait: polls until interrupted, with no INTERRUPT coming.
    entered.Notify();
    absl::Time deadline = absl::Now() + kTimeout;
    while (!reply.Interrupted() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    saw_interrupt = reply.Interrupted();
    reply.Error(Errno(EINTR));
  };
  auto peer = std::make_unique<WirePeer>(&fs, Options(2));
  InitOrDie(*peer);
  peer->Send(LookupFrame(peer->NextUnique(), 1, "waits"));
  ASSERT_TRUE(entered.WaitFor(kTimeout));
  absl::Time start = absl::Now();
  peer.reset();  // the kernel end closes; the server must not wait for the handler's timeout
  EXPECT_TRUE(saw_interrupt.load());
  EXPECT_LT(absl::Now() - start, kTimeout / 2);
}

TEST(ServerLifetimeTest, WirePeerDestructorReturns) {
  TestFs fs;
  auto peer = std::make_unique<WirePeer>(&fs, Options(4));
  InitOrDie(*peer);
  std::optional<WireReply> reply = peer->Call(GetattrFrame(peer->NextUnique(), 1));
  ASSERT_TRUE(reply.has_value());
  Event destroyed;
  std::thread destroyer([&] {
    peer.reset();
    destroyed.Notify();
  });
  bool returned = destroyed.WaitFor(kTimeout);
  if (!returned) {
    destroyer.detach();
    FAIL() << "~WirePeer did not return";
  }
  destroyer.join();
}

}  // namespace
}  // namespace fusekit
