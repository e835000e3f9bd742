// Golden-byte tests for the typed replies (fuse/reply.h) and INIT
// (fuse/session.cc): a RawFileSystem that answers fixed values is served by
// a WirePeer, the test plays the kernel, and every reply's bytes are checked
// against the wire layout written out field by field in little-endian.
#include "fuse/reply.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/raw_filesystem.h"
#include "fuse/request_pipe.h"
#include "fuse/server.h"
#include "fuse/session.h"
#include "fuse/wire_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace fusekit {
namespace {

using Op = abi::Opcode;

// ---------------------------------------------------------------------------
// Byte helpers
// ---------------------------------------------------------------------------

// Little-endian byte writer: the wire layout spelled out field by field,
// independent of the structs in kernel_abi.h.
class Le {
 public:
  Le& U8(uint8_t v) {
    s_.push_back(static_cast<char>(v));
    return *this;
  }
  Le& U16(uint16_t v) { return Uint(v, 2); }
  Le& U32(uint32_t v) { return Uint(v, 4); }
  Le& U64(uint64_t v) { return Uint(v, 8); }
  Le& I32(int32_t v) { return Uint(static_cast<uint32_t>(v), 4); }
  Le& I64(int64_t v) { return Uint(static_cast<uint64_t>(v), 8); }
  Le& Str(absl::string_view v) {
    s_.append(v.data(), v.size());
    return *this;
  }
  Le& Zeros(size_t n) {
    s_.append(n, '\0');
    return *this;
  }
  Le& Pad8() { return Zeros(abi::RecAlign(s_.size()) - s_.size()); }
  const std::string& str() const { return s_; }
  operator std::string() const { return s_; }            // NOLINT: convenience
  operator absl::string_view() const { return s_; }  // NOLINT: convenience

 private:
  Le& Uint(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) s_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    return *this;
  }
  std::string s_;
};

// Fixed values the filesystem answers with.
abi::fuse_attr MakeAttr(uint64_t ino, uint32_t mode) {
  abi::fuse_attr a{};
  a.ino = ino;
  a.size = 0x0123456789ULL;
  a.blocks = 9;
  a.atime = 1700000000;
  a.mtime = 1700000001;
  a.ctime = 1700000002;
  a.atimensec = 10;
  a.mtimensec = 20;
  a.ctimensec = 30;
  a.mode = mode;
  a.nlink = 2;
  a.uid = 1000;
  a.gid = 1001;
  a.rdev = 0x0801;
  a.blksize = 4096;
  a.flags = 0;
  return a;
}

const abi::fuse_attr kAttr = MakeAttr(42, S_IFREG | 0644);

EntryParam MakeEntry(uint64_t nodeid, uint32_t mode) {
  EntryParam e;
  e.nodeid = nodeid;
  e.generation = 7;
  e.entry_timeout = absl::Seconds(1) + absl::Milliseconds(500);
  e.attr_timeout = absl::Seconds(2) + absl::Milliseconds(250);
  e.attr = MakeAttr(nodeid == 0 ? 99 : nodeid, mode);
  return e;
}

const EntryParam kEntry = MakeEntry(42, S_IFREG | 0644);

// fuse_attr, 88 bytes (80 at minor < 9: no blksize and flags).
std::string AttrBytes(const abi::fuse_attr& a) {
  return Le()
      .U64(a.ino)
      .U64(a.size)
      .U64(a.blocks)
      .U64(a.atime)
      .U64(a.mtime)
      .U64(a.ctime)
      .U32(a.atimensec)
      .U32(a.mtimensec)
      .U32(a.ctimensec)
      .U32(a.mode)
      .U32(a.nlink)
      .U32(a.uid)
      .U32(a.gid)
      .U32(a.rdev)
      .U32(a.blksize)
      .U32(a.flags);
}

// fuse_entry_out, 128 bytes.
std::string EntryBytes(uint64_t nodeid, uint64_t generation, uint64_t entry_valid,
                       uint32_t entry_nsec, uint64_t attr_valid, uint32_t attr_nsec,
                       const abi::fuse_attr& attr) {
  return Le()
      .U64(nodeid)
      .U64(generation)
      .U64(entry_valid)
      .U64(attr_valid)
      .U32(entry_nsec)
      .U32(attr_nsec)
      .Str(AttrBytes(attr));
}

// kEntry's: 1.5 s for the name, 2.25 s for the attributes.
std::string EntryBytes(const EntryParam& e) {
  return EntryBytes(e.nodeid, e.generation, 1, 500000000, 2, 250000000, e.attr);
}

// fuse_open_out, 16 bytes.
std::string OpenBytes(uint64_t fh, uint32_t open_flags, int32_t backing_id) {
  return Le().U64(fh).U32(open_flags).I32(backing_id);
}

std::string Repeat(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + 3) & 0xff);
  return s;
}

abi::fuse_statx MakeStatx() {
  abi::fuse_statx s{};
  s.mask = 0x7ff;
  s.blksize = 4096;
  s.attributes = 0x20;
  s.nlink = 3;
  s.uid = 1000;
  s.gid = 1001;
  s.mode = S_IFREG | 0600;
  s.ino = 42;
  s.size = 5000;
  s.blocks = 16;
  s.attributes_mask = 0x30;
  s.atime = {1700000000, 1, 0};
  s.btime = {1600000000, 2, 0};
  s.ctime = {1700000002, 3, 0};
  s.mtime = {-5, 4, 0};  // before the epoch
  s.rdev_major = 8;
  s.rdev_minor = 1;
  s.dev_major = 0;
  s.dev_minor = 77;
  return s;
}

std::string StatxBytes(const abi::fuse_statx& s) {
  Le le;
  le.U32(s.mask).U32(s.blksize).U64(s.attributes).U32(s.nlink).U32(s.uid).U32(s.gid);
  le.U16(s.mode).U16(0).U64(s.ino).U64(s.size).U64(s.blocks).U64(s.attributes_mask);
  for (const abi::fuse_sx_time& t : {s.atime, s.btime, s.ctime, s.mtime}) {
    le.I64(t.tv_sec).U32(t.tv_nsec).I32(0);
  }
  le.U32(s.rdev_major).U32(s.rdev_minor).U32(s.dev_major).U32(s.dev_minor);
  le.Zeros(14 * 8);
  return le;
}

abi::fuse_kstatfs MakeStatfs() {
  abi::fuse_kstatfs st{};
  st.blocks = 1000000;
  st.bfree = 500000;
  st.bavail = 400000;
  st.files = 1000;
  st.ffree = 900;
  st.bsize = 4096;
  st.namelen = 255;
  st.frsize = 512;
  return st;
}

// fuse_kstatfs, 80 bytes.
std::string StatfsBytes() {
  return Le()
      .U64(1000000)
      .U64(500000)
      .U64(400000)
      .U64(1000)
      .U64(900)
      .U32(4096)
      .U32(255)
      .U32(512)
      .U32(0)
      .Zeros(24);
}

struct DirEntry {
  const char* name;
  uint64_t ino;
  uint32_t mode;
};

