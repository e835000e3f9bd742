#include "fuse/errno.h"

#include <string.h>

#include "absl/strings/str_cat.h"

namespace fusekit {

absl::string_view ErrnoName(int value) {
  if (value < 0) value = -value;
  switch (value) {
    case 0: return "OK";
#define FUSEKIT_ERRNO_CASE(e) \
  case e:                     \
    return #e;
    FUSEKIT_ERRNO_CASE(EPERM)
    FUSEKIT_ERRNO_CASE(ENOENT)
    FUSEKIT_ERRNO_CASE(ESRCH)
    FUSEKIT_ERRNO_CASE(EINTR)
    FUSEKIT_ERRNO_CASE(EIO)
    FUSEKIT_ERRNO_CASE(ENXIO)
    FUSEKIT_ERRNO_CASE(E2BIG)
    FUSEKIT_ERRNO_CASE(EBADF)
    FUSEKIT_ERRNO_CASE(EAGAIN)
    FUSEKIT_ERRNO_CASE(ENOMEM)
    FUSEKIT_ERRNO_CASE(EACCES)
    FUSEKIT_ERRNO_CASE(EFAULT)
    FUSEKIT_ERRNO_CASE(EBUSY)
    FUSEKIT_ERRNO_CASE(EEXIST)
    FUSEKIT_ERRNO_CASE(EXDEV)
    FUSEKIT_ERRNO_CASE(ENODEV)
    FUSEKIT_ERRNO_CASE(ENOTDIR)
    FUSEKIT_ERRNO_CASE(EISDIR)
    FUSEKIT_ERRNO_CASE(EINVAL)
    FUSEKIT_ERRNO_CASE(ENFILE)
    FUSEKIT_ERRNO_CASE(EMFILE)
    FUSEKIT_ERRNO_CASE(ENOTTY)
    FUSEKIT_ERRNO_CASE(ETXTBSY)
    FUSEKIT_ERRNO_CASE(EFBIG)
    FUSEKIT_ERRNO_CASE(ENOSPC)
    FUSEKIT_ERRNO_CASE(ESPIPE)
    FUSEKIT_ERRNO_CASE(EROFS)
    FUSEKIT_ERRNO_CASE(EMLINK)
    FUSEKIT_ERRNO_CASE(EPIPE)
    FUSEKIT_ERRNO_CASE(ERANGE)
    FUSEKIT_ERRNO_CASE(EDEADLK)
    FUSEKIT_ERRNO_CASE(ENAMETOOLONG)
    FUSEKIT_ERRNO_CASE(ENOLCK)
    FUSEKIT_ERRNO_CASE(ENOSYS)
    FUSEKIT_ERRNO_CASE(ENOTEMPTY)
    FUSEKIT_ERRNO_CASE(ELOOP)
    FUSEKIT_ERRNO_CASE(ENODATA)
    FUSEKIT_ERRNO_CASE(EPROTO)
    FUSEKIT_ERRNO_CASE(EOVERFLOW)
    FUSEKIT_ERRNO_CASE(EOPNOTSUPP)
    FUSEKIT_ERRNO_CASE(ENOTCONN)
    FUSEKIT_ERRNO_CASE(ETIMEDOUT)
    FUSEKIT_ERRNO_CASE(ESTALE)
    FUSEKIT_ERRNO_CASE(EDQUOT)
    FUSEKIT_ERRNO_CASE(ECANCELED)
#undef FUSEKIT_ERRNO_CASE
    default: {
      // Names for the rest would need a table; a stable "E<number>" string
      // from a fixed pool keeps this function allocation-free.
      static thread_local char buf[16];
      snprintf(buf, sizeof(buf), "E%d", value);
      return buf;
    }
  }
}

std::string DescribeErrno(Errno e) {
  if (e.ok()) return "OK";
  char buf[128];
  const char* text = strerror_r(e.value(), buf, sizeof(buf));
  return absl::StrCat(ErrnoName(e), " (", text, ")");
}

}  // namespace fusekit
