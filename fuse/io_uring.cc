#include "fuse/io_uring.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace fusekit {
namespace {

constexpr size_t kSqeSize = 128;  // IORING_SETUP_SQE128

template <typename T>
T* At(void* base, uint32_t offset) {
  return reinterpret_cast<T*>(static_cast<char*>(base) + offset);
}

uint32_t LoadAcquire(const uint32_t* p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

void StoreRelease(uint32_t* p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

}  // namespace

IoUring::~IoUring() {
  if (sqes_) ::munmap(sqes_, sqes_size_);
  if (cq_map_ && cq_map_ != sq_map_) ::munmap(cq_map_, cq_map_size_);
  if (sq_map_) ::munmap(sq_map_, sq_map_size_);
}

Errno IoUring::Init(unsigned entries) {
  struct io_uring_params params;
  std::memset(&params, 0, sizeof(params));
  params.flags = IORING_SETUP_SQE128;
  int fd = static_cast<int>(::syscall(__NR_io_uring_setup, entries, &params));
  if (fd < 0) return Errno::Last();
  fd_.reset(fd);

  sq_map_size_ = params.sq_off.array + params.sq_entries * sizeof(uint32_t);
  cq_map_size_ = params.cq_off.cqes + params.cq_entries * sizeof(struct io_uring_cqe);
  const bool single = (params.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single) sq_map_size_ = cq_map_size_ = std::max(sq_map_size_, cq_map_size_);
  void* sq = ::mmap(nullptr, sq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                    fd, IORING_OFF_SQ_RING);
  if (sq == MAP_FAILED) return Errno::Last();
  sq_map_ = sq;
  if (single) {
    cq_map_ = sq_map_;
  } else {
    void* cq = ::mmap(nullptr, cq_map_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
                      fd, IORING_OFF_CQ_RING);
    if (cq == MAP_FAILED) return Errno::Last();
    cq_map_ = cq;
  }
  sqes_size_ = params.sq_entries * kSqeSize;
  void* sqes = ::mmap(nullptr, sqes_size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                      IORING_OFF_SQES);
  if (sqes == MAP_FAILED) return Errno::Last();
  sqes_ = sqes;

  sq_head_ = At<uint32_t>(sq_map_, params.sq_off.head);
  sq_tail_ = At<uint32_t>(sq_map_, params.sq_off.tail);
  sq_mask_ = *At<uint32_t>(sq_map_, params.sq_off.ring_mask);
  sq_entries_ = params.sq_entries;
  sq_array_ = At<uint32_t>(sq_map_, params.sq_off.array);
  cq_head_ = At<uint32_t>(cq_map_, params.cq_off.head);
  cq_tail_ = At<uint32_t>(cq_map_, params.cq_off.tail);
  cq_mask_ = *At<uint32_t>(cq_map_, params.cq_off.ring_mask);
  cqes_ = At<const struct io_uring_cqe>(cq_map_, params.cq_off.cqes);
  return kOk;
}

struct io_uring_sqe* IoUring::NextSqe() {
  const uint32_t tail = *sq_tail_;
  if (tail - LoadAcquire(sq_head_) >= sq_entries_) return nullptr;
  const uint32_t index = tail & sq_mask_;
  auto* sqe = reinterpret_cast<struct io_uring_sqe*>(static_cast<char*>(sqes_) +
                                                     static_cast<size_t>(index) * kSqeSize);
  std::memset(sqe, 0, kSqeSize);
  sq_array_[index] = index;
  // Published before the kernel may look, i.e. before the next Enter().
  StoreRelease(sq_tail_, tail + 1);
  ++queued_;
  return sqe;
}

Errno IoUring::Enter(bool wait) {
  for (;;) {
    const unsigned flags = wait ? IORING_ENTER_GETEVENTS : 0;
    long n = ::syscall(__NR_io_uring_enter, fd_.get(), queued_, wait ? 1 : 0, flags, nullptr, 0);
    if (n >= 0) {
      // What was not taken stays queued for the next call; a wait cut
      // short shows as no completion yet (the caller asks again).
      queued_ -= std::min<uint32_t>(queued_, static_cast<uint32_t>(n));
      return kOk;
    }
    if (errno == EINTR) continue;
    return Errno::Last();
  }
}

const struct io_uring_cqe* IoUring::PeekCqe() const {
  const uint32_t head = *cq_head_;
  if (head == LoadAcquire(cq_tail_)) return nullptr;
  return &cqes_[head & cq_mask_];
}

void IoUring::PopCqe() { StoreRelease(cq_head_, *cq_head_ + 1); }

}  // namespace fusekit
