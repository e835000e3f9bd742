// No allocation on the hot paths: a GETATTR or READ served through the
// node tree (decode -> dispatch -> Bridge -> Node -> encode -> write) makes
// no heap allocation once the worker is warm. The requests are fed to a
// Session on this thread (replies go to a socketpair), and a replaced
// operator new counts the allocations this thread makes meanwhile.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "fuse/kernel_abi.h"
#include "fuse/scoped_fd.h"
#include "fuse/session.h"
#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"

namespace {
thread_local bool t_counting = false;
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (t_counting) g_allocations.fetch_add(1, std::memory_order_relaxed);
  void* p = malloc(size == 0 ? 1 : size);
  if (p == nullptr) abort();
  return p;
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, size_t) noexcept { free(p); }
void operator delete[](void* p, size_t) noexcept { free(p); }

namespace fusekit {
namespace {

constexpr size_t kFileSize = 1 << 20;

// A file served from a static buffer (ReadResult::SetData).
class BufferFile : public Node {
 public:
  BufferFile() : data_(kFileSize, 'b') {}
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = data_.size();
    return kOk;
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    if (offset >= data_.size()) return kOk;
    out->SetData(absl::string_view(data_).substr(offset, out->buffer().size()));
    return kOk;
  }

 private:
  const std::string data_;
};

// A file served from a descriptor (ReadResult::SetFd; on a socket fusekit
// preads it into its per-thread buffer).
class DescriptorFile : public Node {
 public:
  DescriptorFile() : fd_(memfd_create("alloc_test", MFD_CLOEXEC)) {
    std::string data(kFileSize, 'd');
    EXPECT_EQ(pwrite(fd_.get(), data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
  }
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = kFileSize;
    return kOk;
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    out->SetFd(fd_.get(), offset, out->buffer().size());
    return kOk;
  }

 private:
  ScopedFd fd_;
};

class HotPathAllocTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bridge_ = std::make_unique<Bridge>(std::make_unique<MemDir>(), options_);
    for (auto [name, node] : {std::pair<const char*, Node*>{"buffer", new BufferFile()},
                              std::pair<const char*, Node*>{"fd", new DescriptorFile()}}) {
      Inode* inode = bridge_->root()->NewPersistentInode(std::unique_ptr<Node>(node),
                                                         {.mode = S_IFREG});
      bridge_->root()->AddChild(name, inode, false);
    }
    session_ = std::make_unique<Session>(bridge_.get(), ServerOptionsFor(options_).init,
                                         /*debug=*/false, nullptr);
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
    daemon_end_.reset(fds[0]);
    kernel_end_.reset(fds[1]);
    // The kernel's buffers are at least this big; replies fit.
    int size = 4 << 20;
    setsockopt(kernel_end_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    setsockopt(daemon_end_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
    receive_.resize(2 << 20);

    abi::fuse_init_in in{};
    in.major = 7;
    in.minor = abi::kKernelMinorVersion;
    in.max_readahead = 128 * 1024;
    in.flags = static_cast<uint32_t>(WirePeer::kAllInitFlags);
    in.flags2 = static_cast<uint32_t>(WirePeer::kAllInitFlags >> 32);
    ASSERT_EQ(Call(RequestBuilder(abi::Opcode::kInit, Unique(), 0).Arg(in).Build()).error, 0);
  }

  struct Answer {
    int error = -1;
    size_t size = 0;
    std::string body;
  };
  // Handles one request on this thread and reads its reply.
  Answer Call(const std::string& frame, bool count = false) {
    t_counting = count;
    session_->HandleMessage(daemon_end_.get(),
                            absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(frame.data()),
                                                frame.size()));
    t_counting = false;
    Answer answer;
    ssize_t n = recv(kernel_end_.get(), receive_.data(), receive_.size(), MSG_DONTWAIT);
    if (n < static_cast<ssize_t>(sizeof(abi::fuse_out_header))) return answer;
    abi::fuse_out_header h;
    std::memcpy(&h, receive_.data(), sizeof(h));
    answer.error = -h.error;
    answer.size = static_cast<size_t>(n) - sizeof(h);
    answer.body.assign(receive_.data() + sizeof(h), std::min<size_t>(answer.size, 256));
    return answer;
  }
  uint64_t Unique() { return unique_ += 2; }

