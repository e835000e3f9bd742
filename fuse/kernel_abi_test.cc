// Checks fusekit's own FUSE ABI (fuse/kernel_abi.h) against the system's
// <linux/fuse.h>, which is older (7.38 on Debian bookworm): every struct,
// field, opcode, notify code, flag and ioctl the system header defines must
// agree with ours. Definitions newer than the system header are compared
// only when the header has them (#ifdef, or #if on its minor version), so
// the test tightens by itself when the system header is upgraded.
#include "fuse/kernel_abi.h"

#include <linux/fuse.h>

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "gtest/gtest.h"

namespace {

namespace abi = fusekit::abi;

// Widens a flag or code to uint64_t without sign extension, so that the
// kernel's `(1 << 31)` (an int) compares equal to our 1ULL << 31.
template <typename T>
constexpr uint64_t Bits(T v) {
  if constexpr (std::is_enum_v<T>) {
    return Bits(static_cast<std::underlying_type_t<T>>(v));
  } else {
    return static_cast<uint64_t>(static_cast<std::make_unsigned_t<T>>(v));
  }
}

#define EXPECT_SAME_SIZE(s) \
  EXPECT_EQ(sizeof(::s), sizeof(abi::s)) << "sizeof(" #s ")"

// Same offset and same size for a field spelled `ours` in fusekit::abi and
// `theirs` in the system header.
#define EXPECT_FIELD_AS(s, ours, theirs)                          \
  do {                                                            \
    EXPECT_EQ(offsetof(::s, theirs), offsetof(abi::s, ours))      \
        << "offsetof(" #s ", " #ours ")";                         \
    EXPECT_EQ(sizeof(::s::theirs), sizeof(abi::s::ours))         \
        << "sizeof(" #s "::" #ours ")";                           \
  } while (0)

#define EXPECT_SAME_LAYOUT(s, f) EXPECT_FIELD_AS(s, f, f)

#define EXPECT_SAME_BITS(ours, theirs) \
  EXPECT_EQ(Bits(ours), Bits(theirs)) << #ours " vs " #theirs

TEST(KernelAbiTest, Versions) {
  EXPECT_EQ(abi::kKernelVersion, uint32_t{FUSE_KERNEL_VERSION});
  EXPECT_GE(abi::kKernelMinorVersion, uint32_t{FUSE_KERNEL_MINOR_VERSION});
  EXPECT_EQ(abi::kKernelMinorVersion, 45u);
  EXPECT_SAME_BITS(abi::kRootId, FUSE_ROOT_ID);
  EXPECT_SAME_BITS(abi::kMinReadBuffer, FUSE_MIN_READ_BUFFER);
  EXPECT_SAME_BITS(abi::kCompatEntryOutSize, FUSE_COMPAT_ENTRY_OUT_SIZE);
  EXPECT_SAME_BITS(abi::kCompatAttrOutSize, FUSE_COMPAT_ATTR_OUT_SIZE);
  EXPECT_SAME_BITS(abi::kCompatMknodInSize, FUSE_COMPAT_MKNOD_IN_SIZE);
  EXPECT_SAME_BITS(abi::kCompatWriteInSize, FUSE_COMPAT_WRITE_IN_SIZE);
  EXPECT_SAME_BITS(abi::kCompatStatfsSize, FUSE_COMPAT_STATFS_SIZE);
  EXPECT_SAME_BITS(abi::kCompatInitOutSize, FUSE_COMPAT_INIT_OUT_SIZE);
  EXPECT_SAME_BITS(abi::kCompat22InitOutSize, FUSE_COMPAT_22_INIT_OUT_SIZE);
  EXPECT_SAME_BITS(abi::kCompatSetxattrInSize, FUSE_COMPAT_SETXATTR_IN_SIZE);
  EXPECT_SAME_BITS(abi::kCuseInitInfoMax, CUSE_INIT_INFO_MAX);
  EXPECT_SAME_BITS(abi::kIoctlMaxIov, FUSE_IOCTL_MAX_IOV);
}

TEST(KernelAbiTest, AttrStructs) {
  EXPECT_SAME_SIZE(fuse_attr);
  EXPECT_SAME_LAYOUT(fuse_attr, ino);
  EXPECT_SAME_LAYOUT(fuse_attr, size);
  EXPECT_SAME_LAYOUT(fuse_attr, blocks);
  EXPECT_SAME_LAYOUT(fuse_attr, atime);
  EXPECT_SAME_LAYOUT(fuse_attr, mtime);
  EXPECT_SAME_LAYOUT(fuse_attr, ctime);
  EXPECT_SAME_LAYOUT(fuse_attr, atimensec);
  EXPECT_SAME_LAYOUT(fuse_attr, mtimensec);
  EXPECT_SAME_LAYOUT(fuse_attr, ctimensec);
  EXPECT_SAME_LAYOUT(fuse_attr, mode);
  EXPECT_SAME_LAYOUT(fuse_attr, nlink);
  EXPECT_SAME_LAYOUT(fuse_attr, uid);
  EXPECT_SAME_LAYOUT(fuse_attr, gid);
  EXPECT_SAME_LAYOUT(fuse_attr, rdev);
  EXPECT_SAME_LAYOUT(fuse_attr, blksize);
  EXPECT_SAME_LAYOUT(fuse_attr, flags);

  EXPECT_SAME_SIZE(fuse_kstatfs);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, blocks);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, bfree);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, bavail);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, files);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, ffree);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, bsize);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, namelen);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, frsize);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, padding);
  EXPECT_SAME_LAYOUT(fuse_kstatfs, spare);

  EXPECT_SAME_SIZE(fuse_file_lock);
  EXPECT_SAME_LAYOUT(fuse_file_lock, start);
  EXPECT_SAME_LAYOUT(fuse_file_lock, end);
  EXPECT_SAME_LAYOUT(fuse_file_lock, type);
  EXPECT_SAME_LAYOUT(fuse_file_lock, pid);

#if FUSE_KERNEL_MINOR_VERSION >= 39
  EXPECT_SAME_SIZE(fuse_sx_time);
  EXPECT_SAME_LAYOUT(fuse_sx_time, tv_sec);
  EXPECT_SAME_LAYOUT(fuse_sx_time, tv_nsec);
  EXPECT_SAME_LAYOUT(fuse_sx_time, __reserved);

  EXPECT_SAME_SIZE(fuse_statx);
  EXPECT_SAME_LAYOUT(fuse_statx, mask);
  EXPECT_SAME_LAYOUT(fuse_statx, blksize);
  EXPECT_SAME_LAYOUT(fuse_statx, attributes);
  EXPECT_SAME_LAYOUT(fuse_statx, nlink);
  EXPECT_SAME_LAYOUT(fuse_statx, uid);
  EXPECT_SAME_LAYOUT(fuse_statx, gid);
  EXPECT_SAME_LAYOUT(fuse_statx, mode);
  EXPECT_SAME_LAYOUT(fuse_statx, __spare0);
  EXPECT_SAME_LAYOUT(fuse_statx, ino);
  EXPECT_SAME_LAYOUT(fuse_statx, size);
  EXPECT_SAME_LAYOUT(fuse_statx, blocks);
  EXPECT_SAME_LAYOUT(fuse_statx, attributes_mask);
  EXPECT_SAME_LAYOUT(fuse_statx, atime);
  EXPECT_SAME_LAYOUT(fuse_statx, btime);
  EXPECT_SAME_LAYOUT(fuse_statx, ctime);
  EXPECT_SAME_LAYOUT(fuse_statx, mtime);
  EXPECT_SAME_LAYOUT(fuse_statx, rdev_major);
  EXPECT_SAME_LAYOUT(fuse_statx, rdev_minor);
  EXPECT_SAME_LAYOUT(fuse_statx, dev_major);
  EXPECT_SAME_LAYOUT(fuse_statx, dev_minor);
  EXPECT_SAME_LAYOUT(fuse_statx, __spare2);
