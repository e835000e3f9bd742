// The loopback nodes (nodefs/loopback_node.h) through the fake kernel: every
// pass-through operation, with the host checked for its effect; hostile
// symlinks and requests that name a symlink or a moved-away directory as
// their directory; the lookup counts audited at the end of each test. No
// root or mount needed (a few checks need root and say so).
#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "examples/loopbackfs/host_tree.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/loopback_node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit::examples {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;

// What this process may do on the host: root outside a user namespace may
// do all of it; root inside one (Bazel's sandbox) may not give files to
// unmapped ids or make device nodes.
bool HostAllows(const HostTree& host, absl::string_view what) {
  std::string probe = host.base() + "/probe";
  bool ok = false;
  if (what == "chown") {
    ok = WriteHostFile(probe, "") && chown(probe.c_str(), 1234, 5678) == 0;
  } else if (what == "mknod") {
    ok = mknod(probe.c_str(), S_IFCHR | 0600, makedev(1, 3)) == 0;
  } else if (what == "trusted_xattr") {
    ok = WriteHostFile(probe, "") && lsetxattr(probe.c_str(), "trusted.probe", "1", 1, 0) == 0;
  }
  unlink(probe.c_str());
  return ok;
}

class LoopbackTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(host_.ok()); }
  void TearDown() override { fs_.reset(); }

  // Serves host_.src() (call after preparing the host side, or before).
  void Serve(LoopbackOptions options = {}, FakeKernelOptions kernel_options = {}) {
    absl::StatusOr<std::unique_ptr<LoopbackNode>> root =
        NewLoopbackRoot(host_.src(), std::move(options));
    ASSERT_TRUE(root.ok()) << root.status();
    fs_ = std::make_unique<NodefsFakeKernel>(*std::move(root), LoopbackMountOptions(),
                                             std::move(kernel_options));
  }

  FakeVfs& vfs() { return fs_->vfs(); }
  FakeKernel& kernel() { return fs_->kernel(); }
  // The node id `path` names (without following a final symlink).
  uint64_t NodeId(absl::string_view path) {
    Result<uint64_t> id = vfs().Lookup(path);
    EXPECT_THAT(id, IsOk()) << path;
    return id.value_or(0);
  }
  // A raw request: its errno.
  Errno Call(FuseRequest request) { return kernel().Call(std::move(request)).error(); }

  HostTree host_;
  std::unique_ptr<NodefsFakeKernel> fs_;
};

// --- Reading what the host has ------------------------------------------------------

TEST_F(LoopbackTest, DirectIoOpensAskForNoPageCacheAndParallelWrites) {
  ASSERT_TRUE(WriteHostFile(host_.src("a"), "hello"));
  for (bool direct_io : {false, true}) {
    SCOPED_TRACE(direct_io ? "direct_io" : "cached");
    LoopbackOptions options;
    options.direct_io = direct_io;
    Serve(options);
    Result<int> opened = vfs().Open("/a", O_RDWR, 0);
    ASSERT_THAT(opened, IsOk());
    Result<int> created = vfs().Open("/new", O_CREAT | O_RDWR, 0644);
    ASSERT_THAT(created, IsOk());
    const uint32_t want = direct_io ? abi::kOpenDirectIo | abi::kOpenParallelDirectWrites : 0;
    for (int fd : {*opened, *created}) {
      Result<FakeVfs::OpenFile> file = vfs().File(fd);
      ASSERT_THAT(file, IsOk());
      EXPECT_EQ(file->open_flags & (abi::kOpenDirectIo | abi::kOpenParallelDirectWrites), want);
    }
    EXPECT_THAT(vfs().Write(*opened, "j", 0), IsOkAndHolds(1u));
    EXPECT_THAT(vfs().Close(*opened), IsOk());
    EXPECT_THAT(vfs().Close(*created), IsOk());
    EXPECT_EQ(ReadHostFile(host_.src("a")), "jello");
    ASSERT_THAT(vfs().Unlink("/new"), IsOk());
    fs_.reset();
    ASSERT_TRUE(WriteHostFile(host_.src("a"), "hello"));
  }
}

TEST_F(LoopbackTest, ServesHostFilesWithTheirInodeNumbers) {
  ASSERT_TRUE(WriteHostFile(host_.src("a"), "hello", 0640));
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0750), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d/b"), "bee"));
  Serve();

  Result<struct stat> a = vfs().Stat("/a");
  ASSERT_THAT(a, IsOk());
  struct stat host_a = HostLstat(host_.src("a"));
  EXPECT_EQ(a->st_ino, host_a.st_ino);
  EXPECT_EQ(a->st_mode, S_IFREG | 0640);
  EXPECT_EQ(a->st_size, 5);
  EXPECT_EQ(a->st_uid, host_a.st_uid);
  EXPECT_EQ(a->st_mtim.tv_sec, host_a.st_mtim.tv_sec);
  EXPECT_EQ(a->st_mtim.tv_nsec, host_a.st_mtim.tv_nsec);
  EXPECT_THAT(vfs().ReadFile("/a"), IsOkAndHolds(std::string("hello")));
  EXPECT_THAT(vfs().ReadFile("/d/b"), IsOkAndHolds(std::string("bee")));
  EXPECT_THAT(vfs().Stat("/d"), IsOkAndHolds(::testing::Field(&stat::st_mode, S_IFDIR | 0750)));
  EXPECT_THAT(vfs().Stat("/missing"), FailsWith(ENOENT));
  EXPECT_THAT(vfs().Stat("/a/x"), FailsWith(ENOTDIR));

  Result<std::vector<DirEntry>> listing = vfs().Readdir("/");
  ASSERT_THAT(listing, IsOk());
  bool saw_a = false, saw_d = false;
  for (const DirEntry& e : *listing) {
    if (e.name == "a") {
      saw_a = true;
      EXPECT_EQ(e.ino, host_a.st_ino);  // d_ino kept
      EXPECT_EQ(e.type, DT_REG);
    }
    if (e.name == "d") {
      saw_d = true;
      EXPECT_EQ(e.ino, HostLstat(host_.src("d")).st_ino);
      EXPECT_EQ(e.type, DT_DIR);
    }
  }
  EXPECT_TRUE(saw_a && saw_d);
  EXPECT_THAT(vfs().ListDir("/d"), IsOkAndHolds(ElementsAre("b")));
}

TEST_F(LoopbackTest, HostChangesShowAfterTheCacheTimeout) {
  Serve();
  EXPECT_THAT(vfs().Stat("/late"), FailsWith(ENOENT));
  ASSERT_TRUE(WriteHostFile(host_.src("late"), "here now"));
  EXPECT_THAT(vfs().ReadFile("/late"), IsOkAndHolds(std::string("here now")));
  ASSERT_EQ(unlink(host_.src("late").c_str()), 0);
  kernel().clock().Advance(absl::Seconds(2));
  EXPECT_THAT(vfs().Stat("/late"), FailsWith(ENOENT));
}

TEST_F(LoopbackTest, StatfsIsTheHosts) {
  Serve();
  Result<struct statvfs> st = vfs().Statfs("/");
  ASSERT_THAT(st, IsOk());
  struct statvfs host;
  ASSERT_EQ(statvfs(host_.src().c_str(), &host), 0);
  EXPECT_EQ(st->f_blocks, host.f_blocks);
  EXPECT_EQ(st->f_bsize, host.f_bsize);
  EXPECT_EQ(st->f_namemax, host.f_namemax);
  EXPECT_EQ(st->f_files, host.f_files);
}

