// libFuzzer target: a whole node-tree server (memfs: nodefs/mem_node.h's
// MemDir behind nodefs/bridge.h's Bridge) fed request sequences through the
// Session over a socketpair, as the kernel would send them.
//
// Arbitrary bytes rarely make a request the bridge accepts, so this target
// builds structurally plausible ones from the input: INIT first, then
// requests whose opcode, names, offsets, sizes and flags come from the input
// and whose node ids and file handles are mostly ones the server handed out
// (LOOKUP, MKDIR, CREATE, READDIRPLUS, OPEN replies), sometimes forgotten or
// random ones. A few requests are raw bytes behind a valid header, or names
// without their NUL, for the decoder's refusals.
//
// Input layout:
//   byte 0       options: bit 0  negative entries cached (Options::negative_timeout)
//                         bit 1  tight limits (64 KiB, 24 inodes: ENOSPC paths)
//                         bit 2  the wire log (DescribeRequest on every request)
//                         bit 3  Options::readdirplus
//   then ops     each a selector byte (which request) and the fields it takes;
//                when the input runs out, the run ends.
//
// Checked after every request (abort() on violation, so libFuzzer keeps the
// input): every reply has a well-formed header, answers a unique the
// "kernel" sent, exactly once (none to FORGET); error replies carry no body
// and an errno in range; success bodies have the opcode's size (directory
// listings parse entry by entry); a node id keeps its st_ino and file type
// for its whole life; the bridge's lookup counts equal the ones this kernel
// holds; the store counts as many nodes as the bridge holds inodes.
// At the end of each input: after RELEASE of every handle and FORGET of
// every lookup, the bridge holds exactly the inodes reachable from the root;
// after unlinking everything, only the root is left and no page of data is
// still counted as used.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
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
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/scoped_fd.h"
#include "fuse/session.h"
#include "nodefs/bridge.h"
#include "nodefs/inode.h"
#include "nodefs/mem_node.h"

namespace fusekit {
namespace {

using abi::Opcode;

void Check(bool condition, const char* what) {
  if (!condition) {
    fprintf(stderr, "tree_fuzzer: invariant violated: %s\n", what);
    abort();
  }
}

void NoLog(absl::string_view) {}

// Hands out the input's bytes; zeros (and empty strings) once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return size_ == 0; }
  uint8_t U8() {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }
  uint16_t U16() { return static_cast<uint16_t>(U8() | U8() << 8); }
  uint32_t U32() { return U16() | static_cast<uint32_t>(U16()) << 16; }
  uint64_t U64() { return U32() | static_cast<uint64_t>(U32()) << 32; }
  std::string Bytes(size_t n) {
    n = std::min(n, size_);
    std::string out(reinterpret_cast<const char*>(data_), n);
    data_ += n;
    size_ -= n;
    return out;
  }
  // Offsets and sizes: small ones mostly, page boundaries, and the extremes
  // where arithmetic overflows.
  uint64_t Offset() {
    switch (U8() % 8) {
      case 0:
        return U8();
      case 1:
        return uint64_t{U8()} * 4096 + (U8() % 3 == 0 ? 4095 : 0);
      case 2:
        return U16();
      case 3:
        return U32();
      case 4:
        return (uint64_t{1} << 63) - 1 - U16();
      case 5:
        return ~uint64_t{0} - U8();
      case 6:
        return uint64_t{1} << (U8() % 64);
      default:
        return U64();
    }
  }

 private:
  const uint8_t* data_;
  size_t size_;
};

// One request frame: header, fixed arguments, names (each NUL-terminated
// unless told otherwise), payload. len is set by Build().
class Frame {
 public:
  Frame(Opcode op, uint64_t unique, uint64_t nodeid) {
    header_.opcode = static_cast<uint32_t>(op);
    header_.unique = unique;
    header_.nodeid = nodeid;
    header_.uid = 1000;
    header_.gid = 1000;
    header_.pid = 4242;
  }
  template <typename T>
  Frame& Arg(const T& value) {
    body_.append(reinterpret_cast<const char*>(&value), sizeof(value));
    return *this;
  }
  Frame& Bytes(absl::string_view bytes) {
    body_.append(bytes.data(), bytes.size());
    return *this;
  }
  Frame& Name(absl::string_view name) {
    Bytes(name);
    body_.push_back('\0');
    return *this;
  }
  std::string Build() {
    header_.len = static_cast<uint32_t>(sizeof(header_) + body_.size());
    std::string out(reinterpret_cast<const char*>(&header_), sizeof(header_));
    return out + body_;
  }