#endif
}

TEST(KernelAbiTest, EntryAndAttrReplies) {
  EXPECT_SAME_SIZE(fuse_entry_out);
  EXPECT_SAME_LAYOUT(fuse_entry_out, nodeid);
  EXPECT_SAME_LAYOUT(fuse_entry_out, generation);
  EXPECT_SAME_LAYOUT(fuse_entry_out, entry_valid);
  EXPECT_SAME_LAYOUT(fuse_entry_out, attr_valid);
  EXPECT_SAME_LAYOUT(fuse_entry_out, entry_valid_nsec);
  EXPECT_SAME_LAYOUT(fuse_entry_out, attr_valid_nsec);
  EXPECT_SAME_LAYOUT(fuse_entry_out, attr);

  EXPECT_SAME_SIZE(fuse_attr_out);
  EXPECT_SAME_LAYOUT(fuse_attr_out, attr_valid);
  EXPECT_SAME_LAYOUT(fuse_attr_out, attr_valid_nsec);
  EXPECT_SAME_LAYOUT(fuse_attr_out, dummy);
  EXPECT_SAME_LAYOUT(fuse_attr_out, attr);

  EXPECT_SAME_SIZE(fuse_getattr_in);
  EXPECT_SAME_LAYOUT(fuse_getattr_in, getattr_flags);
  EXPECT_SAME_LAYOUT(fuse_getattr_in, dummy);
  EXPECT_SAME_LAYOUT(fuse_getattr_in, fh);

#if FUSE_KERNEL_MINOR_VERSION >= 39
  EXPECT_SAME_SIZE(fuse_statx_in);
  EXPECT_SAME_LAYOUT(fuse_statx_in, getattr_flags);
  EXPECT_SAME_LAYOUT(fuse_statx_in, reserved);
  EXPECT_SAME_LAYOUT(fuse_statx_in, fh);
  EXPECT_SAME_LAYOUT(fuse_statx_in, sx_flags);
  EXPECT_SAME_LAYOUT(fuse_statx_in, sx_mask);

  EXPECT_SAME_SIZE(fuse_statx_out);
  EXPECT_SAME_LAYOUT(fuse_statx_out, attr_valid);
  EXPECT_SAME_LAYOUT(fuse_statx_out, attr_valid_nsec);
  EXPECT_SAME_LAYOUT(fuse_statx_out, flags);
  EXPECT_SAME_LAYOUT(fuse_statx_out, spare);
  EXPECT_SAME_LAYOUT(fuse_statx_out, stat);
#endif
}

TEST(KernelAbiTest, ForgetStructs) {
  EXPECT_SAME_SIZE(fuse_forget_in);
  EXPECT_SAME_LAYOUT(fuse_forget_in, nlookup);

  EXPECT_SAME_SIZE(fuse_forget_one);
  EXPECT_SAME_LAYOUT(fuse_forget_one, nodeid);
  EXPECT_SAME_LAYOUT(fuse_forget_one, nlookup);

  EXPECT_SAME_SIZE(fuse_batch_forget_in);
  EXPECT_SAME_LAYOUT(fuse_batch_forget_in, count);
  EXPECT_SAME_LAYOUT(fuse_batch_forget_in, dummy);
}

TEST(KernelAbiTest, NamespaceRequests) {
  EXPECT_SAME_SIZE(fuse_mknod_in);
  EXPECT_SAME_LAYOUT(fuse_mknod_in, mode);
  EXPECT_SAME_LAYOUT(fuse_mknod_in, rdev);
  EXPECT_SAME_LAYOUT(fuse_mknod_in, umask);
  EXPECT_SAME_LAYOUT(fuse_mknod_in, padding);

  EXPECT_SAME_SIZE(fuse_mkdir_in);
  EXPECT_SAME_LAYOUT(fuse_mkdir_in, mode);
  EXPECT_SAME_LAYOUT(fuse_mkdir_in, umask);

  EXPECT_SAME_SIZE(fuse_rename_in);
  EXPECT_SAME_LAYOUT(fuse_rename_in, newdir);

  EXPECT_SAME_SIZE(fuse_rename2_in);
  EXPECT_SAME_LAYOUT(fuse_rename2_in, newdir);
  EXPECT_SAME_LAYOUT(fuse_rename2_in, flags);
  EXPECT_SAME_LAYOUT(fuse_rename2_in, padding);

  EXPECT_SAME_SIZE(fuse_link_in);
  EXPECT_SAME_LAYOUT(fuse_link_in, oldnodeid);

  EXPECT_SAME_SIZE(fuse_setattr_in);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, valid);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, padding);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, fh);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, size);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, lock_owner);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, atime);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, mtime);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, ctime);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, atimensec);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, mtimensec);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, ctimensec);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, mode);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, unused4);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, uid);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, gid);
  EXPECT_SAME_LAYOUT(fuse_setattr_in, unused5);
}

