// FakeKernel: an in-process stand-in for the Linux kernel's FUSE client, for
// unit tests of filesystems without a mount, root or /dev/fuse.
//
//   MyFs fs;
//   fusekit::FakeKernel kernel(&fs);      // serves `fs`, sends FUSE_INIT
//   fusekit::FakeVfs vfs(&kernel);        // system calls by path
//   EXPECT_THAT(vfs.Mkdir("/d", 0755), IsOk());
//   EXPECT_THAT(vfs.Stat("/d/x"), FailsWith(ENOENT));
//
// It runs a real fusekit Server over one end of a SOCK_SEQPACKET socketpair
// (which a Server treats exactly like /dev/fuse) and plays the kernel on the
// other: real request frames out, real replies in. On top of the wire it
// keeps what the kernel keeps, and checks what the kernel checks:
//
// - Caches (testing/kernel_cache.h): dentries with their entry timeouts,
//   negative entries, attributes with their timeouts, and the lookup count of
//   every node id, counted exactly as fs/fuse counts. Time is a FakeClock
//   that moves only when the test advances it. Nodes the kernel stops using
//   are returned with FORGET / BATCH_FORGET: when unlinked, renamed over or
//   invalidated, on DropCaches() and ForgetNode(), and by LRU eviction when
//   a cache limit is set.
// - Protocol checks (testing/reply_checks.h): every reply is checked against
//   what the kernel would accept (size for the opcode and protocol minor,
//   node id 0/1 rules, generation and file type stable while a node id is
//   known, well-formed directory records with usable offsets, no reply to
//   FORGET, exactly one reply per request). A violation fails the test with
//   ADD_FAILURE and the trace of the last requests and replies; the caller
//   then sees EIO, as it would from the kernel.
// - Lookup-count audit: LookupCountMismatches() compares the kernel's counts
//   with the filesystem's (a LookupCountSource), and the destructor checks
//   that after dropping every cache the filesystem holds no count but the
//   root's.
// - Notifications the server sends between replies are applied to the
//   caches (INVAL_ENTRY, INVAL_INODE, DELETE, INC_EPOCH, PRUNE) and kept in
//   a queue the test can read; RETRIEVE is answered (with no data: the page
//   cache is not modelled).
// - INTERRUPT: Start() a request, Interrupt() it, Await() its reply.
//
// Determinism: with the default single server worker, requests are handled
// strictly in order and the fake kernel only reads the socket while a call
// waits (or in ProcessPendingMessages()), so a test sees the same sequence
// every run. Many FakeKernels may live in one test binary at once.
//
// docs/testing.md is the guide, from an empty cc_test to a passing test.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "fuse/raw_filesystem.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"
#include "testing/fake_clock.h"
#include "testing/kernel_cache.h"
#include "testing/lookup_count_source.h"
#include "testing/matchers.h"
#include "testing/result.h"
#include "testing/wire_message.h"
#include "testing/wire_trace.h"

