// The FUSE kernel ABI as fusekit speaks it on /dev/fuse: the wire structs,
// opcodes, notification codes, flag bits and device ioctls of the kernel's
// include/uapi/linux/fuse.h at protocol 7.45 (Linux 6.18), written out here
// as C++ in namespace fusekit::abi. Struct and field names are the kernel's,
// so code reads like the kernel and libfuse; constants are kCamelCase
// (FUSE_ASYNC_READ -> kInitAsyncRead) so they can coexist with the system
// header's macros. The project keeps its own copy because the distribution's
// <linux/fuse.h> (Debian's linux-libc-dev) stops at 7.38 and lacks statx,
// passthrough, resend, io-uring, request timeouts, epochs and pruning; every
// layout below is pinned with static_asserts, and kernel_abi_test checks it
// against the system header wherever the two overlap.
#pragma once

#include <linux/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace fusekit::abi {

// ---------------------------------------------------------------------------
// Versions and sizes
// ---------------------------------------------------------------------------

constexpr uint32_t kKernelVersion = 7;
constexpr uint32_t kKernelMinorVersion = 45;

// Node id of the root inode.
constexpr uint64_t kRootId = 1;

// The buffer handed to read(2) on /dev/fuse must be at least this big.
constexpr uint32_t kMinReadBuffer = 8192;

// Sizes of replies/requests as sent by (or to) peers at older minor versions.
constexpr uint32_t kCompatEntryOutSize = 120;     // fuse_entry_out < 7.9
constexpr uint32_t kCompatAttrOutSize = 96;       // fuse_attr_out < 7.9
constexpr uint32_t kCompatMknodInSize = 8;        // fuse_mknod_in < 7.12
constexpr uint32_t kCompatWriteInSize = 24;       // fuse_write_in < 7.9
constexpr uint32_t kCompatStatfsSize = 48;        // fuse_statfs_out < 7.4
constexpr uint32_t kCompatInitOutSize = 8;        // fuse_init_out < 7.5
constexpr uint32_t kCompat22InitOutSize = 24;     // fuse_init_out < 7.23
constexpr uint32_t kCompatSetxattrInSize = 8;     // without FUSE_SETXATTR_EXT

// CUSE_INIT reply: maximum size of the device-info string that follows.
constexpr uint32_t kCuseInitInfoMax = 4096;

// Maximum in_iovs + out_iovs in an unrestricted ioctl retry.
constexpr uint32_t kIoctlMaxIov = 256;

// ---------------------------------------------------------------------------
// Attribute structs
// ---------------------------------------------------------------------------

struct fuse_attr {
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;
  uint64_t atime;
  uint64_t mtime;
  uint64_t ctime;
  uint32_t atimensec;
  uint32_t mtimensec;
  uint32_t ctimensec;
  uint32_t mode;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint32_t rdev;
  uint32_t blksize;
  uint32_t flags;  // kAttr*
};
static_assert(sizeof(fuse_attr) == 88);
static_assert(offsetof(fuse_attr, ino) == 0);
static_assert(offsetof(fuse_attr, size) == 8);
static_assert(offsetof(fuse_attr, blocks) == 16);
static_assert(offsetof(fuse_attr, atime) == 24);
static_assert(offsetof(fuse_attr, mtime) == 32);
static_assert(offsetof(fuse_attr, ctime) == 40);
static_assert(offsetof(fuse_attr, atimensec) == 48);
static_assert(offsetof(fuse_attr, mtimensec) == 52);
static_assert(offsetof(fuse_attr, ctimensec) == 56);
static_assert(offsetof(fuse_attr, mode) == 60);
static_assert(offsetof(fuse_attr, nlink) == 64);
static_assert(offsetof(fuse_attr, uid) == 68);
static_assert(offsetof(fuse_attr, gid) == 72);
static_assert(offsetof(fuse_attr, rdev) == 76);
static_assert(offsetof(fuse_attr, blksize) == 80);
static_assert(offsetof(fuse_attr, flags) == 84);

// fuse_sx_time and fuse_statx are bit-for-bit the statx(2) ABI. The
// double-underscore names are the kernel's; they are kept for fidelity.
struct fuse_sx_time {
  int64_t tv_sec;
  uint32_t tv_nsec;
  int32_t __reserved;
};
static_assert(sizeof(fuse_sx_time) == 16);
static_assert(offsetof(fuse_sx_time, tv_sec) == 0);
static_assert(offsetof(fuse_sx_time, tv_nsec) == 8);
static_assert(offsetof(fuse_sx_time, __reserved) == 12);

struct fuse_statx {
  uint32_t mask;
  uint32_t blksize;
  uint64_t attributes;
  uint32_t nlink;
  uint32_t uid;
  uint32_t gid;
  uint16_t mode;
  uint16_t __spare0[1];
  uint64_t ino;
  uint64_t size;
  uint64_t blocks;
  uint64_t attributes_mask;
  fuse_sx_time atime;
  fuse_sx_time btime;
  fuse_sx_time ctime;
  fuse_sx_time mtime;
  uint32_t rdev_major;
  uint32_t rdev_minor;
  uint32_t dev_major;
  uint32_t dev_minor;
  uint64_t __spare2[14];
};
static_assert(sizeof(fuse_statx) == 256);
static_assert(offsetof(fuse_statx, mask) == 0);
static_assert(offsetof(fuse_statx, blksize) == 4);
static_assert(offsetof(fuse_statx, attributes) == 8);
static_assert(offsetof(fuse_statx, nlink) == 16);
static_assert(offsetof(fuse_statx, uid) == 20);
static_assert(offsetof(fuse_statx, gid) == 24);
static_assert(offsetof(fuse_statx, mode) == 28);
static_assert(offsetof(fuse_statx, __spare0) == 30);
static_assert(offsetof(fuse_statx, ino) == 32);
static_assert(offsetof(fuse_statx, size) == 40);
static_assert(offsetof(fuse_statx, blocks) == 48);
static_assert(offsetof(fuse_statx, attributes_mask) == 56);
static_assert(offsetof(fuse_statx, atime) == 64);
static_assert(offsetof(fuse_statx, btime) == 80);
static_assert(offsetof(fuse_statx, ctime) == 96);
static_assert(offsetof(fuse_statx, mtime) == 112);
static_assert(offsetof(fuse_statx, rdev_major) == 128);
static_assert(offsetof(fuse_statx, rdev_minor) == 132);
static_assert(offsetof(fuse_statx, dev_major) == 136);
static_assert(offsetof(fuse_statx, dev_minor) == 140);
static_assert(offsetof(fuse_statx, __spare2) == 144);

struct fuse_kstatfs {
  uint64_t blocks;
  uint64_t bfree;
  uint64_t bavail;
  uint64_t files;
  uint64_t ffree;
  uint32_t bsize;
  uint32_t namelen;
  uint32_t frsize;
  uint32_t padding;
  uint32_t spare[6];
};
static_assert(sizeof(fuse_kstatfs) == 80);
static_assert(offsetof(fuse_kstatfs, blocks) == 0);
static_assert(offsetof(fuse_kstatfs, bfree) == 8);
static_assert(offsetof(fuse_kstatfs, bavail) == 16);
static_assert(offsetof(fuse_kstatfs, files) == 24);
static_assert(offsetof(fuse_kstatfs, ffree) == 32);
static_assert(offsetof(fuse_kstatfs, bsize) == 40);
static_assert(offsetof(fuse_kstatfs, namelen) == 44);
static_assert(offsetof(fuse_kstatfs, frsize) == 48);
static_assert(offsetof(fuse_kstatfs, padding) == 52);
static_assert(offsetof(fuse_kstatfs, spare) == 56);