TEST(KernelAbiTest, FileRequests) {
  EXPECT_SAME_SIZE(fuse_open_in);
  EXPECT_SAME_LAYOUT(fuse_open_in, flags);
  EXPECT_SAME_LAYOUT(fuse_open_in, open_flags);

  EXPECT_SAME_SIZE(fuse_create_in);
  EXPECT_SAME_LAYOUT(fuse_create_in, flags);
  EXPECT_SAME_LAYOUT(fuse_create_in, mode);
  EXPECT_SAME_LAYOUT(fuse_create_in, umask);
  EXPECT_SAME_LAYOUT(fuse_create_in, open_flags);

  EXPECT_SAME_SIZE(fuse_open_out);
  EXPECT_SAME_LAYOUT(fuse_open_out, fh);
  EXPECT_SAME_LAYOUT(fuse_open_out, open_flags);
#if FUSE_KERNEL_MINOR_VERSION >= 40
  EXPECT_SAME_LAYOUT(fuse_open_out, backing_id);
#else
  EXPECT_FIELD_AS(fuse_open_out, backing_id, padding);
#endif

  EXPECT_SAME_SIZE(fuse_release_in);
  EXPECT_SAME_LAYOUT(fuse_release_in, fh);
  EXPECT_SAME_LAYOUT(fuse_release_in, flags);
  EXPECT_SAME_LAYOUT(fuse_release_in, release_flags);
  EXPECT_SAME_LAYOUT(fuse_release_in, lock_owner);

  EXPECT_SAME_SIZE(fuse_flush_in);
  EXPECT_SAME_LAYOUT(fuse_flush_in, fh);
  EXPECT_SAME_LAYOUT(fuse_flush_in, unused);
  EXPECT_SAME_LAYOUT(fuse_flush_in, padding);
  EXPECT_SAME_LAYOUT(fuse_flush_in, lock_owner);

  EXPECT_SAME_SIZE(fuse_read_in);
  EXPECT_SAME_LAYOUT(fuse_read_in, fh);
  EXPECT_SAME_LAYOUT(fuse_read_in, offset);
  EXPECT_SAME_LAYOUT(fuse_read_in, size);
  EXPECT_SAME_LAYOUT(fuse_read_in, read_flags);
  EXPECT_SAME_LAYOUT(fuse_read_in, lock_owner);
  EXPECT_SAME_LAYOUT(fuse_read_in, flags);
  EXPECT_SAME_LAYOUT(fuse_read_in, padding);

  EXPECT_SAME_SIZE(fuse_write_in);
  EXPECT_SAME_LAYOUT(fuse_write_in, fh);
  EXPECT_SAME_LAYOUT(fuse_write_in, offset);
  EXPECT_SAME_LAYOUT(fuse_write_in, size);
  EXPECT_SAME_LAYOUT(fuse_write_in, write_flags);
  EXPECT_SAME_LAYOUT(fuse_write_in, lock_owner);
  EXPECT_SAME_LAYOUT(fuse_write_in, flags);
  EXPECT_SAME_LAYOUT(fuse_write_in, padding);

  EXPECT_SAME_SIZE(fuse_write_out);
  EXPECT_SAME_LAYOUT(fuse_write_out, size);
  EXPECT_SAME_LAYOUT(fuse_write_out, padding);

  EXPECT_SAME_SIZE(fuse_fsync_in);
  EXPECT_SAME_LAYOUT(fuse_fsync_in, fh);
  EXPECT_SAME_LAYOUT(fuse_fsync_in, fsync_flags);
  EXPECT_SAME_LAYOUT(fuse_fsync_in, padding);

  EXPECT_SAME_SIZE(fuse_fallocate_in);
  EXPECT_SAME_LAYOUT(fuse_fallocate_in, fh);
  EXPECT_SAME_LAYOUT(fuse_fallocate_in, offset);
  EXPECT_SAME_LAYOUT(fuse_fallocate_in, length);
  EXPECT_SAME_LAYOUT(fuse_fallocate_in, mode);
  EXPECT_SAME_LAYOUT(fuse_fallocate_in, padding);

  EXPECT_SAME_SIZE(fuse_lseek_in);
  EXPECT_SAME_LAYOUT(fuse_lseek_in, fh);
  EXPECT_SAME_LAYOUT(fuse_lseek_in, offset);
  EXPECT_SAME_LAYOUT(fuse_lseek_in, whence);
  EXPECT_SAME_LAYOUT(fuse_lseek_in, padding);

  EXPECT_SAME_SIZE(fuse_lseek_out);
  EXPECT_SAME_LAYOUT(fuse_lseek_out, offset);

  EXPECT_SAME_SIZE(fuse_copy_file_range_in);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, fh_in);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, off_in);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, nodeid_out);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, fh_out);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, off_out);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, len);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_in, flags);

#if FUSE_KERNEL_MINOR_VERSION >= 45
  EXPECT_SAME_SIZE(fuse_copy_file_range_out);
  EXPECT_SAME_LAYOUT(fuse_copy_file_range_out, bytes_copied);
#endif

  EXPECT_SAME_SIZE(fuse_syncfs_in);
  EXPECT_SAME_LAYOUT(fuse_syncfs_in, padding);
}

TEST(KernelAbiTest, StatfsXattrLockAccess) {
  EXPECT_SAME_SIZE(fuse_statfs_out);
  EXPECT_SAME_LAYOUT(fuse_statfs_out, st);

  EXPECT_SAME_SIZE(fuse_setxattr_in);
  EXPECT_SAME_LAYOUT(fuse_setxattr_in, size);
  EXPECT_SAME_LAYOUT(fuse_setxattr_in, flags);
  EXPECT_SAME_LAYOUT(fuse_setxattr_in, setxattr_flags);
  EXPECT_SAME_LAYOUT(fuse_setxattr_in, padding);

  EXPECT_SAME_SIZE(fuse_getxattr_in);
  EXPECT_SAME_LAYOUT(fuse_getxattr_in, size);
  EXPECT_SAME_LAYOUT(fuse_getxattr_in, padding);

  EXPECT_SAME_SIZE(fuse_getxattr_out);
  EXPECT_SAME_LAYOUT(fuse_getxattr_out, size);
  EXPECT_SAME_LAYOUT(fuse_getxattr_out, padding);

  EXPECT_SAME_SIZE(fuse_lk_in);
  EXPECT_SAME_LAYOUT(fuse_lk_in, fh);
  EXPECT_SAME_LAYOUT(fuse_lk_in, owner);
  EXPECT_SAME_LAYOUT(fuse_lk_in, lk);
  EXPECT_SAME_LAYOUT(fuse_lk_in, lk_flags);
  EXPECT_SAME_LAYOUT(fuse_lk_in, padding);

  EXPECT_SAME_SIZE(fuse_lk_out);
  EXPECT_SAME_LAYOUT(fuse_lk_out, lk);

  EXPECT_SAME_SIZE(fuse_access_in);
  EXPECT_SAME_LAYOUT(fuse_access_in, mask);
  EXPECT_SAME_LAYOUT(fuse_access_in, padding);
}