namespace fusekit {

// The INIT flags Linux 6.18 offers on a /dev/fuse mount, less those a
// socket cannot carry (passthrough and io_uring need the device; DAX and
// submounts need virtio-fs).
inline constexpr uint64_t kFakeKernelInitFlags =
    abi::kInitAsyncRead | abi::kInitPosixLocks | abi::kInitAtomicOTrunc |
    abi::kInitExportSupport | abi::kInitBigWrites | abi::kInitDontMask |
    abi::kInitSpliceWrite | abi::kInitSpliceMove | abi::kInitSpliceRead |
    abi::kInitFlockLocks | abi::kInitHasIoctlDir | abi::kInitAutoInvalData |
    abi::kInitDoReaddirplus | abi::kInitReaddirplusAuto | abi::kInitAsyncDio |
    abi::kInitWritebackCache | abi::kInitNoOpenSupport | abi::kInitParallelDirops |
    abi::kInitHandleKillpriv | abi::kInitPosixAcl | abi::kInitAbortError |
    abi::kInitMaxPages | abi::kInitCacheSymlinks | abi::kInitNoOpendirSupport |
    abi::kInitExplicitInvalData | abi::kInitHandleKillprivV2 | abi::kInitSetxattrExt |
    abi::kInitExt | abi::kInitSecurityCtx | abi::kInitCreateSuppGroup |
    abi::kInitHasExpireOnly | abi::kInitDirectIoAllowMmap | abi::kInitNoExportSupport |
    abi::kInitHasResend | abi::kInitAllowIdmap | abi::kInitRequestTimeout;

struct FakeKernelOptions {
  // The server under test. One worker by default: requests are then handled
  // strictly in order, so tests are deterministic. Set more to exercise
  // concurrency; `server.init` is what the filesystem asks of INIT.
  ServerOptions server = SingleWorker();
  // What the fake kernel's INIT offers: protocol 7.`minor`, these flags.
  uint32_t minor = abi::kKernelMinorVersion;
  uint64_t init_flags = kFakeKernelInitFlags;
  uint32_t max_readahead = 128 * 1024;
  // Who the requests come from (the header's uid, gid, pid).
  Caller caller = {static_cast<uint32_t>(::geteuid()), static_cast<uint32_t>(::getegid()),
                   static_cast<uint32_t>(::getpid())};
  // The most node ids (root excluded) the caches keep; beyond it the least
  // recently used unheld ones are evicted and forgotten. 0: no limit.
  size_t cache_limit = 0;
  // Several nodes dropped at once go out as one BATCH_FORGET (protocol
  // 7.16+), as the kernel does; false: one FORGET each.
  bool batch_forget = true;
  // How long a call waits for its reply before the test fails.
  absl::Duration reply_timeout = absl::Seconds(10);
  // true: a protocol violation is an ADD_FAILURE. false: only recorded in
  // violations(), for tests that inspect them.
  bool fail_on_violation = true;
  // Requests and replies kept for a violation's trace.
  size_t trace_length = 20;
  // FakeVfs::Readdir re-reads a listing from every offset it returned and
  // checks that nothing is skipped or repeated (more READDIRs; with
  // READDIRPLUS also more lookups, which both sides count).
  bool check_readdir_offsets = true;
  // The clock for timeouts; null: the kernel's own (clock()).
  FakeClock* clock = nullptr;
  // The filesystem's lookup counts for audits; null: the filesystem if it
  // implements LookupCountSource.
  LookupCountSource* lookup_counts = nullptr;
  // At destruction, with a LookupCountSource: audit the counts, release open
  // files, drop every cache and check the filesystem holds no count but the
  // root's.
  bool audit_at_teardown = true;
  // How long an audit waits for FORGETs in flight to be processed before it
  // reports a difference (only a failing audit waits).
  absl::Duration audit_settle_time = absl::Seconds(2);
  // Send DESTROY before disconnecting (the kernel does for fuseblk only).
  bool send_destroy = false;

  static ServerOptions SingleWorker() {
    ServerOptions options;
    options.workers = 1;
    return options;
  }
};

// A notification as the fake kernel received and applied it.
struct ReceivedNotification {
  abi::NotifyCode code = abi::NotifyCode::kPoll;
  std::string body;
  // What the kernel's write(2) of it would have returned: kOk, ENOENT
  // (nothing cached to act on), EINVAL (malformed). A socket cannot carry
  // this back, so the server's Notifier saw kOk.
  Errno kernel_result;

  template <typename T>
  T As() const {
    T value{};
    std::memcpy(&value, body.data(), std::min(body.size(), sizeof(T)));
    return value;
  }
  // The name carried by INVAL_ENTRY and DELETE ("" otherwise).
  std::string name() const;
};

struct LookupCountMismatch {
  uint64_t nodeid = 0;
  uint64_t kernel = 0;      // what the (fake) kernel holds
  uint64_t filesystem = 0;  // what the filesystem reports
};

// Thread-safe: any number of threads may issue calls at once (one of them
// reads the socket at a time and hands replies to their callers). The cache
// model then sees replies in arrival order, as the kernel does.
class FakeKernel {
 public:
  // A started request, named by its unique.
  using Ticket = uint64_t;

