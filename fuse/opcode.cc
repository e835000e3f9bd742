#include "fuse/opcode.h"

#include <cstdio>

namespace fusekit {
namespace {

using abi::Opcode;
constexpr PayloadKind kNone = PayloadKind::kNone;

struct TableRow {
  Opcode opcode;
  OpcodeInfo info;
};

// Sizes are the kernel's in_args[0] for each opcode (fs/fuse/*.c).
constexpr TableRow kTable[] = {
    {Opcode::kLookup, {"LOOKUP", 0, 1, 1, kNone, true, true}},
    {Opcode::kForget, {"FORGET", sizeof(abi::fuse_forget_in), 0, 0, kNone, false, true}},
    {Opcode::kGetattr, {"GETATTR", sizeof(abi::fuse_getattr_in), 0, 0, kNone, true, true}},
    {Opcode::kSetattr, {"SETATTR", sizeof(abi::fuse_setattr_in), 0, 0, kNone, true, true}},
    {Opcode::kReadlink, {"READLINK", 0, 0, 0, kNone, true, true}},
    // SYMLINK: the new entry's name, then the link target.
    {Opcode::kSymlink, {"SYMLINK", 0, 2, 1, kNone, true, true}},
    {Opcode::kMknod, {"MKNOD", sizeof(abi::fuse_mknod_in), 1, 1, kNone, true, true}},
    {Opcode::kMkdir, {"MKDIR", sizeof(abi::fuse_mkdir_in), 1, 1, kNone, true, true}},
    {Opcode::kUnlink, {"UNLINK", 0, 1, 1, kNone, true, true}},
    {Opcode::kRmdir, {"RMDIR", 0, 1, 1, kNone, true, true}},
    {Opcode::kRename, {"RENAME", sizeof(abi::fuse_rename_in), 2, 2, kNone, true, true}},
    {Opcode::kLink, {"LINK", sizeof(abi::fuse_link_in), 1, 1, kNone, true, true}},
    {Opcode::kOpen, {"OPEN", sizeof(abi::fuse_open_in), 0, 0, kNone, true, true}},
    {Opcode::kRead, {"READ", sizeof(abi::fuse_read_in), 0, 0, kNone, true, true}},
    {Opcode::kWrite,
     {"WRITE", sizeof(abi::fuse_write_in), 0, 0, PayloadKind::kWriteData, true, true}},
    {Opcode::kStatfs, {"STATFS", 0, 0, 0, kNone, true, true}},
    {Opcode::kRelease, {"RELEASE", sizeof(abi::fuse_release_in), 0, 0, kNone, true, true}},
    {Opcode::kFsync, {"FSYNC", sizeof(abi::fuse_fsync_in), 0, 0, kNone, true, true}},
    {Opcode::kSetxattr,
     {"SETXATTR", sizeof(abi::fuse_setxattr_in), 1, 0, PayloadKind::kXattrValue, true, true}},
    {Opcode::kGetxattr, {"GETXATTR", sizeof(abi::fuse_getxattr_in), 1, 0, kNone, true, true}},
    {Opcode::kListxattr, {"LISTXATTR", sizeof(abi::fuse_getxattr_in), 0, 0, kNone, true, true}},
    {Opcode::kRemovexattr, {"REMOVEXATTR", 0, 1, 0, kNone, true, true}},
    {Opcode::kFlush, {"FLUSH", sizeof(abi::fuse_flush_in), 0, 0, kNone, true, true}},
    // INIT's struct grew over the years; 8 bytes (major, minor) is the least
    // any kernel sends, the rest is read if present.
    {Opcode::kInit, {"INIT", 8, 0, 0, PayloadKind::kRemainder, true, true}},
    {Opcode::kOpendir, {"OPENDIR", sizeof(abi::fuse_open_in), 0, 0, kNone, true, true}},
    {Opcode::kReaddir, {"READDIR", sizeof(abi::fuse_read_in), 0, 0, kNone, true, true}},
    {Opcode::kReleasedir, {"RELEASEDIR", sizeof(abi::fuse_release_in), 0, 0, kNone, true, true}},
    {Opcode::kFsyncdir, {"FSYNCDIR", sizeof(abi::fuse_fsync_in), 0, 0, kNone, true, true}},
    {Opcode::kGetlk, {"GETLK", sizeof(abi::fuse_lk_in), 0, 0, kNone, true, true}},
    {Opcode::kSetlk, {"SETLK", sizeof(abi::fuse_lk_in), 0, 0, kNone, true, true}},
    {Opcode::kSetlkw, {"SETLKW", sizeof(abi::fuse_lk_in), 0, 0, kNone, true, true}},
    {Opcode::kAccess, {"ACCESS", sizeof(abi::fuse_access_in), 0, 0, kNone, true, true}},
    {Opcode::kCreate, {"CREATE", sizeof(abi::fuse_create_in), 1, 1, kNone, true, true}},
    {Opcode::kInterrupt, {"INTERRUPT", sizeof(abi::fuse_interrupt_in), 0, 0, kNone, true, true}},
    {Opcode::kBmap, {"BMAP", sizeof(abi::fuse_bmap_in), 0, 0, kNone, true, true}},
    {Opcode::kDestroy, {"DESTROY", 0, 0, 0, kNone, true, true}},
    {Opcode::kIoctl,
     {"IOCTL", sizeof(abi::fuse_ioctl_in), 0, 0, PayloadKind::kIoctlData, true, true}},
    {Opcode::kPoll, {"POLL", sizeof(abi::fuse_poll_in), 0, 0, kNone, true, true}},
    {Opcode::kNotifyReply,
     {"NOTIFY_REPLY", sizeof(abi::fuse_notify_retrieve_in), 0, 0, PayloadKind::kRemainder,
      false, true}},
    {Opcode::kBatchForget,
     {"BATCH_FORGET", sizeof(abi::fuse_batch_forget_in), 0, 0, PayloadKind::kForgetList, false,
      true}},
    {Opcode::kFallocate, {"FALLOCATE", sizeof(abi::fuse_fallocate_in), 0, 0, kNone, true, true}},
    {Opcode::kReaddirplus, {"READDIRPLUS", sizeof(abi::fuse_read_in), 0, 0, kNone, true, true}},
    {Opcode::kRename2, {"RENAME2", sizeof(abi::fuse_rename2_in), 2, 2, kNone, true, true}},
    {Opcode::kLseek, {"LSEEK", sizeof(abi::fuse_lseek_in), 0, 0, kNone, true, true}},
    {Opcode::kCopyFileRange,
     {"COPY_FILE_RANGE", sizeof(abi::fuse_copy_file_range_in), 0, 0, kNone, true, true}},
    // Like COPY_FILE_RANGE, answered with a 64-bit count (7.45).
    {Opcode::kCopyFileRange64,
     {"COPY_FILE_RANGE_64", sizeof(abi::fuse_copy_file_range_in), 0, 0, kNone, true, true}},
    // DAX mappings are for virtio-fs, not /dev/fuse: known, answered ENOSYS.
    {Opcode::kSetupMapping,
     {"SETUPMAPPING", sizeof(abi::fuse_setupmapping_in), 0, 0, kNone, true, false}},
    {Opcode::kRemoveMapping,
     {"REMOVEMAPPING", sizeof(abi::fuse_removemapping_in), 0, 0, PayloadKind::kRemainder, true,
      false}},
    {Opcode::kSyncfs, {"SYNCFS", sizeof(abi::fuse_syncfs_in), 0, 0, kNone, true, true}},
    // TMPFILE carries the unnamed dentry's name ("/"), not an entry name.
    {Opcode::kTmpfile, {"TMPFILE", sizeof(abi::fuse_create_in), 1, 0, kNone, true, true}},
    {Opcode::kStatx, {"STATX", sizeof(abi::fuse_statx_in), 0, 0, kNone, true, true}},
    {Opcode::kCuseInit, {"CUSE_INIT", 8, 0, 0, PayloadKind::kRemainder, true, false}},
};

// Dense index by opcode number for the (hot) lookup; CUSE_INIT is sparse.
constexpr uint32_t kDenseLimit = 64;

struct Index {
  const OpcodeInfo* dense[kDenseLimit] = {};
  const OpcodeInfo* cuse_init = nullptr;
};

const Index& GetIndex() {
  static const Index index = [] {
    Index idx;
    for (const TableRow& row : kTable) {
      uint32_t n = static_cast<uint32_t>(row.opcode);
      if (n < kDenseLimit) {
        idx.dense[n] = &row.info;
      } else {
        idx.cuse_init = &row.info;
      }
    }
    return idx;
  }();
  return index;
}

}  // namespace

const OpcodeInfo* FindOpcode(uint32_t opcode) {
  const Index& index = GetIndex();
  if (opcode < kDenseLimit) return index.dense[opcode];
  if (opcode == static_cast<uint32_t>(Opcode::kCuseInit)) return index.cuse_init;
  return nullptr;
}

absl::string_view OpcodeName(uint32_t opcode) {
  if (const OpcodeInfo* info = FindOpcode(opcode)) return info->name;
  static thread_local char buf[32];
  snprintf(buf, sizeof(buf), "OPCODE_%u", opcode);
  return buf;
}

uint32_t ArgSizeForMinor(const OpcodeInfo& info, abi::Opcode opcode, uint32_t minor,
                         bool setxattr_ext) {
  switch (opcode) {
    case Opcode::kGetattr:
      return minor < 9 ? 0 : info.arg_size;  // fuse_getattr_in came with 7.9
    case Opcode::kRead:
    case Opcode::kWrite:
      return minor < 9 ? abi::kCompatWriteInSize : info.arg_size;  // lock_owner, flags
    case Opcode::kMknod:
      return minor < 12 ? abi::kCompatMknodInSize : info.arg_size;  // umask
    case Opcode::kCreate:
      return minor < 12 ? sizeof(abi::fuse_open_in) : info.arg_size;
    case Opcode::kSetxattr:
      return setxattr_ext ? info.arg_size : abi::kCompatSetxattrInSize;
    default:
      return info.arg_size;
  }
}

}  // namespace fusekit
