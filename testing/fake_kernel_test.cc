// The fake kernel against working filesystems: the hello example and an
// in-memory filesystem. Requests, caches, timeouts, lookup counts, FORGET,
// notifications and interrupts behave as the kernel's would.
#include "testing/fake_kernel.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"
#include "examples/rawhello/hello_raw_fs.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/test_memfs.h"

namespace fusekit {
namespace {

using abi::Opcode;
using examples::HelloRawFs;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// The trace lines of one opcode ("-> FORGET ...").
int CountInTrace(FakeKernel& kernel, const std::string& needle) {
  std::string trace = kernel.Trace();
  int n = 0;
  for (size_t at = trace.find(needle); at != std::string::npos; at = trace.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// --- The hello filesystem -----------------------------------------------------------------

TEST(FakeKernelHelloTest, StatReaddirRead) {
  HelloRawFs fs;
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  ASSERT_TRUE(kernel.initialized());
  EXPECT_EQ(kernel.connection().minor, abi::kKernelMinorVersion);

  EXPECT_THAT(vfs.Stat("/"), IsOkAndHolds(Field(&stat::st_mode, S_IFDIR | 0755)));
  Result<struct stat> st = vfs.Stat("/hello.txt");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_mode, S_IFREG | 0444u);
  EXPECT_EQ(st->st_size, static_cast<off_t>(HelloRawFs::kContent.size()));
  EXPECT_EQ(st->st_ino, HelloRawFs::kFileId);

  EXPECT_THAT(vfs.ReadFile("/hello.txt"), IsOkAndHolds(std::string(HelloRawFs::kContent)));
  EXPECT_THAT(vfs.ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
  Result<std::vector<DirEntry>> entries = vfs.Readdir("/");
  ASSERT_THAT(entries, IsOk());
  ASSERT_THAT(*entries, SizeIs(3));
  EXPECT_EQ((*entries)[2].type, static_cast<uint32_t>(DT_REG));

  EXPECT_THAT(vfs.Stat("/missing"), FailsWith(ENOENT));
  EXPECT_THAT(vfs.Open("/hello.txt", O_WRONLY, 0), FailsWith(EACCES));
  EXPECT_THAT(vfs.Stat("/hello.txt/x"), FailsWith(ENOTDIR));
  EXPECT_THAT(vfs.Statfs("/"), IsOkAndHolds(Field(&statvfs::f_namemax, 255u)));
  // Not served by hello: the kernel's answers for ENOSYS.
  EXPECT_THAT(vfs.Mkdir("/d", 0755), FailsWith(ENOSYS));
  EXPECT_THAT(vfs.Getxattr("/hello.txt", "user.x"), FailsWith(EOPNOTSUPP));
  EXPECT_THAT(kernel.violations(), IsEmpty());
}

TEST(FakeKernelHelloTest, EntriesAreCachedUntilTheirTimeout) {
  HelloRawFs fs;  // 60 s timeouts
  FakeKernel kernel(&fs);
  FakeVfs vfs(&kernel);
  ASSERT_THAT(vfs.Stat("/hello.txt"), IsOk());
  EXPECT_EQ(kernel.LookupCount(HelloRawFs::kFileId), 1u);
  EXPECT_EQ(kernel.CachedEntry(abi::kRootId, "hello.txt"), HelloRawFs::kFileId);
  ASSERT_THAT(vfs.Stat("/hello.txt"), IsOk());
  EXPECT_EQ(kernel.LookupCount(HelloRawFs::kFileId), 1u);  // from the cache
  EXPECT_EQ(CountInTrace(kernel, "-> LOOKUP"), 1);

  kernel.clock().Advance(absl::Seconds(61));
  EXPECT_FALSE(kernel.CachedEntry(abi::kRootId, "hello.txt").has_value());
  EXPECT_FALSE(kernel.AttrCached(HelloRawFs::kFileId));
  ASSERT_THAT(vfs.Stat("/hello.txt"), IsOk());
  // Revalidation is another LOOKUP, and another lookup to count.
  EXPECT_EQ(kernel.LookupCount(HelloRawFs::kFileId), 2u);

  kernel.DropCaches();
  EXPECT_EQ(kernel.LookupCount(HelloRawFs::kFileId), 0u);
  EXPECT_THAT(kernel.Trace(), HasSubstr("-> FORGET"));
  EXPECT_THAT(kernel.Trace(), HasSubstr("nlookup=2"));
}

TEST(FakeKernelHelloTest, OldProtocolMinorsUseTheCompatSizes) {
  for (uint32_t minor : {8u, 12u, 22u, 31u}) {
    SCOPED_TRACE(absl::StrCat("protocol 7.", minor));
    HelloRawFs fs;
    FakeKernelOptions options;
    options.minor = minor;
    FakeKernel kernel(&fs, options);
    FakeVfs vfs(&kernel);
    ASSERT_TRUE(kernel.initialized());
    EXPECT_EQ(kernel.connection().minor, minor);
    EXPECT_THAT(vfs.Stat("/hello.txt"), IsOkAndHolds(Field(&stat::st_size, 14)));
    EXPECT_THAT(vfs.ReadFile("/hello.txt"), IsOkAndHolds(std::string(HelloRawFs::kContent)));
    EXPECT_THAT(vfs.ListDir("/"), IsOkAndHolds(ElementsAre("hello.txt")));
    EXPECT_THAT(kernel.violations(), IsEmpty());
  }
}

TEST(FakeKernelMinorTest, MemFsWorksAtEveryProtocolMinor) {
  for (uint32_t minor : {5u, 8u, 9u, 11u, 12u, 15u, 16u, 22u, 23u, 27u, 28u, 35u, 36u, 44u, 45u}) {
    SCOPED_TRACE(absl::StrCat("protocol 7.", minor));
    TestMemFs fs;
    FakeKernelOptions options;
    options.minor = minor;
    FakeKernel kernel(&fs, options);
    FakeVfs vfs(&kernel);
    ASSERT_TRUE(kernel.initialized());
    ASSERT_THAT(vfs.Mkdir("/d", 0755), IsOk());
    ASSERT_THAT(vfs.WriteFile("/d/f", "content"), IsOk());
    EXPECT_THAT(vfs.ReadFile("/d/f"), IsOkAndHolds("content"));
    EXPECT_THAT(vfs.Stat("/d/f"), IsOkAndHolds(Field(&stat::st_size, 7)));
    ASSERT_THAT(vfs.Setxattr("/d/f", "user.k", "v", 0), IsOk());
    EXPECT_THAT(vfs.Getxattr("/d/f", "user.k"), IsOkAndHolds("v"));
    ASSERT_THAT(vfs.Rename("/d/f", "/d/g", 0), IsOk());
    EXPECT_THAT(vfs.ListDir("/d"), IsOkAndHolds(ElementsAre("g")));
    EXPECT_THAT(vfs.Statfs("/"), IsOk());
    kernel.DropCaches();
    kernel.ExpectLookupCountsMatch();
    EXPECT_THAT(kernel.violations(), IsEmpty());
  }
}

TEST(FakeKernelHelloTest, ManyKernelsAtOnce) {
  HelloRawFs fs;
  std::vector<std::unique_ptr<FakeKernel>> kernels;
  for (int i = 0; i < 8; ++i) kernels.push_back(std::make_unique<FakeKernel>(&fs));
  for (auto& k : kernels) {
    FakeVfs vfs(k.get());
    EXPECT_THAT(vfs.ReadFile("/hello.txt"), IsOkAndHolds(std::string(HelloRawFs::kContent)));
  }
}

// --- The in-memory filesystem ------------------------------------------------------------

class FakeKernelMemFsTest : public ::testing::Test {
 protected:
  TestMemFs fs_;
  FakeKernel kernel_{&fs_};
  FakeVfs vfs_{&kernel_};
};

TEST_F(FakeKernelMemFsTest, FilesAndDirectories) {
  ASSERT_THAT(vfs_.Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(vfs_.Mkdir("/d", 0755), FailsWith(EEXIST));
  ASSERT_THAT(vfs_.WriteFile("/d/f", "hello"), IsOk());
  EXPECT_THAT(vfs_.ReadFile("/d/f"), IsOkAndHolds("hello"));
  EXPECT_THAT(vfs_.Stat("/d/f"), IsOkAndHolds(Field(&stat::st_size, 5)));
  EXPECT_THAT(vfs_.Stat("/d"), IsOkAndHolds(Field(&stat::st_mode, S_IFDIR | 0755)));
  EXPECT_THAT(vfs_.ListDir("/d"), IsOkAndHolds(ElementsAre("f")));
  EXPECT_THAT(vfs_.Rmdir("/d"), FailsWith(ENOTEMPTY));
  EXPECT_THAT(vfs_.Unlink("/d"), FailsWith(EISDIR));
  EXPECT_THAT(vfs_.Rmdir("/d/f"), FailsWith(ENOTDIR));

  ASSERT_THAT(vfs_.Rename("/d/f", "/g", 0), IsOk());
  EXPECT_THAT(vfs_.Stat("/d/f"), FailsWith(ENOENT));
  EXPECT_THAT(vfs_.ReadFile("/g"), IsOkAndHolds("hello"));
  ASSERT_THAT(vfs_.Rmdir("/d"), IsOk());
  ASSERT_THAT(vfs_.Unlink("/g"), IsOk());
  EXPECT_THAT(vfs_.ListDir("/"), IsOkAndHolds(IsEmpty()));
  kernel_.ExpectLookupCountsMatch();
  EXPECT_EQ(fs_.node_count(), 1u);  // everything freed: the kernel forgot it all
}

TEST_F(FakeKernelMemFsTest, OpenCreateReadWriteAndFriends) {
  Result<int> fd = vfs_.Open("/f", O_RDWR | O_CREAT | O_EXCL, 0640);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs_.Open("/f", O_RDWR | O_CREAT | O_EXCL, 0640), FailsWith(EEXIST));
  EXPECT_THAT(vfs_.Write(*fd, "0123456789", 0), IsOkAndHolds(10u));
  EXPECT_THAT(vfs_.Read(*fd, 4, 3), IsOkAndHolds("3456"));
  EXPECT_THAT(vfs_.Flush(*fd), IsOk());
  EXPECT_THAT(vfs_.Fsync(*fd, true), IsOk());
  EXPECT_THAT(vfs_.Lseek(*fd, 2, SEEK_DATA), IsOkAndHolds(2));
  EXPECT_THAT(vfs_.Lseek(*fd, 2, SEEK_HOLE), IsOkAndHolds(10));
  EXPECT_THAT(vfs_.Lseek(*fd, 0, SEEK_END), IsOkAndHolds(10));
  EXPECT_THAT(vfs_.Fallocate(*fd, 0, 0, 20), IsOk());
  EXPECT_THAT(vfs_.Stat("/f"), IsOkAndHolds(Field(&stat::st_size, 20)));

  Result<int> out = vfs_.Create("/copy", 0600);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(vfs_.CopyFileRange(*fd, 2, *out, 0, 5), IsOkAndHolds(5u));
  EXPECT_THAT(vfs_.Read(*out, 100, 0), IsOkAndHolds("23456"));

  EXPECT_THAT(vfs_.Close(*out), IsOk());
  EXPECT_THAT(vfs_.Close(*fd), IsOk());
  EXPECT_THAT(vfs_.Close(*fd), FailsWith(EBADF));

  // O_TRUNC through the kernel's ATOMIC_O_TRUNC.
  Result<int> again = vfs_.Open("/f", O_WRONLY | O_TRUNC, 0);
  ASSERT_THAT(again, IsOk());
  EXPECT_THAT(vfs_.Close(*again), IsOk());
  EXPECT_THAT(vfs_.Stat("/f"), IsOkAndHolds(Field(&stat::st_size, 0)));
}

TEST(FakeKernelLockTest, LocksGoToTheFilesystemOnlyWhenGranted) {
  for (bool granted : {false, true}) {
    SCOPED_TRACE(granted ? "POSIX_LOCKS and FLOCK_LOCKS granted" : "local locks");
    TestMemFs fs;
    FakeKernelOptions options;
    if (granted) options.server.init.want |= abi::kInitPosixLocks | abi::kInitFlockLocks;
    FakeKernel kernel(&fs, options);
    FakeVfs vfs(&kernel);
    Result<int> fd = vfs.Create("/f", 0644);
    ASSERT_THAT(fd, IsOk());
    struct flock lock {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_len = 10;
    EXPECT_THAT(vfs.Setlk(*fd, lock, false), IsOk());
    EXPECT_THAT(vfs.Getlk(*fd, lock), IsOkAndHolds(Field(&flock::l_type, F_UNLCK)));
    EXPECT_THAT(vfs.Flock(*fd, LOCK_EX), IsOk());
    EXPECT_THAT(vfs.Close(*fd), IsOk());
    EXPECT_EQ(fs.requests(Opcode::kSetlk), granted ? 2 : 0);
    EXPECT_EQ(fs.requests(Opcode::kGetlk), granted ? 1 : 0);
    // A flock is released with the file (FUSE_RELEASE_FLOCK_UNLOCK).
    EXPECT_EQ(kernel.Trace().find("release_flags=0x2") != std::string::npos, granted);
  }
}

TEST_F(FakeKernelMemFsTest, LinksSymlinksAndNodes) {
  ASSERT_THAT(vfs_.WriteFile("/f", "x"), IsOk());
  ASSERT_THAT(vfs_.Link("/f", "/hard"), IsOk());
  EXPECT_THAT(vfs_.Stat("/f"), IsOkAndHolds(Field(&stat::st_nlink, 2u)));
  ASSERT_THAT(vfs_.Symlink("f", "/soft"), IsOk());
  EXPECT_THAT(vfs_.Readlink("/soft"), IsOkAndHolds("f"));
  EXPECT_THAT(vfs_.Lstat("/soft"), IsOkAndHolds(Field(&stat::st_mode, S_IFLNK | 0777)));
  EXPECT_THAT(vfs_.ReadFile("/soft"), IsOkAndHolds("x"));
  ASSERT_THAT(vfs_.Mkdir("/d", 0700), IsOk());
  ASSERT_THAT(vfs_.Symlink("/d", "/d-link"), IsOk());
  ASSERT_THAT(vfs_.WriteFile("/d-link/inside", "y"), IsOk());
  EXPECT_THAT(vfs_.ReadFile("/d/inside"), IsOkAndHolds("y"));
  ASSERT_THAT(vfs_.Symlink("loop", "/loop"), IsOk());
  EXPECT_THAT(vfs_.Stat("/loop"), FailsWith(ELOOP));
  ASSERT_THAT(vfs_.Mknod("/fifo", S_IFIFO | 0600, 0), IsOk());
  EXPECT_THAT(vfs_.Stat("/fifo"), IsOkAndHolds(Field(&stat::st_mode, S_IFIFO | 0600)));
  ASSERT_THAT(vfs_.Mknod("/chr", S_IFCHR | 0600, makedev(1, 3)), IsOk());
  EXPECT_THAT(vfs_.Stat("/chr"), IsOkAndHolds(Field(&stat::st_rdev, makedev(1, 3))));
  EXPECT_THAT(vfs_.Link("/d", "/d2"), FailsWith(EPERM));
  kernel_.ExpectLookupCountsMatch();
}

TEST_F(FakeKernelMemFsTest, SetattrAndXattrs) {
  ASSERT_THAT(vfs_.WriteFile("/f", "hello world"), IsOk());
  ASSERT_THAT(vfs_.Chmod("/f", 0600), IsOk());
  EXPECT_THAT(vfs_.Stat("/f"), IsOkAndHolds(Field(&stat::st_mode, S_IFREG | 0600)));
  ASSERT_THAT(vfs_.Truncate("/f", 5), IsOk());
  EXPECT_THAT(vfs_.ReadFile("/f"), IsOkAndHolds("hello"));
  ASSERT_THAT(vfs_.Chown("/f", 123, 456), IsOk());
  EXPECT_THAT(vfs_.Stat("/f"), IsOkAndHolds(Field(&stat::st_uid, 123u)));
  struct timespec times[2] = {{1000, 5}, {2000, 6}};
  ASSERT_THAT(vfs_.Utimens("/f", times), IsOk());
  Result<struct stat> st = vfs_.Stat("/f");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_atim.tv_sec, 1000);
  EXPECT_EQ(st->st_mtim.tv_sec, 2000);
  EXPECT_EQ(st->st_mtim.tv_nsec, 6);

  ASSERT_THAT(vfs_.Setxattr("/f", "user.a", "1", 0), IsOk());
  EXPECT_THAT(vfs_.Setxattr("/f", "user.a", "2", XATTR_CREATE), FailsWith(EEXIST));
  ASSERT_THAT(vfs_.Setxattr("/f", "user.b", "22", 0), IsOk());
  EXPECT_THAT(vfs_.Getxattr("/f", "user.b"), IsOkAndHolds("22"));
  EXPECT_THAT(vfs_.GetxattrSize("/f", "user.b"), IsOkAndHolds(2u));
  EXPECT_THAT(vfs_.Listxattr("/f"), IsOkAndHolds(ElementsAre("user.a", "user.b")));
  EXPECT_THAT(vfs_.ListxattrSize("/f"), IsOkAndHolds(14u));
  ASSERT_THAT(vfs_.Removexattr("/f", "user.a"), IsOk());
  EXPECT_THAT(vfs_.Getxattr("/f", "user.a"), FailsWith(ENODATA));
  EXPECT_THAT(vfs_.Access("/f", R_OK), IsOk());
}

TEST_F(FakeKernelMemFsTest, RenameFlags) {
  ASSERT_THAT(vfs_.WriteFile("/a", "A"), IsOk());
  ASSERT_THAT(vfs_.WriteFile("/b", "B"), IsOk());
  EXPECT_THAT(vfs_.Rename("/a", "/b", RENAME_NOREPLACE), FailsWith(EEXIST));
  ASSERT_THAT(vfs_.Rename("/a", "/b", RENAME_EXCHANGE), IsOk());
  EXPECT_THAT(vfs_.ReadFile("/a"), IsOkAndHolds("B"));
  EXPECT_THAT(vfs_.ReadFile("/b"), IsOkAndHolds("A"));
  EXPECT_THAT(vfs_.Rename("/a", "/c", RENAME_EXCHANGE), FailsWith(ENOENT));
  ASSERT_THAT(vfs_.Rename("/a", "/b", 0), IsOk());  // replaces b
  EXPECT_THAT(vfs_.ReadFile("/b"), IsOkAndHolds("B"));
  ASSERT_THAT(vfs_.Mkdir("/d", 0755), IsOk());
  EXPECT_THAT(vfs_.Rename("/d", "/d/e", 0), FailsWith(EINVAL));
  EXPECT_THAT(vfs_.Rename("/b", "/d", 0), FailsWith(EISDIR));
  kernel_.ExpectLookupCountsMatch();
}

TEST_F(FakeKernelMemFsTest, ReaddirPlainPlusAndPartial) {
  for (int i = 0; i < 40; ++i) {
    ASSERT_THAT(vfs_.WriteFile(absl::StrCat("/file-with-a-long-name-", 100 + i), "x"), IsOk());
  }
  using Mode = FakeVfs::ReaddirOptions::Mode;
  for (Mode mode : {Mode::kPlain, Mode::kPlus, Mode::kAuto}) {
    for (size_t per_call : {0, 1, 7}) {
      SCOPED_TRACE(absl::StrCat("mode ", static_cast<int>(mode), " per call ", per_call));
      FakeVfs::ReaddirOptions options;
      options.mode = mode;
      options.request_size = 1024;  // several replies per listing
      options.entries_per_call = per_call;
      Result<std::vector<DirEntry>> entries = vfs_.Readdir("/", options);
      ASSERT_THAT(entries, IsOk());
      EXPECT_THAT(*entries, SizeIs(42));
      if (mode == Mode::kPlus) {
        EXPECT_NE(entries->back().nodeid, 0u);
      }
    }
  }
  kernel_.ExpectLookupCountsMatch();
  EXPECT_THAT(kernel_.violations(), IsEmpty());
}

TEST_F(FakeKernelMemFsTest, NegativeEntriesAreCached) {
  fs_.set_negative_timeout(absl::Seconds(5));
  EXPECT_THAT(vfs_.Stat("/nope"), FailsWith(ENOENT));
  EXPECT_EQ(kernel_.CachedEntry(abi::kRootId, "nope"), 0u);
  int lookups = fs_.requests(Opcode::kLookup);
  EXPECT_THAT(vfs_.Stat("/nope"), FailsWith(ENOENT));
  EXPECT_EQ(fs_.requests(Opcode::kLookup), lookups);  // answered by the cache
  kernel_.clock().Advance(absl::Seconds(6));
  EXPECT_THAT(vfs_.Stat("/nope"), FailsWith(ENOENT));
  EXPECT_EQ(fs_.requests(Opcode::kLookup), lookups + 1);
  // Creating the name replaces the negative entry.
  ASSERT_THAT(vfs_.WriteFile("/nope", ""), IsOk());
  EXPECT_THAT(vfs_.Stat("/nope"), IsOk());
}

TEST_F(FakeKernelMemFsTest, AttributesExpire) {
  ASSERT_THAT(vfs_.WriteFile("/f", "x"), IsOk());
  ASSERT_THAT(vfs_.Stat("/f"), IsOk());
  int getattrs = fs_.requests(Opcode::kGetattr);
  ASSERT_THAT(vfs_.Stat("/f"), IsOk());
  EXPECT_EQ(fs_.requests(Opcode::kGetattr), getattrs);
  kernel_.clock().Advance(absl::Milliseconds(1001));
  ASSERT_THAT(vfs_.Stat("/f"), IsOk());
  // The entry expired as well: revalidated by LOOKUP, which brings attributes.
  EXPECT_EQ(fs_.requests(Opcode::kGetattr), getattrs);
  fs_.set_entry_timeout(absl::Hours(1));
  ASSERT_THAT(vfs_.Mkdir("/d", 0755), IsOk());
  kernel_.clock().Advance(absl::Seconds(2));
  ASSERT_THAT(vfs_.Stat("/d"), IsOk());
  EXPECT_EQ(fs_.requests(Opcode::kGetattr), getattrs + 1);
}

TEST_F(FakeKernelMemFsTest, DropCachesAndForgetGiveEveryCountBack) {
  ASSERT_THAT(vfs_.Mkdir("/a", 0755), IsOk());
  ASSERT_THAT(vfs_.Mkdir("/a/b", 0755), IsOk());
  ASSERT_THAT(vfs_.WriteFile("/a/b/c", "x"), IsOk());
  ASSERT_THAT(vfs_.ListDir("/a/b"), IsOk());
  kernel_.ExpectLookupCountsMatch();
  EXPECT_EQ(kernel_.cached_nodes(), 3u);

  // An open file keeps itself and its directories.
  Result<int> fd = vfs_.Open("/a/b/c", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  kernel_.DropCaches();
  EXPECT_EQ(kernel_.cached_nodes(), 3u);
  EXPECT_THAT(vfs_.Read(*fd, 10, 0), IsOkAndHolds("x"));
  ASSERT_THAT(vfs_.Close(*fd), IsOk());
  kernel_.DropCaches();
  EXPECT_EQ(kernel_.cached_nodes(), 0u);
  kernel_.ExpectLookupCountsMatch();
  EXPECT_THAT(fs_.LookupCounts(), IsEmpty());

  ASSERT_THAT(vfs_.Stat("/a/b/c"), IsOk());
  Result<uint64_t> b = vfs_.Lookup("/a/b");
  ASSERT_THAT(b, IsOk());
  EXPECT_TRUE(kernel_.CachedEntry(*b, "c").has_value());
  ASSERT_THAT(vfs_.Forget("/a/b/c"), IsOk());
  EXPECT_FALSE(kernel_.CachedEntry(*b, "c").has_value());
  EXPECT_EQ(kernel_.cached_nodes(), 2u);  // a and b stay
  kernel_.ExpectLookupCountsMatch();
}

TEST_F(FakeKernelMemFsTest, UnlinkedOpenFileIsForgottenOnClose) {
  ASSERT_THAT(vfs_.WriteFile("/f", "data"), IsOk());
  Result<int> fd = vfs_.Open("/f", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<uint64_t> id = vfs_.Lookup("/f");
  ASSERT_THAT(id, IsOk());
  ASSERT_THAT(vfs_.Unlink("/f"), IsOk());
  EXPECT_GT(kernel_.LookupCount(*id), 0u);  // still open
  EXPECT_THAT(vfs_.Read(*fd, 10, 0), IsOkAndHolds("data"));
  ASSERT_THAT(vfs_.Close(*fd), IsOk());
  EXPECT_EQ(kernel_.LookupCount(*id), 0u);
  kernel_.ExpectLookupCountsMatch();
}

TEST_F(FakeKernelMemFsTest, TmpfileIsCountedAndForgottenOnClose) {
  Result<int> fd = vfs_.Open("/", O_TMPFILE | O_RDWR, 0600);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = vfs_.File(*fd);
  ASSERT_THAT(file, IsOk());
  EXPECT_EQ(kernel_.LookupCount(file->nodeid), 1u);  // no dentry, held by the open file
  EXPECT_THAT(vfs_.Write(*fd, "scratch", 0), IsOkAndHolds(7u));
  EXPECT_THAT(vfs_.Read(*fd, 100, 0), IsOkAndHolds("scratch"));
  kernel_.ExpectLookupCountsMatch();
  ASSERT_THAT(vfs_.Close(*fd), IsOk());
  EXPECT_EQ(kernel_.LookupCount(file->nodeid), 0u);
  kernel_.ExpectLookupCountsMatch();
  EXPECT_EQ(fs_.node_count(), 1u);
}

TEST(FakeKernelCacheLimitTest, EvictsAndForgetsTheLeastRecentlyUsed) {
  TestMemFs fs;
  FakeKernelOptions options;
  options.cache_limit = 4;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  for (int i = 0; i < 10; ++i) ASSERT_THAT(vfs.WriteFile(absl::StrCat("/f", i), "x"), IsOk());
  EXPECT_LE(kernel.cached_nodes(), 4u);
  EXPECT_THAT(kernel.Trace(), HasSubstr("FORGET"));
  kernel.ExpectLookupCountsMatch();
  for (int i = 0; i < 10; ++i) EXPECT_THAT(vfs.ReadFile(absl::StrCat("/f", i)), IsOkAndHolds("x"));
  kernel.ExpectLookupCountsMatch();
}

TEST(FakeKernelForgetTest, BatchForgetOrSingleForgets) {
  for (bool batch : {true, false}) {
    TestMemFs fs;
    FakeKernelOptions options;
    options.batch_forget = batch;
    FakeKernel kernel(&fs, options);
    FakeVfs vfs(&kernel);
    for (int i = 0; i < 5; ++i) ASSERT_THAT(vfs.Mkdir(absl::StrCat("/d", i), 0755), IsOk());
    kernel.DropCaches();
    EXPECT_EQ(CountInTrace(kernel, "-> BATCH_FORGET"), batch ? 1 : 0);
    EXPECT_EQ(CountInTrace(kernel, "-> FORGET"), batch ? 0 : 5);
    kernel.ExpectLookupCountsMatch();
  }
}

TEST(FakeKernelConcurrencyTest, ManyThreadsOnManyWorkers) {
  TestMemFs fs;
  FakeKernelOptions options;
  options.server.workers = 4;
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&vfs, t] {
      std::string dir = absl::StrCat("/t", t);
      ASSERT_THAT(vfs.Mkdir(dir, 0755), IsOk());
      for (int i = 0; i < 20; ++i) {
        std::string path = absl::StrCat(dir, "/f", i);
        ASSERT_THAT(vfs.WriteFile(path, path), IsOk());
        ASSERT_THAT(vfs.ReadFile(path), IsOkAndHolds(path));
        if (i % 2 == 0) {
          ASSERT_THAT(vfs.Unlink(path), IsOk());
        }
      }
      ASSERT_THAT(vfs.ListDir(dir), IsOkAndHolds(SizeIs(10)));
    });
  }
  for (std::thread& t : threads) t.join();
  kernel.ExpectLookupCountsMatch();
  EXPECT_THAT(kernel.violations(), IsEmpty());
}

// --- Notifications ------------------------------------------------------------------------

TEST_F(FakeKernelMemFsTest, NotificationsChangeTheCaches) {
  fs_.set_entry_timeout(absl::Hours(1));
  fs_.set_attr_timeout(absl::Hours(1));
  ASSERT_THAT(vfs_.WriteFile("/a", "x"), IsOk());
  ASSERT_THAT(vfs_.WriteFile("/b", "x"), IsOk());
  ASSERT_THAT(vfs_.Stat("/a"), IsOk());
  Result<uint64_t> a = vfs_.Lookup("/a");
  Result<uint64_t> b = vfs_.Lookup("/b");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  Notifier& notifier = kernel_.server()->notifier();

  ASSERT_TRUE(kernel_.AttrCached(*a));
  ASSERT_EQ(notifier.InvalInode(*a, -1, 0), kOk);
  kernel_.ProcessPendingMessages();
  EXPECT_FALSE(kernel_.AttrCached(*a));

  ASSERT_EQ(notifier.InvalEntry(abi::kRootId, "a"), kOk);
  kernel_.ProcessPendingMessages();
  EXPECT_FALSE(kernel_.CachedEntry(abi::kRootId, "a").has_value());
  EXPECT_EQ(kernel_.LookupCount(*a), 0u);  // nothing held it: forgotten

  ASSERT_EQ(notifier.Delete(abi::kRootId, *b, "b"), kOk);
  ASSERT_EQ(notifier.InvalEntry(abi::kRootId, "never-cached"), kOk);
  std::vector<ReceivedNotification> got = kernel_.TakeNotifications();
  ASSERT_THAT(got, SizeIs(4));
  EXPECT_EQ(got[2].code, abi::NotifyCode::kDelete);
  EXPECT_EQ(got[2].name(), "b");
  EXPECT_EQ(got[2].kernel_result, kOk);
  EXPECT_EQ(got[3].kernel_result, Errno(ENOENT));  // what the kernel would answer
  EXPECT_FALSE(kernel_.CachedEntry(abi::kRootId, "b").has_value());
  kernel_.ExpectLookupCountsMatch();
}

TEST_F(FakeKernelMemFsTest, RetrieveIsAnsweredAndEpochExpiresEverything) {
  ASSERT_THAT(vfs_.WriteFile("/a", "x"), IsOk());
  Result<uint64_t> a = vfs_.Lookup("/a");
  ASSERT_THAT(a, IsOk());
  absl::Notification answered;
  ASSERT_EQ(kernel_.server()->notifier().Retrieve(
                *a, 0, 100, [&](uint64_t, absl::Span<const uint8_t>) { answered.Notify(); }),
            kOk);
  kernel_.ProcessPendingMessages();
  EXPECT_TRUE(answered.WaitForNotificationWithTimeout(absl::Seconds(5)));

  ASSERT_EQ(kernel_.server()->notifier().IncEpoch(), kOk);
  kernel_.ProcessPendingMessages();
  EXPECT_FALSE(kernel_.CachedEntry(abi::kRootId, "a").has_value());
  const uint64_t ids[] = {*a};
  ASSERT_EQ(kernel_.server()->notifier().Prune(ids), kOk);
  kernel_.ProcessPendingMessages();
  EXPECT_EQ(kernel_.LookupCount(*a), 0u);
  kernel_.ExpectLookupCountsMatch();
}

// --- Interrupts ---------------------------------------------------------------------------

// A file whose READ waits until it is interrupted, then answers EINTR.
class SlowReadFs : public RawFileSystem {
 public:
  std::atomic<bool> saw_interrupt{false};

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    if (name != "slow") {
      reply.Error(Errno(ENOENT));
      return;
    }
    EntryParam e;
    e.nodeid = 2;
    e.attr = FileAttr();
    reply.Entry(e);
  }
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in&) override {
    abi::fuse_attr a = FileAttr();
    if (nodeid == abi::kRootId) a.mode = S_IFDIR | 0755;
    reply.Attr(a, absl::ZeroDuration());
  }
  void Read(ReplyData reply, uint64_t, const abi::fuse_read_in&) override {
    absl::Notification interrupted;
    reply.OnInterrupt([&] { interrupted.Notify(); });
    interrupted.WaitForNotificationWithTimeout(absl::Seconds(10));
    saw_interrupt = reply.Interrupted();
    reply.Error(Errno(EINTR));
  }

