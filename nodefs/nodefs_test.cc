// The node-tree API through the fake kernel (no mount, no root): one test
// per behaviour the toolkit promises to provide by itself (issue 3, "What the
// toolkit does by itself"). Each is written so that it fails if the
// behaviour is missing. Every NodefsFakeKernel audits at teardown: the
// Bridge's lookup counts must equal the kernel's, and be 0 for every node
// after the kernel dropped its caches.
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"
#include "testing/wire_message.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using ReaddirMode = FakeVfs::ReaddirOptions::Mode;

// --- Test nodes ------------------------------------------------------------------

// How often nodes of one test were forgotten and destroyed.
struct Counters {
  std::atomic<int> forgets{0};
  std::atomic<int> destroyed{0};
};

// An in-memory file that counts its OnForget calls and its destruction.
class CountingFile : public MemFile {
 public:
  explicit CountingFile(Counters* counters) : MemFile(S_IFREG | 0644, 0, 0), counters_(counters) {}
  ~CountingFile() override { counters_->destroyed++; }
  void OnForget() override { counters_->forgets++; }

 private:
  Counters* const counters_;
};

// Adds a new child under `name` from the test's thread (no request).
Inode* AddChild(Inode* dir, absl::string_view name, std::unique_ptr<Node> node,
                StableAttr attr = {.mode = S_IFREG}) {
  Inode* child = dir->NewInode(std::move(node), attr);
  EXPECT_TRUE(dir->AddChild(name, child, /*overwrite=*/false)) << name;
  return child;
}

Inode* AddFile(Inode* dir, absl::string_view name) {
  return AddChild(dir, name, std::make_unique<MemFile>(S_IFREG | 0644, 0, 0));
}

// The Bridge's lookup count of a node id (0 if it is not alive).
uint64_t BridgeCount(NodefsFakeKernel& fs, uint64_t id) {
  std::shared_ptr<Inode> inode = fs.bridge().FindInode(id);
  return inode ? inode->lookup_count() : 0;
}

// With one server worker requests are handled in order: once a reply to a
// later request arrived, the FORGETs sent before it were processed. STATFS
// because it touches no child: a request that does (GETATTR of a MemDir
// counts its subdirectories) pins them until after its reply is sent.
void Barrier(NodefsFakeKernel& fs) {
  ASSERT_THAT(fs.kernel().Call(FuseRequest::Statfs(abi::kRootId)).error(), IsOk());
}

uint64_t NodeId(NodefsFakeKernel& fs, absl::string_view path) {
  Result<uint64_t> id = fs.vfs().Lookup(path);
  EXPECT_THAT(id, IsOk()) << path;
  return id.value_or(0);
}

// A raw directory handle (OPENDIR ... RELEASEDIR) for reading a listing in
// steps the test controls.
class RawDir {
 public:
  RawDir(FakeKernel& kernel, uint64_t nodeid) : kernel_(kernel), nodeid_(nodeid) {
    FuseReply r = kernel_.Call(FuseRequest::Open(nodeid, O_RDONLY, /*dir=*/true));
    EXPECT_THAT(r.error(), IsOk());
    fh_ = r.As<abi::fuse_open_out>().fh;
  }
  ~RawDir() {
    EXPECT_THAT(kernel_.Call(FuseRequest::Release(nodeid_, fh_, O_RDONLY, /*dir=*/true)).error(),
                IsOk());
  }
  // One READDIR(PLUS) from `offset` of at most `size` bytes.
  std::vector<ParsedDirent> Read(uint64_t offset, uint32_t size, bool plus = false) {
    FuseReply r = kernel_.Call(FuseRequest::Readdir(nodeid_, fh_, offset, size, plus));
    EXPECT_THAT(r.error(), IsOk());
    std::vector<std::string> problems;
    std::vector<ParsedDirent> entries = ParseDirents(r.body, plus, &problems);
    EXPECT_THAT(problems, IsEmpty());
    return entries;
  }
  // The error of one READDIR from `offset`.
  Errno ReadError(uint64_t offset, uint32_t size) {
    return kernel_.Call(FuseRequest::Readdir(nodeid_, fh_, offset, size, false)).error();
  }
  // Everything from `offset` to the end, in steps of `size` bytes.
  std::vector<ParsedDirent> ReadAll(uint64_t offset, uint32_t size) {
    std::vector<ParsedDirent> all;
    for (;;) {
      std::vector<ParsedDirent> part = Read(offset, size);
      if (part.empty()) return all;
      offset = part.back().off;
      all.insert(all.end(), part.begin(), part.end());
    }
  }

 private:
  FakeKernel& kernel_;
  const uint64_t nodeid_;
  uint64_t fh_ = 0;
};

std::vector<std::string> Names(const std::vector<ParsedDirent>& entries) {
  std::vector<std::string> names;
  for (const ParsedDirent& e : entries) names.push_back(e.name);
  return names;
}

// --- Node ids and inode numbers -----------------------------------------------------

TEST(NodefsTest, NodeIdsAreSequentialAndNeverReused) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.WriteFile("/a", "x"), IsOk());
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  const uint64_t a = NodeId(fs, "/a");
  EXPECT_EQ(a, 2u);  // the first after the root
  EXPECT_EQ(NodeId(fs, "/d"), 3u);

  // Unlinked and forgotten: node id 2 is free now...
  ASSERT_THAT(vfs.Unlink("/a"), IsOk());
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(a), nullptr);
  // ...and still never handed out again.
  ASSERT_THAT(vfs.WriteFile("/a", "y"), IsOk());
  EXPECT_EQ(NodeId(fs, "/a"), 4u);
  ASSERT_THAT(vfs.Mkdir("/d/e", 0755), IsOk());
  EXPECT_EQ(NodeId(fs, "/d/e"), 5u);
}

TEST(NodefsTest, RootIsNodeOneWithGenerationZero) {
  class Root : public MemDir {
   public:
    explicit Root(std::atomic<int>* adds) : adds_(adds) {}
    void OnAdd(const Context&) override { (*adds_)++; }

   private:
    std::atomic<int>* const adds_;
  };
  std::atomic<int> adds{0};
  auto node = std::make_unique<Root>(&adds);
  Root* root_node = node.get();
  NodefsFakeKernel fs(std::move(node));
  EXPECT_EQ(adds, 1);
  Inode* root = fs.root();
  EXPECT_EQ(root->node_id(), abi::kRootId);
  EXPECT_EQ(root->stable().gen, 0u);
  EXPECT_TRUE(root->IsRoot());
  EXPECT_TRUE(root->IsDir());
  EXPECT_EQ(root->node(), root_node);
  EXPECT_EQ(root_node->inode(), root);
  EXPECT_EQ(fs.bridge().FindInode(abi::kRootId).get(), root);

  // The kernel's node 1 is this root: GETATTR on it reaches the node.
  Result<struct stat> st = fs.vfs().Stat("/");
  ASSERT_THAT(st, IsOk());
  EXPECT_TRUE(S_ISDIR(st->st_mode));
  EXPECT_EQ(st->st_ino, abi::kRootId);
  ASSERT_THAT(fs.vfs().Mkdir("/d", 0700), IsOk());
  EXPECT_EQ(fs.bridge().FindInode(NodeId(fs, "/d"))->stable().gen, 0u);
}

TEST(NodefsTest, StInoComesFromStableAttrOrIsAutomatic) {
  // A node that reports another st_ino than its StableAttr's.
  class WrongIno : public Node {
    Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
      out->attr.ino = 999;
      return kOk;
    }
  };
  Options options;
  options.first_automatic_ino = 5000;
  NodefsFakeKernel fs(std::make_unique<MemDir>(), options);
  AddChild(fs.root(), "fixed", std::make_unique<MemFile>(S_IFREG | 0644, 0, 0),
           {.mode = S_IFREG, .ino = 42});
  AddFile(fs.root(), "auto1");
  AddFile(fs.root(), "auto2");
  AddChild(fs.root(), "wrong", std::make_unique<WrongIno>(), {.mode = S_IFREG, .ino = 43});
  FakeVfs& vfs = fs.vfs();
  EXPECT_THAT(vfs.Stat("/fixed"), IsOkAndHolds(::testing::Field(&stat::st_ino, 42u)));
  EXPECT_THAT(vfs.Stat("/auto1"), IsOkAndHolds(::testing::Field(&stat::st_ino, 5000u)));
  EXPECT_THAT(vfs.Stat("/auto2"), IsOkAndHolds(::testing::Field(&stat::st_ino, 5001u)));
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(vfs.Stat("/d"), IsOkAndHolds(::testing::Field(&stat::st_ino, 5002u)));
  EXPECT_THAT(vfs.Stat("/wrong"), IsOkAndHolds(::testing::Field(&stat::st_ino, 43u)));
  // Listings show the same numbers.
  Result<std::vector<DirEntry>> listing = vfs.Readdir("/", {.mode = ReaddirMode::kPlain});
  ASSERT_THAT(listing, IsOk());
  std::map<std::string, uint64_t> inos;
  for (const DirEntry& e : *listing) inos[e.name] = e.ino;
  EXPECT_EQ(inos["fixed"], 42u);
  EXPECT_EQ(inos["auto1"], 5000u);
  EXPECT_EQ(inos["d"], 5002u);
}

