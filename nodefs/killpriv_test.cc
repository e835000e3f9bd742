// FUSE_HANDLE_KILLPRIV_V2 through the fake kernel: the daemon, not the
// kernel, drops set-user-ID/set-group-ID bits and file capabilities on
// write, truncate, open(O_TRUNC) and chown (Node::KillPrivileges), as the
// kernel's own filesystems do. The FakeVfs sends the kernel's signals
// (write_flags, FATTR_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID) for a caller
// other than root. examples/memfs/memfs_mount_test.cc checks the same on a
// real mount, with the round trip it saves.
#include <fcntl.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "fuse/kernel_abi.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/matchers.h"
#include "testing/nodefs_fake_kernel.h"

namespace fusekit {
namespace {

constexpr char kCapability[] = "security.capability";

FakeKernelOptions CalledBy(uint32_t uid) {
  FakeKernelOptions options;
  options.caller.uid = uid;
  options.caller.gid = uid;
  return options;
}

// A MemDir tree served to a fake kernel whose requests come from `uid`.
struct Tree {
  explicit Tree(uint32_t uid, Options options = {})
      : fs(std::make_unique<MemDir>(S_IFDIR | 0777), options, CalledBy(uid)) {}

  FakeVfs& vfs() { return fs.vfs(); }
  // A file `path` holding "data", with `mode` (and a capability xattr
  // when `capability`).
  void MakeFile(absl::string_view path, mode_t mode, bool capability = false) {
    Result<int> fd = vfs().Open(path, O_CREAT | O_WRONLY, 0644);
    ASSERT_THAT(fd, IsOk());
    ASSERT_THAT(vfs().Write(*fd, "data", 0), IsOk());
    ASSERT_THAT(vfs().Close(*fd), IsOk());
    ASSERT_THAT(vfs().Chmod(path, mode), IsOk());
    if (capability) {
      ASSERT_THAT(vfs().Setxattr(path, kCapability, "caps", 0), IsOk());
    }
  }
  mode_t Mode(absl::string_view path) {
    Result<struct stat> st = vfs().Stat(path);
    EXPECT_THAT(st, IsOk());
    return st.ok() ? st->st_mode & 07777 : 0;
  }
  bool HasCapability(absl::string_view path) {
    return vfs().Getxattr(path, kCapability).ok();
  }
  void WriteAt(absl::string_view path, absl::string_view data) {
    Result<int> fd = vfs().Open(path, O_WRONLY, 0);
    ASSERT_THAT(fd, IsOk());
    EXPECT_THAT(vfs().Write(*fd, data, 0), IsOk());
    EXPECT_THAT(vfs().Close(*fd), IsOk());
  }

