#include "fuse/mount_options.h"

#include <sys/mount.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace fusekit {
namespace {

// fusermount3 starts from these and so do we, so that both paths give the
// same mount for the same options.
constexpr unsigned long kDefaultFlags = MS_NOSUID | MS_NODEV;

// A mount(8)-style flag option: sets or clears `flag`, and clears `exclusive`
// (atime modes replace each other rather than combine).
struct FlagOption {
  absl::string_view name;
  unsigned long flag;
  bool set;
  unsigned long exclusive;
};

constexpr FlagOption kFlagOptions[] = {
    {"ro", MS_RDONLY, true, 0},
    {"rw", MS_RDONLY, false, 0},
    {"nosuid", MS_NOSUID, true, 0},
    {"suid", MS_NOSUID, false, 0},
    {"nodev", MS_NODEV, true, 0},
    {"dev", MS_NODEV, false, 0},
    {"noexec", MS_NOEXEC, true, 0},
    {"exec", MS_NOEXEC, false, 0},
    {"sync", MS_SYNCHRONOUS, true, 0},
    {"async", MS_SYNCHRONOUS, false, 0},
    {"dirsync", MS_DIRSYNC, true, 0},
    {"noatime", MS_NOATIME, true, MS_RELATIME},
    {"atime", MS_NOATIME, false, 0},
    {"relatime", MS_RELATIME, true, MS_NOATIME},
};

absl::Status ValidateFsname(absl::string_view value) {
  if (value.empty()) {
    return absl::InvalidArgumentError("fsname must not be empty");
  }
  for (char c : value) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (c == ',' || c == '\\') {
      return absl::InvalidArgumentError(absl::StrCat(
          "fsname \"", value, "\" contains '", absl::string_view(&c, 1),
          "', which would break the mount option string"));
    }
    if (u <= 0x20 || u == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("fsname \"", absl::CEscape(value),
                       "\" contains whitespace or a control character"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateSubtype(absl::string_view value) {
  // Empty is fine for the field (plain "fuse"); "subtype=" is caught by the
  // raw option parser, which requires a value.
  for (char c : value) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-' && c != '+' && c != '.') {
      return absl::InvalidArgumentError(absl::StrCat(
          "subtype \"", absl::CEscape(value),
          "\" may only hold letters, digits and _ - + . (it becomes part of "
          "the filesystem type fuse.<subtype>)"));
    }
  }
  return absl::OkStatus();
}

bool IsAllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<ParsedMountOptions> ParseMountOptions(
    const MountOptions& options) {
  std::string fsname = options.fsname;
  std::string subtype = options.subtype;
  bool allow_other = options.allow_other;
  bool default_permissions = options.default_permissions;
  uint32_t max_read = options.max_read;
  unsigned long flags = kDefaultFlags;
  if (options.read_only) flags |= MS_RDONLY;

  for (const std::string& raw : options.raw_options) {
    for (absl::string_view option : absl::StrSplit(raw, ',')) {
      if (option.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("empty mount option in \"", raw, "\""));
      }
      const size_t eq = option.find('=');
      const bool has_value = eq != absl::string_view::npos;
      const absl::string_view name = option.substr(0, eq);
      const absl::string_view value =
          has_value ? option.substr(eq + 1) : absl::string_view();

      bool is_flag = false;
      for (const FlagOption& f : kFlagOptions) {
        if (f.name != name) continue;
        if (has_value) {
          return absl::InvalidArgumentError(
              absl::StrCat("mount option \"", option, "\" takes no value"));
        }
        flags = f.set ? (flags | f.flag) : (flags & ~f.flag);
        flags &= ~f.exclusive;
        is_flag = true;
        break;
      }
      if (is_flag) continue;

      if (name == "allow_other" || name == "default_permissions") {
        if (has_value) {
          return absl::InvalidArgumentError(
              absl::StrCat("mount option \"", option, "\" takes no value"));
        }
        (name == "allow_other" ? allow_other : default_permissions) = true;
      } else if (name == "fsname" || name == "subtype" || name == "max_read") {
        if (!has_value || value.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "mount option \"", option, "\" needs a value (", name, "=...)"));
        }
        if (name == "fsname") {
          fsname = std::string(value);
        } else if (name == "subtype") {
          subtype = std::string(value);
        } else if (!IsAllDigits(value) || !absl::SimpleAtoi(value, &max_read)) {
          return absl::InvalidArgumentError(
              absl::StrCat("mount option \"", option,
                           "\": value is not an unsigned 32-bit integer"));
        }
      } else if (name == "fd" || name == "rootmode" || name == "user_id" ||
                 name == "group_id") {
        return absl::InvalidArgumentError(absl::StrCat(
            "mount option \"", option, "\" is set by fusekit itself"));
      } else if (name == "blksize") {
        return absl::InvalidArgumentError(absl::StrCat(
            "mount option \"", option,
            "\" applies only to fuseblk (block device) mounts, which fusekit "
            "does not make"));
      } else if (name == "allow_root") {
        // libfuse implements allow_root as allow_other plus a uid check in
        // the server; accepting it without that check would open the mount
        // to every user.
        return absl::InvalidArgumentError(absl::StrCat(
            "mount option \"", option,
            "\" is not supported (it needs a per-request uid check fusekit "
            "does not do); use allow_other"));
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown mount option \"", option, "\""));
      }
    }
  }

  if (absl::Status s = ValidateFsname(fsname); !s.ok()) return s;
  if (absl::Status s = ValidateSubtype(subtype); !s.ok()) return s;

  if (options.read_ahead_kb > (1u << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "read_ahead_kb ", options.read_ahead_kb, " is over the limit of 1048576 (1 GiB)"));
  }
  ParsedMountOptions parsed;
  parsed.source = fsname;
  parsed.subtype = subtype;
  parsed.fs_type = subtype.empty() ? "fuse" : absl::StrCat("fuse.", subtype);
  parsed.mount_flags = flags;
  parsed.allow_other = allow_other;
  parsed.default_permissions = default_permissions;
  parsed.max_read = max_read;

  std::vector<std::string> kernel;
  if (allow_other) kernel.push_back("allow_other");
  if (default_permissions) kernel.push_back("default_permissions");
  if (max_read != 0) kernel.push_back(absl::StrCat("max_read=", max_read));
  parsed.kernel_data = absl::StrJoin(kernel, ",");

  // fusermount3 rebuilds the flags from names, starting from nosuid,nodev,rw;
  // name only what differs. relatime and atime are the kernel's default when
  // noatime is absent, so they need no name.
  std::vector<std::string> fm;
  fm.push_back(absl::StrCat("fsname=", fsname));
  if (!subtype.empty()) fm.push_back(absl::StrCat("subtype=", subtype));
  fm.insert(fm.end(), kernel.begin(), kernel.end());
  if (flags & MS_RDONLY) fm.push_back("ro");
  if (!(flags & MS_NOSUID)) fm.push_back("suid");
  if (!(flags & MS_NODEV)) fm.push_back("dev");
  if (flags & MS_NOEXEC) fm.push_back("noexec");
  if (flags & MS_SYNCHRONOUS) fm.push_back("sync");
  if (flags & MS_DIRSYNC) fm.push_back("dirsync");
  if (flags & MS_NOATIME) fm.push_back("noatime");
  parsed.fusermount_options = absl::StrJoin(fm, ",");
  return parsed;
}

}  // namespace fusekit