 private:
  abi::fuse_in_header header_{};
  std::string body_;
};

// What this "kernel" knows of a node id the server returned.
struct KnownNode {
  uint64_t ino = 0;
  uint32_t type = 0;     // S_IFMT bits
  uint64_t lookups = 0;  // the count the kernel holds (FORGET gives it back)
};

struct OpenHandle {
  uint64_t nodeid;
  uint64_t fh;
  bool dir;
};

class TreeFuzzer {
 public:
  TreeFuzzer(const uint8_t* data, size_t size) : in_(data, size) {
    const uint8_t flags = in_.U8();
    Options options;
    if (flags & 1) options.negative_timeout = absl::Seconds(1);
    options.readdirplus = (flags & 8) != 0;
    MemFsOptions limits;
    limits.max_bytes = (flags & 2) ? 64 << 10 : 4 << 20;
    limits.max_inodes = (flags & 2) ? 24 : 4096;
    std::unique_ptr<MemDir> root = MemDir::NewRoot(limits);
    store_ = root->store();
    bridge_ = std::make_unique<Bridge>(std::move(root), options);
    InitOptions init = ServerOptionsFor(options).init;
    init.want |= kMemLockCapabilities;
    session_ = std::make_unique<Session>(bridge_.get(), init, (flags & 4) != 0, NoLog);

    int fds[2];
    Check(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) == 0, "socketpair");
    server_end_.reset(fds[0]);
    kernel_end_.reset(fds[1]);
    int buffer = 4 << 20;
    ::setsockopt(server_end_.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
    ::fcntl(server_end_.get(), F_SETFL, O_NONBLOCK);
    nodes_[abi::kRootId] = KnownNode{abi::kRootId, S_IFDIR, 0};
    ids_.push_back(abi::kRootId);
  }

  void Run() {
    abi::fuse_init_in init{};
    init.major = abi::kKernelVersion;
    init.minor = abi::kKernelMinorVersion;
    init.max_readahead = 128 << 10;
    const uint64_t offered = ~abi::kInitReserved;
    init.flags = static_cast<uint32_t>(offered);
    init.flags2 = static_cast<uint32_t>(offered >> 32);
    Call(Frame(Opcode::kInit, NextUnique(), 0).Arg(init));
    Check(session_->initialized(), "INIT accepted");

    for (int ops = 0; !in_.empty() && ops < 2000; ++ops) {
      OneRequest();
      if (session_->destroyed()) break;
    }
    Finish();
  }

 private:
  // --- Drawing ids, handles and names from the input ------------------------
  uint64_t NextUnique() { return unique_ += 2; }

  uint64_t NodeId() {
    uint8_t pick = in_.U8();
    if (pick % 16 == 15) return in_.U64();
    if (pick % 16 == 14) return abi::kRootId;
    return ids_[pick % ids_.size()];
  }
  // A directory id when there is one (most creating requests want one).
  uint64_t DirId() {
    uint8_t pick = in_.U8();
    if (pick % 8 == 7) return NodeId();
    std::vector<uint64_t> dirs;
    for (uint64_t id : ids_) {
      if (nodes_[id].type == S_IFDIR) dirs.push_back(id);
    }
    return dirs[pick % dirs.size()];
  }
  // A handle of the kind asked for (and its node id), or a random one.
  OpenHandle Handle(bool dir) {
    uint8_t pick = in_.U8();
    std::vector<const OpenHandle*> matching;
    for (const OpenHandle& h : handles_) {
      if (h.dir == dir) matching.push_back(&h);
    }
    if (pick % 8 == 7 || matching.empty()) return {NodeId(), in_.U8() % 4 == 0 ? in_.U64() : pick, dir};
    return *matching[pick % matching.size()];
  }
  std::string Name() {
    static const char* const kNames[] = {
        "a", "b", "c", "d", "dir", "file", "x.txt", "\xc3\xa9t\xc3\xa9", "\xff\xfe\x80"};
    uint8_t pick = in_.U8();
    if (pick < 200) return kNames[pick % (sizeof(kNames) / sizeof(kNames[0]))];
    switch (pick % 8) {
      case 0:
        return ".";
      case 1:
        return "..";
      case 2:
        return std::string(255, 'n');
      case 3:
        return std::string(256, 'n');
      case 4:
        return "";
      case 5:
        return "a/b";
      default:
        return in_.Bytes(in_.U8() % 64);  // anything, NULs and '/' included
    }
  }
  std::string XattrName() {
    static const char* const kNames[] = {"user.a", "user.b", "trusted.t", "security.s",
                                         "system.posix_acl_access", "os2.x", "user."};
    uint8_t pick = in_.U8();
    if (pick < 240) return kNames[pick % (sizeof(kNames) / sizeof(kNames[0]))];
    return in_.Bytes(pick % 16);
  }

  // --- Sending and checking -------------------------------------------------
  // Sends one request, reads every reply it caused and checks them; returns
  // the reply to the request itself (empty header: none).
  struct Reply {
    abi::fuse_out_header header{};
    std::string body;
    bool present = false;
  };

  Reply Call(Frame frame) { return CallRaw(frame.Build()); }

