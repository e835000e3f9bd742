// Keeps docs/tutorial.md true: every code block it shows under a
// "<!-- file: PATH -->" marker must appear verbatim in PATH, and each step's
// binary must do on a real mount what the tutorial says it does (SKIPPED
// where mounting is impossible).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "examples/common/example_process.h"
#include "fuse/mount.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/mount_fixture.h"

namespace {

using ::fusekit::examples::ExampleExit;
using ::fusekit::examples::ExampleProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(TutorialDocTest, CodeBlocksMatchTheSources) {
  const std::string doc = ReadFile("docs/tutorial.md");
  ASSERT_FALSE(doc.empty()) << "docs/tutorial.md is missing from the runfiles";
  int checked = 0;
  size_t at = 0;
  const std::string marker = "<!-- file: ";
  while ((at = doc.find(marker, at)) != std::string::npos) {
    size_t end = doc.find(" -->", at);
    ASSERT_NE(end, std::string::npos);
    const std::string path = doc.substr(at + marker.size(), end - at - marker.size());
    size_t open = doc.find("```", end);
    ASSERT_NE(open, std::string::npos) << path;
    size_t body = doc.find('\n', open) + 1;
    size_t close = doc.find("\n```", body);
    ASSERT_NE(close, std::string::npos) << path;
    const std::string block = doc.substr(body, close - body + 1);
    const std::string source = ReadFile(path);
    ASSERT_FALSE(source.empty()) << path << " is not in the test's data";
    EXPECT_TRUE(absl::StrContains(source, block))
        << "docs/tutorial.md shows a block of " << path << " that the file does not hold:\n"
        << block;
    ++checked;
    at = close;
  }
  EXPECT_GE(checked, 5);
}

// ---- The steps on real mounts ---------------------------------------------

class TutorialMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string reason = fusekit::MountUnavailableReason();
    if (!reason.empty()) GTEST_SKIP() << reason;
    mountpoint_ = fusekit::examples::MakeTempDir("tutorial");
    ASSERT_FALSE(mountpoint_.empty());
  }
  void TearDown() override {
    process_.reset();
    if (mountpoint_.empty()) return;
    EXPECT_TRUE(fusekit::UnmountPath(mountpoint_).ok());
    rmdir(mountpoint_.c_str());
  }
  // Starts examples/tutorial/`step` on the mountpoint; false if it never
  // mounted.
  bool Start(const std::string& step) {
    process_ = std::make_unique<ExampleProcess>(absl::StrCat("examples/tutorial/", step),
                                                std::vector<std::string>{mountpoint_});
    return process_->WaitForMount(mountpoint_);
  }
  // Ctrl-C, as the tutorial says: unmounts and exits 0.
  void Stop() {
    ExampleExit exit = process_->Stop(SIGINT);
    EXPECT_TRUE(exit.exited && exit.code == 0) << exit.stderr_text;
    EXPECT_FALSE(fusekit::IsFuseMountPoint(mountpoint_));
  }
  std::vector<std::string> Ls() {
    std::vector<std::string> names;
    DIR* dir = opendir(mountpoint_.c_str());
    if (dir == nullptr) return {"<opendir failed>"};
    while (struct dirent* e = readdir(dir)) names.push_back(e->d_name);
    closedir(dir);
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string mountpoint_;
  std::unique_ptr<ExampleProcess> process_;
};

TEST_F(TutorialMountTest, Step1IsAnEmptyDirectoryThatRefusesChanges) {
  ASSERT_TRUE(Start("step1"));
  EXPECT_THAT(Ls(), ::testing::ElementsAre(".", ".."));
  struct stat st;
  ASSERT_EQ(stat(mountpoint_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0755u);  // fusekit's default
  EXPECT_EQ(st.st_mtim.tv_sec, 0);         // 1970: step 2 fixes that
  errno = 0;
  EXPECT_NE(mkdir((mountpoint_ + "/newdir").c_str(), 0755), 0);
  EXPECT_EQ(errno, EROFS);
  errno = 0;
  EXPECT_LT(open((mountpoint_ + "/new.txt").c_str(), O_CREAT | O_WRONLY, 0644), 0);
  EXPECT_EQ(errno, EROFS);
  Stop();
}

TEST_F(TutorialMountTest, Step2StatsTheRoot) {
  const time_t before = time(nullptr);
  ASSERT_TRUE(Start("step2"));
  struct stat st;
  ASSERT_EQ(stat(mountpoint_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFDIR | 0555u);
  EXPECT_GE(st.st_mtim.tv_sec, before);
  EXPECT_LE(st.st_mtim.tv_sec, time(nullptr));
  Stop();
}

TEST_F(TutorialMountTest, Step3HasAFileYouCanCat) {
  ASSERT_TRUE(Start("step3"));
  EXPECT_THAT(Ls(), ::testing::ElementsAre(".", "..", "hello.txt"));
  std::string content = ReadFile(mountpoint_ + "/hello.txt");
  EXPECT_EQ(content, "Hello, world!\n");
  struct stat st;
  ASSERT_EQ(stat((mountpoint_ + "/hello.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode, S_IFREG | 0444u);
  EXPECT_EQ(st.st_size, 14);
  Stop();
}

TEST(TutorialArgsTest, NoMountpointIsUsage) {
  for (const char* step : {"step1", "step2", "step3"}) {
    ExampleExit exit = fusekit::examples::RunExample(absl::StrCat("examples/tutorial/", step), {});
    EXPECT_TRUE(exit.exited && exit.code == 2) << step;
    EXPECT_EQ(exit.stderr_text, absl::StrCat("usage: ", step, " MOUNTPOINT\n"));
  }
}

}  // namespace
