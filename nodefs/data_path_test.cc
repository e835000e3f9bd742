// The data path through the fake kernel (no mount, no root): reads answered
// from a file descriptor (ReadResult::SetFd; the socket transport takes the
// copying fallback), FUSE passthrough's bookkeeping (backing ids registered
// through a stand-in for the /dev/fuse ioctls, shared per node, released
// with the last open, and every fallback), NO_OPEN, the writeback cache
// switch and what INIT asks for. Splicing itself needs /dev/fuse:
// examples/loopbackfs/data_path_mount_test.cc checks it on real mounts.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"
#include "fuse/wire_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit {
namespace {

using ::testing::ElementsAre;

std::string Pattern(size_t size) {
  std::string s(size, '\0');
  uint32_t x = 12345;
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

// A memfd holding `content`.
ScopedFd MemFile(const std::string& content) {
  ScopedFd fd(memfd_create("data_path_test", MFD_CLOEXEC));
  EXPECT_TRUE(fd.valid());
  EXPECT_EQ(pwrite(fd.get(), content.data(), content.size(), 0),
            static_cast<ssize_t>(content.size()));
  return fd;
}

class FdHandle : public FileHandle {
 public:
  explicit FdHandle(ScopedFd fd) : fd_(std::move(fd)) {}
  Errno Read(const Context&, uint64_t offset, ReadResult* out) override {
    out->SetFd(fd_.get(), offset, out->buffer().size());
    return kOk;
  }
  int fd() const { return fd_.get(); }

 private:
  ScopedFd fd_;
};

// A regular file whose data is a host file: each open gets a handle on its
// own descriptor, answers reads with SetFd and, when asked, offers the
// descriptor for passthrough.
class FdFile : public Node {
 public:
  explicit FdFile(std::string content) : content_(std::move(content)), fd_(MemFile(content_)) {}
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0644;
    out->attr.size = content_.size();
    return kOk;
  }
  Errno Open(const Context&, uint32_t flags, OpenOut* out) override {
    {
      MutexLock lock(&mu_);
      open_flags_.push_back(flags);
    }
    if (no_open_) return Errno(ENOSYS);
    ScopedFd fd(fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
    if (broken_) fd.reset(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));  // pread: EISDIR
    if (ask_passthrough_.load()) out->passthrough_fd = fd.get();
    out->flags = reply_flags_;
    out->handle = std::make_unique<FdHandle>(std::move(fd));
    return kOk;
  }
  // Serves handle-less reads (after an ENOSYS open).
  Errno Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out) override {
    if (fh != nullptr) return fh->Read(ctx, offset, out);
    out->SetFd(fd_.get(), offset, out->buffer().size());
    return kOk;
  }
  std::vector<uint32_t> open_flags() {
    MutexLock lock(&mu_);
    return open_flags_;
  }

  std::atomic<bool> ask_passthrough_{false};
  uint32_t reply_flags_ = 0;
  bool no_open_ = false;
  bool broken_ = false;

 private:
  const std::string content_;
  ScopedFd fd_;
  Mutex mu_;
  std::vector<uint32_t> open_flags_ ABSL_GUARDED_BY(mu_);
};

// Stands in for FUSE_DEV_IOC_BACKING_OPEN / _CLOSE: hands out ids, or
// refuses with `refuse` (an errno).
struct FakeBackingRegistry {
  Mutex mu;
  int refuse = 0;
  int32_t next_id = 1;
  std::vector<int32_t> opened ABSL_GUARDED_BY(mu);
  std::vector<int32_t> closed ABSL_GUARDED_BY(mu);
  std::vector<bool> fd_was_open ABSL_GUARDED_BY(mu);

  std::function<int(int, unsigned long, void*)> Ioctl() {
    return [this](int, unsigned long request, void* arg) -> int {
      MutexLock lock(&mu);
      if (request == abi::kDevIocBackingOpen) {
        if (refuse != 0) return -refuse;
        auto* map = static_cast<abi::fuse_backing_map*>(arg);
        fd_was_open.push_back(fcntl(map->fd, F_GETFD) >= 0);
        opened.push_back(next_id);
        return next_id++;
      }
      if (request == abi::kDevIocBackingClose) {
        closed.push_back(static_cast<int32_t>(*static_cast<uint32_t*>(arg)));
        return 0;
      }
      return -ENOTTY;
    };
  }
  std::vector<int32_t> Opened() {
    MutexLock lock(&mu);
    return opened;
  }
  std::vector<int32_t> Closed() {
    MutexLock lock(&mu);
    return closed;
  }
};