  // Serves `fs` (which must outlive this) and negotiates INIT; a failed
  // INIT is a test failure and every later call fails with ENOTCONN.
  explicit FakeKernel(RawFileSystem* fs, FakeKernelOptions options = {});
  // Drives whatever serves the other end of the SOCK_SEQPACKET socketpair
  // whose kernel end is `peer`: a server written by hand in a test (to
  // produce replies fusekit would never send), or another implementation.
  explicit FakeKernel(ScopedFd peer, FakeKernelOptions options = {});
  // Audits (see FakeKernelOptions::audit_at_teardown), then disconnects and
  // stops the server.
  ~FakeKernel();
  FakeKernel(const FakeKernel&) = delete;
  FakeKernel& operator=(const FakeKernel&) = delete;

  bool initialized() const;
  // What INIT settled (minor, granted flags, max_write, ...).
  ConnectionInfo connection() const;
  // The server under test (its notifier()), or null when serving a peer.
  Server* server() { return server_.get(); }
  FakeClock& clock() { return *clock_; }
  const FakeKernelOptions& options() const { return options_; }

  // --- Requests on the wire ---------------------------------------------
  // Sends a request and waits for its reply. The reply is checked and
  // applied to the caches; a violating reply comes back as EIO, a missing
  // one as ETIMEDOUT (both also fail the test).
  FuseReply Call(FuseRequest request);
  // Sends a request and returns at once.
  Ticket Start(FuseRequest request);
  // Waits for a started request's reply (once per ticket).
  FuseReply Await(Ticket ticket);
  // True once the reply has arrived (reads what is pending; never blocks).
  bool Done(Ticket ticket);
  // Sends INTERRUPT for a started request still waiting for its reply
  // (re-sent when the server answers EAGAIN, as the kernel does; nothing
  // after the server answered ENOSYS to one). Then Await() its reply.
  void Interrupt(Ticket ticket);

  // --- Caches -------------------------------------------------------------
  // drop_caches: forgets every node nothing holds (open files and the
  // directories above them stay), with FORGET / BATCH_FORGET.
  void DropCaches();
  // Drops every dentry of `nodeid` and forgets it unless an open file holds
  // it. (FakeVfs::Forget does this by path.)
  void ForgetNode(uint64_t nodeid);
  // The kernel's lookup count of `nodeid` (0 if unknown; root excluded).
  uint64_t LookupCount(uint64_t nodeid) const;
  std::map<uint64_t, uint64_t> LookupCounts() const;
  // The node id a valid cached dentry maps (parent, name) to: nullopt if
  // nothing valid is cached, 0 for a negative entry.
  std::optional<uint64_t> CachedEntry(uint64_t parent, absl::string_view name) const;
  // True if the attributes of `nodeid` are cached and not expired.
  bool AttrCached(uint64_t nodeid) const;
  // Known node ids, root excluded.
  size_t cached_nodes() const;

  // --- Notifications ----------------------------------------------------
  // Handles every message that has already arrived (notifications sent
  // between replies), without waiting. After Notifier::Flush() everything
  // the server sent is there.
  void ProcessPendingMessages();
  // Waits until at least `count` unread notifications are queued.
  bool WaitForNotifications(size_t count, absl::Duration timeout = absl::Seconds(5));
  // The unread notifications, oldest first; they are then read.
  std::vector<ReceivedNotification> TakeNotifications();

  // --- Checks -----------------------------------------------------------
  // Every protocol violation so far, with its trace.
  std::vector<std::string> violations() const;
  // The recent wire traffic, one numbered line per message.
  std::string Trace() const;
  // Node ids whose counts differ between the kernel and the filesystem
  // (`source`, or the default source). Waits up to audit_settle_time for
  // FORGETs in flight to be processed before reporting.
  std::vector<LookupCountMismatch> LookupCountMismatches(LookupCountSource* source = nullptr);
  // ADD_FAILURE listing the mismatches, if any.
  void ExpectLookupCountsMatch(LookupCountSource* source = nullptr);

 private:
  friend class FakeVfs;

  struct InFlight {
    FuseRequest request;
    bool answered = false;
    bool ref_result = false;  // hold the node of a successful entry reply
    std::string line;         // the request's trace line
    FuseReply reply;
  };

  void Connect(ScopedFd peer);
  void Negotiate();
  void Teardown();

