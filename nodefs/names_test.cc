// Hostile and unusual names: memfs (MemDir behind the Bridge) answered over
// the raw wire, so names the kernel itself would never send arrive too, and
// on a real mount, where the kernel's own checks come first.
//
// What each gets, and why:
// * 255 bytes: fine (NAME_MAX). 256 bytes: ENAMETOOLONG from the daemon.
//   The kernel lets names up to FUSE_NAME_MAX (1024, fs/fuse/fuse_i.h)
//   through to the daemon (fuse_lookup_name), so refusing is our job.
// * '/' inside a name, or an empty name: EINVAL. The kernel's path walk
//   never makes such a component, so the wire has no kernel precedent; the
//   decoder refuses them with EINVAL rather than ENOENT so that a LOOKUP
//   never turns them into a cached negative dentry (which ENOENT would).
// * "." and ".." as the name to create, remove or rename (MemDir's answers;
//   other nodes decide for themselves, loopback's say EINVAL): what the
//   kernel answers before it ever asks a filesystem (fs/namei.c): creating
//   (filename_create) EEXIST; unlink (do_unlinkat) EISDIR; rmdir "."
//   EINVAL and ".." ENOTEMPTY (do_rmdir); rename from or to one
//   (do_renameat2) EBUSY, or EEXIST for a target with RENAME_NOREPLACE.
//   LOOKUP of them finds no child: ENOENT.
// * Bytes above 0x7f: ordinary bytes; names are not UTF-8 to the kernel.
// * A name without its NUL, or a body cut short: EIO (malformed request).
// Nothing of the above may create a node, crash, or stop the server.
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fuse/kernel_abi.h"
#include "fuse/wire_test_util.h"
#include "gtest/gtest.h"
#include "nodefs/bridge.h"
#include "nodefs/mem_node.h"
#include "testing/mount_fixture.h"

namespace fusekit {
namespace {

using abi::Opcode;

const std::string kName255(255, 'n');
const std::string kName256(256, 'n');

class NamesTest : public ::testing::Test {
 protected:
  NamesTest() : bridge_(std::make_unique<MemDir>(), Options()) {
    ServerOptions options = ServerOptionsFor(Options());
    options.workers = 1;
    peer_ = std::make_unique<WirePeer>(&bridge_, options);
    auto init = peer_->Init();
    EXPECT_TRUE(init.has_value() && init->error() == 0);
  }

  // The errno of the reply to `request` (0: success); -1 if none came.
  int Errno(RequestBuilder request) {
    auto reply = peer_->Call(request.Build());
    return reply ? reply->error() : -1;
  }
  int ErrnoOfFrame(const std::string& frame) {
    auto reply = peer_->Call(frame);
    return reply ? reply->error() : -1;
  }
  uint64_t U() { return peer_->NextUnique(); }

  RequestBuilder Lookup(absl::string_view name, uint64_t dir = abi::kRootId) {
    return std::move(RequestBuilder(Opcode::kLookup, U(), dir).Name(name));
  }
  RequestBuilder Mkdir(absl::string_view name) {
    abi::fuse_mkdir_in in{0755, 0};
    return std::move(RequestBuilder(Opcode::kMkdir, U()).Arg(in).Name(name));
  }
  RequestBuilder Mknod(absl::string_view name) {
    abi::fuse_mknod_in in{};
    in.mode = S_IFIFO | 0644;
    return std::move(RequestBuilder(Opcode::kMknod, U()).Arg(in).Name(name));
  }
  RequestBuilder Create(absl::string_view name) {
    abi::fuse_create_in in{};
    in.flags = O_CREAT | O_RDWR;
    in.mode = S_IFREG | 0644;
    return std::move(RequestBuilder(Opcode::kCreate, U()).Arg(in).Name(name));
  }
  RequestBuilder Symlink(absl::string_view name, absl::string_view target = "target") {
    return std::move(RequestBuilder(Opcode::kSymlink, U()).Name(name).Name(target));
  }
  RequestBuilder Link(uint64_t node, absl::string_view name) {
    abi::fuse_link_in in{node};
    return std::move(RequestBuilder(Opcode::kLink, U()).Arg(in).Name(name));
  }
  RequestBuilder Rename(absl::string_view from, absl::string_view to, uint32_t flags = 0) {
    abi::fuse_rename2_in in{};
    in.newdir = abi::kRootId;
    in.flags = flags;
    return std::move(RequestBuilder(Opcode::kRename2, U()).Arg(in).Name(from).Name(to));
  }
  RequestBuilder Unlink(absl::string_view name) {
    return std::move(RequestBuilder(Opcode::kUnlink, U()).Name(name));
  }
  RequestBuilder Rmdir(absl::string_view name) {
    return std::move(RequestBuilder(Opcode::kRmdir, U()).Name(name));
  }