// --- Changing it -----------------------------------------------------------------------

TEST_F(LoopbackTest, CreateWriteAndReadReachTheHost) {
  Serve();
  ASSERT_THAT(vfs().WriteFile("/new", "written through", 0640), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("new")), "written through");
  struct stat host = HostLstat(host_.src("new"));
  EXPECT_EQ(host.st_mode, S_IFREG | 0640);
  EXPECT_THAT(vfs().Stat("/new"), IsOkAndHolds(::testing::Field(&stat::st_ino, host.st_ino)));

  // O_EXCL on an existing name; an existing file opened with O_CREAT keeps
  // its content unless truncated.
  EXPECT_THAT(vfs().Open("/new", O_CREAT | O_EXCL | O_WRONLY, 0600), FailsWith(EEXIST));
  Result<int> fd = vfs().Open("/new", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs().Write(*fd, "W", 0), IsOkAndHolds(1u));
  EXPECT_THAT(vfs().Read(*fd, 100, 1), IsOkAndHolds(std::string("ritten through")));
  EXPECT_THAT(vfs().Fsync(*fd, false), IsOk());
  EXPECT_THAT(vfs().Fsync(*fd, true), IsOk());
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("new")), "Written through");
  EXPECT_EQ(HostLstat(host_.src("new")).st_mode, S_IFREG | 0640);

  // Large, sparse, beyond one request.
  fd = vfs().Open("/big", O_CREAT | O_RDWR, 0644);
  ASSERT_THAT(fd, IsOk());
  std::string chunk(300 * 1024, 'x');
  EXPECT_THAT(vfs().Write(*fd, chunk, (uint64_t{5} << 30)), IsOkAndHolds(chunk.size()));
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  EXPECT_EQ(HostLstat(host_.src("big")).st_size, (int64_t{5} << 30) + 300 * 1024);
}

TEST_F(LoopbackTest, MkdirMknodSymlinkReachTheHost) {
  Serve();
  ASSERT_THAT(vfs().Mkdir("/dir", 0750), IsOk());
  EXPECT_EQ(HostLstat(host_.src("dir")).st_mode, S_IFDIR | 0750);
  ASSERT_THAT(vfs().Mknod("/fifo", S_IFIFO | 0600, 0), IsOk());
  EXPECT_EQ(HostLstat(host_.src("fifo")).st_mode, S_IFIFO | 0600);
  ASSERT_THAT(vfs().Mknod("/dir/plain", S_IFREG | 0604, 0), IsOk());
  EXPECT_EQ(HostLstat(host_.src("dir/plain")).st_mode, S_IFREG | 0604);
  if (HostAllows(host_, "mknod")) {
    ASSERT_THAT(vfs().Mknod("/null", S_IFCHR | 0666, makedev(1, 3)), IsOk());
    struct stat host = HostLstat(host_.src("null"));
    EXPECT_TRUE(S_ISCHR(host.st_mode));
    EXPECT_EQ(host.st_rdev, makedev(1, 3));
    EXPECT_THAT(vfs().Lstat("/null"),
                IsOkAndHolds(::testing::Field(&stat::st_rdev, makedev(1, 3))));
  }

  ASSERT_THAT(vfs().Symlink("../../etc/passwd", "/dir/link"), IsOk());
  char buf[256];
  ssize_t n = readlink(host_.src("dir/link").c_str(), buf, sizeof(buf));
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "../../etc/passwd");
  EXPECT_THAT(vfs().Readlink("/dir/link"), IsOkAndHolds(std::string("../../etc/passwd")));
  Result<struct stat> link = vfs().Lstat("/dir/link");
  ASSERT_THAT(link, IsOk());
  EXPECT_TRUE(S_ISLNK(link->st_mode));
  EXPECT_EQ(link->st_ino, HostLstat(host_.src("dir/link")).st_ino);

  EXPECT_THAT(vfs().Mkdir("/dir", 0755), FailsWith(EEXIST));
  EXPECT_THAT(vfs().Rmdir("/dir"), FailsWith(ENOTEMPTY));
  ASSERT_THAT(vfs().Unlink("/dir/link"), IsOk());
  ASSERT_THAT(vfs().Unlink("/dir/plain"), IsOk());
  ASSERT_THAT(vfs().Rmdir("/dir"), IsOk());
  ASSERT_THAT(vfs().Unlink("/fifo"), IsOk());
  EXPECT_FALSE(HostExists(host_.src("dir")));
  EXPECT_FALSE(HostExists(host_.src("fifo")));
}

TEST_F(LoopbackTest, CreatedObjectsGetExactlyTheModeAskedFor) {
  // The daemon's own umask must not mask again what the kernel masked.
  mode_t old = umask(077);
  Serve();
  umask(old);
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  EXPECT_EQ(HostLstat(host_.src("d")).st_mode, S_IFDIR | 0755);
  ASSERT_THAT(vfs().WriteFile("/d/f", "x", 0644), IsOk());
  EXPECT_EQ(HostLstat(host_.src("d/f")).st_mode, S_IFREG | 0644);
  ASSERT_THAT(vfs().Mknod("/d/p", S_IFIFO | 0664, 0), IsOk());
  EXPECT_EQ(HostLstat(host_.src("d/p")).st_mode, S_IFIFO | 0644);  // FakeVfs's umask 022
  // A directory made under a set-group-ID directory keeps the inherited bit.
  ASSERT_EQ(mkdir(host_.src("sgid").c_str(), 0755), 0);
  ASSERT_EQ(chmod(host_.src("sgid").c_str(), 02755), 0);
  ASSERT_THAT(vfs().Mkdir("/sgid/sub", 0755), IsOk());
  EXPECT_EQ(HostLstat(host_.src("sgid/sub")).st_mode, S_IFDIR | 02755);
}

TEST_F(LoopbackTest, HardLinksAreOneInode) {
  ASSERT_TRUE(WriteHostFile(host_.src("x"), "shared"));
  ASSERT_EQ(link(host_.src("x").c_str(), host_.src("y").c_str()), 0);  // made on the host
  Serve();
  EXPECT_EQ(NodeId("/x"), NodeId("/y"));

  ASSERT_TRUE(WriteHostFile(host_.src("a"), "one"));
  ASSERT_THAT(vfs().Link("/a", "/b"), IsOk());  // made through the mount
  struct stat host_a = HostLstat(host_.src("a"));
  EXPECT_EQ(HostLstat(host_.src("b")).st_ino, host_a.st_ino);
  EXPECT_EQ(NodeId("/a"), NodeId("/b"));
  Result<struct stat> b = vfs().Stat("/b");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->st_ino, host_a.st_ino);
  EXPECT_EQ(b->st_nlink, 2u);

  // Either name serves the inode once the other is gone.
  ASSERT_THAT(vfs().Unlink("/a"), IsOk());
  EXPECT_THAT(vfs().ReadFile("/b"), IsOkAndHolds(std::string("one")));
  EXPECT_THAT(vfs().Stat("/b"), IsOkAndHolds(::testing::Field(&stat::st_nlink, 1u)));
  EXPECT_THAT(vfs().Link("/", "/rootlink"), FailsWith(EPERM));
}

