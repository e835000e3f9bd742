#include "fuse/mount.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

extern char** environ;

namespace fusekit {
namespace {

constexpr absl::string_view kFusermount = "fusermount3";
// Symlink hops allowed while resolving a mountpoint, as the kernel's
// MAXSYMLINKS.
constexpr int kMaxSymlinks = 40;
// Enough for any message fusermount3 prints; more is drained but dropped.
constexpr size_t kMaxChildOutput = 64 * 1024;
// STATX_MNT_ID_UNIQUE, newer than Debian 12's kernel headers.
constexpr unsigned int kStatxMntIdUnique = 0x4000;

bool IsFuseType(absl::string_view type) {
  return type == "fuse" || type == "fuseblk" ||
         absl::StartsWith(type, "fuse.") || absl::StartsWith(type, "fuseblk.");
}

// Undoes the kernel's octal escapes in mountinfo path fields ("\040" etc).
std::string UnescapeMountField(absl::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      const absl::string_view digits = field.substr(i + 1, 3);
      if (digits.size() == 3 && digits[0] >= '0' && digits[0] <= '3' &&
          digits[1] >= '0' && digits[1] <= '7' && digits[2] >= '0' &&
          digits[2] <= '7') {
        out.push_back(static_cast<char>((digits[0] - '0') * 64 +
                                        (digits[1] - '0') * 8 +
                                        (digits[2] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(field[i]);
  }
  return out;
}

// Absolute form of `path` without touching the filesystem beyond getcwd():
// "." and ".." are removed lexically.
std::string LexicalAbsolute(absl::string_view path) {
  std::string joined;
  if (!absl::StartsWith(path, "/")) {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) != nullptr) joined = cwd;
    joined += "/";
  }
  absl::StrAppend(&joined, path);
  std::vector<absl::string_view> parts;
  for (absl::string_view part :
       absl::StrSplit(joined, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrCat("/", absl::StrJoin(parts, "/"));
}

// The mount on top at `path` (the one a lookup of `path` reaches): among the
// entries at `path`, the one no other entry there is mounted on.
const MountInfoEntry* TopMountAt(const std::vector<MountInfoEntry>& entries,
                                 absl::string_view path) {
  const MountInfoEntry* top = nullptr;
  for (const MountInfoEntry& e : entries) {
    if (e.mount_point != path) continue;
    bool covered = false;
    for (const MountInfoEntry& other : entries) {
      if (&other != &e && other.mount_point == path &&
          other.parent_id == e.mount_id) {
        covered = true;
        break;
      }
    }
    if (!covered) top = &e;
  }
  return top;
}

const MountInfoEntry* FuseMountWithDevice(
    const std::vector<MountInfoEntry>& entries, absl::string_view path,
    absl::string_view device) {
  for (const MountInfoEntry& e : entries) {
    if (e.mount_point == path && IsFuseType(e.fs_type) &&
        (device.empty() || e.device == device)) {
      return &e;
    }
  }
  return nullptr;
}

// The kernel's never-reused ID (Linux 6.8+) of the mount on top at `path`;
// nullopt where the kernel has none. Safe on a FUSE mount that has not
// answered FUSE_INIT: FUSE serves no statx field this asks for, and
// AT_STATX_DONT_SYNC keeps older kernels from asking the server anyway.
std::optional<uint64_t> UniqueMountId(const std::string& path) {
  struct statx stx = {};
  if (statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
            kStatxMntIdUnique, &stx) != 0 ||
      (stx.stx_mask & kStatxMntIdUnique) == 0) {
    return std::nullopt;
  }
  return stx.stx_mnt_id;
}

// ---------------------------------------------------------------------------
// Mountpoint resolution.

struct ResolvedMountpoint {
  std::string path;         // absolute, canonical
  bool fuse_mount = false;  // a FUSE filesystem is mounted there (not stat'ed)
  mode_t mode = 0;          // from lstat; 0 if fuse_mount
};

absl::Status MountpointPathError(int err, absl::string_view given) {
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(
          absl::StrCat("mountpoint ", given, " does not exist"));
    case ENOTDIR:
      return absl::FailedPreconditionError(
          absl::StrCat("mountpoint ", given,
                       " is not a directory (a component of its path "
                       "is not a directory)"));
    case EACCES:
      return absl::PermissionDeniedError(absl::StrCat(
          "mountpoint ", given,
          ": search permission denied on a component of its path"));
    default:
      return absl::ErrnoToStatus(err,
                                 absl::StrCat("resolving mountpoint ", given));
  }
}

absl::StatusOr<std::string> RealPath(const std::string& path,
                                     absl::string_view given) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) {
    return MountpointPathError(errno, given);
  }
  return std::string(buf);
}

// Canonicalises `given` like realpath(3), except that the last component is
// checked against /proc/self/mountinfo before anything stats it: a FUSE mount
// whose server has not answered FUSE_INIT blocks every stat of its root.
absl::StatusOr<ResolvedMountpoint> ResolveMountpoint(absl::string_view given) {
  if (given.empty()) {
    return absl::InvalidArgumentError("mountpoint is an empty path");
  }
  std::string current;
  if (!absl::StartsWith(given, "/")) {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof(cwd)) == nullptr) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("getcwd() for relative mountpoint ", given));
    }
    current = absl::StrCat(cwd, "/");
  }
  absl::StrAppend(&current, given);

  for (int hops = 0; hops <= kMaxSymlinks; ++hops) {
    while (current.size() > 1 && current.back() == '/') current.pop_back();
    const size_t slash = current.rfind('/');
    const std::string parent = slash == 0 ? "/" : current.substr(0, slash);
    const std::string leaf = current.substr(slash + 1);

    std::string resolved;
    std::string resolved_parent;
    if (leaf.empty() || leaf == "." || leaf == "..") {
      // "/", "x/." or "x/..": the last component is a directory above or at
      // one already walked through, so realpath() on all of it is safe.
      absl::StatusOr<std::string> r = RealPath(current, given);
      if (!r.ok()) return r.status();
      resolved = *std::move(r);
    } else {
      absl::StatusOr<std::string> r = RealPath(parent, given);
      if (!r.ok()) return r.status();
      resolved_parent = *std::move(r);
      resolved = resolved_parent == "/"
                     ? absl::StrCat("/", leaf)
                     : absl::StrCat(resolved_parent, "/", leaf);
    }

    if (IsFuseMountPoint(resolved)) {
      return ResolvedMountpoint{resolved, true, 0};
    }
    struct stat st;
    if (lstat(resolved.c_str(), &st) != 0) {
      return MountpointPathError(errno, given);
    }
    if (!S_ISLNK(st.st_mode)) {
      return ResolvedMountpoint{resolved, false, st.st_mode};
    }
    char target[PATH_MAX];
    const ssize_t n = readlink(resolved.c_str(), target, sizeof(target) - 1);
    if (n < 0) {
      return absl::ErrnoToStatus(
          errno, absl::StrCat("reading symlink ", resolved, " (mountpoint ",
                              given, ")"));
    }
    const absl::string_view link(target, static_cast<size_t>(n));
    current = absl::StartsWith(link, "/")
                  ? std::string(link)
                  : absl::StrCat(resolved_parent, "/", link);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "mountpoint ", given, ": more than ", kMaxSymlinks, " symbolic links"));
}