 private:
  static abi::fuse_attr FileAttr() {
    abi::fuse_attr a{};
    a.ino = 2;
    a.mode = S_IFREG | 0644;
    a.nlink = 1;
    a.size = 4096;
    return a;
  }
};

TEST(FakeKernelInterruptTest, InterruptedReadAnswersEintr) {
  SlowReadFs fs;
  FakeKernelOptions options;
  options.server.workers = 2;  // one blocks in READ, one reads the INTERRUPT
  FakeKernel kernel(&fs, options);
  FakeVfs vfs(&kernel);
  Result<int> fd = vfs.Open("/slow", O_RDONLY, 0);  // OPEN: ENOSYS, none needed
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = vfs.File(*fd);
  ASSERT_THAT(file, IsOk());
  FakeKernel::Ticket t = kernel.Start(FuseRequest::Read(file->nodeid, file->fh, 0, 4096));
  EXPECT_FALSE(kernel.Done(t));
  kernel.Interrupt(t);
  FuseReply reply = kernel.Await(t);
  EXPECT_EQ(reply.error(), Errno(EINTR));
  EXPECT_TRUE(fs.saw_interrupt);
  EXPECT_THAT(kernel.Trace(), HasSubstr("-> INTERRUPT"));
  EXPECT_THAT(vfs.Close(*fd), IsOk());
}

}  // namespace
}  // namespace fusekit
