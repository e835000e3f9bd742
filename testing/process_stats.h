// What a memory test needs to know about its own process: the resident set
// size, and whether a sanitizer runtime makes that figure meaningless (ASan
// quarantines freed memory and TSan shadows it, so RSS bounds are asserted
// only in plain builds).
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace fusekit {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kRssDistortedBySanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kRssDistortedBySanitizer = true;
#else
inline constexpr bool kRssDistortedBySanitizer = false;
#endif
#else
inline constexpr bool kRssDistortedBySanitizer = false;
#endif

// VmRSS of this process in KiB, or -1 if /proc says nothing.
inline int64_t ResidentKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace fusekit