  Ticket StartLocked(FuseRequest request, bool ref_result) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FuseReply AwaitLocked(Ticket ticket) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads (or waits for another reader to read) one message; returns
  // within `wait`.
  void PumpLocked(absl::Duration wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleMessageLocked(absl::string_view message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleReplyLocked(InFlight& call, FuseReply reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleInitReplyLocked(const FuseReply& reply, std::vector<std::string>* problems)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleInterruptReplyLocked(const FuseReply& reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleNotificationLocked(const FuseReply& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ApplyReplyLocked(const InFlight& call, const FuseReply& reply)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ConnectionLostLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends FORGETs for nodes nothing holds, after enforcing the cache limit.
  void CollectLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendForgetsLocked(const std::vector<abi::fuse_forget_one>& forgets)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues a frame that takes no reply (FORGET, BATCH_FORGET, NOTIFY_REPLY).
  void QueueOneWayLocked(const FuseRequest& request, uint64_t unique)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ViolationLocked(const std::string& what) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t ArgSizeLocked(const FuseRequest& request) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends what the locked sections queued, in order. Call without mu_.
  void FlushOutbox() ABSL_LOCKS_EXCLUDED(mu_);
  LookupCountSource* Source(LookupCountSource* source);

  // --- For FakeVfs (which holds mu_ only through these) ---------------
  // The node a path walk reaches through (dir, name), held by the caller:
  // from a valid dentry, or by a LOOKUP. ENOENT for negative entries.
  Result<uint64_t> WalkStep(uint64_t dir, absl::string_view name);
  // Call() whose successful entry reply's node is held for the caller.
  FuseReply CallAndHold(FuseRequest request);
  // The node's attributes: cached, or fetched with GETATTR.
  Result<abi::fuse_attr> Attr(uint64_t nodeid, std::optional<uint64_t> fh);
  std::optional<KernelCache::Node> NodeInfo(uint64_t nodeid) const;
  void Hold(uint64_t nodeid);
  void Release(uint64_t nodeid);
  void ShrinkChildren(uint64_t dir);
  void InvalidateAttr(uint64_t nodeid);
  // fs/fuse's fc->no_* bits: opcodes answered ENOSYS that the kernel then
  // stops sending.
  bool Unsupported(abi::Opcode opcode) const;
  // How many entry-changing requests (create, link, unlink, rename, ...)
  // on directory `dir` were sent or answered so far: FakeVfs's listing
  // checks allow a name twice only in a directory that changed meanwhile.
  uint64_t DirChanges(uint64_t dir) const;
  // A violation found above the wire (FakeVfs's listing checks).
  void ReportViolation(const std::string& what) ABSL_LOCKS_EXCLUDED(mu_);
  // Largest READ / WRITE payload per request (negotiated, and what the
  // socket carries).
  uint32_t max_read() const;
  uint32_t max_write() const;

  const FakeKernelOptions options_;
  std::unique_ptr<FakeClock> own_clock_;
  FakeClock* const clock_;
  LookupCountSource* const default_source_;
  ScopedFd peer_;  // the kernel's end of the socketpair
  std::unique_ptr<Server> server_;
  size_t max_message_ = 0;  // what one SEQPACKET message may hold

  // Lock order: send_mu_ before mu_.
  Mutex send_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable Mutex mu_;
  CondVar cv_;  // a reader finished a read
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  std::string recv_buffer_;  // owned by whoever set reading_
  std::deque<std::string> outbox_ ABSL_GUARDED_BY(mu_);
  bool connected_ ABSL_GUARDED_BY(mu_) = false;
  bool initialized_ ABSL_GUARDED_BY(mu_) = false;
  ConnectionInfo connection_ ABSL_GUARDED_BY(mu_);
  uint64_t next_unique_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<uint64_t, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, abi::Opcode> answered_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, abi::Opcode> one_way_ ABSL_GUARDED_BY(mu_);  // no reply owed
  std::set<uint64_t> timed_out_ ABSL_GUARDED_BY(mu_);
  std::set<abi::Opcode> unsupported_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, uint64_t> dir_changes_ ABSL_GUARDED_BY(mu_);
  void CountDirChangeLocked(const FuseRequest& request) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool no_interrupt_ ABSL_GUARDED_BY(mu_) = false;
  KernelCache cache_ ABSL_GUARDED_BY(mu_);
  WireTrace trace_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> violations_ ABSL_GUARDED_BY(mu_);
  std::deque<ReceivedNotification> notifications_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fusekit