// ---------------------------------------------------------------------------
// Running fusermount3.

// Moves `fd` above 2 (keeping close-on-exec), so that the child's dup2()s
// onto stdin/stdout/stderr cannot overwrite it. Only matters when the
// process runs with a standard descriptor closed.
absl::StatusOr<ScopedFd> AboveStdio(ScopedFd fd) {
  if (fd.get() > STDERR_FILENO) return fd;
  const int moved = fcntl(fd.get(), F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  if (moved < 0) return absl::ErrnoToStatus(errno, "fcntl(F_DUPFD_CLOEXEC)");
  return ScopedFd(moved);
}

absl::StatusOr<std::string> FindFusermount() {
  const char* path_env = getenv("PATH");
  const std::string search = path_env != nullptr ? path_env : "/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(search, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", kFusermount);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::UnavailableError(
      absl::StrCat(kFusermount, " is not installed (not found in PATH=", search,
                   "): install the fuse3 package, or mount as root"));
}

struct Child {
  pid_t pid = -1;
  ScopedFd output;  // read end of the child's stdout and stderr
};

// Starts `program` with `args` (args[0] included). The child gets /dev/null
// as stdin and a pipe as stdout and stderr, its signal mask cleared and
// SIGCHLD/SIGPIPE at their defaults; every descriptor of ours is closed on
// exec except `keep_fd` (if >= 0, which must be > 2), whose number is
// published in the environment as _FUSE_COMMFD. The caller must reap `pid`.
absl::StatusOr<Child> Spawn(const std::string& program,
                            const std::vector<std::string>& args, int keep_fd) {
  // Everything the child needs is built here: between fork() and execve()
  // only async-signal-safe calls are allowed (other threads may hold the
  // allocator's locks).
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "_FUSE_COMMFD=")) env.emplace_back(*e);
  }
  if (keep_fd >= 0) env.push_back(absl::StrCat("_FUSE_COMMFD=", keep_fd));
  std::vector<char*> argv;
  for (const std::string& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const std::string& e : env) {
    envp.push_back(const_cast<char*>(e.c_str()));
  }
  envp.push_back(nullptr);
  const std::string exec_failed =
      absl::StrCat("fusekit: cannot execute ", program, "\n");

  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return absl::ErrnoToStatus(errno, "pipe2() for fusermount3's output");
  }
  ScopedFd out_read(pipe_fds[0]);
  absl::StatusOr<ScopedFd> out_write = AboveStdio(ScopedFd(pipe_fds[1]));
  if (!out_write.ok()) return out_write.status();
  absl::StatusOr<ScopedFd> dev_null =
      AboveStdio(ScopedFd(open("/dev/null", O_RDWR | O_CLOEXEC)));
  if (!dev_null.ok()) return dev_null.status();
  if (!dev_null->valid()) {
    return absl::ErrnoToStatus(errno, "opening /dev/null");
  }

  struct sigaction default_action = {};
  default_action.sa_handler = SIG_DFL;
  sigemptyset(&default_action.sa_mask);
  sigset_t empty_mask;
  sigemptyset(&empty_mask);
  const int in_fd = dev_null->get();
  const int out_fd = out_write->get();

  const pid_t pid = fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork() for fusermount3");
  if (pid == 0) {
    // The child. An ignored SIGCHLD would survive exec and break
    // fusermount3's own waitpid(); a blocked mask would survive too.
    sigaction(SIGCHLD, &default_action, nullptr);
    sigaction(SIGPIPE, &default_action, nullptr);
    sigprocmask(SIG_SETMASK, &empty_mask, nullptr);
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 ||
        dup2(out_fd, STDERR_FILENO) < 0) {
      _exit(127);
    }
    // Descriptors other code in this process opened without O_CLOEXEC must
    // not reach the setuid helper either. Failure (old kernel) only loses
    // that extra care: fusekit's own descriptors are all close-on-exec.
    close_range(STDERR_FILENO + 1, ~0U, CLOSE_RANGE_CLOEXEC);
    if (keep_fd >= 0 && fcntl(keep_fd, F_SETFD, 0) != 0) _exit(127);
    execve(program.c_str(), argv.data(), envp.data());
    [[maybe_unused]] ssize_t n =
        write(STDERR_FILENO, exec_failed.data(), exec_failed.size());
    _exit(127);
  }
  return Child{pid, std::move(out_read)};
}

