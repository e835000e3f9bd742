#include "testing/reply_checks.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/opcode.h"
#include "fuse/page_size.h"

namespace fusekit {
namespace {

using abi::Opcode;

// fs/fuse/fuse_i.h: fuse_valid_type() and fuse_valid_size(); together
// fuse_invalid_attr(), which turns an entry or attribute reply into EIO.
bool ValidType(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG:
    case S_IFDIR:
    case S_IFLNK:
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      return true;
  }
  return false;
}

void CheckAttr(const abi::fuse_attr& attr, const std::string& what,
               std::vector<std::string>* problems) {
  if (!ValidType(attr.mode)) {
    problems->push_back(absl::StrFormat(
        "%s: attr.mode %#o has no valid file type (fuse_invalid_attr: EIO)", what, attr.mode));
  }
  if (attr.size > static_cast<uint64_t>(LLONG_MAX)) {
    problems->push_back(absl::StrFormat(
        "%s: attr.size %u is above LLONG_MAX (fuse_invalid_attr: EIO)", what, attr.size));
  }
}

// The type an entry reply to `request` must have (0: any).
uint32_t ExpectedType(const FuseRequest& request, const KernelCache& cache) {
  switch (request.opcode) {
    case Opcode::kMkdir:
      return S_IFDIR;
    case Opcode::kSymlink:
      return S_IFLNK;
    case Opcode::kCreate:
    case Opcode::kTmpfile:
      return S_IFREG;  // fuse_create_open: !S_ISREG -> EIO
    case Opcode::kMknod: {
      uint32_t type = request.Arg<abi::fuse_mknod_in>().mode & S_IFMT;
      return type == 0 ? S_IFREG : type;
    }
    case Opcode::kLink: {
      const KernelCache::Node* node = cache.FindNode(request.Arg<abi::fuse_link_in>().oldnodeid);
      return node == nullptr ? 0 : node->type;
    }
    default:
      return 0;
  }
}

void ExpectSize(const FuseReply& reply, size_t want, absl::string_view op,
                std::vector<std::string>* problems) {
  if (reply.body.size() != want) {
    problems->push_back(absl::StrFormat(
        "%s reply has %d bytes of body, the kernel expects exactly %d (copy_out_args: EINVAL, "
        "the caller gets EIO)",
        op, reply.body.size(), want));
  }
}

void ExpectAtMost(const FuseReply& reply, size_t limit, absl::string_view op,
                  absl::string_view limit_name, std::vector<std::string>* problems) {
  if (reply.body.size() > limit) {
    problems->push_back(absl::StrFormat(
        "%s reply has %d bytes of body, more than the %d the request allowed (%s): the kernel "
        "rejects it (copy_out_args: EINVAL, the caller gets EIO)",
        op, reply.body.size(), limit, limit_name));
  }
}

// fs/fuse/xattr.c: fuse_verify_xattr_list().
void CheckXattrList(absl::string_view list, std::vector<std::string>* problems) {
  while (!list.empty()) {
    size_t len = strnlen(list.data(), list.size());
    if (len == 0 || len == list.size()) {
      problems->push_back(
          "LISTXATTR reply is not a list of non-empty NUL-terminated names "
          "(fuse_verify_xattr_list: EIO)");
      return;
    }
    list.remove_prefix(len + 1);
  }
}

void CheckDirectory(const FuseRequest& request, const FuseReply& reply, const KernelCache& cache,
                    std::vector<std::string>* problems) {
  bool plus = request.opcode == Opcode::kReaddirplus;
  absl::string_view op = plus ? "READDIRPLUS" : "READDIR";
  ExpectAtMost(reply, request.Arg<abi::fuse_read_in>().size, op, "fuse_read_in.size", problems);
  std::vector<std::string> parse_problems;
  std::vector<ParsedDirent> entries = ParseDirents(reply.body, plus, &parse_problems);
  for (const std::string& p : parse_problems) {
    problems->push_back(absl::StrCat(op, ": ", p, " (parse_dirfile: EIO)"));
  }
  for (const ParsedDirent& d : entries) {
    if (d.off == 0) {
      problems->push_back(absl::StrFormat(
          "%s entry \"%s\" has next offset 0: a listing continued from it starts over and "
          "repeats entries",
          op, d.name));
    }
    if (plus && d.name != "." && d.name != ".." && d.entry->nodeid != 0) {
      CheckEntry(*d.entry, EntrySource::kReaddirplus, 0, cache,
                 absl::StrFormat("%s entry \"%s\"", op, d.name), problems);
    }
  }
}

}  // namespace

