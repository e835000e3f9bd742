// Cases on the namespace and metadata (to be filled).
#include <sys/stat.h>

#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

TEST_P(PosixTest, MkdirRmdir) {
  ASSERT_EQ(::mkdir(Path("d").c_str(), 0755), 0);
  EXPECT_TRUE(S_ISDIR(posix::LStat(Path("d")).st_mode));
  ASSERT_EQ(::rmdir(Path("d").c_str()), 0);
  EXPECT_FALSE(posix::Exists(Path("d")));
}

}  // namespace
}  // namespace fusekit