// Reads `fd` to end of file; keeps at most kMaxChildOutput bytes.
std::string ReadAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    const size_t room = kMaxChildOutput - std::min(out.size(), kMaxChildOutput);
    out.append(buf, std::min(static_cast<size_t>(n), room));
  }
  return out;
}

// Waits for `pid`. nullopt if its status is not ours to have: the process
// ignores SIGCHLD, or another part of it reaped the child first.
std::optional<int> Reap(pid_t pid) {
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, 0);
    if (r == pid) return status;
    if (r < 0 && errno == EINTR) continue;
    return std::nullopt;
  }
}

std::string DescribeExit(std::optional<int> status) {
  if (!status.has_value()) return "exit status unknown";
  if (WIFEXITED(*status)) {
    return absl::StrCat("exit status ", WEXITSTATUS(*status));
  }
  if (WIFSIGNALED(*status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(*status));
  }
  return absl::StrCat("wait status ", *status);
}

bool ExitedZero(std::optional<int> status) {
  return status.has_value() && WIFEXITED(*status) && WEXITSTATUS(*status) == 0;
}

// fusermount3's output as one line.
std::string OneLine(absl::string_view output) {
  std::vector<absl::string_view> lines;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) lines.push_back(line);
  }
  return lines.empty() ? "no output" : absl::StrJoin(lines, "; ");
}