// A directory whose every name ("x", "y") is the same file, ino 77, made up
// at lookup time: the way a dynamic filesystem shows hard links.
class SameInoDir : public Node {
 public:
  explicit SameInoDir(Counters* counters) : counters_(counters) {}
  Errno Lookup(const Context&, absl::string_view name, EntryOut*, Inode** child) override {
    if (name != "x" && name != "y") return Errno(ENOENT);
    *child =
        inode()->NewInode(std::make_unique<CountingFile>(counters_), {.mode = S_IFREG, .ino = 77});
    return kOk;
  }

 private:
  Counters* const counters_;
};

TEST(NodefsTest, StableAttrNamingALiveInoYieldsThatInode) {
  Counters counters;
  {
    NodefsFakeKernel fs(std::make_unique<SameInoDir>(&counters));
    const uint64_t x = NodeId(fs, "/x");
    const uint64_t y = NodeId(fs, "/y");
    EXPECT_EQ(x, y);
    EXPECT_EQ(counters.destroyed, 1);  // the second node was dropped at once
    EXPECT_EQ(fs.kernel().LookupCount(x), 2u);
    EXPECT_EQ(BridgeCount(fs, x), 2u);
    EXPECT_THAT(fs.vfs().Stat("/x"), IsOkAndHolds(::testing::Field(&stat::st_ino, 77u)));
    EXPECT_THAT(fs.vfs().Stat("/y"), IsOkAndHolds(::testing::Field(&stat::st_ino, 77u)));
    // The tree agrees: looked-up children join it, one Inode under both
    // names.
    Inode* in_tree = fs.root()->GetChild("x");
    ASSERT_NE(in_tree, nullptr);
    EXPECT_EQ(in_tree->node_id(), x);
    EXPECT_EQ(fs.root()->GetChild("y"), in_tree);
    EXPECT_EQ(in_tree->Path(), "/x");
  }
  EXPECT_EQ(counters.destroyed, 2);
}

TEST(NodefsTest, FileTypeNeverChanges) {
  // A regular file that claims to be a directory, and a symlink on chmod.
  class LyingFile : public Node {
    Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
      out->attr.mode = S_IFDIR | 0750;
      return kOk;
    }
    Errno Setattr(const Context&, FileHandle*, const SetattrIn& in, AttrOut* out) override {
      out->attr.mode = S_IFLNK | (in.mode & 07777);
      return kOk;
    }
  };
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* file =
      AddChild(fs.root(), "f", std::make_unique<LyingFile>(), {.mode = S_IFREG, .ino = 10});
  Result<struct stat> st = fs.vfs().Stat("/f");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_mode, S_IFREG | 0750u);  // the type forced, the permissions kept

  abi::fuse_setattr_in in{};
  in.valid = abi::kFattrMode;
  in.mode = 0600;
  Result<struct stat> after = fs.vfs().Setattr("/f", in);
  ASSERT_THAT(after, IsOk());
  EXPECT_EQ(after->st_mode, S_IFREG | 0600u);

  // Asking for a directory with the live file's ino gives the file.
  Inode* same = fs.root()->NewInode(std::make_unique<MemDir>(), {.mode = S_IFDIR, .ino = 10});
  EXPECT_EQ(same, file);
  EXPECT_FALSE(same->IsDir());
  EXPECT_EQ(file->stable().mode, static_cast<uint32_t>(S_IFREG));
}

// --- Lookup counts ----------------------------------------------------------------------

TEST(NodefsTest, LookupCountsFollowEveryEntryReply) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  FakeKernel& kernel = fs.kernel();
  auto expect_count = [&](absl::string_view path, uint64_t count) {
    SCOPED_TRACE(path);
    uint64_t id = NodeId(fs, path);
    EXPECT_EQ(kernel.LookupCount(id), count);
    EXPECT_EQ(BridgeCount(fs, id), count);
  };

  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());  // MKDIR
  expect_count("/d", 1);
  ASSERT_THAT(vfs.Mknod("/d/n", S_IFIFO | 0644, 0), IsOk());  // MKNOD
  expect_count("/d/n", 1);
  ASSERT_THAT(vfs.Symlink("n", "/d/s"), IsOk());  // SYMLINK
  expect_count("/d/s", 1);
  Result<int> fd = vfs.Create("/d/f", 0644);  // CREATE
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs.Close(*fd), IsOk());
  expect_count("/d/f", 1);
  ASSERT_THAT(vfs.Link("/d/f", "/l"), IsOk());  // LINK: the same node once more
  expect_count("/d/f", 2);
  kernel.ExpectLookupCountsMatch();

  // Past the entry timeout a path walk revalidates with LOOKUP: +1 each.
  kernel.clock().Advance(absl::Seconds(2));
  ASSERT_THAT(vfs.Stat("/d/f"), IsOk());  // LOOKUP d, LOOKUP f
  expect_count("/d", 2);
  expect_count("/d/f", 3);
  kernel.ExpectLookupCountsMatch();

  // A failed creation counts nothing (a name in the tree the kernel has
  // not seen, so the request reaches the filesystem).
  Inode* t = AddFile(fs.root(), "t");
  EXPECT_THAT(kernel.Call(FuseRequest::Mkdir(abi::kRootId, "t", 0755, 0)).error(),
              FailsWith(EEXIST));
  EXPECT_EQ(t->lookup_count(), 0u);
  // Nor does a failed lookup.
  EXPECT_THAT(vfs.Stat("/d/missing"), FailsWith(ENOENT));
  kernel.ExpectLookupCountsMatch();
}

TEST(NodefsTest, ReaddirplusCountsChildrenButNotDotEntries) {
  FakeKernelOptions kernel_options;
  kernel_options.check_readdir_offsets = false;  // one READDIRPLUS pass: exact counts
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  ASSERT_THAT(fs.vfs().Mkdir("/d", 0755), IsOk());
  const uint64_t d = NodeId(fs, "/d");
  Inode* dir = fs.bridge().FindInode(d).get();
  for (int i = 0; i < 20; ++i) AddFile(dir, absl::StrFormat("f%02d", i));

  // Plain READDIR tells the kernel of no node.
  ASSERT_THAT(fs.vfs().Readdir("/d", {.mode = ReaddirMode::kPlain}), IsOk());
  EXPECT_THAT(fs.kernel().LookupCounts(), SizeIs(1));  // d only

  Result<std::vector<DirEntry>> listing = fs.vfs().Readdir("/d", {.mode = ReaddirMode::kPlus});
  ASSERT_THAT(listing, IsOk());
  ASSERT_THAT(*listing, SizeIs(22));
  for (const DirEntry& e : *listing) {
    SCOPED_TRACE(e.name);
    if (e.name == "." || e.name == "..") {
      EXPECT_EQ(e.nodeid, 0u);  // no lookup for the dot entries
      continue;
    }
    ASSERT_NE(e.nodeid, 0u);
    EXPECT_EQ(fs.kernel().LookupCount(e.nodeid), 1u);
    EXPECT_EQ(BridgeCount(fs, e.nodeid), 1u);
  }
  // "." is /d and ".." the root: neither was counted.
  EXPECT_EQ(BridgeCount(fs, d), 1u);
  EXPECT_EQ(fs.root()->lookup_count(), 0u);
  fs.kernel().ExpectLookupCountsMatch();
}

// Resolves every name it is asked for, "." and ".." included (a dynamic
// directory that does not check), and lists three.
class AnyNameDir : public Node {
  Errno Lookup(const Context&, absl::string_view name, EntryOut*, Inode** child) override {
    *child = inode()->NewInode(std::make_unique<MemFile>(S_IFREG | 0644, 0, 0),
                               {.mode = S_IFREG, .ino = 100 + name.size()});
    return kOk;
  }
  Errno Readdir(const Context&, std::unique_ptr<DirStream>* stream) override {
    *stream = std::make_unique<ListDirStream>(std::vector<DirStreamEntry>{
        {".", S_IFDIR, 1}, {"..", S_IFDIR, 1}, {"abc", S_IFREG, 103}, {"abcd", S_IFREG, 104}});
    return kOk;
  }
};

TEST(NodefsTest, ReaddirplusLooksUpNoDotEntryEvenIfTheNodeWould) {
  FakeKernelOptions kernel_options;
  kernel_options.check_readdir_offsets = false;
  NodefsFakeKernel fs(std::make_unique<AnyNameDir>(), {}, kernel_options);
  Result<std::vector<DirEntry>> listing = fs.vfs().Readdir("/", {.mode = ReaddirMode::kPlus});
  ASSERT_THAT(listing, IsOk());
  ASSERT_THAT(*listing, SizeIs(4));
  EXPECT_EQ((*listing)[0].nodeid, 0u);
  EXPECT_EQ((*listing)[1].nodeid, 0u);
  EXPECT_EQ(fs.kernel().LookupCount((*listing)[2].nodeid), 1u);
  fs.kernel().ExpectLookupCountsMatch();
  EXPECT_EQ(fs.bridge().InodeCount(), 3u);  // root, abc, abcd: no inode for a dot
}

TEST(NodefsTest, ForgetSubtractsItsCount) {
  FakeKernelOptions kernel_options;
  kernel_options.batch_forget = false;
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  AddFile(fs.root(), "f");
  for (int i = 0; i < 3; ++i) {
    fs.kernel().clock().Advance(absl::Seconds(2));  // revalidate: LOOKUP again
    ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());
  }
  const uint64_t f = NodeId(fs, "/f");
  EXPECT_EQ(BridgeCount(fs, f), 3u);
  ASSERT_THAT(fs.vfs().Forget("/f"), IsOk());  // FORGET nlookup=3
  Barrier(fs);
  EXPECT_THAT(fs.kernel().Trace(), HasSubstr("FORGET"));
  EXPECT_THAT(fs.kernel().Trace(), Not(HasSubstr("BATCH_FORGET")));
  EXPECT_EQ(fs.bridge().FindInode(f)->lookup_count(), 0u);  // in the tree: alive
  fs.kernel().ExpectLookupCountsMatch();
}

