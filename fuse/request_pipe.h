// RequestPipe: a worker's pipe for taking requests off /dev/fuse with
// splice(2) (ServerOptions::splice_read), so a WRITE's data can stay in the
// pipe as a WritePayload instead of being copied into the daemon.
//
// The kernel puts a request into the pipe only whole: its header and
// arguments in one page-sized pipe buffer, each page of WRITE data as a
// buffer of its own (references to the writer's pages), and fails the
// request with EIO if the pipe has too few free buffers for it
// (fs/fuse/dev.c: fuse_dev_splice_read, fuse_copy_fill). So the pipe is
// sized for the largest request before its first use, and must be empty
// before every splice: whatever a request leaves is discarded first
// (WritePayload::Discard).
// Not thread-safe: one per worker.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "fuse/scoped_fd.h"

namespace fusekit {

// Reads exactly `size` bytes from a pipe holding at least that many (a
// non-blocking read end: false rather than wait when it holds fewer).
bool ReadExactly(int fd, uint8_t* out, size_t size);

class RequestPipe {
 public:
  RequestPipe() = default;
  RequestPipe(const RequestPipe&) = delete;
  RequestPipe& operator=(const RequestPipe&) = delete;

  // Makes the pipe, with room for any message of up to `max_message` bytes
  // (Session::BufferSize(): max_write and a page). Fails when the pipe
  // cannot be made that big: pipe sizes are powers of two pages, and above
  // /proc/sys/fs/pipe-max-size (1 MiB by default) need CAP_SYS_RESOURCE,
  // so the default max_write of 1 MiB (257 pages: a 2 MiB pipe) needs it;
  // up to 1 MiB less a page fits a 1 MiB pipe.
  absl::Status Open(size_t max_message);
  // The largest pipe this process can make, up to `want` bytes (rounded up
  // to a power of two pages); 0 if it cannot make pipes at all. Without
  // CAP_SYS_RESOURCE that is /proc/sys/fs/pipe-max-size (1 MiB by default).
  static size_t LargestCapacity(size_t want);
  bool valid() const { return read_end_.valid(); }
  int read_end() const { return read_end_.get(); }
  // The pipe's capacity in bytes.
  size_t capacity() const { return capacity_; }

  // Moves one message from `channel_fd` into the (empty) pipe, as read(2)
  // would read it: returns its size, 0 at end of file, or -1 with errno.
  // `max_message` must be what read(2) would be given (the kernel refuses
  // less than its minimum with EINVAL).
  ssize_t SpliceFrom(int channel_fd, size_t max_message);

  // What Take() left where.
  struct Taken {
    size_t in_buffer = 0;  // bytes of the message now at the front of the buffer
    size_t in_pipe = 0;    // bytes still in the pipe: a WRITE's data
  };
  // Takes the `size`-byte message just spliced out of the pipe into
  // `buffer` (`capacity` bytes): all of it, except that a well-formed WRITE
  // (`write_arg_size`: its fuse_write_in's size at the negotiated protocol)
  // leaves its data in the pipe. False when the pipe held less than that
  // (it must then be replaced with Open()).
  bool Take(size_t size, uint8_t* buffer, size_t capacity, size_t write_arg_size, Taken* taken);

 private:
  ScopedFd read_end_;
  ScopedFd write_end_;
  size_t capacity_ = 0;
};

}  // namespace fusekit