struct fuse_file_lock {
  uint64_t start;
  uint64_t end;
  uint32_t type;
  uint32_t pid;  // tgid
};
static_assert(sizeof(fuse_file_lock) == 24);
static_assert(offsetof(fuse_file_lock, start) == 0);
static_assert(offsetof(fuse_file_lock, end) == 8);
static_assert(offsetof(fuse_file_lock, type) == 16);
static_assert(offsetof(fuse_file_lock, pid) == 20);

// ---------------------------------------------------------------------------
// Flag bits
// ---------------------------------------------------------------------------

// fuse_setattr_in.valid (FATTR_*).
constexpr uint32_t kFattrMode = 1u << 0;
constexpr uint32_t kFattrUid = 1u << 1;
constexpr uint32_t kFattrGid = 1u << 2;
constexpr uint32_t kFattrSize = 1u << 3;
constexpr uint32_t kFattrAtime = 1u << 4;
constexpr uint32_t kFattrMtime = 1u << 5;
constexpr uint32_t kFattrFh = 1u << 6;
constexpr uint32_t kFattrAtimeNow = 1u << 7;
constexpr uint32_t kFattrMtimeNow = 1u << 8;
constexpr uint32_t kFattrLockowner = 1u << 9;
constexpr uint32_t kFattrCtime = 1u << 10;
constexpr uint32_t kFattrKillSuidgid = 1u << 11;

// fuse_open_out.open_flags (FOPEN_*).
constexpr uint32_t kOpenDirectIo = 1u << 0;
constexpr uint32_t kOpenKeepCache = 1u << 1;
constexpr uint32_t kOpenNonseekable = 1u << 2;
constexpr uint32_t kOpenCacheDir = 1u << 3;
constexpr uint32_t kOpenStream = 1u << 4;
constexpr uint32_t kOpenNoflush = 1u << 5;
constexpr uint32_t kOpenParallelDirectWrites = 1u << 6;
constexpr uint32_t kOpenPassthrough = 1u << 7;  // backing_id is valid

// INIT request/reply flags (FUSE_*). fuse_init_in/out carry bits 0..31 in
// `flags` and bits 32..63, shifted down by 32, in `flags2` (the latter only
// when kInitExt is set).
constexpr uint64_t kInitAsyncRead = 1ULL << 0;
constexpr uint64_t kInitPosixLocks = 1ULL << 1;
constexpr uint64_t kInitFileOps = 1ULL << 2;
constexpr uint64_t kInitAtomicOTrunc = 1ULL << 3;
constexpr uint64_t kInitExportSupport = 1ULL << 4;
constexpr uint64_t kInitBigWrites = 1ULL << 5;
constexpr uint64_t kInitDontMask = 1ULL << 6;
constexpr uint64_t kInitSpliceWrite = 1ULL << 7;
constexpr uint64_t kInitSpliceMove = 1ULL << 8;
constexpr uint64_t kInitSpliceRead = 1ULL << 9;
constexpr uint64_t kInitFlockLocks = 1ULL << 10;
constexpr uint64_t kInitHasIoctlDir = 1ULL << 11;
constexpr uint64_t kInitAutoInvalData = 1ULL << 12;
constexpr uint64_t kInitDoReaddirplus = 1ULL << 13;
constexpr uint64_t kInitReaddirplusAuto = 1ULL << 14;
constexpr uint64_t kInitAsyncDio = 1ULL << 15;
constexpr uint64_t kInitWritebackCache = 1ULL << 16;
constexpr uint64_t kInitNoOpenSupport = 1ULL << 17;
constexpr uint64_t kInitParallelDirops = 1ULL << 18;
constexpr uint64_t kInitHandleKillpriv = 1ULL << 19;
constexpr uint64_t kInitPosixAcl = 1ULL << 20;
constexpr uint64_t kInitAbortError = 1ULL << 21;
constexpr uint64_t kInitMaxPages = 1ULL << 22;
constexpr uint64_t kInitCacheSymlinks = 1ULL << 23;
constexpr uint64_t kInitNoOpendirSupport = 1ULL << 24;
constexpr uint64_t kInitExplicitInvalData = 1ULL << 25;
constexpr uint64_t kInitMapAlignment = 1ULL << 26;
constexpr uint64_t kInitSubmounts = 1ULL << 27;
constexpr uint64_t kInitHandleKillprivV2 = 1ULL << 28;
constexpr uint64_t kInitSetxattrExt = 1ULL << 29;
constexpr uint64_t kInitExt = 1ULL << 30;       // FUSE_INIT_EXT: flags2 valid
constexpr uint64_t kInitReserved = 1ULL << 31;  // FUSE_INIT_RESERVED
constexpr uint64_t kInitSecurityCtx = 1ULL << 32;
constexpr uint64_t kInitHasInodeDax = 1ULL << 33;
constexpr uint64_t kInitCreateSuppGroup = 1ULL << 34;
constexpr uint64_t kInitHasExpireOnly = 1ULL << 35;
constexpr uint64_t kInitDirectIoAllowMmap = 1ULL << 36;
constexpr uint64_t kInitPassthrough = 1ULL << 37;
constexpr uint64_t kInitNoExportSupport = 1ULL << 38;
constexpr uint64_t kInitHasResend = 1ULL << 39;
constexpr uint64_t kInitAllowIdmap = 1ULL << 40;
constexpr uint64_t kInitOverIoUring = 1ULL << 41;
constexpr uint64_t kInitRequestTimeout = 1ULL << 42;
// Obsolete kernel alias (FUSE_DIRECT_IO_RELAX).
constexpr uint64_t kInitDirectIoRelax = kInitDirectIoAllowMmap;

// CUSE INIT request/reply flags.
constexpr uint32_t kCuseUnrestrictedIoctl = 1u << 0;

// fuse_release_in.release_flags (FUSE_RELEASE_*).
constexpr uint32_t kReleaseFlush = 1u << 0;
constexpr uint32_t kReleaseFlockUnlock = 1u << 1;

// fuse_getattr_in.getattr_flags.
constexpr uint32_t kGetattrFh = 1u << 0;

// fuse_lk_in.lk_flags.
constexpr uint32_t kLkFlock = 1u << 0;

// fuse_write_in.write_flags (FUSE_WRITE_*).
constexpr uint32_t kWriteCache = 1u << 0;
constexpr uint32_t kWriteLockowner = 1u << 1;
constexpr uint32_t kWriteKillSuidgid = 1u << 2;
// Obsolete kernel alias (FUSE_WRITE_KILL_PRIV).
constexpr uint32_t kWriteKillPriv = kWriteKillSuidgid;

// fuse_read_in.read_flags.
constexpr uint32_t kReadLockowner = 1u << 1;

// fuse_ioctl_in.flags / fuse_ioctl_out.flags (FUSE_IOCTL_*).
constexpr uint32_t kIoctlCompat = 1u << 0;
constexpr uint32_t kIoctlUnrestricted = 1u << 1;
constexpr uint32_t kIoctlRetry = 1u << 2;
constexpr uint32_t kIoctl32Bit = 1u << 3;
constexpr uint32_t kIoctlDir = 1u << 4;
constexpr uint32_t kIoctlCompatX32 = 1u << 5;

