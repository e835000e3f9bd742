// The node tree's per-request costs, and how they grow with the tree.
//
//   bazel run -c opt //benchmarks:nodefs_benchmark
//   bazel run -c opt //benchmarks:nodefs_benchmark -- --benchmark_filter=Tree
//
// Every request goes the whole way through the in-process transport: a
// frame is decoded by Session::HandleMessage, dispatched to the Bridge, run
// on the nodes, and its reply encoded; the reply's iovecs go to a
// ChannelWriter that only notes the reply (no system call), so what is
// measured is fusekit's own work. One thread, no server workers.
//
//   BM_MemOp/<op>           One request (or a fixed pair) on memfs's nodes
//                           (nodefs/mem_node.h): getattr, lookup, open+release,
//                           read and write of 4 KiB and 128 KiB, a truncate
//                           and a 128 KiB write into new pages, statfs,
//                           getxattr, create+release+unlink. "allocs/op" counts
//                           operator new calls per iteration (alloc_counter.h):
//                           the GETATTR and READ hot paths should show 0.
//   BM_TreeLookup/N         LOOKUP of a random name in a directory of N
//                           children (N = 10^3 .. 10^6).
//   BM_TreeForget/N         FORGET of one of those (its count drops; the tree
//                           keeps it). Manual time: only the FORGET is timed,
//                           the LOOKUP that gives it a count is not; "ns"
//                           leaves out preempted intervals (see StepTimer).
//   BM_TreeForgetDynamic/N  FORGET of a node a Lookup made up on demand, which
//                           frees it and takes it out of its directory, with N
//                           such nodes known. Manual time, as above.
//   BM_TreeReaddir/N        A whole listing of N entries: OPENDIR, READDIR of
//                           4 KiB (the kernel's size) until the end,
//                           RELEASEDIR. Items are entries.
//   BM_TreeReaddirPlus/N    The same with READDIRPLUS (a lookup per entry).
//   BM_TreeReaddirChunk/N   One 4 KiB READDIR at a random offset of an open,
//                           already listed directory of N entries.
//   BM_MemDirGetattr/N      GETATTR of a memfs directory of N files (its
//                           link count counts the subdirectories).
//   BM_FakeKernel/<op>      A round trip through the fake kernel
//                           (testing/fake_kernel.h): FakeKernel::Call over its
//                           socketpair to a one-worker Server serving memfs's
//                           nodes, with its reply checks and cache model.
//
// Trees are built once per size and kept across the runs of one benchmark.
#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "benchmarks/alloc_counter.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"
#include "fuse/session.h"
#include "fuse/wire_test_util.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/nodefs_fake_kernel.h"
#include "testing/wire_message.h"

namespace fusekit {
namespace {

void NoLog(absl::string_view) {}

// What the last reply was: its size, errno and first bytes (enough for an
// entry, an open or a create reply); with `keep_all`, all of it (for
// directory replies, whose records are walked).
struct LastReply {
  size_t len = 0;
  int32_t error = 0;
  uint8_t head[256] = {};
  bool keep_all = false;
  std::vector<uint8_t> all;  // capacity reserved up front: no allocation

  template <typename T>
  T Body() const {
    T value;
    std::memcpy(&value, head + sizeof(abi::fuse_out_header), sizeof(T));
    return value;
  }
};

// A Bridge behind a Session whose replies go to a LastReply. Single-threaded.
class InProcess {
 public:
  InProcess(std::unique_ptr<Node> root, const Options& options)
      : bridge_(std::move(root), options),
        session_(&bridge_, ServerOptionsFor(options).init, /*debug=*/false, NoLog,
                 [this](int, const struct iovec* iov, int count) { return Capture(iov, count); }) {
    abi::fuse_init_in in{};
    in.major = abi::kKernelVersion;
    in.minor = abi::kKernelMinorVersion;
    in.max_readahead = 128 * 1024;
    uint64_t flags = WirePeer::kAllInitFlags;
    in.flags = static_cast<uint32_t>(flags);
    in.flags2 = static_cast<uint32_t>(flags >> 32);
    Send(RequestBuilder(abi::Opcode::kInit, NextUnique(), 0).Arg(in).Build());
  }