TEST(NodefsTest, BatchForgetSubtractsEachCount) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  std::vector<Inode*> files;
  for (int i = 0; i < 3; ++i) files.push_back(AddFile(fs.root(), absl::StrCat("f", i)));
  // Counts 1, 2 and 3.
  for (int round = 0; round < 3; ++round) {
    for (int i = round; i < 3; ++i) ASSERT_THAT(fs.vfs().Stat(absl::StrCat("/f", i)), IsOk());
    fs.kernel().clock().Advance(absl::Seconds(2));
  }
  for (int i = 0; i < 3; ++i) EXPECT_EQ(files[i]->lookup_count(), i + 1u);
  fs.kernel().DropCaches();  // one BATCH_FORGET
  Barrier(fs);
  EXPECT_THAT(fs.kernel().Trace(), HasSubstr("BATCH_FORGET"));
  for (Inode* file : files) EXPECT_EQ(file->lookup_count(), 0u);
  fs.kernel().ExpectLookupCountsMatch();
}

TEST(NodefsTest, ForgetBeyondTheCountStopsAtZero) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* file = AddFile(fs.root(), "f");
  ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());
  ASSERT_THAT(fs.vfs().Forget("/f"), IsOk());
  Barrier(fs);
  ASSERT_EQ(file->lookup_count(), 0u);
  // A FORGET the kernel never owed (a buggy or replayed one): no wrap-around.
  fs.bridge().Forget(RequestContext{}, file->node_id(), 5);
  EXPECT_EQ(file->lookup_count(), 0u);
  ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());
  EXPECT_EQ(file->lookup_count(), 1u);
  fs.kernel().ExpectLookupCountsMatch();
}

// Plays the kernel by hand on a socketpair: what the fake kernel never sends
// (it only forgets nodes it knows).
class RawConnection {
 public:
  explicit RawConnection(Bridge* bridge) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    kernel_end_ = ScopedFd(fds[0]);
    ServerOptions options;
    options.workers = 1;
    server_ = Server::Serve(bridge, ScopedFd(fds[1]), options);
    FuseRequest init = FuseRequest::Init(abi::kKernelVersion, abi::kKernelMinorVersion, 65536,
                                         abi::kInitBigWrites | abi::kInitMaxPages);
    EXPECT_THAT(Call(init).error(), IsOk());
  }
  ~RawConnection() {
    ::shutdown(kernel_end_.get(), SHUT_RDWR);
    server_.reset();
  }
  void Send(const FuseRequest& request) {
    std::string frame = request.Encode(unique_ += 2, Caller{}, request.arg.size());
    EXPECT_EQ(::send(kernel_end_.get(), frame.data(), frame.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(frame.size()));
  }
  FuseReply Call(const FuseRequest& request) {
    Send(request);
    std::string buffer(1 << 20, '\0');
    ssize_t n = ::recv(kernel_end_.get(), buffer.data(), buffer.size(), 0);
    FuseReply reply;
    EXPECT_TRUE(n > 0 && DecodeReply(absl::string_view(buffer.data(), n), &reply));
    EXPECT_EQ(reply.unique(), unique_);
    return reply;
  }

 private:
  ScopedFd kernel_end_;
  std::unique_ptr<Server> server_;
  uint64_t unique_ = 0;
};

TEST(NodefsTest, ForgetOfAnUnknownNodeIsLoggedNotFatal) {
  Bridge bridge(std::make_unique<MemDir>(), Options());
  Inode* file = AddFile(bridge.root(), "f");
  RawConnection kernel(&bridge);
  FuseReply lookup = kernel.Call(FuseRequest::Lookup(abi::kRootId, "f"));
  ASSERT_THAT(lookup.error(), IsOk());
  ASSERT_EQ(lookup.As<abi::fuse_entry_out>().nodeid, file->node_id());
  ASSERT_EQ(file->lookup_count(), 1u);

  ::testing::internal::CaptureStderr();
  kernel.Send(FuseRequest::Forget(12345, 1));
  const abi::fuse_forget_one batch[] = {{abi::kRootId, 7}, {67890, 2}};
  kernel.Send(FuseRequest::BatchForget(batch));
  // Still serving (requests are handled in order: the forgets came first).
  EXPECT_THAT(kernel.Call(FuseRequest::Getattr(file->node_id())).error(), IsOk());
  std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(log, HasSubstr("FORGET for unknown node 12345"));
  EXPECT_THAT(log, HasSubstr("FORGET for unknown node 67890"));
  EXPECT_EQ(file->lookup_count(), 1u);           // other nodes untouched
  EXPECT_EQ(bridge.root()->lookup_count(), 0u);  // the root's count is implicit
  EXPECT_NE(bridge.FindInode(abi::kRootId), nullptr);
  kernel.Send(FuseRequest::Forget(file->node_id(), 1));
  EXPECT_THAT(kernel.Call(FuseRequest::Statfs(abi::kRootId)).error(), IsOk());
  EXPECT_EQ(file->lookup_count(), 0u);
}

// --- Releasing nodes -------------------------------------------------------------------

// The kernel sends FORGET with priority and the last RELEASE in the
// background, so an unlinked open file may be forgotten before it is
// released: its handle keeps it alive until then.
TEST(NodefsTest, ForgetBeforeReleaseKeepsTheOpenFile) {
  Counters counters;
  Bridge bridge(std::make_unique<MemDir>(), Options());
  auto node = std::make_unique<CountingFile>(&counters);
  Inode* file = AddChild(bridge.root(), "f", std::move(node));
  const uint64_t id = file->node_id();
  RawConnection kernel(&bridge);
  ASSERT_THAT(kernel.Call(FuseRequest::Lookup(abi::kRootId, "f")).error(), IsOk());
  FuseReply opened = kernel.Call(FuseRequest::Open(id, O_RDWR));
  ASSERT_THAT(opened.error(), IsOk());
  const uint64_t fh = opened.As<abi::fuse_open_out>().fh;
  ASSERT_THAT(kernel.Call(FuseRequest::Write(id, fh, 0, "still here")).error(), IsOk());
  ASSERT_THAT(kernel.Call(FuseRequest::Unlink(abi::kRootId, "f")).error(), IsOk());
  kernel.Send(FuseRequest::Forget(id, 1));
  FuseReply read = kernel.Call(FuseRequest::Read(id, fh, 0, 100));
  ASSERT_THAT(read.error(), IsOk());
  EXPECT_EQ(read.body, "still here");
  EXPECT_NE(bridge.FindInode(id), nullptr);
  EXPECT_EQ(counters.forgets, 0);
  ASSERT_THAT(kernel.Call(FuseRequest::Release(id, fh, O_RDWR)).error(), IsOk());
  EXPECT_EQ(bridge.FindInode(id), nullptr);
  EXPECT_EQ(counters.forgets, 1);
}

TEST(NodefsTest, NodeIsReleasedOnceWhenForgottenAndOutOfTheTree) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* file = AddChild(fs.root(), "f", std::make_unique<CountingFile>(&counters));
  const uint64_t id = file->node_id();
  ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());

  // Out of the tree, but the kernel still holds it: alive.
  ASSERT_TRUE(fs.root()->RmChild("f"));
  EXPECT_NE(fs.bridge().FindInode(id), nullptr);
  EXPECT_EQ(counters.forgets, 0);
  // The kernel's last reference goes: released, OnForget once.
  fs.kernel().ForgetNode(id);
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(id), nullptr);
  EXPECT_EQ(counters.forgets, 1);
  EXPECT_EQ(counters.destroyed, 1);
  fs.kernel().DropCaches();
  Barrier(fs);
  EXPECT_EQ(counters.forgets, 1);
  EXPECT_EQ(fs.bridge().InodeCount(), 1u);
}

TEST(NodefsTest, NodeInTheTreeStaysWhenForgotten) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* file = AddChild(fs.root(), "f", std::make_unique<CountingFile>(&counters));
  const uint64_t id = file->node_id();
  ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());
  ASSERT_THAT(fs.vfs().Forget("/f"), IsOk());
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(id).get(), file);
  EXPECT_EQ(counters.forgets, 0);
  EXPECT_EQ(NodeId(fs, "/f"), id);  // the same node when looked up again
}

TEST(NodefsTest, PersistentNodeStaysWhenForgottenAndOutOfTheTree) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* file =
      fs.root()->NewPersistentInode(std::make_unique<CountingFile>(&counters), {.mode = S_IFREG});
  const uint64_t id = file->node_id();
  ASSERT_TRUE(fs.root()->AddChild("f", file, false));
  ASSERT_THAT(fs.vfs().Stat("/f"), IsOk());
  ASSERT_TRUE(fs.root()->RmChild("f"));
  fs.kernel().ForgetNode(id);
  Barrier(fs);
  ASSERT_EQ(fs.bridge().FindInode(id).get(), file);
  EXPECT_EQ(counters.forgets, 0);
  // It can be put back and found again.
  ASSERT_TRUE(fs.root()->AddChild("g", file, false));
  EXPECT_EQ(NodeId(fs, "/g"), file->node_id());
}