  Reply CallRaw(const std::string& bytes) {
    abi::fuse_in_header h{};
    if (bytes.size() >= sizeof(h)) std::memcpy(&h, bytes.data(), sizeof(h));
    const auto op = static_cast<Opcode>(h.opcode);
    const bool silent = op == Opcode::kForget || op == Opcode::kBatchForget ||
                        op == Opcode::kNotifyReply;
    sent_.insert(h.unique);
    if (op == Opcode::kInterrupt) interrupts_.insert(h.unique);

    // An exactly sized, aligned copy, as the server's read buffer is.
    std::unique_ptr<uint8_t[]> message(new uint8_t[std::max<size_t>(bytes.size(), 1)]);
    std::memcpy(message.get(), bytes.data(), bytes.size());
    session_->HandleMessage(server_end_.get(), absl::MakeConstSpan(message.get(), bytes.size()));

    Reply reply;
    for (;;) {
      ssize_t n = ::recv(kernel_end_.get(), buffer_, sizeof(buffer_), MSG_DONTWAIT);
      if (n < 0) {
        Check(errno == EAGAIN || errno == EWOULDBLOCK, "recv");
        break;
      }
      Check(static_cast<size_t>(n) >= sizeof(abi::fuse_out_header), "reply has a header");
      abi::fuse_out_header out;
      std::memcpy(&out, buffer_, sizeof(out));
      Check(out.len == static_cast<uint32_t>(n), "reply len is its size");
      Check(out.error <= 0 && out.error > -4096, "reply error is -errno");
      Check(out.error == 0 || static_cast<size_t>(n) == sizeof(out), "error replies have no body");
      Check(out.unique != 0, "no notification from memfs");
      Check(sent_.count(out.unique) == 1, "reply to a unique the kernel sent");
      Check(answered_.insert(out.unique).second, "one reply per request");
      if (out.unique == h.unique) {
        reply.header = out;
        reply.body.assign(reinterpret_cast<const char*>(buffer_) + sizeof(out), n - sizeof(out));
        reply.present = true;
      } else {
        // Only an INTERRUPT that found no request is answered later (EAGAIN).
        Check(interrupts_.count(out.unique) == 1 && out.error == -EAGAIN,
              "a late reply is an INTERRUPT's EAGAIN");
      }
    }
    if (verbose_) {
      fprintf(stderr, "tree_fuzzer: op %u unique %llu node %llu len %zu -> %s %d (%zu bytes)\n",
              h.opcode, static_cast<unsigned long long>(h.unique),
              static_cast<unsigned long long>(h.nodeid), bytes.size(),
              reply.present ? "reply" : "none", reply.header.error, reply.body.size());
    }
    if (silent) Check(!reply.present, "no reply to FORGET, BATCH_FORGET or NOTIFY_REPLY");
    if (!silent && op != Opcode::kInterrupt && bytes.size() >= sizeof(h)) {
      Check(reply.present, "every request is answered");
    }
    if (reply.present && reply.header.error == 0) Parse(op, h, bytes, reply);
    CheckCounts();
    return reply;
  }

  // A node id the server returned in an entry: the same st_ino and type for
  // its whole life; the kernel now holds one more lookup.
  void SawEntry(const abi::fuse_entry_out& e, uint32_t want_type) {
    if (e.nodeid == 0) return;  // negative entry: not counted
    Check(e.nodeid != abi::kRootId, "no entry for the root");
    const uint32_t type = e.attr.mode & S_IFMT;
    Check(want_type == 0 || type == want_type, "entry of the type created");
    auto [it, added] = nodes_.try_emplace(e.nodeid, KnownNode{e.attr.ino, type, 0});
    Check(it->second.ino == e.attr.ino, "a node id keeps its st_ino");
    Check(it->second.type == type, "a node id keeps its file type");
    if (added) ids_.push_back(e.nodeid);
    it->second.lookups++;
  }

  void SawAttr(uint64_t nodeid, const abi::fuse_attr& attr) {
    auto it = nodes_.find(nodeid);
    if (it == nodes_.end()) return;  // an id the kernel never looked up
    Check(it->second.ino == attr.ino, "attributes keep st_ino");
    Check(it->second.type == (attr.mode & S_IFMT), "attributes keep the file type");
  }

  // A created entry is in the tree under the name sent: a later LOOKUP or
  // listing finds what the kernel was told.
  void CheckInTree(uint64_t parent, const std::string& request, Opcode op, uint64_t nodeid) {
    size_t arg = op == Opcode::kMknod    ? sizeof(abi::fuse_mknod_in)
                 : op == Opcode::kMkdir  ? sizeof(abi::fuse_mkdir_in)
                 : op == Opcode::kLink   ? sizeof(abi::fuse_link_in)
                 : op == Opcode::kCreate ? sizeof(abi::fuse_create_in)
                                         : 0;
    absl::string_view rest(request);
    rest.remove_prefix(std::min(rest.size(), sizeof(abi::fuse_in_header) + arg));
    absl::string_view name = rest.substr(0, rest.find('\0'));
    std::shared_ptr<Inode> dir = bridge_->FindInode(parent);
    Check(dir != nullptr, "the directory created in is alive");
    Inode* child = dir->GetChild(name);
    Check(child != nullptr && child->node_id() == nodeid, "a created entry is in the tree");
  }

  void ParseDirents(const std::string& body, uint32_t size, bool plus) {
    Check(body.size() <= size, "listing fits the buffer");
    size_t at = 0;
    uint64_t last_off = 0;
    const size_t fixed = plus ? sizeof(abi::fuse_direntplus) : sizeof(abi::fuse_dirent);
    while (at < body.size()) {
      Check(body.size() - at >= fixed, "whole dirent header");
      abi::fuse_dirent d;
      std::memcpy(&d, body.data() + at + fixed - sizeof(d), sizeof(d));
      Check(d.namelen >= 1 && d.namelen <= 255, "dirent name length");
      const size_t len = (fixed + d.namelen + 7) & ~size_t{7};
      Check(body.size() - at >= len, "whole dirent");
      absl::string_view name(body.data() + at + fixed, d.namelen);
      Check(name.find('/') == absl::string_view::npos && name.find('\0') == absl::string_view::npos,
            "dirent names have no '/' or NUL");
      Check(d.off > last_off, "dirent offsets increase");
      last_off = d.off;
      if (plus) {
        abi::fuse_entry_out e;
        std::memcpy(&e, body.data() + at, sizeof(e));
        if (name == "." || name == "..") {
          Check(e.nodeid == 0, "no lookup for . and ..");
        } else {
          SawEntry(e, 0);
        }
      }
      at += len;
    }
  }