TEST(KernelAbiTest, InitStructs) {
  EXPECT_SAME_SIZE(fuse_init_in);
  EXPECT_SAME_LAYOUT(fuse_init_in, major);
  EXPECT_SAME_LAYOUT(fuse_init_in, minor);
  EXPECT_SAME_LAYOUT(fuse_init_in, max_readahead);
  EXPECT_SAME_LAYOUT(fuse_init_in, flags);
  EXPECT_SAME_LAYOUT(fuse_init_in, flags2);
  EXPECT_SAME_LAYOUT(fuse_init_in, unused);

  EXPECT_SAME_SIZE(fuse_init_out);
  EXPECT_SAME_LAYOUT(fuse_init_out, major);
  EXPECT_SAME_LAYOUT(fuse_init_out, minor);
  EXPECT_SAME_LAYOUT(fuse_init_out, max_readahead);
  EXPECT_SAME_LAYOUT(fuse_init_out, flags);
  EXPECT_SAME_LAYOUT(fuse_init_out, max_background);
  EXPECT_SAME_LAYOUT(fuse_init_out, congestion_threshold);
  EXPECT_SAME_LAYOUT(fuse_init_out, max_write);
  EXPECT_SAME_LAYOUT(fuse_init_out, time_gran);
  EXPECT_SAME_LAYOUT(fuse_init_out, max_pages);
  EXPECT_SAME_LAYOUT(fuse_init_out, map_alignment);
  EXPECT_SAME_LAYOUT(fuse_init_out, flags2);
#if FUSE_KERNEL_MINOR_VERSION >= 43
  EXPECT_SAME_LAYOUT(fuse_init_out, max_stack_depth);
  EXPECT_SAME_LAYOUT(fuse_init_out, request_timeout);
  EXPECT_SAME_LAYOUT(fuse_init_out, unused);
#elif FUSE_KERNEL_MINOR_VERSION >= 40
  EXPECT_SAME_LAYOUT(fuse_init_out, max_stack_depth);
  // The system's uint32_t unused[6] is our request_timeout + unused[11].
  EXPECT_EQ(offsetof(::fuse_init_out, unused),
            offsetof(abi::fuse_init_out, request_timeout));
  EXPECT_EQ(sizeof(::fuse_init_out::unused),
            sizeof(abi::fuse_init_out) -
                offsetof(abi::fuse_init_out, request_timeout));
#else
  // The system's uint32_t unused[7] is our max_stack_depth, request_timeout
  // and unused[11].
  EXPECT_EQ(offsetof(::fuse_init_out, unused),
            offsetof(abi::fuse_init_out, max_stack_depth));
  EXPECT_EQ(sizeof(::fuse_init_out::unused),
            sizeof(abi::fuse_init_out) -
                offsetof(abi::fuse_init_out, max_stack_depth));
#endif

  EXPECT_SAME_SIZE(cuse_init_in);
  EXPECT_SAME_LAYOUT(cuse_init_in, major);
  EXPECT_SAME_LAYOUT(cuse_init_in, minor);
  EXPECT_SAME_LAYOUT(cuse_init_in, unused);
  EXPECT_SAME_LAYOUT(cuse_init_in, flags);

  EXPECT_SAME_SIZE(cuse_init_out);
  EXPECT_SAME_LAYOUT(cuse_init_out, major);
  EXPECT_SAME_LAYOUT(cuse_init_out, minor);
  EXPECT_SAME_LAYOUT(cuse_init_out, unused);
  EXPECT_SAME_LAYOUT(cuse_init_out, flags);
  EXPECT_SAME_LAYOUT(cuse_init_out, max_read);
  EXPECT_SAME_LAYOUT(cuse_init_out, max_write);
  EXPECT_SAME_LAYOUT(cuse_init_out, dev_major);
  EXPECT_SAME_LAYOUT(cuse_init_out, dev_minor);
  EXPECT_SAME_LAYOUT(cuse_init_out, spare);
}

TEST(KernelAbiTest, InterruptBmapIoctlPoll) {
  EXPECT_SAME_SIZE(fuse_interrupt_in);
  EXPECT_SAME_LAYOUT(fuse_interrupt_in, unique);

  EXPECT_SAME_SIZE(fuse_bmap_in);
  EXPECT_SAME_LAYOUT(fuse_bmap_in, block);
  EXPECT_SAME_LAYOUT(fuse_bmap_in, blocksize);
  EXPECT_SAME_LAYOUT(fuse_bmap_in, padding);

  EXPECT_SAME_SIZE(fuse_bmap_out);
  EXPECT_SAME_LAYOUT(fuse_bmap_out, block);

  EXPECT_SAME_SIZE(fuse_ioctl_in);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, fh);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, flags);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, cmd);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, arg);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, in_size);
  EXPECT_SAME_LAYOUT(fuse_ioctl_in, out_size);

  EXPECT_SAME_SIZE(fuse_ioctl_iovec);
  EXPECT_SAME_LAYOUT(fuse_ioctl_iovec, base);
  EXPECT_SAME_LAYOUT(fuse_ioctl_iovec, len);

  EXPECT_SAME_SIZE(fuse_ioctl_out);
  EXPECT_SAME_LAYOUT(fuse_ioctl_out, result);
  EXPECT_SAME_LAYOUT(fuse_ioctl_out, flags);
  EXPECT_SAME_LAYOUT(fuse_ioctl_out, in_iovs);
  EXPECT_SAME_LAYOUT(fuse_ioctl_out, out_iovs);

  EXPECT_SAME_SIZE(fuse_poll_in);
  EXPECT_SAME_LAYOUT(fuse_poll_in, fh);
  EXPECT_SAME_LAYOUT(fuse_poll_in, kh);
  EXPECT_SAME_LAYOUT(fuse_poll_in, flags);
  EXPECT_SAME_LAYOUT(fuse_poll_in, events);

  EXPECT_SAME_SIZE(fuse_poll_out);
  EXPECT_SAME_LAYOUT(fuse_poll_out, revents);
  EXPECT_SAME_LAYOUT(fuse_poll_out, padding);

  EXPECT_SAME_SIZE(fuse_notify_poll_wakeup_out);
  EXPECT_SAME_LAYOUT(fuse_notify_poll_wakeup_out, kh);
}

TEST(KernelAbiTest, Headers) {
  EXPECT_SAME_SIZE(fuse_in_header);
  EXPECT_SAME_LAYOUT(fuse_in_header, len);
  EXPECT_SAME_LAYOUT(fuse_in_header, opcode);
  EXPECT_SAME_LAYOUT(fuse_in_header, unique);
  EXPECT_SAME_LAYOUT(fuse_in_header, nodeid);
  EXPECT_SAME_LAYOUT(fuse_in_header, uid);
  EXPECT_SAME_LAYOUT(fuse_in_header, gid);
  EXPECT_SAME_LAYOUT(fuse_in_header, pid);
  EXPECT_SAME_LAYOUT(fuse_in_header, total_extlen);
  EXPECT_SAME_LAYOUT(fuse_in_header, padding);

  EXPECT_SAME_SIZE(fuse_out_header);
  EXPECT_SAME_LAYOUT(fuse_out_header, len);
  EXPECT_SAME_LAYOUT(fuse_out_header, error);
  EXPECT_SAME_LAYOUT(fuse_out_header, unique);

#ifdef FUSE_UNIQUE_RESEND
  EXPECT_SAME_BITS(abi::kUniqueResend, FUSE_UNIQUE_RESEND);
#endif
#ifdef FUSE_INVALID_UIDGID
  EXPECT_SAME_BITS(abi::kInvalidUidgid, FUSE_INVALID_UIDGID);
#endif
}

TEST(KernelAbiTest, Dirents) {
  // The system's fuse_dirent ends in `char name[]`, which adds no size.
  EXPECT_SAME_SIZE(fuse_dirent);
  EXPECT_SAME_LAYOUT(fuse_dirent, ino);
  EXPECT_SAME_LAYOUT(fuse_dirent, off);
  EXPECT_SAME_LAYOUT(fuse_dirent, namelen);
  EXPECT_SAME_LAYOUT(fuse_dirent, type);
  EXPECT_EQ(offsetof(::fuse_dirent, name), abi::kNameOffsetDirent);
  EXPECT_EQ(FUSE_NAME_OFFSET, abi::kNameOffsetDirent);

  EXPECT_SAME_SIZE(fuse_direntplus);
  EXPECT_SAME_LAYOUT(fuse_direntplus, entry_out);
  EXPECT_SAME_LAYOUT(fuse_direntplus, dirent);
  EXPECT_EQ(FUSE_NAME_OFFSET_DIRENTPLUS, abi::kNameOffsetDirentplus);

  for (size_t x = 0; x <= 64; ++x) {
    EXPECT_EQ(FUSE_DIRENT_ALIGN(x), abi::DirentAlign(x)) << x;
    EXPECT_EQ(FUSE_REC_ALIGN(x), abi::RecAlign(x)) << x;
  }
  for (uint32_t namelen = 0; namelen <= 300; ++namelen) {
    ::fuse_dirent d{};
    d.namelen = namelen;
    EXPECT_EQ(FUSE_DIRENT_SIZE(&d), abi::DirentSize(namelen)) << namelen;
    ::fuse_direntplus dp{};
    dp.dirent.namelen = namelen;
    EXPECT_EQ(FUSE_DIRENTPLUS_SIZE(&dp), abi::DirentplusSize(namelen))
        << namelen;
  }
  EXPECT_EQ(abi::DirentSize(1), 32u);
  EXPECT_EQ(abi::DirentSize(8), 32u);
  EXPECT_EQ(abi::DirentSize(9), 40u);
}