// Children made up at lookup time (a procfs): the kernel's dentry is the
// only thing holding them.
class DynamicDir : public Node {
 public:
  explicit DynamicDir(Counters* counters) : counters_(counters) {}
  Errno Lookup(const Context&, absl::string_view name, EntryOut*, Inode** child) override {
    if (name.substr(0, 1) != "p") return Errno(ENOENT);
    *child = inode()->NewInode(std::make_unique<CountingFile>(counters_), {.mode = S_IFREG});
    return kOk;
  }

 private:
  Counters* const counters_;
};

TEST(NodefsTest, DynamicNodeIsReleasedWhenForgotten) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<DynamicDir>(&counters));
  const uint64_t p1 = NodeId(fs, "/p1");
  ASSERT_THAT(fs.vfs().ReadFile("/p1"), IsOk());
  ASSERT_THAT(fs.vfs().Stat("/p2"), IsOk());
  EXPECT_EQ(fs.bridge().InodeCount(), 3u);
  fs.kernel().DropCaches();
  Barrier(fs);
  EXPECT_EQ(counters.forgets, 2);
  EXPECT_EQ(counters.destroyed, 2);
  EXPECT_EQ(fs.bridge().InodeCount(), 1u);
  // Looked up again: a new node (ids are never reused).
  EXPECT_GT(NodeId(fs, "/p1"), p1);
}

// --- The tree follows mutations ------------------------------------------------------------

TEST(NodefsTest, TreeFollowsCreatingOperations) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs.Mknod("/d/n", S_IFREG | 0600, 0), IsOk());
  ASSERT_THAT(vfs.WriteFile("/d/f", "data"), IsOk());
  ASSERT_THAT(vfs.Symlink("f", "/d/s"), IsOk());
  ASSERT_THAT(vfs.Link("/d/f", "/d/l"), IsOk());
  Inode* d = fs.root()->GetChild("d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->node_id(), NodeId(fs, "/d"));
  EXPECT_TRUE(d->IsDir());
  for (const char* name : {"n", "f", "s", "l"}) {
    SCOPED_TRACE(name);
    Inode* child = d->GetChild(name);
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->node_id(), NodeId(fs, absl::StrCat("/d/", name)));
  }
  EXPECT_EQ(d->GetChild("l"), d->GetChild("f"));
  EXPECT_EQ(d->GetChild("s")->stable().mode, static_cast<uint32_t>(S_IFLNK));
  std::vector<std::string> names;
  for (auto& [name, child] : d->Children()) names.push_back(name);
  EXPECT_THAT(names, ElementsAre("f", "l", "n", "s"));
  EXPECT_EQ(d->GetChild("f")->Path(), "/d/f");
}

TEST(NodefsTest, TreeFollowsUnlinkAndRmdir) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs.WriteFile("/d/f", "x"), IsOk());
  ASSERT_THAT(vfs.Mkdir("/d/e", 0755), IsOk());
  Inode* d = fs.root()->GetChild("d");
  ASSERT_THAT(vfs.Unlink("/d/f"), IsOk());
  EXPECT_EQ(d->GetChild("f"), nullptr);
  EXPECT_THAT(vfs.Rmdir("/d"), FailsWith(ENOTEMPTY));
  EXPECT_NE(fs.root()->GetChild("d"), nullptr);
  ASSERT_THAT(vfs.Rmdir("/d/e"), IsOk());
  EXPECT_EQ(d->GetChild("e"), nullptr);
  ASSERT_THAT(vfs.Rmdir("/d"), IsOk());
  EXPECT_EQ(fs.root()->GetChild("d"), nullptr);
  Barrier(fs);
  EXPECT_EQ(fs.bridge().InodeCount(), 1u);
}

TEST(NodefsTest, RenameMovesTheEntry) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/e", 0755), IsOk());
  ASSERT_THAT(vfs.WriteFile("/d/f", "x"), IsOk());
  Inode* f = fs.root()->GetChild("d")->GetChild("f");
  ASSERT_THAT(vfs.Rename("/d/f", "/e/g", 0), IsOk());
  EXPECT_EQ(fs.root()->GetChild("d")->GetChild("f"), nullptr);
  EXPECT_EQ(fs.root()->GetChild("e")->GetChild("g"), f);
  EXPECT_EQ(f->Path(), "/e/g");
  EXPECT_THAT(vfs.ReadFile("/e/g"), IsOkAndHolds("x"));
  // A directory moves with its subtree.
  ASSERT_THAT(vfs.Rename("/e", "/d/e2", 0), IsOk());
  EXPECT_EQ(f->Path(), "/d/e2/g");
  EXPECT_THAT(vfs.ReadFile("/d/e2/g"), IsOkAndHolds("x"));
}

// A directory that accepts every rename without looking: the toolkit alone
// must honour the flags and move the tree's entries.
class AcceptingDir : public MemDir {
 public:
  Errno Rename(const Context&, absl::string_view, Inode*, absl::string_view, uint32_t) override {
    renames_++;
    return kOk;
  }
  std::atomic<int> renames_{0};
};

TEST(NodefsTest, RenameNoreplaceOntoAnExistingEntryFails) {
  auto node = std::make_unique<AcceptingDir>();
  AcceptingDir* root = node.get();
  NodefsFakeKernel fs(std::move(node));
  Inode* a = AddFile(fs.root(), "a");
  Inode* b = AddFile(fs.root(), "b");
  // Sent as the kernel would if "b" appeared after its own check (the VFS
  // refuses a cached target itself).
  FuseReply r =
      fs.kernel().Call(FuseRequest::Rename(abi::kRootId, "a", abi::kRootId, "b", RENAME_NOREPLACE));
  EXPECT_THAT(r.error(), FailsWith(EEXIST));
  EXPECT_EQ(root->renames_, 0);  // refused before the node was asked
  EXPECT_EQ(fs.root()->GetChild("a"), a);
  EXPECT_EQ(fs.root()->GetChild("b"), b);
  // Onto a free name it moves.
  ASSERT_THAT(fs.vfs().Rename("/a", "/c", RENAME_NOREPLACE), IsOk());
  EXPECT_EQ(fs.root()->GetChild("a"), nullptr);
  EXPECT_EQ(fs.root()->GetChild("c"), a);
}

TEST(NodefsTest, RenameExchangeSwapsTheEntries) {
  NodefsFakeKernel fs(std::make_unique<AcceptingDir>());
  Inode* a = AddFile(fs.root(), "a");
  Inode* d = AddChild(fs.root(), "d", std::make_unique<MemDir>(), {.mode = S_IFDIR});
  AddFile(d, "inside");
  const uint64_t a_id = NodeId(fs, "/a");
  ASSERT_THAT(fs.vfs().Rename("/a", "/d", RENAME_EXCHANGE), IsOk());
  EXPECT_EQ(fs.root()->GetChild("a"), d);
  EXPECT_EQ(fs.root()->GetChild("d"), a);
  EXPECT_EQ(a->Path(), "/d");
  EXPECT_EQ(d->GetChild("inside")->Path(), "/a/inside");
  EXPECT_EQ(NodeId(fs, "/d"), a_id);
  EXPECT_THAT(fs.vfs().Stat("/a/inside"), IsOk());
}

TEST(NodefsTest, ExchangingAnInodeWithItselfChangesNothing) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  Inode* f = AddChild(fs.root(), "f", std::make_unique<CountingFile>(&counters));
  ASSERT_TRUE(fs.root()->AddChild("g", f, false));  // a second name
  EXPECT_TRUE(fs.root()->ExchangeChild("f", fs.root(), "f"));
  EXPECT_TRUE(fs.root()->ExchangeChild("f", fs.root(), "g"));
  EXPECT_THAT(f->Parents(), SizeIs(2));
  ASSERT_TRUE(fs.root()->RmChild("f"));
  ASSERT_TRUE(fs.root()->RmChild("g"));
  EXPECT_EQ(counters.forgets, 1);  // no stale parent entry keeps it
}

TEST(NodefsTest, RenameOverAnEntryForgetsTheVictimWhenTheKernelDropsIt) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.WriteFile("/a", "A"), IsOk());
  ASSERT_THAT(vfs.WriteFile("/b", "B"), IsOk());
  ASSERT_THAT(vfs.WriteFile("/c", "C"), IsOk());
  Inode* a = fs.root()->GetChild("a");
  const uint64_t b = NodeId(fs, "/b");
  const uint64_t c = NodeId(fs, "/c");

  // The victim of a rename is out of the tree; the kernel drops its dentry
  // and forgets it: released.
  ASSERT_THAT(vfs.Rename("/a", "/b", 0), IsOk());
  EXPECT_EQ(fs.root()->GetChild("b"), a);
  EXPECT_EQ(fs.root()->GetChild("a"), nullptr);
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(b), nullptr);

  // An open victim lives until closed.
  Result<int> fd = vfs.Open("/c", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs.Rename("/b", "/c", 0), IsOk());
  Barrier(fs);
  std::shared_ptr<Inode> victim = fs.bridge().FindInode(c);
  ASSERT_NE(victim, nullptr);
  EXPECT_THAT(victim->Parents(), IsEmpty());
  victim.reset();
  EXPECT_THAT(vfs.Read(*fd, 10, 0), IsOkAndHolds("C"));
  EXPECT_THAT(vfs.ReadFile("/c"), IsOkAndHolds("A"));
  ASSERT_THAT(vfs.Close(*fd), IsOk());
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(c), nullptr);
  EXPECT_EQ(fs.bridge().InodeCount(), 2u);
}