const DirEntry kDir[] = {
    {".", 1, S_IFDIR | 0755},
    {"..", 1, S_IFDIR | 0755},
    {"file_a", 10, S_IFREG | 0644},
    {"a_longer_name.txt", 11, S_IFREG | 0600},
    {"link", 12, S_IFLNK | 0777},
};
constexpr size_t kDirSize = sizeof(kDir) / sizeof(kDir[0]);

// ---------------------------------------------------------------------------
// The filesystem: fixed answers
// ---------------------------------------------------------------------------

class FixedFs : public RawFileSystem {
 public:
  const std::string big = Repeat(128 * 1024);

  std::atomic<uint32_t> init_minor{0};
  std::atomic<int> first_reply{-1};
  std::atomic<int> second_reply{-1};
  std::atomic<int> error_after_reply{-1};
  std::atomic<int> forgets{0};
  std::atomic<uint64_t> forget_sum{0};
  std::atomic<int> batch_calls{0};
  std::atomic<int> dir_added{-1};
  std::atomic<bool> dir_refused{false};
  std::atomic<bool> dir_wrong_kind_refused{false};
  std::atomic<bool> dir_bad_names_refused{false};
  std::atomic<bool> dir_fits_agrees{false};

  ~FixedFs() override { JoinThreads(); }

  void JoinThreads() {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

  void Init(const ConnectionInfo& info) override { init_minor = info.minor; }

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    if (name == "missing") {
      reply.Error(Errno(ENOENT));
    } else if (name == "negative") {
      EntryParam e;
      e.entry_timeout = absl::Seconds(5);
      reply.Entry(e);
    } else if (name == "forever") {
      EntryParam e = kEntry;
      e.entry_timeout = absl::InfiniteDuration();
      e.attr_timeout = -absl::Seconds(1);
      reply.Entry(e);
    } else if (name == "drop") {
      // Dropped without a reply: the destructor answers EIO.
    } else if (name == "async") {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([r = std::move(reply)]() mutable {
        absl::SleepFor(absl::Milliseconds(20));
        r.Entry(kEntry);
      });
    } else if (name == "async-drop") {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.emplace_back([r = std::move(reply)]() mutable {
        absl::SleepFor(absl::Milliseconds(20));
        EXPECT_FALSE(r.replied());  // dropped with the lambda: EIO
      });
    } else {
      reply.Entry(kEntry);
    }
  }
  void Forget(const RequestContext&, uint64_t nodeid, uint64_t nlookup) override {
    forget_sum += nodeid * 1000 + nlookup;
    ++forgets;
  }
  void BatchForget(const RequestContext& context,
                   absl::Span<const abi::fuse_forget_one> list) override {
    ++batch_calls;
    RawFileSystem::BatchForget(context, list);
  }
  void Getattr(ReplyAttr reply, uint64_t, const abi::fuse_getattr_in&) override {
    reply.Attr(kAttr, absl::Seconds(3) + absl::Nanoseconds(7));
  }
  void Setattr(ReplyAttr reply, uint64_t, const abi::fuse_setattr_in&) override {
    reply.Attr(kAttr, absl::Seconds(3) + absl::Nanoseconds(7));
  }
  void Readlink(ReplyData reply, uint64_t) override { reply.Data(absl::string_view("target/path")); }
  void Symlink(ReplyEntry reply, uint64_t, absl::string_view, absl::string_view) override {
    reply.Entry(kEntry);
  }
  void Mknod(ReplyEntry reply, uint64_t, absl::string_view, const abi::fuse_mknod_in&) override {
    reply.Entry(kEntry);
  }
  void Mkdir(ReplyEntry reply, uint64_t, absl::string_view, const abi::fuse_mkdir_in&) override {
    reply.Entry(kEntry);
  }
  void Unlink(ReplyEmpty reply, uint64_t, absl::string_view) override { reply.Ok(); }
  void Rmdir(ReplyEmpty reply, uint64_t, absl::string_view) override {
    reply.Error(Errno(ENOTEMPTY));
  }
  void Rename(ReplyEmpty reply, uint64_t, absl::string_view, uint64_t, absl::string_view,
              uint32_t) override {
    reply.Ok();
  }
  void Link(ReplyEntry reply, uint64_t, uint64_t, absl::string_view) override {
    reply.Entry(kEntry);
  }
  void Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override {
    OpenParam o;
    o.fh = 0x1234;
    o.open_flags = abi::kOpenKeepCache | abi::kOpenDirectIo;
    reply.Open(o);
  }
  void Read(ReplyData reply, uint64_t, const abi::fuse_read_in& in) override {
    static const char kParts[][8] = {"first-", "second-", "third"};
    switch (in.fh) {
      case 1:
        reply.Data(absl::string_view("hello, world"));
        break;
      case 2:
        reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(big.data()), big.size()));
        break;
      case 3: {
        struct iovec iov[3];
        for (int i = 0; i < 3; ++i) {
          iov[i].iov_base = const_cast<char*>(kParts[i]);
          iov[i].iov_len = std::strlen(kParts[i]);
        }
        reply.DataIov(absl::MakeConstSpan(iov, 3));
        break;
      }
      case 5: {
        // More parts than the session's inline iovec array holds.
        static const std::string kMany = [] {
          std::string m;
          for (int i = 0; i < 40; ++i) m += absl::StrCat("<", i, ">");
          return m;
        }();
        std::vector<struct iovec> iov;
        for (size_t at = 0; at < kMany.size();) {
          size_t end = kMany.find('>', at) + 1;
          iov.push_back({const_cast<char*>(kMany.data() + at), end - at});
          at = end;
        }
        reply.DataIov(iov);
        break;
      }
      default:
        reply.Data(absl::Span<const uint8_t>());  // end of file
        break;
    }
  }
  void Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in&,
             absl::Span<const uint8_t> data) override {
    reply.Written(data.size());
  }
  void Statfs(ReplyStatfs reply, uint64_t) override { reply.Statfs(MakeStatfs()); }
  void Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) override { reply.Ok(); }
  void Fsync(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) override {
    reply.Error(kOk);  // an "error" of 0 must not become a bodiless success
  }
  void Setxattr(ReplyEmpty reply, uint64_t, absl::string_view, absl::Span<const uint8_t>,
                const abi::fuse_setxattr_in&) override {
    reply.Ok();
  }
  void Getxattr(ReplyXattr reply, uint64_t, absl::string_view, uint32_t size) override {
    const absl::string_view value = "xattr-value";
    if (size == 0) {
      reply.Size(static_cast<uint32_t>(value.size()));
    } else if (size < value.size()) {
      reply.Error(Errno(ERANGE));
    } else {
      reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
    }
  }
  void Listxattr(ReplyXattr reply, uint64_t, uint32_t size) override {
    const absl::string_view names("user.a\0user.b\0", 14);
    if (size == 0) {
      reply.Size(static_cast<uint32_t>(names.size()));
    } else {
      reply.Data(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(names.data()), names.size()));
    }
  }
  void Removexattr(ReplyEmpty reply, uint64_t, absl::string_view) override { reply.Ok(); }
  void Flush(ReplyEmpty reply, uint64_t, const abi::fuse_flush_in&) override {
    first_reply = reply.Ok().value();
    second_reply = reply.Ok().value();
    error_after_reply = reply.Error(Errno(EIO)).value();
  }
  void Opendir(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) override {
    OpenParam o;
    o.fh = 99;
    o.open_flags = abi::kOpenCacheDir;
    reply.Open(o);
  }
  void Readdir(ReplyDirectory reply, uint64_t, const abi::fuse_read_in& in) override {
    dir_wrong_kind_refused = !reply.AddPlus("x", kEntry, 1);
    dir_bad_names_refused = !reply.Add("", 5, DT_REG, 1) &&
                            !reply.Add(std::string(256, 'n'), 5, DT_REG, 1);
    int added = 0;
    bool refused = false;
    bool fits_agrees = true;
    for (size_t i = in.offset; i < kDirSize; ++i) {
      bool fits = reply.Fits(kDir[i].name);
      if (!reply.Add(kDir[i].name, kDir[i].ino, (kDir[i].mode & S_IFMT) >> 12, i + 1)) {
        fits_agrees = fits_agrees && !fits;
        refused = true;
        break;
      }
      fits_agrees = fits_agrees && fits;
      ++added;
    }
    dir_added = added;
    dir_refused = refused;
    dir_fits_agrees = fits_agrees;
    EXPECT_EQ(reply.entry_count(), static_cast<size_t>(added));
    reply.Send();
  }
  void Readdirplus(ReplyDirectory reply, uint64_t, const abi::fuse_read_in& in) override {
    dir_wrong_kind_refused = !reply.Add("x", 1, DT_REG, 1);
    dir_bad_names_refused = !reply.AddPlus("", kEntry, 1) &&
                            !reply.AddPlus(std::string(256, 'n'), kEntry, 1);
    int added = 0;
    bool refused = false;
    for (size_t i = in.offset; i < kDirSize; ++i) {
      // ".." gets no lookup (nodeid 0), like libfuse does.
      EntryParam e = MakeEntry(i == 1 ? 0 : kDir[i].ino, kDir[i].mode);
      e.attr.ino = kDir[i].ino;
      if (!reply.AddPlus(kDir[i].name, e, i + 1)) {
        refused = true;
        break;
      }
      ++added;
    }
    dir_added = added;
    dir_refused = refused;
    reply.Send();
  }
  void Releasedir(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) override { reply.Ok(); }
  void Fsyncdir(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) override { reply.Ok(); }
  void Getlk(ReplyLock reply, uint64_t, const abi::fuse_lk_in&) override {
    abi::fuse_file_lock lk{};
    lk.start = 10;
    lk.end = 20;
    lk.type = F_WRLCK;
    lk.pid = 4321;
    reply.Lock(lk);
  }
  void Setlk(ReplyEmpty reply, uint64_t, const abi::fuse_lk_in&, bool wait) override {
    if (wait) {
      reply.Error(Errno(EDEADLK));
    } else {
      reply.Ok();
    }
  }
  void Access(ReplyEmpty reply, uint64_t, const abi::fuse_access_in&) override {
    // Dropped: answers EIO.
  }
  void Create(ReplyCreate reply, uint64_t, absl::string_view,
              const abi::fuse_create_in&) override {
    OpenParam o;
    o.fh = 0x77;
    o.open_flags = abi::kOpenDirectIo;
    reply.Create(kEntry, o);
  }
  void Bmap(ReplyBmap reply, uint64_t, const abi::fuse_bmap_in& in) override {
    reply.Block(in.block * 2 + 1);
  }
  void Ioctl(ReplyIoctl reply, uint64_t, const abi::fuse_ioctl_in& in,
             absl::Span<const uint8_t> in_data) override {
    if (in.cmd == 1) {
      reply.Result(0, absl::MakeConstSpan(reinterpret_cast<const uint8_t*>("OUTDATA"), 7));
    } else {
      reply.Result(-ENOTTY, {});
    }
  }
  void Poll(ReplyPoll reply, uint64_t, const abi::fuse_poll_in&) override {
    reply.Events(POLLIN | POLLOUT);
  }
  void Lseek(ReplyLseek reply, uint64_t, const abi::fuse_lseek_in& in) override {
    reply.Offset(in.offset + 100);
  }
  void CopyFileRange(ReplyWrite reply, uint64_t, const abi::fuse_copy_file_range_in& in) override {
    reply.Written(in.len);
  }
  void Statx(ReplyStatx reply, uint64_t, const abi::fuse_statx_in&) override {
    reply.Statx(MakeStatx(), absl::Seconds(4) + absl::Nanoseconds(5));
  }
  void Tmpfile(ReplyCreate reply, uint64_t, const abi::fuse_create_in&) override {
    OpenParam o;
    o.fh = 0x78;
    o.open_flags = 0;
    o.backing_id = -1;
    reply.Create(MakeEntry(43, S_IFREG | 0600), o);
  }
  void Syncfs(ReplyEmpty reply, uint64_t, const abi::fuse_syncfs_in&) override { reply.Ok(); }
  // FALLOCATE: the default (ENOSYS).

 private:
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