  void Parse(Opcode op, const abi::fuse_in_header& h, const std::string& request,
             const Reply& reply) {
    const std::string& b = reply.body;
    auto arg = [&](auto* out) {
      std::memset(out, 0, sizeof(*out));
      size_t n = std::min(sizeof(*out), request.size() - sizeof(h));
      std::memcpy(out, request.data() + sizeof(h), n);
    };
    switch (op) {
      case Opcode::kLookup:
      case Opcode::kMknod:
      case Opcode::kMkdir:
      case Opcode::kSymlink:
      case Opcode::kLink: {
        Check(b.size() == sizeof(abi::fuse_entry_out), "entry reply size");
        abi::fuse_entry_out e;
        std::memcpy(&e, b.data(), sizeof(e));
        Check(e.nodeid != 0 || op == Opcode::kLookup, "created entries have a node id");
        uint32_t type = op == Opcode::kMkdir ? S_IFDIR : op == Opcode::kSymlink ? S_IFLNK : 0;
        if (op == Opcode::kLink) {
          abi::fuse_link_in link;
          arg(&link);
          Check(e.nodeid == link.oldnodeid, "a hard link is the same node");
        }
        SawEntry(e, type);
        if (op != Opcode::kLookup) CheckInTree(h.nodeid, request, op, e.nodeid);
        break;
      }
      case Opcode::kCreate: {
        Check(b.size() == sizeof(abi::fuse_entry_out) + sizeof(abi::fuse_open_out),
              "create reply size");
        abi::fuse_entry_out e;
        abi::fuse_open_out o;
        std::memcpy(&e, b.data(), sizeof(e));
        std::memcpy(&o, b.data() + sizeof(e), sizeof(o));
        Check(e.nodeid != 0, "created file has a node id");
        SawEntry(e, S_IFREG);
        CheckInTree(h.nodeid, request, op, e.nodeid);
        handles_.push_back({e.nodeid, o.fh, false});
        break;
      }
      case Opcode::kGetattr:
      case Opcode::kSetattr: {
        Check(b.size() == sizeof(abi::fuse_attr_out), "attr reply size");
        abi::fuse_attr_out a;
        std::memcpy(&a, b.data(), sizeof(a));
        SawAttr(h.nodeid, a.attr);
        break;
      }
      case Opcode::kOpen:
      case Opcode::kOpendir: {
        Check(b.size() == sizeof(abi::fuse_open_out), "open reply size");
        abi::fuse_open_out o;
        std::memcpy(&o, b.data(), sizeof(o));
        handles_.push_back({h.nodeid, o.fh, op == Opcode::kOpendir});
        break;
      }
      case Opcode::kRead: {
        abi::fuse_read_in r;
        arg(&r);
        Check(b.size() <= r.size, "read returns at most size bytes");
        break;
      }
      case Opcode::kWrite: {
        abi::fuse_write_in w;
        arg(&w);
        Check(b.size() == sizeof(abi::fuse_write_out), "write reply size");
        abi::fuse_write_out o;
        std::memcpy(&o, b.data(), sizeof(o));
        Check(o.size <= w.size, "wrote at most what was sent");
        break;
      }
      case Opcode::kStatfs:
        Check(b.size() == sizeof(abi::fuse_statfs_out), "statfs reply size");
        break;
      case Opcode::kGetxattr:
      case Opcode::kListxattr: {
        abi::fuse_getxattr_in g;
        arg(&g);
        if (g.size == 0) {
          Check(b.size() == sizeof(abi::fuse_getxattr_out), "xattr size probe reply");
        } else {
          Check(b.size() <= g.size, "xattr value fits");
        }
        break;
      }
      case Opcode::kReaddir:
      case Opcode::kReaddirplus: {
        abi::fuse_read_in r;
        arg(&r);
        ParseDirents(b, r.size, op == Opcode::kReaddirplus);
        break;
      }
      case Opcode::kLseek:
        Check(b.size() == 8, "lseek reply size");
        break;
      case Opcode::kGetlk:
        Check(b.size() == 24, "getlk reply size");
        break;
      case Opcode::kRelease:
      case Opcode::kReleasedir:
      case Opcode::kUnlink:
      case Opcode::kRmdir:
      case Opcode::kRename:
      case Opcode::kRename2:
      case Opcode::kSetxattr:
      case Opcode::kRemovexattr:
      case Opcode::kFlush:
      case Opcode::kFsync:
      case Opcode::kFsyncdir:
      case Opcode::kSetlk:
      case Opcode::kAccess:
      case Opcode::kFallocate:
        Check(b.empty(), "empty reply");
        break;
      default:
        break;
    }
  }