size_t EntryOutSize(uint32_t minor) {
  return minor < 9 ? abi::kCompatEntryOutSize : sizeof(abi::fuse_entry_out);
}

size_t AttrOutSize(uint32_t minor) {
  return minor < 9 ? abi::kCompatAttrOutSize : sizeof(abi::fuse_attr_out);
}

void CheckEntry(const abi::fuse_entry_out& entry, EntrySource source, uint32_t expected_type,
                const KernelCache& cache, const std::string& what,
                std::vector<std::string>* problems) {
  if (source == EntrySource::kCreate && entry.nodeid == 0) {
    problems->push_back(absl::StrCat(
        what, ": node id 0 in a creating reply (invalid_nodeid in create_new_entry / "
              "fuse_create_open: EIO); 0 is only a negative LOOKUP entry"));
    return;
  }
  if (entry.nodeid == 0) return;  // negative LOOKUP, or "no entry" in READDIRPLUS
  if (entry.nodeid == abi::kRootId) {
    problems->push_back(absl::StrCat(
        what, ": node id 1 (the root) returned for a child: ",
        source == EntrySource::kLookup
            ? "the kernel would alias the root directory below itself (d_splice_alias: ELOOP)"
            : "invalid_nodeid() rejects it (EIO)"));
    if (entry.generation != 0) {
      problems->push_back(
          absl::StrCat(what, ": the root's generation must be 0 (fuse_lookup_name warns)"));
    }
    return;
  }
  CheckAttr(entry.attr, what, problems);
  uint32_t type = entry.attr.mode & S_IFMT;
  if (expected_type != 0 && ValidType(entry.attr.mode) && type != expected_type) {
    problems->push_back(absl::StrFormat(
        "%s: the new entry is %s, the request created %s (create_new_entry: EIO)", what,
        FileTypeName(type), FileTypeName(expected_type)));
  }
  if (const KernelCache::Node* known = cache.FindNode(entry.nodeid)) {
    if (known->generation != entry.generation) {
      problems->push_back(absl::StrFormat(
          "%s: node id %d came back with generation %d while the kernel still holds it with "
          "generation %d (lookup count %d): a node id may be reused only after its FORGET "
          "(fuse_iget marks the old inode bad)",
          what, entry.nodeid, entry.generation, known->generation, known->nlookup));
    }
    if (known->type != 0 && ValidType(entry.attr.mode) && known->type != type) {
      problems->push_back(absl::StrFormat(
          "%s: node id %d came back as %s while the kernel still holds it as %s (lookup count "
          "%d): a node id may be reused only after its FORGET (fuse_iget: inode_wrong_type)",
          what, entry.nodeid, FileTypeName(type), FileTypeName(known->type), known->nlookup));
    }
  }
}