  bool ok() const { return session_.initialized(); }
  Bridge& bridge() { return bridge_; }
  const LastReply& last() const { return last_; }
  void KeepWholeReplies(bool on) {
    last_.keep_all = on;
    last_.all.reserve(1 << 20);
  }
  uint64_t NextUnique() { return unique_ += 2; }

  // Handles one frame; the reply (if any) is in last().
  void Send(absl::Span<const uint8_t> frame) { session_.HandleMessage(/*fd=*/-1, frame); }
  void Send(const std::string& frame) {
    Send(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(frame.data()), frame.size()));
  }

 private:
  Errno Capture(const struct iovec* iov, int count) {
    if (last_.keep_all) {
      last_.all.clear();
      for (int i = 0; i < count; ++i) {
        const uint8_t* p = static_cast<const uint8_t*>(iov[i].iov_base);
        last_.all.insert(last_.all.end(), p, p + iov[i].iov_len);
      }
    }
    size_t len = 0;
    for (int i = 0; i < count; ++i) {
      size_t room = len < sizeof(last_.head) ? sizeof(last_.head) - len : 0;
      size_t n = iov[i].iov_len < room ? iov[i].iov_len : room;
      if (n > 0) std::memcpy(last_.head + len, iov[i].iov_base, n);
      len += iov[i].iov_len;
    }
    last_.len = len;
    abi::fuse_out_header h;
    std::memcpy(&h, last_.head, sizeof(h));
    last_.error = -h.error;
    return kOk;
  }

  Bridge bridge_;
  Session session_;
  LastReply last_;
  uint64_t unique_ = 0;
};

// A frame in a reusable buffer with a settable unique (16-byte aligned, as
// the server's read buffer is).
struct Frame {
  std::vector<uint8_t> bytes;