// ---------------------------------------------------------------------------
// Fixture
// ---------------------------------------------------------------------------

InitOptions PinnedInit() {
  InitOptions init;
  init.max_write = 1 << 20;
  init.max_readahead = 1 << 20;
  init.max_background = 16;
  init.congestion_threshold = 12;
  init.time_gran = 1;
  init.want = abi::kInitAsyncRead | abi::kInitBigWrites | abi::kInitMaxPages | abi::kInitExt |
              abi::kInitParallelDirops | abi::kInitSetxattrExt | abi::kInitCreateSuppGroup |
              abi::kInitPassthrough;
  init.refuse = abi::kInitPassthrough;
  return init;
}

class LogCapture {
 public:
  LogSink sink() {
    return [this](absl::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines_.emplace_back(line);
    };
  }
  bool Contains(absl::string_view needle) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const std::string& l : lines_) {
      if (absl::StrContains(l, needle)) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

// A filesystem and a peer. Members are destroyed peer first.
struct Rig {
  explicit Rig(LogCapture* log) {
    ServerOptions options;
    options.workers = 1;  // strict request order
    options.log = log->sink();
    options.init = PinnedInit();
    peer = std::make_unique<WirePeer>(&fs, options);
  }
  ~Rig() {
    fs.JoinThreads();
    peer.reset();
  }
  FixedFs fs;
  std::unique_ptr<WirePeer> peer;
};

// Checks a reply: header len/error/unique, then the exact body bytes.
::testing::AssertionResult IsReply(const std::optional<WireReply>& reply, uint64_t unique,
                                   int error, absl::string_view body) {
  if (!reply.has_value()) return ::testing::AssertionFailure() << "no reply";
  const WireReply& r = *reply;
  if (r.header.unique != unique) {
    return ::testing::AssertionFailure() << "unique " << r.header.unique << ", want " << unique;
  }
  if (r.header.error != -error) {
    return ::testing::AssertionFailure() << "error " << r.header.error << ", want " << -error;
  }
  if (r.header.len != 16 + r.body.size()) {
    return ::testing::AssertionFailure()
           << "header.len " << r.header.len << " but " << 16 + r.body.size() << " bytes came";
  }
  if (r.body.size() != body.size()) {
    return ::testing::AssertionFailure()
           << "body of " << r.body.size() << " bytes, want " << body.size();
  }
  for (size_t i = 0; i < body.size(); ++i) {
    if (r.body[i] != body[i]) {
      return ::testing::AssertionFailure()
             << "body differs at byte " << i << ": " << (r.body[i] & 0xff) << " vs "
             << (body[i] & 0xff);
    }
  }
  return ::testing::AssertionSuccess();
}

// A reply and the unique of the request it must answer.
struct Got {
  uint64_t unique = 0;
  std::optional<WireReply> reply;
  const WireReply* operator->() const { return &*reply; }
  bool has_value() const { return reply.has_value(); }
};

::testing::AssertionResult IsReply(const Got& got, int error, absl::string_view body) {
  return IsReply(got.reply, got.unique, error, body);
}

// The 16-byte fuse_out_header as it must appear on the wire.
std::string OutHeader(uint32_t len, int32_t error, uint64_t unique) {
  return Le().U32(len).I32(error).U64(unique);
}

class ReplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rig_ = std::make_unique<Rig>(&log_);
    std::optional<WireReply> init = peer().Init();
    ASSERT_TRUE(init.has_value());
    ASSERT_EQ(init->error(), 0);
  }
  void TearDown() override { rig_.reset(); }

  WirePeer& peer() { return *rig_->peer; }
  FixedFs& fs() { return rig_->fs; }

  // Sends opcode+body with a fresh unique and returns the reply.
  Got Call(Op op, absl::string_view body, uint64_t nodeid = 5) {
    Got got;
    got.unique = peer().NextUnique();
    got.reply = peer().Call(
        RequestBuilder(op, got.unique, nodeid).Caller(1000, 1001, 77).Bytes(body).Build());
    return got;
  }

  LogCapture log_;
  std::unique_ptr<Rig> rig_;
};

