// The shared command line: good and bad flags, argument counts, mountpoints.
#include "examples/common/example_main.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace fusekit::examples {
namespace {

absl::Status Parse(std::vector<std::string> argv, size_t positional,
                   std::vector<std::string>* args) {
  bool help = false;
  argv.insert(argv.begin(), "example");
  return ParseFlagsOrError(argv, positional, args, &help);
}

TEST(ParseFlags, AcceptsTheCommonFlags) {
  std::vector<std::string> args;
  ASSERT_TRUE(Parse({"--debug", "--threads=3", "--entry_timeout", "5s", "-o", "ro,noatime",
                     "--noallow_other", "/mnt"},
                    1, &args)
                  .ok());
  EXPECT_EQ(args, std::vector<std::string>{"/mnt"});
  EXPECT_TRUE(absl::GetFlag(FLAGS_debug));
  EXPECT_EQ(absl::GetFlag(FLAGS_threads), 3);
  EXPECT_EQ(absl::GetFlag(FLAGS_entry_timeout), absl::Seconds(5));
  EXPECT_EQ(absl::GetFlag(FLAGS_o), (std::vector<std::string>{"ro", "noatime"}));
  Options options = OptionsFromFlags("x");
  EXPECT_EQ(options.server.workers, 3);
  EXPECT_EQ(options.entry_timeout, absl::Seconds(5));
  EXPECT_EQ(options.mount.raw_options, (std::vector<std::string>{"ro", "noatime"}));
  absl::SetFlag(&FLAGS_debug, false);
  absl::SetFlag(&FLAGS_threads, 0);
}

TEST(ParseFlags, RefusesBadInputWithAReason) {
  std::vector<std::string> args;
  absl::Status s = Parse({"--nonsense", "/mnt"}, 1, &args);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("unknown flag --nonsense"), absl::string_view::npos);
  args.clear();
  s = Parse({"--threads=many", "/mnt"}, 1, &args);
  EXPECT_NE(s.message().find("bad value 'many' for --threads"), absl::string_view::npos) << s;
  args.clear();
  s = Parse({"--entry_timeout"}, 1, &args);
  EXPECT_NE(s.message().find("needs a value"), absl::string_view::npos) << s;
  args.clear();
  s = Parse({}, 1, &args);
  EXPECT_NE(s.message().find("expected 1 argument, got 0"), absl::string_view::npos) << s;
  args.clear();
  s = Parse({"/a", "/b"}, 1, &args);
  EXPECT_NE(s.message().find("got 2"), absl::string_view::npos) << s;
  args.clear();
  EXPECT_TRUE(Parse({"--", "-dir-with-dash"}, 1, &args).ok());
  EXPECT_EQ(args, std::vector<std::string>{"-dir-with-dash"});
}

TEST(CheckMountpoint, NamesTheProblem) {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/mp.XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  EXPECT_TRUE(CheckMountpoint(dir, /*must_be_empty=*/true).ok());
  absl::Status missing = CheckMountpoint(dir + "/none");
  EXPECT_TRUE(absl::IsNotFound(missing));
  EXPECT_EQ(missing.message(), absl::StrCat("mountpoint ", dir, "/none does not exist"));
  std::string file = dir + "/f";
  close(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_EQ(CheckMountpoint(file).message(), absl::StrCat("mountpoint ", file,
                                                          " is not a directory"));
  EXPECT_EQ(CheckMountpoint(dir, true).message(), absl::StrCat("mountpoint ", dir,
                                                               " is not empty"));
  EXPECT_TRUE(CheckMountpoint(dir, false).ok());
  unlink(file.c_str());
  rmdir(dir.c_str());
}

}  // namespace
}  // namespace fusekit::examples