  Frame() = default;
  explicit Frame(const std::string& s) : bytes(s.begin(), s.end()) {}
  absl::Span<const uint8_t> span(uint64_t unique) {
    std::memcpy(bytes.data() + offsetof(abi::fuse_in_header, unique), &unique, sizeof(unique));
    return absl::MakeConstSpan(bytes);
  }
};

RequestBuilder Request(abi::Opcode op, uint64_t nodeid) {
  return std::move(RequestBuilder(op, 0, nodeid).Caller(0, 0, 4242));
}

Frame LookupFrame(uint64_t parent, absl::string_view name) {
  return Frame(Request(abi::Opcode::kLookup, parent).Name(name).Build());
}
Frame ForgetFrame(uint64_t nodeid, uint64_t nlookup) {
  abi::fuse_forget_in in{nlookup};
  return Frame(RequestBuilder(abi::Opcode::kForget, 0, nodeid).Arg(in).Build());
}
Frame OpenFrame(abi::Opcode op, uint64_t nodeid, uint32_t flags) {
  abi::fuse_open_in in{};
  in.flags = flags;
  return Frame(Request(op, nodeid).Arg(in).Build());
}
Frame ReleaseFrame(abi::Opcode op, uint64_t nodeid, uint64_t fh) {
  abi::fuse_release_in in{};
  in.fh = fh;
  return Frame(Request(op, nodeid).Arg(in).Build());
}
Frame ReadFrame(abi::Opcode op, uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size) {
  abi::fuse_read_in in{};
  in.fh = fh;
  in.offset = offset;
  in.size = size;
  return Frame(Request(op, nodeid).Arg(in).Build());
}
Frame WriteFrame(uint64_t nodeid, uint64_t fh, uint32_t size) {
  abi::fuse_write_in in{};
  in.fh = fh;
  in.size = size;
  return Frame(Request(abi::Opcode::kWrite, nodeid)
                   .Arg(in)
                   .Bytes(std::string(size, 'x'))
                   .Build());
}
Frame CreateFrame(uint64_t parent, absl::string_view name) {
  abi::fuse_create_in in{};
  in.flags = O_RDWR | O_CREAT;
  in.mode = S_IFREG | 0644;
  return Frame(Request(abi::Opcode::kCreate, parent).Arg(in).Name(name).Build());
}

// ---------------------------------------------------------------------------
// BM_MemOp: one opcode on memfs's nodes.
// ---------------------------------------------------------------------------

// CREATE's reply body.
struct CreateOut {
  abi::fuse_entry_out entry;
  abi::fuse_open_out open;
};

enum class MemOp {
  kGetattr,
  kLookup,
  kOpenRelease,
  kRead4k,
  kRead128k,
  kWrite4k,
  kWrite128k,
  kTruncateWrite128k,
  kStatfs,
  kGetxattr,
  kCreateReleaseUnlink,
};

void BM_MemOp(benchmark::State& state, MemOp op) {
  Options options;
  InProcess fs(MemDir::NewRoot(MemFsOptions{}), options);
  if (!fs.ok()) {
    state.SkipWithError("INIT failed");
    return;
  }
  // /f: 128 KiB, open read-write.
  Frame create = CreateFrame(abi::kRootId, "f");
  fs.Send(create.span(fs.NextUnique()));
  if (fs.last().error != 0) {
    state.SkipWithError("CREATE failed");
    return;
  }
  const uint64_t file = fs.last().Body<CreateOut>().entry.nodeid;
  const uint64_t open_fh = fs.last().Body<CreateOut>().open.fh;
  Frame fill = WriteFrame(file, open_fh, 128 * 1024);
  fs.Send(fill.span(fs.NextUnique()));

  std::vector<Frame> frames;
  switch (op) {
    case MemOp::kGetattr: {
      abi::fuse_getattr_in in{};
      frames.push_back(Frame(Request(abi::Opcode::kGetattr, file).Arg(in).Build()));
      break;
    }
    case MemOp::kLookup:
      frames.push_back(LookupFrame(abi::kRootId, "f"));
      break;
    case MemOp::kOpenRelease:
      frames.push_back(OpenFrame(abi::Opcode::kOpen, file, O_RDONLY));
      frames.push_back(Frame());  // RELEASE of the handle just opened
      break;
    case MemOp::kRead4k:
      frames.push_back(ReadFrame(abi::Opcode::kRead, file, open_fh, 0, 4096));
      break;
    case MemOp::kRead128k:
      frames.push_back(ReadFrame(abi::Opcode::kRead, file, open_fh, 0, 128 * 1024));
      break;
    case MemOp::kWrite4k:
      frames.push_back(WriteFrame(file, open_fh, 4096));
      break;
    case MemOp::kWrite128k:
      frames.push_back(WriteFrame(file, open_fh, 128 * 1024));
      break;
    case MemOp::kTruncateWrite128k: {
      // Into new pages: a truncate to 0 frees them, the write takes them again.
      abi::fuse_setattr_in in{};
      in.valid = abi::kFattrSize | abi::kFattrFh;
      in.fh = open_fh;
      in.size = 0;
      frames.push_back(Frame(Request(abi::Opcode::kSetattr, file).Arg(in).Build()));
      frames.push_back(WriteFrame(file, open_fh, 128 * 1024));
      break;
    }
    case MemOp::kStatfs:
      frames.push_back(Frame(Request(abi::Opcode::kStatfs, file).Build()));
      break;
    case MemOp::kGetxattr: {
      abi::fuse_getxattr_in in{};
      in.size = 256;
      frames.push_back(
          Frame(Request(abi::Opcode::kGetxattr, file).Arg(in).Name("user.none").Build()));
      break;
    }
    case MemOp::kCreateReleaseUnlink:
      frames.push_back(CreateFrame(abi::kRootId, "g"));
      frames.push_back(Frame());  // RELEASE of the new file's handle
      frames.push_back(Frame(Request(abi::Opcode::kUnlink, abi::kRootId).Name("g").Build()));
      break;
  }

  Frame release;
  Frame forget;
  bool pending_forget = false;
  int64_t failures = 0;
  const uint64_t allocations = bench::Allocations();
  for (auto _ : state) {
    for (size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].bytes.empty()) {
        // RELEASE of the handle the previous reply (OPEN or CREATE) opened;
        // after a CREATE also the FORGET the kernel sends once the file is
        // unlinked and closed, so the tree does not grow.
        if (op == MemOp::kCreateReleaseUnlink) {
          const CreateOut out = fs.last().Body<CreateOut>();
          release = ReleaseFrame(abi::Opcode::kRelease, out.entry.nodeid, out.open.fh);
          forget = ForgetFrame(out.entry.nodeid, 1);
          fs.Send(release.span(fs.NextUnique()));
          pending_forget = true;
        } else {
          release = ReleaseFrame(abi::Opcode::kRelease, file, fs.last().Body<abi::fuse_open_out>().fh);
          fs.Send(release.span(fs.NextUnique()));
        }
        continue;
      }
      fs.Send(frames[i].span(fs.NextUnique()));
      if (fs.last().error != 0) ++failures;
    }
    if (pending_forget) {
      fs.Send(forget.span(fs.NextUnique()));
      pending_forget = false;
    }
  }
  state.counters["allocs/op"] = benchmark::Counter(
      static_cast<double>(bench::Allocations() - allocations), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations());
  if (op == MemOp::kRead4k || op == MemOp::kWrite4k) state.SetBytesProcessed(state.iterations() * 4096);
  if (op == MemOp::kRead128k || op == MemOp::kWrite128k || op == MemOp::kTruncateWrite128k) {
    state.SetBytesProcessed(state.iterations() * 128 * 1024);
  }
  // getxattr of a missing name answers ENODATA: expected.
  if (failures > 0 && op != MemOp::kGetxattr) state.SkipWithError("a request failed");
}
BENCHMARK_CAPTURE(BM_MemOp, getattr, MemOp::kGetattr);
BENCHMARK_CAPTURE(BM_MemOp, lookup, MemOp::kLookup);
BENCHMARK_CAPTURE(BM_MemOp, open_release, MemOp::kOpenRelease);
BENCHMARK_CAPTURE(BM_MemOp, read_4k, MemOp::kRead4k);
BENCHMARK_CAPTURE(BM_MemOp, read_128k, MemOp::kRead128k);
BENCHMARK_CAPTURE(BM_MemOp, write_4k, MemOp::kWrite4k);
BENCHMARK_CAPTURE(BM_MemOp, write_128k, MemOp::kWrite128k);
BENCHMARK_CAPTURE(BM_MemOp, truncate_write_128k, MemOp::kTruncateWrite128k);
BENCHMARK_CAPTURE(BM_MemOp, statfs, MemOp::kStatfs);
BENCHMARK_CAPTURE(BM_MemOp, getxattr_enodata, MemOp::kGetxattr);
BENCHMARK_CAPTURE(BM_MemOp, create_release_unlink_forget, MemOp::kCreateReleaseUnlink);