std::string NameBody(absl::string_view name) { return Le().Str(name).U8(0); }

std::string ReadBody(uint64_t fh, uint64_t offset, uint32_t size) {
  return Le().U64(fh).U64(offset).U32(size).U32(0).U64(0).U32(0).U32(0);
}

// ---------------------------------------------------------------------------
// Entries, attributes, opens
// ---------------------------------------------------------------------------

TEST_F(ReplyTest, EntryIs128BytesAtMinor45) {
  auto r = Call(Op::kLookup, NameBody("hello"), 1);
  std::string want = EntryBytes(kEntry);
  ASSERT_EQ(want.size(), 128u);
  EXPECT_TRUE(IsReply(r, 0, want));
  // The header on its own, byte for byte.
  EXPECT_EQ(r->header.len, 144u);
  std::string raw(reinterpret_cast<const char*>(&r->header), sizeof(r->header));
  EXPECT_EQ(raw, OutHeader(144, 0, r.unique));
}

TEST_F(ReplyTest, EntryRepliesForEveryEntryOpcode) {
  const std::string want = EntryBytes(kEntry);
  EXPECT_TRUE(IsReply(Call(Op::kMkdir, Le().U32(0755).U32(022).Str(NameBody("d"))), 0, want));
  EXPECT_TRUE(IsReply(Call(Op::kMknod, Le().U32(S_IFIFO | 0600).U32(0).U32(0).U32(0).Str(NameBody("p"))),
                      0, want));
  EXPECT_TRUE(IsReply(Call(Op::kSymlink, NameBody("l") + NameBody("target")), 0, want));
  EXPECT_TRUE(IsReply(Call(Op::kLink, Le().U64(42).Str(NameBody("hard"))), 0, want));
}

TEST_F(ReplyTest, NegativeEntryAndTimeouts) {
  abi::fuse_attr zero{};
  EXPECT_TRUE(IsReply(Call(Op::kLookup, NameBody("negative"), 1), 0,
                      EntryBytes(0, 0, 5, 0, 0, 0, zero)));
  // Infinite -> 100 years in seconds; negative -> 0.
  EXPECT_TRUE(IsReply(Call(Op::kLookup, NameBody("forever"), 1), 0,
                      EntryBytes(42, 7, 3153600000ULL, 0, 0, 0, kAttr)));
}

TEST_F(ReplyTest, AttrIs104Bytes) {
  std::string want = Le().U64(3).U32(7).U32(0).Str(AttrBytes(kAttr));
  ASSERT_EQ(want.size(), 104u);
  EXPECT_TRUE(IsReply(Call(Op::kGetattr, Le().U32(0).U32(0).U64(0)), 0, want));
  std::string setattr_in = Le().U32(abi::kFattrMode).Zeros(84);
  EXPECT_TRUE(IsReply(Call(Op::kSetattr, setattr_in), 0, want));
}

TEST_F(ReplyTest, Open) {
  EXPECT_TRUE(IsReply(Call(Op::kOpen, Le().U32(O_RDWR).U32(0)), 0,
                      OpenBytes(0x1234, abi::kOpenKeepCache | abi::kOpenDirectIo, 0)));
  EXPECT_TRUE(IsReply(Call(Op::kOpendir, Le().U32(O_RDONLY).U32(0)), 0,
                      OpenBytes(99, abi::kOpenCacheDir, 0)));
}

TEST_F(ReplyTest, CreateIsEntryThenOpen) {
  std::string create_in = Le().U32(O_CREAT | O_RDWR).U32(S_IFREG | 0644).U32(022).U32(0);
  std::string want = EntryBytes(kEntry) + OpenBytes(0x77, abi::kOpenDirectIo, 0);
  ASSERT_EQ(want.size(), 144u);
  EXPECT_TRUE(IsReply(Call(Op::kCreate, create_in + NameBody("new"), 1), 0, want));
  // TMPFILE answers the same way; a negative backing id is sent as is.
  EXPECT_TRUE(IsReply(Call(Op::kTmpfile, create_in + NameBody("/"), 1), 0,
                      EntryBytes(MakeEntry(43, S_IFREG | 0600)) + OpenBytes(0x78, 0, -1)));
}

// ---------------------------------------------------------------------------
// Data
// ---------------------------------------------------------------------------

TEST_F(ReplyTest, ReadData) {
  EXPECT_TRUE(IsReply(Call(Op::kRead, ReadBody(1, 0, 4096)), 0, "hello, world"));
  // Nothing at all (end of file): a header alone.
  EXPECT_TRUE(IsReply(Call(Op::kRead, ReadBody(9, 0, 4096)), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kReadlink, ""), 0, "target/path"));
}

TEST_F(ReplyTest, ReadLargePayloadIsByteIdentical) {
  auto r = Call(Op::kRead, ReadBody(2, 0, 128 * 1024));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->header.len, 16u + 128 * 1024);
  ASSERT_EQ(r->body.size(), 128u * 1024);
  EXPECT_TRUE(r->body == fs().big) << "128 KiB payload differs";
  EXPECT_TRUE(IsReply(r, 0, fs().big));
}