TEST_F(LoopbackTest, RenamesReachTheHostAndKeepWorkingBelow) {
  ASSERT_TRUE(WriteHostFile(host_.src("a"), "A"));
  ASSERT_TRUE(WriteHostFile(host_.src("b"), "B"));
  ASSERT_EQ(mkdir(host_.src("p").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("p/f"), "deep"));
  Serve();

  ASSERT_THAT(vfs().Rename("/a", "/p/a2", 0), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("p/a2")), "A");
  EXPECT_FALSE(HostExists(host_.src("a")));
  EXPECT_THAT(vfs().Rename("/b", "/p/a2", RENAME_NOREPLACE), FailsWith(EEXIST));
  ASSERT_THAT(vfs().Rename("/b", "/p/a2", RENAME_EXCHANGE), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("b")), "A");
  EXPECT_EQ(ReadHostFile(host_.src("p/a2")), "B");
  EXPECT_THAT(vfs().ReadFile("/b"), IsOkAndHolds(std::string("A")));

  // A directory renamed: what the kernel has cached below it still works.
  uint64_t f = NodeId("/p/f");
  ASSERT_THAT(vfs().Rename("/p", "/q", 0), IsOk());
  EXPECT_TRUE(HostExists(host_.src("q/f")));
  EXPECT_EQ(NodeId("/q/f"), f);
  EXPECT_THAT(vfs().ReadFile("/q/f"), IsOkAndHolds(std::string("deep")));
  EXPECT_EQ(Call(FuseRequest::Getattr(f)), kOk);
  ASSERT_THAT(vfs().WriteFile("/q/g", "new below"), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("q/g")), "new below");

  // Over an existing file: the old one is gone on the host.
  ASSERT_THAT(vfs().Rename("/q/g", "/q/f", 0), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("q/f")), "new below");
  EXPECT_THAT(vfs().ReadFile("/q/f"), IsOkAndHolds(std::string("new below")));
}

TEST_F(LoopbackTest, SetattrReachesTheHost) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "0123456789"));
  Serve();
  ASSERT_THAT(vfs().Chmod("/f", 0600), IsOk());
  EXPECT_EQ(HostLstat(host_.src("f")).st_mode, S_IFREG | 0600);
  ASSERT_THAT(vfs().Truncate("/f", 4), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("f")), "0123");
  ASSERT_THAT(vfs().Truncate("/f", 8192), IsOk());
  EXPECT_EQ(HostLstat(host_.src("f")).st_size, 8192);
  struct timespec times[2] = {{1000, 1}, {2000, 2}};
  ASSERT_THAT(vfs().Utimens("/f", times), IsOk());
  struct stat host = HostLstat(host_.src("f"));
  EXPECT_EQ(host.st_atim.tv_sec, 1000);
  EXPECT_EQ(host.st_atim.tv_nsec, 1);
  EXPECT_EQ(host.st_mtim.tv_sec, 2000);
  EXPECT_EQ(host.st_mtim.tv_nsec, 2);
  struct timespec only_mtime[2] = {{0, UTIME_OMIT}, {3000, 0}};
  ASSERT_THAT(vfs().Utimens("/f", only_mtime), IsOk());
  host = HostLstat(host_.src("f"));
  EXPECT_EQ(host.st_atim.tv_sec, 1000);
  EXPECT_EQ(host.st_mtim.tv_sec, 3000);

  // Truncating through an open descriptor (ftruncate).
  Result<int> fd = vfs().Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs().Truncate("/f", 1), IsOk());
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  EXPECT_EQ(ReadHostFile(host_.src("f")), "0");

  // The root and directories too.
  ASSERT_THAT(vfs().Mkdir("/d", 0755), IsOk());
  ASSERT_THAT(vfs().Chmod("/d", 0711), IsOk());
  EXPECT_EQ(HostLstat(host_.src("d")).st_mode, S_IFDIR | 0711);
  ASSERT_THAT(vfs().Chmod("/", 0775), IsOk());
  EXPECT_EQ(HostLstat(host_.src()).st_mode, S_IFDIR | 0775);
  ASSERT_THAT(vfs().Utimens("/", times), IsOk());
  EXPECT_EQ(HostLstat(host_.src()).st_mtim.tv_sec, 2000);
  EXPECT_THAT(vfs().Truncate("/d", 0), FailsWith(EISDIR));

  if (HostAllows(host_, "chown")) {
    ASSERT_THAT(vfs().Chown("/f", 1234, 5678), IsOk());
    host = HostLstat(host_.src("f"));
    EXPECT_EQ(host.st_uid, 1234u);
    EXPECT_EQ(host.st_gid, 5678u);
    ASSERT_THAT(vfs().Chown("/f", static_cast<uid_t>(-1), 42), IsOk());
    host = HostLstat(host_.src("f"));
    EXPECT_EQ(host.st_uid, 1234u);
    EXPECT_EQ(host.st_gid, 42u);
    ASSERT_THAT(vfs().Symlink("f", "/l"), IsOk());
    abi::fuse_setattr_in in{};
    in.valid = abi::kFattrUid;
    in.uid = 77;
    // lchown: a request on the link's node changes the link, not its target.
    EXPECT_EQ(Call(FuseRequest::Setattr(NodeId("/l"), in)), kOk);
    EXPECT_EQ(HostLstat(host_.src("l")).st_uid, 77u);
    EXPECT_EQ(HostLstat(host_.src("f")).st_uid, 1234u);
  }
}

TEST_F(LoopbackTest, CallersOwnWhatTheyCreateWhenRunningAsRoot) {
  if (!HostAllows(host_, "chown")) GTEST_SKIP() << "cannot chown to another user here";
  FakeKernelOptions kernel_options;
  kernel_options.caller = {1234, 5678, static_cast<uint32_t>(getpid())};
  ASSERT_TRUE(WriteHostFile(host_.src("existing"), "root's"));
  Serve({.set_owner = true}, kernel_options);
  ASSERT_THAT(vfs().WriteFile("/file", "x"), IsOk());
  ASSERT_THAT(vfs().Mkdir("/dir", 0777), IsOk());
  ASSERT_THAT(vfs().Symlink("file", "/link"), IsOk());
  ASSERT_THAT(vfs().Mknod("/fifo", S_IFIFO | 0644, 0), IsOk());
  for (const char* name : {"file", "dir", "link", "fifo"}) {
    struct stat st = HostLstat(host_.src(name));
    EXPECT_EQ(st.st_uid, 1234u) << name;
    EXPECT_EQ(st.st_gid, 5678u) << name;
  }
  // chown(2) clears set-user-ID; the daemon puts it back.
  Result<int> suid = vfs().Open("/suid", O_CREAT | O_WRONLY, 04755);
  ASSERT_THAT(suid, IsOk());
  EXPECT_THAT(vfs().Close(*suid), IsOk());
  EXPECT_EQ(HostLstat(host_.src("suid")).st_mode, S_IFREG | 04755);
  EXPECT_EQ(HostLstat(host_.src("suid")).st_uid, 1234u);
  // An existing file opened with O_CREAT is not taken over.
  Result<int> fd = vfs().Open("/existing", O_CREAT | O_WRONLY, 0644);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  EXPECT_EQ(HostLstat(host_.src("existing")).st_uid, 0u);
  // Below a set-group-ID directory the group is the directory's.
  ASSERT_EQ(mkdir(host_.src("sgid").c_str(), 0777), 0);
  ASSERT_EQ(chown(host_.src("sgid").c_str(), 0, 999), 0);
  ASSERT_EQ(chmod(host_.src("sgid").c_str(), 02777), 0);
  ASSERT_THAT(vfs().WriteFile("/sgid/f", "x"), IsOk());
  EXPECT_EQ(HostLstat(host_.src("sgid/f")).st_uid, 1234u);
  EXPECT_EQ(HostLstat(host_.src("sgid/f")).st_gid, 999u);
}