// ---------------------------------------------------------------------------
// The node tree at 10^3 .. 10^6 nodes.
// ---------------------------------------------------------------------------

// A childless node with the default attributes.
class Leaf : public Node {};

// A directory whose Lookup makes any name "n<digits>" up on demand: the
// children of a dynamic filesystem, freed once the kernel forgets them.
class DynamicDir : public Node {
 public:
  Errno Lookup(const Context& ctx, absl::string_view name, EntryOut* out,
               Inode** child) override {
    if (name.empty() || name[0] != 'n') return Errno(ENOENT);
    *child = inode()->NewInode(std::make_unique<Leaf>(), {.mode = S_IFREG});
    out->attr.mode = S_IFREG | 0644;
    out->attr.nlink = 1;
    return kOk;
  }
};

std::string ChildName(uint64_t i) { return absl::StrCat("n", i); }

// A root directory of `n` children, kept for the runs of one benchmark.
struct Tree {
  enum Kind { kStatic, kDynamic };
  Kind kind;
  int64_t n;
  std::unique_ptr<InProcess> fs;
  std::vector<uint64_t> node_ids;  // kDynamic: the node id of child i
};

Tree* GetTree(Tree::Kind kind, int64_t n) {
  static std::unique_ptr<Tree> tree;
  if (tree && tree->kind == kind && tree->n == n) return tree.get();
  tree.reset();  // free the previous tree first: 10^6 nodes are large
  auto t = std::make_unique<Tree>();
  t->kind = kind;
  t->n = n;
  Options options;
  if (kind == Tree::kStatic) {
    t->fs = std::make_unique<InProcess>(std::make_unique<Leaf>(), options);
    // The root Leaf serves as a directory: the tree's default Lookup and
    // Readdir answer from its children.
    Inode* root = t->fs->bridge().root();
    for (int64_t i = 0; i < n; ++i) {
      root->AddChild(ChildName(i), root->NewInode(std::make_unique<Leaf>(), {.mode = S_IFREG}),
                     /*overwrite=*/false);
    }
  } else {
    t->fs = std::make_unique<InProcess>(std::make_unique<DynamicDir>(), options);
    t->node_ids.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      Frame lookup = LookupFrame(abi::kRootId, ChildName(i));
      t->fs->Send(lookup.span(t->fs->NextUnique()));
      t->node_ids[i] = t->fs->last().Body<abi::fuse_entry_out>().nodeid;
    }
  }
  tree = std::move(t);
  return tree.get();
}