TEST(NodefsTest, UnlinkedOpenFileLivesUntilClosedAndForgotten) {
  Counters counters;
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  Inode* file = AddChild(fs.root(), "f", std::make_unique<CountingFile>(&counters));
  const uint64_t id = file->node_id();
  Result<int> fd = vfs.Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs.Write(*fd, "data", 0), IsOkAndHolds(4u));
  ASSERT_THAT(vfs.Unlink("/f"), IsOk());
  Barrier(fs);
  EXPECT_EQ(fs.root()->GetChild("f"), nullptr);
  EXPECT_EQ(counters.forgets, 0);
  EXPECT_NE(fs.bridge().FindInode(id), nullptr);
  EXPECT_THAT(vfs.Stat("/f"), FailsWith(ENOENT));
  EXPECT_THAT(vfs.Read(*fd, 10, 0), IsOkAndHolds("data"));
  ASSERT_THAT(vfs.Write(*fd, "more", 4), IsOkAndHolds(4u));
  ASSERT_THAT(vfs.Close(*fd), IsOk());  // RELEASE, then the kernel's FORGET
  Barrier(fs);
  EXPECT_EQ(fs.bridge().FindInode(id), nullptr);
  EXPECT_EQ(counters.forgets, 1);
  EXPECT_EQ(counters.destroyed, 1);
}

TEST(NodefsTest, HardLinksAcrossDirectories) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/d1", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/d2", 0755), IsOk());
  ASSERT_THAT(vfs.WriteFile("/d1/f", "shared"), IsOk());
  ASSERT_THAT(vfs.Link("/d1/f", "/d2/g"), IsOk());
  EXPECT_EQ(NodeId(fs, "/d1/f"), NodeId(fs, "/d2/g"));
  Result<struct stat> f = vfs.Stat("/d1/f");
  Result<struct stat> g = vfs.Stat("/d2/g");
  ASSERT_THAT(f, IsOk());
  ASSERT_THAT(g, IsOk());
  EXPECT_EQ(f->st_ino, g->st_ino);
  EXPECT_EQ(g->st_nlink, 2u);
  Inode* inode = fs.root()->GetChild("d1")->GetChild("f");
  EXPECT_THAT(inode->Parents(), SizeIs(2));

  ASSERT_THAT(vfs.WriteFile("/d2/g", "changed"), IsOk());
  EXPECT_THAT(vfs.ReadFile("/d1/f"), IsOkAndHolds("changed"));
  ASSERT_THAT(vfs.Unlink("/d1/f"), IsOk());
  fs.kernel().clock().Advance(absl::Seconds(2));  // attributes expire
  EXPECT_THAT(vfs.Stat("/d2/g"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 1u)));
  EXPECT_THAT(vfs.ReadFile("/d2/g"), IsOkAndHolds("changed"));
  EXPECT_EQ(inode->Path(), "/d2/g");
  // Renaming one link onto another of the same inode changes nothing.
  ASSERT_THAT(vfs.Link("/d2/g", "/d1/h"), IsOk());
  ASSERT_THAT(vfs.Rename("/d1/h", "/d2/g", 0), IsOk());
  EXPECT_THAT(inode->Parents(), SizeIs(2));
}

// A MemDir's link count is 2 plus its subdirectories, counted by
// Inode::ChildDirectoryCount (which, unlike Children(), copies nothing: the
// kernel asks for the directory's attributes after every entry made in it,
// and a snapshot per GETATTR made filling a 10000-entry memfs directory
// quadratic, about 40 s in the POSIX suite).
TEST(NodefsTest, DirectoryLinkCountCountsSubdirectoriesOnly) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/d/a", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/d/b", 0755), IsOk());
  ASSERT_THAT(vfs.WriteFile("/d/f", "file"), IsOk());
  ASSERT_THAT(vfs.Symlink("a", "/d/link"), IsOk());
  Inode* d = fs.root()->GetChild("d");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->ChildDirectoryCount(), 2u);
  EXPECT_EQ(fs.root()->ChildDirectoryCount(), 1u);
  EXPECT_EQ(d->GetChild("f")->ChildDirectoryCount(), 0u);
  fs.kernel().clock().Advance(absl::Seconds(2));  // attributes expire
  EXPECT_THAT(vfs.Stat("/d"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 4u)));
  ASSERT_THAT(vfs.Rmdir("/d/a"), IsOk());
  EXPECT_EQ(d->ChildDirectoryCount(), 1u);
  fs.kernel().clock().Advance(absl::Seconds(2));
  EXPECT_THAT(vfs.Stat("/d"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 3u)));
}

// The count is kept with every change to the children (not recounted), so
// every way an entry comes and goes must keep it: renames within and across
// directories, a rename replacing an empty directory, an exchange of a file
// with a directory, and unlink.
TEST(NodefsTest, DirectoryCountFollowsRenamesAndExchanges) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/p", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/q", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/p/a", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/q/empty", 0755), IsOk());
  ASSERT_THAT(vfs.WriteFile("/q/f", "x"), IsOk());
  Inode* p = fs.root()->GetChild("p");
  Inode* q = fs.root()->GetChild("q");
  ASSERT_NE(p, nullptr);
  ASSERT_NE(q, nullptr);
  auto counts = [&] {
    return std::make_pair(p->ChildDirectoryCount(), q->ChildDirectoryCount());
  };
  EXPECT_EQ(counts(), std::make_pair(size_t{1}, size_t{1}));
  ASSERT_THAT(vfs.Rename("/p/a", "/p/b", 0), IsOk());  // same directory
  EXPECT_EQ(counts(), std::make_pair(size_t{1}, size_t{1}));
  ASSERT_THAT(vfs.Rename("/p/b", "/q/empty", 0), IsOk());  // replaces a directory
  EXPECT_EQ(counts(), std::make_pair(size_t{0}, size_t{1}));
  ASSERT_THAT(vfs.Rename("/q/empty", "/p/d", 0), IsOk());  // across
  EXPECT_EQ(counts(), std::make_pair(size_t{1}, size_t{0}));
  ASSERT_THAT(vfs.Rename("/p/d", "/q/f", RENAME_EXCHANGE), IsOk());
  EXPECT_EQ(counts(), std::make_pair(size_t{0}, size_t{1}));
  EXPECT_TRUE(p->GetChild("d") != nullptr && !p->GetChild("d")->IsDir());
  ASSERT_THAT(vfs.Unlink("/p/d"), IsOk());
  ASSERT_THAT(vfs.Rmdir("/q/f"), IsOk());
  EXPECT_EQ(counts(), std::make_pair(size_t{0}, size_t{0}));
  fs.kernel().clock().Advance(absl::Seconds(2));
  EXPECT_THAT(vfs.Stat("/q"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 2u)));
  EXPECT_THAT(vfs.Stat("/"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 4u)));
}

// A MemDir removed while open (rmdir, or replaced by a rename) has no
// links, as on tmpfs; it used to say 2.
TEST(NodefsTest, RemovedOpenMemDirHasNoLinks) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  FakeVfs& vfs = fs.vfs();
  ASSERT_THAT(vfs.Mkdir("/gone", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/a", 0755), IsOk());
  ASSERT_THAT(vfs.Mkdir("/b", 0755), IsOk());
  const uint64_t gone = NodeId(fs, "/gone");
  const uint64_t b = NodeId(fs, "/b");
  RawDir open_gone(fs.kernel(), gone);
  RawDir open_b(fs.kernel(), b);
  auto nlink = [&](uint64_t id) -> int64_t {
    FuseReply r = fs.kernel().Call(FuseRequest::Getattr(id));
    if (!r.error().ok()) return -1;
    return r.As<abi::fuse_attr_out>().attr.nlink;
  };
  EXPECT_EQ(nlink(gone), 2);
  ASSERT_THAT(vfs.Rmdir("/gone"), IsOk());
  EXPECT_EQ(nlink(gone), 0);
  ASSERT_THAT(vfs.Rename("/a", "/b", 0), IsOk());
  EXPECT_EQ(nlink(b), 0);
  EXPECT_EQ(nlink(abi::kRootId), 3);  // the root and "/b" (was "/a")
}

TEST(NodefsTest, StaticTreeWorksWithTheDefaults) {
  // Nothing overridden but OnAdd: plain Nodes in a tree.
  class StaticRoot : public Node {
    void OnAdd(const Context&) override {
      Inode* sub = inode()->NewPersistentInode(std::make_unique<Node>(), {.mode = S_IFDIR});
      inode()->AddChild("sub", sub, false);
      sub->AddChild("file", sub->NewPersistentInode(std::make_unique<Node>(), {.mode = S_IFREG}),
                    false);
      inode()->AddChild(
          "top", inode()->NewPersistentInode(std::make_unique<Node>(), {.mode = S_IFREG, .ino = 7}),
          false);
    }
  };
  Options options;
  options.uid = 1234;
  options.gid = 5678;
  NodefsFakeKernel fs(std::make_unique<StaticRoot>(), options);
  FakeVfs& vfs = fs.vfs();
  Result<struct stat> sub = vfs.Stat("/sub");
  ASSERT_THAT(sub, IsOk());
  EXPECT_EQ(sub->st_mode, S_IFDIR | 0755u);
  EXPECT_EQ(sub->st_nlink, 2u);
  EXPECT_EQ(sub->st_uid, 1234u);
  EXPECT_EQ(sub->st_gid, 5678u);
  Result<struct stat> file = vfs.Stat("/sub/file");
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(file->st_mode, S_IFREG | 0644u);
  EXPECT_EQ(file->st_nlink, 1u);
  EXPECT_THAT(vfs.Stat("/top"), IsOkAndHolds(::testing::Field(&stat::st_ino, 7u)));
  EXPECT_THAT(vfs.Stat("/nope"), FailsWith(ENOENT));

  EXPECT_THAT(vfs.ListDir("/"), IsOkAndHolds(ElementsAre("sub", "top")));
  Result<std::vector<DirEntry>> listing = vfs.Readdir("/sub");
  ASSERT_THAT(listing, IsOk());
  std::vector<std::string> names;
  for (const DirEntry& e : *listing) names.push_back(e.name);
  EXPECT_THAT(names, ElementsAre(".", "..", "file"));

  Result<int> fd = vfs.Open("/sub/file", O_RDONLY, 0);  // read-only: no handle needed
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs.Close(*fd), IsOk());
  EXPECT_THAT(vfs.Open("/sub/file", O_WRONLY, 0), FailsWith(EROFS));
  EXPECT_THAT(vfs.Mkdir("/new", 0755), FailsWith(EROFS));
  EXPECT_THAT(vfs.Unlink("/top"), FailsWith(EROFS));
}

