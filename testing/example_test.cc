// The example of docs/testing.md, kept as a real test so the guide cannot
// drift from the code: a small filesystem and its tests, on the fake kernel
// and on a real mount; and a node tree (nodefs/) tested through
// NodefsFakeKernel.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "fuse/mutex.h"
#include "fuse/raw_filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nodefs/mem_node.h"
#include "nodefs/node.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/lookup_count_source.h"
#include "testing/matchers.h"
#include "testing/mount_fixture.h"
#include "testing/nodefs_fake_kernel.h"

namespace {

using fusekit::abi::fuse_attr;
using ::testing::ElementsAre;

// [filesystem] The filesystem under test: a root directory holding one file,
// "greeting". It keeps the lookup count of the file, as every filesystem
// that frees nodes must, and shows it to the fake kernel.
class GreetingFs : public fusekit::RawFileSystem, public fusekit::LookupCountSource {
 public:
  static constexpr uint64_t kFileId = 2;

  explicit GreetingFs(std::string text) : text_(std::move(text)) {}

  void Lookup(fusekit::ReplyEntry reply, uint64_t parent, absl::string_view name) override {
    if (parent != fusekit::abi::kRootId || name != "greeting") {
      reply.Error(fusekit::Errno(ENOENT));
      return;
    }
    fusekit::MutexLock lock(&mu_);
    fusekit::EntryParam entry;
    entry.nodeid = kFileId;
    entry.entry_timeout = absl::Seconds(1);
    entry.attr_timeout = absl::Seconds(1);
    entry.attr = AttrLocked(kFileId);
    ++lookups_;  // every entry reply is one more lookup for the kernel
    reply.Entry(entry);
  }
  void Forget(const fusekit::RequestContext&, uint64_t nodeid, uint64_t nlookup) override {
    fusekit::MutexLock lock(&mu_);
    if (nodeid == kFileId) lookups_ -= nlookup;
  }
  void Getattr(fusekit::ReplyAttr reply, uint64_t nodeid,
               const fusekit::abi::fuse_getattr_in&) override {
    fusekit::MutexLock lock(&mu_);
    reply.Attr(AttrLocked(nodeid), absl::Seconds(1));
  }
  void Open(fusekit::ReplyOpen reply, uint64_t nodeid,
            const fusekit::abi::fuse_open_in&) override {
    if (nodeid != kFileId) {
      reply.Error(fusekit::Errno(EISDIR));
      return;
    }
    reply.Open({});
  }
  void Read(fusekit::ReplyData reply, uint64_t, const fusekit::abi::fuse_read_in& in) override {
    fusekit::MutexLock lock(&mu_);
    std::string part = in.offset < text_.size() ? text_.substr(in.offset, in.size) : "";
    reply.Data(absl::string_view(part));
  }
  void Opendir(fusekit::ReplyOpen reply, uint64_t, const fusekit::abi::fuse_open_in&) override {
    reply.Open({});
  }
  void Readdir(fusekit::ReplyDirectory reply, uint64_t,
               const fusekit::abi::fuse_read_in& in) override {
    // Entry i resumes at offset i + 1: any offset handed out continues the
    // listing exactly after its entry.
    const struct {
      const char* name;
      uint64_t ino;
      uint32_t type;
    } rows[] = {{".", 1, DT_DIR}, {"..", 1, DT_DIR}, {"greeting", kFileId, DT_REG}};
    for (uint64_t i = in.offset; i < 3; ++i) {
      if (!reply.Add(rows[i].name, rows[i].ino, rows[i].type, i + 1)) break;
    }
    reply.Send();
  }
  void Releasedir(fusekit::ReplyEmpty reply, uint64_t,
                  const fusekit::abi::fuse_release_in&) override {
    reply.Ok();
  }
  void Release(fusekit::ReplyEmpty reply, uint64_t,
               const fusekit::abi::fuse_release_in&) override {
    reply.Ok();
  }

  std::map<uint64_t, uint64_t> LookupCounts() override {
    fusekit::MutexLock lock(&mu_);
    return {{kFileId, lookups_}};
  }

 private:
  fuse_attr AttrLocked(uint64_t nodeid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    fuse_attr attr{};
    attr.ino = nodeid;
    if (nodeid == fusekit::abi::kRootId) {
      attr.mode = S_IFDIR | 0755;
      attr.nlink = 2;
    } else {
      attr.mode = S_IFREG | 0444;
      attr.nlink = 1;
      attr.size = text_.size();
    }
    return attr;
  }