// LOOKUP frames for 4096 random children (the loop cycles through them).
std::vector<Frame> RandomLookups(int64_t n, std::vector<int64_t>* picks = nullptr) {
  std::mt19937_64 random(42);
  std::vector<Frame> frames;
  for (int i = 0; i < 4096; ++i) {
    int64_t pick = static_cast<int64_t>(random() % n);
    if (picks) picks->push_back(pick);
    frames.push_back(LookupFrame(abi::kRootId, ChildName(pick)));
  }
  return frames;
}

// Manual timing of one step of an iteration. On a loaded machine a step is
// now and then preempted, and one such interval (milliseconds) outweighs
// thousands of real ones in the mean: `ns` is also reported without the
// intervals over 50 us, and how many were left out.
class StepTimer {
 public:
  void Start() { start_ = std::chrono::steady_clock::now(); }
  void Stop(benchmark::State& state) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    state.SetIterationTime(seconds);
    if (seconds > 50e-6) {
      ++preempted_;
    } else {
      kept_ += seconds;
      ++count_;
    }
  }
  void Report(benchmark::State& state) const {
    if (count_ > 0) state.counters["ns"] = kept_ / static_cast<double>(count_) * 1e9;
    state.counters["preempted"] = static_cast<double>(preempted_);
  }

 private:
  std::chrono::steady_clock::time_point start_;
  double kept_ = 0;
  int64_t count_ = 0;
  int64_t preempted_ = 0;
};

void TreeArgs(benchmark::internal::Benchmark* b) {
  b->RangeMultiplier(10)->Range(1000, 1000000);
}

void BM_TreeLookup(benchmark::State& state) {
  Tree* tree = GetTree(Tree::kStatic, state.range(0));
  InProcess& fs = *tree->fs;
  std::vector<Frame> frames = RandomLookups(tree->n);
  size_t i = 0;
  int64_t failures = 0;
  for (auto _ : state) {
    fs.Send(frames[i++ & 4095].span(fs.NextUnique()));
    if (fs.last().error != 0) ++failures;
  }
  state.SetItemsProcessed(state.iterations());
  if (failures > 0) state.SkipWithError("a LOOKUP failed");
}
BENCHMARK(BM_TreeLookup)->Apply(TreeArgs);