struct Fixture {
  explicit Fixture(std::string content, bool passthrough_offered = true,
                   FakeBackingRegistry* registry = nullptr, Options options = {},
                   FakeKernelOptions kernel_options = {}) {
    auto file = std::make_unique<FdFile>(std::move(content));
    node = file.get();
    if (registry != nullptr) options.server.device_ioctl = registry->Ioctl();
    if (passthrough_offered) kernel_options.init_flags |= abi::kInitPassthrough;
    fs = std::make_unique<NodefsFakeKernel>(std::make_unique<MemDir>(), options, kernel_options);
    Inode* inode = fs->root()->NewPersistentInode(std::move(file), {.mode = S_IFREG});
    fs->root()->AddChild("f", inode, /*overwrite=*/false);
  }
  FakeVfs& vfs() { return fs->vfs(); }
  uint32_t OpenFlags(int fd) {
    Result<FakeVfs::OpenFile> file = vfs().File(fd);
    return file.ok() ? file.value().open_flags : 0xffffffff;
  }

  FdFile* node = nullptr;
  std::unique_ptr<NodefsFakeKernel> fs;
};

Options PassthroughOptions() {
  Options options;
  options.passthrough = true;
  return options;
}

// --- Reads from a file descriptor ----------------------------------------------------

TEST(DataPathTest, ReadFromFdAnswersTheRangeAtAnyOffset) {
  const std::string content = Pattern(300001);
  Fixture f(content);
  Result<int> fd = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(f.vfs().Read(*fd, 4096, 0), IsOkAndHolds(content.substr(0, 4096)));
  EXPECT_THAT(f.vfs().Read(*fd, 10000, 4095), IsOkAndHolds(content.substr(4095, 10000)));
  EXPECT_THAT(f.vfs().Read(*fd, 131072, 131071), IsOkAndHolds(content.substr(131071, 131072)));
  // Across the end of the file: the bytes that are there, no more.
  EXPECT_THAT(f.vfs().Read(*fd, 4096, 299990), IsOkAndHolds(content.substr(299990)));
  EXPECT_THAT(f.vfs().Read(*fd, 4096, 300001), IsOkAndHolds(""));
  EXPECT_THAT(f.vfs().Read(*fd, 4096, 1 << 30), IsOkAndHolds(""));
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
}

TEST(DataPathTest, ReadFromFdAnswersTheReadError) {
  Fixture f("data");
  f.node->broken_ = true;  // the handle's descriptor is a directory
  Result<int> fd = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(f.vfs().Read(*fd, 4096, 0), FailsWith(EISDIR));
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
}

TEST(DataPathTest, ReadFromFdWithSpliceOffStillAnswers) {
  const std::string content = Pattern(70000);
  Options options;
  options.server.init.splice_write = false;
  Fixture f(content, false, nullptr, options);
  EXPECT_FALSE(f.fs->kernel().connection().Has(abi::kInitSpliceWrite));
  EXPECT_THAT(f.vfs().ReadFile("/f"), IsOkAndHolds(content));
}

// --- Passthrough -------------------------------------------------------------------------

TEST(DataPathTest, PassthroughOpensShareOneBackingIdReleasedWithTheLastOpen) {
  FakeBackingRegistry registry;
  Fixture f("passthrough data", true, &registry, PassthroughOptions());
  ASSERT_TRUE(f.fs->kernel().connection().Has(abi::kInitPassthrough));
  f.node->ask_passthrough_ = true;
  // KEEP_CACHE makes the kernel refuse a passthrough open: dropped.
  f.node->reply_flags_ = abi::kOpenKeepCache | abi::kOpenNoflush;

  Result<int> a = f.vfs().Open("/f", O_RDONLY, 0);
  Result<int> b = f.vfs().Open("/f", O_RDWR, 0);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(f.OpenFlags(*a), abi::kOpenPassthrough | abi::kOpenNoflush);
  EXPECT_EQ(f.OpenFlags(*b), abi::kOpenPassthrough | abi::kOpenNoflush);
  // One registration for the node (the kernel refuses two backing files on
  // one inode), of a descriptor that was open at the time.
  EXPECT_THAT(registry.Opened(), ElementsAre(1));
  {
    MutexLock lock(&registry.mu);
    EXPECT_THAT(registry.fd_was_open, ElementsAre(true));
  }
  EXPECT_EQ(f.fs->bridge().BackingCount(), 1u);

  EXPECT_THAT(f.vfs().Close(*a), IsOk());
  EXPECT_THAT(registry.Closed(), ElementsAre());  // b still uses it
  EXPECT_THAT(f.vfs().Close(*b), IsOk());
  EXPECT_THAT(registry.Closed(), ElementsAre(1));
  EXPECT_EQ(f.fs->bridge().BackingCount(), 0u);

  // A new open registers again.
  Result<int> c = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(f.OpenFlags(*c), abi::kOpenPassthrough | abi::kOpenNoflush);
  EXPECT_THAT(registry.Opened(), ElementsAre(1, 2));
  EXPECT_THAT(f.vfs().Close(*c), IsOk());
  EXPECT_THAT(registry.Closed(), ElementsAre(1, 2));
}

