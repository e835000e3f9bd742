// IoUring: the least of io_uring(7) that FUSE over io-uring needs, on raw
// system calls (no liburing): one ring with 128-byte SQEs, owned and used by
// one thread. Not thread-safe.
#pragma once

#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>

#include "fuse/errno.h"
#include "fuse/scoped_fd.h"

namespace fusekit {

class IoUring {
 public:
  IoUring() = default;
  ~IoUring();
  IoUring(const IoUring&) = delete;
  IoUring& operator=(const IoUring&) = delete;

  // Sets up a ring of `entries` SQEs (IORING_SETUP_SQE128: URING_CMD needs
  // the 80-byte command area) and maps it.
  Errno Init(unsigned entries);

  // The next free SQE, zeroed (128 bytes), or null when all are queued.
  // It is submitted by the next Enter().
  struct io_uring_sqe* NextSqe();

  // Submits the queued SQEs and, with `wait`, waits until at least one
  // completion is there. EINTR is retried.
  Errno Enter(bool wait);

  // The oldest completion not yet consumed, or null; Pop() consumes it.
  const struct io_uring_cqe* PeekCqe() const;
  void PopCqe();

 private:
  ScopedFd fd_;
  void* sq_map_ = nullptr;
  size_t sq_map_size_ = 0;
  void* cq_map_ = nullptr;  // == sq_map_ with IORING_FEAT_SINGLE_MMAP
  size_t cq_map_size_ = 0;
  void* sqes_ = nullptr;
  size_t sqes_size_ = 0;

  uint32_t* sq_tail_ = nullptr;
  const uint32_t* sq_head_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t sq_entries_ = 0;
  uint32_t* sq_array_ = nullptr;
  uint32_t* cq_head_ = nullptr;
  const uint32_t* cq_tail_ = nullptr;
  uint32_t cq_mask_ = 0;
  const struct io_uring_cqe* cqes_ = nullptr;

  uint32_t queued_ = 0;  // SQEs filled in but not yet passed to the kernel
};

}  // namespace fusekit
