// libFuzzer target: a whole connection through Session::HandleMessage.
//
// Input layout:
//   byte 0      protocol minor the INIT offers (values past 45 mean 45)
//   bytes 1..8  the INIT flags offered (flags | flags2 << 32, little-endian)
//   byte 9      options:
//                 bit 0  InitOptions.interrupts
//                 bit 1  want every capability (else InitOptions' default)
//                 bit 2  no synthesized INIT: the first frame must be one
//                 bit 3  debug (the wire log: DescribeRequest on every request)
//                 bits 4..7  max_write = 4 KiB << (value % 9)
//   then frames, each: a 2-byte little-endian prefix and that many bytes.
//                 prefix bits 0..14  frame length
//                 prefix bit 15      keep the frame's header.len as given;
//                                    when clear it is set to the frame's size
// Each frame is copied into a buffer of exactly its size (16-byte aligned,
// like the server's read buffer) and handed to HandleMessage. Replies go to a
// non-blocking SOCK_SEQPACKET socketpair that is drained after every message
// and every reply is checked: well-formed header, len equal to the bytes
// written, an errno in range and no body with it, a unique the "kernel"
// actually sent, and no reply at all to FORGET, BATCH_FORGET, NOTIFY_REPLY.
//
// The filesystem answers every opcode plausibly (entries, attributes, data,
// directory listings, xattrs, locks...), and by node id sometimes with an
// error, a dropped reply (the core answers EIO), a second reply (refused) or,
// for SETLKW, a deferred reply that an INTERRUPT answers EINTR and FSYNCDIR or
// the end of the input answers OK.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"
#include "fuse/raw_filesystem.h"
#include "fuse/reply.h"
#include "fuse/scoped_fd.h"
#include "fuse/session.h"

namespace fusekit {
namespace {

void Check(bool condition, const char* what) {
  if (!condition) {
    fprintf(stderr, "session_fuzzer: invariant violated: %s\n", what);
    abort();
  }
}

volatile uint64_t g_sink;

uint64_t Sum(const void* data, size_t size) {
  const volatile uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum += p[i];
  return sum;
}
uint64_t Sum(absl::string_view s) { return Sum(s.data(), s.size()); }
uint64_t Sum(absl::Span<const uint8_t> s) { return Sum(s.data(), s.size()); }

constexpr size_t kFileSize = 96 * 1024;
uint8_t g_file_data[kFileSize];

abi::fuse_attr MakeAttr(uint64_t ino) {
  abi::fuse_attr attr{};
  attr.ino = ino;
  attr.size = kFileSize;
  attr.blocks = kFileSize / 512;
  attr.mode = (ino % 3 == 0 ? S_IFDIR | 0755 : S_IFREG | 0644);
  attr.nlink = 1;
  attr.uid = 1000;
  attr.gid = 1000;
  attr.blksize = 4096;
  return attr;
}

EntryParam MakeEntry(uint64_t nodeid) {
  EntryParam e;
  e.nodeid = nodeid;
  e.generation = 1;
  e.entry_timeout = absl::Seconds(1);
  e.attr_timeout = absl::Milliseconds(1500);
  e.attr = MakeAttr(nodeid);
  return e;
}

uint64_t NodeFor(absl::string_view name) {
  uint64_t h = 1469598103934665603ULL;
  for (char c : name) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ULL;
  return 2 + h % 1000;
}

// A deferred SETLKW reply, shared with its interrupt callback.
struct Deferred {
  std::optional<ReplyEmpty> reply;
};

class FuzzFs : public RawFileSystem {
 public:
  // Answers every deferred reply that is still open.
  void FlushDeferred() {
    std::vector<std::shared_ptr<Deferred>> pending = std::move(deferred_);
    deferred_.clear();
    for (auto& d : pending) {
      if (d->reply && !d->reply->replied()) d->reply->Ok();
    }
  }
  bool has_deferred() const { return !deferred_.empty(); }