// A status for a failed fusermount3 run, with its own words in it.
absl::Status FusermountError(absl::string_view command,
                             std::optional<int> status,
                             absl::string_view output) {
  const std::string message = absl::StrCat(
      command, " failed (", DescribeExit(status), "): ", OneLine(output));
  if (absl::StrContains(output, "fusekit: cannot execute")) {
    return absl::UnavailableError(message);
  }
  if (absl::StrContains(output, "Permission denied") ||
      absl::StrContains(output, "not permitted") ||
      absl::StrContains(output, "only allowed if") ||
      absl::StrContains(output, "no write access") ||
      absl::StrContains(output, "not owned by user")) {
    return absl::PermissionDeniedError(message);
  }
  if (absl::StrContains(output, "not found. Kernel module") ||
      absl::StrContains(output, "fuse device not found")) {
    return absl::UnavailableError(message);
  }
  return absl::UnknownError(message);
}

// Receives the descriptor fusermount3 sends over `sock`. An invalid ScopedFd
// if it closed the socket without sending one.
absl::StatusOr<ScopedFd> ReceiveFd(int sock) {
  char byte;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return absl::ErrnoToStatus(errno, "recvmsg() from fusermount3");
  }
  ScopedFd received;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
      // Keep the first; close any extra rather than leak it.
      if (!received.valid()) {
        received.reset(fd);
      } else {
        close(fd);
      }
    }
  }
  return received;
}

// `fusermount3 -u -z -- <mountpoint>`.
absl::Status FusermountUnmount(const std::string& mountpoint) {
  absl::StatusOr<std::string> program = FindFusermount();
  if (!program.ok()) return program.status();
  std::vector<std::string> args = {*program, "-u", "-z", "--", mountpoint};
  absl::StatusOr<Child> child = Spawn(*program, args, -1);
  if (!child.ok()) return child.status();
  const std::string output = ReadAll(child->output.get());
  const std::optional<int> status = Reap(child->pid);
  if (ExitedZero(status)) return absl::OkStatus();
  return FusermountError(absl::StrJoin(args, " "), status, output);
}

