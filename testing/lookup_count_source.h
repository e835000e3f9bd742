// LookupCountSource: how a filesystem tells the fake kernel its lookup
// counts, so the two sets of books can be compared.
//
// Every successful entry reply (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE,
// TMPFILE, and each READDIRPLUS entry other than "." and "..") adds one to
// the kernel's count for that node id; FORGET and BATCH_FORGET take counts
// away. A filesystem that keeps its own count wrong either leaks nodes (never
// frees them) or frees them while the kernel still uses the id. FakeKernel's
// audit (FakeKernel::LookupCountMismatches) finds both.
#pragma once

#include <cstdint>
#include <map>

namespace fusekit {

// Implemented by a filesystem under test (typically next to RawFileSystem:
// `class MyFs : public RawFileSystem, public LookupCountSource`). FakeKernel
// finds it by dynamic_cast, or takes it from FakeKernelOptions.
class LookupCountSource {
 public:
  virtual ~LookupCountSource() = default;

  // Node id -> the lookup count the filesystem holds for it. Node ids whose
  // count is 0 may be left out; the root (node id 1) is ignored. Called from
  // the test's thread while the filesystem may be serving requests: must be
  // safe for concurrent use with the filesystem's handlers.
  virtual std::map<uint64_t, uint64_t> LookupCounts() = 0;
};

}  // namespace fusekit
