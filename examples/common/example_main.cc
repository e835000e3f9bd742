#include "examples/common/example_main.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/server.h"

ABSL_FLAG(bool, debug, false, "print one line per FUSE request and reply (the wire log)");
ABSL_FLAG(bool, allow_other, false,
          "let other users see the mount (needs user_allow_other in /etc/fuse.conf when "
          "not root)");
ABSL_FLAG(bool, read_only, false, "mount read-only");
ABSL_FLAG(int, threads, 0, "worker threads serving requests (0: one per core)");
ABSL_FLAG(bool, clone_fd, true,
          "give each worker its own /dev/fuse descriptor (FUSE_DEV_IOC_CLONE), with its own "
          "reply queue in the kernel (--clone_fd=false: all workers read the one descriptor)");
ABSL_FLAG(uint32_t, spin_us, 0,
          "busy-poll for the next request this many microseconds before sleeping (burns a "
          "CPU per spinning worker; for back-to-back requests on machines with cores to spare)");
ABSL_FLAG(bool, io_uring, false,
          "take requests through per-CPU io_uring rings (FUSE over io-uring: Linux 6.14+, "
          "with /sys/module/fuse/parameters/enable_uring set to Y; otherwise /dev/fuse as "
          "always): a request is served on its caller's CPU");
ABSL_FLAG(absl::Duration, entry_timeout, absl::Seconds(1),
          "how long the kernel may cache names (e.g. 1s, 0)");
ABSL_FLAG(absl::Duration, attr_timeout, absl::Seconds(1),
          "how long the kernel may cache attributes (e.g. 1s, 0)");
ABSL_FLAG(bool, splice, true,
          "move file data with splice(2) instead of copying it through the daemon: read data "
          "from the files that hold it, and (loopbackfs) write data from the kernel's pipe "
          "into them, taking requests off /dev/fuse through a pipe per worker, with a "
          "max_write that fits the pipe (--splice=false: read and write it)");
ABSL_FLAG(bool, writeback_cache, false,
          "let the kernel cache writes and send them in batches (FUSE_WRITEBACK_CACHE)");
ABSL_FLAG(bool, readdirplus, true,
          "answer READDIRPLUS: listings carry each entry's attributes, so ls -l needs no "
          "LOOKUP per entry (the kernel chooses per listing, READDIRPLUS_AUTO)");
ABSL_FLAG(bool, handle_killpriv, true,
          "drop set-user/group-ID bits and file capabilities on write, truncate and chown in "
          "the daemon (FUSE_HANDLE_KILLPRIV_V2), sparing the kernel's GETXATTR "
          "security.capability before every write (--handle_killpriv=false: the kernel asks)");
ABSL_FLAG(uint32_t, read_ahead_kb, 0,
          "how far (KiB) the kernel reads ahead of sequential reads, e.g. 1024 for 1 MiB "
          "READs (needs root; 0: the kernel's 128)");
ABSL_FLAG(std::vector<std::string>, o, {},
          "raw mount options, comma-separated (e.g. -o ro,noatime,default_permissions)");

namespace fusekit::examples {
namespace {

const char* const kCommonFlags[] = {
    "debug",           "allow_other",     "read_only",   "threads", "clone_fd",
    "entry_timeout",   "attr_timeout",    "splice",      "writeback_cache",
    "handle_killpriv", "readdirplus",     "spin_us",     "io_uring", "read_ahead_kb",
    "o"};

void PrintHelp(absl::string_view usage) {
  absl::PrintF("%s\n\nFlags:\n", usage);
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    bool ours = false;
    for (const char* common : kCommonFlags) ours |= name == common;
    // The example's own flags live in its main.cc; list them with ours.
    ours |= absl::StrContains(flag->Filename(), "examples/");
    if (!ours) continue;
    absl::PrintF("  --%s  %s (default: %s)\n", name, flag->Help(), flag->DefaultValue());
  }
}

}  // namespace

absl::Status ParseFlagsOrError(const std::vector<std::string>& argv, size_t positional,
                               std::vector<std::string>* args, bool* help) {
  return ParseFlagsOrError(argv, positional, positional, args, help);
}