// umount2(2), lazily if the mount is busy (or at once if `lazy`).
absl::Status Umount(const std::string& mountpoint, bool lazy, bool abort_if_busy = false) {
  if (!lazy) {
    if (umount2(mountpoint.c_str(), UMOUNT_NOFOLLOW) == 0) {
      return absl::OkStatus();
    }
    if (errno != EBUSY) {
      return absl::ErrnoToStatus(errno,
                                 absl::StrCat("umount2(", mountpoint, ")"));
    }
    // MNT_FORCE makes FUSE abort the connection (fuse_umount_begin): the
    // files held open fail with ENOTCONN and the server's reads end, where a
    // lazy detach alone would keep it serving them.
    if (abort_if_busy && umount2(mountpoint.c_str(), UMOUNT_NOFOLLOW | MNT_FORCE) == 0) {
      return absl::OkStatus();
    }
  }
  if (umount2(mountpoint.c_str(), UMOUNT_NOFOLLOW | MNT_DETACH) == 0) {
    return absl::OkStatus();
  }
  return absl::ErrnoToStatus(
      errno, absl::StrCat("umount2(", mountpoint, ", MNT_DETACH)"));
}

// ---------------------------------------------------------------------------
// Mounting.

absl::Status DevFuseAbsent(absl::string_view dev_fuse_path) {
  return absl::UnavailableError(absl::StrCat(
      dev_fuse_path,
      " is absent: load the fuse module (modprobe fuse), or in a container "
      "pass the device in (e.g. docker run --device /dev/fuse)"));
}

absl::StatusOr<ScopedFd> MountDirect(const std::string& mountpoint,
                                     const ParsedMountOptions& parsed,
                                     const std::string& dev_fuse_path) {
  ScopedFd fd(open(dev_fuse_path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(
          absl::StrCat("open(", dev_fuse_path, ", O_RDWR): ", strerror(err)));
    }
    if (err == ENOENT || err == ENODEV || err == ENXIO) {
      return DevFuseAbsent(dev_fuse_path);
    }
    return absl::ErrnoToStatus(err, absl::StrCat("open(", dev_fuse_path, ")"));
  }
  // rootmode is the root inode's file type in octal: S_IFDIR is 040000.
  std::string data = absl::StrFormat("fd=%d,rootmode=%o,user_id=%u,group_id=%u",
                                     fd.get(), S_IFDIR, geteuid(), getegid());
  if (!parsed.kernel_data.empty()) {
    absl::StrAppend(&data, ",", parsed.kernel_data);
  }
  if (mount(parsed.source.c_str(), mountpoint.c_str(), parsed.fs_type.c_str(),
            parsed.mount_flags, data.c_str()) != 0) {
    const int err = errno;
    const std::string call =
        absl::StrCat("mount(2) of ", parsed.fs_type, " on ", mountpoint);
    if (err == EPERM || err == EACCES) {
      return absl::PermissionDeniedError(
          absl::StrCat(call, ": ", strerror(err)));
    }
    if (err == ENODEV) {
      return absl::UnavailableError(absl::StrCat(
          call,
          ": the kernel has no fuse filesystem type: load the fuse "
          "module (modprobe fuse)"));
    }
    return absl::ErrnoToStatus(err,
                               absl::StrCat(call, " with data \"", data, "\""));
  }
  return fd;
}

absl::StatusOr<ScopedFd> MountViaFusermount(const std::string& mountpoint,
                                            const ParsedMountOptions& parsed) {
  absl::StatusOr<std::string> program = FindFusermount();
  if (!program.ok()) return program.status();

  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return absl::ErrnoToStatus(errno, "socketpair() for fusermount3");
  }
  ScopedFd ours(sv[0]);
  absl::StatusOr<ScopedFd> theirs = AboveStdio(ScopedFd(sv[1]));
  if (!theirs.ok()) return theirs.status();

  const std::vector<std::string> args = {
      *program, "-o", parsed.fusermount_options, "--", mountpoint};
  absl::StatusOr<Child> child = Spawn(*program, args, theirs->get());
  if (!child.ok()) return child.status();
  // Only the child may hold the other end now, so that recvmsg() sees end of
  // file if it exits without sending a descriptor.
  theirs->reset();

  absl::StatusOr<ScopedFd> received = ReceiveFd(ours.get());
  const std::string output = ReadAll(child->output.get());
  const std::optional<int> status = Reap(child->pid);
  if (!received.ok()) return received.status();
  // As libfuse does, a descriptor received means the mount is made: the
  // exit status can be lost (SIGCHLD ignored) and adds nothing.
  if (received->valid()) return *std::move(received);
  return FusermountError(absl::StrJoin(args, " "), status, output);
}

}  // namespace