// fuse_poll_in.flags.
constexpr uint32_t kPollScheduleNotify = 1u << 0;

// fuse_fsync_in.fsync_flags.
constexpr uint32_t kFsyncFdatasync = 1u << 0;

// fuse_attr.flags (FUSE_ATTR_*).
constexpr uint32_t kAttrSubmount = 1u << 0;
constexpr uint32_t kAttrDax = 1u << 1;

// fuse_open_in.open_flags / fuse_create_in.open_flags (FUSE_OPEN_*). Named
// kOpenIn* to keep them apart from the FOPEN_* reply flags above.
constexpr uint32_t kOpenInKillSuidgid = 1u << 0;

// fuse_setxattr_in.setxattr_flags.
constexpr uint32_t kSetxattrAclKillSgid = 1u << 0;

// fuse_notify_inval_entry_out.flags.
constexpr uint32_t kExpireOnly = 1u << 0;

// fuse_setupmapping_in.flags.
constexpr uint64_t kSetupmappingFlagWrite = 1ULL << 0;
constexpr uint64_t kSetupmappingFlagRead = 1ULL << 1;

// Set in fuse_in_header.unique when the kernel resends a request (after
// FUSE_NOTIFY_RESEND, with kInitHasResend negotiated).
constexpr uint64_t kUniqueResend = 1ULL << 63;

// fuse_in_header.uid/gid when kInitAllowIdmap is on and the caller's ids
// cannot be mapped.
constexpr uint32_t kInvalidUidgid = UINT32_MAX;

// ---------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------

// Extension types (fuse_ext_header.type). Types 0..31 are reserved: there a
// fuse_secctx_header's nr_secctx sits where the type would be.
enum class ExtType : uint32_t {
  kMaxNrSecctx = 31,  // FUSE_MAX_NR_SECCTX: largest nr_secctx, not a type
  kGroups = 32,       // FUSE_EXT_GROUPS: a fuse_supp_groups follows
};

// fuse_in_header.opcode (enum fuse_opcode).
enum class Opcode : uint32_t {
  kLookup = 1,
  kForget = 2,  // no reply
  kGetattr = 3,
  kSetattr = 4,
  kReadlink = 5,
  kSymlink = 6,
  kMknod = 8,
  kMkdir = 9,
  kUnlink = 10,
  kRmdir = 11,
  kRename = 12,
  kLink = 13,
  kOpen = 14,
  kRead = 15,
  kWrite = 16,
  kStatfs = 17,
  kRelease = 18,
  kFsync = 20,
  kSetxattr = 21,
  kGetxattr = 22,
  kListxattr = 23,
  kRemovexattr = 24,
  kFlush = 25,
  kInit = 26,
  kOpendir = 27,
  kReaddir = 28,
  kReleasedir = 29,
  kFsyncdir = 30,
  kGetlk = 31,
  kSetlk = 32,
  kSetlkw = 33,
  kAccess = 34,
  kCreate = 35,
  kInterrupt = 36,
  kBmap = 37,
  kDestroy = 38,
  kIoctl = 39,
  kPoll = 40,
  kNotifyReply = 41,
  kBatchForget = 42,  // no reply
  kFallocate = 43,
  kReaddirplus = 44,
  kRename2 = 45,
  kLseek = 46,
  kCopyFileRange = 47,
  kSetupMapping = 48,
  kRemoveMapping = 49,
  kSyncfs = 50,
  kTmpfile = 51,
  kStatx = 52,
  kCopyFileRange64 = 53,  // replies with fuse_copy_file_range_out

  // CUSE.
  kCuseInit = 4096,

  // Reserved so that a byte-swapped INIT is recognisable.
  kCuseInitBswapReserved = 1048576,   // CUSE_INIT << 8
  kInitBswapReserved = 436207616,     // FUSE_INIT << 24
};

// fuse_out_header.error of an unsolicited notification (unique == 0)
// (enum fuse_notify_code).
enum class NotifyCode : int32_t {
  kPoll = 1,
  kInvalInode = 2,
  kInvalEntry = 3,
  kStore = 4,
  kRetrieve = 5,
  kDelete = 6,
  kResend = 7,
  kIncEpoch = 8,
  kPrune = 9,
};

// ---------------------------------------------------------------------------
// Request and reply bodies
// ---------------------------------------------------------------------------

struct fuse_entry_out {
  uint64_t nodeid;
  uint64_t generation;  // nodeid:generation must be unique for the fs's life
  uint64_t entry_valid;  // cache timeout for the name, seconds
  uint64_t attr_valid;   // cache timeout for the attributes, seconds
  uint32_t entry_valid_nsec;
  uint32_t attr_valid_nsec;
  fuse_attr attr;
};
static_assert(sizeof(fuse_entry_out) == 128);
static_assert(offsetof(fuse_entry_out, nodeid) == 0);
static_assert(offsetof(fuse_entry_out, generation) == 8);
static_assert(offsetof(fuse_entry_out, entry_valid) == 16);
static_assert(offsetof(fuse_entry_out, attr_valid) == 24);
static_assert(offsetof(fuse_entry_out, entry_valid_nsec) == 32);
static_assert(offsetof(fuse_entry_out, attr_valid_nsec) == 36);
static_assert(offsetof(fuse_entry_out, attr) == 40);

struct fuse_forget_in {
  uint64_t nlookup;
};
static_assert(sizeof(fuse_forget_in) == 8);
static_assert(offsetof(fuse_forget_in, nlookup) == 0);

struct fuse_forget_one {
  uint64_t nodeid;
  uint64_t nlookup;
};
static_assert(sizeof(fuse_forget_one) == 16);
static_assert(offsetof(fuse_forget_one, nodeid) == 0);
static_assert(offsetof(fuse_forget_one, nlookup) == 8);

// Followed by `count` fuse_forget_one.
struct fuse_batch_forget_in {
  uint32_t count;
  uint32_t dummy;
};
static_assert(sizeof(fuse_batch_forget_in) == 8);
static_assert(offsetof(fuse_batch_forget_in, count) == 0);
static_assert(offsetof(fuse_batch_forget_in, dummy) == 4);

struct fuse_getattr_in {
  uint32_t getattr_flags;  // kGetattrFh
  uint32_t dummy;
  uint64_t fh;
};
static_assert(sizeof(fuse_getattr_in) == 16);
static_assert(offsetof(fuse_getattr_in, getattr_flags) == 0);
static_assert(offsetof(fuse_getattr_in, dummy) == 4);
static_assert(offsetof(fuse_getattr_in, fh) == 8);

struct fuse_attr_out {
  uint64_t attr_valid;  // cache timeout for the attributes, seconds
  uint32_t attr_valid_nsec;
  uint32_t dummy;
  fuse_attr attr;
};
static_assert(sizeof(fuse_attr_out) == 104);
static_assert(offsetof(fuse_attr_out, attr_valid) == 0);
static_assert(offsetof(fuse_attr_out, attr_valid_nsec) == 8);
static_assert(offsetof(fuse_attr_out, dummy) == 12);
static_assert(offsetof(fuse_attr_out, attr) == 16);

