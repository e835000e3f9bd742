// The node-tree API on a real mount: the hello filesystem and a dynamic
// (procfs-like) one, exercised with real system calls. Root (or
// fusermount3) and /dev/fuse needed; SKIPPED with the reason otherwise.
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fuse/mount.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"

namespace fusekit {
namespace {

// ---- The hello filesystem, as a user writes it (under 40 lines) ----------
constexpr absl::string_view kHello = "Hello, world!\n";

class HelloFile : public Node {
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = kHello.size();
    return kOk;
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    out->SetData(kHello.substr(std::min<uint64_t>(offset, kHello.size())));
    return kOk;
  }
};

class HelloRoot : public Node {
  void OnAdd(const Context&) override {
    Inode* file = inode()->NewPersistentInode(std::make_unique<HelloFile>(), {.mode = S_IFREG});
    inode()->AddChild("hello.txt", file, /*overwrite=*/false);
  }
};
// ---------------------------------------------------------------------------

// ---- A dynamic filesystem: /N holds "N squared is N*N" for N in 0..99 -----
class SquareFile : public Node {
 public:
  explicit SquareFile(int n) : text_(absl::StrCat(n, " squared is ", n * n, "\n")) {}
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = text_.size();
    return kOk;
  }
  Errno Read(const Context&, FileHandle*, uint64_t offset, ReadResult* out) override {
    out->SetData(absl::string_view(text_).substr(std::min<uint64_t>(offset, text_.size())));
    return kOk;
  }

 private:
  const std::string text_;
};

class SquaresRoot : public Node {
  Errno Lookup(const Context&, absl::string_view name, EntryOut*, Inode** child) override {
    int n;
    if (!absl::SimpleAtoi(name, &n) || n < 0 || n > 99 || absl::StrCat(n) != name) {
      return Errno(ENOENT);
    }
    *child = inode()->NewInode(std::make_unique<SquareFile>(n),
                               {.mode = S_IFREG, .ino = 1000 + static_cast<uint64_t>(n)});
    return kOk;
  }
  Errno Readdir(const Context&, std::unique_ptr<DirStream>* stream) override {
    std::vector<DirStreamEntry> entries;
    for (int n = 0; n < 100; ++n) entries.push_back({absl::StrCat(n), S_IFREG, 1000u + n});
    *stream = std::make_unique<ListDirStream>(std::move(entries));
    return kOk;
  }
};
// ---------------------------------------------------------------------------

class NodefsMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/dev/fuse", F_OK) != 0) GTEST_SKIP() << "/dev/fuse is absent";
    if (geteuid() != 0) GTEST_SKIP() << "real-mount tests run as root here";
    const char* tmp = getenv("TEST_TMPDIR");
    std::string tmpl = absl::StrCat(tmp ? tmp : "/tmp", "/nodefs.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    mountpoint_ = tmpl;
  }
  void TearDown() override {
    mount_.reset();
    if (!mountpoint_.empty()) {
      EXPECT_TRUE(UnmountPath(mountpoint_).ok());
      rmdir(mountpoint_.c_str());
    }
  }
  void MountTree(std::unique_ptr<Node> root, Options options = {}) {
    auto mount = Mount(mountpoint_, std::move(root), options);
    if (absl::IsPermissionDenied(mount.status()) || absl::IsUnavailable(mount.status())) {
      GTEST_SKIP() << "cannot mount here: " << mount.status();
    }
    ASSERT_TRUE(mount.ok()) << mount.status();
    mount_ = std::move(*mount);
  }
  std::string Slurp(const std::string& path) {
    int fd = open(path.c_str(), O_RDONLY);
    if (fd < 0) return absl::StrCat("<open: ", errno, ">");
    std::string out;
    char buf[64];  // small, so reads continue at offsets
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, n);
    close(fd);
    return out;
  }
  std::set<std::string> List(const std::string& path) {
    std::set<std::string> names;
    DIR* d = opendir(path.c_str());
    if (d == nullptr) return names;
    while (struct dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
    return names;
  }

  std::string mountpoint_;
  std::unique_ptr<TreeMount> mount_;
};