  uint64_t Lookup(const char* name) {
    Answer a = Call(RequestBuilder(abi::Opcode::kLookup, Unique(), abi::kRootId).Name(name).Build());
    EXPECT_EQ(a.error, 0);
    abi::fuse_entry_out out{};
    std::memcpy(&out, a.body.data(), std::min(a.body.size(), sizeof(out)));
    return out.nodeid;
  }
  uint64_t Open(uint64_t nodeid) {
    abi::fuse_open_in in{};
    in.flags = O_RDONLY;
    Answer a = Call(RequestBuilder(abi::Opcode::kOpen, Unique(), nodeid).Arg(in).Build());
    EXPECT_EQ(a.error, 0);
    abi::fuse_open_out out{};
    std::memcpy(&out, a.body.data(), std::min(a.body.size(), sizeof(out)));
    return out.fh;
  }
  std::string Getattr(uint64_t nodeid) {
    abi::fuse_getattr_in in{};
    return RequestBuilder(abi::Opcode::kGetattr, Unique(), nodeid).Arg(in).Build();
  }
  std::string Read(uint64_t nodeid, uint64_t fh, uint64_t offset, uint32_t size) {
    abi::fuse_read_in in{};
    in.fh = fh;
    in.offset = offset;
    in.size = size;
    return RequestBuilder(abi::Opcode::kRead, Unique(), nodeid).Arg(in).Build();
  }

  // Allocations made while handling `frames` (built beforehand: building
  // them allocates), each answered without error with `reply_size` bytes
  // (0: any).
  long CountAllocations(const std::vector<std::string>& frames, size_t reply_size) {
    long before = g_allocations.load();
    for (const std::string& frame : frames) {
      Answer a = Call(frame, /*count=*/true);
      EXPECT_EQ(a.error, 0);
      if (reply_size != 0) {
        EXPECT_EQ(a.size, reply_size);
      }
    }
    return g_allocations.load() - before;
  }

  Options options_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Session> session_;
  ScopedFd daemon_end_, kernel_end_;
  std::string receive_;
  uint64_t unique_ = 0;
};

TEST_F(HotPathAllocTest, OperatorNewIsCounted) {
  t_counting = true;
  auto* p = new int(1);
  t_counting = false;
  delete p;
  EXPECT_GE(g_allocations.load(), 1);
}

TEST_F(HotPathAllocTest, GetattrAllocatesNothing) {
  uint64_t file = Lookup("buffer");
  std::vector<std::string> warm, frames;
  for (int i = 0; i < 4; ++i) warm.push_back(Getattr(i % 2 ? file : abi::kRootId));
  for (int i = 0; i < 200; ++i) frames.push_back(Getattr(i % 2 ? file : abi::kRootId));
  CountAllocations(warm, sizeof(abi::fuse_attr_out));
  EXPECT_EQ(CountAllocations(frames, sizeof(abi::fuse_attr_out)), 0);
}

TEST_F(HotPathAllocTest, ReadFromMemoryAllocatesNothing) {
  uint64_t file = Lookup("buffer");
  uint64_t fh = Open(file);
  std::vector<std::string> warm, frames;
  warm.push_back(Read(file, fh, 0, 131072));
  warm.push_back(Read(file, fh, 0, 131072));
  for (int i = 0; i < 100; ++i) frames.push_back(Read(file, fh, (i % 8) * 131072, 131072));
  CountAllocations(warm, 131072);
  EXPECT_EQ(CountAllocations(frames, 131072), 0);
}

TEST_F(HotPathAllocTest, ReadFromDescriptorAllocatesNothing) {
  uint64_t file = Lookup("fd");
  uint64_t fh = Open(file);
  std::vector<std::string> warm, frames;
  warm.push_back(Read(file, fh, 0, 131072));
  warm.push_back(Read(file, fh, 0, 131072));
  for (int i = 0; i < 100; ++i) frames.push_back(Read(file, fh, (i % 8) * 131072, 131072));
  CountAllocations(warm, 131072);
  EXPECT_EQ(CountAllocations(frames, 131072), 0);
}

}  // namespace
}  // namespace fusekit
