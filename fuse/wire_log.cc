// The debug wire log's request lines: opcode name, ids and decoded arguments.
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/session.h"

namespace fusekit {
namespace {

using abi::Opcode;

std::string Quoted(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

std::string Args(const DecodedRequest& r) {
  switch (r.opcode()) {
    case Opcode::kLookup:
    case Opcode::kUnlink:
    case Opcode::kRmdir:
    case Opcode::kRemovexattr:
      return absl::StrCat("name=", Quoted(r.name));
    case Opcode::kForget:
      return absl::StrCat("nlookup=", r.Arg<abi::fuse_forget_in>().nlookup);
    case Opcode::kBatchForget:
      return absl::StrCat("count=", r.Arg<abi::fuse_batch_forget_in>().count);
    case Opcode::kGetattr: {
      auto in = r.Arg<abi::fuse_getattr_in>();
      return absl::StrFormat("flags=%#x fh=%d", in.getattr_flags, in.fh);
    }
    case Opcode::kSetattr: {
      auto in = r.Arg<abi::fuse_setattr_in>();
      return absl::StrFormat("valid=%#x mode=%#o size=%d uid=%d gid=%d fh=%d", in.valid, in.mode,
                             in.size, in.uid, in.gid, in.fh);
    }
    case Opcode::kSymlink:
      return absl::StrCat("name=", Quoted(r.name), " target=", Quoted(r.name2));
    case Opcode::kMknod: {
      auto in = r.Arg<abi::fuse_mknod_in>();
      return absl::StrFormat("name=%s mode=%#o rdev=%#x umask=%#o", Quoted(r.name), in.mode,
                             in.rdev, in.umask);
    }
    case Opcode::kMkdir: {
      auto in = r.Arg<abi::fuse_mkdir_in>();
      return absl::StrFormat("name=%s mode=%#o umask=%#o", Quoted(r.name), in.mode, in.umask);
    }
    case Opcode::kRename:
      return absl::StrFormat("name=%s newdir=%d newname=%s", Quoted(r.name),
                             r.Arg<abi::fuse_rename_in>().newdir, Quoted(r.name2));
    case Opcode::kRename2: {
      auto in = r.Arg<abi::fuse_rename2_in>();
      return absl::StrFormat("name=%s newdir=%d newname=%s flags=%#x", Quoted(r.name), in.newdir,
                             Quoted(r.name2), in.flags);
    }
    case Opcode::kLink:
      return absl::StrFormat("oldnodeid=%d name=%s", r.Arg<abi::fuse_link_in>().oldnodeid,
                             Quoted(r.name));
    case Opcode::kOpen:
    case Opcode::kOpendir:
      return absl::StrFormat("flags=%#o", r.Arg<abi::fuse_open_in>().flags);
    case Opcode::kCreate:
    case Opcode::kTmpfile: {
      auto in = r.Arg<abi::fuse_create_in>();
      return absl::StrFormat("name=%s flags=%#o mode=%#o umask=%#o", Quoted(r.name), in.flags,
                             in.mode, in.umask);
    }
    case Opcode::kRead:
    case Opcode::kReaddir:
    case Opcode::kReaddirplus: {
      auto in = r.Arg<abi::fuse_read_in>();
      return absl::StrFormat("fh=%d offset=%d size=%d", in.fh, in.offset, in.size);
    }
    case Opcode::kWrite: {
      auto in = r.Arg<abi::fuse_write_in>();
      return absl::StrFormat("fh=%d offset=%d size=%d flags=%#x", in.fh, in.offset, in.size,
                             in.write_flags);
    }
    case Opcode::kRelease:
    case Opcode::kReleasedir: {
      auto in = r.Arg<abi::fuse_release_in>();
      return absl::StrFormat("fh=%d flags=%#o release_flags=%#x", in.fh, in.flags,
                             in.release_flags);
    }
    case Opcode::kFlush:
      return absl::StrFormat("fh=%d", r.Arg<abi::fuse_flush_in>().fh);
    case Opcode::kFsync:
    case Opcode::kFsyncdir: {
      auto in = r.Arg<abi::fuse_fsync_in>();
      return absl::StrFormat("fh=%d flags=%#x", in.fh, in.fsync_flags);
    }
    case Opcode::kSetxattr:
      return absl::StrFormat("name=%s size=%d flags=%#x", Quoted(r.name),
                             r.Arg<abi::fuse_setxattr_in>().size,
                             r.Arg<abi::fuse_setxattr_in>().flags);
    case Opcode::kGetxattr:
      return absl::StrFormat("name=%s size=%d", Quoted(r.name),
                             r.Arg<abi::fuse_getxattr_in>().size);
    case Opcode::kListxattr:
      return absl::StrFormat("size=%d", r.Arg<abi::fuse_getxattr_in>().size);
    case Opcode::kGetlk:
    case Opcode::kSetlk:
    case Opcode::kSetlkw: {
      auto in = r.Arg<abi::fuse_lk_in>();
      return absl::StrFormat("fh=%d owner=%#x type=%d start=%d end=%d pid=%d flags=%#x", in.fh,
                             in.owner, in.lk.type, in.lk.start, in.lk.end, in.lk.pid,
                             in.lk_flags);
    }
    case Opcode::kAccess:
      return absl::StrFormat("mask=%#o", r.Arg<abi::fuse_access_in>().mask);
    case Opcode::kInterrupt:
      return absl::StrFormat("target=%d", r.Arg<abi::fuse_interrupt_in>().unique);
    case Opcode::kInit:
      return absl::StrFormat("bytes=%d", r.arg.size() + r.payload.size());
    case Opcode::kFallocate: {
      auto in = r.Arg<abi::fuse_fallocate_in>();
      return absl::StrFormat("fh=%d offset=%d length=%d mode=%#x", in.fh, in.offset, in.length,
                             in.mode);
    }
    case Opcode::kLseek: {
      auto in = r.Arg<abi::fuse_lseek_in>();
      return absl::StrFormat("fh=%d offset=%d whence=%d", in.fh, in.offset, in.whence);
    }
    case Opcode::kCopyFileRange:
    case Opcode::kCopyFileRange64: {
      auto in = r.Arg<abi::fuse_copy_file_range_in>();
      return absl::StrFormat("fh_in=%d off_in=%d nodeid_out=%d fh_out=%d off_out=%d len=%d",
                             in.fh_in, in.off_in, in.nodeid_out, in.fh_out, in.off_out, in.len);
    }
    case Opcode::kIoctl: {
      auto in = r.Arg<abi::fuse_ioctl_in>();
      return absl::StrFormat("fh=%d cmd=%#x in_size=%d out_size=%d", in.fh, in.cmd, in.in_size,
                             in.out_size);
    }
    case Opcode::kPoll: {
      auto in = r.Arg<abi::fuse_poll_in>();
      return absl::StrFormat("fh=%d kh=%d events=%#x", in.fh, in.kh, in.events);
    }
    case Opcode::kStatx: {
      auto in = r.Arg<abi::fuse_statx_in>();
      return absl::StrFormat("fh=%d mask=%#x", in.fh, in.sx_mask);
    }
    case Opcode::kNotifyReply:
      return absl::StrFormat("bytes=%d", r.payload.size());
    default:
      return "";
  }
}

}  // namespace

std::string DescribeRequest(const DecodedRequest& r) {
  std::string args = Args(r);
  return absl::StrFormat("%s unique=%d nodeid=%d uid=%d gid=%d pid=%d%s%s", r.info->name,
                         r.header.unique, r.header.nodeid, r.header.uid, r.header.gid,
                         r.header.pid, args.empty() ? "" : " ", args);
}

}  // namespace fusekit