TEST_F(ReplyTest, ReadDataIovConcatenatesParts) {
  EXPECT_TRUE(IsReply(Call(Op::kRead, ReadBody(3, 0, 4096)), 0, "first-second-third"));
}

TEST_F(ReplyTest, ReadDataIovWithManyParts) {
  std::string want;
  for (int i = 0; i < 40; ++i) want += absl::StrCat("<", i, ">");
  EXPECT_TRUE(IsReply(Call(Op::kRead, ReadBody(5, 0, 4096)), 0, want));
}

TEST_F(ReplyTest, WriteAndCopyFileRange) {
  std::string write_in = Le().U64(1).U64(0).U32(11).U32(0).U64(0).U32(0).U32(0).Str("hello world");
  EXPECT_TRUE(IsReply(Call(Op::kWrite, write_in), 0, Le().U32(11).U32(0)));

  auto copy_in = [](uint64_t len) {
    return Le().U64(1).U64(0).U64(6).U64(2).U64(0).U64(len).U64(0).str();
  };
  // COPY_FILE_RANGE: fuse_write_out (8 bytes, 32-bit size).
  EXPECT_TRUE(IsReply(Call(Op::kCopyFileRange, copy_in(4096)), 0, Le().U32(4096).U32(0)));
  // COPY_FILE_RANGE_64: fuse_copy_file_range_out (8 bytes, 64-bit count).
  EXPECT_TRUE(IsReply(Call(Op::kCopyFileRange64, copy_in(0x100000005ULL)), 0,
                      Le().U64(0x100000005ULL)));
}

TEST_F(ReplyTest, Statfs80Bytes) {
  std::string want = StatfsBytes();
  ASSERT_EQ(want.size(), 80u);
  EXPECT_TRUE(IsReply(Call(Op::kStatfs, "", 1), 0, want));
}

TEST_F(ReplyTest, Xattrs) {
  // Size probe: fuse_getxattr_out.
  EXPECT_TRUE(IsReply(Call(Op::kGetxattr, Le().U32(0).U32(0).Str(NameBody("user.x"))), 0,
                      Le().U32(11).U32(0)));
  // The value itself.
  EXPECT_TRUE(IsReply(Call(Op::kGetxattr, Le().U32(64).U32(0).Str(NameBody("user.x"))), 0,
                      "xattr-value"));
  EXPECT_TRUE(IsReply(Call(Op::kGetxattr, Le().U32(4).U32(0).Str(NameBody("user.x"))),
                      ERANGE, ""));
  EXPECT_TRUE(IsReply(Call(Op::kListxattr, Le().U32(0).U32(0)), 0, Le().U32(14).U32(0)));
  EXPECT_TRUE(IsReply(Call(Op::kListxattr, Le().U32(100).U32(0)), 0,
                      absl::string_view("user.a\0user.b\0", 14)));
  EXPECT_TRUE(IsReply(
      Call(Op::kSetxattr, Le().U32(1).U32(0).U32(0).U32(0).Str(NameBody("user.x")).Str("v")),
      0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kRemovexattr, NameBody("user.x")), 0, ""));
}

TEST_F(ReplyTest, LocksBmapIoctlPollLseek) {
  std::string lk_in = Le().U64(1).U64(2).U64(0).U64(100).U32(F_RDLCK).U32(1).U32(0).U32(0);
  EXPECT_TRUE(IsReply(Call(Op::kGetlk, lk_in), 0,
                      Le().U64(10).U64(20).U32(F_WRLCK).U32(4321)));
  EXPECT_TRUE(IsReply(Call(Op::kSetlk, lk_in), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kSetlkw, lk_in), EDEADLK, ""));

  EXPECT_TRUE(IsReply(Call(Op::kBmap, Le().U64(50).U32(4096).U32(0)), 0, Le().U64(101)));

  // fuse_ioctl_out {result, flags, in_iovs, out_iovs}, then the out data.
  std::string ioctl_in = Le().U64(1).U32(0).U32(1).U64(0).U32(0).U32(7);
  EXPECT_TRUE(IsReply(Call(Op::kIoctl, ioctl_in), 0,
                      Le().I32(0).U32(0).U32(0).U32(0).Str("OUTDATA")));
  std::string ioctl_other = Le().U64(1).U32(0).U32(2).U64(0).U32(0).U32(0);
  EXPECT_TRUE(IsReply(Call(Op::kIoctl, ioctl_other), 0,
                      Le().I32(-ENOTTY).U32(0).U32(0).U32(0)));

  EXPECT_TRUE(IsReply(Call(Op::kPoll, Le().U64(1).U64(2).U32(0).U32(POLLIN)), 0,
                      Le().U32(POLLIN | POLLOUT).U32(0)));
  EXPECT_TRUE(IsReply(Call(Op::kLseek, Le().U64(1).U64(1000).U32(3).U32(0)), 0,
                      Le().U64(1100)));
}

TEST_F(ReplyTest, Statx) {
  std::string want = Le().U64(4).U32(5).U32(0).Zeros(16).Str(StatxBytes(MakeStatx()));
  ASSERT_EQ(want.size(), 288u);
  EXPECT_TRUE(IsReply(Call(Op::kStatx, Le().U32(0).U32(0).U64(0).U32(0).U32(0x7ff)), 0, want));
}

TEST_F(ReplyTest, StatusOnlyReplies) {
  EXPECT_TRUE(IsReply(Call(Op::kUnlink, NameBody("f")), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kRename, Le().U64(1).Str(NameBody("a")).Str(NameBody("b"))), 0,
                      ""));
  EXPECT_TRUE(IsReply(Call(Op::kRelease, Le().U64(1).U32(0).U32(0).U64(0)), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kReleasedir, Le().U64(1).U32(0).U32(0).U64(0)), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kFsyncdir, Le().U64(1).U32(0).U32(0)), 0, ""));
  EXPECT_TRUE(IsReply(Call(Op::kSyncfs, Le().U64(0)), 0, ""));
}

// ---------------------------------------------------------------------------
// Directories
// ---------------------------------------------------------------------------

struct ParsedDirent {
  uint64_t ino;
  uint64_t off;
  uint32_t namelen;
  uint32_t type;
  std::string name;
  std::string entry_out;  // READDIRPLUS only
};

uint64_t GetLe(absl::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}
uint64_t Get64(absl::string_view b, size_t at) { return GetLe(b, at, 8); }
uint32_t Get32(absl::string_view b, size_t at) { return static_cast<uint32_t>(GetLe(b, at, 4)); }

