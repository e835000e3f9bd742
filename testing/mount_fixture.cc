#include "testing/mount_fixture.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"

namespace fusekit {
namespace {

// The "major:minor" of the FUSE mount on `path`, from mountinfo (never by
// stat(2), which would block on a server that does not answer).
std::string FuseDeviceAt(const std::string& path) {
  absl::StatusOr<std::vector<MountInfoEntry>> mounts = ReadMountInfo();
  if (!mounts.ok()) return "";
  std::string device;
  for (const MountInfoEntry& m : *mounts) {
    if (m.mount_point == path && absl::StartsWith(m.fs_type, "fuse")) device = m.device;
  }
  return device;
}

// Ends a FUSE connection by force (fusectl): every request fails and the
// server's reads return ENODEV.
void AbortConnection(const std::string& device) {
  std::vector<std::string> parts = absl::StrSplit(device, ':');
  if (parts.size() != 2) return;
  std::string abort_path = absl::StrCat("/sys/fs/fuse/connections/", parts[1], "/abort");
  int fd = ::open(abort_path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    std::fprintf(stderr, "fusekit TestMount: cannot abort connection %s (%s)\n", device.c_str(),
                 abort_path.c_str());
    return;
  }
  (void)!::write(fd, "1", 1);
  ::close(fd);
}

MountOptions TestMountOptions() {
  MountOptions options;
  options.fsname = "fusekit-test";
  return options;
}

}  // namespace

std::string MountUnavailableReason() {
  if (::access("/dev/fuse", F_OK) != 0) return "/dev/fuse is absent";
  if (::geteuid() != 0 && ::access("/usr/bin/fusermount3", X_OK) != 0 &&
      ::access("/bin/fusermount3", X_OK) != 0) {
    return "not root and no fusermount3";
  }
  return "";
}

bool IsMountUnavailable(const absl::Status& status) {
  if (absl::IsPermissionDenied(status)) return true;
  // fusekit::Mount also says Unavailable when the filesystem's own INIT
  // failed; that is the filesystem's fault, not the machine's.
  return absl::IsUnavailable(status) && !absl::StrContains(status.message(), "FUSE_INIT");
}

absl::StatusOr<std::unique_ptr<TestMount>> TestMount::Create(
    RawFileSystem* fs, const MountOptions& mount_options, const ServerOptions& server_options) {
  const char* tmp = ::getenv("TEST_TMPDIR");
  return CreateIn(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", fs, mount_options,
                  server_options);
}

absl::StatusOr<std::unique_ptr<TestMount>> TestMount::CreateIn(
    absl::string_view parent_dir, RawFileSystem* fs, const MountOptions& mount_options,
    const ServerOptions& server_options) {
  std::string reason = MountUnavailableReason();
  if (!reason.empty()) return absl::UnavailableError(reason);
  std::string dir = absl::StrCat(parent_dir, "/mnt.XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", DescribeErrno(Errno::Last())));
  }
  absl::StatusOr<std::unique_ptr<Server>> server = Mount(dir, fs, mount_options, server_options);
  if (!server.ok()) {
    ::rmdir(dir.c_str());
    return server.status();
  }
  return std::unique_ptr<TestMount>(new TestMount(dir, std::move(*server)));
}

TestMount::TestMount(std::string path, std::unique_ptr<Server> server)
    : path_(std::move(path)), server_(std::move(server)) {}

TestMount::~TestMount() {
  // Noted before unmounting: afterwards the mount is no longer listed.
  std::string device = FuseDeviceAt(path_);
  if (::geteuid() == 0 && !device.empty() &&
      ::umount2(path_.c_str(), UMOUNT_NOFOLLOW) != 0 && errno == EBUSY) {
    // Busy (a descriptor left open in it): MNT_FORCE makes FUSE abort the
    // connection (fuse_umount_begin), so the server's workers end; the lazy
    // unmount below then detaches what remains.
    ::umount2(path_.c_str(), UMOUNT_NOFOLLOW | MNT_FORCE);
  }
  // Whatever is still there (and the fusermount3 case), lazily.
  absl::Status unmounted = UnmountPath(path_);
  if (!unmounted.ok()) {
    std::fprintf(stderr, "fusekit TestMount: unmounting %s: %s\n", path_.c_str(),
                 unmounted.ToString().c_str());
  }
  // A lazily detached mount lives on while something uses it, and so does
  // the connection the workers read; end it rather than wait for ever.
  absl::Time deadline = absl::Now() + absl::Seconds(2);
  while (server_->running() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  if (server_->running() && !device.empty()) AbortConnection(device);
  server_.reset();
  ::rmdir(path_.c_str());
}

std::string TestMount::Path(absl::string_view relative) const {
  if (!relative.empty() && relative[0] == '/') relative.remove_prefix(1);
  return absl::StrCat(path_, "/", relative);
}

void MountForTest(RawFileSystem* fs, const MountOptions& mount_options,
                  const ServerOptions& server_options, std::unique_ptr<TestMount>* mount) {
  mount->reset();
  absl::StatusOr<std::unique_ptr<TestMount>> made =
      TestMount::Create(fs, mount_options, server_options);
  if (made.ok()) {
    *mount = std::move(*made);
    return;
  }
  if (IsMountUnavailable(made.status())) {
    GTEST_SKIP() << "cannot mount a FUSE filesystem here: " << made.status();
  }
  ADD_FAILURE() << "mounting failed: " << made.status();
}

MountOptions MountedFsTest::GetMountOptions() const { return TestMountOptions(); }

void MountedFsTest::SetUp() {
  MountForTest(FileSystem(), GetMountOptions(), GetServerOptions(), &mount_);
  if (mount_ == nullptr) return;
  client_ = std::make_unique<RealFsClient>(mount_->path());
}

void MountedFsTest::TearDown() {
  client_.reset();  // closes what the test left open, so the unmount is clean
  mount_.reset();
}

std::string FsBackendName(const ::testing::TestParamInfo<FsBackend>& info) {
  return info.param == FsBackend::kFakeKernel ? "FakeKernel" : "RealMount";
}

MountOptions FsClientTest::GetMountOptions() const { return TestMountOptions(); }

void FsClientTest::SetUp() {
  if (GetParam() == FsBackend::kFakeKernel) {
    kernel_ = std::make_unique<FakeKernel>(FileSystem(), GetFakeKernelOptions());
    ASSERT_TRUE(kernel_->initialized()) << "FUSE_INIT failed on the fake kernel";
    vfs_ = std::make_unique<FakeVfs>(kernel_.get());
    client_ = vfs_.get();
    return;
  }
  MountForTest(FileSystem(), GetMountOptions(), GetServerOptions(), &mount_);
  if (mount_ == nullptr) return;
  real_client_ = std::make_unique<RealFsClient>(mount_->path());
  client_ = real_client_.get();
}

void FsClientTest::TearDown() {
  client_ = nullptr;
  vfs_.reset();     // closes its files
  kernel_.reset();  // audits lookup counts, forgets everything
  real_client_.reset();
  mount_.reset();
}

}  // namespace fusekit