  void Init(const ConnectionInfo& info) override { sink_ += info.flags; }
  void Destroy() override { FlushDeferred(); }

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    sink_ += Sum(name);
    if (Unusual(reply, parent)) return;
    if (name == "missing") {
      reply.Entry(MakeEntry(0));  // negative entry
      return;
    }
    Finish(reply, parent, reply.Entry(MakeEntry(NodeFor(name))));
  }
  void Forget(const RequestContext& context, uint64_t nodeid, uint64_t nlookup) override {
    sink_ += nodeid + nlookup + context.supplementary_groups.size();
  }
  void BatchForget(const RequestContext& context,
                   absl::Span<const abi::fuse_forget_one> forgets) override {
    for (const auto& f : forgets) sink_ += f.nodeid + f.nlookup;
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Attr(MakeAttr(nodeid), absl::Seconds(1)));
  }
  void Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in) override {
    if (Unusual(reply, nodeid)) return;
    abi::fuse_attr attr = MakeAttr(nodeid);
    if (in.valid & abi::kFattrSize) attr.size = in.size;
    if (in.valid & abi::kFattrMode) attr.mode = in.mode;
    Finish(reply, nodeid, reply.Attr(attr, absl::InfiniteDuration()));
  }
  void Readlink(ReplyData reply, uint64_t nodeid) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Data(absl::string_view("some/link/target")));
  }
  void Symlink(ReplyEntry reply, uint64_t parent, absl::string_view name,
               absl::string_view target) override {
    sink_ += Sum(name) + Sum(target);
    NewEntry(std::move(reply), parent, name);
  }
  void Mknod(ReplyEntry reply, uint64_t parent, absl::string_view name,
             const abi::fuse_mknod_in& in) override {
    NewEntry(std::move(reply), parent, name);
  }
  void Mkdir(ReplyEntry reply, uint64_t parent, absl::string_view name,
             const abi::fuse_mkdir_in& in) override {
    NewEntry(std::move(reply), parent, name);
  }
  void Unlink(ReplyEmpty reply, uint64_t parent, absl::string_view name) override {
    sink_ += Sum(name);
    Empty(std::move(reply), parent);
  }
  void Rmdir(ReplyEmpty reply, uint64_t parent, absl::string_view name) override {
    sink_ += Sum(name);
    Empty(std::move(reply), parent);
  }
  void Rename(ReplyEmpty reply, uint64_t parent, absl::string_view name, uint64_t new_parent,
              absl::string_view new_name, uint32_t flags) override {
    sink_ += Sum(name) + Sum(new_name) + new_parent + flags;
    Empty(std::move(reply), parent);
  }
  void Link(ReplyEntry reply, uint64_t nodeid, uint64_t new_parent,
            absl::string_view new_name) override {
    NewEntry(std::move(reply), new_parent, new_name);
  }
  void Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override {
    if (Unusual(reply, nodeid)) return;
    OpenParam open;
    open.fh = nodeid * 10;
    open.open_flags = in.flags & 0xff;
    Finish(reply, nodeid, reply.Open(open));
  }
  void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) override {
    if (Unusual(reply, nodeid)) return;
    uint64_t offset = std::min<uint64_t>(in.offset, kFileSize);
    size_t n = std::min<uint64_t>(in.size, kFileSize - offset);
    if (nodeid % 4 == 1 && n > 1) {
      // Two parts through DataIov.
      struct iovec parts[2] = {{g_file_data + offset, n / 2},
                               {g_file_data + offset + n / 2, n - n / 2}};
      Finish(reply, nodeid, reply.DataIov(absl::MakeConstSpan(parts, 2)));
      return;
    }
    Finish(reply, nodeid, reply.Data(absl::MakeConstSpan(g_file_data + offset, n)));
  }
  void Write(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
             absl::Span<const uint8_t> data) override {
    sink_ += Sum(data);
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Written(data.size()));
  }
  void Statfs(ReplyStatfs reply, uint64_t nodeid) override {
    if (Unusual(reply, nodeid)) return;
    abi::fuse_kstatfs st{};
    st.blocks = 1000;
    st.bfree = 500;
    st.bavail = 400;
    st.files = 100;
    st.ffree = 50;
    st.bsize = 4096;
    st.namelen = 255;
    st.frsize = 4096;
    Finish(reply, nodeid, reply.Statfs(st));
  }
  void Release(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Fsync(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Setxattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name,
                absl::Span<const uint8_t> value, const abi::fuse_setxattr_in& in) override {
    sink_ += Sum(name) + Sum(value);
    Empty(std::move(reply), nodeid);
  }
  void Getxattr(ReplyXattr reply, uint64_t nodeid, absl::string_view name,
                uint32_t size) override {
    sink_ += Sum(name);
    XattrValue(std::move(reply), nodeid, size, "a value of the attribute");
  }
  void Listxattr(ReplyXattr reply, uint64_t nodeid, uint32_t size) override {
    XattrValue(std::move(reply), nodeid, size, absl::string_view("user.a\0user.bb\0", 15));
  }
  void Removexattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name) override {
    sink_ += Sum(name);
    Empty(std::move(reply), nodeid);
  }
  void Flush(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_flush_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override {
    if (Unusual(reply, nodeid)) return;
    OpenParam open;
    open.fh = nodeid;
    Finish(reply, nodeid, reply.Open(open));
  }
  void Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) override {
    Directory(std::move(reply), nodeid, in);
  }
  void Readdirplus(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) override {
    Directory(std::move(reply), nodeid, in);
  }
  void Releasedir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Fsyncdir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) override {
    FlushDeferred();
    Empty(std::move(reply), nodeid);
  }
  void Getlk(ReplyLock reply, uint64_t nodeid, const abi::fuse_lk_in& in) override {
    if (Unusual(reply, nodeid)) return;
    abi::fuse_file_lock lock = in.lk;
    lock.type = 2;  // F_UNLCK
    Finish(reply, nodeid, reply.Lock(lock));
  }
  void Setlk(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_lk_in& in, bool wait) override {
    if (!wait || deferred_.size() >= 64) {
      Empty(std::move(reply), nodeid);
      return;
    }
    // Blocks "until the lock is free": answered later, or EINTR on INTERRUPT.
    auto d = std::make_shared<Deferred>();
    d->reply.emplace(std::move(reply));
    sink_ += d->reply->Interrupted();
    std::weak_ptr<Deferred> weak = d;
    d->reply->OnInterrupt([weak] {
      if (auto locked = weak.lock()) {
        if (locked->reply && !locked->reply->replied()) locked->reply->Error(Errno(EINTR));
      }
    });
    deferred_.push_back(std::move(d));
  }
  void Access(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_access_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Create(ReplyCreate reply, uint64_t parent, absl::string_view name,
              const abi::fuse_create_in& in) override {
    sink_ += Sum(name);
    CreateReply(std::move(reply), parent, NodeFor(name));
  }
  void Bmap(ReplyBmap reply, uint64_t nodeid, const abi::fuse_bmap_in& in) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Block(in.block * 2));
  }
  void Ioctl(ReplyIoctl reply, uint64_t nodeid, const abi::fuse_ioctl_in& in,
             absl::Span<const uint8_t> in_data) override {
    sink_ += Sum(in_data);
    if (Unusual(reply, nodeid)) return;
    size_t out = std::min<size_t>(in.out_size, in_data.size());
    Finish(reply, nodeid, reply.Result(static_cast<int32_t>(in.cmd & 0xff), in_data.first(out)));
  }
  void Poll(ReplyPoll reply, uint64_t nodeid, const abi::fuse_poll_in& in) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Events(in.events));
  }
  void Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in) override {
    Empty(std::move(reply), nodeid);
  }
  void Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Offset(in.offset));
  }
  void CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                     const abi::fuse_copy_file_range_in& in) override {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Written(in.len));
  }
  void Statx(ReplyStatx reply, uint64_t nodeid, const abi::fuse_statx_in& in) override {
    if (Unusual(reply, nodeid)) return;
    abi::fuse_statx sx{};
    sx.mask = 0x7ff;
    sx.ino = nodeid;
    sx.size = kFileSize;
    sx.mode = S_IFREG | 0644;
    sx.nlink = 1;
    Finish(reply, nodeid, reply.Statx(sx, absl::Seconds(2)));
  }
  void Tmpfile(ReplyCreate reply, uint64_t parent, const abi::fuse_create_in& in) override {
    CreateReply(std::move(reply), parent, parent + 7);
  }
  void Syncfs(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_syncfs_in& in) override {
    Empty(std::move(reply), nodeid);
  }

  uint64_t sink() const { return sink_; }

 private:
  // By node id: an error, a reply dropped unanswered (the core then answers
  // EIO), an Error(0) (refused as a success without a body: EIO), or normal.
  template <typename R>
  bool Unusual(R& reply, uint64_t nodeid) {
    sink_ += reply.context().uid + reply.context().supplementary_groups.size() +
             reply.Interrupted();
    switch (nodeid % 16) {
      case 13:
        Check(reply.Error(Errno(ENOENT)) != Errno(EINVAL), "first reply accepted");
        return true;
      case 14: {
        R dropped(std::move(reply));
        Check(reply.replied(), "moved-from reply counts as replied");
        return true;
      }
      case 15:
        reply.Error(Errno(0));
        return true;
      default:
        return false;
    }
  }
  // After a successful reply: for some node ids, try a second one, which
  // must be refused.
  template <typename R>
  void Finish(R& reply, uint64_t nodeid, Errno result) {
    Check(reply.replied(), "replied after a reply");
    if (nodeid % 16 == 12) {
      Check(reply.Error(Errno(EIO)) == Errno(EINVAL), "second reply refused");
    }
    sink_ += result.value();
  }
  void Empty(ReplyEmpty reply, uint64_t nodeid) {
    if (Unusual(reply, nodeid)) return;
    Finish(reply, nodeid, reply.Ok());
  }
  void NewEntry(ReplyEntry reply, uint64_t parent, absl::string_view name) {
    sink_ += Sum(name);
    if (Unusual(reply, parent)) return;
    Finish(reply, parent, reply.Entry(MakeEntry(NodeFor(name))));
  }
  void CreateReply(ReplyCreate reply, uint64_t parent, uint64_t nodeid) {
    if (Unusual(reply, parent)) return;
    OpenParam open;
    open.fh = nodeid;
    open.open_flags = abi::kOpenKeepCache;
    Finish(reply, parent, reply.Create(MakeEntry(nodeid), open));
  }
  void XattrValue(ReplyXattr reply, uint64_t nodeid, uint32_t size, absl::string_view value) {
    if (Unusual(reply, nodeid)) return;
    auto bytes = absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(value.data()),
                                           value.size());
    if (size == 0) {
      Finish(reply, nodeid, reply.Size(static_cast<uint32_t>(value.size())));
    } else if (size < value.size()) {
      reply.Error(Errno(ERANGE));
    } else {
      Finish(reply, nodeid, reply.Data(bytes));
    }
  }
  void Directory(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) {
    if (Unusual(reply, nodeid)) return;
    static const char* const kNames[] = {".", "..", "a", "file.txt", "dir",
                                          "a-rather-longer-name-for-padding", "x"};
    constexpr uint64_t kEntries = 40;
    for (uint64_t i = in.offset; i < kEntries; ++i) {
      std::string name = std::string(kNames[i % 7]) + (i >= 7 ? std::to_string(i) : "");
      bool added = reply.plus() ? reply.AddPlus(name, MakeEntry(i < 2 ? 0 : 100 + i), i + 1)
                                : reply.Add(name, 100 + i, (i % 3 == 0 ? S_IFDIR : S_IFREG) >> 12,
                                            i + 1);
      if (!added) {
        Check(!reply.Fits(name), "Add refused only entries that do not fit");
        break;
      }
    }
    // Refused whatever the size: the wrong kind, empty and too long names.
    Check(!(reply.plus() ? reply.Add("y", 1, 0, 99) : reply.AddPlus("y", MakeEntry(1), 99)),
          "Add of the wrong kind refused");
    Check(!reply.Add("", 1, 0, 99) && !reply.AddPlus("", MakeEntry(1), 99),
          "empty name refused");
    Check(!reply.Add(std::string(256, 'n'), 1, 0, 99), "long name refused");
    Finish(reply, nodeid, reply.Send());
  }

  uint64_t sink_ = 0;
  std::vector<std::shared_ptr<Deferred>> deferred_;
};