TEST(KernelAbiTest, Notifications) {
  EXPECT_SAME_SIZE(fuse_notify_inval_inode_out);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_inode_out, ino);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_inode_out, off);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_inode_out, len);

  EXPECT_SAME_SIZE(fuse_notify_inval_entry_out);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_entry_out, parent);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_entry_out, namelen);
  EXPECT_SAME_LAYOUT(fuse_notify_inval_entry_out, flags);

  EXPECT_SAME_SIZE(fuse_notify_delete_out);
  EXPECT_SAME_LAYOUT(fuse_notify_delete_out, parent);
  EXPECT_SAME_LAYOUT(fuse_notify_delete_out, child);
  EXPECT_SAME_LAYOUT(fuse_notify_delete_out, namelen);
  EXPECT_SAME_LAYOUT(fuse_notify_delete_out, padding);

  EXPECT_SAME_SIZE(fuse_notify_store_out);
  EXPECT_SAME_LAYOUT(fuse_notify_store_out, nodeid);
  EXPECT_SAME_LAYOUT(fuse_notify_store_out, offset);
  EXPECT_SAME_LAYOUT(fuse_notify_store_out, size);
  EXPECT_SAME_LAYOUT(fuse_notify_store_out, padding);

  EXPECT_SAME_SIZE(fuse_notify_retrieve_out);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_out, notify_unique);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_out, nodeid);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_out, offset);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_out, size);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_out, padding);

  EXPECT_SAME_SIZE(fuse_notify_retrieve_in);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, dummy1);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, offset);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, size);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, dummy2);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, dummy3);
  EXPECT_SAME_LAYOUT(fuse_notify_retrieve_in, dummy4);

#if FUSE_KERNEL_MINOR_VERSION >= 45
  EXPECT_SAME_SIZE(fuse_notify_prune_out);
  EXPECT_SAME_LAYOUT(fuse_notify_prune_out, count);
  EXPECT_SAME_LAYOUT(fuse_notify_prune_out, padding);
  EXPECT_SAME_LAYOUT(fuse_notify_prune_out, spare);
#endif
}

TEST(KernelAbiTest, DaxMapping) {
  EXPECT_SAME_SIZE(fuse_setupmapping_in);
  EXPECT_SAME_LAYOUT(fuse_setupmapping_in, fh);
  EXPECT_SAME_LAYOUT(fuse_setupmapping_in, foffset);
  EXPECT_SAME_LAYOUT(fuse_setupmapping_in, len);
  EXPECT_SAME_LAYOUT(fuse_setupmapping_in, flags);
  EXPECT_SAME_LAYOUT(fuse_setupmapping_in, moffset);

  EXPECT_SAME_SIZE(fuse_removemapping_in);
  EXPECT_SAME_LAYOUT(fuse_removemapping_in, count);

  EXPECT_SAME_SIZE(fuse_removemapping_one);
  EXPECT_SAME_LAYOUT(fuse_removemapping_one, moffset);
  EXPECT_SAME_LAYOUT(fuse_removemapping_one, len);

  EXPECT_SAME_BITS(abi::kSetupmappingFlagWrite, FUSE_SETUPMAPPING_FLAG_WRITE);
  EXPECT_SAME_BITS(abi::kSetupmappingFlagRead, FUSE_SETUPMAPPING_FLAG_READ);
}

TEST(KernelAbiTest, Extensions) {
  EXPECT_SAME_SIZE(fuse_secctx);
  EXPECT_SAME_LAYOUT(fuse_secctx, size);
  EXPECT_SAME_LAYOUT(fuse_secctx, padding);

  EXPECT_SAME_SIZE(fuse_secctx_header);
  EXPECT_SAME_LAYOUT(fuse_secctx_header, size);
  EXPECT_SAME_LAYOUT(fuse_secctx_header, nr_secctx);

  EXPECT_SAME_SIZE(fuse_ext_header);
  EXPECT_SAME_LAYOUT(fuse_ext_header, size);
  EXPECT_SAME_LAYOUT(fuse_ext_header, type);

  EXPECT_SAME_BITS(abi::ExtType::kMaxNrSecctx, FUSE_MAX_NR_SECCTX);

  // FUSE_EXT_GROUPS and fuse_supp_groups came with FUSE_CREATE_SUPP_GROUP.
#ifdef FUSE_CREATE_SUPP_GROUP
  EXPECT_SAME_BITS(abi::ExtType::kGroups, FUSE_EXT_GROUPS);
  // The system's trailing `uint32_t groups[]` adds no size.
  EXPECT_SAME_SIZE(fuse_supp_groups);
  EXPECT_SAME_LAYOUT(fuse_supp_groups, nr_groups);
  EXPECT_EQ(offsetof(::fuse_supp_groups, groups),
            sizeof(abi::fuse_supp_groups));
#endif
}

TEST(KernelAbiTest, Passthrough) {
#if FUSE_KERNEL_MINOR_VERSION >= 40
  EXPECT_SAME_SIZE(fuse_backing_map);
  EXPECT_SAME_LAYOUT(fuse_backing_map, fd);
  EXPECT_SAME_LAYOUT(fuse_backing_map, flags);
  EXPECT_SAME_LAYOUT(fuse_backing_map, padding);
#else
  GTEST_SKIP() << "system <linux/fuse.h> is 7." << FUSE_KERNEL_MINOR_VERSION;
#endif
}

TEST(KernelAbiTest, IoUring) {
#if FUSE_KERNEL_MINOR_VERSION >= 42
  EXPECT_SAME_BITS(abi::kUringInOutHeaderSz, FUSE_URING_IN_OUT_HEADER_SZ);
  EXPECT_SAME_BITS(abi::kUringOpInOutSz, FUSE_URING_OP_IN_OUT_SZ);

  EXPECT_SAME_SIZE(fuse_uring_ent_in_out);
  EXPECT_SAME_LAYOUT(fuse_uring_ent_in_out, flags);
  EXPECT_SAME_LAYOUT(fuse_uring_ent_in_out, commit_id);
  EXPECT_SAME_LAYOUT(fuse_uring_ent_in_out, payload_sz);
  EXPECT_SAME_LAYOUT(fuse_uring_ent_in_out, padding);
  EXPECT_SAME_LAYOUT(fuse_uring_ent_in_out, reserved);

  EXPECT_SAME_SIZE(fuse_uring_req_header);
  EXPECT_SAME_LAYOUT(fuse_uring_req_header, in_out);
  EXPECT_SAME_LAYOUT(fuse_uring_req_header, op_in);
  EXPECT_SAME_LAYOUT(fuse_uring_req_header, ring_ent_in_out);

  EXPECT_SAME_SIZE(fuse_uring_cmd_req);
  EXPECT_SAME_LAYOUT(fuse_uring_cmd_req, flags);
  EXPECT_SAME_LAYOUT(fuse_uring_cmd_req, commit_id);
  EXPECT_SAME_LAYOUT(fuse_uring_cmd_req, qid);

  EXPECT_SAME_BITS(abi::UringCmd::kInvalid, FUSE_IO_URING_CMD_INVALID);
  EXPECT_SAME_BITS(abi::UringCmd::kRegister, FUSE_IO_URING_CMD_REGISTER);
  EXPECT_SAME_BITS(abi::UringCmd::kCommitAndFetch,
                   FUSE_IO_URING_CMD_COMMIT_AND_FETCH);
#else
  GTEST_SKIP() << "system <linux/fuse.h> is 7." << FUSE_KERNEL_MINOR_VERSION;
#endif
}