// Walks the records; every one must be 8-aligned and zero-padded.
std::vector<ParsedDirent> ParseDir(absl::string_view body, bool plus) {
  std::vector<ParsedDirent> out;
  size_t at = 0;
  const size_t fixed = plus ? 152 : 24;
  while (at < body.size()) {
    EXPECT_LE(at + fixed, body.size()) << "truncated record at " << at;
    if (at + fixed > body.size()) break;
    ParsedDirent d;
    size_t dirent = at;
    if (plus) {
      d.entry_out = std::string(body.substr(at, 128));
      dirent = at + 128;
    }
    d.ino = Get64(body, dirent);
    d.off = Get64(body, dirent + 8);
    d.namelen = Get32(body, dirent + 16);
    d.type = Get32(body, dirent + 20);
    size_t rec = abi::RecAlign(fixed + d.namelen);
    EXPECT_LE(at + rec, body.size()) << "record past the end at " << at;
    if (at + rec > body.size()) break;
    d.name = std::string(body.substr(at + fixed, d.namelen));
    for (size_t p = at + fixed + d.namelen; p < at + rec; ++p) {
      EXPECT_EQ(body[p], '\0') << "padding byte " << p << " not zero";
    }
    out.push_back(d);
    at += rec;
    EXPECT_EQ(at % 8, 0u);
  }
  return out;
}

TEST_F(ReplyTest, ReaddirRecords) {
  auto r = Call(Op::kReaddir, ReadBody(99, 0, 4096));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), 0);
  EXPECT_EQ(r->header.unique, r.unique);
  EXPECT_EQ(r->header.len, 16 + r->body.size());
  // 32 + 32 + 32 + 48 + 32.
  EXPECT_EQ(r->body.size(), 176u);
  std::vector<ParsedDirent> d = ParseDir(r->body, false);
  ASSERT_EQ(d.size(), kDirSize);
  for (size_t i = 0; i < kDirSize; ++i) {
    SCOPED_TRACE(kDir[i].name);
    EXPECT_EQ(d[i].ino, kDir[i].ino);
    EXPECT_EQ(d[i].off, i + 1);
    EXPECT_EQ(d[i].namelen, std::strlen(kDir[i].name));
    EXPECT_EQ(d[i].type, (kDir[i].mode & S_IFMT) >> 12);
    EXPECT_EQ(d[i].name, kDir[i].name);
  }
  EXPECT_EQ(d[0].type, static_cast<uint32_t>(DT_DIR));
  EXPECT_EQ(d[2].type, static_cast<uint32_t>(DT_REG));
  EXPECT_EQ(d[4].type, static_cast<uint32_t>(DT_LNK));
  EXPECT_EQ(fs().dir_added.load(), 5);
  EXPECT_FALSE(fs().dir_refused.load());
  EXPECT_TRUE(fs().dir_wrong_kind_refused.load());
  EXPECT_TRUE(fs().dir_bad_names_refused.load());
  EXPECT_TRUE(fs().dir_fits_agrees.load());

  // The first record, golden: ino 1, off 1, namelen 1, DT_DIR, ".", padding.
  EXPECT_EQ(r->body.substr(0, 32), Le().U64(1).U64(1).U32(1).U32(DT_DIR).Str(".").Zeros(7).str());
}

TEST_F(ReplyTest, ReaddirRefusesWhatDoesNotFit) {
  // 80 bytes: "." and ".." (64) fit, "file_a" (32 more) does not.
  auto r = Call(Op::kReaddir, ReadBody(99, 0, 80));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body.size(), 64u);
  EXPECT_EQ(ParseDir(r->body, false).size(), 2u);
  EXPECT_EQ(fs().dir_added.load(), 2);
  EXPECT_TRUE(fs().dir_refused.load());
  EXPECT_TRUE(fs().dir_fits_agrees.load());

  // Exactly 96: three records fill it.
  r = Call(Op::kReaddir, ReadBody(99, 0, 96));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body.size(), 96u);
  EXPECT_EQ(fs().dir_added.load(), 3);

  // Resuming at offset 3 gives the rest.
  r = Call(Op::kReaddir, ReadBody(99, 3, 4096));
  ASSERT_TRUE(r.has_value());
  std::vector<ParsedDirent> d = ParseDir(r->body, false);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_EQ(d[0].name, "a_longer_name.txt");
  EXPECT_EQ(d[0].off, 4u);
  EXPECT_EQ(d[1].name, "link");
  EXPECT_EQ(d[1].off, 5u);

  // Nothing fits: an empty success.
  EXPECT_TRUE(IsReply(Call(Op::kReaddir, ReadBody(99, 0, 31)), 0, ""));
  EXPECT_EQ(fs().dir_added.load(), 0);
  EXPECT_TRUE(fs().dir_refused.load());
}

TEST_F(ReplyTest, ReaddirplusRecords) {
  auto r = Call(Op::kReaddirplus, ReadBody(99, 0, 65536));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->error(), 0);
  // 160 + 160 + 160 + 176 + 160.
  EXPECT_EQ(r->body.size(), 816u);
  std::vector<ParsedDirent> d = ParseDir(r->body, true);
  ASSERT_EQ(d.size(), kDirSize);
  for (size_t i = 0; i < kDirSize; ++i) {
    SCOPED_TRACE(kDir[i].name);
    EntryParam e = MakeEntry(i == 1 ? 0 : kDir[i].ino, kDir[i].mode);
    e.attr.ino = kDir[i].ino;
    EXPECT_EQ(d[i].entry_out, EntryBytes(e));
    EXPECT_EQ(d[i].ino, kDir[i].ino);
    EXPECT_EQ(d[i].off, i + 1);
    EXPECT_EQ(d[i].type, (kDir[i].mode & S_IFMT) >> 12);
    EXPECT_EQ(d[i].name, kDir[i].name);
  }
  EXPECT_TRUE(fs().dir_wrong_kind_refused.load());
  EXPECT_TRUE(fs().dir_bad_names_refused.load());

  // 320 bytes: exactly two records; the third is refused.
  r = Call(Op::kReaddirplus, ReadBody(99, 0, 320));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body.size(), 320u);
  EXPECT_EQ(fs().dir_added.load(), 2);
  EXPECT_TRUE(fs().dir_refused.load());
}

// ---------------------------------------------------------------------------
// Errors, dropped and doubled replies, no-reply opcodes
// ---------------------------------------------------------------------------

TEST_F(ReplyTest, ErrorsAreNegativeErrnoWithoutBody) {
  auto r = Call(Op::kLookup, NameBody("missing"), 1);
  EXPECT_TRUE(IsReply(r, ENOENT, ""));
  std::string raw(reinterpret_cast<const char*>(&r->header), sizeof(r->header));
  EXPECT_EQ(raw, OutHeader(16, -ENOENT, r.unique));
  EXPECT_TRUE(IsReply(Call(Op::kRmdir, NameBody("d")), ENOTEMPTY, ""));
  // Not overridden: the default ENOSYS.
  EXPECT_TRUE(IsReply(Call(Op::kFallocate, Le().U64(1).U64(0).U64(10).U32(0).U32(0)), ENOSYS,
                      ""));
  // Known but not served on /dev/fuse.
  EXPECT_TRUE(IsReply(Call(Op::kSetupMapping, Le().Zeros(40)), ENOSYS, ""));
  // Unknown opcode.
  uint64_t u = peer().NextUnique();
  EXPECT_TRUE(IsReply(peer().Call(RequestBuilder(9999u, u, 1).Build()), u, ENOSYS, ""));
  // Malformed (no NUL): EIO from the decoder.
  EXPECT_TRUE(IsReply(Call(Op::kLookup, "abc", 1), EIO, ""));
  // Error(0) is not sent as a success without a body.
  EXPECT_TRUE(IsReply(Call(Op::kFsync, Le().U64(1).U32(0).U32(0)), EIO, ""));
}