  fusekit::Mutex mu_;
  std::string text_ ABSL_GUARDED_BY(mu_);
  uint64_t lookups_ ABSL_GUARDED_BY(mu_) = 0;
};
// [filesystem]

// [unit-tests] Tests on the fake kernel: no mount, no root, milliseconds.
TEST(GreetingFsTest, ReadsTheGreeting) {
  GreetingFs fs("hello\n");
  fusekit::FakeKernel kernel(&fs);  // serves fs, negotiates FUSE_INIT
  fusekit::FakeVfs vfs(&kernel);    // system calls by path

  EXPECT_THAT(vfs.ReadFile("/greeting"), fusekit::IsOkAndHolds("hello\n"));
  EXPECT_THAT(vfs.ListDir("/"), fusekit::IsOkAndHolds(ElementsAre("greeting")));
  EXPECT_THAT(vfs.Stat("/nope"), fusekit::FailsWith(ENOENT));
  EXPECT_THAT(vfs.Open("/", O_WRONLY, 0), fusekit::FailsWith(EISDIR));
}  // ~FakeKernel: counts audited, every node forgotten, GreetingFs back to 0

TEST(GreetingFsTest, TheKernelCachesTheEntryForItsTimeout) {
  GreetingFs fs("hello\n");
  fusekit::FakeKernel kernel(&fs);
  fusekit::FakeVfs vfs(&kernel);

  ASSERT_THAT(vfs.Stat("/greeting"), fusekit::IsOk());
  ASSERT_THAT(vfs.Stat("/greeting"), fusekit::IsOk());
  EXPECT_EQ(kernel.LookupCount(GreetingFs::kFileId), 1u);  // the second came from the cache

  kernel.clock().Advance(absl::Seconds(2));  // past the 1 s entry timeout
  ASSERT_THAT(vfs.Stat("/greeting"), fusekit::IsOk());
  EXPECT_EQ(kernel.LookupCount(GreetingFs::kFileId), 2u);  // revalidated: LOOKUP again
  kernel.ExpectLookupCountsMatch();                         // GreetingFs agrees

  kernel.DropCaches();  // FORGET nlookup=2
  EXPECT_EQ(kernel.LookupCount(GreetingFs::kFileId), 0u);
  kernel.ExpectLookupCountsMatch();
}
// [unit-tests]

// [both-ways] One test body, run on the fake kernel and on a real mount
// (the real run is SKIPPED where mounting is impossible).
class GreetingFsBothWaysTest : public fusekit::FsClientTest {
 protected:
  fusekit::RawFileSystem* FileSystem() override { return &fs_; }
  GreetingFs fs_{"hello\n"};
};

TEST_P(GreetingFsBothWaysTest, ReadOnlyFile) {
  EXPECT_THAT(client().ReadFile("/greeting"), fusekit::IsOkAndHolds("hello\n"));
  EXPECT_THAT(client().Stat("/greeting"),
              fusekit::IsOkAndHolds(::testing::Field(&stat::st_size, 6)));
  EXPECT_THAT(client().Mkdir("/d", 0755), fusekit::FailsWith(ENOSYS));
}

INSTANTIATE_TEST_SUITE_P(Backends, GreetingFsBothWaysTest, fusekit::AllFsBackends(),
                         fusekit::FsBackendName);
// [both-ways]

// [nodefs] A node tree (nodefs/node.h) under the fake kernel: a root that
// adds one read-only file when it is mounted.
class GreetingFile : public fusekit::Node {
  fusekit::Errno Getattr(const fusekit::Context&, fusekit::FileHandle*,
                         fusekit::AttrOut* out) override {
    out->attr.mode = S_IFREG | 0444;
    out->attr.size = 6;
    return fusekit::kOk;
  }
  fusekit::Errno Read(const fusekit::Context&, fusekit::FileHandle*, uint64_t offset,
                      fusekit::ReadResult* out) override {
    out->SetData(absl::string_view("hello\n").substr(std::min<uint64_t>(offset, 6)));
    return fusekit::kOk;
  }
};

class GreetingRoot : public fusekit::Node {
  void OnAdd(const fusekit::Context&) override {
    fusekit::Inode* file =
        inode()->NewPersistentInode(std::make_unique<GreetingFile>(), {.mode = S_IFREG});
    inode()->AddChild("greeting", file, /*overwrite=*/false);
  }
};

TEST(GreetingTreeTest, ServesTheTree) {
  fusekit::NodefsFakeKernel fs(std::make_unique<GreetingRoot>());

  EXPECT_THAT(fs.vfs().ReadFile("/greeting"), fusekit::IsOkAndHolds("hello\n"));
  // The tree itself, and the kernel's books against the Bridge's.
  fusekit::Inode* file = fs.root()->GetChild("greeting");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(fs.kernel().LookupCount(file->node_id()), 1u);  // one LOOKUP so far
  fs.kernel().ExpectLookupCountsMatch();

  EXPECT_THAT(fs.vfs().ListDir("/"), fusekit::IsOkAndHolds(ElementsAre("greeting")));
  EXPECT_THAT(fs.vfs().Mkdir("/d", 0755), fusekit::FailsWith(EROFS));  // Node's default
}  // ~NodefsFakeKernel: audited, every cache dropped, no lookup count left

TEST(GreetingTreeTest, AReadWriteTreeWithOptions) {
  fusekit::Options options;
  options.entry_timeout = absl::ZeroDuration();  // every path walk asks the tree
  fusekit::NodefsFakeKernel fs(std::make_unique<fusekit::MemDir>(), options);

  ASSERT_THAT(fs.vfs().Mkdir("/d", 0755), fusekit::IsOk());
  ASSERT_THAT(fs.vfs().WriteFile("/d/notes", "kept\n"), fusekit::IsOk());
  EXPECT_THAT(fs.vfs().ReadFile("/d/notes"), fusekit::IsOkAndHolds("kept\n"));
  fusekit::Inode* d = fs.root()->GetChild("d");
  ASSERT_NE(d, nullptr);
  EXPECT_NE(d->GetChild("notes"), nullptr);
  EXPECT_THAT(fs.vfs().Rmdir("/d"), fusekit::FailsWith(ENOTEMPTY));
}
// [nodefs]

}  // namespace