// --- Directory listings --------------------------------------------------------------------

// A directory /big with `n` files f000, f001, ... made in the tree.
Inode* MakeBigDir(NodefsFakeKernel& fs, int n) {
  Inode* big = AddChild(fs.root(), "big", std::make_unique<MemDir>(), {.mode = S_IFDIR});
  for (int i = 0; i < n; ++i) AddFile(big, absl::StrFormat("f%03d", i));
  return big;
}

TEST(NodefsTest, PartialReaddirConsumptionListsEveryNameOnce) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  MakeBigDir(fs, 500);
  struct Case {
    ReaddirMode mode;
    uint32_t request_size;
    size_t entries_per_call;
  };
  for (const Case& c : {Case{ReaddirMode::kPlain, 4096, 7}, Case{ReaddirMode::kPlain, 256, 1},
                        Case{ReaddirMode::kPlus, 4096, 3}, Case{ReaddirMode::kPlus, 512, 2}}) {
    SCOPED_TRACE(absl::StrCat("plus=", c.mode == ReaddirMode::kPlus, " size=", c.request_size,
                              " per call=", c.entries_per_call));
    Result<std::vector<DirEntry>> listing = fs.vfs().Readdir(
        "/big",
        {.mode = c.mode, .request_size = c.request_size, .entries_per_call = c.entries_per_call});
    ASSERT_THAT(listing, IsOk());
    std::map<std::string, int> seen;
    for (const DirEntry& e : *listing) seen[e.name]++;
    EXPECT_EQ(seen.size(), 502u);
    for (const auto& [name, times] : seen) EXPECT_EQ(times, 1) << name;
    EXPECT_EQ(seen.count("f000") + seen.count("f499"), 2u);
    fs.kernel().ExpectLookupCountsMatch();
  }
}

TEST(NodefsTest, ListingSurvivesMutationBetweenReads) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  MakeBigDir(fs, 100);
  const uint64_t big = NodeId(fs, "/big");
  std::map<std::string, int> seen;
  {
    RawDir dir(fs.kernel(), big);
    std::vector<ParsedDirent> first = dir.Read(0, 512);
    ASSERT_GT(first.size(), 4u);
    ASSERT_LT(first.size(), 30u);
    for (const ParsedDirent& e : first) seen[e.name]++;
    // Between two getdents(2), entries already listed go (a listing that
    // shifted would skip as many), then entries sorting first come (one
    // that shifted would repeat as many); one not yet listed goes too.
    ASSERT_THAT(fs.vfs().Unlink("/big/f001"), IsOk());
    ASSERT_THAT(fs.vfs().Unlink("/big/f002"), IsOk());
    ASSERT_THAT(fs.vfs().Unlink("/big/f090"), IsOk());
    std::vector<ParsedDirent> second = dir.Read(first.back().off, 512);
    ASSERT_FALSE(second.empty());
    for (const ParsedDirent& e : second) seen[e.name]++;
    for (const char* name : {"/big/a-new", "/big/b-new", "/big/c-new"}) {
      ASSERT_THAT(fs.vfs().WriteFile(name, ""), IsOk());
    }
    for (const ParsedDirent& e : dir.ReadAll(second.back().off, 512)) seen[e.name]++;
  }
  for (int i = 0; i < 100; ++i) {
    std::string name = absl::StrFormat("f%03d", i);
    if (i == 1 || i == 2 || i == 90) {
      EXPECT_LE(seen[name], 1) << name;  // removed: at most once
    } else {
      EXPECT_EQ(seen[name], 1) << name;  // untouched: exactly once
    }
  }
  EXPECT_EQ(seen["."], 1);
  EXPECT_EQ(seen[".."], 1);
  for (const char* name : {"a-new", "b-new", "c-new"}) EXPECT_LE(seen[name], 1) << name;
}

TEST(NodefsTest, SeekdirReturnsTheSameEntries) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  MakeBigDir(fs, 60);
  const uint64_t big = NodeId(fs, "/big");
  RawDir dir(fs.kernel(), big);
  std::vector<ParsedDirent> all = dir.ReadAll(0, 300);
  ASSERT_EQ(all.size(), 62u);
  // telldir() after entry k, then seekdir() back to it, in any order.
  for (size_t k : {40u, 3u, 0u, 61u, 20u}) {
    SCOPED_TRACE(k);
    std::vector<ParsedDirent> again = dir.ReadAll(all[k].off, 300);
    ASSERT_EQ(again.size(), all.size() - k - 1);
    for (size_t i = 0; i < again.size(); ++i) {
      EXPECT_EQ(again[i].name, all[k + 1 + i].name);
      EXPECT_EQ(again[i].off, all[k + 1 + i].off);
    }
  }
  // rewinddir() (offset 0) reads the directory afresh.
  ASSERT_THAT(fs.vfs().WriteFile("/big/new", ""), IsOk());
  std::vector<std::string> names = Names(dir.ReadAll(0, 300));
  EXPECT_EQ(names.size(), 63u);
  EXPECT_EQ(std::count(names.begin(), names.end(), "new"), 1);
}

// The tree's listing is read from the live directory as the kernel asks
// (like tmpfs), not snapshot at opendir: a name made after the cursor
// shows, one removed before the cursor reached it does not (beyond the
// batch of a few hundred entries read at once).
TEST(NodefsTest, ListingReadsTheLiveTreeBeyondWhatWasRead) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  MakeBigDir(fs, 1000);
  const uint64_t big = NodeId(fs, "/big");
  RawDir dir(fs.kernel(), big);
  std::vector<ParsedDirent> first = dir.Read(0, 512);
  ASSERT_FALSE(first.empty());
  ASSERT_LT(first.size(), 30u);
  ASSERT_THAT(fs.vfs().Unlink("/big/f900"), IsOk());
  ASSERT_THAT(fs.vfs().WriteFile("/big/z-new", ""), IsOk());
  std::vector<std::string> rest = Names(dir.ReadAll(first.back().off, 512));
  EXPECT_EQ(std::count(rest.begin(), rest.end(), "z-new"), 1);
  EXPECT_EQ(std::count(rest.begin(), rest.end(), "f900"), 0);
  EXPECT_EQ(first.size() + rest.size(), 1002u);  // ., .., 1000 - 1 + 1
}

// A listing of its own that counts how far fusekit read it, and can fail
// after a given number of entries.
class CountedDir : public Node {
 public:
  CountedDir(int entries, int fail_after, int* pulled)
      : entries_(entries), fail_after_(fail_after), pulled_(pulled) {}
  Errno Readdir(const Context&, std::unique_ptr<DirStream>* stream) override {
    *stream = std::make_unique<Stream>(this);
    return kOk;
  }

 private:
  class Stream : public DirStream {
   public:
    explicit Stream(CountedDir* dir) : dir_(dir) {}
    bool Next(DirStreamEntry* entry, Errno* error) override {
      if (next_ == dir_->fail_after_) {
        *error = Errno(EIO);
        return false;
      }
      if (next_ == dir_->entries_) return false;
      *entry = {absl::StrFormat("entry%05d", next_++), S_IFREG, 0};
      ++*dir_->pulled_;
      return true;
    }

   private:
    CountedDir* dir_;
    int next_ = 0;
  };
  const int entries_, fail_after_;
  int* pulled_;
};

// A READDIR costs what it returns: fusekit pulls a listing only as far as
// the reply asks (plus the one entry that did not fit), and keeps what it
// pulled for seekdir.
TEST(NodefsTest, ListingIsPulledOnlyAsFarAsTheKernelReads) {
  int pulled = 0;
  NodefsFakeKernel fs(std::make_unique<CountedDir>(10000, -1, &pulled));
  RawDir dir(fs.kernel(), abi::kRootId);
  std::vector<ParsedDirent> first = dir.Read(0, 4096);
  ASSERT_GT(first.size(), 50u);
  EXPECT_LE(pulled, static_cast<int>(first.size()) + 1);
  std::vector<ParsedDirent> second = dir.Read(first.back().off, 4096);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front().name, absl::StrFormat("entry%05d", first.size()));
  EXPECT_LE(pulled, static_cast<int>(first.size() + second.size()) + 1);
  const int before = pulled;
  std::vector<ParsedDirent> again = dir.Read(first[9].off, 4096);  // seekdir back
  ASSERT_FALSE(again.empty());
  EXPECT_EQ(again.front().name, "entry00010");
  EXPECT_EQ(pulled, before);  // served from what was pulled already
  EXPECT_EQ(dir.ReadAll(0, 65536).size(), 10000u);  // rewind: a fresh stream, to its end
}

