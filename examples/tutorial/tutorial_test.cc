// The last step of docs/tutorial.md: the step-3 filesystem tested through
// the fake kernel. No mount, no root: the filesystem is served over the real
// wire protocol to an in-process stand-in for the kernel.
#include <fcntl.h>
#include <sys/stat.h>

#include "examples/tutorial/step3_fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace {

using ::fusekit::FailsWith;
using ::fusekit::IsOk;
using ::fusekit::IsOkAndHolds;
using ::testing::ElementsAre;
using ::testing::Field;

TEST(TutorialTest, HelloTxtCanBeListedStatedAndRead) {
  fusekit::NodefsFakeKernel fs(std::make_unique<tutorial::Root>());

  EXPECT_THAT(fs.vfs().ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
  EXPECT_THAT(fs.vfs().Stat("/hello.txt"),
              IsOkAndHolds(Field(&stat::st_mode, S_IFREG | 0444)));
  EXPECT_THAT(fs.vfs().ReadFile("/hello.txt"), IsOkAndHolds("Hello, world!\n"));
  EXPECT_THAT(fs.vfs().Stat("/missing.txt"), FailsWith(ENOENT));
}

TEST(TutorialTest, NothingCanBeChanged) {
  fusekit::NodefsFakeKernel fs(std::make_unique<tutorial::Root>());

  EXPECT_THAT(fs.vfs().Mkdir("/newdir", 0755), FailsWith(EROFS));
  EXPECT_THAT(fs.vfs().Open("/hello.txt", O_WRONLY, 0), FailsWith(EROFS));
  EXPECT_THAT(fs.vfs().Unlink("/hello.txt"), FailsWith(EROFS));
}

}  // namespace
