// FakeKernel, receiving side: every message from the server is matched to
// its request, checked (testing/reply_checks.h) and applied to the caches
// the way fs/fuse would; notifications likewise. (Connection, sending and
// audits are in fake_kernel.cc.)
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/opcode.h"
#include "testing/fake_kernel.h"
#include "testing/reply_checks.h"

namespace fusekit {
namespace {

using abi::Opcode;

// FUSE_DEFAULT_MAX_PAGES_PER_REQ and the kernel's default max_pages_limit.
constexpr uint32_t kDefaultMaxPages = 32;
constexpr uint32_t kMaxPagesLimit = 256;
// fs/fuse/inode.c: process_init_reply floors max_write at 4096 bytes (not a
// page) and takes 4096 from kernels before 7.5.
constexpr uint32_t kMinMaxWrite = 4096;

// fs/fuse's fc->no_* bits: after ENOSYS the kernel stops sending these.
bool StickyEnosys(Opcode op) {
  switch (op) {
    case Opcode::kOpen:
    case Opcode::kOpendir:
    case Opcode::kFlush:
    case Opcode::kFsync:
    case Opcode::kFsyncdir:
    case Opcode::kSetxattr:
    case Opcode::kGetxattr:
    case Opcode::kListxattr:
    case Opcode::kRemovexattr:
    case Opcode::kAccess:
    case Opcode::kCreate:
    case Opcode::kLseek:
    case Opcode::kFallocate:
    case Opcode::kCopyFileRange:
    case Opcode::kCopyFileRange64:
    case Opcode::kRename2:
    case Opcode::kSyncfs:
    case Opcode::kPoll:
    case Opcode::kBmap:
    case Opcode::kStatx:
    case Opcode::kTmpfile:
      return true;
    default:
      return false;
  }
}

}  // namespace

void FakeKernel::HandleMessageLocked(absl::string_view message) {
  FuseReply reply;
  if (!DecodeReply(message, &reply)) {
    ViolationLocked(absl::StrFormat(
        "a message of %d bytes, shorter than fuse_out_header (the kernel: EINVAL)",
        message.size()));
    return;
  }
  const uint64_t unique = reply.unique();
  if (reply.header.len != message.size()) {
    ViolationLocked(absl::StrFormat(
        "fuse_out_header.len is %d but the message has %d bytes (unique=%d; the kernel "
        "rejects it with EINVAL and keeps waiting for a reply)",
        reply.header.len, message.size(), unique));
    return;
  }
  if (unique == 0) {
    HandleNotificationLocked(reply);
    return;
  }
  if (auto it = one_way_.find(unique); it != one_way_.end()) {
    trace_.Add(absl::StrFormat("<- reply to %s unique=%d", OpcodeName(static_cast<uint32_t>(it->second)),
                               unique));
    ViolationLocked(absl::StrFormat("a reply to %s unique=%d, which takes no reply",
                                    OpcodeName(static_cast<uint32_t>(it->second)), unique));
    return;
  }
  if (unique & 1) {
    HandleInterruptReplyLocked(reply);
    return;
  }
  auto it = in_flight_.find(unique);
  if (it != in_flight_.end() && !it->second.answered) {
    HandleReplyLocked(it->second, std::move(reply));
    return;
  }
  auto done = answered_.find(unique);
  if (done != answered_.end()) {
    trace_.Add(absl::StrFormat("<- %s unique=%d again", OpcodeName(static_cast<uint32_t>(done->second)),
                               unique));
    ViolationLocked(absl::StrFormat(
        "a second reply to %s unique=%d: each request is answered exactly once (the kernel "
        "no longer knows the unique: ENOENT)",
        OpcodeName(static_cast<uint32_t>(done->second)), unique));
    return;
  }
  if (timed_out_.count(unique)) {
    trace_.Add(absl::StrFormat("<- unique=%d after its timeout", unique));
    return;
  }
  trace_.Add(absl::StrFormat("<- unique=%d (never sent)", unique));
  ViolationLocked(absl::StrFormat(
      "a reply for unique %d, which the kernel never sent (ENOENT)", unique));
}

void FakeKernel::HandleReplyLocked(InFlight& call, FuseReply reply) {
  const uint64_t unique = reply.unique();
  trace_.Add(DescribeReplyLine(call.request, reply));
  answered_[unique] = call.request.opcode;
  std::vector<std::string> problems;
  if (call.request.opcode == Opcode::kInit) {
    HandleInitReplyLocked(reply, &problems);
  } else {
    problems = CheckReply(call.request, reply, connection_.minor, cache_);
  }
  for (const std::string& p : problems) ViolationLocked(p);
  bool directory = call.request.opcode == Opcode::kReaddirplus;
  if (problems.empty() || (directory && reply.header.error == 0)) {
    // READDIRPLUS entries are linked one by one as they are parsed, even
    // when a later one is bad (fuse_direntplus_link).
    ApplyReplyLocked(call, reply);
  }
  call.answered = true;
  // The kernel turns a reply it rejects into EIO for the system call.
  call.reply = problems.empty() ? std::move(reply) : FuseReply::ErrorFor(unique, Errno(EIO));
  CollectLocked();
}

void FakeKernel::HandleInitReplyLocked(const FuseReply& reply,
                                       std::vector<std::string>* problems) {
  if (reply.header.error != 0) {
    problems->push_back(absl::StrCat("INIT failed with ", DescribeErrno(reply.error()),
                                     ": the mount would fail"));
    return;
  }
  // fs/fuse/inode.c: process_init_reply() reads up to a fuse_init_out;
  // less than major and minor is unusable.
  if (reply.body.size() < abi::kCompatInitOutSize || reply.body.size() > sizeof(abi::fuse_init_out)) {
    problems->push_back(absl::StrFormat("INIT reply of %d bytes (expected 8..64)",
                                        reply.body.size()));
    return;
  }
  abi::fuse_init_out out = reply.As<abi::fuse_init_out>();
  if (out.major != abi::kKernelVersion) {
    problems->push_back(absl::StrFormat(
        "INIT reply with protocol major %d; the kernel offered %d (process_init_reply: the "
        "connection fails)",
        out.major, abi::kKernelVersion));
    return;
  }
  uint32_t minor = std::min(out.minor, options_.minor);
  uint64_t offered = options_.init_flags;
  if (options_.minor < 36) offered &= 0xffffffffULL & ~abi::kInitExt;
  uint64_t granted = out.flags;
  if (minor >= 36 && (out.flags & abi::kInitExt)) granted |= static_cast<uint64_t>(out.flags2) << 32;
  uint64_t extra = granted & ~offered & ~abi::kInitExt;
  if (extra != 0) {
    problems->push_back(absl::StrFormat(
        "INIT reply grants flags the kernel did not offer: %#x", extra));
  }
  ConnectionInfo info;
  info.major = abi::kKernelVersion;
  info.minor = minor;
  info.kernel_flags = offered;
  info.flags = granted & offered;
  info.max_readahead = std::min(out.max_readahead, options_.max_readahead);
  info.max_write = std::max<uint32_t>(kMinMaxWrite, minor < 5 ? kMinMaxWrite : out.max_write);
  info.max_pages = (info.flags & abi::kInitMaxPages)
                       ? static_cast<uint16_t>(std::clamp<uint32_t>(out.max_pages, 1, kMaxPagesLimit))
                       : static_cast<uint16_t>(kDefaultMaxPages);
  info.max_background = out.max_background;
  info.congestion_threshold = out.congestion_threshold;
  info.time_gran = out.time_gran;
  connection_ = info;
  initialized_ = true;
}

void FakeKernel::HandleInterruptReplyLocked(const FuseReply& reply) {
  const uint64_t target = reply.unique() & ~1ULL;
  trace_.Add(absl::StrFormat("<- INTERRUPT unique=%d %s", reply.unique(),
                             ErrnoName(reply.error())));
  // fs/fuse/dev.c: an interrupt reply is a bare header: ENOSYS stops
  // interrupts, EAGAIN re-queues this one, anything else is ignored.
  if (!reply.body.empty()) {
    ViolationLocked(absl::StrFormat("an INTERRUPT reply (unique=%d) with %d bytes of body",
                                    reply.unique(), reply.body.size()));
    return;
  }
  if (reply.error() == Errno(ENOSYS)) {
    no_interrupt_ = true;
    return;
  }
  if (reply.error() == Errno(EAGAIN)) {
    auto it = in_flight_.find(target);
    if (it != in_flight_.end() && !it->second.answered) {
      FuseRequest interrupt = FuseRequest::Interrupt(target);
      std::string frame = interrupt.Encode(target | 1, Caller{}, interrupt.arg.size());
      trace_.Add(DescribeRequestLine(frame, connection_.minor, false));
      outbox_.push_back(std::move(frame));
    }
  }
}

void FakeKernel::HandleNotificationLocked(const FuseReply& message) {
  trace_.Add(DescribeNotificationLine(message));
  ReceivedNotification n;
  n.code = static_cast<abi::NotifyCode>(message.header.error);
  n.body = message.body;
  std::vector<std::string> problems = CheckNotification(message);
  for (const std::string& p : problems) ViolationLocked(p);
  if (!problems.empty()) {
    n.kernel_result = Errno(EINVAL);
    notifications_.push_back(std::move(n));
    return;
  }
  auto name_at = [&](size_t offset, uint32_t len) {
    return absl::string_view(message.body).substr(offset, len);
  };
  switch (n.code) {
    case abi::NotifyCode::kInvalEntry: {
      // fs/fuse/dir.c: fuse_reverse_inval_entry().
      auto o = message.As<abi::fuse_notify_inval_entry_out>();
      absl::string_view name = name_at(sizeof(o), o.namelen);
      if (cache_.FindNode(o.parent) == nullptr || cache_.FindDentry(o.parent, name) == nullptr) {
        n.kernel_result = Errno(ENOENT);
        break;
      }
      cache_.InvalidateAttr(o.parent);
      if (o.flags & abi::kExpireOnly) {
        cache_.ExpireDentry(o.parent, name);
      } else {
        cache_.RemoveDentry(o.parent, name);
      }
      break;
    }
    case abi::NotifyCode::kDelete: {
      auto o = message.As<abi::fuse_notify_delete_out>();
      absl::string_view name = name_at(sizeof(o), o.namelen);
      const KernelCache::Dentry* d = cache_.FindDentry(o.parent, name);
      if (cache_.FindNode(o.parent) == nullptr || d == nullptr) {
        n.kernel_result = Errno(ENOENT);
        break;
      }
      cache_.InvalidateAttr(o.parent);
      if (o.child != 0 && d->nodeid != o.child) {
        // The entry is invalidated, but it names another node.
        cache_.ExpireDentry(o.parent, name);
        n.kernel_result = Errno(ENOENT);
        break;
      }
      cache_.InvalidateAttr(o.child);
      cache_.RemoveDentry(o.parent, name);
      break;
    }
    case abi::NotifyCode::kInvalInode: {
      auto o = message.As<abi::fuse_notify_inval_inode_out>();
      if (cache_.FindNode(o.ino) == nullptr) {
        n.kernel_result = Errno(ENOENT);
        break;
      }
      cache_.InvalidateAttr(o.ino);  // and page cache, which is not modelled
      break;
    }
    case abi::NotifyCode::kStore: {
      auto o = message.As<abi::fuse_notify_store_out>();
      if (cache_.FindNode(o.nodeid) == nullptr) n.kernel_result = Errno(ENOENT);
      break;
    }
    case abi::NotifyCode::kRetrieve: {
      auto o = message.As<abi::fuse_notify_retrieve_out>();
      if (cache_.FindNode(o.nodeid) == nullptr) {
        n.kernel_result = Errno(ENOENT);
        break;
      }
      // Nothing is in the (unmodelled) page cache: the kernel answers with
      // the pages it found, none.
      QueueOneWayLocked(FuseRequest::NotifyReply(o.nodeid, o.offset, ""), o.notify_unique);
      one_way_.erase(o.notify_unique);  // the server's numbering, not ours
      break;
    }
    case abi::NotifyCode::kIncEpoch:
      cache_.ExpireAllDentries();
      break;
    case abi::NotifyCode::kPrune: {
      auto o = message.As<abi::fuse_notify_prune_out>();
      for (uint32_t i = 0; i < o.count; ++i) {
        uint64_t id;
        std::memcpy(&id, message.body.data() + sizeof(o) + i * sizeof(id), sizeof(id));
        cache_.DropNode(id);
      }
      break;
    }
    case abi::NotifyCode::kPoll:
    case abi::NotifyCode::kResend:
      break;
  }
  notifications_.push_back(std::move(n));
  CollectLocked();
}

void FakeKernel::ApplyReplyLocked(const InFlight& call, const FuseReply& reply) {
  const FuseRequest& rq = call.request;
  const uint64_t node = rq.nodeid;
  const Errno error = reply.error();
  if (error == Errno(ENOSYS) && StickyEnosys(rq.opcode)) unsupported_.insert(rq.opcode);
  CountDirChangeLocked(rq);
  switch (rq.opcode) {
    case Opcode::kLookup: {
      if (!error.ok()) {
        // fuse_lookup / fuse_dentry_revalidate: a failed lookup leaves no
        // valid dentry (ENOENT leaves an already expired negative one).
        cache_.RemoveDentry(node, rq.name());
        break;
      }
      abi::fuse_entry_out e = reply.As<abi::fuse_entry_out>();
      if (e.nodeid == 0) {
        cache_.AddNegative(node, rq.name(), WireDuration(e.entry_valid, e.entry_valid_nsec));
      } else {
        cache_.AddEntry(node, rq.name(), e);
        if (call.ref_result) cache_.Ref(e.nodeid);  // for the caller's walk
      }
      break;
    }
    case Opcode::kMknod:
    case Opcode::kMkdir:
    case Opcode::kSymlink:
    case Opcode::kLink:
    case Opcode::kCreate: {
      if (!error.ok()) {
        if (error == Errno(EEXIST)) cache_.RemoveDentry(node, rq.name());
        break;
      }
      abi::fuse_entry_out e = reply.As<abi::fuse_entry_out>();
      cache_.AddEntry(node, rq.name(), e);
      cache_.InvalidateAttr(node);  // fuse_dir_changed
      if (rq.opcode == Opcode::kCreate) cache_.Ref(e.nodeid);  // the open file
      if (call.ref_result) cache_.Ref(e.nodeid);  // for the caller's walk
      break;
    }
    case Opcode::kTmpfile:
      if (error.ok()) {
        abi::fuse_entry_out e = reply.As<abi::fuse_entry_out>();
        cache_.CountLookup(e);
        cache_.Ref(e.nodeid);
        if (call.ref_result) cache_.Ref(e.nodeid);  // for the caller's walk
      }
      break;
    case Opcode::kOpen:
    case Opcode::kOpendir:
      if (error.ok()) cache_.Ref(node);
      break;
    case Opcode::kRelease:
    case Opcode::kReleasedir:
      // fuse_release_end drops the inode once RELEASE is answered.
      cache_.Unref(node);
      break;
    case Opcode::kGetattr:
    case Opcode::kSetattr:
      if (error.ok()) {
        abi::fuse_attr_out a = reply.As<abi::fuse_attr_out>();
        cache_.CacheAttr(node, a.attr, WireDuration(a.attr_valid, a.attr_valid_nsec));
      }
      break;
    case Opcode::kUnlink:
    case Opcode::kRmdir: {
      if (error.ok()) {
        const KernelCache::Dentry* d = cache_.FindDentry(node, rq.name());
        if (d != nullptr) cache_.InvalidateAttr(d->nodeid);  // nlink changed
        cache_.RemoveDentry(node, rq.name());
        cache_.InvalidateAttr(node);
      } else if (error == Errno(ENOENT) || error == Errno(EINTR)) {
        cache_.RemoveDentry(node, rq.name());
      }
      break;
    }
    case Opcode::kRename:
    case Opcode::kRename2: {
      uint64_t new_dir = rq.opcode == Opcode::kRename ? rq.Arg<abi::fuse_rename_in>().newdir
                                                      : rq.Arg<abi::fuse_rename2_in>().newdir;
      uint32_t flags = rq.opcode == Opcode::kRename2 ? rq.Arg<abi::fuse_rename2_in>().flags : 0;
      if (error.ok()) {
        const KernelCache::Dentry* d = cache_.FindDentry(node, rq.name());
        if (d != nullptr) cache_.InvalidateAttr(d->nodeid);  // ctime
        if (flags & RENAME_EXCHANGE) {
          cache_.ExchangeDentries(node, rq.name(), new_dir, rq.name2());
        } else {
          cache_.MoveDentry(node, rq.name(), new_dir, rq.name2());
        }
        cache_.InvalidateAttr(node);
        cache_.InvalidateAttr(new_dir);
      } else if (error == Errno(ENOENT) || error == Errno(EINTR)) {
        cache_.RemoveDentry(node, rq.name());
      }
      break;
    }
    case Opcode::kWrite:
    case Opcode::kFallocate:
    case Opcode::kSetxattr:
    case Opcode::kRemovexattr:
      if (error.ok()) cache_.InvalidateAttr(node);
      break;
    case Opcode::kCopyFileRange:
    case Opcode::kCopyFileRange64:
      if (error.ok()) cache_.InvalidateAttr(rq.Arg<abi::fuse_copy_file_range_in>().nodeid_out);
      break;
    case Opcode::kReaddirplus: {
      if (!error.ok()) break;
      std::vector<std::string> parse_problems;
      for (const ParsedDirent& d : ParseDirents(reply.body, true, &parse_problems)) {
        if (d.name == "." || d.name == ".." || d.entry->nodeid == 0) continue;
        std::vector<std::string> bad;
        CheckEntry(*d.entry, EntrySource::kReaddirplus, 0, cache_, d.name, &bad);
        if (bad.empty()) {
          cache_.AddEntry(node, d.name, *d.entry);
        } else {
          // fuse_force_forget: an entry the kernel could not link is given
          // back at once.
          SendForgetsLocked({{d.entry->nodeid, 1}});
        }
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace fusekit
