// Cases on file data (to be filled).
#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

TEST_P(PosixTest, CreateWriteReadBack) {
  ASSERT_TRUE(posix::WriteFile(Path("f"), "hello"));
  EXPECT_EQ(posix::ReadFile(Path("f")), "hello");
  EXPECT_EQ(posix::LStat(Path("f")).st_size, 5);
}

}  // namespace
}  // namespace fusekit