  // A regular file "f" made for LINK and RENAME sources; returns its node id.
  uint64_t MakeFile(absl::string_view name = "f") {
    auto reply = peer_->Call(Create(name).Build());
    EXPECT_TRUE(reply.has_value() && reply->error() == 0);
    return reply ? reply->As<abi::fuse_entry_out>().nodeid : 0;
  }

  std::set<std::string> RootNames() {
    std::set<std::string> names;
    for (auto& [name, child] : bridge_.root()->Children()) names.insert(name);
    return names;
  }

  // The server still answers: GETATTR of the root.
  void ExpectAlive() {
    EXPECT_EQ(Errno(std::move(RequestBuilder(Opcode::kGetattr, U()).Arg(abi::fuse_getattr_in{}))),
              0);
  }

  Bridge bridge_;
  std::unique_ptr<WirePeer> peer_;
};

TEST_F(NamesTest, MaxLengthNamesWork) {
  EXPECT_EQ(Errno(Mkdir(kName255)), 0);
  EXPECT_EQ(Errno(Lookup(kName255)), 0);
  EXPECT_EQ(Errno(Rmdir(kName255)), 0);
  uint64_t f = MakeFile();
  ASSERT_NE(f, 0u);
  EXPECT_EQ(Errno(Link(f, kName255)), 0);
  EXPECT_EQ(Errno(Unlink(kName255)), 0);
  EXPECT_EQ(Errno(Rename("f", kName255)), 0);
  EXPECT_EQ(Errno(Rename(kName255, "f")), 0);
  EXPECT_EQ(Errno(Symlink(kName255, std::string(4000, 't'))), 0);
  EXPECT_EQ(Errno(Unlink(kName255)), 0);
  EXPECT_EQ(Errno(Mknod(kName255)), 0);
  EXPECT_EQ(Errno(Unlink(kName255)), 0);
  EXPECT_EQ(Errno(Create(kName255)), 0);
  EXPECT_EQ(RootNames(), (std::set<std::string>{"f", kName255}));
}

TEST_F(NamesTest, OverlongNamesAreNameTooLong) {
  uint64_t f = MakeFile();
  for (const std::string& name : {kName256, std::string(1024, 'n'), std::string(5000, 'n')}) {
    SCOPED_TRACE(name.size());
    EXPECT_EQ(Errno(Lookup(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Mkdir(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Mknod(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Create(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Symlink(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Link(f, name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Rename("f", name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Rename(name, "g")), ENAMETOOLONG);
    EXPECT_EQ(Errno(Unlink(name)), ENAMETOOLONG);
    EXPECT_EQ(Errno(Rmdir(name)), ENAMETOOLONG);
  }
  EXPECT_EQ(RootNames(), (std::set<std::string>{"f"}));
  ExpectAlive();
}

TEST_F(NamesTest, SlashAndEmptyNamesAreInvalid) {
  uint64_t f = MakeFile();
  ASSERT_EQ(Errno(Mkdir("a")), 0);
  for (const std::string name : {"a/b", "/", "a/", "/a", ""}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Errno(Lookup(name)), EINVAL);
    EXPECT_EQ(Errno(Mkdir(name)), EINVAL);
    EXPECT_EQ(Errno(Mknod(name)), EINVAL);
    EXPECT_EQ(Errno(Create(name)), EINVAL);
    EXPECT_EQ(Errno(Symlink(name)), EINVAL);
    EXPECT_EQ(Errno(Link(f, name)), EINVAL);
    EXPECT_EQ(Errno(Rename("f", name)), EINVAL);
    EXPECT_EQ(Errno(Rename(name, "g")), EINVAL);
    EXPECT_EQ(Errno(Unlink(name)), EINVAL);
    EXPECT_EQ(Errno(Rmdir(name)), EINVAL);
  }
  // A symlink's target is a path, not a name: slashes and all are fine.
  EXPECT_EQ(Errno(Symlink("l", "/a/b/../c")), 0);
  EXPECT_EQ(RootNames(), (std::set<std::string>{"a", "f", "l"}));
  EXPECT_EQ(bridge_.root()->GetChild("a")->Children().size(), 0u);
}

TEST_F(NamesTest, DotNamesGetTheKernelsAnswers) {
  uint64_t f = MakeFile();
  ASSERT_EQ(Errno(Mkdir("d")), 0);
  const size_t inodes = bridge_.InodeCount();
  for (const std::string name : {".", ".."}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Errno(Mkdir(name)), EEXIST);
    EXPECT_EQ(Errno(Mknod(name)), EEXIST);
    EXPECT_EQ(Errno(Create(name)), EEXIST);
    EXPECT_EQ(Errno(Symlink(name)), EEXIST);
    EXPECT_EQ(Errno(Link(f, name)), EEXIST);
    EXPECT_EQ(Errno(Unlink(name)), EISDIR);
    EXPECT_EQ(Errno(Rename("f", name)), EBUSY);
    EXPECT_EQ(Errno(Rename("f", name, RENAME_NOREPLACE)), EEXIST);
    EXPECT_EQ(Errno(Rename(name, "g")), EBUSY);
    EXPECT_EQ(Errno(Rename(name, "g", RENAME_NOREPLACE)), EBUSY);
    EXPECT_EQ(Errno(Rename("d", name, RENAME_EXCHANGE)), EBUSY);
    EXPECT_EQ(Errno(Lookup(name)), ENOENT);
  }
  EXPECT_EQ(Errno(Rmdir(".")), EINVAL);
  EXPECT_EQ(Errno(Rmdir("..")), ENOTEMPTY);
  // Nothing was made, moved or removed.
  EXPECT_EQ(RootNames(), (std::set<std::string>{"d", "f"}));
  EXPECT_EQ(bridge_.InodeCount(), inodes);
}

TEST_F(NamesTest, HighBytesAreOrdinary) {
  const std::vector<std::string> names = {"\xc3\xa9t\xc3\xa9", "\xff\xfe", "\x80", "a\x7f\x80\xff",
                                          std::string(255, '\xff')};
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    EXPECT_EQ(Errno(Create(name)), 0);
    EXPECT_EQ(Errno(Lookup(name)), 0);
  }
  std::set<std::string> want(names.begin(), names.end());
  EXPECT_EQ(RootNames(), want);
  // Listed byte for byte.
  abi::fuse_open_in open_in{};
  auto opened = peer_->Call(RequestBuilder(Opcode::kOpendir, U()).Arg(open_in).Build());
  ASSERT_TRUE(opened.has_value() && opened->error() == 0);
  abi::fuse_read_in read_in{};
  read_in.fh = opened->As<abi::fuse_open_out>().fh;
  read_in.size = 8192;
  auto listed = peer_->Call(RequestBuilder(Opcode::kReaddir, U()).Arg(read_in).Build());
  ASSERT_TRUE(listed.has_value() && listed->error() == 0);
  std::set<std::string> seen;
  for (size_t at = 0; at + sizeof(abi::fuse_dirent) <= listed->body.size();) {
    abi::fuse_dirent d;
    memcpy(&d, listed->body.data() + at, sizeof(d));
    seen.insert(listed->body.substr(at + sizeof(d), d.namelen));
    at += (sizeof(d) + d.namelen + 7) & ~size_t{7};
  }
  want.insert(".");
  want.insert("..");
  EXPECT_EQ(seen, want);
  EXPECT_EQ(Errno(Rename(names[0], names[1])), 0);
  EXPECT_EQ(Errno(Unlink(names[1])), 0);
  EXPECT_EQ(Errno(Lookup(names[0])), ENOENT);
}

TEST_F(NamesTest, MalformedNamesAreRefused) {
  uint64_t f = MakeFile();
  // No NUL after the name.
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kLookup, U()).Bytes("abc").Build()), EIO);
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kUnlink, U()).Bytes("f").Build()), EIO);
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kMkdir, U())
                             .Arg(abi::fuse_mkdir_in{0755, 0})
                             .Bytes(std::string(300, 'x'))
                             .Build()),
            EIO);
  // The second name (the target, the new name) without its NUL.
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kSymlink, U()).Name("l").Bytes("t").Build()), EIO);
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kRename, U())
                             .Arg(abi::fuse_rename_in{abi::kRootId})
                             .Name("f")
                             .Bytes("g")
                             .Build()),
            EIO);
  // Bodies cut inside the fixed arguments or the name.
  std::string mkdir = RequestBuilder(Opcode::kMkdir, U()).Arg(abi::fuse_mkdir_in{}).Name("m").Build();
  for (size_t cut = sizeof(abi::fuse_in_header); cut < mkdir.size(); ++cut) {
    std::string frame = mkdir.substr(0, cut);
    uint32_t len = static_cast<uint32_t>(frame.size());
    memcpy(&frame[0], &len, sizeof(len));
    EXPECT_EQ(ErrnoOfFrame(frame), EIO) << "cut at " << cut;
  }
  // header.len larger than the message: refused, not read past the end.
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kLookup, U()).Name("f").BuildWithLength(4096)),
            EIO);
  // A NUL inside: the name ends there, the rest is not a name.
  EXPECT_EQ(ErrnoOfFrame(RequestBuilder(Opcode::kLookup, U()).Bytes(absl::string_view("f\0zz\0", 5)).Build()),
            0);
  // LINK to a node id that does not exist, with a good name.
  EXPECT_EQ(Errno(Link(f + 1000, "h")), ESTALE);
  EXPECT_EQ(RootNames(), (std::set<std::string>{"f"}));
  ExpectAlive();
}