TEST_F(NodefsMountTest, HelloFilesystem) {
  MountTree(std::make_unique<HelloRoot>());
  EXPECT_EQ(List(mountpoint_), (std::set<std::string>{".", "..", "hello.txt"}));
  struct stat st;
  ASSERT_EQ(stat((mountpoint_ + "/hello.txt").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(st.st_size, 14);
  EXPECT_EQ(Slurp(mountpoint_ + "/hello.txt"), "Hello, world!\n");
  EXPECT_NE(stat((mountpoint_ + "/nope").c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
  EXPECT_LT(open((mountpoint_ + "/hello.txt").c_str(), O_WRONLY), 0);
  EXPECT_EQ(errno, EROFS);
  EXPECT_NE(mkdir((mountpoint_ + "/d").c_str(), 0755), 0);
  EXPECT_EQ(errno, EROFS);
}

TEST_F(NodefsMountTest, DynamicFilesystem) {
  Options options;
  options.entry_timeout = absl::ZeroDuration();
  options.attr_timeout = absl::ZeroDuration();
  MountTree(std::make_unique<SquaresRoot>(), options);
  EXPECT_EQ(Slurp(mountpoint_ + "/7"), "7 squared is 49\n");
  EXPECT_EQ(Slurp(mountpoint_ + "/99"), "99 squared is 9801\n");
  struct stat st;
  ASSERT_EQ(stat((mountpoint_ + "/12").c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, 1012u);
  EXPECT_NE(stat((mountpoint_ + "/100").c_str(), &st), 0);
  EXPECT_NE(stat((mountpoint_ + "/07").c_str(), &st), 0);
  std::set<std::string> names = List(mountpoint_);
  EXPECT_EQ(names.size(), 100u);
  EXPECT_TRUE(names.count("0") && names.count("99"));
}

TEST_F(NodefsMountTest, InMemoryTreeFollowsMutations) {
  MountTree(std::make_unique<MemDir>());
  const std::string d = mountpoint_ + "/dir";
  ASSERT_EQ(mkdir(d.c_str(), 0750), 0);
  int fd = open((d + "/a").c_str(), O_CREAT | O_RDWR, 0640);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, "content", 7), 7);
  close(fd);
  EXPECT_EQ(Slurp(d + "/a"), "content");
  ASSERT_EQ(link((d + "/a").c_str(), (mountpoint_ + "/hard").c_str()), 0);
  struct stat st, st2;
  ASSERT_EQ(stat((d + "/a").c_str(), &st), 0);
  ASSERT_EQ(stat((mountpoint_ + "/hard").c_str(), &st2), 0);
  EXPECT_EQ(st.st_ino, st2.st_ino);
  EXPECT_EQ(st.st_nlink, 2u);
  ASSERT_EQ(rename((d + "/a").c_str(), (mountpoint_ + "/b").c_str()), 0);
  EXPECT_EQ(List(d), (std::set<std::string>{".", ".."}));
  EXPECT_EQ(Slurp(mountpoint_ + "/b"), "content");
  ASSERT_EQ(symlink("b", (mountpoint_ + "/ln").c_str()), 0);
  char target[16] = {};
  EXPECT_EQ(readlink((mountpoint_ + "/ln").c_str(), target, sizeof(target)), 1);
  EXPECT_EQ(Slurp(mountpoint_ + "/ln"), "content");
  // Unlinked while open: the data stays readable until close.
  fd = open((mountpoint_ + "/b").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(unlink((mountpoint_ + "/b").c_str()), 0);
  ASSERT_EQ(unlink((mountpoint_ + "/hard").c_str()), 0);
  char buf[16] = {};
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 0), 7);
  EXPECT_EQ(std::string(buf, 7), "content");
  close(fd);
  EXPECT_NE(rmdir(mountpoint_.c_str()), 0);
  ASSERT_EQ(rmdir(d.c_str()), 0);
  EXPECT_EQ(List(mountpoint_), (std::set<std::string>{".", "..", "ln"}));
}

}  // namespace
}  // namespace fusekit