void NoLog(absl::string_view line) { g_sink = g_sink + line.size(); }

// The socketpair: the session writes to session_fd(), Drain() reads and
// checks everything written so far.
class Channel {
 public:
  Channel() {
    int fds[2];
    Check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
    session_end_.reset(fds[0]);
    kernel_end_.reset(fds[1]);
    // Never block the fuzzer: a full queue makes the reply fail (EAGAIN),
    // which is one more error path.
    ::fcntl(session_end_.get(), F_SETFL, O_NONBLOCK);
    int size = 4 << 20;
    ::setsockopt(session_end_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
  }
  int session_fd() const { return session_end_.get(); }
  void Sent(uint64_t unique) { uniques_.insert(unique); }

  // Reads every pending message; returns how many there were.
  int Drain() {
    int count = 0;
    for (;;) {
      ssize_t n = ::recv(kernel_end_.get(), buffer_, sizeof(buffer_), MSG_DONTWAIT);
      if (n < 0) {
        Check(errno == EAGAIN || errno == EWOULDBLOCK, "recv");
        return count;
      }
      ++count;
      Check(static_cast<size_t>(n) >= sizeof(abi::fuse_out_header), "reply has a header");
      abi::fuse_out_header h;
      std::memcpy(&h, buffer_, sizeof(h));
      Check(h.len == static_cast<uint32_t>(n), "reply len is its size");
      Check(h.error <= 0 && h.error > -4096, "reply error is -errno");
      Check(h.error == 0 || n == sizeof(h), "error replies have no body");
      Check(uniques_.count(h.unique) == 1, "reply to a unique the kernel sent");
      g_sink = g_sink + Sum(buffer_ + sizeof(h), n - sizeof(h));
    }
  }

 private:
  ScopedFd session_end_;
  ScopedFd kernel_end_;
  std::set<uint64_t> uniques_;
  static uint8_t buffer_[2 << 20];  // one for all inputs
};

uint8_t Channel::buffer_[2 << 20];

struct Reader {
  const uint8_t* data;
  size_t size;
  bool Take(size_t n, const uint8_t** out) {
    if (size < n) return false;
    *out = data;
    data += n;
    size -= n;
    return true;
  }
};

void HandleFrame(Session& session, Channel& channel, FuzzFs& fs, const uint8_t* data,
                 size_t size, bool keep_len) {
  std::unique_ptr<uint8_t[]> frame(new uint8_t[size == 0 ? 1 : size]);
  if (size > 0) std::memcpy(frame.get(), data, size);
  if (!keep_len && size >= sizeof(uint32_t)) {
    uint32_t len = static_cast<uint32_t>(size);
    std::memcpy(frame.get(), &len, sizeof(len));
  }
  bool silent = false;  // an opcode the kernel never gets a reply to
  if (size >= sizeof(abi::fuse_in_header)) {
    abi::fuse_in_header h;
    std::memcpy(&h, frame.get(), sizeof(h));
    channel.Sent(h.unique);
    auto op = static_cast<abi::Opcode>(h.opcode);
    silent = op == abi::Opcode::kForget || op == abi::Opcode::kBatchForget ||
             op == abi::Opcode::kNotifyReply;
    // FSYNCDIR answers deferred replies, whose uniques were sent before.
    if (op == abi::Opcode::kFsyncdir) silent = false;
  }
  session.HandleMessage(channel.session_fd(), absl::MakeConstSpan(frame.get(), size));
  int replies = channel.Drain();
  if (silent) Check(replies == 0, "no reply to FORGET, BATCH_FORGET or NOTIFY_REPLY");
}

void RunInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  const uint8_t* config;
  if (!in.Take(10, &config)) return;
  uint32_t minor = std::min<uint32_t>(config[0], abi::kKernelMinorVersion);
  uint64_t offered = 0;
  std::memcpy(&offered, config + 1, sizeof(offered));
  const uint8_t options = config[9];

