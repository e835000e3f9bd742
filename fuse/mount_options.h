// Mount options for a FUSE mount, and their translation into what mount(2)
// and fusermount3 take. Split from mount.h so the parsing, which is pure, can
// be tested without a kernel; mount.h includes this header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace fusekit {

// What a caller asks for. The named fields are applied first, then each of
// `raw_options` in order, so a raw option overrides a field (as with
// `mount -o`, a later option wins: "ro,rw" is read-write).
struct MountOptions {
  // Shown in /proc/mounts as the source. Must not be empty and must not hold
  // ',' '\\' whitespace or control characters, which would break the option
  // string fusermount3 parses. ('=' is allowed: the value runs to the comma.)
  std::string fsname = "fusekit";
  // The type becomes "fuse.<subtype>"; empty means plain "fuse". Only
  // [A-Za-z0-9_.+-], since it is part of a filesystem type name.
  std::string subtype;
  bool allow_other = false;
  bool default_permissions = false;
  bool read_only = false;
  // Largest read the kernel sends; 0 leaves the kernel's default.
  uint32_t max_read = 0;
  // How far (KiB) the kernel reads ahead of a sequential reader: the
  // mount's /sys/class/bdi/<dev>/read_ahead_kb, set right after mounting
  // and again by the server once INIT is answered (taking INIT's reply, the
  // kernel lowers it to max_readahead, which it offered as 128 KiB)
  // (root only: the mount fails with PermissionDenied otherwise, and with
  // FailedPrecondition where /sys is read-only). The
  // kernel's default is 128 KiB whatever INIT's max_readahead says, so a
  // daemon serving big sequential reads gets 128 KiB READs unless this is
  // raised (up to max_pages, 1 MiB with fusekit's default max_write).
  // 0 leaves the default; at most 1 GiB.
  uint32_t read_ahead_kb = 0;
  // Like `-o a,b=c`: each string may hold comma-separated options. Known:
  // ro rw nosuid suid nodev dev noexec exec sync async dirsync noatime atime
  // relatime allow_other default_permissions fsname= subtype= max_read=.
  // Rejected with a reason: fd= rootmode= user_id= group_id= (fusekit sets
  // them), blksize= (fuseblk only), allow_root (needs uid filtering in the
  // server, which fusekit does not do).
  std::vector<std::string> raw_options;
  // Go through fusermount3 even as root (exercises the unprivileged path).
  bool force_fusermount = false;
  // Test seam: the device opened for a direct mount(2). On the fusermount3
  // path it is only checked for existence, since fusermount3 always opens
  // /dev/fuse itself.
  std::string dev_fuse_path = "/dev/fuse";
};

// MountOptions checked and translated. Everything a mount needs except the
// parts known only at mount time (fd, rootmode, user_id, group_id).
struct ParsedMountOptions {
  std::string source;   // fsname: mount(2)'s source argument
  std::string subtype;  // "" for none
  std::string fs_type;  // "fuse" or "fuse.<subtype>"
  // MS_* flags for mount(2). Starts from MS_NOSUID|MS_NODEV, as fusermount3
  // does, so only an explicit "suid"/"dev" drops them.
  unsigned long mount_flags = 0;
  bool allow_other = false;
  bool default_permissions = false;
  uint32_t max_read = 0;  // 0: kernel default
  // FUSE-specific part of mount(2)'s data string, e.g.
  // "allow_other,default_permissions,max_read=131072"; "" if none.
  std::string kernel_data;
  // The `-o` argument for fusermount3: fsname, subtype, the FUSE options and
  // the flags that differ from fusermount3's defaults (nosuid,nodev,rw).
  std::string fusermount_options;
};

// Validates `options` and translates them. An unknown, empty or malformed
// option, or a bad fsname/subtype, gives InvalidArgumentError naming the
// option and what is wrong with it. Pure: touches no files.
absl::StatusOr<ParsedMountOptions> ParseMountOptions(
    const MountOptions& options);

}  // namespace fusekit