TEST_F(LoopbackTest, ANodeOnlyKeepsTheDaemonAsOwnerWithoutSetOwner) {
  FakeKernelOptions kernel_options;
  kernel_options.caller = {1234, 5678, static_cast<uint32_t>(getpid())};
  Serve({.set_owner = false}, kernel_options);
  ASSERT_THAT(vfs().WriteFile("/file", "x"), IsOk());
  EXPECT_EQ(HostLstat(host_.src("file")).st_uid, geteuid());
}

// --- Extended attributes -------------------------------------------------------------------

TEST_F(LoopbackTest, XattrsPassThrough) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  if (lsetxattr(host_.src("f").c_str(), "user.probe", "1", 1, 0) != 0 && errno == ENOTSUP) {
    GTEST_SKIP() << "the host filesystem has no user xattrs";
  }
  ASSERT_EQ(lremovexattr(host_.src("f").c_str(), "user.probe"), 0);
  Serve();
  for (std::string path : {"/f", "/d", "/"}) {
    std::string host_path = path == "/" ? host_.src() : host_.src(path.substr(1));
    ASSERT_THAT(vfs().Setxattr(path, "user.color", "blue", 0), IsOk()) << path;
    char buf[64];
    ssize_t n = lgetxattr(host_path.c_str(), "user.color", buf, sizeof(buf));
    ASSERT_EQ(n, 4) << path;
    EXPECT_EQ(std::string(buf, 4), "blue");
    ASSERT_EQ(lsetxattr(host_path.c_str(), "user.size", "large", 5, 0), 0);
    EXPECT_THAT(vfs().Getxattr(path, "user.size"), IsOkAndHolds(std::string("large")));
    EXPECT_THAT(vfs().GetxattrSize(path, "user.size"), IsOkAndHolds(5u));
    Result<std::vector<std::string>> names = vfs().Listxattr(path);
    ASSERT_THAT(names, IsOk());
    EXPECT_THAT(*names, Contains("user.color"));
    EXPECT_THAT(*names, Contains("user.size"));
    EXPECT_THAT(vfs().Setxattr(path, "user.color", "red", XATTR_CREATE), FailsWith(EEXIST));
    EXPECT_THAT(vfs().Setxattr(path, "user.none", "x", XATTR_REPLACE), FailsWith(ENODATA));
    ASSERT_THAT(vfs().Removexattr(path, "user.color"), IsOk());
    EXPECT_LT(lgetxattr(host_path.c_str(), "user.color", buf, sizeof(buf)), 0);
    EXPECT_EQ(errno, ENODATA);
    EXPECT_THAT(vfs().Getxattr(path, "user.color"), FailsWith(ENODATA));
  }
  // A symlink's own xattrs: the link itself, never its target (setxattr(2)
  // follows links in the caller's kernel; a request naming the link node is
  // lsetxattr's). Linux refuses user.* on symlinks; trusted.* works as root.
  ASSERT_THAT(vfs().Symlink("f", "/l"), IsOk());
  uint64_t link = NodeId("/l");
  EXPECT_NE(Call(FuseRequest::Setxattr(link, "user.x", "1", 0)), kOk);
  EXPECT_EQ(Call(FuseRequest::Listxattr(link, 4096)), kOk);
  char buf[8];
  EXPECT_LT(lgetxattr(host_.src("f").c_str(), "user.x", buf, sizeof(buf)), 0);
  if (HostAllows(host_, "trusted_xattr")) {
    ASSERT_EQ(Call(FuseRequest::Setxattr(link, "trusted.loop", "1", 0)), kOk);
    EXPECT_EQ(lgetxattr(host_.src("l").c_str(), "trusted.loop", buf, sizeof(buf)), 1);
    EXPECT_LT(lgetxattr(host_.src("f").c_str(), "trusted.loop", buf, sizeof(buf)), 0);
  }
}

// --- Open files ---------------------------------------------------------------------------------

TEST_F(LoopbackTest, FallocateCopyFileRangeAndSeekDataPassThrough) {
  Serve();
  Result<int> fd = vfs().Open("/f", O_CREAT | O_RDWR, 0644);
  ASSERT_THAT(fd, IsOk());
  ASSERT_THAT(vfs().Fallocate(*fd, 0, 0, 1 << 20), IsOk());
  EXPECT_EQ(HostLstat(host_.src("f")).st_size, 1 << 20);
  ASSERT_THAT(vfs().Fallocate(*fd, FALLOC_FL_KEEP_SIZE, 1 << 20, 1 << 20), IsOk());
  struct stat host = HostLstat(host_.src("f"));
  EXPECT_EQ(host.st_size, 1 << 20);
  EXPECT_GE(host.st_blocks * 512, 2 << 20);
  ASSERT_THAT(vfs().Fallocate(*fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 1 << 20),
              IsOk());
  EXPECT_LT(HostLstat(host_.src("f")).st_blocks, host.st_blocks);
  EXPECT_THAT(vfs().Fallocate(*fd, FALLOC_FL_PUNCH_HOLE, 0, 4096), FailsWith(EOPNOTSUPP));
  EXPECT_THAT(vfs().Close(*fd), IsOk());

  // A sparse file: data at 0 and at 1 MiB.
  int host_fd = open(host_.src("sparse").c_str(), O_CREAT | O_RDWR, 0644);
  ASSERT_GE(host_fd, 0);
  std::string block(4096, 's');
  ASSERT_EQ(pwrite(host_fd, block.data(), block.size(), 0), 4096);
  ASSERT_EQ(pwrite(host_fd, block.data(), block.size(), 1 << 20), 4096);
  off_t host_hole = lseek(host_fd, 0, SEEK_HOLE);
  off_t host_data = lseek(host_fd, 8192, SEEK_DATA);
  close(host_fd);
  fd = vfs().Open("/sparse", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(vfs().Lseek(*fd, 0, SEEK_HOLE), IsOkAndHolds(host_hole));
  EXPECT_THAT(vfs().Lseek(*fd, 8192, SEEK_DATA), IsOkAndHolds(host_data));
  EXPECT_THAT(vfs().Lseek(*fd, (1 << 20) + 8192, SEEK_DATA), FailsWith(ENXIO));

  // copy_file_range between two handles.
  Result<int> out = vfs().Open("/copy", O_CREAT | O_RDWR, 0644);
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(vfs().CopyFileRange(*fd, 0, *out, 100, 4096), IsOkAndHolds(4096u));
  EXPECT_THAT(vfs().Close(*out), IsOk());
  EXPECT_THAT(vfs().Close(*fd), IsOk());
  std::string copy = ReadHostFile(host_.src("copy"));
  EXPECT_EQ(copy, std::string(100, '\0') + block);
}

TEST_F(LoopbackTest, AnUnlinkedOpenFileKeepsWorking) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "still here"));
  Serve();
  uint64_t id = NodeId("/f");
  Result<int> fd = vfs().Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  ASSERT_EQ(unlink(host_.src("f").c_str()), 0);  // behind the kernel's back
  EXPECT_EQ(Call(FuseRequest::Getattr(id)), kOk);
  abi::fuse_setattr_in in{};
  in.valid = abi::kFattrMode;
  in.mode = 0600;
  EXPECT_EQ(Call(FuseRequest::Setattr(id, in)), kOk);
  EXPECT_THAT(vfs().Read(*fd, 100, 0), IsOkAndHolds(std::string("still here")));
  EXPECT_THAT(vfs().Write(*fd, "STILL", 0), IsOkAndHolds(5u));
  EXPECT_THAT(vfs().Read(*fd, 5, 0), IsOkAndHolds(std::string("STILL")));
  EXPECT_THAT(vfs().Close(*fd), IsOk());
}