struct fuse_statx_in {
  uint32_t getattr_flags;
  uint32_t reserved;
  uint64_t fh;
  uint32_t sx_flags;  // AT_STATX_* sync flags
  uint32_t sx_mask;   // STATX_* fields wanted
};
static_assert(sizeof(fuse_statx_in) == 24);
static_assert(offsetof(fuse_statx_in, getattr_flags) == 0);
static_assert(offsetof(fuse_statx_in, reserved) == 4);
static_assert(offsetof(fuse_statx_in, fh) == 8);
static_assert(offsetof(fuse_statx_in, sx_flags) == 16);
static_assert(offsetof(fuse_statx_in, sx_mask) == 20);

struct fuse_statx_out {
  uint64_t attr_valid;  // cache timeout for the attributes, seconds
  uint32_t attr_valid_nsec;
  uint32_t flags;
  uint64_t spare[2];
  fuse_statx stat;
};
static_assert(sizeof(fuse_statx_out) == 288);
static_assert(offsetof(fuse_statx_out, attr_valid) == 0);
static_assert(offsetof(fuse_statx_out, attr_valid_nsec) == 8);
static_assert(offsetof(fuse_statx_out, flags) == 12);
static_assert(offsetof(fuse_statx_out, spare) == 16);
static_assert(offsetof(fuse_statx_out, stat) == 32);

struct fuse_mknod_in {
  uint32_t mode;
  uint32_t rdev;
  uint32_t umask;
  uint32_t padding;
};
static_assert(sizeof(fuse_mknod_in) == 16);
static_assert(offsetof(fuse_mknod_in, mode) == 0);
static_assert(offsetof(fuse_mknod_in, rdev) == 4);
static_assert(offsetof(fuse_mknod_in, umask) == 8);
static_assert(offsetof(fuse_mknod_in, padding) == 12);

struct fuse_mkdir_in {
  uint32_t mode;
  uint32_t umask;
};
static_assert(sizeof(fuse_mkdir_in) == 8);
static_assert(offsetof(fuse_mkdir_in, mode) == 0);
static_assert(offsetof(fuse_mkdir_in, umask) == 4);

struct fuse_rename_in {
  uint64_t newdir;
};
static_assert(sizeof(fuse_rename_in) == 8);
static_assert(offsetof(fuse_rename_in, newdir) == 0);

struct fuse_rename2_in {
  uint64_t newdir;
  uint32_t flags;  // RENAME_* of renameat2(2)
  uint32_t padding;
};
static_assert(sizeof(fuse_rename2_in) == 16);
static_assert(offsetof(fuse_rename2_in, newdir) == 0);
static_assert(offsetof(fuse_rename2_in, flags) == 8);
static_assert(offsetof(fuse_rename2_in, padding) == 12);

struct fuse_link_in {
  uint64_t oldnodeid;
};
static_assert(sizeof(fuse_link_in) == 8);
static_assert(offsetof(fuse_link_in, oldnodeid) == 0);

struct fuse_setattr_in {
  uint32_t valid;  // kFattr*: which of the fields below are set
  uint32_t padding;
  uint64_t fh;
  uint64_t size;
  uint64_t lock_owner;
  uint64_t atime;
  uint64_t mtime;
  uint64_t ctime;
  uint32_t atimensec;
  uint32_t mtimensec;
  uint32_t ctimensec;
  uint32_t mode;
  uint32_t unused4;
  uint32_t uid;
  uint32_t gid;
  uint32_t unused5;
};
static_assert(sizeof(fuse_setattr_in) == 88);
static_assert(offsetof(fuse_setattr_in, valid) == 0);
static_assert(offsetof(fuse_setattr_in, padding) == 4);
static_assert(offsetof(fuse_setattr_in, fh) == 8);
static_assert(offsetof(fuse_setattr_in, size) == 16);
static_assert(offsetof(fuse_setattr_in, lock_owner) == 24);
static_assert(offsetof(fuse_setattr_in, atime) == 32);
static_assert(offsetof(fuse_setattr_in, mtime) == 40);
static_assert(offsetof(fuse_setattr_in, ctime) == 48);
static_assert(offsetof(fuse_setattr_in, atimensec) == 56);
static_assert(offsetof(fuse_setattr_in, mtimensec) == 60);
static_assert(offsetof(fuse_setattr_in, ctimensec) == 64);
static_assert(offsetof(fuse_setattr_in, mode) == 68);
static_assert(offsetof(fuse_setattr_in, unused4) == 72);
static_assert(offsetof(fuse_setattr_in, uid) == 76);
static_assert(offsetof(fuse_setattr_in, gid) == 80);
static_assert(offsetof(fuse_setattr_in, unused5) == 84);

struct fuse_open_in {
  uint32_t flags;       // open(2) flags
  uint32_t open_flags;  // kOpenIn*
};
static_assert(sizeof(fuse_open_in) == 8);
static_assert(offsetof(fuse_open_in, flags) == 0);
static_assert(offsetof(fuse_open_in, open_flags) == 4);

struct fuse_create_in {
  uint32_t flags;  // open(2) flags
  uint32_t mode;
  uint32_t umask;
  uint32_t open_flags;  // kOpenIn*
};
static_assert(sizeof(fuse_create_in) == 16);
static_assert(offsetof(fuse_create_in, flags) == 0);
static_assert(offsetof(fuse_create_in, mode) == 4);
static_assert(offsetof(fuse_create_in, umask) == 8);
static_assert(offsetof(fuse_create_in, open_flags) == 12);

struct fuse_open_out {
  uint64_t fh;
  uint32_t open_flags;  // kOpen* (FOPEN_*)
  int32_t backing_id;   // with kOpenPassthrough; was `padding` before 7.40
};
static_assert(sizeof(fuse_open_out) == 16);
static_assert(offsetof(fuse_open_out, fh) == 0);
static_assert(offsetof(fuse_open_out, open_flags) == 8);
static_assert(offsetof(fuse_open_out, backing_id) == 12);

struct fuse_release_in {
  uint64_t fh;
  uint32_t flags;
  uint32_t release_flags;  // kRelease*
  uint64_t lock_owner;
};
static_assert(sizeof(fuse_release_in) == 24);
static_assert(offsetof(fuse_release_in, fh) == 0);
static_assert(offsetof(fuse_release_in, flags) == 8);
static_assert(offsetof(fuse_release_in, release_flags) == 12);
static_assert(offsetof(fuse_release_in, lock_owner) == 16);

struct fuse_flush_in {
  uint64_t fh;
  uint32_t unused;
  uint32_t padding;
  uint64_t lock_owner;
};
static_assert(sizeof(fuse_flush_in) == 24);
static_assert(offsetof(fuse_flush_in, fh) == 0);
static_assert(offsetof(fuse_flush_in, unused) == 8);
static_assert(offsetof(fuse_flush_in, padding) == 12);
static_assert(offsetof(fuse_flush_in, lock_owner) == 16);

struct fuse_read_in {
  uint64_t fh;
  uint64_t offset;
  uint32_t size;
  uint32_t read_flags;  // kReadLockowner
  uint64_t lock_owner;
  uint32_t flags;  // open(2) flags of the file
  uint32_t padding;
};
static_assert(sizeof(fuse_read_in) == 40);
static_assert(offsetof(fuse_read_in, fh) == 0);
static_assert(offsetof(fuse_read_in, offset) == 8);
static_assert(offsetof(fuse_read_in, size) == 16);
static_assert(offsetof(fuse_read_in, read_flags) == 20);
static_assert(offsetof(fuse_read_in, lock_owner) == 24);
static_assert(offsetof(fuse_read_in, flags) == 32);
static_assert(offsetof(fuse_read_in, padding) == 36);