// A stream that fails mid-listing: the entries before the failure go out,
// then the next READDIR gets the error.
TEST(NodefsTest, ListingErrorComesAfterTheEntriesBeforeIt) {
  int pulled = 0;
  NodefsFakeKernel fs(std::make_unique<CountedDir>(100, 5, &pulled));
  RawDir dir(fs.kernel(), abi::kRootId);
  std::vector<ParsedDirent> first = dir.Read(0, 4096);
  ASSERT_EQ(first.size(), 5u);
  EXPECT_THAT(dir.ReadError(first.back().off, 4096), Errno(EIO));
  EXPECT_THAT(dir.ReadError(first.back().off, 4096), Errno(EIO));  // and again
  EXPECT_EQ(dir.Read(0, 4096).size(), 5u);  // a rewind tries afresh
}

// The tree's listing offsets belong to the directory, not to one listing:
// an offset from one opendir resumes exactly in another (the kernel's
// listing cache relies on it), even after the entry at that offset went,
// and a new name comes after every older one.
TEST(NodefsTest, ListingOffsetsHoldAcrossListings) {
  NodefsFakeKernel fs(std::make_unique<MemDir>());
  MakeBigDir(fs, 300);
  const uint64_t big = NodeId(fs, "/big");
  std::vector<ParsedDirent> all;
  {
    RawDir a(fs.kernel(), big);
    all = a.ReadAll(0, 1024);
  }
  ASSERT_EQ(all.size(), 302u);
  for (size_t k = 1; k < all.size(); ++k) EXPECT_GT(all[k].off, all[k - 1].off);
  {
    RawDir b(fs.kernel(), big);
    std::vector<ParsedDirent> rest = b.Read(all[150].off, 1024);
    ASSERT_FALSE(rest.empty());
    EXPECT_EQ(rest.front().name, all[151].name);
  }
  ASSERT_THAT(fs.vfs().Unlink(absl::StrCat("/big/", all[150].name)), IsOk());
  ASSERT_THAT(fs.vfs().WriteFile("/big/aaa-newest", ""), IsOk());
  RawDir c(fs.kernel(), big);
  std::vector<ParsedDirent> rest = c.ReadAll(all[150].off, 1024);
  ASSERT_EQ(rest.size(), 151u + 1u);  // the 151 after it, then the new one
  EXPECT_EQ(rest.front().name, all[151].name);
  EXPECT_EQ(rest.back().name, "aaa-newest");
}

// --- Listings without handles (NO_OPENDIR) ---------------------------------------------------

// A MemDir whose directories need no handle: Opendir answers ENOSYS.
class HandlelessDir : public MemDir {
 public:
  explicit HandlelessDir(std::atomic<int>* opendirs) : opendirs_(opendirs) {}
  Errno Opendir(const Context&, OpenOut*) override {
    ++*opendirs_;
    return Errno(ENOSYS);
  }

 private:
  std::atomic<int>* opendirs_;
};

struct HandlelessTree {
  explicit HandlelessTree(FakeKernelOptions kernel_options = {})
      : fs(std::make_unique<HandlelessDir>(&opendirs), {}, kernel_options) {
    big = AddChild(fs.root(), "big", std::make_unique<HandlelessDir>(&opendirs),
                   {.mode = S_IFDIR});
    for (int i = 0; i < 1000; ++i) AddFile(big, absl::StrFormat("f%03d", i));
  }
  // One READDIR with fh 0, as the kernel sends them after NO_OPENDIR.
  std::vector<ParsedDirent> Read(uint64_t offset, uint32_t size = 2048) {
    FuseReply r =
        fs.kernel().Call(FuseRequest::Readdir(big->node_id(), 0, offset, size, false));
    EXPECT_THAT(r.error(), IsOk());
    std::vector<std::string> problems;
    return ParseDirents(r.body, false, &problems);
  }
  std::atomic<int> opendirs{0};
  NodefsFakeKernel fs;
  Inode* big = nullptr;
};

// After the first ENOSYS the kernel sends no OPENDIR (nor RELEASEDIR) and
// lists with fh 0: every listing lists every name once.
TEST(NodefsTest, HandlelessListingsListEveryNameOnce) {
  HandlelessTree t;
  ASSERT_TRUE(t.fs.kernel().connection().Has(abi::kInitNoOpendirSupport));
  for (int pass = 0; pass < 2; ++pass) {
    Result<std::vector<DirEntry>> listing =
        t.fs.vfs().Readdir("/big", {.mode = ReaddirMode::kPlain, .request_size = 1024});
    ASSERT_THAT(listing, IsOk());
    std::set<std::string> names;
    for (const DirEntry& e : *listing) names.insert(e.name);
    EXPECT_EQ(listing->size(), 1002u);
    EXPECT_EQ(names.size(), 1002u);
  }
  EXPECT_EQ(t.opendirs.load(), 1);  // the kernel stopped asking
}

// Each READDIR starts from its offset alone: getdents(2) taking only part
// of a reply, a listing cached by the kernel and resumed after it went
// stale, and a seekdir all land exactly, while names come and go.
TEST(NodefsTest, HandlelessListingResumesExactlyWhileNamesComeAndGo) {
  HandlelessTree t;
  ASSERT_THAT(t.fs.vfs().Readdir("/big"), IsOk());  // the ENOSYS: no opendir from now on
  std::map<std::string, int> seen;
  std::vector<ParsedDirent> taken;
  uint64_t offset = 0;
  for (int step = 0;; ++step) {
    std::vector<ParsedDirent> part = t.Read(offset);
    if (part.empty()) break;
    const size_t take = std::min<size_t>(part.size(), 7);  // the rest did not fit
    for (size_t k = 0; k < take; ++k) {
      seen[part[k].name]++;
      taken.push_back(part[k]);
    }
    offset = part[take - 1].off;
    // Between two getdents: a name already listed goes, a new one comes.
    if (step < 50) {
      ASSERT_THAT(t.fs.vfs().Unlink(absl::StrFormat("/big/f%03d", step)), IsOk());
      ASSERT_THAT(t.fs.vfs().WriteFile(absl::StrFormat("/big/a%03d", step), ""), IsOk());
    }
  }
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(seen[absl::StrFormat("f%03d", i)], 1) << i;
  for (int i = 0; i < 50; ++i) EXPECT_EQ(seen[absl::StrFormat("a%03d", i)], 1) << i;
  // seekdir back to a taken entry: the entries after it, as listed then,
  // less those removed since.
  std::vector<ParsedDirent> back = t.Read(taken[500].off);
  ASSERT_FALSE(back.empty());
  EXPECT_EQ(back.front().name, taken[501].name);
  EXPECT_EQ(back.front().off, taken[501].off);
}

// A kernel without NO_OPENDIR support gets a handle-less open instead.
TEST(NodefsTest, OpendirEnosysWithoutKernelSupportOpensWithoutAHandle) {
  FakeKernelOptions kernel_options;
  kernel_options.init_flags &= ~abi::kInitNoOpendirSupport;
  HandlelessTree t(kernel_options);
  for (int pass = 0; pass < 2; ++pass) {
    FuseReply r = t.fs.kernel().Call(FuseRequest::Open(t.big->node_id(), O_RDONLY, true));
    ASSERT_THAT(r.error(), IsOk());
    EXPECT_THAT(t.fs.kernel()
                    .Call(FuseRequest::Release(t.big->node_id(),
                                               r.As<abi::fuse_open_out>().fh, O_RDONLY, true))
                    .error(),
                IsOk());
    Result<std::vector<DirEntry>> listing = t.fs.vfs().Readdir("/big");
    ASSERT_THAT(listing, IsOk());
    EXPECT_EQ(listing->size(), 1002u);
  }
  EXPECT_EQ(t.opendirs.load(), 4);
}

// --- FORGET storms --------------------------------------------------------------------------

TEST(NodefsTest, ForgetStormGivesEveryCountBack) {
  Counters counters;
  FakeKernelOptions kernel_options;
  kernel_options.check_readdir_offsets = false;  // one READDIRPLUS pass
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  constexpr int kFiles = 2000;
  for (int i = 0; i < kFiles; ++i) {
    AddChild(fs.root(), absl::StrCat("f", i), std::make_unique<CountingFile>(&counters));
  }
  // Every name looked up by READDIRPLUS (a few large replies; one path walk
  // per name costs the fake kernel's model O(nodes) each), a tenth of them
  // again by LOOKUP: counts of 1 and 2.
  Result<std::vector<DirEntry>> listing =
      fs.vfs().Readdir("/", {.mode = ReaddirMode::kPlus, .request_size = 64 * 1024});
  ASSERT_THAT(listing, IsOk());
  ASSERT_THAT(*listing, SizeIs(kFiles + 2));
  fs.kernel().clock().Advance(absl::Seconds(2));
  for (int i = 0; i < kFiles; i += 10) {
    ASSERT_THAT(fs.vfs().Stat(absl::StrCat("/f", i)), IsOk());
  }
  EXPECT_EQ(fs.kernel().cached_nodes(), static_cast<size_t>(kFiles));
  EXPECT_EQ(fs.root()->GetChild("f10")->lookup_count(), 2u);
  EXPECT_EQ(fs.root()->GetChild("f11")->lookup_count(), 1u);
  fs.kernel().ExpectLookupCountsMatch();

  fs.kernel().DropCaches();  // BATCH_FORGETs of up to 504 nodes each
  Barrier(fs);
  EXPECT_THAT(fs.kernel().Trace(), HasSubstr("BATCH_FORGET"));
  EXPECT_EQ(fs.kernel().cached_nodes(), 0u);
  for (const auto& [id, count] : fs.bridge().LookupCounts()) EXPECT_EQ(count, 0u) << id;
  fs.kernel().ExpectLookupCountsMatch();
  // Still in the tree, so still alive; once out of it, released.
  EXPECT_EQ(fs.bridge().InodeCount(), kFiles + 1u);
  EXPECT_EQ(counters.forgets, 0);
  for (int i = 0; i < kFiles; ++i) ASSERT_TRUE(fs.root()->RmChild(absl::StrCat("f", i)));
  EXPECT_EQ(fs.bridge().InodeCount(), 1u);
  EXPECT_EQ(counters.forgets, kFiles);
}