std::vector<std::string> CheckReply(const FuseRequest& request, const FuseReply& reply,
                                    uint32_t minor, const KernelCache& cache) {
  std::vector<std::string> problems;
  const std::string op(OpcodeName(static_cast<uint32_t>(request.opcode)));
  const int32_t error = reply.header.error;
  // fs/fuse/dev.c: fuse_dev_do_write().
  if (error > 0 || error <= -512) {
    problems.push_back(absl::StrFormat(
        "%s reply error field %d is not a negative errno above -512 (EINVAL)", op, error));
    return problems;
  }
  if (error != 0) {
    if (!reply.body.empty()) {
      problems.push_back(absl::StrFormat(
          "%s error reply (%s) carries %d bytes of body; an error reply is the header alone "
          "(EINVAL, the caller gets EIO)",
          op, ErrnoName(Errno(-error)), reply.body.size()));
    }
    return problems;
  }

  switch (request.opcode) {
    case Opcode::kLookup:
    case Opcode::kMknod:
    case Opcode::kMkdir:
    case Opcode::kSymlink:
    case Opcode::kLink: {
      ExpectSize(reply, EntryOutSize(minor), op, &problems);
      if (!problems.empty()) break;
      abi::fuse_entry_out entry = reply.As<abi::fuse_entry_out>();
      bool lookup = request.opcode == Opcode::kLookup;
      CheckEntry(entry, lookup ? EntrySource::kLookup : EntrySource::kCreate,
                 ExpectedType(request, cache), cache,
                 absl::StrFormat("%s \"%s\"", op, request.name()), &problems);
      if (request.opcode == Opcode::kLink && entry.nodeid != 0 &&
          entry.nodeid != request.Arg<abi::fuse_link_in>().oldnodeid) {
        problems.push_back(absl::StrFormat(
            "LINK \"%s\" returned node id %d, not the linked node %d: a hard link is the same "
            "node",
            request.name(), entry.nodeid, request.Arg<abi::fuse_link_in>().oldnodeid));
      }
      break;
    }
    case Opcode::kCreate:
    case Opcode::kTmpfile: {
      ExpectSize(reply, EntryOutSize(minor) + sizeof(abi::fuse_open_out), op, &problems);
      if (!problems.empty()) break;
      CheckEntry(reply.As<abi::fuse_entry_out>(), EntrySource::kCreate, S_IFREG, cache,
                 absl::StrFormat("%s \"%s\"", op, request.name()), &problems);
      break;
    }
    case Opcode::kGetattr:
    case Opcode::kSetattr: {
      ExpectSize(reply, AttrOutSize(minor), op, &problems);
      if (!problems.empty()) break;
      abi::fuse_attr attr = reply.As<abi::fuse_attr_out>().attr;
      std::string what = absl::StrFormat("%s of node %d", op, request.nodeid);
      CheckAttr(attr, what, &problems);
      const KernelCache::Node* known = cache.FindNode(request.nodeid);
      if (known != nullptr && known->type != 0 && ValidType(attr.mode) &&
          known->type != (attr.mode & S_IFMT)) {
        problems.push_back(absl::StrFormat(
            "%s: the file type changed from %s to %s (fuse_do_getattr: inode_wrong_type, the "
            "inode is marked bad, EIO)",
            what, FileTypeName(known->type), FileTypeName(attr.mode)));
      }
      break;
    }
    case Opcode::kOpen:
    case Opcode::kOpendir:
      ExpectSize(reply, sizeof(abi::fuse_open_out), op, &problems);
      break;
    case Opcode::kRead:
      ExpectAtMost(reply, request.Arg<abi::fuse_read_in>().size, op, "fuse_read_in.size",
                   &problems);
      break;
    case Opcode::kReadlink:
      ExpectAtMost(reply, PageSize() - 1, op, "a page less its NUL", &problems);
      break;
    case Opcode::kWrite: {
      ExpectSize(reply, sizeof(abi::fuse_write_out), op, &problems);
      if (!problems.empty()) break;
      uint32_t written = reply.As<abi::fuse_write_out>().size;
      uint32_t asked = request.Arg<abi::fuse_write_in>().size;
      if (written > asked) {
        problems.push_back(absl::StrFormat(
            "WRITE reply says %d bytes were written of the %d sent (fuse_write: EIO)", written,
            asked));
      }
      break;
    }
    case Opcode::kStatfs:
      ExpectSize(reply, minor < 4 ? abi::kCompatStatfsSize : sizeof(abi::fuse_statfs_out), op,
                 &problems);
      break;
    case Opcode::kGetxattr:
    case Opcode::kListxattr: {
      uint32_t size = request.Arg<abi::fuse_getxattr_in>().size;
      if (size == 0) {
        ExpectSize(reply, sizeof(abi::fuse_getxattr_out), op, &problems);
      } else {
        ExpectAtMost(reply, size, op, "fuse_getxattr_in.size; answer ERANGE instead", &problems);
        if (problems.empty() && request.opcode == Opcode::kListxattr) {
          CheckXattrList(reply.body, &problems);
        }
      }
      break;
    }
    case Opcode::kGetlk: {
      ExpectSize(reply, sizeof(abi::fuse_lk_out), op, &problems);
      if (!problems.empty()) break;
      // fs/fuse/file.c: convert_fuse_file_lock.
      abi::fuse_file_lock lk = reply.As<abi::fuse_lk_out>().lk;
      constexpr uint64_t kOffsetMax = LLONG_MAX;
      if (lk.type != F_UNLCK && (lk.start > kOffsetMax || lk.end > kOffsetMax || lk.end < lk.start)) {
        problems.push_back(absl::StrFormat(
            "GETLK reply lock range %d..%d is not a valid range (convert_fuse_file_lock: EIO)",
            lk.start, lk.end));
      }
      break;
    }
    case Opcode::kBmap:
      ExpectSize(reply, sizeof(abi::fuse_bmap_out), op, &problems);
      break;
    case Opcode::kPoll:
      ExpectSize(reply, sizeof(abi::fuse_poll_out), op, &problems);
      break;
    case Opcode::kLseek:
      ExpectSize(reply, sizeof(abi::fuse_lseek_out), op, &problems);
      break;
    case Opcode::kStatx:
      ExpectSize(reply, sizeof(abi::fuse_statx_out), op, &problems);
      break;
    case Opcode::kIoctl:
      if (reply.body.size() < sizeof(abi::fuse_ioctl_out)) {
        problems.push_back(absl::StrFormat("IOCTL reply of %d bytes is shorter than fuse_ioctl_out",
                                           reply.body.size()));
      }
      break;
    case Opcode::kCopyFileRange:
    case Opcode::kCopyFileRange64: {
      ExpectSize(reply, 8, op, &problems);
      if (!problems.empty()) break;
      uint64_t copied = request.opcode == Opcode::kCopyFileRange
                            ? reply.As<abi::fuse_write_out>().size
                            : reply.As<abi::fuse_copy_file_range_out>().bytes_copied;
      uint64_t asked = request.Arg<abi::fuse_copy_file_range_in>().len;
      if (copied > asked) {
        problems.push_back(absl::StrFormat("%s reply says %d bytes were copied of %d asked", op,
                                           copied, asked));
      }
      break;
    }
    case Opcode::kReaddir:
    case Opcode::kReaddirplus:
      CheckDirectory(request, reply, cache, &problems);
      break;
    case Opcode::kInterrupt:
      problems.push_back(
          "INTERRUPT answered with success: only EAGAIN or ENOSYS answers mean anything "
          "(fuse_dev_do_write)");
      break;
    case Opcode::kUnlink:
    case Opcode::kRmdir:
    case Opcode::kRename:
    case Opcode::kRename2:
    case Opcode::kSetxattr:
    case Opcode::kRemovexattr:
    case Opcode::kFlush:
    case Opcode::kRelease:
    case Opcode::kReleasedir:
    case Opcode::kFsync:
    case Opcode::kFsyncdir:
    case Opcode::kSetlk:
    case Opcode::kSetlkw:
    case Opcode::kAccess:
    case Opcode::kFallocate:
    case Opcode::kSyncfs:
    case Opcode::kDestroy:
      ExpectSize(reply, 0, op, &problems);
      break;
    default:
      break;
  }
  return problems;
}