TEST(KernelAbiTest, Opcodes) {
  using abi::Opcode;
  EXPECT_SAME_BITS(Opcode::kLookup, FUSE_LOOKUP);
  EXPECT_SAME_BITS(Opcode::kForget, FUSE_FORGET);
  EXPECT_SAME_BITS(Opcode::kGetattr, FUSE_GETATTR);
  EXPECT_SAME_BITS(Opcode::kSetattr, FUSE_SETATTR);
  EXPECT_SAME_BITS(Opcode::kReadlink, FUSE_READLINK);
  EXPECT_SAME_BITS(Opcode::kSymlink, FUSE_SYMLINK);
  EXPECT_SAME_BITS(Opcode::kMknod, FUSE_MKNOD);
  EXPECT_SAME_BITS(Opcode::kMkdir, FUSE_MKDIR);
  EXPECT_SAME_BITS(Opcode::kUnlink, FUSE_UNLINK);
  EXPECT_SAME_BITS(Opcode::kRmdir, FUSE_RMDIR);
  EXPECT_SAME_BITS(Opcode::kRename, FUSE_RENAME);
  EXPECT_SAME_BITS(Opcode::kLink, FUSE_LINK);
  EXPECT_SAME_BITS(Opcode::kOpen, FUSE_OPEN);
  EXPECT_SAME_BITS(Opcode::kRead, FUSE_READ);
  EXPECT_SAME_BITS(Opcode::kWrite, FUSE_WRITE);
  EXPECT_SAME_BITS(Opcode::kStatfs, FUSE_STATFS);
  EXPECT_SAME_BITS(Opcode::kRelease, FUSE_RELEASE);
  EXPECT_SAME_BITS(Opcode::kFsync, FUSE_FSYNC);
  EXPECT_SAME_BITS(Opcode::kSetxattr, FUSE_SETXATTR);
  EXPECT_SAME_BITS(Opcode::kGetxattr, FUSE_GETXATTR);
  EXPECT_SAME_BITS(Opcode::kListxattr, FUSE_LISTXATTR);
  EXPECT_SAME_BITS(Opcode::kRemovexattr, FUSE_REMOVEXATTR);
  EXPECT_SAME_BITS(Opcode::kFlush, FUSE_FLUSH);
  EXPECT_SAME_BITS(Opcode::kInit, FUSE_INIT);
  EXPECT_SAME_BITS(Opcode::kOpendir, FUSE_OPENDIR);
  EXPECT_SAME_BITS(Opcode::kReaddir, FUSE_READDIR);
  EXPECT_SAME_BITS(Opcode::kReleasedir, FUSE_RELEASEDIR);
  EXPECT_SAME_BITS(Opcode::kFsyncdir, FUSE_FSYNCDIR);
  EXPECT_SAME_BITS(Opcode::kGetlk, FUSE_GETLK);
  EXPECT_SAME_BITS(Opcode::kSetlk, FUSE_SETLK);
  EXPECT_SAME_BITS(Opcode::kSetlkw, FUSE_SETLKW);
  EXPECT_SAME_BITS(Opcode::kAccess, FUSE_ACCESS);
  EXPECT_SAME_BITS(Opcode::kCreate, FUSE_CREATE);
  EXPECT_SAME_BITS(Opcode::kInterrupt, FUSE_INTERRUPT);
  EXPECT_SAME_BITS(Opcode::kBmap, FUSE_BMAP);
  EXPECT_SAME_BITS(Opcode::kDestroy, FUSE_DESTROY);
  EXPECT_SAME_BITS(Opcode::kIoctl, FUSE_IOCTL);
  EXPECT_SAME_BITS(Opcode::kPoll, FUSE_POLL);
  EXPECT_SAME_BITS(Opcode::kNotifyReply, FUSE_NOTIFY_REPLY);
  EXPECT_SAME_BITS(Opcode::kBatchForget, FUSE_BATCH_FORGET);
  EXPECT_SAME_BITS(Opcode::kFallocate, FUSE_FALLOCATE);
  EXPECT_SAME_BITS(Opcode::kReaddirplus, FUSE_READDIRPLUS);
  EXPECT_SAME_BITS(Opcode::kRename2, FUSE_RENAME2);
  EXPECT_SAME_BITS(Opcode::kLseek, FUSE_LSEEK);
  EXPECT_SAME_BITS(Opcode::kCopyFileRange, FUSE_COPY_FILE_RANGE);
  EXPECT_SAME_BITS(Opcode::kSetupMapping, FUSE_SETUPMAPPING);
  EXPECT_SAME_BITS(Opcode::kRemoveMapping, FUSE_REMOVEMAPPING);
  EXPECT_SAME_BITS(Opcode::kSyncfs, FUSE_SYNCFS);
  EXPECT_SAME_BITS(Opcode::kTmpfile, FUSE_TMPFILE);
#if FUSE_KERNEL_MINOR_VERSION >= 39
  EXPECT_SAME_BITS(Opcode::kStatx, FUSE_STATX);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 45
  EXPECT_SAME_BITS(Opcode::kCopyFileRange64, FUSE_COPY_FILE_RANGE_64);
#endif
  EXPECT_SAME_BITS(Opcode::kCuseInit, CUSE_INIT);
  EXPECT_SAME_BITS(Opcode::kCuseInitBswapReserved, CUSE_INIT_BSWAP_RESERVED);
  EXPECT_SAME_BITS(Opcode::kInitBswapReserved, FUSE_INIT_BSWAP_RESERVED);
}

TEST(KernelAbiTest, NotifyCodes) {
  using abi::NotifyCode;
  EXPECT_SAME_BITS(NotifyCode::kPoll, FUSE_NOTIFY_POLL);
  EXPECT_SAME_BITS(NotifyCode::kInvalInode, FUSE_NOTIFY_INVAL_INODE);
  EXPECT_SAME_BITS(NotifyCode::kInvalEntry, FUSE_NOTIFY_INVAL_ENTRY);
  EXPECT_SAME_BITS(NotifyCode::kStore, FUSE_NOTIFY_STORE);
  EXPECT_SAME_BITS(NotifyCode::kRetrieve, FUSE_NOTIFY_RETRIEVE);
  EXPECT_SAME_BITS(NotifyCode::kDelete, FUSE_NOTIFY_DELETE);
#if FUSE_KERNEL_MINOR_VERSION >= 40
  EXPECT_SAME_BITS(NotifyCode::kResend, FUSE_NOTIFY_RESEND);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 44
  EXPECT_SAME_BITS(NotifyCode::kIncEpoch, FUSE_NOTIFY_INC_EPOCH);
#endif
#if FUSE_KERNEL_MINOR_VERSION >= 45
  EXPECT_SAME_BITS(NotifyCode::kPrune, FUSE_NOTIFY_PRUNE);
#else
  // Before 7.45 the enum ended in FUSE_NOTIFY_CODE_MAX, one past the last
  // code: every code the system header knows must be one of ours.
  EXPECT_LE(Bits(FUSE_NOTIFY_CODE_MAX), Bits(NotifyCode::kPrune));
#endif
}