TEST(NodefsTest, CacheLimitEvictsWhileCreating) {
  FakeKernelOptions kernel_options;
  kernel_options.cache_limit = 50;
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  constexpr int kFiles = 400;
  for (int i = 0; i < kFiles; ++i) {
    ASSERT_THAT(fs.vfs().WriteFile(absl::StrCat("/f", i), absl::StrCat(i)), IsOk());
    ASSERT_LE(fs.kernel().cached_nodes(), 51u);
  }
  fs.kernel().ExpectLookupCountsMatch();
  size_t counted = 0;
  for (const auto& [id, count] : fs.bridge().LookupCounts()) counted += count > 0;
  EXPECT_LE(counted, 51u);
  EXPECT_EQ(fs.bridge().InodeCount(), kFiles + 1u);  // all still in the tree
  EXPECT_THAT(fs.vfs().ReadFile("/f0"), IsOkAndHolds("0"));
  EXPECT_THAT(fs.vfs().ListDir("/"), IsOkAndHolds(SizeIs(kFiles)));
}

TEST(NodefsTest, DynamicForgetStormReleasesEveryNode) {
  Counters counters;
  FakeKernelOptions kernel_options;
  kernel_options.cache_limit = 100;
  NodefsFakeKernel fs(std::make_unique<DynamicDir>(&counters), {}, kernel_options);
  constexpr int kNames = 2000;
  for (int i = 0; i < kNames; ++i) ASSERT_THAT(fs.vfs().Stat(absl::StrCat("/p", i)), IsOk());
  fs.kernel().ExpectLookupCountsMatch();
  EXPECT_LE(fs.bridge().InodeCount(), 102u);  // only what the kernel holds
  fs.kernel().DropCaches();
  Barrier(fs);
  EXPECT_EQ(fs.bridge().InodeCount(), 1u);
  EXPECT_EQ(counters.forgets, kNames);
  EXPECT_EQ(counters.destroyed, kNames);
}

// --- The audit this file relies on ----------------------------------------------------------

TEST(NodefsTest, TeardownAuditCatchesCountsThatDiffer) {
  FakeKernelOptions kernel_options;
  kernel_options.audit_settle_time = absl::Milliseconds(50);
  auto fs =
      std::make_unique<NodefsFakeKernel>(std::make_unique<MemDir>(), Options(), kernel_options);
  Inode* file = AddFile(fs->root(), "f");
  ASSERT_THAT(fs->vfs().Stat("/f"), IsOk());
  // The bridge loses a count behind the kernel's back.
  fs->bridge().Forget(RequestContext{}, file->node_id(), 1);
  EXPECT_NONFATAL_FAILURE(fs.reset(), "kernel holds 1, filesystem counts 0");
}

// --- Notifications, callers, interrupts -------------------------------------------------

// Drops the kernel's dentry from inside its own Unlink.
class NotifyingDir : public MemDir {
 public:
  Errno Unlink(const Context& ctx, absl::string_view name) override {
    Errno e = MemDir::Unlink(ctx, name);
    if (e.ok()) notify_result = inode()->NotifyEntry(name).value();
    return e;
  }
  std::atomic<int> notify_result{EIO};
};

TEST(NodefsTest, NotifyEntryInsideUnlinkArrivesAfterTheReply) {
  auto node = std::make_unique<NotifyingDir>();
  NotifyingDir* root = node.get();
  NodefsFakeKernel fs(std::move(node));
  ASSERT_THAT(fs.vfs().WriteFile("/a", "x"), IsOk());
  ASSERT_THAT(fs.vfs().Unlink("/a"), IsOk());       // would hang if sent inside
  EXPECT_THAT(Errno(root->notify_result), IsOk());  // queued
  ASSERT_TRUE(fs.kernel().WaitForNotifications(1));
  std::vector<ReceivedNotification> got = fs.kernel().TakeNotifications();
  ASSERT_THAT(got, SizeIs(1));
  EXPECT_EQ(got[0].code, abi::NotifyCode::kInvalEntry);
  EXPECT_EQ(got[0].name(), "a");
  EXPECT_EQ(got[0].As<abi::fuse_notify_inval_entry_out>().parent, abi::kRootId);
  // On the wire: the UNLINK reply first, then the notification.
  std::string trace = fs.kernel().Trace();
  size_t reply = trace.find("<- UNLINK");
  size_t notify = trace.find("<- NOTIFY INVAL_ENTRY");
  ASSERT_NE(reply, std::string::npos) << trace;
  ASSERT_NE(notify, std::string::npos) << trace;
  EXPECT_LT(reply, notify) << trace;
  // From outside a handler it is sent at once.
  ASSERT_THAT(fs.vfs().Stat("/"), IsOk());
  EXPECT_THAT(fs.root()->NotifyEntry("b"), IsOk());
}

// Records who asked.
class CallerProbe : public MemDir {
 public:
  Errno Lookup(const Context& ctx, absl::string_view name, EntryOut* out, Inode** child) override {
    Record(ctx);
    return MemDir::Lookup(ctx, name, out, child);
  }
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override {
    Record(ctx);
    return MemDir::Getattr(ctx, fh, out);
  }
  void Record(const Context& ctx) {
    MutexLock lock(&probe_mu_);
    seen_ = {ctx.uid(), ctx.gid(), ctx.pid()};
  }
  Caller seen() {
    MutexLock lock(&probe_mu_);
    return seen_;
  }

 private:
  Mutex probe_mu_;
  Caller seen_ ABSL_GUARDED_BY(probe_mu_);
};

TEST(NodefsTest, ContextCarriesTheCaller) {
  FakeKernelOptions kernel_options;
  kernel_options.caller = {1234, 5678, 4242};
  auto node = std::make_unique<CallerProbe>();
  CallerProbe* root = node.get();
  NodefsFakeKernel fs(std::move(node), {}, kernel_options);
  EXPECT_THAT(fs.vfs().Stat("/missing"), FailsWith(ENOENT));
  EXPECT_EQ(root->seen().uid, 1234u);
  EXPECT_EQ(root->seen().gid, 5678u);
  EXPECT_EQ(root->seen().pid, 4242u);
  // MemDir gives new entries to the caller.
  ASSERT_THAT(fs.vfs().Mkdir("/d", 0755), IsOk());
  Result<struct stat> st = fs.vfs().Stat("/d");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_uid, 1234u);
  EXPECT_EQ(st->st_gid, 5678u);
  // Per request.
  FuseRequest getattr = FuseRequest::Getattr(abi::kRootId);
  getattr.caller = Caller{7, 8, 9};
  ASSERT_THAT(fs.kernel().Call(getattr).error(), IsOk());
  EXPECT_EQ(root->seen().uid, 7u);
  EXPECT_EQ(root->seen().gid, 8u);
  EXPECT_EQ(root->seen().pid, 9u);
}

// A file whose read waits until the request is interrupted.
class SlowFile : public Node {
 public:
  Errno Read(const Context& ctx, FileHandle*, uint64_t, ReadResult*) override {
    reading.Notify();
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!ctx.Interrupted() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    saw_interrupt = ctx.Interrupted();
    return Errno(EINTR);
  }
  absl::Notification reading;
  std::atomic<bool> saw_interrupt{false};
};

TEST(NodefsTest, InterruptIsVisibleToTheNode) {
  FakeKernelOptions kernel_options;
  kernel_options.server.workers = 2;  // one blocks in READ, one reads the INTERRUPT
  NodefsFakeKernel fs(std::make_unique<MemDir>(), {}, kernel_options);
  auto node = std::make_unique<SlowFile>();
  SlowFile* slow = node.get();
  AddChild(fs.root(), "slow", std::move(node));
  Result<int> fd = fs.vfs().Open("/slow", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = fs.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  FakeKernel::Ticket t = fs.kernel().Start(FuseRequest::Read(file->nodeid, file->fh, 0, 4096));
  ASSERT_TRUE(slow->reading.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(slow->saw_interrupt);
  fs.kernel().Interrupt(t);
  EXPECT_THAT(fs.kernel().Await(t).error(), FailsWith(EINTR));
  EXPECT_TRUE(slow->saw_interrupt);
  EXPECT_THAT(fs.vfs().Close(*fd), IsOk());
}

}  // namespace
}  // namespace fusekit