// A directory removed (here: replaced by a rename) while open is reached
// through its open handle's descriptor: getattr answers (with no links, as
// the host says) where it used to be ESTALE.
TEST_F(LoopbackTest, AReplacedOpenDirectoryKeepsItsAttributes) {
  ASSERT_EQ(mkdir(host_.src("a").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(host_.src("b").c_str(), 0755), 0);
  Serve();
  uint64_t b = NodeId("/b");
  FuseReply opened = kernel().Call(FuseRequest::Open(b, O_RDONLY | O_DIRECTORY, /*dir=*/true));
  ASSERT_EQ(opened.error(), kOk);
  const uint64_t fh = opened.As<abi::fuse_open_out>().fh;
  ASSERT_THAT(vfs().Rename("/a", "/b", 0), IsOk());
  FuseReply attr = kernel().Call(FuseRequest::Getattr(b));
  ASSERT_EQ(attr.error(), kOk);
  EXPECT_EQ(attr.As<abi::fuse_attr_out>().attr.nlink, 0u);
  EXPECT_TRUE(S_ISDIR(attr.As<abi::fuse_attr_out>().attr.mode));
  EXPECT_EQ(Call(FuseRequest::Release(b, fh, O_RDONLY, /*dir=*/true)), kOk);
}

TEST_F(LoopbackTest, ANameReplacedOnTheHostIsStale) {
  ASSERT_TRUE(WriteHostFile(host_.src("a"), "old"));
  Serve();
  uint64_t old_id = NodeId("/a");
  ASSERT_TRUE(WriteHostFile(host_.src("b"), "new"));
  ASSERT_EQ(rename(host_.src("b").c_str(), host_.src("a").c_str()), 0);
  // The kernel still maps "a" to the old node: the daemon says so (ESTALE,
  // which makes the kernel look the name up again) rather than serve
  // another file's attributes under the old inode.
  EXPECT_EQ(Call(FuseRequest::Getattr(old_id)), Errno(ESTALE));
  EXPECT_EQ(Call(FuseRequest::Open(old_id, O_RDONLY)), Errno(ESTALE));
  kernel().clock().Advance(absl::Seconds(2));
  EXPECT_NE(NodeId("/a"), old_id);
  EXPECT_THAT(vfs().ReadFile("/a"), IsOkAndHolds(std::string("new")));
}

// --- Locks --------------------------------------------------------------------------------------

struct flock Lock(short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  return fl;
}

TEST_F(LoopbackTest, PosixLocksConflictBetweenOwnersAndWithTheHost) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), std::string(100, 'x')));
  Serve();
  FakeVfs other(&kernel());  // another process: another lock owner
  Result<int> mine = vfs().Open("/f", O_RDWR, 0);
  Result<int> theirs = other.Open("/f", O_RDWR, 0);
  ASSERT_THAT(mine, IsOk());
  ASSERT_THAT(theirs, IsOk());

  ASSERT_THAT(vfs().Setlk(*mine, Lock(F_WRLCK, 0, 10), false), IsOk());
  EXPECT_THAT(vfs().Setlk(*mine, Lock(F_WRLCK, 5, 10), false), IsOk());  // own locks merge
  EXPECT_THAT(other.Setlk(*theirs, Lock(F_RDLCK, 0, 1), false), FailsWith(EAGAIN));
  EXPECT_THAT(other.Setlk(*theirs, Lock(F_WRLCK, 50, 10), false), IsOk());
  Result<struct flock> conflict = other.Getlk(*theirs, Lock(F_WRLCK, 0, 100));
  ASSERT_THAT(conflict, IsOk());
  EXPECT_EQ(conflict->l_type, F_WRLCK);
  EXPECT_EQ(conflict->l_start, 0);
  EXPECT_EQ(conflict->l_len, 15);
  // Its own locks never conflict with the asker.
  EXPECT_THAT(vfs().Getlk(*mine, Lock(F_WRLCK, 0, 15)),
              IsOkAndHolds(::testing::Field(&flock::l_type, F_UNLCK)));

  // The host sees the locks, and its own lock is seen through the mount.
  int host_fd = open(host_.src("f").c_str(), O_RDWR);
  ASSERT_GE(host_fd, 0);
  struct flock probe = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(host_fd, F_OFD_GETLK, &probe), 0);
  EXPECT_EQ(probe.l_type, F_WRLCK);
  struct flock host_lock = Lock(F_WRLCK, 90, 5);
  ASSERT_EQ(fcntl(host_fd, F_OFD_SETLK, &host_lock), 0);
  EXPECT_THAT(vfs().Setlk(*mine, Lock(F_RDLCK, 92, 1), false), FailsWith(EAGAIN));

  // close(2) of any descriptor of the owner drops its locks (POSIX).
  Result<int> second = vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(second, IsOk());
  EXPECT_THAT(vfs().Close(*second), IsOk());
  EXPECT_THAT(other.Setlk(*theirs, Lock(F_WRLCK, 0, 10), false), IsOk());
  // An explicit unlock too.
  EXPECT_THAT(other.Setlk(*theirs, Lock(F_UNLCK, 0, 0), false), IsOk());
  EXPECT_THAT(vfs().Setlk(*mine, Lock(F_WRLCK, 0, 10), false), IsOk());
  close(host_fd);
  EXPECT_THAT(vfs().Setlk(*mine, Lock(F_WRLCK, 90, 5), false), IsOk());
  EXPECT_THAT(vfs().Close(*mine), IsOk());
  EXPECT_THAT(other.Close(*theirs), IsOk());
}

TEST_F(LoopbackTest, AWaitingLockEndsWhenInterrupted) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  FakeKernelOptions kernel_options;
  kernel_options.server.workers = 2;  // one waits, one hears the INTERRUPT
  Serve({}, kernel_options);
  Result<int> fd = vfs().Open("/f", O_RDWR, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  int host_fd = open(host_.src("f").c_str(), O_RDWR);
  ASSERT_GE(host_fd, 0);
  struct flock host_lock = Lock(F_WRLCK, 0, 0);
  ASSERT_EQ(fcntl(host_fd, F_OFD_SETLK, &host_lock), 0);

  abi::fuse_file_lock lk{};
  lk.type = F_WRLCK;
  lk.end = INT64_MAX;
  FakeKernel::Ticket ticket =
      kernel().Start(FuseRequest::Setlk(file->nodeid, file->fh, 77, lk, /*wait=*/true));
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(kernel().Done(ticket));
  kernel().Interrupt(ticket);
  EXPECT_EQ(kernel().Await(ticket).error(), Errno(EINTR));

  // And one that waits for the host to let go.
  ticket = kernel().Start(FuseRequest::Setlk(file->nodeid, file->fh, 77, lk, /*wait=*/true));
  absl::SleepFor(absl::Milliseconds(20));
  close(host_fd);
  EXPECT_EQ(kernel().Await(ticket).error(), kOk);
  EXPECT_EQ(Call(FuseRequest::Flush(file->nodeid, file->fh, 77)), kOk);
  EXPECT_THAT(vfs().Close(*fd), IsOk());
}