struct fuse_write_in {
  uint64_t fh;
  uint64_t offset;
  uint32_t size;
  uint32_t write_flags;  // kWrite*
  uint64_t lock_owner;
  uint32_t flags;  // open(2) flags of the file
  uint32_t padding;
};
static_assert(sizeof(fuse_write_in) == 40);
static_assert(offsetof(fuse_write_in, fh) == 0);
static_assert(offsetof(fuse_write_in, offset) == 8);
static_assert(offsetof(fuse_write_in, size) == 16);
static_assert(offsetof(fuse_write_in, write_flags) == 20);
static_assert(offsetof(fuse_write_in, lock_owner) == 24);
static_assert(offsetof(fuse_write_in, flags) == 32);
static_assert(offsetof(fuse_write_in, padding) == 36);

struct fuse_write_out {
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_write_out) == 8);
static_assert(offsetof(fuse_write_out, size) == 0);
static_assert(offsetof(fuse_write_out, padding) == 4);

struct fuse_statfs_out {
  fuse_kstatfs st;
};
static_assert(sizeof(fuse_statfs_out) == 80);
static_assert(offsetof(fuse_statfs_out, st) == 0);

struct fuse_fsync_in {
  uint64_t fh;
  uint32_t fsync_flags;  // kFsyncFdatasync
  uint32_t padding;
};
static_assert(sizeof(fuse_fsync_in) == 16);
static_assert(offsetof(fuse_fsync_in, fh) == 0);
static_assert(offsetof(fuse_fsync_in, fsync_flags) == 8);
static_assert(offsetof(fuse_fsync_in, padding) == 12);

// Only the first kCompatSetxattrInSize bytes unless kInitSetxattrExt.
struct fuse_setxattr_in {
  uint32_t size;
  uint32_t flags;           // XATTR_CREATE / XATTR_REPLACE
  uint32_t setxattr_flags;  // kSetxattrAclKillSgid
  uint32_t padding;
};
static_assert(sizeof(fuse_setxattr_in) == 16);
static_assert(offsetof(fuse_setxattr_in, size) == 0);
static_assert(offsetof(fuse_setxattr_in, flags) == 4);
static_assert(offsetof(fuse_setxattr_in, setxattr_flags) == 8);
static_assert(offsetof(fuse_setxattr_in, padding) == 12);

struct fuse_getxattr_in {
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_getxattr_in) == 8);
static_assert(offsetof(fuse_getxattr_in, size) == 0);
static_assert(offsetof(fuse_getxattr_in, padding) == 4);

struct fuse_getxattr_out {
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_getxattr_out) == 8);
static_assert(offsetof(fuse_getxattr_out, size) == 0);
static_assert(offsetof(fuse_getxattr_out, padding) == 4);

struct fuse_lk_in {
  uint64_t fh;
  uint64_t owner;
  fuse_file_lock lk;
  uint32_t lk_flags;  // kLkFlock
  uint32_t padding;
};
static_assert(sizeof(fuse_lk_in) == 48);
static_assert(offsetof(fuse_lk_in, fh) == 0);
static_assert(offsetof(fuse_lk_in, owner) == 8);
static_assert(offsetof(fuse_lk_in, lk) == 16);
static_assert(offsetof(fuse_lk_in, lk_flags) == 40);
static_assert(offsetof(fuse_lk_in, padding) == 44);

struct fuse_lk_out {
  fuse_file_lock lk;
};
static_assert(sizeof(fuse_lk_out) == 24);
static_assert(offsetof(fuse_lk_out, lk) == 0);

struct fuse_access_in {
  uint32_t mask;
  uint32_t padding;
};
static_assert(sizeof(fuse_access_in) == 8);
static_assert(offsetof(fuse_access_in, mask) == 0);
static_assert(offsetof(fuse_access_in, padding) == 4);

struct fuse_init_in {
  uint32_t major;
  uint32_t minor;
  uint32_t max_readahead;
  uint32_t flags;   // kInit* bits 0..31
  uint32_t flags2;  // kInit* bits 32..63, shifted down; valid with kInitExt
  uint32_t unused[11];
};
static_assert(sizeof(fuse_init_in) == 64);
static_assert(offsetof(fuse_init_in, major) == 0);
static_assert(offsetof(fuse_init_in, minor) == 4);
static_assert(offsetof(fuse_init_in, max_readahead) == 8);
static_assert(offsetof(fuse_init_in, flags) == 12);
static_assert(offsetof(fuse_init_in, flags2) == 16);
static_assert(offsetof(fuse_init_in, unused) == 20);

struct fuse_init_out {
  uint32_t major;
  uint32_t minor;
  uint32_t max_readahead;
  uint32_t flags;  // kInit* bits 0..31
  uint16_t max_background;
  uint16_t congestion_threshold;
  uint32_t max_write;
  uint32_t time_gran;  // timestamp granularity, ns (1 = full resolution)
  uint16_t max_pages;  // with kInitMaxPages
  uint16_t map_alignment;  // log2 of DAX mapping alignment (kInitMapAlignment)
  uint32_t flags2;  // kInit* bits 32..63, shifted down; with kInitExt
  uint32_t max_stack_depth;  // passthrough backing-file stacking depth
  uint16_t request_timeout;  // seconds, with kInitRequestTimeout
  uint16_t unused[11];
};
static_assert(sizeof(fuse_init_out) == 64);
static_assert(offsetof(fuse_init_out, major) == 0);
static_assert(offsetof(fuse_init_out, minor) == 4);
static_assert(offsetof(fuse_init_out, max_readahead) == 8);
static_assert(offsetof(fuse_init_out, flags) == 12);
static_assert(offsetof(fuse_init_out, max_background) == 16);
static_assert(offsetof(fuse_init_out, congestion_threshold) == 18);
static_assert(offsetof(fuse_init_out, max_write) == 20);
static_assert(offsetof(fuse_init_out, time_gran) == 24);
static_assert(offsetof(fuse_init_out, max_pages) == 28);
static_assert(offsetof(fuse_init_out, map_alignment) == 30);
static_assert(offsetof(fuse_init_out, flags2) == 32);
static_assert(offsetof(fuse_init_out, max_stack_depth) == 36);
static_assert(offsetof(fuse_init_out, request_timeout) == 40);
static_assert(offsetof(fuse_init_out, unused) == 42);

struct cuse_init_in {
  uint32_t major;
  uint32_t minor;
  uint32_t unused;
  uint32_t flags;  // kCuse*
};
static_assert(sizeof(cuse_init_in) == 16);
static_assert(offsetof(cuse_init_in, major) == 0);
static_assert(offsetof(cuse_init_in, minor) == 4);
static_assert(offsetof(cuse_init_in, unused) == 8);
static_assert(offsetof(cuse_init_in, flags) == 12);

// Followed by up to kCuseInitInfoMax bytes of "KEY=value\0" device info.
struct cuse_init_out {
  uint32_t major;
  uint32_t minor;
  uint32_t unused;
  uint32_t flags;  // kCuse*
  uint32_t max_read;
  uint32_t max_write;
  uint32_t dev_major;  // chardev major
  uint32_t dev_minor;  // chardev minor
  uint32_t spare[10];
};
static_assert(sizeof(cuse_init_out) == 72);
static_assert(offsetof(cuse_init_out, major) == 0);
static_assert(offsetof(cuse_init_out, minor) == 4);
static_assert(offsetof(cuse_init_out, unused) == 8);
static_assert(offsetof(cuse_init_out, flags) == 12);
static_assert(offsetof(cuse_init_out, max_read) == 16);
static_assert(offsetof(cuse_init_out, max_write) == 20);
static_assert(offsetof(cuse_init_out, dev_major) == 24);
static_assert(offsetof(cuse_init_out, dev_minor) == 28);
static_assert(offsetof(cuse_init_out, spare) == 32);

