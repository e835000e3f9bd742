// demo: what fusekit does, in one command.
//
//   bazel run //examples/demo
//
// Mounts memfs (the library's in-memory filesystem, 64 MiB) on a fresh
// temporary directory, runs a short session through real system calls
// (mkdir, write, read back, ls -l, rename, hard link, symlink, xattr,
// statfs), printing each step as a shell transcript, then unmounts and
// removes the directory. Exits 0 if every step behaved, 1 if one did not
// (or a signal cut the session short), 2 if it could not mount.
//
// Two threads: the main one serves the mount until it is unmounted or
// SIGINT/SIGTERM arrives (which unmounts); the session runs beside it, as
// a separate program would. (A thread serving a mount must never make
// system calls on it: the kernel would wait for a reply only it can give.)
// The session works relative to a descriptor of the mount's root (openat,
// mkdirat, ...), so once the mount is gone its calls fail rather than
// touch the empty directory underneath.
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "examples/common/example_main.h"
#include "examples/memfs/memfs.h"
#include "fuse/mount.h"
#include "fuse/server.h"
#include "nodefs/mem_node.h"

ABSL_FLAG(absl::Duration, step_delay, absl::ZeroDuration(),
          "pause between steps, to watch the session (e.g. 1s)");

namespace fusekit::examples {
namespace {

constexpr uint64_t kSize = 64 << 20;
constexpr absl::string_view kGreeting = "Hello from fusekit!\n";
constexpr absl::string_view kNote = "written by the demo";

// Set by the main thread when a signal ended serving: the session stops.
std::atomic<bool> g_stop{false};

std::string ErrnoText() { return strerror(errno); }

std::string ModeString(mode_t mode) {
  std::string s = S_ISDIR(mode) ? "d" : S_ISLNK(mode) ? "l" : S_ISFIFO(mode) ? "p" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

std::string UserName(uid_t uid) {
  struct passwd pw, *found = nullptr;
  char buf[1024];
  if (getpwuid_r(uid, &pw, buf, sizeof(buf), &found) == 0 && found) return found->pw_name;
  return absl::StrCat(uid);
}

std::string GroupName(gid_t gid) {
  struct group gr, *found = nullptr;
  char buf[1024];
  if (getgrgid_r(gid, &gr, buf, sizeof(buf), &found) == 0 && found) return found->gr_name;
  return absl::StrCat(gid);
}

// The session: each step prints its command and output, and checks what
// it saw. `root` is a descriptor of the mount's root directory.
class Session {
 public:
  explicit Session(int root) : root_(root) {}

  bool Run() {
    return Step("mkdir docs", [&] { return Mkdir("docs"); }) &&
           Step(absl::StrCat("echo 'Hello from fusekit!' > docs/hello.txt"),
                [&] { return WriteFile("docs/hello.txt", kGreeting); }) &&
           Step("cat docs/hello.txt", [&] { return Cat("docs/hello.txt", kGreeting); }) &&
           Step("ls -l docs", [&] { return ListLong("docs", {"hello.txt"}); }) &&
           Step("mv docs/hello.txt docs/greeting.txt",
                [&] { return Rename("docs/hello.txt", "docs/greeting.txt"); }) &&
           Step("ln docs/greeting.txt hardlink.txt",
                [&] { return HardLink("docs/greeting.txt", "hardlink.txt"); }) &&
           Step("ln -s docs/greeting.txt symlink.txt",
                [&] { return Symlink("docs/greeting.txt", "symlink.txt"); }) &&
           Step("cat symlink.txt", [&] { return Cat("symlink.txt", kGreeting); }) &&
           Step(absl::StrCat("setfattr -n user.note -v '", kNote, "' docs/greeting.txt"),
                [&] { return SetXattr("docs/greeting.txt", "user.note", kNote); }) &&
           Step("getfattr -n user.note hardlink.txt",
                [&] { return GetXattr("hardlink.txt", "user.note", kNote); }) &&
           Step("df .", [&] { return Statfs(); }) &&
           Step("ls -l", [&] {
             return ListLong(".", {"docs", "hardlink.txt", "symlink.txt"});
           });
  }

 private:
  template <typename Body>
  bool Step(const std::string& command, Body body) {
    if (g_stop.load()) return false;
    absl::PrintF("$ %s\n", command);
    bool ok = body();
    if (!ok) absl::PrintF("demo: step '%s' misbehaved\n", command);
    fflush(stdout);
    // Sleep in slices, so a signal stops a slow session promptly.
    for (absl::Time end = absl::Now() + absl::GetFlag(FLAGS_step_delay);
         ok && absl::Now() < end && !g_stop.load();) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    return ok;
  }

  bool Fail(const std::string& what) {
    absl::PrintF("  FAILED: %s\n", what);
    return false;
  }

  bool Mkdir(const char* name) {
    if (mkdirat(root_, name, 0755) != 0) return Fail(absl::StrCat("mkdir: ", ErrnoText()));
    struct stat st;
    if (fstatat(root_, name, &st, 0) != 0 || !S_ISDIR(st.st_mode)) {
      return Fail("no directory after mkdir");
    }
    return true;
  }

  bool WriteFile(const char* name, absl::string_view data) {
    int fd = openat(root_, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0) return Fail(absl::StrCat("open: ", ErrnoText()));
    ssize_t n = write(fd, data.data(), data.size());
    int saved = errno;
    if (close(fd) != 0) return Fail(absl::StrCat("close: ", ErrnoText()));
    if (n != static_cast<ssize_t>(data.size())) {
      errno = saved;
      return Fail(absl::StrCat("write: ", n < 0 ? ErrnoText() : "short"));
    }
    return true;
  }

  bool Cat(const char* name, absl::string_view expected) {
    int fd = openat(root_, name, O_RDONLY);
    if (fd < 0) return Fail(absl::StrCat("open: ", ErrnoText()));
    std::string content;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) content.append(buf, n);
    int saved = errno;
    close(fd);
    if (n < 0) {
      errno = saved;
      return Fail(absl::StrCat("read: ", ErrnoText()));
    }
    absl::PrintF("%s", content);
    if (content != expected) return Fail(absl::StrCat("expected '", expected, "'"));
    return true;
  }

  bool ListLong(const char* dir, const std::vector<std::string>& expected) {
    int fd = openat(root_, dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return Fail(absl::StrCat("open: ", ErrnoText()));
    DIR* d = fdopendir(fd);
    if (d == nullptr) {
      close(fd);
      return Fail(absl::StrCat("fdopendir: ", ErrnoText()));
    }
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) names.push_back(e->d_name);
    }
    std::sort(names.begin(), names.end());
    bool ok = true;
    for (const std::string& name : names) {
      struct stat st;
      if (fstatat(dirfd(d), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ok = Fail(absl::StrCat("stat ", name, ": ", ErrnoText()));
        continue;
      }
      char when[32];
      struct tm tm;
      strftime(when, sizeof(when), "%b %e %H:%M", localtime_r(&st.st_mtime, &tm));
      std::string line = absl::StrFormat("%s %d %s %s %6d %s %s", ModeString(st.st_mode),
                                         st.st_nlink, UserName(st.st_uid),
                                         GroupName(st.st_gid), st.st_size, when, name);
      if (S_ISLNK(st.st_mode)) {
        char target[256];
        ssize_t n = readlinkat(dirfd(d), name.c_str(), target, sizeof(target));
        if (n > 0) absl::StrAppend(&line, " -> ", absl::string_view(target, n));
      }
      absl::PrintF("%s\n", line);
    }
    closedir(d);
    if (names != expected) ok = Fail("not the entries expected");
    return ok;
  }

  bool Rename(const char* from, const char* to) {
    struct stat before, after;
    if (fstatat(root_, from, &before, 0) != 0) return Fail(absl::StrCat("stat: ", ErrnoText()));
    if (renameat(root_, from, root_, to) != 0) return Fail(absl::StrCat("rename: ", ErrnoText()));
    if (fstatat(root_, from, &after, 0) == 0) return Fail("the old name is still there");
    if (fstatat(root_, to, &after, 0) != 0) return Fail("the new name is missing");
    if (after.st_ino != before.st_ino) return Fail("the file changed its inode");
    return true;
  }

  bool HardLink(const char* target, const char* name) {
    if (linkat(root_, target, root_, name, 0) != 0) return Fail(absl::StrCat("link: ", ErrnoText()));
    struct stat a, b;
    if (fstatat(root_, target, &a, 0) != 0 || fstatat(root_, name, &b, 0) != 0) {
      return Fail(absl::StrCat("stat: ", ErrnoText()));
    }
    absl::PrintF("(%s and %s: inode %d, %d links)\n", target, name, a.st_ino, a.st_nlink);
    if (a.st_ino != b.st_ino) return Fail("two inodes for one file");
    if (a.st_nlink != 2) return Fail("the link count is not 2");
    return true;
  }

  bool Symlink(const char* target, const char* name) {
    if (symlinkat(target, root_, name) != 0) return Fail(absl::StrCat("symlink: ", ErrnoText()));
    char buf[256];
    ssize_t n = readlinkat(root_, name, buf, sizeof(buf));
    if (n < 0) return Fail(absl::StrCat("readlink: ", ErrnoText()));
    if (absl::string_view(buf, n) != target) return Fail("readlink gives another target");
    return true;
  }

  bool SetXattr(const char* file, const char* name, absl::string_view value) {
    int fd = openat(root_, file, O_RDONLY);
    if (fd < 0) return Fail(absl::StrCat("open: ", ErrnoText()));
    int r = fsetxattr(fd, name, value.data(), value.size(), 0);
    int saved = errno;
    close(fd);
    errno = saved;
    if (r != 0) return Fail(absl::StrCat("setxattr: ", ErrnoText()));
    return true;
  }

  bool GetXattr(const char* file, const char* name, absl::string_view expected) {
    int fd = openat(root_, file, O_RDONLY);
    if (fd < 0) return Fail(absl::StrCat("open: ", ErrnoText()));
    char buf[256];
    ssize_t n = fgetxattr(fd, name, buf, sizeof(buf));
    int saved = errno;
    close(fd);
    errno = saved;
    if (n < 0) return Fail(absl::StrCat("getxattr: ", ErrnoText()));
    absl::PrintF("# file: %s\n%s=\"%s\"\n", file, name, absl::string_view(buf, n));
    if (absl::string_view(buf, n) != expected) return Fail("another value");
    return true;
  }

  bool Statfs() {
    struct statfs st;
    if (fstatfs(root_, &st) != 0) return Fail(absl::StrCat("statfs: ", ErrnoText()));
    const uint64_t block = st.f_bsize;
    absl::PrintF("%-12s %10s %8s %10s %5s %8s %8s\n", "Filesystem", "Size", "Used", "Avail",
                 "Use%", "Inodes", "IFree");
    const uint64_t used = (st.f_blocks - st.f_bfree) * block;
    absl::PrintF("%-12s %9dK %7dK %9dK %4d%% %8d %8d\n", "memfs-demo", st.f_blocks * block / 1024,
                 used / 1024, st.f_bavail * block / 1024,
                 st.f_blocks ? (100 * (st.f_blocks - st.f_bfree) + st.f_blocks - 1) / st.f_blocks
                             : 0,
                 st.f_files, st.f_ffree);
    if (st.f_blocks * block != kSize) return Fail("the size is not the 64 MiB asked for");
    if (used != 4096) return Fail("one page of data should be in use");
    // The root, docs, greeting.txt (twice linked) and symlink.txt.
    if (st.f_files - st.f_ffree != 4) return Fail("four inodes should be in use");
    return true;
  }

  const int root_;
};

int Demo() {
  // Before mounting, so no signal can leave a stale mount behind.
  CatchTerminationSignals();
  const char* tmp = getenv("TMPDIR");
  std::string dir = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/fusekit-demo.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) {
    absl::FPrintF(stderr, "demo: cannot make a temporary directory: %s\n", ErrnoText());
    return kExitUsage;
  }
  Options options = MemfsOptions(OptionsFromFlags("memfs-demo"));
  absl::StatusOr<std::unique_ptr<TreeMount>> mount =
      Mount(dir, MemDir::NewRoot(MemfsLimits(kSize, 0)), options);
  if (!mount.ok()) {
    absl::FPrintF(stderr, "demo: %s\n", mount.status().message());
    rmdir(dir.c_str());
    return kExitUsage;
  }
  absl::PrintF("mounted memfs (64 MiB, in memory) on %s\n$ cd %s\n", dir, dir);
  fflush(stdout);