TEST_F(ReplyTest, DroppedReplyAnswersEio) {
  EXPECT_TRUE(IsReply(Call(Op::kLookup, NameBody("drop"), 1), EIO, ""));
  EXPECT_TRUE(IsReply(Call(Op::kAccess, Le().U32(R_OK).U32(0)), EIO, ""));
  EXPECT_TRUE(log_.Contains("dropped without a reply"));
  EXPECT_TRUE(peer().Quiet());
}

TEST_F(ReplyTest, DeferredReplyFromAnotherThread) {
  EXPECT_TRUE(IsReply(Call(Op::kLookup, NameBody("async"), 1), 0, EntryBytes(kEntry)));
  EXPECT_TRUE(IsReply(Call(Op::kLookup, NameBody("async-drop"), 1), EIO, ""));
  EXPECT_TRUE(peer().Quiet());
}

TEST_F(ReplyTest, SecondReplyIsRefusedAndNotSent) {
  EXPECT_TRUE(IsReply(Call(Op::kFlush, Le().U64(1).U32(0).U32(0).U64(0)), 0, ""));
  EXPECT_TRUE(peer().Quiet());
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (fs().error_after_reply.load() < 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  EXPECT_EQ(fs().first_reply.load(), 0);
  EXPECT_EQ(fs().second_reply.load(), EINVAL);
  EXPECT_EQ(fs().error_after_reply.load(), EINVAL);
  // The connection is still in step: the next reply is the next request's.
  EXPECT_TRUE(IsReply(Call(Op::kStatfs, "", 1), 0, StatfsBytes()));
}

TEST_F(ReplyTest, ForgetsGetNoReply) {
  uint64_t u = peer().NextUnique();
  peer().Send(RequestBuilder(Op::kForget, u, 7).Arg(uint64_t{3}).Build());
  EXPECT_TRUE(peer().Quiet());
  u = peer().NextUnique();
  std::string batch = Le().U32(2).U32(0).U64(8).U64(1).U64(9).U64(2);
  peer().Send(RequestBuilder(Op::kBatchForget, u, 0).Bytes(batch).Build());
  EXPECT_TRUE(peer().Quiet());
  // A malformed BATCH_FORGET is not answered either.
  u = peer().NextUnique();
  peer().Send(RequestBuilder(Op::kBatchForget, u, 0).Bytes(Le().U32(5).U32(0).U64(1).U64(1)).Build());
  EXPECT_TRUE(peer().Quiet());
  // The next request's reply is the first thing to arrive.
  EXPECT_TRUE(IsReply(Call(Op::kStatfs, "", 1), 0, StatfsBytes()));
  EXPECT_EQ(fs().forgets.load(), 3);
  EXPECT_EQ(fs().batch_calls.load(), 1);
  EXPECT_EQ(fs().forget_sum.load(), 7003u + 8001u + 9002u);
}

// ---------------------------------------------------------------------------
// Old protocol minors
// ---------------------------------------------------------------------------

TEST(ReplyCompat, Minor8EntryIs120AndAttrIs96) {
  LogCapture log;
  Rig rig(&log);
  auto init = rig.peer->Init(8);
  ASSERT_TRUE(init.has_value());
  ASSERT_EQ(init->error(), 0);
  EXPECT_EQ(rig.fs.init_minor.load(), 8u);
  uint64_t u = rig.peer->NextUnique();
  auto r = rig.peer->Call(RequestBuilder(Op::kLookup, u, 1).Bytes(NameBody("x")).Build());
  std::string full = EntryBytes(kEntry);
  EXPECT_TRUE(IsReply(r, u, 0, full.substr(0, 120)));
  // GETATTR has no body before 7.9.
  u = rig.peer->NextUnique();
  r = rig.peer->Call(RequestBuilder(Op::kGetattr, u, 5).Build());
  std::string attr = Le().U64(3).U32(7).U32(0).Str(AttrBytes(kAttr));
  EXPECT_TRUE(IsReply(r, u, 0, attr.substr(0, 96)));
  // CREATE: the short entry, then the open.
  u = rig.peer->NextUnique();
  r = rig.peer->Call(RequestBuilder(Op::kCreate, u, 1)
                         .Bytes(Le().U32(O_CREAT).U32(0644))  // 8-byte create_in before 7.12
                         .Name("c")
                         .Build());
  EXPECT_TRUE(IsReply(r, u, 0, full.substr(0, 120) + OpenBytes(0x77, abi::kOpenDirectIo, 0)));
  // READ with the 24-byte read_in.
  u = rig.peer->NextUnique();
  r = rig.peer->Call(RequestBuilder(Op::kRead, u, 5).Bytes(Le().U64(1).U64(0).U32(100).U32(0)).Build());
  EXPECT_TRUE(IsReply(r, u, 0, "hello, world"));
}

TEST(ReplyCompat, Minor3StatfsIs48) {
  LogCapture log;
  Rig rig(&log);
  auto init = rig.peer->Init(3);
  ASSERT_TRUE(init.has_value());
  ASSERT_EQ(init->error(), 0);
  uint64_t u = rig.peer->NextUnique();
  auto r = rig.peer->Call(RequestBuilder(Op::kStatfs, u, 1).Build());
  EXPECT_TRUE(IsReply(r, u, 0, StatfsBytes().substr(0, 48)));
}

// ---------------------------------------------------------------------------
// INIT
// ---------------------------------------------------------------------------

uint64_t Granted(uint64_t offered) {
  InitOptions init = PinnedInit();
  uint64_t want = init.want;
  // The data-path switches ask for their capabilities themselves.
  if (init.splice_write) want |= abi::kInitSpliceWrite;
  if (init.passthrough) want |= abi::kInitPassthrough;
  return want & offered & ~init.refuse;
}

// fuse_init_out at 7.45 for PinnedInit() and the kernel's offer.
std::string InitOutBytes(uint32_t minor, uint64_t offered, uint32_t max_readahead) {
  uint64_t granted = Granted(offered) & ~abi::kInitExt;
  uint32_t flags = static_cast<uint32_t>(granted);
  uint32_t flags2 = 0;
  if (offered & abi::kInitExt) {
    flags |= static_cast<uint32_t>(abi::kInitExt);
    flags2 = static_cast<uint32_t>(granted >> 32);
  }
  return Le()
      .U32(7)
      .U32(minor)
      .U32(max_readahead)
      .U32(flags)
      .U16(16)        // max_background
      .U16(12)        // congestion_threshold
      .U32(1 << 20)   // max_write
      .U32(1)         // time_gran
      .U16(256)       // max_pages
      .U16(0)         // map_alignment
      .U32(flags2)
      .U32(0)         // max_stack_depth
      .U16(0)         // request_timeout
      .Zeros(22);
}

TEST(Init, Minor45Is64Bytes) {
  LogCapture log;
  Rig rig(&log);
  auto r = rig.peer->Init(45);
  ASSERT_TRUE(r.has_value());
  std::string want = InitOutBytes(45, WirePeer::kAllInitFlags, 128 * 1024);
  ASSERT_EQ(want.size(), 64u);
  EXPECT_TRUE(IsReply(r, 2, 0, want));
  // flags2 carries the high capability bits granted.
  auto out = r->As<abi::fuse_init_out>();
  EXPECT_EQ(out.flags2, static_cast<uint32_t>(abi::kInitCreateSuppGroup >> 32));
  EXPECT_EQ(out.flags & abi::kInitSetxattrExt, abi::kInitSetxattrExt);
  EXPECT_TRUE(rig.peer->server().WaitInitialized(absl::Seconds(5)));
  EXPECT_EQ(rig.peer->server().connection().minor, 45u);
  EXPECT_EQ(rig.peer->server().connection().flags & abi::kInitPassthrough, 0u);  // refused
}

TEST(Init, NewerMinorIsAnsweredWithOurs) {
  LogCapture log;
  Rig rig(&log);
  auto r = rig.peer->Init(60);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(IsReply(r, 2, 0, InitOutBytes(45, WirePeer::kAllInitFlags, 128 * 1024)));
}

TEST(Init, Minor22Is24Bytes) {
  LogCapture log;
  Rig rig(&log);
  // A 7.22 kernel has no flags2 and offers only the low 32 bits.
  uint64_t offered = abi::kInitAsyncRead | abi::kInitBigWrites | abi::kInitMaxPages;
  auto r = rig.peer->Init(22, offered);
  ASSERT_TRUE(r.has_value());
  std::string want = InitOutBytes(22, offered, 128 * 1024).substr(0, 24);
  EXPECT_TRUE(IsReply(r, 2, 0, want));
  auto out = r->As<abi::fuse_init_out>();
  EXPECT_EQ(out.flags, static_cast<uint32_t>(abi::kInitAsyncRead | abi::kInitBigWrites |
                                             abi::kInitMaxPages));
}

TEST(Init, Minor4Is8Bytes) {
  LogCapture log;
  Rig rig(&log);
  // A 7.4 kernel sends only major and minor.
  uint64_t u = rig.peer->NextUnique();
  auto r = rig.peer->Call(RequestBuilder(Op::kInit, u, 0).Bytes(Le().U32(7).U32(4)).Build());
  EXPECT_TRUE(IsReply(r, u, 0, Le().U32(7).U32(4)));
  EXPECT_TRUE(rig.peer->server().WaitInitialized(absl::Seconds(5)));
  EXPECT_EQ(rig.fs.init_minor.load(), 4u);
}

TEST(Init, Major8GetsMajorOnlyReplyThenRetries) {
  LogCapture log;
  Rig rig(&log);
  auto r = rig.peer->Init(0, WirePeer::kAllInitFlags, 8);
  ASSERT_TRUE(r.has_value());
  // 8 bytes: our major (7) and minor; the kernel retries with 7.
  EXPECT_TRUE(IsReply(r, 2, 0, Le().U32(7).U32(45)));
  EXPECT_FALSE(rig.peer->server().WaitInitialized(absl::Milliseconds(50)));
  r = rig.peer->Init(45);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(IsReply(r, 4, 0, InitOutBytes(45, WirePeer::kAllInitFlags, 128 * 1024)));
}

TEST(Init, Major6IsRefusedWithEproto) {
  LogCapture log;
  Rig rig(&log);
  auto r = rig.peer->Init(45, WirePeer::kAllInitFlags, 6);
  EXPECT_TRUE(IsReply(r, 2, EPROTO, ""));
  EXPECT_FALSE(rig.peer->server().WaitInitialized(absl::Milliseconds(50)));
  EXPECT_TRUE(log.Contains("too old"));
}

TEST(Init, SecondInitIsRefused) {
  LogCapture log;
  Rig rig(&log);
  ASSERT_TRUE(rig.peer->Init(45).has_value());
  EXPECT_TRUE(IsReply(rig.peer->Init(45), 4, EIO, ""));
}

TEST(Init, RequestsBeforeInitAnswerEio) {
  LogCapture log;
  Rig rig(&log);
  uint64_t u = rig.peer->NextUnique();
  EXPECT_TRUE(IsReply(rig.peer->Call(RequestBuilder(Op::kStatfs, u, 1).Build()), u, EIO, ""));
  // FORGET before INIT: still no reply.
  rig.peer->Send(RequestBuilder(Op::kForget, rig.peer->NextUnique(), 3).Arg(uint64_t{1}).Build());
  EXPECT_TRUE(rig.peer->Quiet());
}

// --- How large a READ can be spliced ------------------------------------------------

// Pipe room for a spliced READ reply of `data` bytes (header page, data
// pages, and one more for an unaligned range), as the session reckons it.
size_t PipeBytesForRead(size_t data) {
  return ((sizeof(abi::fuse_out_header) + data + 4095) / 4096 + 2) * 4096;
}

bool IsPowerOfTwo(uint32_t n) { return n != 0 && (n & (n - 1)) == 0; }

TEST(SpliceableReadSizeTest, FitsAPipeThisProcessCanMake) {
  for (uint32_t max_read : {1000u, 4096u, 65536u, 131072u, 1u << 20, (1u << 20) + 4096, 8u << 20}) {
    const uint32_t size = Session::SpliceableReadSize(max_read);
    EXPECT_LE(size, max_read);
    EXPECT_GE(size, std::min(max_read, 4096u));
    const size_t need = PipeBytesForRead(size);
    EXPECT_GE(RequestPipe::LargestCapacity(need), need) << max_read;
    if (size < max_read) {
      // Cut down to a power of two, and no larger one would fit.
      EXPECT_TRUE(IsPowerOfTwo(size)) << size;
      const size_t bigger = PipeBytesForRead(size_t{size} * 2);
      EXPECT_LT(RequestPipe::LargestCapacity(bigger), bigger) << max_read;
    }
  }
}

TEST(SpliceableReadSizeTest, WithoutCapSysResourceAMebibyteReadIsHalved) {
  // Above /proc/sys/fs/pipe-max-size only CAP_SYS_RESOURCE makes pipes
  // larger: a child process gives it up and asks.
  std::ifstream limit_file("/proc/sys/fs/pipe-max-size");
  size_t limit = 0;
  if (!(limit_file >> limit) || limit != (1u << 20)) {
    GTEST_SKIP() << "pipe-max-size is " << limit << ", not the default 1 MiB";
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capget, &header, data) != 0) _exit(10);
    data[CAP_TO_INDEX(CAP_SYS_RESOURCE)].effective &= ~CAP_TO_MASK(CAP_SYS_RESOURCE);
    if (syscall(SYS_capset, &header, data) != 0) _exit(11);
    // 1 MiB and its header need 259 pages: a 2 MiB pipe.
    if (Session::SpliceableReadSize(1u << 20) != (512u << 10)) _exit(12);
    if (Session::SpliceableReadSize(256u << 10) != (256u << 10)) _exit(13);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10/11: capget/capset failed; 12/13: wrong size";
}

}  // namespace
}  // namespace fusekit