struct fuse_interrupt_in {
  uint64_t unique;  // of the request to interrupt
};
static_assert(sizeof(fuse_interrupt_in) == 8);
static_assert(offsetof(fuse_interrupt_in, unique) == 0);

struct fuse_bmap_in {
  uint64_t block;
  uint32_t blocksize;
  uint32_t padding;
};
static_assert(sizeof(fuse_bmap_in) == 16);
static_assert(offsetof(fuse_bmap_in, block) == 0);
static_assert(offsetof(fuse_bmap_in, blocksize) == 8);
static_assert(offsetof(fuse_bmap_in, padding) == 12);

struct fuse_bmap_out {
  uint64_t block;
};
static_assert(sizeof(fuse_bmap_out) == 8);
static_assert(offsetof(fuse_bmap_out, block) == 0);

struct fuse_ioctl_in {
  uint64_t fh;
  uint32_t flags;  // kIoctl*
  uint32_t cmd;
  uint64_t arg;
  uint32_t in_size;
  uint32_t out_size;
};
static_assert(sizeof(fuse_ioctl_in) == 32);
static_assert(offsetof(fuse_ioctl_in, fh) == 0);
static_assert(offsetof(fuse_ioctl_in, flags) == 8);
static_assert(offsetof(fuse_ioctl_in, cmd) == 12);
static_assert(offsetof(fuse_ioctl_in, arg) == 16);
static_assert(offsetof(fuse_ioctl_in, in_size) == 24);
static_assert(offsetof(fuse_ioctl_in, out_size) == 28);

struct fuse_ioctl_iovec {
  uint64_t base;
  uint64_t len;
};
static_assert(sizeof(fuse_ioctl_iovec) == 16);
static_assert(offsetof(fuse_ioctl_iovec, base) == 0);
static_assert(offsetof(fuse_ioctl_iovec, len) == 8);

// With kIoctlRetry, followed by in_iovs + out_iovs fuse_ioctl_iovec.
struct fuse_ioctl_out {
  int32_t result;
  uint32_t flags;  // kIoctl*
  uint32_t in_iovs;
  uint32_t out_iovs;
};
static_assert(sizeof(fuse_ioctl_out) == 16);
static_assert(offsetof(fuse_ioctl_out, result) == 0);
static_assert(offsetof(fuse_ioctl_out, flags) == 4);
static_assert(offsetof(fuse_ioctl_out, in_iovs) == 8);
static_assert(offsetof(fuse_ioctl_out, out_iovs) == 12);

struct fuse_poll_in {
  uint64_t fh;
  uint64_t kh;     // kernel handle, echoed in fuse_notify_poll_wakeup_out
  uint32_t flags;  // kPollScheduleNotify
  uint32_t events;
};
static_assert(sizeof(fuse_poll_in) == 24);
static_assert(offsetof(fuse_poll_in, fh) == 0);
static_assert(offsetof(fuse_poll_in, kh) == 8);
static_assert(offsetof(fuse_poll_in, flags) == 16);
static_assert(offsetof(fuse_poll_in, events) == 20);

struct fuse_poll_out {
  uint32_t revents;
  uint32_t padding;
};
static_assert(sizeof(fuse_poll_out) == 8);
static_assert(offsetof(fuse_poll_out, revents) == 0);
static_assert(offsetof(fuse_poll_out, padding) == 4);

struct fuse_notify_poll_wakeup_out {
  uint64_t kh;
};
static_assert(sizeof(fuse_notify_poll_wakeup_out) == 8);
static_assert(offsetof(fuse_notify_poll_wakeup_out, kh) == 0);

struct fuse_fallocate_in {
  uint64_t fh;
  uint64_t offset;
  uint64_t length;
  uint32_t mode;  // FALLOC_FL_*
  uint32_t padding;
};
static_assert(sizeof(fuse_fallocate_in) == 32);
static_assert(offsetof(fuse_fallocate_in, fh) == 0);
static_assert(offsetof(fuse_fallocate_in, offset) == 8);
static_assert(offsetof(fuse_fallocate_in, length) == 16);
static_assert(offsetof(fuse_fallocate_in, mode) == 24);
static_assert(offsetof(fuse_fallocate_in, padding) == 28);

// ---------------------------------------------------------------------------
// Message headers
// ---------------------------------------------------------------------------

struct fuse_in_header {
  uint32_t len;  // whole request, header and extensions included
  uint32_t opcode;  // Opcode
  uint64_t unique;  // kUniqueResend may be set
  uint64_t nodeid;
  uint32_t uid;
  uint32_t gid;
  uint32_t pid;
  uint16_t total_extlen;  // length of trailing extensions, in 8-byte units
  uint16_t padding;
};
static_assert(sizeof(fuse_in_header) == 40);
static_assert(offsetof(fuse_in_header, len) == 0);
static_assert(offsetof(fuse_in_header, opcode) == 4);
static_assert(offsetof(fuse_in_header, unique) == 8);
static_assert(offsetof(fuse_in_header, nodeid) == 16);
static_assert(offsetof(fuse_in_header, uid) == 24);
static_assert(offsetof(fuse_in_header, gid) == 28);
static_assert(offsetof(fuse_in_header, pid) == 32);
static_assert(offsetof(fuse_in_header, total_extlen) == 36);
static_assert(offsetof(fuse_in_header, padding) == 38);

struct fuse_out_header {
  uint32_t len;
  int32_t error;  // -errno; a NotifyCode when unique == 0
  uint64_t unique;
};
static_assert(sizeof(fuse_out_header) == 16);
static_assert(offsetof(fuse_out_header, len) == 0);
static_assert(offsetof(fuse_out_header, error) == 4);
static_assert(offsetof(fuse_out_header, unique) == 8);

// ---------------------------------------------------------------------------
// Directory entries
// ---------------------------------------------------------------------------

// The kernel declares a trailing `char name[]` flexible array member, which
// is not legal C++. Only the fixed part is declared here: the name's
// `namelen` bytes start at kNameOffsetDirent (== sizeof), and each record is
// padded to DirentAlign(kNameOffsetDirent + namelen).
struct fuse_dirent {
  uint64_t ino;
  uint64_t off;  // offset of the next entry, for the next READDIR
  uint32_t namelen;
  uint32_t type;  // DT_* (S_IFMT >> 12)
};
static_assert(sizeof(fuse_dirent) == 24);
static_assert(offsetof(fuse_dirent, ino) == 0);
static_assert(offsetof(fuse_dirent, off) == 8);
static_assert(offsetof(fuse_dirent, namelen) == 16);
static_assert(offsetof(fuse_dirent, type) == 20);

// As fuse_dirent: the name follows at kNameOffsetDirentplus (== sizeof).
struct fuse_direntplus {
  fuse_entry_out entry_out;
  fuse_dirent dirent;
};
static_assert(sizeof(fuse_direntplus) == 152);
static_assert(offsetof(fuse_direntplus, entry_out) == 0);
static_assert(offsetof(fuse_direntplus, dirent) == 128);