TEST(KernelAbiTest, InitFlags) {
  EXPECT_SAME_BITS(abi::kInitAsyncRead, FUSE_ASYNC_READ);
  EXPECT_SAME_BITS(abi::kInitPosixLocks, FUSE_POSIX_LOCKS);
  EXPECT_SAME_BITS(abi::kInitFileOps, FUSE_FILE_OPS);
  EXPECT_SAME_BITS(abi::kInitAtomicOTrunc, FUSE_ATOMIC_O_TRUNC);
  EXPECT_SAME_BITS(abi::kInitExportSupport, FUSE_EXPORT_SUPPORT);
  EXPECT_SAME_BITS(abi::kInitBigWrites, FUSE_BIG_WRITES);
  EXPECT_SAME_BITS(abi::kInitDontMask, FUSE_DONT_MASK);
  EXPECT_SAME_BITS(abi::kInitSpliceWrite, FUSE_SPLICE_WRITE);
  EXPECT_SAME_BITS(abi::kInitSpliceMove, FUSE_SPLICE_MOVE);
  EXPECT_SAME_BITS(abi::kInitSpliceRead, FUSE_SPLICE_READ);
  EXPECT_SAME_BITS(abi::kInitFlockLocks, FUSE_FLOCK_LOCKS);
  EXPECT_SAME_BITS(abi::kInitHasIoctlDir, FUSE_HAS_IOCTL_DIR);
  EXPECT_SAME_BITS(abi::kInitAutoInvalData, FUSE_AUTO_INVAL_DATA);
  EXPECT_SAME_BITS(abi::kInitDoReaddirplus, FUSE_DO_READDIRPLUS);
  EXPECT_SAME_BITS(abi::kInitReaddirplusAuto, FUSE_READDIRPLUS_AUTO);
  EXPECT_SAME_BITS(abi::kInitAsyncDio, FUSE_ASYNC_DIO);
  EXPECT_SAME_BITS(abi::kInitWritebackCache, FUSE_WRITEBACK_CACHE);
  EXPECT_SAME_BITS(abi::kInitNoOpenSupport, FUSE_NO_OPEN_SUPPORT);
  EXPECT_SAME_BITS(abi::kInitParallelDirops, FUSE_PARALLEL_DIROPS);
  EXPECT_SAME_BITS(abi::kInitHandleKillpriv, FUSE_HANDLE_KILLPRIV);
  EXPECT_SAME_BITS(abi::kInitPosixAcl, FUSE_POSIX_ACL);
  EXPECT_SAME_BITS(abi::kInitAbortError, FUSE_ABORT_ERROR);
  EXPECT_SAME_BITS(abi::kInitMaxPages, FUSE_MAX_PAGES);
  EXPECT_SAME_BITS(abi::kInitCacheSymlinks, FUSE_CACHE_SYMLINKS);
  EXPECT_SAME_BITS(abi::kInitNoOpendirSupport, FUSE_NO_OPENDIR_SUPPORT);
  EXPECT_SAME_BITS(abi::kInitExplicitInvalData, FUSE_EXPLICIT_INVAL_DATA);
  EXPECT_SAME_BITS(abi::kInitMapAlignment, FUSE_MAP_ALIGNMENT);
  EXPECT_SAME_BITS(abi::kInitSubmounts, FUSE_SUBMOUNTS);
  EXPECT_SAME_BITS(abi::kInitHandleKillprivV2, FUSE_HANDLE_KILLPRIV_V2);
  EXPECT_SAME_BITS(abi::kInitSetxattrExt, FUSE_SETXATTR_EXT);
  EXPECT_SAME_BITS(abi::kInitExt, FUSE_INIT_EXT);
  EXPECT_SAME_BITS(abi::kInitReserved, FUSE_INIT_RESERVED);
  EXPECT_SAME_BITS(abi::kInitSecurityCtx, FUSE_SECURITY_CTX);
  EXPECT_SAME_BITS(abi::kInitHasInodeDax, FUSE_HAS_INODE_DAX);
#ifdef FUSE_CREATE_SUPP_GROUP
  EXPECT_SAME_BITS(abi::kInitCreateSuppGroup, FUSE_CREATE_SUPP_GROUP);
#endif
  EXPECT_SAME_BITS(abi::kInitHasExpireOnly, FUSE_HAS_EXPIRE_ONLY);
#ifdef FUSE_DIRECT_IO_ALLOW_MMAP
  EXPECT_SAME_BITS(abi::kInitDirectIoAllowMmap, FUSE_DIRECT_IO_ALLOW_MMAP);
#endif
#ifdef FUSE_DIRECT_IO_RELAX
  EXPECT_SAME_BITS(abi::kInitDirectIoRelax, FUSE_DIRECT_IO_RELAX);
#endif
#ifdef FUSE_PASSTHROUGH
  EXPECT_SAME_BITS(abi::kInitPassthrough, FUSE_PASSTHROUGH);
#endif
#ifdef FUSE_NO_EXPORT_SUPPORT
  EXPECT_SAME_BITS(abi::kInitNoExportSupport, FUSE_NO_EXPORT_SUPPORT);
#endif
#ifdef FUSE_HAS_RESEND
  EXPECT_SAME_BITS(abi::kInitHasResend, FUSE_HAS_RESEND);
#endif
#ifdef FUSE_ALLOW_IDMAP
  EXPECT_SAME_BITS(abi::kInitAllowIdmap, FUSE_ALLOW_IDMAP);
#endif
#ifdef FUSE_OVER_IO_URING
  EXPECT_SAME_BITS(abi::kInitOverIoUring, FUSE_OVER_IO_URING);
#endif
#ifdef FUSE_REQUEST_TIMEOUT
  EXPECT_SAME_BITS(abi::kInitRequestTimeout, FUSE_REQUEST_TIMEOUT);
#endif

  EXPECT_SAME_BITS(abi::kCuseUnrestrictedIoctl, CUSE_UNRESTRICTED_IOCTL);
}

TEST(KernelAbiTest, OpenFlags) {
  EXPECT_SAME_BITS(abi::kOpenDirectIo, FOPEN_DIRECT_IO);
  EXPECT_SAME_BITS(abi::kOpenKeepCache, FOPEN_KEEP_CACHE);
  EXPECT_SAME_BITS(abi::kOpenNonseekable, FOPEN_NONSEEKABLE);
  EXPECT_SAME_BITS(abi::kOpenCacheDir, FOPEN_CACHE_DIR);
  EXPECT_SAME_BITS(abi::kOpenStream, FOPEN_STREAM);
  EXPECT_SAME_BITS(abi::kOpenNoflush, FOPEN_NOFLUSH);
  EXPECT_SAME_BITS(abi::kOpenParallelDirectWrites,
                   FOPEN_PARALLEL_DIRECT_WRITES);
#ifdef FOPEN_PASSTHROUGH
  EXPECT_SAME_BITS(abi::kOpenPassthrough, FOPEN_PASSTHROUGH);
#endif
  EXPECT_SAME_BITS(abi::kOpenInKillSuidgid, FUSE_OPEN_KILL_SUIDGID);
}