// ---------------------------------------------------------------------------
// Public functions.

std::vector<MountInfoEntry> ParseMountInfo(absl::string_view text) {
  std::vector<MountInfoEntry> entries;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    // id parent dev root mountpoint options [optional...] - type source super
    size_t sep = 6;
    while (sep < f.size() && f[sep] != "-") ++sep;
    if (sep + 2 >= f.size()) continue;  // no "-", or no type and source
    MountInfoEntry e;
    if (!absl::SimpleAtoi(f[0], &e.mount_id) ||
        !absl::SimpleAtoi(f[1], &e.parent_id)) {
      continue;
    }
    e.device = std::string(f[2]);
    e.root = UnescapeMountField(f[3]);
    e.mount_point = UnescapeMountField(f[4]);
    e.mount_options = std::string(f[5]);
    e.fs_type = UnescapeMountField(f[sep + 1]);
    e.source = UnescapeMountField(f[sep + 2]);
    e.super_options = sep + 3 < f.size() ? UnescapeMountField(f[sep + 3]) : "";
    entries.push_back(std::move(e));
  }
  return entries;
}

absl::StatusOr<std::vector<MountInfoEntry>> ReadMountInfo() {
  ScopedFd fd(open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return absl::ErrnoToStatus(errno, "opening /proc/self/mountinfo");
  }
  std::string text;
  char buf[16384];
  for (;;) {
    const ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::ErrnoToStatus(errno, "reading /proc/self/mountinfo");
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return ParseMountInfo(text);
}

bool IsFuseMountPoint(absl::string_view path) {
  absl::StatusOr<std::vector<MountInfoEntry>> entries = ReadMountInfo();
  if (!entries.ok()) return false;
  return FuseMountWithDevice(*entries, LexicalAbsolute(path), "") != nullptr;
}

absl::Status UnmountPath(absl::string_view mountpoint) {
  std::string path;
  if (absl::StatusOr<ResolvedMountpoint> r = ResolveMountpoint(mountpoint);
      r.ok()) {
    path = r->path;
  } else {
    path = LexicalAbsolute(mountpoint);
  }
  const bool as_root = geteuid() == 0;
  // Each round takes off the top mount; stacked FUSE mounts take several.
  for (int round = 0; round < 64; ++round) {
    absl::StatusOr<std::vector<MountInfoEntry>> entries = ReadMountInfo();
    if (!entries.ok()) return entries.status();
    const MountInfoEntry* top = TopMountAt(*entries, path);
    if (top == nullptr) return absl::OkStatus();
    if (!IsFuseType(top->fs_type)) {
      if (FuseMountWithDevice(*entries, path, "") == nullptr) {
        return absl::OkStatus();
      }
      return absl::FailedPreconditionError(
          absl::StrCat("a FUSE filesystem on ", path, " is covered by a ",
                       top->fs_type, " mount, which UnmountPath leaves alone"));
    }
    const int top_id = top->mount_id;
    absl::Status s =
        as_root ? Umount(path, /*lazy=*/true) : FusermountUnmount(path);
    if (!s.ok()) {
      // Fine if someone else took it off meanwhile.
      absl::StatusOr<std::vector<MountInfoEntry>> after = ReadMountInfo();
      if (!after.ok()) return s;
      const MountInfoEntry* now = TopMountAt(*after, path);
      if (now != nullptr && now->mount_id == top_id) return s;
    }
  }
  return absl::InternalError(
      absl::StrCat("more than 64 FUSE mounts stacked on ", path));
}

// ---------------------------------------------------------------------------
// KernelMount.

KernelMount::KernelMount(ScopedFd fd, std::string mountpoint,
                         bool via_fusermount, std::string device,
                         uint64_t unique_mount_id)
    : fd_(std::move(fd)),
      mountpoint_(std::move(mountpoint)),
      via_fusermount_(via_fusermount),
      device_(std::move(device)),
      unique_mount_id_(unique_mount_id) {}

KernelMount::~KernelMount() {
  if (absl::Status s = Unmount(); !s.ok()) {
    absl::FPrintF(stderr, "fusekit: leaving %s mounted: %s\n", mountpoint_,
                  s.ToString());
  }
}

absl::StatusOr<std::unique_ptr<KernelMount>> KernelMount::Create(
    absl::string_view mountpoint, const MountOptions& options) {
  absl::StatusOr<ParsedMountOptions> parsed = ParseMountOptions(options);
  if (!parsed.ok()) return parsed.status();

  absl::StatusOr<ResolvedMountpoint> resolved = ResolveMountpoint(mountpoint);
  if (!resolved.ok()) return resolved.status();
  if (resolved->fuse_mount) {
    return absl::AlreadyExistsError(
        absl::StrCat("mountpoint ", mountpoint, " is already a FUSE mount"));
  }
  if (!S_ISDIR(resolved->mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("mountpoint ", mountpoint, " is not a directory"));
  }

  // Checked on both paths so a missing device reads the same whichever way
  // the mount would have gone.
  struct stat dev_st;
  if (stat(options.dev_fuse_path.c_str(), &dev_st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      return DevFuseAbsent(options.dev_fuse_path);
    }
    // Anything else (EACCES) is left for open() to report.
  } else if (!S_ISCHR(dev_st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(options.dev_fuse_path, " is not a character device"));
  }

  const bool via_fusermount = options.force_fusermount || geteuid() != 0;
  absl::StatusOr<ScopedFd> fd =
      via_fusermount
          ? MountViaFusermount(resolved->path, *parsed)
          : MountDirect(resolved->path, *parsed, options.dev_fuse_path);
  if (!fd.ok()) return fd.status();

  // What tells this mount from a later one on the same path. Nothing after
  // the mount may fail, or the mount would be left behind.
  std::string device;
  if (absl::StatusOr<std::vector<MountInfoEntry>> entries = ReadMountInfo();
      entries.ok()) {
    const MountInfoEntry* top = TopMountAt(*entries, resolved->path);
    if (top != nullptr && IsFuseType(top->fs_type)) device = top->device;
  }
  const uint64_t unique_id = UniqueMountId(resolved->path).value_or(0);
  std::unique_ptr<KernelMount> mount(new KernelMount(*std::move(fd), resolved->path,
                                                     via_fusermount, std::move(device),
                                                     unique_id));
  if (options.read_ahead_kb != 0) {
    // On failure the mount is taken down again (~KernelMount) before the
    // error goes back: a mount the caller never got must not stay.
    if (absl::Status s = mount->SetReadAhead(options.read_ahead_kb); !s.ok()) return s;
    mount->read_ahead_kb_ = options.read_ahead_kb;
  }
  return mount;
}

absl::Status KernelMount::ReapplyReadAhead() {
  return read_ahead_kb_ == 0 ? absl::OkStatus() : SetReadAhead(read_ahead_kb_);
}

absl::Status KernelMount::SetReadAhead(uint32_t kib) {
  if (device_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "read_ahead_kb: cannot tell the device of the mount at ", mountpoint_));
  }
  // FUSE superblocks' backing device infos are named after the anonymous
  // device number, as mountinfo shows it ("0:52").
  const std::string path = absl::StrCat("/sys/class/bdi/", device_, "/read_ahead_kb");
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  const std::string value = absl::StrCat(kib, "\n");
  if (fd < 0 || write(fd, value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    const int err = errno;
    if (fd >= 0) close(fd);
    std::string message = absl::StrCat("read_ahead_kb: writing ", path, ": ", strerror(err));
    if (err == EACCES || err == EPERM) {
      return absl::PermissionDeniedError(absl::StrCat(message, " (needs root)"));
    }
    if (err == EROFS) {
      return absl::FailedPreconditionError(
          absl::StrCat(message, " (sysfs is mounted read-only here, as in a sandbox)"));
    }
    return absl::UnknownError(message);
  }
  close(fd);
  return absl::OkStatus();
}