void BM_TreeForget(benchmark::State& state) {
  Tree* tree = GetTree(Tree::kStatic, state.range(0));
  InProcess& fs = *tree->fs;
  std::vector<Frame> lookups = RandomLookups(tree->n);
  Frame forget = ForgetFrame(0, 1);
  StepTimer timer;
  size_t i = 0;
  for (auto _ : state) {
    fs.Send(lookups[i++ & 4095].span(fs.NextUnique()));
    uint64_t nodeid = fs.last().Body<abi::fuse_entry_out>().nodeid;
    std::memcpy(forget.bytes.data() + offsetof(abi::fuse_in_header, nodeid), &nodeid,
                sizeof(nodeid));
    timer.Start();
    fs.Send(forget.span(fs.NextUnique()));
    timer.Stop(state);
  }
  timer.Report(state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TreeForget)->Apply(TreeArgs)->UseManualTime();

void BM_TreeForgetDynamic(benchmark::State& state) {
  Tree* tree = GetTree(Tree::kDynamic, state.range(0));
  InProcess& fs = *tree->fs;
  std::vector<int64_t> picks;
  std::vector<Frame> lookups = RandomLookups(tree->n, &picks);
  Frame forget = ForgetFrame(0, 1);
  StepTimer timer;
  size_t i = 0;
  int64_t failures = 0;
  for (auto _ : state) {
    const size_t k = i++ & 4095;
    uint64_t& nodeid = tree->node_ids[picks[k]];
    std::memcpy(forget.bytes.data() + offsetof(abi::fuse_in_header, nodeid), &nodeid,
                sizeof(nodeid));
    timer.Start();
    fs.Send(forget.span(fs.NextUnique()));
    timer.Stop(state);
    // Known again, under a new node id (the old one was freed).
    fs.Send(lookups[k].span(fs.NextUnique()));
    if (fs.last().error != 0) ++failures;
    nodeid = fs.last().Body<abi::fuse_entry_out>().nodeid;
  }
  timer.Report(state);
  state.SetItemsProcessed(state.iterations());
  state.counters["inodes"] = static_cast<double>(fs.bridge().InodeCount());
  if (failures > 0) state.SkipWithError("a LOOKUP failed");
}
BENCHMARK(BM_TreeForgetDynamic)->Apply(TreeArgs)->UseManualTime();

// The offset the next READDIR starts at: the last record's `off` (what the
// kernel does); 0 for an empty reply. `count` gets the records.
uint64_t NextOffset(const LastReply& reply, bool plus, int64_t* count) {
  const size_t header = sizeof(abi::fuse_out_header);
  const size_t fixed = plus ? sizeof(abi::fuse_direntplus) : sizeof(abi::fuse_dirent);
  const size_t dirent_at = plus ? sizeof(abi::fuse_entry_out) : 0;
  uint64_t next = 0;
  size_t at = header;
  while (at + fixed <= reply.all.size()) {
    abi::fuse_dirent d;
    std::memcpy(&d, reply.all.data() + at + dirent_at, sizeof(d));
    next = d.off;
    ++*count;
    at += (fixed + d.namelen + 7) & ~size_t{7};
  }
  return next;
}

// Lists the root to the end: OPENDIR, READDIR(PLUS) of 4 KiB until an empty
// reply, RELEASEDIR. Returns the entries seen, -1 on an error.
int64_t ListRoot(InProcess& fs, bool plus) {
  Frame open = OpenFrame(abi::Opcode::kOpendir, abi::kRootId, O_RDONLY);
  fs.Send(open.span(fs.NextUnique()));
  if (fs.last().error != 0) return -1;
  const uint64_t fh = fs.last().Body<abi::fuse_open_out>().fh;
  const abi::Opcode op = plus ? abi::Opcode::kReaddirplus : abi::Opcode::kReaddir;
  Frame read = ReadFrame(op, abi::kRootId, fh, 0, 4096);
  int64_t entries = 0;
  uint64_t offset = 0;
  fs.KeepWholeReplies(true);
  for (;;) {
    std::memcpy(read.bytes.data() + sizeof(abi::fuse_in_header) + offsetof(abi::fuse_read_in, offset),
                &offset, sizeof(offset));
    fs.Send(read.span(fs.NextUnique()));
    if (fs.last().error != 0) {
      entries = -1;
      break;
    }
    if (fs.last().len == sizeof(abi::fuse_out_header)) break;
    offset = NextOffset(fs.last(), plus, &entries);
  }
  fs.KeepWholeReplies(false);
  Frame release = ReleaseFrame(abi::Opcode::kReleasedir, abi::kRootId, fh);
  fs.Send(release.span(fs.NextUnique()));
  return entries;
}

void TreeReaddir(benchmark::State& state, bool plus) {
  Tree* tree = GetTree(Tree::kStatic, state.range(0));
  InProcess& fs = *tree->fs;
  int64_t entries = 0;
  for (auto _ : state) {
    int64_t n = ListRoot(fs, plus);
    if (n < 0) {
      state.SkipWithError("READDIR failed");
      return;
    }
    entries += n;
  }
  // "." and ".." come first.
  if (entries != static_cast<int64_t>(state.iterations()) * (tree->n + 2)) {
    state.SkipWithError(absl::StrCat("listed ", entries, " entries").c_str());
  }
  state.SetItemsProcessed(entries);
}
void BM_TreeReaddir(benchmark::State& state) { TreeReaddir(state, /*plus=*/false); }
void BM_TreeReaddirPlus(benchmark::State& state) { TreeReaddir(state, /*plus=*/true); }
BENCHMARK(BM_TreeReaddir)->Apply(TreeArgs)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TreeReaddirPlus)->Apply(TreeArgs)->Unit(benchmark::kMillisecond);