  std::atomic<bool> session_ok{false};
  std::thread session([&] {
    int root = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (root < 0) {
      absl::PrintF("demo: cannot open %s: %s\n", dir, ErrnoText());
    } else {
      session_ok = Session(root).Run();
      close(root);
    }
    // Done (or failed): unmounting ends the serving below.
    absl::Status unmounted = (*mount)->Unmount();
    if (!unmounted.ok()) absl::FPrintF(stderr, "demo: unmount: %s\n", unmounted.message());
  });
  const int signo = (*mount)->WaitForUnmountOrSignal();
  if (signo != 0) g_stop = true;
  session.join();
  mount->reset();
  const bool still_mounted = IsFuseMountPoint(dir);
  if (rmdir(dir.c_str()) != 0) absl::FPrintF(stderr, "demo: rmdir %s: %s\n", dir, ErrnoText());
  if (signo != 0) {
    absl::PrintF("demo: interrupted by signal %d; unmounted %s\n", signo, dir);
    return 1;
  }
  absl::PrintF("unmounted %s\n", dir);
  const bool ok = session_ok.load() && !still_mounted;
  absl::PrintF("%s\n", ok ? "demo: every step behaved" : "demo: FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace fusekit::examples

int main(int argc, char** argv) {
  fusekit::examples::ParseFlags(
      argc, argv,
      "demo: mounts memfs (fusekit's in-memory filesystem) on a temporary directory, runs a "
      "short session through real system calls (mkdir, write, read back, ls -l, rename, "
      "hard link, symlink, xattr, statfs) showing each step, and unmounts. Exit code 0 if "
      "every step behaved.",
      0);
  return fusekit::examples::Demo();
}
