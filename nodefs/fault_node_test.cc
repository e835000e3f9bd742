// FaultNode and FaultPlan through the fake kernel: each kind of rule (an
// errno for one node, by name, skip and times, held calls released or
// interrupted) reaches the caller as planned and leaves other nodes alone.
#include "nodefs/fault_node.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "fuse/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/fake_kernel.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit {
namespace {

using FaultyFile = FaultNode<MemFile>;
using FaultyDir = FaultNode<MemDir>;

// A generous bound on waits for events that happen at once when all is well.
constexpr absl::Duration kBound = absl::Seconds(30);

class FaultNodeTest : public ::testing::Test {
 protected:
  FaultNodeTest() : fs_(NewRoot(), {}, TwoWorkers()) {
    for (const char* name : {"a", "b"}) {
      Inode* child = fs_.root()->NewInode(
          std::make_unique<FaultyFile>(plan_, S_IFREG | 0644, 0, 0), {.mode = S_IFREG});
      EXPECT_TRUE(fs_.root()->AddChild(name, child, /*overwrite=*/false));
    }
    Put("/a", "alpha");
    Put("/b", "bravo");
  }

  std::unique_ptr<Node> NewRoot() { return std::make_unique<FaultyDir>(plan_); }
  // One worker may hold a call while the other serves the rest (and reads
  // the INTERRUPT).
  static FakeKernelOptions TwoWorkers() {
    FakeKernelOptions options;
    options.server.workers = 2;
    return options;
  }

  void Put(const std::string& path, const std::string& data) {
    Result<int> fd = fs_.vfs().Open(path, O_WRONLY | O_TRUNC, 0);
    ASSERT_THAT(fd, IsOk());
    ASSERT_THAT(fs_.vfs().Write(*fd, data, 0), IsOk());
    ASSERT_THAT(fs_.vfs().Close(*fd), IsOk());
  }
  Result<std::string> Get(const std::string& path) {
    Result<int> fd = fs_.vfs().Open(path, O_RDONLY, 0);
    if (!fd.ok()) return fd.error();
    Result<std::string> data = fs_.vfs().Read(*fd, 100, 0);
    EXPECT_THAT(fs_.vfs().Close(*fd), IsOk());
    return data;
  }
  uint64_t Ino(const std::string& path) {
    Result<struct stat> st = fs_.vfs().Stat(path);
    EXPECT_THAT(st, IsOk());
    return st.ok() ? st->st_ino : 0;
  }