absl::Status KernelMount::Unmount() { return Unmount(UnmountMode::kLazyIfBusy); }

absl::Status KernelMount::Unmount(UnmountMode mode) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!mounted_) return absl::OkStatus();

  absl::StatusOr<std::vector<MountInfoEntry>> entries = ReadMountInfo();
  if (!entries.ok()) return entries.status();
  if (FuseMountWithDevice(*entries, mountpoint_, device_) == nullptr) {
    mounted_ = false;  // taken off from outside
    return absl::OkStatus();
  }
  const MountInfoEntry* top = TopMountAt(*entries, mountpoint_);
  if (unique_mount_id_ != 0) {
    const std::optional<uint64_t> now = UniqueMountId(mountpoint_);
    if (now.has_value() && *now != unique_mount_id_ && top != nullptr &&
        top->device == device_) {
      // Our superblock went with an outside unmount and a later mount got
      // its device number: that one is not ours to remove.
      mounted_ = false;
      return absl::OkStatus();
    }
  }
  if (top != nullptr && !device_.empty() && top->device != device_) {
    return absl::FailedPreconditionError(absl::StrCat(
        "FUSE mount ", device_, " on ", mountpoint_, " is covered by another ",
        top->fs_type, " mount (", top->device, "); not unmounting that"));
  }

  absl::Status s = via_fusermount_ ? FusermountUnmount(mountpoint_)
                                   : Umount(mountpoint_, /*lazy=*/false,
                                            mode == UnmountMode::kAbortIfBusy);
  if (!s.ok()) {
    // Fine if it went away meanwhile (say, an outside unmount raced ours).
    absl::StatusOr<std::vector<MountInfoEntry>> after = ReadMountInfo();
    if (!after.ok() ||
        FuseMountWithDevice(*after, mountpoint_, device_) != nullptr) {
      return s;
    }
  }
  mounted_ = false;
  return absl::OkStatus();
}

}  // namespace fusekit