TEST(DataPathTest, PassthroughRefusedFallsBackToReadsThroughTheNode) {
  FakeBackingRegistry registry;
  registry.refuse = EPERM;  // no CAP_SYS_ADMIN
  const std::string content = Pattern(5000);
  Fixture f(content, true, &registry, PassthroughOptions());
  f.node->ask_passthrough_ = true;
  f.node->reply_flags_ = abi::kOpenKeepCache;
  Result<int> fd = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_EQ(f.OpenFlags(*fd), abi::kOpenKeepCache);  // a normal open, flags intact
  EXPECT_THAT(f.vfs().Read(*fd, 8192, 0), IsOkAndHolds(content));
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
  EXPECT_EQ(f.fs->bridge().BackingCount(), 0u);
  EXPECT_THAT(registry.Closed(), ElementsAre());
}

TEST(DataPathTest, PassthroughNotOfferedNeverRegisters) {
  FakeBackingRegistry registry;
  Fixture f("x", /*passthrough_offered=*/false, &registry, PassthroughOptions());
  EXPECT_FALSE(f.fs->kernel().connection().Has(abi::kInitPassthrough));
  f.node->ask_passthrough_ = true;
  Result<int> fd = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_EQ(f.OpenFlags(*fd), 0u);
  EXPECT_THAT(f.vfs().Read(*fd, 10, 0), IsOkAndHolds("x"));
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
  EXPECT_THAT(registry.Opened(), ElementsAre());
}

TEST(DataPathTest, PassthroughAndNormalOpensOfOneNodeAreKeptApart) {
  FakeBackingRegistry registry;
  Fixture f("mixed", true, &registry, PassthroughOptions());
  // A normal (page-cached) open first: the kernel would refuse passthrough
  // beside it (ETXTBSY), so a passthrough request is answered normally.
  Result<int> normal = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(normal, IsOk());
  f.node->ask_passthrough_ = true;
  Result<int> asked = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(asked, IsOk());
  EXPECT_EQ(f.OpenFlags(*normal), 0u);
  EXPECT_EQ(f.OpenFlags(*asked), 0u);
  EXPECT_THAT(registry.Opened(), ElementsAre());
  EXPECT_THAT(f.vfs().Close(*normal), IsOk());
  EXPECT_THAT(f.vfs().Close(*asked), IsOk());

  // Passthrough first: a later normal open gets direct I/O, the one mode
  // the kernel allows beside it, and is served by the node.
  Result<int> pt = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(pt, IsOk());
  EXPECT_EQ(f.OpenFlags(*pt), abi::kOpenPassthrough);
  f.node->ask_passthrough_ = false;
  Result<int> direct = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(direct, IsOk());
  EXPECT_EQ(f.OpenFlags(*direct), abi::kOpenDirectIo);
  EXPECT_THAT(f.vfs().Read(*direct, 100, 0), IsOkAndHolds("mixed"));
  EXPECT_THAT(f.vfs().Close(*direct), IsOk());
  EXPECT_THAT(f.vfs().Close(*pt), IsOk());
  EXPECT_THAT(registry.Closed(), ElementsAre(1));
  EXPECT_EQ(f.fs->bridge().BackingCount(), 0u);
}

TEST(DataPathTest, PassthroughWinsOverTheWritebackCache) {
  FakeBackingRegistry registry;
  Options options = PassthroughOptions();
  options.writeback_cache = true;
  Fixture f("x", true, &registry, options);
  EXPECT_TRUE(f.fs->kernel().connection().Has(abi::kInitPassthrough));
  EXPECT_FALSE(f.fs->kernel().connection().Has(abi::kInitWritebackCache));
}

// --- Caching switches ---------------------------------------------------------------------

TEST(DataPathTest, WritebackCacheIsAskedAndOpensMayRead) {
  Options options;
  options.writeback_cache = true;
  Fixture f("x", false, nullptr, options);
  EXPECT_TRUE(f.fs->kernel().connection().Has(abi::kInitWritebackCache));
  Result<int> fd = f.vfs().Open("/f", O_WRONLY | O_APPEND, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
  std::vector<uint32_t> seen = f.node->open_flags();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0] & O_ACCMODE, static_cast<uint32_t>(O_RDWR));
  EXPECT_EQ(seen[0] & O_APPEND, 0u);
}

