// The suite on the kernel's own tmpfs: the reference every fusekit
// filesystem is held to. A case that fails here is a wrong case.
#include "testing/posix/posix_suite.h"

namespace fusekit {
namespace {

INSTANTIATE_POSIX_SUITE(Kernel, TmpfsTarget());

}  // namespace
}  // namespace fusekit
