// AlignedBuffer: a reusable heap buffer placed so that one chosen offset in
// it falls on a page boundary.
//
// Where file data is copied between the kernel and the daemon (a READ's
// data pread into a buffer, a WRITE's data read(2) off /dev/fuse and then
// pwritten), the kernel's copy runs several times faster on some machines
// when the user-space side starts on a page boundary than at malloc's
// 16-byte offset: 1.2 against 6 GB/s for 1 MiB preads from tmpfs on the
// benchmark VM (finding 15 in docs/PERFORMANCE.md). A request buffer uses
// the offset to put a WRITE's data, which follows a header and its
// arguments, on the boundary.
// Not thread-safe: one owner at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "fuse/page_size.h"

namespace fusekit {

class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // `size` usable bytes, with data() + `aligned_at` on a page boundary
  // (`aligned_at` is taken modulo the page size).
  explicit AlignedBuffer(size_t size, size_t aligned_at = 0) { Reset(size, aligned_at); }

  // At least `size` bytes, keeping the placement: reallocates (dropping the
  // contents) only when the buffer is smaller.
  uint8_t* Reserve(size_t size) {
    if (size > size_) Reset(size, aligned_at_);
    return data_;
  }
  // Reallocates to exactly this size and placement; the contents go.
  void Reset(size_t size, size_t aligned_at) {
    const size_t page = PageSize();
    aligned_at_ = aligned_at % page;
    const size_t lead = (page - aligned_at_) % page;
    // aligned_alloc wants a multiple of the alignment.
    const size_t bytes = (lead + size + page - 1) / page * page;
    memory_.reset(static_cast<uint8_t*>(std::aligned_alloc(page, bytes == 0 ? page : bytes)));
    if (memory_ == nullptr) std::abort();  // out of memory, as new would (no exceptions)
    data_ = memory_.get() + lead;
    size_ = size;
  }

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> memory_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t aligned_at_ = 0;
};

}  // namespace fusekit