TEST(DataPathTest, WithoutWritebackCacheOpenFlagsArriveAsSent) {
  Fixture f("x", false);
  EXPECT_FALSE(f.fs->kernel().connection().Has(abi::kInitWritebackCache));
  Result<int> fd = f.vfs().Open("/f", O_WRONLY | O_APPEND, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(f.vfs().Close(*fd), IsOk());
  std::vector<uint32_t> seen = f.node->open_flags();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0] & O_ACCMODE, static_cast<uint32_t>(O_WRONLY));
  EXPECT_NE(seen[0] & O_APPEND, 0u);
}

TEST(DataPathTest, OpenAnsweringEnosysStopsOpensWithNoOpenSupport) {
  Fixture f("no handles here", false);
  ASSERT_TRUE(f.fs->kernel().connection().Has(abi::kInitNoOpenSupport));
  f.node->no_open_ = true;
  Result<int> a = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(a, IsOk());
  Result<FakeVfs::OpenFile> file = f.vfs().File(*a);
  ASSERT_THAT(file, IsOk());
  EXPECT_FALSE(file.value().opened);
  EXPECT_THAT(f.vfs().Read(*a, 100, 3), IsOkAndHolds("handles here"));
  EXPECT_THAT(f.vfs().Close(*a), IsOk());
  // The kernel sends no OPEN any more.
  Result<int> b = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(b, IsOk());
  EXPECT_THAT(f.vfs().Read(*b, 100, 0), IsOkAndHolds("no handles here"));
  EXPECT_THAT(f.vfs().Close(*b), IsOk());
  EXPECT_EQ(f.node->open_flags().size(), 1u);
}

TEST(DataPathTest, OpenAnsweringEnosysWithoutNoOpenSupportOpensWithoutAHandle) {
  FakeKernelOptions kernel_options;
  kernel_options.init_flags &= ~abi::kInitNoOpenSupport;
  Fixture f("no handles here", false, nullptr, {}, kernel_options);
  f.node->no_open_ = true;
  Result<int> a = f.vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(a, IsOk());
  Result<FakeVfs::OpenFile> file = f.vfs().File(*a);
  ASSERT_THAT(file, IsOk());
  EXPECT_TRUE(file.value().opened);
  EXPECT_THAT(f.vfs().Read(*a, 100, 0), IsOkAndHolds("no handles here"));
  EXPECT_THAT(f.vfs().Close(*a), IsOk());
}

// --- What INIT asks -------------------------------------------------------------------------

abi::fuse_init_out InitWith(const InitOptions& init, uint64_t offered) {
  RawFileSystem fs;
  ServerOptions options;
  options.workers = 1;
  options.init = init;
  WirePeer peer(&fs, options);
  std::optional<WireReply> reply = peer.Init(abi::kKernelMinorVersion, offered);
  EXPECT_TRUE(reply.has_value());
  return reply ? reply->As<abi::fuse_init_out>() : abi::fuse_init_out{};
}

uint64_t Granted(const abi::fuse_init_out& out) {
  return out.flags | (static_cast<uint64_t>(out.flags2) << 32);
}

TEST(DataPathTest, InitAsksPassthroughWithStackDepthOne) {
  InitOptions init;
  init.passthrough = true;
  init.want |= abi::kInitWritebackCache;
  abi::fuse_init_out out = InitWith(init, WirePeer::kAllInitFlags);
  EXPECT_TRUE(Granted(out) & abi::kInitPassthrough);
  EXPECT_FALSE(Granted(out) & abi::kInitWritebackCache);
  EXPECT_EQ(out.max_stack_depth, 1u);

  out = InitWith(InitOptions(), WirePeer::kAllInitFlags);
  EXPECT_FALSE(Granted(out) & abi::kInitPassthrough);
  EXPECT_EQ(out.max_stack_depth, 0u);
}

TEST(DataPathTest, InitAsksSpliceWriteUnlessTurnedOff) {
  abi::fuse_init_out out = InitWith(InitOptions(), WirePeer::kAllInitFlags);
  EXPECT_TRUE(Granted(out) & abi::kInitSpliceWrite);
  // Never SPLICE_MOVE: the kernel would steal the source's page-cache pages.
  EXPECT_FALSE(Granted(out) & abi::kInitSpliceMove);
  InitOptions off;
  off.splice_write = false;
  out = InitWith(off, WirePeer::kAllInitFlags);
  EXPECT_FALSE(Granted(out) & abi::kInitSpliceWrite);
}

TEST(DataPathTest, OpenBackingNeedsPassthroughNegotiated) {
  FakeBackingRegistry registry;
  Fixture f("x", /*passthrough_offered=*/false, &registry, PassthroughOptions());
  int32_t id = 0;
  ScopedFd fd(memfd_create("x", MFD_CLOEXEC));
  EXPECT_EQ(f.fs->kernel().server()->OpenBacking(fd.get(), &id), Errno(EOPNOTSUPP));
  EXPECT_THAT(registry.Opened(), ElementsAre());
}

}  // namespace
}  // namespace fusekit
