// Deterministic pseudo-random bytes for data tests: a seed names a pattern,
// so a file's expected content is known without keeping a copy around, and
// a block written at the wrong offset or twice shows as a mismatch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fusekit {

// `size` bytes from a linear congruential sequence started at `seed`.
inline std::string Pattern(size_t size, uint32_t seed) {
  std::string s(size, '\0');
  uint32_t x = seed;
  for (char& c : s) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  return s;
}

}  // namespace fusekit
