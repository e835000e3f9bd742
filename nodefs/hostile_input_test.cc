// Regression tests for what fuzz/tree_fuzzer.cc found in the bridge and in
// memfs's nodes, over the raw wire (requests the kernel itself would not
// send, but a peer may): each test names the input it stands for in
// fuzz/corpus/tree/.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fuse/kernel_abi.h"
#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"

namespace fusekit {
namespace {

using abi::Opcode;

// A directory whose creating methods misbehave: CREATE hands back the
// existing entry "l" whatever it is; MKDIR hands back the directory itself.
class MisbehavingDir : public MemDir {
 public:
  Errno Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
               EntryOut* entry, Inode** child, OpenOut* open) override {
    if (Inode* l = inode()->GetChild("l")) {
      *child = l;
      return kOk;
    }
    return MemDir::Create(ctx, name, flags, mode, entry, child, open);
  }
  Errno Mkdir(const Context&, absl::string_view, uint32_t, EntryOut*, Inode** child) override {
    *child = inode();
    return kOk;
  }
};

class HostileInputTest : public ::testing::Test {
 protected:
  explicit HostileInputTest(std::unique_ptr<Node> root = std::make_unique<MemDir>())
      : bridge_(std::move(root), Options()) {
    ServerOptions options = ServerOptionsFor(Options());
    options.workers = 1;  // requests run in order
    peer_ = std::make_unique<WirePeer>(&bridge_, options);
    auto init = peer_->Init();
    EXPECT_TRUE(init.has_value() && init->error() == 0);
  }

  std::optional<WireReply> Call(RequestBuilder& request) { return peer_->Call(request.Build()); }
  uint64_t U() { return peer_->NextUnique(); }

  // An entry-creating request's node id (0 on error; `error` gets it).
  uint64_t Entry(RequestBuilder request, int* error = nullptr) {
    auto reply = Call(request);
    int e = reply ? reply->error() : -1;
    if (error != nullptr) *error = e;
    return e == 0 ? reply->As<abi::fuse_entry_out>().nodeid : 0;
  }
  RequestBuilder Create(absl::string_view name, uint32_t flags = O_CREAT | O_RDWR) {
    abi::fuse_create_in in{};
    in.flags = flags;
    in.mode = S_IFREG | 0644;
    return std::move(RequestBuilder(Opcode::kCreate, U()).Arg(in).Name(name));
  }
  // FORGET has no reply: a GETATTR after it (one worker) says it was handled.
  void Forget(uint64_t nodeid, uint64_t n) {
    peer_->Send(RequestBuilder(Opcode::kForget, U(), nodeid).Arg(abi::fuse_forget_in{n}).Build());
    auto sync = peer_->Call(
        RequestBuilder(Opcode::kGetattr, U()).Arg(abi::fuse_getattr_in{}).Build());
    ASSERT_TRUE(sync.has_value());
  }
  uint64_t Count(uint64_t nodeid) {
    std::shared_ptr<Inode> inode = bridge_.FindInode(nodeid);
    return inode ? inode->lookup_count() : 0;
  }
  // Pins of the request just answered are dropped a moment after the reply.
  bool Freed(uint64_t nodeid) {
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (bridge_.FindInode(nodeid) != nullptr) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(1));
    }
    return true;
  }

  Bridge bridge_;
  std::unique_ptr<WirePeer> peer_;
};

// regression-forget-nlookup-2to63: FORGET's nlookup is a u64 from the wire;
// 2^63 and above overflowed when negated (UBSan).
TEST_F(HostileInputTest, ForgetOfHugeCountsClamps) {
  abi::fuse_mkdir_in in{0755, 0};
  uint64_t d = Entry(std::move(RequestBuilder(Opcode::kMkdir, U()).Arg(in).Name("d")));
  ASSERT_NE(d, 0u);
  EXPECT_EQ(Entry(std::move(RequestBuilder(Opcode::kLookup, U()).Name("d"))), d);
  EXPECT_EQ(Count(d), 2u);
  Forget(d, uint64_t{1} << 63);
  EXPECT_EQ(Count(d), 0u);
  EXPECT_NE(bridge_.FindInode(d), nullptr);  // still in the tree
  EXPECT_EQ(Entry(std::move(RequestBuilder(Opcode::kLookup, U()).Name("d"))), d);
  Forget(d, ~uint64_t{0});
  EXPECT_EQ(Count(d), 0u);
  // A file the tree no longer holds is freed by a huge FORGET, as by an
  // exact one.
  abi::fuse_create_in cin{};
  cin.flags = O_CREAT | O_RDWR;
  cin.mode = S_IFREG | 0644;
  auto created = peer_->Call(RequestBuilder(Opcode::kCreate, U()).Arg(cin).Name("f").Build());
  ASSERT_TRUE(created.has_value() && created->error() == 0);
  uint64_t f = created->As<abi::fuse_entry_out>().nodeid;
  abi::fuse_release_in rel{};
  std::memcpy(&rel.fh, created->body.data() + sizeof(abi::fuse_entry_out), sizeof(rel.fh));
  ASSERT_EQ(peer_->Call(RequestBuilder(Opcode::kRelease, U(), f).Arg(rel).Build())->error(), 0);
  ASSERT_EQ(peer_->Call(RequestBuilder(Opcode::kUnlink, U()).Name("f").Build())->error(), 0);
  Forget(f, (uint64_t{1} << 63) + 5);
  EXPECT_TRUE(Freed(f));
}