  std::shared_ptr<FaultPlan> plan_ = std::make_shared<FaultPlan>();
  NodefsFakeKernel fs_;
};

TEST_F(FaultNodeTest, ErrnoForOneNodeOnly) {
  int id = plan_->Add({.ops = FaultOp::kRead, .ino = Ino("/a"), .error = Errno(EIO)});
  EXPECT_THAT(Get("/a"), FailsWith(EIO));
  EXPECT_THAT(Get("/b"), IsOkAndHolds(std::string("bravo")));
  // Other operations of the same node are untouched.
  EXPECT_THAT(fs_.vfs().Stat("/a"), IsOk());
  Put("/a", "again");
  EXPECT_EQ(plan_->hits(id), 1);
  plan_->Remove(id);
  EXPECT_THAT(Get("/a"), IsOkAndHolds(std::string("again")));
}

TEST_F(FaultNodeTest, SkipAndTimes) {
  int id = plan_->Add(
      {.ops = FaultOp::kRead | FaultOp::kWrite, .error = Errno(ENOSPC), .skip = 1, .times = 2});
  EXPECT_THAT(Get("/a"), IsOkAndHolds(std::string("alpha")));  // skipped
  EXPECT_THAT(Get("/a"), FailsWith(ENOSPC));
  Result<int> fd = fs_.vfs().Open("/b", O_WRONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(fs_.vfs().Write(*fd, "x", 0), FailsWith(ENOSPC));
  EXPECT_THAT(fs_.vfs().Write(*fd, "x", 0), IsOk());  // spent
  EXPECT_THAT(fs_.vfs().Close(*fd), IsOk());
  EXPECT_EQ(plan_->hits(id), 2);
}

TEST_F(FaultNodeTest, ByName) {
  plan_->Add({.ops = FaultOp::kCreate | FaultOp::kMkdir | FaultOp::kLookup,
              .name = "cursed",
              .error = Errno(EACCES)});
  EXPECT_THAT(fs_.vfs().Open("/cursed", O_CREAT | O_WRONLY, 0644), FailsWith(EACCES));
  EXPECT_THAT(fs_.vfs().Mkdir("/cursed", 0755), FailsWith(EACCES));
  EXPECT_THAT(fs_.vfs().Mkdir("/blessed", 0755), IsOk());
  EXPECT_EQ(fs_.root()->GetChild("cursed"), nullptr);
}

TEST_F(FaultNodeTest, HeldCallGoesOnWhenReleased) {
  int gate = plan_->Add({.ops = FaultOp::kRead, .ino = Ino("/a"), .error = kOk, .block = true});
  Result<int> fd = fs_.vfs().Open("/a", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = fs_.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  FakeKernel::Ticket t = fs_.kernel().Start(FuseRequest::Read(file->nodeid, file->fh, 0, 100));
  ASSERT_TRUE(plan_->WaitForBlocked(gate, 1, kBound));
  // The other worker serves the rest meanwhile.
  EXPECT_THAT(Get("/b"), IsOkAndHolds(std::string("bravo")));
  plan_->Release(gate);
  FuseReply reply = fs_.kernel().Await(t);
  EXPECT_THAT(reply.error(), IsOk());
  EXPECT_EQ(reply.body, "alpha");
  EXPECT_EQ(plan_->blocked(gate), 0);
  EXPECT_THAT(fs_.vfs().Close(*fd), IsOk());
}

TEST_F(FaultNodeTest, HeldCallEndsWithEintrWhenInterrupted) {
  int gate = plan_->Add({.ops = FaultOp::kRead, .error = kOk, .block = true});
  Result<int> fd = fs_.vfs().Open("/a", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = fs_.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  FakeKernel::Ticket t = fs_.kernel().Start(FuseRequest::Read(file->nodeid, file->fh, 0, 100));
  ASSERT_TRUE(plan_->WaitForBlocked(gate, 1, kBound));
  fs_.kernel().Interrupt(t);
  EXPECT_THAT(fs_.kernel().Await(t).error(), FailsWith(EINTR));
  EXPECT_EQ(plan_->blocked(gate), 0);
  EXPECT_THAT(fs_.vfs().Close(*fd), IsOk());
}

TEST_F(FaultNodeTest, DeafCallWaitsForReleaseDespiteInterrupt) {
  int gate = plan_->Add(
      {.ops = FaultOp::kRead, .ino = Ino("/a"), .error = Errno(EIO), .block = true,
       .honour_interrupts = false});
  Result<int> fd = fs_.vfs().Open("/a", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = fs_.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  FakeKernel::Ticket t = fs_.kernel().Start(FuseRequest::Read(file->nodeid, file->fh, 0, 100));
  ASSERT_TRUE(plan_->WaitForBlocked(gate, 1, kBound));
  fs_.kernel().Interrupt(t);
  // Still held: a request served after the INTERRUPT finds it waiting.
  EXPECT_THAT(Get("/b"), IsOkAndHolds(std::string("bravo")));
  EXPECT_EQ(plan_->blocked(gate), 1);
  plan_->Release(gate);
  EXPECT_THAT(fs_.kernel().Await(t).error(), FailsWith(EIO));  // the rule's error
  EXPECT_THAT(fs_.vfs().Close(*fd), IsOk());
}

TEST_F(FaultNodeTest, ClearLetsEverythingThrough) {
  plan_->Add({.error = Errno(EIO)});
  EXPECT_THAT(fs_.vfs().Mkdir("/d", 0755), FailsWith(EIO));
  plan_->Clear();
  EXPECT_THAT(fs_.vfs().Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(Get("/b"), IsOkAndHolds(std::string("bravo")));
}

// Regression (fuse/server.cc): Stop() while the only worker is inside a
// handler that waits for an event (here a held read that honours the end of
// the connection; memfs's F_SETLKW waits the same way). No worker was left
// to read the end of the connection, so nobody told the handler and Wait()
// hung; Stop() now tells it.
TEST(FaultNodeStopTest, StopEndsAHeldCallOnTheOnlyWorker) {
  auto plan = std::make_shared<FaultPlan>();
  // One worker. Ending the connection with a request unanswered is what
  // this test does: the fake kernel notes it instead of failing.
  FakeKernelOptions kernel_options;
  kernel_options.fail_on_violation = false;
  NodefsFakeKernel fs(std::make_unique<FaultyDir>(plan), {}, kernel_options);
  Inode* child = fs.root()->NewInode(std::make_unique<FaultyFile>(plan, S_IFREG | 0644, 0, 0),
                                     {.mode = S_IFREG});
  ASSERT_TRUE(fs.root()->AddChild("f", child, /*overwrite=*/false));
  Result<int> fd = fs.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = fs.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  int gate = plan->Add({.ops = FaultOp::kRead, .error = kOk, .block = true});
  FakeKernel::Ticket t = fs.kernel().Start(FuseRequest::Read(file->nodeid, file->fh, 0, 100));
  ASSERT_TRUE(plan->WaitForBlocked(gate, 1, kBound));

  Server* server = fs.kernel().server();
  ASSERT_NE(server, nullptr);
  server->Stop();
  absl::Notification ended;
  std::thread waiter([&] {
    server->Wait();
    ended.Notify();
  });
  const bool ended_in_bound = ended.WaitForNotificationWithTimeout(kBound);
  if (!ended_in_bound) plan->Clear();  // fail, not hang
  waiter.join();
  EXPECT_TRUE(ended_in_bound) << "Server::Wait() did not return after Stop()";
  EXPECT_EQ(plan->blocked(gate), 0);
  EXPECT_FALSE(server->running());
  // The request ended without an answer the kernel could take: it reads as
  // interrupted (EINTR) or lost with the connection.
  EXPECT_FALSE(fs.kernel().Await(t).error().ok());
  for (const std::string& v : fs.kernel().violations()) {
    EXPECT_THAT(v, ::testing::HasSubstr("closed the connection with 1 request(s) unanswered"));
  }
}

}  // namespace
}  // namespace fusekit