// On a real mount the kernel checks first: what reaches the daemon, and
// what the caller sees.
class NamesMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Options options;
    bridge_ = std::make_unique<Bridge>(std::make_unique<MemDir>(), options);
    MountForTest(bridge_.get(), options.mount, ServerOptionsFor(options), &mount_);
    if (mount_ == nullptr) return;
    bridge_->SetNotifier(&mount_->server().notifier());
  }
  void TearDown() override { mount_.reset(); }

  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<TestMount> mount_;
};

TEST_F(NamesMountTest, LengthsAndBytes) {
  if (mount_ == nullptr) return;
  const std::string dir = mount_->path();
  EXPECT_EQ(mkdir((dir + "/" + kName255).c_str(), 0755), 0) << strerror(errno);
  errno = 0;
  EXPECT_EQ(mkdir((dir + "/" + kName256).c_str(), 0755), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  errno = 0;
  struct stat st;
  EXPECT_EQ(stat((dir + "/" + std::string(1000, 'n')).c_str(), &st), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
  const std::string high = "\xff\xfe\x80\xc3\xa9";
  int fd = open((dir + "/" + high).c_str(), O_CREAT | O_WRONLY, 0644);
  EXPECT_GE(fd, 0) << strerror(errno);
  if (fd >= 0) close(fd);
  std::set<std::string> names;
  if (DIR* d = opendir(dir.c_str())) {
    while (struct dirent* e = readdir(d)) names.insert(e->d_name);
    closedir(d);
  }
  EXPECT_EQ(names, (std::set<std::string>{".", "..", kName255, high}));
  // Paths: 15 levels of 255-byte names (3840 bytes below the mount) work;
  // past PATH_MAX (4096 with the NUL) the kernel refuses before we see it.
  std::string path = dir;
  int depth = 0;
  for (; depth < 15; ++depth) {
    path += "/" + std::string(255, static_cast<char>('a' + depth));
    if (mkdir(path.c_str(), 0755) != 0) break;
  }
  // The mount point's own path takes some of the 4096 bytes.
  const int fits = static_cast<int>((4095 - dir.size()) / 256);
  EXPECT_GE(depth, std::min(fits, 15));
  std::string too_long = dir + "/" + std::string(4096, 'x');
  errno = 0;
  EXPECT_EQ(stat(too_long.c_str(), &st), -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

}  // namespace
}  // namespace fusekit