void BM_TreeReaddirChunk(benchmark::State& state) {
  Tree* tree = GetTree(Tree::kStatic, state.range(0));
  InProcess& fs = *tree->fs;
  Frame open = OpenFrame(abi::Opcode::kOpendir, abi::kRootId, O_RDONLY);
  fs.Send(open.span(fs.NextUnique()));
  const uint64_t fh = fs.last().Body<abi::fuse_open_out>().fh;
  Frame first = ReadFrame(abi::Opcode::kReaddir, abi::kRootId, fh, 0, 4096);
  fs.Send(first.span(fs.NextUnique()));  // offset 0 takes the listing
  std::mt19937_64 random(7);
  std::vector<Frame> reads;
  for (int i = 0; i < 1024; ++i) {
    reads.push_back(ReadFrame(abi::Opcode::kReaddir, abi::kRootId, fh,
                              1 + random() % static_cast<uint64_t>(tree->n), 4096));
  }
  size_t i = 0;
  int64_t failures = 0;
  for (auto _ : state) {
    fs.Send(reads[i++ & 1023].span(fs.NextUnique()));
    if (fs.last().error != 0 || fs.last().len <= sizeof(abi::fuse_out_header)) ++failures;
  }
  Frame release = ReleaseFrame(abi::Opcode::kReleasedir, abi::kRootId, fh);
  fs.Send(release.span(fs.NextUnique()));
  state.SetItemsProcessed(state.iterations());
  if (failures > 0) state.SkipWithError("a READDIR failed or came back empty");
}
BENCHMARK(BM_TreeReaddirChunk)->Apply(TreeArgs);

