// Real mounts in tests: TestMount (a filesystem mounted on a fresh temporary
// directory, always taken down again), MountedFsTest (a gtest fixture around
// it) and FsClientTest (one test body, run against the fake kernel and
// against a real mount).
//
//   class MyFsTest : public fusekit::FsClientTest {
//    protected:
//     RawFileSystem* FileSystem() override { return &fs_; }
//     MyFs fs_;
//   };
//   TEST_P(MyFsTest, MkdirThenList) {
//     ASSERT_THAT(client().Mkdir("/d", 0755), IsOk());
//     EXPECT_THAT(client().ListDir("/"), IsOkAndHolds(ElementsAre("d")));
//   }
//   INSTANTIATE_TEST_SUITE_P(Backends, MyFsTest, fusekit::AllFsBackends(),
//                            fusekit::FsBackendName);
//
// Where mounting is impossible (no /dev/fuse, neither root nor fusermount3,
// mount(2) refused) the real-mount runs are SKIPPED with the reason.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuse/mount.h"
#include "fuse/raw_filesystem.h"
#include "fuse/server.h"
#include "gtest/gtest.h"
#include "testing/fake_kernel.h"
#include "testing/fake_vfs.h"
#include "testing/fs_client.h"
#include "testing/real_fs_client.h"

namespace fusekit {

// Why this process cannot mount a FUSE filesystem, or "" if it may try.
std::string MountUnavailableReason();

// A filesystem mounted for real on a fresh directory under $TEST_TMPDIR.
// Destruction always takes it down, even after a failed test: an unmount
// that, if the mount is busy (a descriptor left open in it), aborts the
// connection (as root: MNT_FORCE) and detaches it lazily; if the server's
// workers still run, an abort through /sys/fs/fuse/connections (where
// fusectl is mounted); then the directory is removed. A process that dies
// without destroying it (a crash, SIGKILL) does not leave it either: as
// root a watchdog process takes the mount down once this one starts to
// exit, which also frees a thread of the dying process stuck waiting on
// the mount (its own workers, which would answer, are gone).
// Not thread-safe (one owner), like any RAII handle.
class TestMount {
 public:
  // Mounts `fs` (which must outlive the TestMount). Unavailable or
  // PermissionDenied when this machine cannot mount (see
  // IsMountUnavailable); other errors mean the mount itself failed.
  static absl::StatusOr<std::unique_ptr<TestMount>> Create(RawFileSystem* fs,
                                                           const MountOptions& mount_options,
                                                           const ServerOptions& server_options);
  // The same, on a fresh directory under `parent_dir` instead of
  // $TEST_TMPDIR (for instance one every uid can reach, when the test runs
  // steps as another user).
  static absl::StatusOr<std::unique_ptr<TestMount>> CreateIn(absl::string_view parent_dir,
                                                             RawFileSystem* fs,
                                                             const MountOptions& mount_options,
                                                             const ServerOptions& server_options);
  ~TestMount();
  TestMount(const TestMount&) = delete;
  TestMount& operator=(const TestMount&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + relative.
  std::string Path(absl::string_view relative) const;
  Server& server() { return *server_; }

 private:
  TestMount(std::string path, std::unique_ptr<Server> server);

  const std::string path_;
  std::unique_ptr<Server> server_;
  pid_t watchdog_ = -1;  // see StartWatchdog in mount_fixture.cc
};

// True if `status` (from TestMount::Create) says this machine cannot mount,
// rather than that the filesystem failed to.
bool IsMountUnavailable(const absl::Status& status);

// Mounts for a test into `*mount`. Where mounting is impossible it
// GTEST_SKIP()s with the reason, on any other error it ADD_FAILURE()s; both
// leave `*mount` null. Call from SetUp() and return if null.
void MountForTest(RawFileSystem* fs, const MountOptions& mount_options,
                  const ServerOptions& server_options, std::unique_ptr<TestMount>* mount);

// A fixture that mounts FileSystem() before each test and takes it down
// after, even when the test failed.
class MountedFsTest : public ::testing::Test {
 protected:
  // The filesystem to mount; a member of the subclass (it outlives
  // TearDown).
  virtual RawFileSystem* FileSystem() = 0;
  virtual MountOptions GetMountOptions() const;
  virtual ServerOptions GetServerOptions() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  const std::string& mountpoint() const { return mount_->path(); }
  std::string Path(absl::string_view relative) const { return mount_->Path(relative); }
  Server& server() { return mount_->server(); }
  // System calls by path under the mount point.
  RealFsClient& client() { return *client_; }

 private:
  std::unique_ptr<TestMount> mount_;
  std::unique_ptr<RealFsClient> client_;
};

enum class FsBackend { kFakeKernel, kRealMount };

// "FakeKernel" / "RealMount", for INSTANTIATE_TEST_SUITE_P.
std::string FsBackendName(const ::testing::TestParamInfo<FsBackend>& info);

// Both backends, for INSTANTIATE_TEST_SUITE_P.
inline auto AllFsBackends() {
  return ::testing::Values(FsBackend::kFakeKernel, FsBackend::kRealMount);
}

// A parameterised fixture: each test body runs once on a FakeKernel (with
// FakeVfs as client()) and once on a real mount (RealFsClient), so one test
// checks a filesystem against the model and against Linux itself.
class FsClientTest : public ::testing::TestWithParam<FsBackend> {
 protected:
  virtual RawFileSystem* FileSystem() = 0;
  virtual FakeKernelOptions GetFakeKernelOptions() const { return {}; }
  virtual MountOptions GetMountOptions() const;
  virtual ServerOptions GetServerOptions() const { return {}; }

  void SetUp() override;
  void TearDown() override;

  FsClient& client() { return *client_; }
  bool on_fake_kernel() const { return GetParam() == FsBackend::kFakeKernel; }
  // Null on the real mount.
  FakeKernel* fake_kernel() { return kernel_.get(); }
  FakeVfs* fake_vfs() { return vfs_.get(); }
  // Null on the fake kernel.
  TestMount* real_mount() { return mount_.get(); }

 private:
  std::unique_ptr<FakeKernel> kernel_;
  std::unique_ptr<FakeVfs> vfs_;
  std::unique_ptr<TestMount> mount_;
  std::unique_ptr<RealFsClient> real_client_;
  FsClient* client_ = nullptr;
};

}  // namespace fusekit
