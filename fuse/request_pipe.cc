#include "fuse/request_pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"
#include "fuse/page_size.h"

namespace fusekit {

size_t RequestPipe::LargestCapacity(size_t want) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return 0;
  ScopedFd read_end(fds[0]), write_end(fds[1]);
  size_t bytes = PageSize();
  while (bytes < want) bytes *= 2;
  for (; bytes > PageSize(); bytes /= 2) {
    if (::fcntl(write_end.get(), F_SETPIPE_SZ, static_cast<int>(bytes)) >= 0) return bytes;
  }
  int size = ::fcntl(write_end.get(), F_GETPIPE_SZ);
  return size > 0 ? static_cast<size_t>(size) : 0;
}

bool ReadExactly(int fd, uint8_t* out, size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, out, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

absl::Status RequestPipe::Open(size_t max_message) {
  read_end_.reset();
  write_end_.reset();
  capacity_ = 0;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    return absl::ResourceExhaustedError(
        absl::StrCat("pipe2: ", DescribeErrno(Errno::Last())));
  }
  read_end_.reset(fds[0]);
  write_end_.reset(fds[1]);
  // Every pipe buffer holds at most a page. A WRITE's header and arguments
  // take one, its data one per page it touches: at most max_pages, since
  // the kernel ends a WRITE early rather than let unaligned data touch
  // more (fs/fuse/file.c: fuse_fill_write_pages). Copied arguments (a
  // SETXATTR value, direct-I/O data) are packed into whole pages. So a
  // message of up to max_write + a page fits in that many pages rounded up.
  const size_t page = PageSize();
  size_t need = (max_message + page - 1) / page * page;
  int size = ::fcntl(write_end_.get(), F_GETPIPE_SZ);
  if (size < 0 || static_cast<size_t>(size) < need) {
    size = ::fcntl(write_end_.get(), F_SETPIPE_SZ, static_cast<int>(need));
  }
  if (size < 0 || static_cast<size_t>(size) < need) {
    Errno e = size < 0 ? Errno::Last() : Errno(ENOSPC);
    read_end_.reset();
    write_end_.reset();
    // Pipes come in powers of two pages: say what would really be asked.
    size_t pipe_bytes = page;
    while (pipe_bytes < need) pipe_bytes *= 2;
    return absl::ResourceExhaustedError(absl::StrCat(
        "requests of up to ", max_message, " bytes need a pipe of ", pipe_bytes,
        " bytes: F_SETPIPE_SZ ", DescribeErrno(e),
        " (above /proc/sys/fs/pipe-max-size only with CAP_SYS_RESOURCE; a max_write of "
        "pipe-max-size less a page fits)"));
  }
  capacity_ = static_cast<size_t>(size);
  return absl::OkStatus();
}

ssize_t RequestPipe::SpliceFrom(int channel_fd, size_t max_message) {
  // The pipe is non-blocking; the channel's own mode decides whether this
  // waits for a request.
  return ::splice(channel_fd, nullptr, write_end_.get(), nullptr, max_message, 0);
}

bool RequestPipe::Take(size_t size, uint8_t* buffer, size_t capacity, size_t write_arg_size,
                       Taken* taken) {
  *taken = Taken();
  if (size > capacity) return false;  // cannot happen: spliced with at most `capacity`
  constexpr size_t kHeader = sizeof(abi::fuse_in_header);
  if (size < kHeader + write_arg_size) {
    // Not a WRITE with its arguments (or malformed: the decoder says so).
    if (!ReadExactly(read_end(), buffer, size)) return false;
    taken->in_buffer = size;
    return true;
  }
  if (!ReadExactly(read_end(), buffer, kHeader)) return false;
  abi::fuse_in_header h;
  std::memcpy(&h, buffer, sizeof(h));
  size_t head = kHeader;
  if (h.opcode == static_cast<uint32_t>(abi::Opcode::kWrite) && h.total_extlen == 0 &&
      h.len == size) {
    if (!ReadExactly(read_end(), buffer + head, write_arg_size)) return false;
    head += write_arg_size;
    abi::fuse_write_in in{};
    std::memcpy(&in, buffer + kHeader, std::min(sizeof(in), write_arg_size));
    if (in.size > 0 && in.size == size - head) {
      taken->in_buffer = head;
      taken->in_pipe = in.size;
      return true;
    }
  }
  // Everything else is read whole, as read(2) would have.
  if (!ReadExactly(read_end(), buffer + head, size - head)) return false;
  taken->in_buffer = size;
  return true;
}

}  // namespace fusekit