  // The bridge's books equal this kernel's, and the store's node count the
  // bridge's inode table (each inode owns one memfs node).
  void CheckCounts() {
    Check(store_->inodes() == bridge_->InodeCount(), "store nodes == bridge inodes");
    if (hostile_) return;
    for (auto& [id, count] : bridge_->LookupCounts()) {
      if (id == abi::kRootId) continue;
      auto it = nodes_.find(id);
      uint64_t held = it == nodes_.end() ? 0 : it->second.lookups;
      if (count != held) {
        fprintf(stderr, "tree_fuzzer: node %llu: bridge %llu, kernel %llu\n",
                static_cast<unsigned long long>(id), static_cast<unsigned long long>(count),
                static_cast<unsigned long long>(held));
      }
      Check(count == held, "bridge lookup count == the kernel's");
    }
    for (auto& [id, node] : nodes_) {
      if (id == abi::kRootId || node.lookups == 0) continue;
      Check(bridge_->FindInode(id) != nullptr, "a node the kernel holds is alive");
    }
  }

  void Forget(uint64_t nodeid, uint64_t n) {
    auto it = nodes_.find(nodeid);
    if (it != nodes_.end()) it->second.lookups -= std::min(n, it->second.lookups);
  }

  // --- One request from the input -------------------------------------------
  void OneRequest() {
    const uint8_t pick = in_.U8();
    switch (pick % 44) {
      case 0:
      case 1:
        Call(Frame(Opcode::kLookup, NextUnique(), DirId()).Name(Name()));
        break;
      case 2: {  // FORGET of (part of) what the kernel holds, rarely a wrong one
        uint64_t id = NodeId();
        uint64_t held = nodes_.count(id) ? nodes_[id].lookups : 0;
        uint64_t n = held == 0 ? 0 : 1 + in_.U8() % held;
        if (n == 0 || in_.U8() % 32 == 0) {
          n = in_.U8() % 4 == 0 ? in_.U64() : 1 + in_.U8() % 4;
          hostile_ = hostile_ || id != abi::kRootId;
        }
        if (id != abi::kRootId) Forget(id, n);  // before the call checks the books
        Call(Frame(Opcode::kForget, NextUnique(), id).Arg(abi::fuse_forget_in{n}));
        break;
      }
      case 3: {  // BATCH_FORGET of several held ids
        Frame f(Opcode::kBatchForget, NextUnique(), 0);
        std::vector<abi::fuse_forget_one> list;
        for (int i = in_.U8() % 5; i >= 0; --i) {
          uint64_t id = NodeId();
          uint64_t held = nodes_.count(id) ? nodes_[id].lookups : 0;
          if (held == 0 || id == abi::kRootId) continue;
          // Counted out here: the same id twice in one batch stays within.
          uint64_t n = 1 + in_.U8() % held;
          list.push_back({id, n});
          Forget(id, n);
        }
        f.Arg(abi::fuse_batch_forget_in{static_cast<uint32_t>(list.size()), 0});
        for (const auto& one : list) f.Arg(one);
        Call(std::move(f));
        break;
      }
      case 4: {
        abi::fuse_getattr_in g{};
        OpenHandle h = Handle(false);
        if (in_.U8() & 1) {
          g.getattr_flags = abi::kGetattrFh;
          g.fh = h.fh;
        }
        Call(Frame(Opcode::kGetattr, NextUnique(), in_.U8() & 1 ? h.nodeid : NodeId()).Arg(g));
        break;
      }
      case 5: {
        abi::fuse_setattr_in s{};
        s.valid = in_.U16() & 0xfff;
        OpenHandle h = Handle(false);
        s.fh = h.fh;
        s.size = in_.Offset();
        s.mode = in_.U16();
        s.uid = in_.U8();
        s.gid = in_.U8();
        s.atime = in_.U32();
        s.mtime = in_.U32();
        s.ctime = in_.U32();
        s.atimensec = in_.U32();
        s.mtimensec = in_.U32() % 1000000000;
        s.lock_owner = in_.U8();
        Call(Frame(Opcode::kSetattr, NextUnique(), s.valid & abi::kFattrFh ? h.nodeid : NodeId())
                 .Arg(s));
        break;
      }
      case 6:
        Call(Frame(Opcode::kReadlink, NextUnique(), NodeId()));
        break;
      case 7: {
        std::string name = Name();
        std::string target = in_.U8() % 2 ? "../target" : in_.Bytes(in_.U8());
        Call(Frame(Opcode::kSymlink, NextUnique(), DirId()).Name(name).Name(target));
        break;
      }
      case 8: {
        static const uint32_t kTypes[] = {S_IFREG, S_IFIFO, S_IFCHR, S_IFBLK, S_IFSOCK, 0,
                                          S_IFDIR, S_IFLNK};
        abi::fuse_mknod_in m{};
        uint8_t t = in_.U8();
        m.mode = kTypes[t % 8] | (in_.U16() & 07777);
        m.rdev = in_.U32();
        m.umask = 022;
        Call(Frame(Opcode::kMknod, NextUnique(), DirId()).Arg(m).Name(Name()));
        break;
      }
      case 9:
      case 10: {
        abi::fuse_mkdir_in m{};
        m.mode = in_.U16() & 07777;
        m.umask = 022;
        Call(Frame(Opcode::kMkdir, NextUnique(), DirId()).Arg(m).Name(Name()));
        break;
      }
      case 11:
        Call(Frame(Opcode::kUnlink, NextUnique(), DirId()).Name(Name()));
        break;
      case 12:
        Call(Frame(Opcode::kRmdir, NextUnique(), DirId()).Name(Name()));
        break;
      case 13: {
        uint64_t from = DirId();
        std::string name = Name();
        abi::fuse_rename_in r{DirId()};
        Call(Frame(Opcode::kRename, NextUnique(), from).Arg(r).Name(name).Name(Name()));
        break;
      }
      case 14: {
        uint64_t from = DirId();
        std::string name = Name();
        abi::fuse_rename2_in r{};
        r.newdir = DirId();
        static const uint32_t kFlags[] = {0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT,
                                          RENAME_NOREPLACE | RENAME_EXCHANGE};
        uint8_t f = in_.U8();
        r.flags = f < 250 ? kFlags[f % 5] : in_.U32();
        Call(Frame(Opcode::kRename2, NextUnique(), from).Arg(r).Name(name).Name(Name()));
        break;
      }
      case 15: {
        abi::fuse_link_in l{NodeId()};
        Call(Frame(Opcode::kLink, NextUnique(), DirId()).Arg(l).Name(Name()));
        break;
      }
      case 16: {
        static const uint32_t kAccess[] = {O_RDONLY, O_WRONLY, O_RDWR, O_RDWR | O_APPEND,
                                           O_WRONLY | O_TRUNC, O_RDONLY | O_DIRECTORY};
        abi::fuse_open_in o{};
        o.flags = kAccess[in_.U8() % 6];
        Call(Frame(Opcode::kOpen, NextUnique(), NodeId()).Arg(o));
        break;
      }
      case 17:
      case 18: {
        OpenHandle h = Handle(false);
        abi::fuse_read_in r{};
        r.fh = h.fh;
        r.offset = in_.Offset();
        r.size = 1 + in_.U32() % (128 << 10);
        Call(Frame(Opcode::kRead, NextUnique(), h.nodeid).Arg(r));
        break;
      }
      case 19:
      case 20: {
        OpenHandle h = Handle(false);
        abi::fuse_write_in w{};
        w.fh = h.fh;
        w.offset = in_.Offset();
        std::string data = in_.Bytes(in_.U16() % 9000);
        w.size = static_cast<uint32_t>(data.size());
        Call(Frame(Opcode::kWrite, NextUnique(), h.nodeid).Arg(w).Bytes(data));
        break;
      }
      case 21:
        Call(Frame(Opcode::kStatfs, NextUnique(), NodeId()));
        break;
      case 22:
      case 23: {
        OpenHandle h = Handle(pick % 44 == 23);
        abi::fuse_release_in r{};
        r.fh = h.fh;
        r.release_flags = in_.U8() & abi::kReleaseFlockUnlock;
        r.lock_owner = in_.U8();
        Reply reply = Call(Frame(h.dir ? Opcode::kReleasedir : Opcode::kRelease, NextUnique(),
                                 h.nodeid)
                               .Arg(r));
        if (reply.present && reply.header.error == 0) Closed(h.fh);
        break;
      }
      case 24: {
        OpenHandle h = Handle(false);
        abi::fuse_fsync_in f{h.fh, in_.U8() & 1u, 0};
        Call(Frame(Opcode::kFsync, NextUnique(), h.nodeid).Arg(f));
        break;
      }
      case 25: {
        abi::fuse_setxattr_in s{};
        std::string name = XattrName();
        std::string value = in_.Bytes(in_.U8() % 80);
        s.size = static_cast<uint32_t>(value.size());
        s.flags = in_.U8() % 4;  // 0, XATTR_CREATE, XATTR_REPLACE, both
        std::string arg(reinterpret_cast<const char*>(&s), abi::kCompatSetxattrInSize);
        Call(Frame(Opcode::kSetxattr, NextUnique(), NodeId()).Bytes(arg).Name(name).Bytes(value));
        break;
      }
      case 26: {
        abi::fuse_getxattr_in g{};
        g.size = in_.U8() % 3 == 0 ? 0 : in_.U8();
        Call(Frame(Opcode::kGetxattr, NextUnique(), NodeId()).Arg(g).Name(XattrName()));
        break;
      }
      case 27: {
        abi::fuse_getxattr_in g{};
        g.size = in_.U8() % 3 == 0 ? 0 : in_.U8();
        Call(Frame(Opcode::kListxattr, NextUnique(), NodeId()).Arg(g));
        break;
      }
      case 28:
        Call(Frame(Opcode::kRemovexattr, NextUnique(), NodeId()).Name(XattrName()));
        break;
      case 29: {
        OpenHandle h = Handle(false);
        abi::fuse_flush_in f{};
        f.fh = h.fh;
        f.lock_owner = in_.U8();
        Call(Frame(Opcode::kFlush, NextUnique(), h.nodeid).Arg(f));
        break;
      }
      case 30: {
        abi::fuse_open_in o{};
        o.flags = O_RDONLY | O_DIRECTORY;
        Call(Frame(Opcode::kOpendir, NextUnique(), in_.U8() % 4 ? DirId() : NodeId()).Arg(o));
        break;
      }
      case 31:
      case 32: {
        OpenHandle h = Handle(true);
        abi::fuse_read_in r{};
        r.fh = h.fh;
        r.offset = in_.U8() % 4 == 0 ? in_.Offset() : in_.U8() % 8;
        r.size = 1 + in_.U16() % 8192;
        Call(Frame(pick % 44 == 31 ? Opcode::kReaddir : Opcode::kReaddirplus, NextUnique(),
                   h.nodeid)
                 .Arg(r));
        break;
      }
      case 33: {
        OpenHandle h = Handle(true);
        abi::fuse_fsync_in f{h.fh, 0, 0};
        Call(Frame(Opcode::kFsyncdir, NextUnique(), h.nodeid).Arg(f));
        break;
      }
      case 34:
      case 35: {  // GETLK or SETLK (never SETLKW: one thread, it would wait)
        OpenHandle h = Handle(false);
        abi::fuse_lk_in l{};
        l.fh = h.fh;
        l.owner = in_.U8() % 4;
        l.lk.start = in_.Offset();
        l.lk.end = in_.U8() % 2 ? ~uint64_t{0} >> 1 : in_.Offset();
        static const uint32_t kTypes[] = {F_RDLCK, F_WRLCK, F_UNLCK, 7};
        l.lk.type = kTypes[in_.U8() % 4];
        l.lk.pid = in_.U8();
        l.lk_flags = in_.U8() % 3 == 0 ? abi::kLkFlock : 0;
        Call(Frame(pick % 44 == 34 ? Opcode::kGetlk : Opcode::kSetlk, NextUnique(), h.nodeid)
                 .Arg(l));
        break;
      }
      case 36: {
        abi::fuse_create_in c{};
        static const uint32_t kFlags[] = {O_RDWR, O_WRONLY | O_EXCL, O_RDWR | O_TRUNC,
                                          O_WRONLY | O_APPEND, O_RDONLY};
        c.flags = kFlags[in_.U8() % 5] | O_CREAT;
        c.mode = S_IFREG | (in_.U16() & 07777);
        c.umask = 022;
        Call(Frame(Opcode::kCreate, NextUnique(), DirId()).Arg(c).Name(Name()));
        break;
      }
      case 37: {
        OpenHandle h = Handle(false);
        abi::fuse_fallocate_in f{};
        f.fh = h.fh;
        f.offset = in_.Offset();
        f.length = in_.Offset();
        static const uint32_t kModes[] = {0, FALLOC_FL_KEEP_SIZE,
                                          FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                                          FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE, 0xff};
        f.mode = kModes[in_.U8() % 6];
        Call(Frame(Opcode::kFallocate, NextUnique(), h.nodeid).Arg(f));
        break;
      }
      case 38: {
        OpenHandle h = Handle(false);
        abi::fuse_lseek_in l{};
        l.fh = h.fh;
        l.offset = in_.Offset();
        l.whence = in_.U8() % 6;  // SEEK_SET .. SEEK_HOLE, and one past
        Call(Frame(Opcode::kLseek, NextUnique(), h.nodeid).Arg(l));
        break;
      }
      case 39: {
        OpenHandle from = Handle(false);
        OpenHandle to = Handle(false);
        abi::fuse_copy_file_range_in c{};
        c.fh_in = from.fh;
        c.off_in = in_.Offset();
        c.nodeid_out = to.nodeid;
        c.fh_out = to.fh;
        c.off_out = in_.Offset();
        c.len = in_.Offset();
        Call(Frame(in_.U8() & 1 ? Opcode::kCopyFileRange : Opcode::kCopyFileRange64, NextUnique(),
                   from.nodeid)
                 .Arg(c));
        break;
      }
      case 40: {
        switch (in_.U8() % 4) {
          case 0: {
            abi::fuse_statx_in s{};
            s.sx_mask = in_.U32();
            Call(Frame(Opcode::kStatx, NextUnique(), NodeId()).Arg(s));
            break;
          }
          case 1: {
            abi::fuse_access_in a{in_.U8() % 8u, 0};
            Call(Frame(Opcode::kAccess, NextUnique(), NodeId()).Arg(a));
            break;
          }
          case 2: {
            OpenHandle h = Handle(false);
            abi::fuse_poll_in p{h.fh, 1, 0, in_.U32()};
            Call(Frame(Opcode::kPoll, NextUnique(), h.nodeid).Arg(p));
            break;
          }
          default: {
            OpenHandle h = Handle(false);
            abi::fuse_ioctl_in i{};
            i.fh = h.fh;
            i.cmd = in_.U32();
            std::string data = in_.Bytes(in_.U8() % 32);
            i.in_size = static_cast<uint32_t>(data.size());
            i.out_size = in_.U8();
            Call(Frame(Opcode::kIoctl, NextUnique(), h.nodeid).Arg(i).Bytes(data));
            break;
          }
        }
        break;
      }
      case 41: {  // INTERRUPT of an earlier (finished) request or of the next one
        uint64_t unique = NextUnique() | 1;
        uint64_t target = in_.U8() & 1 ? unique_ + 2 : unique_ - 2 - 2 * (in_.U8() % 4);
        Call(Frame(Opcode::kInterrupt, unique, 0).Arg(abi::fuse_interrupt_in{target}));
        break;
      }
      case 42: {  // a name-taking request whose name lacks its NUL, or is cut
        static const Opcode kOps[] = {Opcode::kLookup, Opcode::kUnlink, Opcode::kRmdir,
                                      Opcode::kMkdir, Opcode::kSymlink, Opcode::kRename};
        Opcode op = kOps[in_.U8() % 6];
        Frame f(op, NextUnique(), DirId());
        if (op == Opcode::kMkdir) f.Arg(abi::fuse_mkdir_in{0755, 0});
        if (op == Opcode::kRename) f.Arg(abi::fuse_rename_in{abi::kRootId});
        f.Bytes(in_.U8() % 2 ? "abc" : std::string(300, 'x'));
        if (op == Opcode::kSymlink || op == Opcode::kRename) f.Name("x").Bytes("y");
        Call(std::move(f));
        break;
      }
      default: {  // raw bytes behind a valid header: any opcode the kernel may send
        static const Opcode kOps[] = {
            Opcode::kLookup,  Opcode::kGetattr,  Opcode::kSetattr,   Opcode::kMknod,
            Opcode::kMkdir,   Opcode::kRename2,  Opcode::kLink,      Opcode::kOpen,
            Opcode::kRead,    Opcode::kWrite,    Opcode::kSetxattr,  Opcode::kReaddirplus,
            Opcode::kCreate,  Opcode::kIoctl,    Opcode::kFallocate, Opcode::kLseek,
            Opcode::kStatx,   Opcode::kTmpfile,  Opcode::kBmap,      Opcode::kSyncfs,
            Opcode::kSetupMapping, Opcode::kNotifyReply, Opcode::kInit};
        Opcode op = kOps[in_.U8() % (sizeof(kOps) / sizeof(kOps[0]))];
        Frame f(op, NextUnique(), NodeId());
        f.Bytes(in_.Bytes(in_.U8() % 160));
        std::string bytes = f.Build();
        Reply reply = CallRaw(bytes);
        (void)reply;
        break;
      }
    }
  }

