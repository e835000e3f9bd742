// PageSize(): the kernel's page size, asked once.
//
// FUSE counts max_pages in it, a pipe buffer holds at most one, and the
// data path aligns buffers to it. It is 4 KiB on x86-64 but 16 or 64 KiB on
// some arm64 and ppc64 kernels, so it is asked of the system, not assumed.
#pragma once

#include <unistd.h>

#include <cstddef>

namespace fusekit {

inline size_t PageSize() {
  static const size_t size = [] {
    long n = ::sysconf(_SC_PAGESIZE);
    return n > 0 ? static_cast<size_t>(n) : size_t{4096};
  }();
  return size;
}

}  // namespace fusekit
