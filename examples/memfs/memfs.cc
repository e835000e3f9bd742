#include "examples/memfs/memfs.h"

#include <unistd.h>

#include <cctype>
#include <limits>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace fusekit::examples {

absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text) {
  const std::string original(text);
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("bad size '", original, "': ", why));
  };
  if (text.empty()) return bad("empty");
  uint64_t bytes = 0;
  if (text.back() == '%') {
    uint64_t percent = 0;
    if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &percent) || percent == 0 ||
        percent > 100) {
      return bad("a percentage of RAM is 1% to 100%");
    }
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0) return bad("cannot tell how much RAM there is");
    bytes = static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size) / 100 * percent;
  } else {
    int shift = 0;
    const char suffix = absl::ascii_tolower(static_cast<unsigned char>(text.back()));
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text.back()))) {
      const char* const kSuffixes = "kmgtpe";
      const char* at = strchr(kSuffixes, suffix);
      if (at == nullptr || suffix == '\0') return bad("use a number with k, m, g, t, p or e, or N%");
      shift = 10 * static_cast<int>(at - kSuffixes + 1);
      text.remove_suffix(1);
    }
    uint64_t n = 0;
    if (!absl::SimpleAtoi(text, &n) || text.empty() || !absl::ascii_isdigit(text[0])) {
      return bad("use a number with k, m, g, t, p or e, or N%");
    }
    if (n > (std::numeric_limits<uint64_t>::max() >> shift)) return bad("too large");
    bytes = n << shift;
  }
  constexpr uint64_t kPage = MemStore::kPageSize;
  if (bytes > std::numeric_limits<uint64_t>::max() - kPage) return bad("too large");
  return (bytes + kPage - 1) / kPage * kPage;
}

MemFsOptions MemfsLimits(uint64_t max_bytes, uint64_t max_inodes) {
  MemFsOptions limits;
  limits.max_bytes = max_bytes;
  limits.max_inodes = max_inodes != 0 ? max_inodes : max_bytes / MemStore::kPageSize;
  limits.no_opendir = true;
  return limits;
}

Options MemfsOptions(Options options, bool posix_locks) {
  options.server.init.want |= posix_locks ? kMemLockCapabilities : abi::kInitFlockLocks;
  options.mount.default_permissions = true;
  if (options.server.workers == 0) {
    options.server.workers = std::max(4, static_cast<int>(std::thread::hardware_concurrency()));
  }
  return options;
}

}  // namespace fusekit::examples