// GETATTR of a memfs directory holding N files (the kernel asks for it on
// every path walk through the directory once its attributes expire, and
// after each entry created or removed in it).
void BM_MemDirGetattr(benchmark::State& state) {
  InProcess fs(MemDir::NewRoot(MemFsOptions{}), Options());
  for (int64_t i = 0; i < state.range(0); ++i) {
    Frame create = CreateFrame(abi::kRootId, ChildName(i));
    fs.Send(create.span(fs.NextUnique()));
    const CreateOut out = fs.last().Body<CreateOut>();
    Frame release = ReleaseFrame(abi::Opcode::kRelease, out.entry.nodeid, out.open.fh);
    fs.Send(release.span(fs.NextUnique()));
  }
  abi::fuse_getattr_in in{};
  Frame getattr(Request(abi::Opcode::kGetattr, abi::kRootId).Arg(in).Build());
  int64_t failures = 0;
  const uint64_t allocations = bench::Allocations();
  for (auto _ : state) {
    fs.Send(getattr.span(fs.NextUnique()));
    if (fs.last().error != 0) ++failures;
  }
  state.counters["allocs/op"] = benchmark::Counter(
      static_cast<double>(bench::Allocations() - allocations), benchmark::Counter::kAvgIterations);
  state.SetItemsProcessed(state.iterations());
  if (failures > 0) state.SkipWithError("GETATTR failed");
}
BENCHMARK(BM_MemDirGetattr)->RangeMultiplier(10)->Range(10, 100000);

// ---------------------------------------------------------------------------
// BM_FakeKernel: round trips through testing/fake_kernel.h.
// ---------------------------------------------------------------------------

enum class KernelOp { kGetattr, kLookup, kRead4k };

void BM_FakeKernel(benchmark::State& state, KernelOp op) {
  FakeKernelOptions kernel_options;
  kernel_options.check_readdir_offsets = false;
  NodefsFakeKernel fs(MemDir::NewRoot(MemFsOptions{}), Options(), kernel_options);
  Result<int> fd = fs.vfs().Open("/f", O_CREAT | O_RDWR, 0644);
  if (!fd.ok() || !fs.vfs().Write(*fd, std::string(4096, 'x'), 0).ok()) {
    state.SkipWithError("cannot create /f");
    return;
  }
  fs.vfs().Close(*fd);
  FakeKernel& kernel = fs.kernel();
  FuseReply entry = kernel.Call(FuseRequest::Lookup(abi::kRootId, "f"));
  const uint64_t file = entry.As<abi::fuse_entry_out>().nodeid;
  FuseReply open = kernel.Call(FuseRequest::Open(file, O_RDONLY));
  const uint64_t fh = open.As<abi::fuse_open_out>().fh;
  if (!entry.error().ok() || !open.error().ok()) {
    state.SkipWithError("LOOKUP or OPEN failed");
    return;
  }
  FuseRequest request;
  switch (op) {
    case KernelOp::kGetattr:
      request = FuseRequest::Getattr(file);
      break;
    case KernelOp::kLookup:
      request = FuseRequest::Lookup(abi::kRootId, "f");
      break;
    case KernelOp::kRead4k:
      request = FuseRequest::Read(file, fh, 0, 4096);
      break;
  }
  int64_t failures = 0;
  int64_t lookups = 0;
  for (auto _ : state) {
    FuseReply reply = kernel.Call(request);
    if (!reply.error().ok()) ++failures;
    if (op == KernelOp::kLookup) ++lookups;
  }
  kernel.Call(FuseRequest::Release(file, fh, O_RDONLY));
  state.SetItemsProcessed(state.iterations());
  if (op == KernelOp::kRead4k) state.SetBytesProcessed(state.iterations() * 4096);
  if (failures > 0) state.SkipWithError("a request failed");
}
BENCHMARK_CAPTURE(BM_FakeKernel, getattr, KernelOp::kGetattr)->UseRealTime();
BENCHMARK_CAPTURE(BM_FakeKernel, lookup, KernelOp::kLookup)->UseRealTime();
BENCHMARK_CAPTURE(BM_FakeKernel, read_4k, KernelOp::kRead4k)->UseRealTime();

}  // namespace
}  // namespace fusekit

BENCHMARK_MAIN();
