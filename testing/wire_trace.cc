#include "testing/wire_trace.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/types/span.h"
#include "fuse/opcode.h"
#include "fuse/request.h"
#include "fuse/session.h"
#include "testing/kernel_cache.h"

namespace fusekit {
namespace {

using abi::Opcode;

std::string Quoted(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

std::string DescribeEntry(const abi::fuse_entry_out& e) {
  if (e.nodeid == 0) return absl::StrFormat("nodeid=0 (negative, %ds)", e.entry_valid);
  return absl::StrFormat("nodeid=%d gen=%d %s mode=%#o size=%d entry=%s attr=%s", e.nodeid,
                         e.generation, FileTypeName(e.attr.mode), e.attr.mode & 07777,
                         e.attr.size,
                         absl::FormatDuration(WireDuration(e.entry_valid, e.entry_valid_nsec)),
                         absl::FormatDuration(WireDuration(e.attr_valid, e.attr_valid_nsec)));
}

std::string DescribeBody(const FuseRequest& request, const FuseReply& reply) {
  switch (request.opcode) {
    case Opcode::kLookup:
    case Opcode::kMknod:
    case Opcode::kMkdir:
    case Opcode::kSymlink:
    case Opcode::kLink:
      return DescribeEntry(reply.As<abi::fuse_entry_out>());
    case Opcode::kCreate:
    case Opcode::kTmpfile: {
      auto open = reply.As<abi::fuse_open_out>(sizeof(abi::fuse_entry_out));
      return absl::StrCat(DescribeEntry(reply.As<abi::fuse_entry_out>()),
                          absl::StrFormat(" fh=%d open_flags=%#x", open.fh, open.open_flags));
    }
    case Opcode::kGetattr:
    case Opcode::kSetattr: {
      auto a = reply.As<abi::fuse_attr_out>();
      return absl::StrFormat("%s mode=%#o size=%d nlink=%d valid=%ds", FileTypeName(a.attr.mode),
                             a.attr.mode & 07777, a.attr.size, a.attr.nlink, a.attr_valid);
    }
    case Opcode::kOpen:
    case Opcode::kOpendir: {
      auto o = reply.As<abi::fuse_open_out>();
      return absl::StrFormat("fh=%d open_flags=%#x", o.fh, o.open_flags);
    }
    case Opcode::kWrite:
      return absl::StrFormat("written=%d", reply.As<abi::fuse_write_out>().size);
    case Opcode::kReaddir:
    case Opcode::kReaddirplus: {
      std::vector<std::string> problems;
      auto entries =
          ParseDirents(reply.body, request.opcode == Opcode::kReaddirplus, &problems);
      std::string names;
      for (size_t i = 0; i < entries.size() && i < 8; ++i) {
        absl::StrAppend(&names, i ? " " : "", Quoted(entries[i].name), "@", entries[i].off);
      }
      if (entries.size() > 8) absl::StrAppend(&names, " ...");
      return absl::StrFormat("%d entries [%s]%s", entries.size(), names,
                             problems.empty() ? "" : " MALFORMED");
    }
    case Opcode::kGetxattr:
    case Opcode::kListxattr:
      if (request.Arg<abi::fuse_getxattr_in>().size == 0) {
        return absl::StrFormat("size=%d", reply.As<abi::fuse_getxattr_out>().size);
      }
      return absl::StrFormat("bytes=%d", reply.body.size());
    case Opcode::kLseek:
      return absl::StrFormat("offset=%d", reply.As<abi::fuse_lseek_out>().offset);
    case Opcode::kCopyFileRange:
      return absl::StrFormat("copied=%d", reply.As<abi::fuse_write_out>().size);
    case Opcode::kCopyFileRange64:
      return absl::StrFormat("copied=%d", reply.As<abi::fuse_copy_file_range_out>().bytes_copied);
    case Opcode::kGetlk: {
      auto lk = reply.As<abi::fuse_lk_out>().lk;
      return absl::StrFormat("type=%d start=%d end=%d pid=%d", lk.type, lk.start, lk.end, lk.pid);
    }
    default:
      return reply.body.empty() ? "" : absl::StrFormat("bytes=%d", reply.body.size());
  }
}

}  // namespace

void WireTrace::Add(std::string line) {
  ++count_;
  lines_.push_back(absl::StrFormat("%5d  %s", count_, line));
  while (lines_.size() > capacity_) lines_.pop_front();
}

std::string WireTrace::Dump() const {
  std::string out;
  for (const std::string& line : lines_) absl::StrAppend(&out, "  ", line, "\n");
  return out;
}

std::string DescribeRequestLine(absl::string_view frame, uint32_t minor, bool setxattr_ext) {
  // The core's decoder and wire-log formatter describe the frame exactly as
  // the server's debug log would; here they only label it for a human.
  DecodeSettings settings;
  settings.minor = minor;
  settings.setxattr_ext = setxattr_ext;
  DecodedRequest decoded;
  DecodeError error;
  if (DecodeRequest(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(frame.data()),
                                        frame.size()),
                    settings, &decoded, &error)) {
    return absl::StrCat("-> ", DescribeRequest(decoded));
  }
  abi::fuse_in_header h{};
  std::memcpy(&h, frame.data(), std::min(frame.size(), sizeof(h)));
  return absl::StrFormat("-> %s unique=%d nodeid=%d (malformed: %s)", OpcodeName(h.opcode),
                         h.unique, h.nodeid, error.message);
}

std::string DescribeReplyLine(const FuseRequest& request, const FuseReply& reply) {
  std::string head = absl::StrFormat("<- %s unique=%d",
                                     OpcodeName(static_cast<uint32_t>(request.opcode)),
                                     reply.unique());
  if (reply.header.error != 0) {
    return absl::StrCat(head, " ", ErrnoName(reply.error()),
                        reply.body.empty() ? "" : absl::StrFormat(" +%d bytes", reply.body.size()));
  }
  std::string body = DescribeBody(request, reply);
  return absl::StrCat(head, " OK", body.empty() ? "" : " ", body);
}

std::string DescribeNotificationLine(const FuseReply& message) {
  std::string head = absl::StrCat("<- NOTIFY ", NotifyCodeName(message.header.error));
  auto name_at = [&](size_t offset, uint32_t len) {
    if (offset + len > message.body.size()) return std::string("?");
    return Quoted(absl::string_view(message.body).substr(offset, len));
  };
  switch (static_cast<abi::NotifyCode>(message.header.error)) {
    case abi::NotifyCode::kInvalEntry: {
      auto o = message.As<abi::fuse_notify_inval_entry_out>();
      return absl::StrFormat("%s parent=%d name=%s flags=%#x", head, o.parent,
                             name_at(sizeof(o), o.namelen), o.flags);
    }
    case abi::NotifyCode::kDelete: {
      auto o = message.As<abi::fuse_notify_delete_out>();
      return absl::StrFormat("%s parent=%d child=%d name=%s", head, o.parent, o.child,
                             name_at(sizeof(o), o.namelen));
    }
    case abi::NotifyCode::kInvalInode: {
      auto o = message.As<abi::fuse_notify_inval_inode_out>();
      return absl::StrFormat("%s ino=%d off=%d len=%d", head, o.ino, o.off, o.len);
    }
    case abi::NotifyCode::kStore: {
      auto o = message.As<abi::fuse_notify_store_out>();
      return absl::StrFormat("%s nodeid=%d offset=%d size=%d", head, o.nodeid, o.offset, o.size);
    }
    case abi::NotifyCode::kRetrieve: {
      auto o = message.As<abi::fuse_notify_retrieve_out>();
      return absl::StrFormat("%s notify_unique=%d nodeid=%d offset=%d size=%d", head,
                             o.notify_unique, o.nodeid, o.offset, o.size);
    }
    case abi::NotifyCode::kPoll:
      return absl::StrFormat("%s kh=%d", head, message.As<abi::fuse_notify_poll_wakeup_out>().kh);
    case abi::NotifyCode::kPrune:
      return absl::StrFormat("%s count=%d", head, message.As<abi::fuse_notify_prune_out>().count);
    default:
      return absl::StrFormat("%s bytes=%d", head, message.body.size());
  }
}

}  // namespace fusekit