namespace fusekit {
namespace {

absl::Status WriteAbort(const std::string& dir, uint64_t connection) {
  std::string path = absl::StrCat(dir, "/", connection, "/abort");
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", strerror(errno)));
  }
  ssize_t n = ::write(fd, "1", 1);
  int err = errno;
  ::close(fd);
  if (n != 1) return absl::InternalError(absl::StrCat("write ", path, ": ", strerror(err)));
  return absl::OkStatus();
}

}  // namespace

absl::Status KernelMount::AbortConnection() {
  size_t colon = device_.find(':');
  uint64_t major = 0, minor = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(device_.substr(0, colon), &major) ||
      !absl::SimpleAtoi(device_.substr(colon + 1), &minor)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no device number known for the mount on ", mountpoint_));
  }
  // fusectl names each connection by the superblock's dev_t (fs/fuse/control.c),
  // in the kernel's encoding: major << 20 | minor.
  uint64_t connection = (major << 20) | minor;
  absl::Status s = WriteAbort("/sys/fs/fuse/connections", connection);
  if (s.ok() || geteuid() != 0) return s;
  // fusectl is not mounted system-wide here: mount a private instance.
  char dir[] = "/tmp/fusekit-fusectl.XXXXXX";
  if (::mkdtemp(dir) == nullptr) return s;
  if (::mount("fusectl", dir, "fusectl", 0, nullptr) == 0) {
    s = WriteAbort(dir, connection);
    ::umount2(dir, MNT_DETACH);
  } else {
    s = absl::UnavailableError(absl::StrCat("cannot mount fusectl: ", strerror(errno)));
  }
  ::rmdir(dir);
  return s;
}

}  // namespace fusekit