  NodefsFakeKernel fs;
};

TEST(KillprivTest, InitAsksForKillprivV2UnlessTurnedOff) {
  Tree on(0);
  EXPECT_TRUE(on.fs.kernel().connection().Has(abi::kInitHandleKillprivV2));
  Options options;
  options.handle_killpriv = false;
  Tree off(0, options);
  EXPECT_FALSE(off.fs.kernel().connection().Has(abi::kInitHandleKillprivV2));
}

TEST(KillprivTest, ModeAfterKillFollowsTheKernelsRule) {
  EXPECT_EQ(ModeAfterKill(S_IFREG | 06755, true), static_cast<uint32_t>(S_IFREG | 0755));
  // Set-group-ID without group-execute is mandatory locking: kept.
  EXPECT_EQ(ModeAfterKill(S_IFREG | 06745, true), static_cast<uint32_t>(S_IFREG | 02745));
  EXPECT_EQ(ModeAfterKill(S_IFREG | 06755, false), static_cast<uint32_t>(S_IFREG | 06755));
  EXPECT_EQ(ModeAfterKill(S_IFDIR | 02775, true), static_cast<uint32_t>(S_IFDIR | 02775));
}

TEST(KillprivTest, UnprivilegedWriteDropsSetuidSetgidAndCapability) {
  Tree t(1000);
  t.MakeFile("/exe", 06755, /*capability=*/true);
  t.MakeFile("/locked", 06745);
  t.WriteAt("/exe", "new");
  t.WriteAt("/locked", "new");
  EXPECT_EQ(t.Mode("/exe"), 0755u);
  EXPECT_FALSE(t.HasCapability("/exe"));
  EXPECT_EQ(t.Mode("/locked"), 02745u);  // no group-execute: set-group-ID stays
  Result<int> fd = t.vfs().Open("/exe", O_RDONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(t.vfs().Read(*fd, 10, 0), IsOkAndHolds(std::string("newa")));
  EXPECT_THAT(t.vfs().Close(*fd), IsOk());
}

TEST(KillprivTest, RootWriteKeepsSetuidButDropsTheCapability) {
  // Root has CAP_FSETID: the kernel does not ask for the bits to go, but
  // capabilities go whoever writes.
  Tree t(0);
  t.MakeFile("/exe", 04755, /*capability=*/true);
  t.WriteAt("/exe", "new");
  EXPECT_EQ(t.Mode("/exe"), 04755u);
  EXPECT_FALSE(t.HasCapability("/exe"));
}

TEST(KillprivTest, WriteThatDropsABitInvalidatesTheKernelsAttributes) {
  Tree t(1000);
  t.MakeFile("/exe", 04755);
  Result<uint64_t> id = t.vfs().Lookup("/exe");
  ASSERT_THAT(id, IsOk());
  t.fs.kernel().ProcessPendingMessages();
  t.fs.kernel().TakeNotifications();
  t.WriteAt("/exe", "x");
  ASSERT_TRUE(t.fs.kernel().WaitForNotifications(1));
  std::vector<ReceivedNotification> got = t.fs.kernel().TakeNotifications();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].code, abi::NotifyCode::kInvalInode);
  auto inval = got[0].As<abi::fuse_notify_inval_inode_out>();
  EXPECT_EQ(inval.ino, *id);
  EXPECT_EQ(inval.off, -1);
  // A second write has nothing to drop and says nothing.
  t.WriteAt("/exe", "y");
  t.fs.kernel().ProcessPendingMessages();
  EXPECT_TRUE(t.fs.kernel().TakeNotifications().empty());
}

TEST(KillprivTest, TruncateDropsForUnprivilegedCallersOnly) {
  Tree user(1000);
  user.MakeFile("/f", 06755, /*capability=*/true);
  ASSERT_THAT(user.vfs().Truncate("/f", 1), IsOk());
  EXPECT_EQ(user.Mode("/f"), 0755u);
  EXPECT_FALSE(user.HasCapability("/f"));

  Tree root(0);
  root.MakeFile("/f", 06755, /*capability=*/true);
  ASSERT_THAT(root.vfs().Truncate("/f", 1), IsOk());
  EXPECT_EQ(root.Mode("/f"), 06755u);
  EXPECT_FALSE(root.HasCapability("/f"));
}

TEST(KillprivTest, ChownDropsEvenForRootButNotOnDirectories) {
  Tree t(0);
  t.MakeFile("/f", 06755, /*capability=*/true);
  ASSERT_THAT(t.vfs().Mkdir("/d", 02775), IsOk());
  ASSERT_THAT(t.vfs().Chmod("/d", 02775), IsOk());
  ASSERT_THAT(t.vfs().Chown("/f", 1, 1), IsOk());
  ASSERT_THAT(t.vfs().Chown("/d", 1, 1), IsOk());
  EXPECT_EQ(t.Mode("/f"), 0755u);
  EXPECT_FALSE(t.HasCapability("/f"));
  EXPECT_EQ(t.Mode("/d"), 02775u);
  // The SETATTR reply carried the new mode: the kernel's copy is right.
  Result<struct stat> st = t.vfs().Stat("/f");
  ASSERT_THAT(st, IsOk());
  EXPECT_EQ(st->st_uid, 1u);
}

TEST(KillprivTest, OpenWithTruncDropsLikeTruncate) {
  Tree t(1000);
  t.MakeFile("/f", 04755);
  Result<int> fd = t.vfs().Open("/f", O_WRONLY | O_TRUNC, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(t.vfs().Close(*fd), IsOk());
  EXPECT_EQ(t.Mode("/f"), 0755u);
}

TEST(KillprivTest, CreateKeepsANewFilesModeAndDropsAnExistingOnesOnTrunc) {
  Tree t(1000);
  Result<int> fd = t.vfs().Open("/new", O_CREAT | O_WRONLY | O_TRUNC, 04755);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(t.vfs().Close(*fd), IsOk());
  EXPECT_EQ(t.Mode("/new"), 04755u);

  // CREATE of a name the tree has but the kernel does not know (another
  // client made it): an open with O_TRUNC of an existing file.
  auto file = std::make_unique<MemFile>(S_IFREG | 04755, 0, 0);
  Inode* other = t.fs.root()->NewInode(std::move(file), StableAttr{.mode = S_IFREG});
  ASSERT_TRUE(t.fs.root()->AddChild("other", other, false));
  fd = t.vfs().Open("/other", O_CREAT | O_WRONLY | O_TRUNC, 04755);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(t.vfs().Close(*fd), IsOk());
  EXPECT_EQ(t.Mode("/other"), 0755u);
}

TEST(KillprivTest, WithoutKillprivV2OnlyTheWriteFlagCounts) {
  // Direct-I/O writes carry FUSE_WRITE_KILL_SUIDGID without V2 (the kernel
  // then leaves capabilities to its own check, which asks GETXATTR).
  Options options;
  options.handle_killpriv = false;
  Tree t(0, options);
  t.MakeFile("/f", 04755, /*capability=*/true);
  Result<int> fd = t.vfs().Open("/f", O_WRONLY, 0);
  ASSERT_THAT(fd, IsOk());
  Result<FakeVfs::OpenFile> file = t.vfs().File(*fd);
  ASSERT_THAT(file, IsOk());
  FuseRequest write = FuseRequest::Write(file->nodeid, file->fh, 0, "x");
  write.EditArg<abi::fuse_write_in>([](auto& in) { in.write_flags |= abi::kWriteKillSuidgid; });
  EXPECT_THAT(t.fs.kernel().Call(write).error(), IsOk());
  EXPECT_THAT(t.vfs().Close(*fd), IsOk());
  EXPECT_EQ(t.Mode("/f"), 0755u);
  EXPECT_TRUE(t.HasCapability("/f"));
}

// A node with none of MemNode's shortcuts: the default KillPrivileges goes
// through Getattr, Setattr and Removexattr.
class PlainFile : public Node {
 public:
  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    out->attr.mode = mode;
    out->attr.size = 1;
    return kOk;
  }
  Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) override {
    if (in.valid & abi::kFattrMode) mode = (mode & S_IFMT) | (in.mode & 07777);
    setattr_valid.push_back(in.valid);
    return Getattr(ctx, fh, out);
  }
  Errno Removexattr(const Context&, absl::string_view name) override {
    removed.emplace_back(name);
    return Errno(ENODATA);
  }
  Errno Open(const Context&, uint32_t, OpenOut*) override { return kOk; }
  Errno Write(const Context&, FileHandle*, uint64_t, absl::Span<const uint8_t> data,
              uint32_t* written) override {
    *written = static_cast<uint32_t>(data.size());
    return kOk;
  }