  InitOptions init;
  init.interrupts = (options & 1) != 0;
  if (options & 2) init.want = ~abi::kInitReserved;
  init.max_write = 4096u << ((options >> 4) % 9);
  const bool raw_init = (options & 4) != 0;
  const bool debug = (options & 8) != 0;

  // A fresh socket per input (the unique set starts empty).
  std::unique_ptr<Channel> channel(new Channel());

  FuzzFs fs;
  {
    Session session(&fs, init, debug, NoLog);
    uint64_t retrieve_sum = 0;
    session.RegisterRetrieve([&retrieve_sum](uint64_t offset, absl::Span<const uint8_t> data) {
      retrieve_sum += offset + Sum(data);
    });
    session.RegisterRetrieve([&retrieve_sum](uint64_t offset, absl::Span<const uint8_t> data) {
      retrieve_sum += offset + data.size();
    });

    if (!raw_init) {
      abi::fuse_init_in init_in{};
      init_in.major = abi::kKernelVersion;
      init_in.minor = minor;
      init_in.max_readahead = 128 * 1024;
      init_in.flags = static_cast<uint32_t>(offered);
      init_in.flags2 = static_cast<uint32_t>(offered >> 32);
      abi::fuse_in_header h{};
      h.len = sizeof(h) + sizeof(init_in);
      h.opcode = static_cast<uint32_t>(abi::Opcode::kInit);
      h.unique = 2;
      uint8_t frame[sizeof(h) + sizeof(init_in)];
      std::memcpy(frame, &h, sizeof(h));
      std::memcpy(frame + sizeof(h), &init_in, sizeof(init_in));
      HandleFrame(session, *channel, fs, frame, sizeof(frame), /*keep_len=*/true);
      Check(session.initialized(), "synthesized INIT accepted");
    }

    const uint8_t* prefix;
    while (in.Take(2, &prefix)) {
      uint16_t word = static_cast<uint16_t>(prefix[0] | prefix[1] << 8);
      size_t len = std::min<size_t>(word & 0x7fff, in.size);
      const uint8_t* frame;
      in.Take(len, &frame);
      HandleFrame(session, *channel, fs, frame, len, (word & 0x8000) != 0);
      if (session.destroyed()) break;
    }
    // The end of the connection: answer what is still waiting.
    fs.FlushDeferred();
    channel->Drain();
    g_sink = g_sink + retrieve_sum + fs.sink();
  }
}

}  // namespace
}  // namespace fusekit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fusekit::RunInput(data, size);
  return 0;
}

// Every UBSan finding is fatal (the build's -fsanitize=undefined would
// otherwise print it and go on), also when the binary is run by hand or as
// the regression test. Unused without the sanitizer.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