// regression-create-over-symlink: CREATE of a name that meanwhile became a
// symlink (or fifo) opened that node and answered with it; the kernel takes
// only a regular file from CREATE (EIO otherwise) and would keep the lookup
// and the open forever. EEXIST makes it look the name up again.
TEST_F(HostileInputTest, CreateOverNonRegularIsExists) {
  uint64_t l = Entry(std::move(RequestBuilder(Opcode::kSymlink, U()).Name("l").Name("target")));
  ASSERT_NE(l, 0u);
  abi::fuse_mknod_in fifo{};
  fifo.mode = S_IFIFO | 0644;
  uint64_t p = Entry(std::move(RequestBuilder(Opcode::kMknod, U()).Arg(fifo).Name("p")));
  ASSERT_NE(p, 0u);
  abi::fuse_mkdir_in dir{0755, 0};
  ASSERT_NE(Entry(std::move(RequestBuilder(Opcode::kMkdir, U()).Arg(dir).Name("d"))), 0u);
  int error = 0;
  EXPECT_EQ(Entry(Create("l"), &error), 0u);
  EXPECT_EQ(error, EEXIST);
  EXPECT_EQ(Entry(Create("p", O_CREAT | O_WRONLY | O_TRUNC), &error), 0u);
  EXPECT_EQ(error, EEXIST);
  EXPECT_EQ(Entry(Create("d"), &error), 0u);
  EXPECT_EQ(error, EISDIR);
  EXPECT_EQ(Count(l), 1u);
  EXPECT_EQ(Count(p), 1u);
  // A regular file that exists is opened, as before.
  uint64_t f = Entry(Create("f"));
  ASSERT_NE(f, 0u);
  EXPECT_EQ(Entry(Create("f")), f);
  EXPECT_EQ(Count(f), 2u);
}

class MisbehavingNodeTest : public HostileInputTest {
 protected:
  MisbehavingNodeTest() : HostileInputTest(std::make_unique<MisbehavingDir>()) {}
};

// The bridge's own guard, for nodes other than memfs's: a CREATE answered
// with a node that is not a regular file is EIO, not counted, not open.
TEST_F(MisbehavingNodeTest, CreateOfNonRegularNodeIsRefused) {
  uint64_t l = Entry(std::move(RequestBuilder(Opcode::kSymlink, U()).Name("l").Name("target")));
  ASSERT_NE(l, 0u);
  int error = 0;
  EXPECT_EQ(Entry(Create("x"), &error), 0u);
  EXPECT_EQ(error, EIO);
  EXPECT_EQ(Count(l), 1u);
  EXPECT_EQ(bridge_.root()->GetChild("x"), nullptr);
}

// regression-mkdir-dot's sibling: a creating method whose child the tree
// cannot hold (here the directory itself) is EIO, not an entry nothing backs.
TEST_F(MisbehavingNodeTest, ChildTheTreeCannotHoldIsRefused) {
  abi::fuse_mkdir_in in{0755, 0};
  int error = 0;
  EXPECT_EQ(Entry(std::move(RequestBuilder(Opcode::kMkdir, U()).Arg(in).Name("self")), &error), 0u);
  EXPECT_EQ(error, EIO);
  EXPECT_EQ(bridge_.root()->GetChild("self"), nullptr);
  EXPECT_EQ(bridge_.InodeCount(), 1u);
}

}  // namespace
}  // namespace fusekit
