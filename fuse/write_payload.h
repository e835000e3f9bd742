// WritePayload: the data of one WRITE request, wherever it sits.
//
// With ServerOptions::splice_read a worker takes requests off /dev/fuse with
// splice(2) into its own pipe and reads only the header and fuse_write_in
// out of it: the data stays in the pipe, as references to the writer's
// pages, until the filesystem says where it goes. SpliceTo() then moves it
// to a file without it ever being copied into the daemon; Materialize()
// reads it into memory for code that wants bytes. Without splice_read (or
// on the fake kernel's socket) the data is already in memory and the same
// calls work on it, so a filesystem writes one code path for both.
//
// The bytes form a stream: SpliceTo() and Materialize() take from its
// front, and size() is what is left. A payload lives only during the
// handler call it is passed to (RawFileSystem::WriteBuf); whatever the
// handler leaves is discarded by the worker before it takes the next
// request, so the pipe is always empty when the kernel fills it again.
// Not thread-safe: one handler uses it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "fuse/errno.h"

namespace fusekit {

class WritePayload {
 public:
  // Data already in memory (read(2) transport, the fake kernel, tests). It
  // must stay valid while the payload is used.
  explicit WritePayload(absl::Span<const uint8_t> data) : memory_(data), size_(data.size()) {}
  // `size` bytes at the front of the pipe whose read end is `pipe_fd`.
  // Materialize() reads them into `buffer`, which must have room for
  // `size` bytes and outlive the payload. The pipe is not owned.
  WritePayload(int pipe_fd, size_t size, uint8_t* buffer)
      : pipe_fd_(pipe_fd), buffer_(buffer), size_(size) {}
  // Discards what is left, so a forgotten payload never stays in the pipe.
  ~WritePayload() { Discard(); }
  WritePayload(const WritePayload&) = delete;
  WritePayload& operator=(const WritePayload&) = delete;

  // Bytes not yet taken.
  size_t size() const { return size_; }
  // True while the bytes left are in a pipe: SpliceTo() moves them without
  // a copy. False once materialized, or for a payload made in memory.
  bool in_pipe() const { return pipe_fd_ >= 0 && size_ > 0; }

  // Writes the bytes left to `fd` at `offset` (at its file position, as
  // write(2), when `offset` is negative) and takes what was written off the
  // front; *written counts the bytes that reached `fd` (also on error).
  // From a pipe this is splice(2) (for a destination that must wait, a
  // socket or pipe, it waits until it can take more); from memory,
  // pwrite(2)/write(2). Returns kOk once everything is written, else the
  // errno that stopped it, with the bytes not written still in the payload:
  // a caller can fall back to Materialize() and write them itself. Errors a
  // fallback should expect from splice: EINVAL (a file opened with
  // O_APPEND, or one whose filesystem cannot splice), EBADF/ESPIPE for an
  // unsuitable fd. EIO: the pipe held less than announced (a bug); the
  // payload is then empty.
  Errno SpliceTo(int fd, off_t offset, size_t* written);

  // The bytes left, in memory: read out of the pipe on the first call (into
  // the buffer given at construction), as they are for an in-memory
  // payload. Valid while the payload lives; taking them consumes nothing
  // (size() stays), but the pipe is empty afterwards. EIO: the pipe held
  // less than announced; *data is then empty.
  Errno Materialize(absl::Span<const uint8_t>* data);

  // Drops the bytes left (reading them out of the pipe). False when the
  // pipe did not give them all: it is then out of step with the requests
  // and must be replaced.
  bool Discard();

 private:
  // Reads `size_` bytes out of the pipe into buffer_.
  bool ReadOut();

  int pipe_fd_ = -1;  // -1: the bytes (if any) are in memory_
  uint8_t* buffer_ = nullptr;
  absl::Span<const uint8_t> memory_;  // the bytes left, when in memory
  size_t size_ = 0;
  bool broken_ = false;  // the pipe gave fewer bytes than announced
};

}  // namespace fusekit