// FUSE_NAME_OFFSET and FUSE_NAME_OFFSET_DIRENTPLUS.
constexpr size_t kNameOffsetDirent = 24;
constexpr size_t kNameOffsetDirentplus = 152;
static_assert(kNameOffsetDirent == sizeof(fuse_dirent));
static_assert(kNameOffsetDirentplus ==
              offsetof(fuse_direntplus, dirent) + kNameOffsetDirent);

// FUSE_REC_ALIGN: variable-length records are padded to 8 bytes.
constexpr size_t RecAlign(size_t x) {
  return (x + sizeof(uint64_t) - 1) & ~(sizeof(uint64_t) - 1);
}
// FUSE_DIRENT_ALIGN.
constexpr size_t DirentAlign(size_t x) { return RecAlign(x); }
// FUSE_DIRENT_SIZE / FUSE_DIRENTPLUS_SIZE, from the name's length.
constexpr size_t DirentSize(size_t namelen) {
  return DirentAlign(kNameOffsetDirent + namelen);
}
constexpr size_t DirentplusSize(size_t namelen) {
  return DirentAlign(kNameOffsetDirentplus + namelen);
}

// ---------------------------------------------------------------------------
// Notifications (server -> kernel, unique == 0) and their replies
// ---------------------------------------------------------------------------

struct fuse_notify_inval_inode_out {
  uint64_t ino;
  int64_t off;
  int64_t len;  // <= 0: to the end; off < 0: attributes only
};
static_assert(sizeof(fuse_notify_inval_inode_out) == 24);
static_assert(offsetof(fuse_notify_inval_inode_out, ino) == 0);
static_assert(offsetof(fuse_notify_inval_inode_out, off) == 8);
static_assert(offsetof(fuse_notify_inval_inode_out, len) == 16);

// Followed by the name and a NUL.
struct fuse_notify_inval_entry_out {
  uint64_t parent;
  uint32_t namelen;
  uint32_t flags;  // kExpireOnly
};
static_assert(sizeof(fuse_notify_inval_entry_out) == 16);
static_assert(offsetof(fuse_notify_inval_entry_out, parent) == 0);
static_assert(offsetof(fuse_notify_inval_entry_out, namelen) == 8);
static_assert(offsetof(fuse_notify_inval_entry_out, flags) == 12);

// Followed by the name and a NUL.
struct fuse_notify_delete_out {
  uint64_t parent;
  uint64_t child;
  uint32_t namelen;
  uint32_t padding;
};
static_assert(sizeof(fuse_notify_delete_out) == 24);
static_assert(offsetof(fuse_notify_delete_out, parent) == 0);
static_assert(offsetof(fuse_notify_delete_out, child) == 8);
static_assert(offsetof(fuse_notify_delete_out, namelen) == 16);
static_assert(offsetof(fuse_notify_delete_out, padding) == 20);

// Followed by `size` bytes of data.
struct fuse_notify_store_out {
  uint64_t nodeid;
  uint64_t offset;
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_notify_store_out) == 24);
static_assert(offsetof(fuse_notify_store_out, nodeid) == 0);
static_assert(offsetof(fuse_notify_store_out, offset) == 8);
static_assert(offsetof(fuse_notify_store_out, size) == 16);
static_assert(offsetof(fuse_notify_store_out, padding) == 20);

struct fuse_notify_retrieve_out {
  uint64_t notify_unique;  // echoed as the unique of the NOTIFY_REPLY
  uint64_t nodeid;
  uint64_t offset;
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_notify_retrieve_out) == 32);
static_assert(offsetof(fuse_notify_retrieve_out, notify_unique) == 0);
static_assert(offsetof(fuse_notify_retrieve_out, nodeid) == 8);
static_assert(offsetof(fuse_notify_retrieve_out, offset) == 16);
static_assert(offsetof(fuse_notify_retrieve_out, size) == 24);
static_assert(offsetof(fuse_notify_retrieve_out, padding) == 28);

// Body of the FUSE_NOTIFY_REPLY request; matches the size of fuse_write_in.
struct fuse_notify_retrieve_in {
  uint64_t dummy1;
  uint64_t offset;
  uint32_t size;
  uint32_t dummy2;
  uint64_t dummy3;
  uint64_t dummy4;
};
static_assert(sizeof(fuse_notify_retrieve_in) == 40);
static_assert(sizeof(fuse_notify_retrieve_in) == sizeof(fuse_write_in));
static_assert(offsetof(fuse_notify_retrieve_in, dummy1) == 0);
static_assert(offsetof(fuse_notify_retrieve_in, offset) == 8);
static_assert(offsetof(fuse_notify_retrieve_in, size) == 16);
static_assert(offsetof(fuse_notify_retrieve_in, dummy2) == 20);
static_assert(offsetof(fuse_notify_retrieve_in, dummy3) == 24);
static_assert(offsetof(fuse_notify_retrieve_in, dummy4) == 32);

// Followed by `count` uint64_t node ids whose unused inodes to drop.
struct fuse_notify_prune_out {
  uint32_t count;
  uint32_t padding;
  uint64_t spare;
};
static_assert(sizeof(fuse_notify_prune_out) == 16);
static_assert(offsetof(fuse_notify_prune_out, count) == 0);
static_assert(offsetof(fuse_notify_prune_out, padding) == 4);
static_assert(offsetof(fuse_notify_prune_out, spare) == 8);

// ---------------------------------------------------------------------------
// Device ioctls
// ---------------------------------------------------------------------------

// Argument of kDevIocBackingOpen: the file to pass through to.
struct fuse_backing_map {
  int32_t fd;
  uint32_t flags;
  uint64_t padding;
};
static_assert(sizeof(fuse_backing_map) == 16);
static_assert(offsetof(fuse_backing_map, fd) == 0);
static_assert(offsetof(fuse_backing_map, flags) == 4);
static_assert(offsetof(fuse_backing_map, padding) == 8);

constexpr unsigned int kDevIocMagic = 229;
// Attach a fresh /dev/fuse fd to the session of the fd passed (uint32_t).
constexpr unsigned long kDevIocClone = _IOR(kDevIocMagic, 0, uint32_t);
// Returns a backing id for fuse_open_out.backing_id.
constexpr unsigned long kDevIocBackingOpen =
    _IOW(kDevIocMagic, 1, fuse_backing_map);
// Drops a backing id (uint32_t).
constexpr unsigned long kDevIocBackingClose = _IOW(kDevIocMagic, 2, uint32_t);
// Before mount: have mount(2) wait for the INIT reply.
constexpr unsigned long kDevIocSyncInit = _IO(kDevIocMagic, 3);

// ---------------------------------------------------------------------------
// Misc requests
// ---------------------------------------------------------------------------

struct fuse_lseek_in {
  uint64_t fh;
  uint64_t offset;
  uint32_t whence;
  uint32_t padding;
};
static_assert(sizeof(fuse_lseek_in) == 24);
static_assert(offsetof(fuse_lseek_in, fh) == 0);
static_assert(offsetof(fuse_lseek_in, offset) == 8);
static_assert(offsetof(fuse_lseek_in, whence) == 16);
static_assert(offsetof(fuse_lseek_in, padding) == 20);