  void Closed(uint64_t fh) {
    for (auto it = handles_.begin(); it != handles_.end(); ++it) {
      if (it->fh == fh) {
        handles_.erase(it);
        return;
      }
    }
  }

  // --- The end of an input ---------------------------------------------------
  void Finish() {
    if (!session_->destroyed()) {
      // Close what the kernel holds open, then give back every lookup.
      std::vector<OpenHandle> open = handles_;
      for (const OpenHandle& h : open) {
        abi::fuse_release_in r{};
        r.fh = h.fh;
        Call(Frame(h.dir ? Opcode::kReleasedir : Opcode::kRelease, NextUnique(), h.nodeid).Arg(r));
      }
      handles_.clear();
      Frame f(Opcode::kBatchForget, NextUnique(), 0);
      std::vector<abi::fuse_forget_one> list;
      for (auto& [id, node] : nodes_) {
        if (id != abi::kRootId && node.lookups > 0) list.push_back({id, node.lookups});
      }
      f.Arg(abi::fuse_batch_forget_in{static_cast<uint32_t>(list.size()), 0});
      for (const auto& one : list) {
        f.Arg(one);
        Forget(one.nodeid, one.nlookup);
      }
      Call(std::move(f));
    }
    if (!hostile_ && !session_->destroyed()) {
      for (auto& [id, count] : bridge_->LookupCounts()) {
        Check(id == abi::kRootId || count == 0, "no lookup count left after forgetting all");
      }
      // Nothing else holds an inode: the table is exactly the tree.
      std::set<Inode*> reachable;
      std::vector<Inode*> todo = {bridge_->root()};
      while (!todo.empty()) {
        Inode* at = todo.back();
        todo.pop_back();
        if (!reachable.insert(at).second) continue;
        for (auto& [name, child] : at->Children()) todo.push_back(child);
      }
      Check(bridge_->InodeCount() == reachable.size(), "inode table == the tree");
    }
    // Empty the tree (as `rm -rf` would, without the kernel): only the root
    // may be left, holding no data.
    if (!hostile_ && !session_->destroyed()) {
      for (auto& [name, child] : bridge_->root()->Children()) bridge_->root()->RmChild(name);
      Check(bridge_->InodeCount() == 1, "only the root left");
      Check(store_->inodes() == 1, "the store counts only the root");
      Check(store_->used_pages() == 0, "no data left");
    }
    session_.reset();
    bridge_.reset();
  }

  Input in_;
  std::shared_ptr<MemStore> store_;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Session> session_;
  ScopedFd server_end_;
  ScopedFd kernel_end_;
  uint64_t unique_ = 0;
  std::set<uint64_t> sent_;
  std::set<uint64_t> answered_;
  std::set<uint64_t> interrupts_;
  std::map<uint64_t, KnownNode> nodes_;
  std::vector<uint64_t> ids_;  // every node id seen, in order (forgotten ones too)
  std::vector<OpenHandle> handles_;
  // A FORGET of more than the kernel held (or of an unknown id): the
  // bridge clamps, and the two sets of books may differ from then on.
  bool hostile_ = false;
  // TREE_FUZZER_VERBOSE=1: one line per request, to read a crashing input.
  const bool verbose_ = getenv("TREE_FUZZER_VERBOSE") != nullptr;
  static uint8_t buffer_[2 << 20];
};

uint8_t TreeFuzzer::buffer_[2 << 20];

}  // namespace
}  // namespace fusekit

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fusekit::TreeFuzzer(data, size).Run();
  return 0;
}

// Every UBSan finding is fatal, also when run by hand or as the regression
// test. Unused without the sanitizer.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