std::vector<std::string> CheckNotification(const FuseReply& message) {
  std::vector<std::string> problems;
  const int32_t code = message.header.error;
  const std::string name(NotifyCodeName(code));
  const size_t size = message.body.size();
  auto need = [&](size_t want, bool exact) {
    if (exact ? size != want : size < want) {
      problems.push_back(absl::StrFormat("NOTIFY %s of %d bytes, expected %s%d (EINVAL)", name,
                                         size, exact ? "" : "at least ", want));
      return false;
    }
    return true;
  };
  auto check_name = [&](size_t fixed, uint32_t namelen) {
    if (namelen > 255) {
      problems.push_back(absl::StrFormat("NOTIFY %s name of %d bytes (ENAMETOOLONG)", name,
                                         namelen));
      return;
    }
    if (need(fixed + namelen + 1, true) && message.body[fixed + namelen] != '\0') {
      problems.push_back(absl::StrFormat("NOTIFY %s name is not NUL-terminated", name));
    }
  };
  switch (static_cast<abi::NotifyCode>(code)) {
    case abi::NotifyCode::kPoll:
      need(sizeof(abi::fuse_notify_poll_wakeup_out), true);
      break;
    case abi::NotifyCode::kInvalInode:
      need(sizeof(abi::fuse_notify_inval_inode_out), true);
      break;
    case abi::NotifyCode::kInvalEntry:
      if (need(sizeof(abi::fuse_notify_inval_entry_out), false)) {
        check_name(sizeof(abi::fuse_notify_inval_entry_out),
                   message.As<abi::fuse_notify_inval_entry_out>().namelen);
      }
      break;
    case abi::NotifyCode::kDelete:
      if (need(sizeof(abi::fuse_notify_delete_out), false)) {
        check_name(sizeof(abi::fuse_notify_delete_out),
                   message.As<abi::fuse_notify_delete_out>().namelen);
      }
      break;
    case abi::NotifyCode::kStore:
      if (need(sizeof(abi::fuse_notify_store_out), false)) {
        need(sizeof(abi::fuse_notify_store_out) + message.As<abi::fuse_notify_store_out>().size,
             true);
      }
      break;
    case abi::NotifyCode::kRetrieve:
      need(sizeof(abi::fuse_notify_retrieve_out), true);
      break;
    case abi::NotifyCode::kResend:
    case abi::NotifyCode::kIncEpoch:
      need(0, true);
      break;
    case abi::NotifyCode::kPrune:
      if (need(sizeof(abi::fuse_notify_prune_out), false)) {
        need(sizeof(abi::fuse_notify_prune_out) +
                 message.As<abi::fuse_notify_prune_out>().count * sizeof(uint64_t),
             true);
      }
      break;
    default:
      problems.push_back(absl::StrFormat("unknown notification code %d (EINVAL)", code));
      break;
  }
  return problems;
}

}  // namespace fusekit