absl::Status ParseFlagsOrError(const std::vector<std::string>& argv, size_t min_positional,
                               size_t max_positional, std::vector<std::string>* args,
                               bool* help) {
  *help = false;
  bool flags_done = false;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      args->push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    if (name == "help" || name == "helpfull" || name == "h") {
      *help = true;
      return absl::OkStatus();
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no")) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        name = name.substr(2);
        value = "false";
        has_value = true;
      }
    }
    if (flag == nullptr) return absl::InvalidArgumentError(absl::StrCat("unknown flag ", arg));
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < argv.size()) {
        value = argv[++i];
      } else {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad value '", value, "' for --", name, ": ", error));
    }
  }
  if (args->size() < min_positional || args->size() > max_positional) {
    std::string expected = min_positional == max_positional
                               ? absl::StrCat(max_positional)
                               : absl::StrCat(min_positional, " to ", max_positional);
    return absl::InvalidArgumentError(absl::StrCat("expected ", expected, " argument",
                                                   expected == "1" ? "" : "s", ", got ",
                                                   args->size(), " (see --help)"));
  }
  return absl::OkStatus();
}

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage,
                                    size_t positional) {
  return ParseFlags(argc, argv, usage, positional, positional);
}

std::vector<std::string> ParseFlags(int argc, char** argv, absl::string_view usage,
                                    size_t min_positional, size_t max_positional) {
  absl::SetProgramUsageMessage(usage);
  std::vector<std::string> all(argv, argv + argc);
  std::vector<std::string> args;
  bool help = false;
  absl::Status s = ParseFlagsOrError(all, min_positional, max_positional, &args, &help);
  if (help) {
    PrintHelp(usage);
    exit(0);
  }
  if (!s.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", all.empty() ? "example" : all[0], s.message());
    exit(kExitUsage);
  }
  return args;
}

Options OptionsFromFlags(absl::string_view fsname) {
  Options options;
  options.entry_timeout = absl::GetFlag(FLAGS_entry_timeout);
  options.attr_timeout = absl::GetFlag(FLAGS_attr_timeout);
  options.mount.fsname = std::string(fsname);
  options.mount.subtype = std::string(fsname);
  options.mount.allow_other = absl::GetFlag(FLAGS_allow_other);
  options.mount.read_only = absl::GetFlag(FLAGS_read_only);
  options.mount.raw_options = absl::GetFlag(FLAGS_o);
  options.mount.read_ahead_kb = absl::GetFlag(FLAGS_read_ahead_kb);
  options.server.debug = absl::GetFlag(FLAGS_debug);
  options.server.workers = absl::GetFlag(FLAGS_threads);
  options.server.spin_us = absl::GetFlag(FLAGS_spin_us);
  options.server.clone_fd = absl::GetFlag(FLAGS_clone_fd);
  options.server.io_uring = absl::GetFlag(FLAGS_io_uring);
  options.server.init.splice_write = absl::GetFlag(FLAGS_splice);
  options.writeback_cache = absl::GetFlag(FLAGS_writeback_cache);
  options.handle_killpriv = absl::GetFlag(FLAGS_handle_killpriv);
  options.readdirplus = absl::GetFlag(FLAGS_readdirplus);
  return options;
}

absl::Status CheckMountpoint(absl::string_view path, bool must_be_empty) {
  std::string p(path);
  struct stat st;
  if (::stat(p.c_str(), &st) != 0) {
    return absl::NotFoundError(absl::StrCat("mountpoint ", p, " does not exist"));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("mountpoint ", p, " is not a directory"));
  }
  if (must_be_empty) {
    DIR* dir = ::opendir(p.c_str());
    if (dir == nullptr) {
      return absl::PermissionDeniedError(absl::StrCat("cannot list mountpoint ", p));
    }
    bool empty = true;
    while (struct dirent* e = ::readdir(dir)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") empty = false;
    }
    ::closedir(dir);
    if (!empty) {
      return absl::FailedPreconditionError(absl::StrCat("mountpoint ", p, " is not empty"));
    }
  }
  return absl::OkStatus();
}

int Serve(absl::string_view mountpoint, std::unique_ptr<Node> root, const Options& options) {
  // Before mounting, so no signal can leave a stale mount behind.
  CatchTerminationSignals();
  absl::StatusOr<std::unique_ptr<TreeMount>> mount = Mount(mountpoint, std::move(root), options);
  if (!mount.ok()) {
    absl::FPrintF(stderr, "%s: %s\n", options.mount.fsname, mount.status().message());
    return kExitUsage;
  }
  absl::FPrintF(stderr, "%s: serving %s (Ctrl-C or umount to stop)\n", options.mount.fsname,
                (*mount)->mountpoint());
  int signo = (*mount)->WaitForUnmountOrSignal();
  if (signo != 0) absl::FPrintF(stderr, "%s: signal %d: unmounted\n", options.mount.fsname, signo);
  return 0;
}

}  // namespace fusekit::examples
