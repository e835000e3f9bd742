// When the kernel no longer waits for a reply (the write fails with ENOENT:
// the request was abandoned), the lookups that reply would have counted must
// be taken back. The channel's writer is replaced to refuse chosen replies.
#include <fcntl.h>
#include <sys/uio.h>

#include <atomic>
#include <cstring>

#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"

namespace fusekit {
namespace {

class RollbackTest : public ::testing::Test {
 protected:
  RollbackTest() : bridge_(std::make_unique<MemDir>(), Options()) {
    ServerOptions options = ServerOptionsFor(Options());
    options.workers = 1;
    options.writer = [this](int fd, const struct iovec* iov, int count) -> Errno {
      abi::fuse_out_header h;
      std::memcpy(&h, iov[0].iov_base, sizeof(h));
      if (h.unique != 0 && h.unique == refuse_unique_.load()) return Errno(ENOENT);
      return ::writev(fd, iov, count) < 0 ? Errno::Last() : kOk;
    };
    peer_ = std::make_unique<WirePeer>(&bridge_, options);
    auto init = peer_->Init();
    EXPECT_TRUE(init.has_value());
  }

  uint64_t Mkdir(const std::string& name) {
    abi::fuse_mkdir_in in{};
    in.mode = 0755;
    auto reply = peer_->Call(
        RequestBuilder(abi::Opcode::kMkdir, peer_->NextUnique()).Arg(in).Name(name).Build());
    EXPECT_TRUE(reply.has_value() && reply->error() == 0);
    return reply ? reply->As<abi::fuse_entry_out>().nodeid : 0;
  }

  // Sends a request whose reply the "kernel" refuses, then a GETATTR to be
  // sure the first one was handled (one worker: in order).
  void SendRefused(RequestBuilder request, uint64_t unique) {
    refuse_unique_ = unique;
    peer_->Send(request.Build());
    auto sync = peer_->Call(RequestBuilder(abi::Opcode::kGetattr, peer_->NextUnique())
                                .Arg(abi::fuse_getattr_in{})
                                .Build());
    ASSERT_TRUE(sync.has_value());
    EXPECT_EQ(sync->header.unique, peer_->NextUnique() - 2);  // not the refused one
  }

  uint64_t Count(uint64_t nodeid) {
    std::shared_ptr<Inode> inode = bridge_.FindInode(nodeid);
    return inode ? inode->lookup_count() : 0;
  }

  Bridge bridge_;
  std::atomic<uint64_t> refuse_unique_{0};
  std::unique_ptr<WirePeer> peer_;
};

TEST_F(RollbackTest, RefusedLookupIsNotCounted) {
  uint64_t d = Mkdir("d");
  ASSERT_NE(d, 0u);
  EXPECT_EQ(Count(d), 1u);
  uint64_t unique = peer_->NextUnique();
  SendRefused(RequestBuilder(abi::Opcode::kLookup, unique).Name("d"), unique);
  EXPECT_EQ(Count(d), 1u);  // without the rollback: 2, a leak
  // A lookup the kernel takes still counts.
  auto reply = peer_->Call(RequestBuilder(abi::Opcode::kLookup, peer_->NextUnique()).Name("d").Build());
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(Count(d), 2u);
}

TEST_F(RollbackTest, RefusedMkdirLeavesNoCount) {
  uint64_t unique = peer_->NextUnique();
  abi::fuse_mkdir_in in{};
  in.mode = 0755;
  SendRefused(RequestBuilder(abi::Opcode::kMkdir, unique).Arg(in).Name("e"), unique);
  Inode* e = bridge_.root()->GetChild("e");
  ASSERT_NE(e, nullptr);  // the directory was made: only the reply was lost
  EXPECT_EQ(e->lookup_count(), 0u);
}

TEST_F(RollbackTest, RefusedCreateClosesItsHandle) {
  uint64_t unique = peer_->NextUnique();
  abi::fuse_create_in in{};
  in.flags = O_RDWR | O_CREAT;
  in.mode = S_IFREG | 0644;
  SendRefused(RequestBuilder(abi::Opcode::kCreate, unique).Arg(in).Name("f"), unique);
  Inode* f = bridge_.root()->GetChild("f");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->lookup_count(), 0u);
  // The handle the kernel never saw is gone: unlinking and forgetting the
  // file frees it (an open count left behind would keep it alive).
  uint64_t id = f->node_id();
  bridge_.root()->RmChild("f");
  // The worker may still pin it for a moment: the sync GETATTR of the root
  // listed the root's children and drops those pins after its reply.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (bridge_.FindInode(id) != nullptr && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(bridge_.FindInode(id), nullptr);
}

TEST_F(RollbackTest, RefusedReaddirplusTakesBackEveryEntry) {
  uint64_t a = Mkdir("a");
  uint64_t b = Mkdir("b");
  abi::fuse_open_in open_in{};
  auto opened = peer_->Call(
      RequestBuilder(abi::Opcode::kOpendir, peer_->NextUnique()).Arg(open_in).Build());
  ASSERT_TRUE(opened.has_value());
  uint64_t fh = opened->As<abi::fuse_open_out>().fh;
  abi::fuse_read_in read_in{};
  read_in.fh = fh;
  read_in.size = 4096;
  uint64_t unique = peer_->NextUnique();
  SendRefused(RequestBuilder(abi::Opcode::kReaddirplus, unique).Arg(read_in), unique);
  EXPECT_EQ(Count(a), 1u);
  EXPECT_EQ(Count(b), 1u);
  // Accepted, each entry counts once more.
  auto listed = peer_->Call(
      RequestBuilder(abi::Opcode::kReaddirplus, peer_->NextUnique()).Arg(read_in).Build());
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(Count(a), 2u);
  EXPECT_EQ(Count(b), 2u);
}

}  // namespace
}  // namespace fusekit