struct fuse_lseek_out {
  uint64_t offset;
};
static_assert(sizeof(fuse_lseek_out) == 8);
static_assert(offsetof(fuse_lseek_out, offset) == 0);

// For both kCopyFileRange (reply fuse_write_out) and kCopyFileRange64.
struct fuse_copy_file_range_in {
  uint64_t fh_in;
  uint64_t off_in;
  uint64_t nodeid_out;
  uint64_t fh_out;
  uint64_t off_out;
  uint64_t len;
  uint64_t flags;
};
static_assert(sizeof(fuse_copy_file_range_in) == 56);
static_assert(offsetof(fuse_copy_file_range_in, fh_in) == 0);
static_assert(offsetof(fuse_copy_file_range_in, off_in) == 8);
static_assert(offsetof(fuse_copy_file_range_in, nodeid_out) == 16);
static_assert(offsetof(fuse_copy_file_range_in, fh_out) == 24);
static_assert(offsetof(fuse_copy_file_range_in, off_out) == 32);
static_assert(offsetof(fuse_copy_file_range_in, len) == 40);
static_assert(offsetof(fuse_copy_file_range_in, flags) == 48);

// Reply to kCopyFileRange64.
struct fuse_copy_file_range_out {
  uint64_t bytes_copied;
};
static_assert(sizeof(fuse_copy_file_range_out) == 8);
static_assert(offsetof(fuse_copy_file_range_out, bytes_copied) == 0);

// virtiofs DAX window mapping.
struct fuse_setupmapping_in {
  uint64_t fh;       // an already open handle
  uint64_t foffset;  // offset into the file
  uint64_t len;
  uint64_t flags;    // kSetupmappingFlag*
  uint64_t moffset;  // offset into the DAX window
};
static_assert(sizeof(fuse_setupmapping_in) == 40);
static_assert(offsetof(fuse_setupmapping_in, fh) == 0);
static_assert(offsetof(fuse_setupmapping_in, foffset) == 8);
static_assert(offsetof(fuse_setupmapping_in, len) == 16);
static_assert(offsetof(fuse_setupmapping_in, flags) == 24);
static_assert(offsetof(fuse_setupmapping_in, moffset) == 32);

// Followed by `count` fuse_removemapping_one. (The kernel's
// FUSE_REMOVEMAPPING_MAX_ENTRY depends on PAGE_SIZE and is not mirrored.)
struct fuse_removemapping_in {
  uint32_t count;
};
static_assert(sizeof(fuse_removemapping_in) == 4);
static_assert(offsetof(fuse_removemapping_in, count) == 0);

struct fuse_removemapping_one {
  uint64_t moffset;  // offset into the DAX window
  uint64_t len;
};
static_assert(sizeof(fuse_removemapping_one) == 16);
static_assert(offsetof(fuse_removemapping_one, moffset) == 0);
static_assert(offsetof(fuse_removemapping_one, len) == 8);

struct fuse_syncfs_in {
  uint64_t padding;
};
static_assert(sizeof(fuse_syncfs_in) == 8);
static_assert(offsetof(fuse_syncfs_in, padding) == 0);

// ---------------------------------------------------------------------------
// Request extensions (after the body; fuse_in_header.total_extlen)
// ---------------------------------------------------------------------------

// One per security context: followed by the NUL-terminated xattr name, then
// `size` bytes of context label.
struct fuse_secctx {
  uint32_t size;
  uint32_t padding;
};
static_assert(sizeof(fuse_secctx) == 8);
static_assert(offsetof(fuse_secctx, size) == 0);
static_assert(offsetof(fuse_secctx, padding) == 4);

// Leads the security contexts; `size` includes this header.
struct fuse_secctx_header {
  uint32_t size;
  uint32_t nr_secctx;  // <= ExtType::kMaxNrSecctx
};
static_assert(sizeof(fuse_secctx_header) == 8);
static_assert(offsetof(fuse_secctx_header, size) == 0);
static_assert(offsetof(fuse_secctx_header, nr_secctx) == 4);

// Generic extension header, layout-compatible with fuse_secctx_header: a
// type above ExtType::kMaxNrSecctx tells it apart. `size` includes it.
struct fuse_ext_header {
  uint32_t size;
  uint32_t type;  // ExtType
};
static_assert(sizeof(fuse_ext_header) == 8);
static_assert(offsetof(fuse_ext_header, size) == 0);
static_assert(offsetof(fuse_ext_header, type) == 4);

// ExtType::kGroups payload. The kernel's trailing `uint32_t groups[]`
// flexible array is not legal C++ and is left out: `nr_groups` gids follow
// at sizeof(fuse_supp_groups).
struct fuse_supp_groups {
  uint32_t nr_groups;
};
static_assert(sizeof(fuse_supp_groups) == 4);
static_assert(offsetof(fuse_supp_groups, nr_groups) == 0);

// ---------------------------------------------------------------------------
// FUSE over io-uring (kInitOverIoUring)
// ---------------------------------------------------------------------------

// Sizes of the two fixed areas of fuse_uring_req_header.
constexpr size_t kUringInOutHeaderSz = 128;
constexpr size_t kUringOpInOutSz = 128;

struct fuse_uring_ent_in_out {
  uint64_t flags;
  uint64_t commit_id;  // to quote in fuse_uring_cmd_req of the reply
  uint32_t payload_sz;  // bytes used in the payload buffer
  uint32_t padding;
  uint64_t reserved;
};
static_assert(sizeof(fuse_uring_ent_in_out) == 32);
static_assert(offsetof(fuse_uring_ent_in_out, flags) == 0);
static_assert(offsetof(fuse_uring_ent_in_out, commit_id) == 8);
static_assert(offsetof(fuse_uring_ent_in_out, payload_sz) == 16);
static_assert(offsetof(fuse_uring_ent_in_out, padding) == 20);
static_assert(offsetof(fuse_uring_ent_in_out, reserved) == 24);

// Header buffer of each ring entry.
struct fuse_uring_req_header {
  char in_out[kUringInOutHeaderSz];  // fuse_in_header / fuse_out_header
  char op_in[kUringOpInOutSz];       // the opcode's fixed request struct
  fuse_uring_ent_in_out ring_ent_in_out;
};
static_assert(sizeof(fuse_uring_req_header) == 288);
static_assert(offsetof(fuse_uring_req_header, in_out) == 0);
static_assert(offsetof(fuse_uring_req_header, op_in) == 128);
static_assert(offsetof(fuse_uring_req_header, ring_ent_in_out) == 256);

// io_uring_sqe.cmd_op for FUSE (enum fuse_uring_cmd).
enum class UringCmd : uint32_t {
  kInvalid = 0,
  kRegister = 1,        // register an entry's buffers, fetch a request
  kCommitAndFetch = 2,  // commit a reply, fetch the next request
};

// In the 80-byte command area of the SQE (IORING_SETUP_SQE128).
struct fuse_uring_cmd_req {
  uint64_t flags;
  uint64_t commit_id;  // entry being committed
  uint16_t qid;        // queue index
  uint8_t padding[6];
};
static_assert(sizeof(fuse_uring_cmd_req) == 24);
static_assert(offsetof(fuse_uring_cmd_req, flags) == 0);
static_assert(offsetof(fuse_uring_cmd_req, commit_id) == 8);
static_assert(offsetof(fuse_uring_cmd_req, qid) == 16);
static_assert(offsetof(fuse_uring_cmd_req, padding) == 18);

}  // namespace fusekit::abi