TEST_F(LoopbackTest, FlockLocksBelongToTheOpenFile) {
  ASSERT_TRUE(WriteHostFile(host_.src("f"), "x"));
  Serve();
  Result<int> one = vfs().Open("/f", O_RDONLY, 0);
  Result<int> two = vfs().Open("/f", O_RDONLY, 0);
  ASSERT_THAT(one, IsOk());
  ASSERT_THAT(two, IsOk());
  ASSERT_THAT(vfs().Flock(*one, LOCK_EX | LOCK_NB), IsOk());
  EXPECT_THAT(vfs().Flock(*two, LOCK_SH | LOCK_NB), FailsWith(EAGAIN));
  int host_fd = open(host_.src("f").c_str(), O_RDONLY);
  ASSERT_GE(host_fd, 0);
  EXPECT_NE(flock(host_fd, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(errno, EWOULDBLOCK);
  ASSERT_THAT(vfs().Flock(*one, LOCK_SH | LOCK_NB), IsOk());  // converted
  EXPECT_THAT(vfs().Flock(*two, LOCK_SH | LOCK_NB), IsOk());
  EXPECT_EQ(flock(host_fd, LOCK_SH | LOCK_NB), 0);
  EXPECT_EQ(flock(host_fd, LOCK_UN), 0);
  EXPECT_THAT(vfs().Flock(*two, LOCK_UN), IsOk());
  ASSERT_THAT(vfs().Flock(*one, LOCK_EX | LOCK_NB), IsOk());
  EXPECT_THAT(vfs().Close(*one), IsOk());  // the last close drops it
  EXPECT_EQ(flock(host_fd, LOCK_EX | LOCK_NB), 0);
  close(host_fd);
  EXPECT_THAT(vfs().Close(*two), IsOk());
}

// --- Staying inside ---------------------------------------------------------------------------

TEST_F(LoopbackTest, HostileSymlinksAreServedAsSymlinks) {
  ASSERT_TRUE(WriteHostFile(host_.outside("secret"), "outside"));
  ASSERT_EQ(symlink(host_.outside().c_str(), host_.src("abs").c_str()), 0);
  ASSERT_EQ(symlink("../outside", host_.src("up").c_str()), 0);
  ASSERT_EQ(symlink("/etc", host_.src("etc").c_str()), 0);
  Serve();

  for (const char* name : {"/abs", "/up", "/etc"}) {
    Result<struct stat> st = vfs().Lstat(name);
    ASSERT_THAT(st, IsOk()) << name;
    EXPECT_TRUE(S_ISLNK(st->st_mode)) << name;
  }
  EXPECT_THAT(vfs().Readlink("/up"), IsOkAndHolds(std::string("../outside")));
  EXPECT_THAT(vfs().Readlink("/abs"), IsOkAndHolds(host_.outside()));
  // The (fake) caller resolves "../outside" within its own view of the
  // mount, where it leads nowhere: nothing of the host's outside/ shows.
  EXPECT_THAT(vfs().Stat("/up/secret"), FailsWith(ENOENT));
  EXPECT_THAT(vfs().WriteFile("/up/planted", "x"), Not(IsOk()));

  // Requests that name a symlink as their directory (a kernel never sends
  // them; a daemon must still not follow the link).
  uint64_t up = NodeId("/up");
  uint64_t abs = NodeId("/abs");
  for (uint64_t link : {up, abs}) {
    EXPECT_NE(Call(FuseRequest::Lookup(link, "secret")), kOk);
    EXPECT_NE(Call(FuseRequest::Mkdir(link, "planted_dir", 0755, 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Create(link, "planted", O_WRONLY, 0644, 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Mknod(link, "planted_node", S_IFREG | 0644, 0, 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Symlink(link, "planted_link", "x")), kOk);
    EXPECT_NE(Call(FuseRequest::Unlink(link, "secret")), kOk);
    EXPECT_NE(Call(FuseRequest::Rename(link, "secret", abi::kRootId, "stolen", 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Open(link, O_RDONLY)), kOk);
  }
  // Names that are not one component.
  for (const char* name : {"..", ".", "../outside", "up/secret", ""}) {
    EXPECT_EQ(Call(FuseRequest::Lookup(abi::kRootId, name)), Errno(EINVAL)) << name;
    EXPECT_EQ(Call(FuseRequest::Mkdir(abi::kRootId, name, 0755, 0)), Errno(EINVAL)) << name;
  }
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"secret"});
  EXPECT_EQ(ReadHostFile(host_.outside("secret")), "outside");
  EXPECT_FALSE(HostExists(host_.src("stolen")));
}

TEST_F(LoopbackTest, ADirectoryMovedOutOfTheTreeIsNotFollowed) {
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d/inner"), "in"));
  Serve();
  uint64_t d = NodeId("/d");
  uint64_t inner = NodeId("/d/inner");
  // The host moves it out; the kernel still has it cached.
  ASSERT_EQ(rename(host_.src("d").c_str(), host_.outside("d").c_str()), 0);
  EXPECT_NE(Call(FuseRequest::Lookup(d, "inner")), kOk);
  EXPECT_NE(Call(FuseRequest::Getattr(inner)), kOk);
  EXPECT_NE(Call(FuseRequest::Open(inner, O_RDWR)), kOk);
  EXPECT_NE(Call(FuseRequest::Mkdir(d, "planted_dir", 0755, 0)), kOk);
  EXPECT_NE(Call(FuseRequest::Create(d, "planted", O_WRONLY, 0644, 0)), kOk);
  EXPECT_NE(Call(FuseRequest::Unlink(d, "inner")), kOk);
  EXPECT_NE(Call(FuseRequest::Setxattr(d, "user.x", "1", 0)), kOk);
  EXPECT_EQ(HostList(host_.outside("d")), std::vector<std::string>{"inner"});

  // Replaced by a symlink to where it went: still not followed.
  ASSERT_EQ(symlink(host_.outside("d").c_str(), host_.src("d").c_str()), 0);
  EXPECT_NE(Call(FuseRequest::Lookup(d, "inner")), kOk);
  EXPECT_NE(Call(FuseRequest::Create(d, "planted", O_WRONLY, 0644, 0)), kOk);
  EXPECT_EQ(HostList(host_.outside("d")), std::vector<std::string>{"inner"});

  // Moved back: found again (the same host inode).
  ASSERT_EQ(unlink(host_.src("d").c_str()), 0);
  ASSERT_EQ(rename(host_.outside("d").c_str(), host_.src("d").c_str()), 0);
  FuseReply found = kernel().Call(FuseRequest::Lookup(d, "inner"));
  ASSERT_EQ(found.error(), kOk);
  EXPECT_EQ(found.As<abi::fuse_entry_out>().attr.ino, HostLstat(host_.src("d/inner")).st_ino);
}

// What a host file outside the tree looks like, to show it was not touched:
// any change to its data, mode, owner, times or xattrs moves its ctime.
struct HostSnapshot {
  struct stat st;
  std::string content;
  std::vector<std::string> xattrs;
};
HostSnapshot Snapshot(const std::string& path) {
  HostSnapshot snap{HostLstat(path), ReadHostFile(path), {}};
  char names[1024];
  ssize_t n = llistxattr(path.c_str(), names, sizeof(names));
  for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(strlen(names + i)) + 1) {
    snap.xattrs.emplace_back(names + i);
  }
  return snap;
}
void ExpectUntouched(const HostSnapshot& before, const std::string& path) {
  HostSnapshot now = Snapshot(path);
  EXPECT_EQ(now.st.st_ino, before.st.st_ino) << path;
  EXPECT_EQ(now.st.st_mode, before.st.st_mode) << path;
  EXPECT_EQ(now.st.st_uid, before.st.st_uid) << path;
  EXPECT_EQ(now.st.st_size, before.st.st_size) << path;
  EXPECT_EQ(now.st.st_nlink, before.st.st_nlink) << path;
  EXPECT_EQ(now.st.st_mtim.tv_sec, before.st.st_mtim.tv_sec) << path;
  EXPECT_EQ(now.st.st_mtim.tv_nsec, before.st.st_mtim.tv_nsec) << path;
  EXPECT_EQ(now.st.st_ctim.tv_sec, before.st.st_ctim.tv_sec) << path;
  EXPECT_EQ(now.st.st_ctim.tv_nsec, before.st.st_ctim.tv_nsec) << path;
  EXPECT_EQ(now.content, before.content) << path;
  EXPECT_EQ(now.xattrs, before.xattrs) << path;
}

// Symlinks to a file outside (absolute, and relative through ..): every
// request on the link node acts on the link itself or fails; the file they
// point at is never opened, changed or read by the daemon.
TEST_F(LoopbackTest, RequestsOnASymlinkNeverReachItsTarget) {
  ASSERT_TRUE(WriteHostFile(host_.outside("secret"), "outside secret", 0600));
  ASSERT_EQ(symlink(host_.outside("secret").c_str(), host_.src("abs").c_str()), 0);
  ASSERT_EQ(symlink("../outside/secret", host_.src("rel").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../../../../../../../etc/passwd", host_.src("deep").c_str()),
            0);
  const HostSnapshot secret = Snapshot(host_.outside("secret"));
  const HostSnapshot passwd = Snapshot("/etc/passwd");
  Serve();

  for (const char* name : {"abs", "rel", "deep"}) {
    SCOPED_TRACE(name);
    char buf[256];
    ssize_t n = readlink(host_.src(name).c_str(), buf, sizeof(buf));
    ASSERT_GT(n, 0);
    const std::string target(buf, static_cast<size_t>(n));
    FuseReply entry = kernel().Call(FuseRequest::Lookup(abi::kRootId, name));
    ASSERT_EQ(entry.error(), kOk);
    const abi::fuse_entry_out e = entry.As<abi::fuse_entry_out>();
    EXPECT_TRUE(S_ISLNK(e.attr.mode));
    EXPECT_EQ(e.attr.ino, HostLstat(host_.src(name)).st_ino);
    EXPECT_EQ(e.attr.size, target.size());  // the link's size, not the file's
    const uint64_t link = e.nodeid;
    EXPECT_THAT(vfs().Readlink(absl::StrCat("/", name)), IsOkAndHolds(target));

    FuseReply attr = kernel().Call(FuseRequest::Getattr(link));
    ASSERT_EQ(attr.error(), kOk);
    EXPECT_TRUE(S_ISLNK(attr.As<abi::fuse_attr_out>().attr.mode));

    // SETATTR: chmod (symlinks have no mode of their own: refused, as
    // fchmodat(AT_SYMLINK_NOFOLLOW) is on the host), truncate (not a
    // regular file), times and owner (the link's own).
    abi::fuse_setattr_in chmod_in{};
    chmod_in.valid = abi::kFattrMode;
    chmod_in.mode = 0777;
    EXPECT_NE(Call(FuseRequest::Setattr(link, chmod_in)), kOk);
    abi::fuse_setattr_in truncate_in{};
    truncate_in.valid = abi::kFattrSize;
    EXPECT_NE(Call(FuseRequest::Setattr(link, truncate_in)), kOk);
    abi::fuse_setattr_in times_in{};
    times_in.valid = abi::kFattrAtime | abi::kFattrMtime;
    times_in.atime = times_in.mtime = 1'000'000'000;
    EXPECT_EQ(Call(FuseRequest::Setattr(link, times_in)), kOk);
    EXPECT_EQ(HostLstat(host_.src(name)).st_mtim.tv_sec, 1'000'000'000);
    abi::fuse_setattr_in owner_in{};
    owner_in.valid = abi::kFattrUid | abi::kFattrGid;
    owner_in.uid = getuid();
    owner_in.gid = getgid();
    EXPECT_EQ(Call(FuseRequest::Setattr(link, owner_in)), kOk);

    // OPEN: a kernel never opens a symlink; the daemon must not follow one.
    for (uint32_t flags : {O_RDONLY, O_WRONLY | O_TRUNC, O_RDWR | O_APPEND}) {
      FuseReply opened = kernel().Call(FuseRequest::Open(link, flags));
      EXPECT_NE(opened.error(), kOk) << flags;
      if (opened.error() == kOk) {
        Call(FuseRequest::Release(link, opened.As<abi::fuse_open_out>().fh, flags));
      }
    }
    EXPECT_NE(Call(FuseRequest::Open(link, O_RDONLY | O_DIRECTORY, /*dir=*/true)), kOk);

    // XATTRs act on the link (where user.* is not allowed) or fail; the
    // target's list never shows.
    EXPECT_NE(Call(FuseRequest::Setxattr(link, "user.planted", "1", 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Getxattr(link, "user.planted", 64)), kOk);
    EXPECT_NE(Call(FuseRequest::Removexattr(link, "user.planted")), kOk);
    FuseReply listed = kernel().Call(FuseRequest::Listxattr(link, 1024));
    if (listed.error() == kOk) {
      EXPECT_EQ(listed.body.find("user."), std::string::npos);
    }

    // As a directory: nothing is found, made or removed through it.
    EXPECT_NE(Call(FuseRequest::Lookup(link, "passwd")), kOk);
    EXPECT_NE(Call(FuseRequest::Mknod(link, "planted", S_IFREG | 0644, 0, 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Mknod(link, "fifo", S_IFIFO | 0644, 0, 0)), kOk);
    EXPECT_NE(Call(FuseRequest::Statfs(link)), Errno(EIO));

    // The link as a source of a hard link: the link is linked, not its target.
    FuseReply linked = kernel().Call(FuseRequest::Link(link, abi::kRootId, absl::StrCat(name, "2")));
    if (linked.error() == kOk) {
      EXPECT_TRUE(S_ISLNK(HostLstat(host_.src(absl::StrCat(name, "2"))).st_mode));
    }
  }
  ExpectUntouched(secret, host_.outside("secret"));
  ExpectUntouched(passwd, "/etc/passwd");
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"secret"});
}

// A directory the kernel knows becomes a file (or a symlink) on the host:
// OPENDIR on the old node is ESTALE (the kernel looks the name up again),
// and the name found again is a file, which OPENDIR refuses with ENOTDIR.
TEST_F(LoopbackTest, OpendirOnADirectoryThatBecameAFileIsEnotdir) {
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  ASSERT_EQ(mkdir(host_.src("e").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.outside("secret"), "outside"));
  Serve();
  const uint64_t d = NodeId("/d");
  const uint64_t e = NodeId("/e");
  ASSERT_EQ(rmdir(host_.src("d").c_str()), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d"), "now a file"));
  ASSERT_EQ(rmdir(host_.src("e").c_str()), 0);
  ASSERT_EQ(symlink("../outside", host_.src("e").c_str()), 0);

  for (uint64_t old : {d, e}) {
    EXPECT_EQ(Call(FuseRequest::Open(old, O_RDONLY | O_DIRECTORY, /*dir=*/true)), Errno(ESTALE));
    EXPECT_EQ(Call(FuseRequest::Lookup(old, "secret")), Errno(ESTALE));
    EXPECT_EQ(Call(FuseRequest::Create(old, "planted", O_WRONLY, 0644, 0)), Errno(ESTALE));
  }
  FuseReply again = kernel().Call(FuseRequest::Lookup(abi::kRootId, "d"));
  ASSERT_EQ(again.error(), kOk);
  const abi::fuse_entry_out file = again.As<abi::fuse_entry_out>();
  EXPECT_TRUE(S_ISREG(file.attr.mode));
  EXPECT_NE(file.nodeid, d);
  EXPECT_EQ(Call(FuseRequest::Open(file.nodeid, O_RDONLY | O_DIRECTORY, /*dir=*/true)),
            Errno(ENOTDIR));
  EXPECT_EQ(Call(FuseRequest::Lookup(file.nodeid, "x")), Errno(ENOTDIR));
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"secret"});
}

// A host thread swaps a directory of the tree with a symlink to a canary
// directory outside it (rename(2) RENAME_EXCHANGE), and moves it out of the
// tree and back, while requests on the directory's node and its child's
// run through the fake kernel. Whatever each request answers, the canary
// and its secret are never found, read, changed or added to. Bounded by
// the number of rounds, not by time.
TEST_F(LoopbackTest, HostRenamesRacingRequestsNeverReachOutside) {
  constexpr int kRounds = 400;
  ASSERT_EQ(mkdir(host_.src("d").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.src("d/inner"), "in"));
  ASSERT_EQ(mkdir(host_.outside("canary").c_str(), 0755), 0);
  ASSERT_TRUE(WriteHostFile(host_.outside("canary/secret"), "canary secret"));
  ASSERT_EQ(symlink(host_.outside("canary").c_str(), host_.src("s").c_str()), 0);
  const HostSnapshot secret = Snapshot(host_.outside("canary/secret"));
  const uint64_t secret_ino = secret.st.st_ino;
  Serve();
  const uint64_t d = NodeId("/d");
  const uint64_t inner = NodeId("/d/inner");
  const std::string dir = host_.src("d"), link = host_.src("s"), away = host_.outside("away");

  std::atomic<bool> done{false};
  std::atomic<int> swaps{0};
  std::thread renamer([&] {
    while (!done.load()) {
      renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
      renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
      rename(dir.c_str(), away.c_str());
      rename(away.c_str(), dir.c_str());
      swaps++;
    }
  });
  int found = 0;
  for (int i = 0; i < kRounds; ++i) {
    FuseReply r = kernel().Call(FuseRequest::Lookup(d, "secret"));
    EXPECT_NE(r.error(), kOk) << "round " << i;
    r = kernel().Call(FuseRequest::Lookup(d, "inner"));
    if (r.error() == kOk) {
      found++;
      EXPECT_NE(r.As<abi::fuse_entry_out>().attr.ino, secret_ino);
    }
    r = kernel().Call(FuseRequest::Getattr(inner));
    if (r.error() == kOk) {
      EXPECT_NE(r.As<abi::fuse_attr_out>().attr.ino, secret_ino);
    }
    r = kernel().Call(FuseRequest::Open(inner, O_RDONLY));
    if (r.error() == kOk) {
      uint64_t fh = r.As<abi::fuse_open_out>().fh;
      FuseReply data = kernel().Call(FuseRequest::Read(inner, fh, 0, 64));
      if (data.error() == kOk) {
        EXPECT_EQ(data.body, "in");
      }
      Call(FuseRequest::Release(inner, fh, O_RDONLY));
    }
    const std::string name = absl::StrCat("f", i);
    r = kernel().Call(FuseRequest::Create(d, name, O_WRONLY, 0644, 0));
    if (r.error() == kOk) {
      auto entry = r.As<abi::fuse_entry_out>();
      auto opened = r.As<abi::fuse_open_out>(sizeof(abi::fuse_entry_out));
      Call(FuseRequest::Release(entry.nodeid, opened.fh, O_WRONLY));
      Call(FuseRequest::Unlink(d, name));
    }
    if (Call(FuseRequest::Mkdir(d, name + "dir", 0755, 0)) == kOk) {
      Call(FuseRequest::Rmdir(d, name + "dir"));
    }
    if (Call(FuseRequest::Mknod(d, name + "fifo", S_IFIFO | 0644, 0, 0)) == kOk) {
      Call(FuseRequest::Unlink(d, name + "fifo"));
    }
    abi::fuse_setattr_in chmod_in{};
    chmod_in.valid = abi::kFattrMode;
    chmod_in.mode = (i % 2) ? 0640 : 0644;
    Call(FuseRequest::Setattr(inner, chmod_in));
    Call(FuseRequest::Setattr(d, chmod_in));
    Call(FuseRequest::Setxattr(d, "user.race", "1", 0));
    Call(FuseRequest::Unlink(d, "secret"));
  }
  done = true;
  renamer.join();

  EXPECT_GT(swaps.load(), 0);
  EXPECT_GT(found, 0);
  ExpectUntouched(secret, host_.outside("canary/secret"));
  EXPECT_EQ(HostList(host_.outside("canary")), std::vector<std::string>{"secret"});
  EXPECT_EQ(HostList(host_.outside()), std::vector<std::string>{"canary"});
  EXPECT_TRUE(S_ISDIR(HostLstat(dir).st_mode));
  for (const std::string& n : HostList(dir)) {
    EXPECT_TRUE(n == "inner" || n[0] == 'f') << n;  // left by a request the race failed
  }
}

TEST_F(LoopbackTest, PathsLongerThanPathMaxWork) {
  // 30 levels of 200-byte names: 6 KB, past PATH_MAX, so the daemon has to
  // walk it in steps.
  std::string name(200, 'n');
  std::string host_path = host_.src();
  int dir = open(host_path.c_str(), O_PATH | O_DIRECTORY);
  ASSERT_GE(dir, 0);
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(mkdirat(dir, name.c_str(), 0755), 0);
    int next = openat(dir, name.c_str(), O_PATH | O_DIRECTORY);
    close(dir);
    ASSERT_GE(next, 0);
    dir = next;
  }
  int file = openat(dir, "leaf", O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(file, 0);
  ASSERT_EQ(write(file, "deep", 4), 4);
  close(file);
  close(dir);
  Serve();
  uint64_t at = abi::kRootId;
  for (int i = 0; i < 30; ++i) {
    FuseReply r = kernel().Call(FuseRequest::Lookup(at, name));
    ASSERT_EQ(r.error(), kOk) << "level " << i;
    at = r.As<abi::fuse_entry_out>().nodeid;
  }
  FuseReply leaf = kernel().Call(FuseRequest::Lookup(at, "leaf"));
  ASSERT_EQ(leaf.error(), kOk);
  EXPECT_EQ(leaf.As<abi::fuse_entry_out>().attr.size, 4u);
  FuseReply created = kernel().Call(FuseRequest::Create(at, "more", O_WRONLY, 0644, 0));
  ASSERT_EQ(created.error(), kOk);
  auto entry = created.As<abi::fuse_entry_out>();
  auto opened = created.As<abi::fuse_open_out>(sizeof(abi::fuse_entry_out));
  EXPECT_EQ(Call(FuseRequest::Release(entry.nodeid, opened.fh, O_WRONLY)), kOk);
}

TEST_F(LoopbackTest, OpeningTheRootFailsCleanly) {
  EXPECT_TRUE(absl::IsNotFound(NewLoopbackRoot(host_.src("missing")).status()));
  ASSERT_TRUE(WriteHostFile(host_.src("file"), "x"));
  EXPECT_TRUE(absl::IsFailedPrecondition(NewLoopbackRoot(host_.src("file")).status()));
  absl::Status status = NewLoopbackRoot(host_.src("missing")).status();
  EXPECT_THAT(std::string(status.message()), ::testing::HasSubstr(host_.src("missing")));
}

}  // namespace
}  // namespace fusekit::examples