TEST(KernelAbiTest, OtherFlags) {
  EXPECT_SAME_BITS(abi::kFattrMode, FATTR_MODE);
  EXPECT_SAME_BITS(abi::kFattrUid, FATTR_UID);
  EXPECT_SAME_BITS(abi::kFattrGid, FATTR_GID);
  EXPECT_SAME_BITS(abi::kFattrSize, FATTR_SIZE);
  EXPECT_SAME_BITS(abi::kFattrAtime, FATTR_ATIME);
  EXPECT_SAME_BITS(abi::kFattrMtime, FATTR_MTIME);
  EXPECT_SAME_BITS(abi::kFattrFh, FATTR_FH);
  EXPECT_SAME_BITS(abi::kFattrAtimeNow, FATTR_ATIME_NOW);
  EXPECT_SAME_BITS(abi::kFattrMtimeNow, FATTR_MTIME_NOW);
  EXPECT_SAME_BITS(abi::kFattrLockowner, FATTR_LOCKOWNER);
  EXPECT_SAME_BITS(abi::kFattrCtime, FATTR_CTIME);
  EXPECT_SAME_BITS(abi::kFattrKillSuidgid, FATTR_KILL_SUIDGID);

  EXPECT_SAME_BITS(abi::kReleaseFlush, FUSE_RELEASE_FLUSH);
  EXPECT_SAME_BITS(abi::kReleaseFlockUnlock, FUSE_RELEASE_FLOCK_UNLOCK);
  EXPECT_SAME_BITS(abi::kGetattrFh, FUSE_GETATTR_FH);
  EXPECT_SAME_BITS(abi::kLkFlock, FUSE_LK_FLOCK);

  EXPECT_SAME_BITS(abi::kWriteCache, FUSE_WRITE_CACHE);
  EXPECT_SAME_BITS(abi::kWriteLockowner, FUSE_WRITE_LOCKOWNER);
  EXPECT_SAME_BITS(abi::kWriteKillSuidgid, FUSE_WRITE_KILL_SUIDGID);
  EXPECT_SAME_BITS(abi::kWriteKillPriv, FUSE_WRITE_KILL_PRIV);
  EXPECT_SAME_BITS(abi::kReadLockowner, FUSE_READ_LOCKOWNER);

  EXPECT_SAME_BITS(abi::kIoctlCompat, FUSE_IOCTL_COMPAT);
  EXPECT_SAME_BITS(abi::kIoctlUnrestricted, FUSE_IOCTL_UNRESTRICTED);
  EXPECT_SAME_BITS(abi::kIoctlRetry, FUSE_IOCTL_RETRY);
  EXPECT_SAME_BITS(abi::kIoctl32Bit, FUSE_IOCTL_32BIT);
  EXPECT_SAME_BITS(abi::kIoctlDir, FUSE_IOCTL_DIR);
  EXPECT_SAME_BITS(abi::kIoctlCompatX32, FUSE_IOCTL_COMPAT_X32);

  EXPECT_SAME_BITS(abi::kPollScheduleNotify, FUSE_POLL_SCHEDULE_NOTIFY);
  EXPECT_SAME_BITS(abi::kFsyncFdatasync, FUSE_FSYNC_FDATASYNC);
  EXPECT_SAME_BITS(abi::kAttrSubmount, FUSE_ATTR_SUBMOUNT);
  EXPECT_SAME_BITS(abi::kAttrDax, FUSE_ATTR_DAX);
  EXPECT_SAME_BITS(abi::kSetxattrAclKillSgid, FUSE_SETXATTR_ACL_KILL_SGID);
  EXPECT_SAME_BITS(abi::kExpireOnly, FUSE_EXPIRE_ONLY);
}

TEST(KernelAbiTest, DeviceIoctls) {
  EXPECT_SAME_BITS(abi::kDevIocMagic, FUSE_DEV_IOC_MAGIC);
  EXPECT_SAME_BITS(abi::kDevIocClone, FUSE_DEV_IOC_CLONE);
#ifdef FUSE_DEV_IOC_BACKING_OPEN
  EXPECT_SAME_BITS(abi::kDevIocBackingOpen, FUSE_DEV_IOC_BACKING_OPEN);
#endif
#ifdef FUSE_DEV_IOC_BACKING_CLOSE
  EXPECT_SAME_BITS(abi::kDevIocBackingClose, FUSE_DEV_IOC_BACKING_CLOSE);
#endif
#ifdef FUSE_DEV_IOC_SYNC_INIT
  EXPECT_SAME_BITS(abi::kDevIocSyncInit, FUSE_DEV_IOC_SYNC_INIT);
#endif
}

// What the system header cannot check, pinned to the 7.45 uapi header's
// numbers.
TEST(KernelAbiTest, NewerThanSystemHeader) {
  EXPECT_EQ(Bits(abi::Opcode::kStatx), 52u);
  EXPECT_EQ(Bits(abi::Opcode::kCopyFileRange64), 53u);
  EXPECT_EQ(Bits(abi::NotifyCode::kResend), 7u);
  EXPECT_EQ(Bits(abi::NotifyCode::kIncEpoch), 8u);
  EXPECT_EQ(Bits(abi::NotifyCode::kPrune), 9u);
  EXPECT_EQ(Bits(abi::ExtType::kGroups), 32u);
  EXPECT_EQ(abi::kInitCreateSuppGroup, uint64_t{1} << 34);
  EXPECT_EQ(abi::kInitDirectIoAllowMmap, uint64_t{1} << 36);
  EXPECT_EQ(abi::kInitPassthrough, uint64_t{1} << 37);
  EXPECT_EQ(abi::kInitNoExportSupport, uint64_t{1} << 38);
  EXPECT_EQ(abi::kInitHasResend, uint64_t{1} << 39);
  EXPECT_EQ(abi::kInitAllowIdmap, uint64_t{1} << 40);
  EXPECT_EQ(abi::kInitOverIoUring, uint64_t{1} << 41);
  EXPECT_EQ(abi::kInitRequestTimeout, uint64_t{1} << 42);
  EXPECT_EQ(abi::kOpenPassthrough, 1u << 7);
  EXPECT_EQ(abi::kUniqueResend, uint64_t{1} << 63);
#if defined(__x86_64__) || defined(__aarch64__)
  // _IOR/_IOW/_IO(229, nr, size) in the generic (asm-generic) encoding.
  EXPECT_EQ(abi::kDevIocClone, 0x8004e500ul);
  EXPECT_EQ(abi::kDevIocBackingOpen, 0x4010e501ul);
  EXPECT_EQ(abi::kDevIocBackingClose, 0x4004e502ul);
  EXPECT_EQ(abi::kDevIocSyncInit, 0xe503ul);
#endif
}

}  // namespace
