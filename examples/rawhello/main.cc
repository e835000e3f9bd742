// rawhello: the hello filesystem on the raw interface.
//
//   bazel run //examples/rawhello -- [flags] MOUNTPOINT   serves until Ctrl-C /
//       SIGTERM / umount; the flags are the examples' common ones
//       (examples/common: --debug, --threads, --entry_timeout, -o ...)
//   bazel run //examples/rawhello                 demo: mounts on a temporary
//       directory, shows `ls -l` and `cat` of hello.txt through real system
//       calls, unmounts, and exits non-zero if anything misbehaved.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "examples/common/example_main.h"
#include "examples/rawhello/hello_raw_fs.h"
#include "fuse/server.h"

namespace {

using fusekit::examples::HelloRawFs;

std::string ModeString(mode_t mode) {
  std::string s = S_ISDIR(mode) ? "d" : S_ISLNK(mode) ? "l" : "-";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

// `ls -l DIR` through opendir/readdir/lstat.
bool ListLong(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    perror(("opendir " + dir).c_str());
    return false;
  }
  bool found = false;
  absl::PrintF("$ ls -l %s\n", dir);
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    if (lstat((dir + "/" + name).c_str(), &st) != 0) {
      perror(("lstat " + name).c_str());
      closedir(d);
      return false;
    }
    char when[32];
    struct tm tm;
    strftime(when, sizeof(when), "%b %e %H:%M", localtime_r(&st.st_mtime, &tm));
    absl::PrintF("%s %d %d %d %6d %s %s\n", ModeString(st.st_mode), st.st_nlink, st.st_uid,
                 st.st_gid, st.st_size, when, name);
    found |= name == HelloRawFs::kFileName && S_ISREG(st.st_mode) &&
             static_cast<size_t>(st.st_size) == HelloRawFs::kContent.size();
  }
  closedir(d);
  return found;
}

// `cat FILE` through open/read.
bool Cat(const std::string& path, std::string* content) {
  absl::PrintF("$ cat %s\n", path);
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    perror(("open " + path).c_str());
    return false;
  }
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) content->append(buf, n);
  close(fd);
  fwrite(content->data(), 1, content->size(), stdout);
  return n == 0;
}

int Demo(HelloRawFs* fs, const fusekit::Options& options) {
  char tmpl[] = "/tmp/rawhello.XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    perror("mkdtemp");
    return 1;
  }
  std::string mountpoint = tmpl;
  auto server = fusekit::Mount(mountpoint, fs, options.mount, options.server);
  if (!server.ok()) {
    absl::FPrintF(stderr, "rawhello: %s\n", server.status().message());
    rmdir(tmpl);
    return 2;
  }
  absl::PrintF("mounted rawhello on %s (FUSE protocol 7.%d)\n", mountpoint,
               (*server)->connection().minor);
  std::string content;
  bool listed = ListLong(mountpoint);
  bool read_ok = Cat(mountpoint + "/" + std::string(HelloRawFs::kFileName), &content);
  absl::Status unmounted = (*server)->Unmount();
  (*server)->Wait();
  server->reset();
  rmdir(tmpl);
  absl::PrintF("unmounted %s: %s\n", mountpoint, unmounted.ok() ? "ok" : unmounted.ToString());
  bool ok = listed && read_ok && content == HelloRawFs::kContent && unmounted.ok();
  absl::PrintF("%s\n", ok ? "demo: all steps behaved" : "demo: FAILED");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  namespace ex = fusekit::examples;
  std::vector<std::string> args = ex::ParseFlags(
      argc, argv,
      "rawhello [MOUNTPOINT]: mounts the hello filesystem (hello.txt: \"Hello, world!\") on "
      "MOUNTPOINT using fusekit's raw interface, until Ctrl-C, SIGTERM or umount. Without "
      "MOUNTPOINT, runs a demo on a temporary directory and unmounts.",
      0, 1);
  // The node-tree options carry the common flags; the raw interface takes
  // their mount and server parts, and the timeouts go to the filesystem.
  fusekit::Options options = ex::OptionsFromFlags("rawhello");
  HelloRawFs fs(options.entry_timeout, options.attr_timeout);
  // Before mounting, so a signal can never leave a stale mount behind (the
  // demo just finishes and unmounts).
  fusekit::CatchTerminationSignals();
  if (args.empty()) return Demo(&fs, options);
  if (absl::Status s = ex::CheckMountpoint(args[0]); !s.ok()) {
    absl::FPrintF(stderr, "rawhello: %s\n", s.message());
    return ex::kExitUsage;
  }
  auto server = fusekit::Mount(args[0], &fs, options.mount, options.server);
  if (!server.ok()) {
    absl::FPrintF(stderr, "rawhello: %s\n", server.status().message());
    return ex::kExitUsage;
  }
  absl::FPrintF(stderr, "rawhello: serving %s (Ctrl-C or umount to stop)\n",
                (*server)->mountpoint());
  int signo = (*server)->WaitForUnmountOrSignal();
  if (signo != 0) absl::FPrintF(stderr, "rawhello: signal %d: unmounted\n", signo);
  return 0;
}
