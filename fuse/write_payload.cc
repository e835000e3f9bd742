#include "fuse/write_payload.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace fusekit {
namespace {

// Bytes waiting in a pipe, or -1.
ssize_t PipeFill(int pipe_fd) {
  int n = 0;
  return ::ioctl(pipe_fd, FIONREAD, &n) == 0 ? n : -1;
}

// Writes all of `data` to `fd` at `offset` (negative: its file position).
Errno WriteMemory(int fd, off_t offset, absl::Span<const uint8_t> data, size_t* written) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = offset < 0 ? ::write(fd, data.data() + done, data.size() - done)
                           : ::pwrite(fd, data.data() + done, data.size() - done,
                                      offset + static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      *written = done;
      return Errno::Last();
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  *written = done;
  return done == data.size() ? kOk : Errno(EIO);
}

}  // namespace

bool WritePayload::ReadOut() {
  size_t done = 0;
  while (done < size_) {
    // The pipe is non-blocking: a short pipe shows as EAGAIN, never a hang.
    ssize_t n = ::read(pipe_fd_, buffer_ + done, size_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

Errno WritePayload::SpliceTo(int fd, off_t offset, size_t* written) {
  *written = 0;
  if (size_ == 0) return broken_ ? Errno(EIO) : kOk;
  if (pipe_fd_ < 0) {
    Errno e = WriteMemory(fd, offset, memory_, written);
    memory_.remove_prefix(*written);
    size_ -= *written;
    return e;
  }
  loff_t at = offset;
  while (size_ > 0) {
    // No SPLICE_F_MOVE: the pages belong to the writer's page cache.
    ssize_t n = ::splice(pipe_fd_, nullptr, fd, offset < 0 ? nullptr : &at, size_, 0);
    if (n > 0) {
      *written += static_cast<size_t>(n);
      size_ -= static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      // Our pipe is non-blocking, so a full destination (a pipe, a socket)
      // says EAGAIN: wait for room, unless our pipe is what ran dry.
      int err = errno;
      ssize_t fill = PipeFill(pipe_fd_);
      if (fill >= 0 && static_cast<size_t>(fill) < size_) break;
      struct pollfd p = {fd, POLLOUT, 0};
      if (::poll(&p, 1, -1) < 0 && errno != EINTR) return Errno(err);
      continue;
    }
    if (n < 0) return Errno::Last();
    break;  // 0: the pipe is empty though bytes were announced
  }
  if (size_ == 0) return kOk;
  // The pipe holds less than the request said: nothing more can come.
  broken_ = true;
  size_ = 0;
  return Errno(EIO);
}

Errno WritePayload::Materialize(absl::Span<const uint8_t>* data) {
  if (pipe_fd_ >= 0) {
    if (size_ > 0 && !ReadOut()) {
      broken_ = true;
      size_ = 0;
    }
    memory_ = absl::MakeConstSpan(buffer_, size_);
    pipe_fd_ = -1;
  }
  *data = memory_;
  return broken_ ? Errno(EIO) : kOk;
}

bool WritePayload::Discard() {
  if (pipe_fd_ >= 0 && size_ > 0 && !ReadOut()) broken_ = true;
  memory_ = {};
  size_ = 0;
  pipe_fd_ = -1;
  return !broken_;
}

}  // namespace fusekit
