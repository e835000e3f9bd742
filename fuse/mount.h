// The mount layer: puts a FUSE filesystem on a directory, either directly
// with mount(2) (as root) or through the setuid helper fusermount3, and takes
// it off again. No libfuse: this speaks to /dev/fuse and the helper directly.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuse/mount_options.h"
#include "fuse/scoped_fd.h"

namespace fusekit {

// An active kernel mount. Owns the /dev/fuse descriptor the server reads and
// unmounts on destruction, so a mount never outlives its owner.
//
// Not copyable or movable (it is handed out as a unique_ptr, which moves):
// server threads keep reading fd() while another thread may call Unmount().
// Thread-safe: fd(), mountpoint() and via_fusermount() are immutable;
// Unmount() may be called from any thread, any number of times.
//
// Nothing here touches the mounted directory itself (no stat, no realpath):
// until the server answers FUSE_INIT, such calls would block.
class KernelMount {
 public:
  // Mounts a FUSE filesystem on `mountpoint` (a directory; relative paths are
  // taken from the current directory, symlinks are followed). As root,
  // without options.force_fusermount, opens options.dev_fuse_path and calls
  // mount(2); otherwise runs fusermount3, which passes back the descriptor.
  // Errors: InvalidArgument (options), NotFound (no such mountpoint),
  // FailedPrecondition (not a directory; /dev/fuse not a character device),
  // AlreadyExists (already a FUSE mount point), Unavailable (no /dev/fuse,
  // no fuse filesystem in the kernel, no fusermount3), PermissionDenied
  // (opening /dev/fuse, mount(2) or fusermount3 refused), Unknown
  // (fusermount3 failed otherwise; its own message is included).
  static absl::StatusOr<std::unique_ptr<KernelMount>> Create(
      absl::string_view mountpoint, const MountOptions& options);

  KernelMount(const KernelMount&) = delete;
  KernelMount& operator=(const KernelMount&) = delete;

  // Unmounts (see Unmount(); a failure is reported on stderr, as there is no
  // caller to return it to), then closes fd().
  ~KernelMount();

  // The /dev/fuse descriptor (close-on-exec), owned by this object and valid
  // until destruction. After Unmount() reads on it fail with ENODEV, which is
  // how a server loop learns the filesystem is gone.
  int fd() const { return fd_.get(); }
  // Absolute, canonical path of the mount point.
  const std::string& mountpoint() const { return mountpoint_; }
  // True if fusermount3 made (and will remove) the mount.
  bool via_fusermount() const { return via_fusermount_; }

  // Takes the filesystem off the mount point: umount2(2) (lazily, with
  // MNT_DETACH, if it is busy) for a mount(2) mount, `fusermount3 -u -z` for
  // a fusermount3 one. Idempotent. OK if the mount was already removed from
  // outside; in that case whatever is mounted there now is left alone (the
  // mount is recognised by its device number and, on Linux 6.8+, its unique
  // mount ID, not just its path). Fails with FailedPrecondition if another
  // filesystem is mounted over this one, and with the unmount's own error
  // otherwise; a failed Unmount may be retried. Does not close fd().
  absl::Status Unmount();
  // kAbortIfBusy: when files are still open, abort the connection (they
  // fail with ENOTCONN) instead of leaving a lazily detached mount that
  // keeps serving them. mount(2) mounts only; fusermount3 ones detach.
  enum class UnmountMode { kLazyIfBusy, kAbortIfBusy };
  absl::Status Unmount(UnmountMode mode);

  // Aborts the FUSE connection through fusectl (/sys/fs/fuse/connections,
  // mounted privately if the system has not): requests in flight fail with
  // ENOTCONN and the server's reads end with ENODEV. For the case a lazy
  // unmount leaves the connection alive behind files still open. Root only.
  absl::Status AbortConnection();

  // Writes MountOptions::read_ahead_kb again (no-op without it): the kernel
  // lowers the read-ahead to INIT's max_readahead when it takes INIT's
  // reply, so the server calls this once INIT is answered.
  absl::Status ReapplyReadAhead();

 private:
  // Writes the mount's read_ahead_kb (MountOptions::read_ahead_kb).
  absl::Status SetReadAhead(uint32_t kib);
  KernelMount(ScopedFd fd, std::string mountpoint, bool via_fusermount,
              std::string device, uint64_t unique_mount_id);

  const ScopedFd fd_;
  const std::string mountpoint_;
  const bool via_fusermount_;
  // "major:minor" of this mount's superblock as /proc/self/mountinfo shows
  // it; empty if it could not be read right after mounting, in which case
  // any FUSE mount at mountpoint_ is taken to be this one.
  const std::string device_;
  // Device numbers are reused once a superblock is gone, so where the kernel
  // has them (6.8+) the never-reused mount ID settles who is who; 0 if not.
  const uint64_t unique_mount_id_;
  uint32_t read_ahead_kb_ = 0;  // set once, in Create

  // Serialises Unmount(). A plain std::mutex: Debian's abseil is built
  // without TSan instrumentation, so TSan reports false races around
  // absl::Mutex; fusekit::Mutex (fuse/mutex.h) would do, but it lives in
  // //fuse:fuse, which depends on this library.
  std::mutex mu_;
  bool mounted_ = true;  // guarded by mu_
};

// Lazily unmounts every FUSE filesystem stacked on `mountpoint`, whoever
// mounted it: umount2(MNT_DETACH) as root, `fusermount3 -u -z` otherwise.
// OK if no FUSE filesystem is mounted there; other filesystems are left
// alone. Meant for test fixtures' cleanup. Thread-safe.
absl::Status UnmountPath(absl::string_view mountpoint);

// True if a FUSE filesystem (fuse, fuse.*, fuseblk) is mounted on `path`,
// per /proc/self/mountinfo. `path` should be canonical: it is made absolute
// against the current directory and "." / ".." are removed lexically, but
// symlinks are not resolved, since resolving them could block on a FUSE
// server that does not answer. Thread-safe.
bool IsFuseMountPoint(absl::string_view path);

// One line of /proc/self/mountinfo (see proc(5)), with the octal escapes
// (\040 for a space and so on) of the path fields undone.
struct MountInfoEntry {
  int mount_id = 0;
  int parent_id = 0;
  std::string device;  // "major:minor"
  std::string root;
  std::string mount_point;
  std::string mount_options;
  std::string fs_type;
  std::string source;
  std::string super_options;
};

// Parses the text of a mountinfo file; malformed lines are skipped.
std::vector<MountInfoEntry> ParseMountInfo(absl::string_view text);

// Reads and parses /proc/self/mountinfo.
absl::StatusOr<std::vector<MountInfoEntry>> ReadMountInfo();

}  // namespace fusekit