  uint32_t mode = S_IFREG | 04755;
  std::vector<uint32_t> setattr_valid;
  std::vector<std::string> removed;
};

TEST(KillprivTest, DefaultKillGoesThroughGetattrSetattrAndRemovexattr) {
  auto root = std::make_unique<MemDir>(S_IFDIR | 0777);
  MemDir* dir = root.get();
  NodefsFakeKernel fs(std::move(root), Options{}, CalledBy(1000));
  auto plain = std::make_unique<PlainFile>();
  PlainFile* node = plain.get();
  ASSERT_TRUE(dir->inode()->AddChild(
      "p", dir->inode()->NewInode(std::move(plain), StableAttr{.mode = S_IFREG}), false));
  Result<int> fd = fs.vfs().Open("/p", O_WRONLY, 0);
  ASSERT_THAT(fd, IsOk());
  EXPECT_THAT(fs.vfs().Write(*fd, "a", 0), IsOk());
  EXPECT_THAT(fs.vfs().Write(*fd, "b", 0), IsOk());
  EXPECT_THAT(fs.vfs().Close(*fd), IsOk());
  EXPECT_EQ(node->mode, static_cast<uint32_t>(S_IFREG | 0755));
  // One mode change (the second write found nothing to drop); the
  // capability asked for at each write, its ENODATA no error.
  EXPECT_EQ(node->setattr_valid, std::vector<uint32_t>{abi::kFattrMode});
  EXPECT_EQ(node->removed, (std::vector<std::string>{kCapability, kCapability}));
}

}  // namespace
}  // namespace fusekit
