// Cases on permissions and ownership, checked as root and as an
// unprivileged uid (a child process as nobody, 65534, with no
// supplementary groups): mode bits on files and directories, the sticky
// and set-group-ID bits, chown and chmod rights, owners of new files, and
// the umask. FUSE targets are mounted with default_permissions (the kernel
// checks) and allow_other (so other uids reach the mount).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "testing/posix/posix_suite.h"
#include "testing/posix/posix_util.h"

namespace fusekit {
namespace {

constexpr int kNobody = 65534;
constexpr int kOther = 65533;  // a second unprivileged user

// 0 if `result` (of a system call) is success, else errno: the convention
// of RunInChild bodies.
int Result(int result) { return result < 0 ? errno : 0; }

// Opens and closes `path`: 0 or the open's errno.
int TryOpen(const char* path, int flags) {
  int fd = ::open(path, flags | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  ::close(fd);
  return 0;
}

// A directory every uid may create in, as the cases' shared ground.
class Shared {
 public:
  explicit Shared(const std::string& dir) : dir_(dir) {}
  bool Make() const { return ::mkdir(dir_.c_str(), 0777) == 0 && ::chmod(dir_.c_str(), 0777) == 0; }
  std::string operator()(const char* name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

TEST_P(PosixTest, ModeBitsOfAFile) {
  POSIX_REQUIRE_OTHER_USERS("steps run as another uid");
  Shared shared(Path("shared"));
  ASSERT_TRUE(shared.Make());
  const std::string f = shared("f");
  const char* fp = f.c_str();
  ASSERT_TRUE(posix::WriteFile(f, "secret"));
  ASSERT_EQ(::chmod(fp, 0), 0);
  EXPECT_EQ(posix::LStat(f).st_mode, S_IFREG | 0u);
  // Root reads and writes it anyway (CAP_DAC_OVERRIDE).
  EXPECT_EQ(posix::ReadFile(f), "secret");
  EXPECT_EQ(TryOpen(fp, O_WRONLY), 0);
  // Another uid does neither.
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_RDONLY); }, kNobody, kNobody), EACCES);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_WRONLY); }, kNobody, kNobody), EACCES);
  // Readable by others, not writable.
  ASSERT_EQ(::chmod(fp, 0644), 0);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_RDONLY); }, kNobody, kNobody), 0);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_WRONLY); }, kNobody, kNobody), EACCES);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::truncate(fp, 0)); }, kNobody, kNobody),
            EACCES);
  // The group's bits apply to a member of the file's group, not the
  // others' bits.
  ASSERT_EQ(::chown(fp, 0, kNobody), 0);
  ASSERT_EQ(::chmod(fp, 0604), 0);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_RDONLY); }, kNobody, kNobody), EACCES);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_RDONLY); }, kOther, kOther), 0);
  // Writable by all.
  ASSERT_EQ(::chmod(fp, 0666), 0);
  EXPECT_EQ(posix::RunAsUser([fp] { return TryOpen(fp, O_WRONLY | O_APPEND); }, kNobody, kNobody),
            0);
  EXPECT_EQ(posix::ReadFile(f), "secret");
  // Executing needs an x bit, even for root.
  EXPECT_EQ(::access(fp, X_OK), -1);
}

TEST_P(PosixTest, ModeBitsOfADirectory) {
  POSIX_REQUIRE_OTHER_USERS("steps run as another uid");
  Shared shared(Path("shared"));
  ASSERT_TRUE(shared.Make());
  const std::string d = shared("d");
  const std::string inner = shared("d/f");
  const std::string made = shared("d/new");
  const char* dp = d.c_str();
  const char* ip = inner.c_str();
  const char* mp = made.c_str();
  ASSERT_EQ(::mkdir(dp, 0755), 0);
  ASSERT_TRUE(posix::WriteFile(inner, "x"));
  auto stat_inner = [ip] {
    struct stat st {};
    return Result(::stat(ip, &st));
  };
  auto list = [dp] {
    int fd = ::open(dp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    ::close(fd);
    return 0;
  };
  auto create = [mp] { return TryOpen(mp, O_CREAT | O_WRONLY); };
  // 0755: others look up and list, but do not create.
  EXPECT_EQ(posix::RunAsUser(stat_inner, kNobody, kNobody), 0);
  EXPECT_EQ(posix::RunAsUser(list, kNobody, kNobody), 0);
  EXPECT_EQ(posix::RunAsUser(create, kNobody, kNobody), EACCES);
  // Without x nothing inside is reached, though the names can be read.
  ASSERT_EQ(::chmod(dp, 0666), 0);
  EXPECT_EQ(posix::RunAsUser(stat_inner, kNobody, kNobody), EACCES);
  EXPECT_EQ(posix::RunAsUser([ip] { return TryOpen(ip, O_RDONLY); }, kNobody, kNobody), EACCES);
  EXPECT_EQ(posix::RunAsUser(list, kNobody, kNobody), 0);
  EXPECT_EQ(posix::RunAsUser(create, kNobody, kNobody), EACCES);
  // Root passes (CAP_DAC_READ_SEARCH).
  EXPECT_EQ(stat_inner(), 0);
  // x without r: lookups work, listing does not.
  ASSERT_EQ(::chmod(dp, 0711), 0);
  EXPECT_EQ(posix::RunAsUser(stat_inner, kNobody, kNobody), 0);
  EXPECT_EQ(posix::RunAsUser(list, kNobody, kNobody), EACCES);
  // w and x: others create and remove.
  ASSERT_EQ(::chmod(dp, 0733), 0);
  EXPECT_EQ(posix::RunAsUser(create, kNobody, kNobody), 0);
  EXPECT_EQ(posix::LStat(made).st_uid, static_cast<uid_t>(kNobody));
  EXPECT_EQ(posix::RunAsUser([ip] { return Result(::unlink(ip)); }, kNobody, kNobody), 0);
  EXPECT_FALSE(posix::Exists(inner));
}

TEST_P(PosixTest, StickyDirectoryProtectsOthersEntries) {
  POSIX_REQUIRE_OTHER_USERS("steps run as other uids");
  Shared shared(Path("shared"));
  ASSERT_TRUE(shared.Make());
  const std::string t = shared("t");
  ASSERT_EQ(::mkdir(t.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(t.c_str(), 01777), 0);
  EXPECT_EQ(posix::LStat(t).st_mode, S_IFDIR | 01777u);
  const std::string roots = t + "/roots";
  const std::string mine = t + "/mine";
  const std::string renamed = t + "/renamed";
  const char* rp = roots.c_str();
  const char* mp = mine.c_str();
  const char* np = renamed.c_str();
  ASSERT_TRUE(posix::WriteFile(roots, "r"));
  ASSERT_EQ(::chmod(rp, 0666), 0);
  // Another user may write root's file (mode 0666) but not remove or rename it.
  EXPECT_EQ(posix::RunAsUser([rp] { return Result(::unlink(rp)); }, kNobody, kNobody), EPERM);
  EXPECT_EQ(posix::RunAsUser([rp, np] { return Result(::rename(rp, np)); }, kNobody, kNobody),
            EPERM);
  EXPECT_EQ(posix::RunAsUser([rp] { return TryOpen(rp, O_WRONLY); }, kNobody, kNobody), 0);
  // A user's own file: others cannot remove it, the owner can.
  EXPECT_EQ(posix::RunAsUser([mp] { return TryOpen(mp, O_CREAT | O_WRONLY); }, kNobody, kNobody),
            0);
  ASSERT_EQ(::chmod(mp, 0666), 0);
  EXPECT_EQ(posix::RunAsUser([mp] { return Result(::unlink(mp)); }, kOther, kOther), EPERM);
  EXPECT_EQ(posix::RunAsUser([mp] { return Result(::unlink(mp)); }, kNobody, kNobody), 0);
  EXPECT_FALSE(posix::Exists(mine));
  EXPECT_TRUE(posix::Exists(roots));
  // Root removes anything; without the sticky bit, so may anyone who can
  // write the directory.
  EXPECT_EQ(posix::RunAsUser([mp] { return TryOpen(mp, O_CREAT | O_WRONLY); }, kNobody, kNobody),
            0);
  ASSERT_EQ(::unlink(mp), 0);
  ASSERT_EQ(::chmod(t.c_str(), 0777), 0);
  EXPECT_EQ(posix::RunAsUser([rp] { return Result(::unlink(rp)); }, kNobody, kNobody), 0);
  EXPECT_FALSE(posix::Exists(roots));
}

TEST_P(PosixTest, ChownAndChmodRights) {
  POSIX_REQUIRE_OTHER_USERS("chown to other ids; steps run as another uid");
  POSIX_REQUIRE("chown");
  Shared shared(Path("shared"));
  ASSERT_TRUE(shared.Make());
  const std::string f = shared("f");
  const char* fp = f.c_str();
  ASSERT_TRUE(posix::WriteFile(f, "x"));
  // Root changes both, or one (-1 keeps the other).
  ASSERT_EQ(::chown(fp, 1234, 5678), 0);
  struct stat st = posix::LStat(f);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  ASSERT_EQ(::chown(fp, static_cast<uid_t>(-1), 42), 0);
  st = posix::LStat(f);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 42u);
  // Changing the owner drops set-user-ID (and set-group-ID with group x).
  ASSERT_EQ(::chmod(fp, 06755), 0);
  ASSERT_EQ(::chown(fp, kNobody, kNobody), 0);
  EXPECT_EQ(posix::LStat(f).st_mode & 07777, 0755u);
  // The owner may chmod, and chown to a group it is in (its own), but not
  // give the file away or take a group it is not in.
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chmod(fp, 0600)); }, kNobody, kNobody), 0);
  EXPECT_EQ(posix::LStat(f).st_mode & 07777, 0600u);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chown(fp, 0, -1)); }, kNobody, kNobody),
            EPERM);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chown(fp, kOther, -1)); }, kNobody, kNobody),
            EPERM);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chown(fp, -1, 0)); }, kNobody, kNobody),
            EPERM);
  EXPECT_EQ(
      posix::RunAsUser([fp] { return Result(::chown(fp, -1, kNobody)); }, kNobody, kNobody), 0);
  st = posix::LStat(f);
  EXPECT_EQ(st.st_uid, static_cast<uid_t>(kNobody));
  EXPECT_EQ(st.st_gid, static_cast<gid_t>(kNobody));
  // Anyone else: neither chmod nor chown, nor utimes with explicit times.
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chmod(fp, 0777)); }, kOther, kOther), EPERM);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chown(fp, kOther, kOther)); }, kOther, kOther),
            EPERM);
  EXPECT_EQ(posix::RunAsUser(
                [fp] {
                  struct timespec times[2] = {{1, 0}, {1, 0}};
                  return Result(::utimensat(AT_FDCWD, fp, times, 0));
                },
                kOther, kOther),
            EPERM);
  EXPECT_EQ(posix::LStat(f).st_mode & 07777, 0600u);
  // An owner setting set-group-ID on a file of a group it is not in: the
  // bit is dropped (without an error).
  ASSERT_EQ(::chown(fp, kNobody, 4321), 0);
  EXPECT_EQ(posix::RunAsUser([fp] { return Result(::chmod(fp, 02755)); }, kNobody, kNobody), 0);
  EXPECT_EQ(posix::LStat(f).st_mode & 07777, 0755u);
}

TEST_P(PosixTest, OwnerOfNewFilesAndSetgidDirectories) {
  POSIX_REQUIRE_OTHER_USERS("steps run as another uid");
  Shared shared(Path("shared"));
  ASSERT_TRUE(shared.Make());
  // Created by another uid: that uid and its gid own it.
  const std::string mine = shared("mine");
  const std::string mydir = shared("mydir");
  const char* mp = mine.c_str();
  const char* dp = mydir.c_str();
  EXPECT_EQ(posix::RunAsUser([mp] { return TryOpen(mp, O_CREAT | O_WRONLY); }, kNobody, kNobody),
            0);
  EXPECT_EQ(posix::RunAsUser([dp] { return Result(::mkdir(dp, 0755)); }, kNobody, kNobody), 0);
  for (const std::string& p : {mine, mydir}) {
    struct stat st = posix::LStat(p);
    EXPECT_EQ(st.st_uid, static_cast<uid_t>(kNobody)) << p;
    EXPECT_EQ(st.st_gid, static_cast<gid_t>(kNobody)) << p;
  }
  if (UnsupportedReason("symlink").empty()) {
    const std::string link = shared("mylink");
    const char* lp = link.c_str();
    EXPECT_EQ(posix::RunAsUser([lp] { return Result(::symlink("x", lp)); }, kNobody, kNobody), 0);
    EXPECT_EQ(posix::LStat(link).st_uid, static_cast<uid_t>(kNobody));
    EXPECT_EQ(posix::LStat(link).st_gid, static_cast<gid_t>(kNobody));
  }
  POSIX_REQUIRE("chown");
  // A set-group-ID directory gives new entries its group (and new
  // subdirectories its set-group-ID bit), whoever creates them.
  const std::string g = shared("g");
  ASSERT_EQ(::mkdir(g.c_str(), 0777), 0);
  ASSERT_EQ(::chown(g.c_str(), 0, 4321), 0);
  ASSERT_EQ(::chmod(g.c_str(), 02777), 0);
  EXPECT_EQ(posix::LStat(g).st_mode, S_IFDIR | 02777u);
  ASSERT_TRUE(posix::WriteFile(g + "/by_root", ""));
  ASSERT_EQ(::mkdir((g + "/sub").c_str(), 0755), 0);
  const std::string theirs = g + "/by_nobody";
  const std::string their_dir = g + "/dir_by_nobody";
  const char* tp = theirs.c_str();
  const char* tdp = their_dir.c_str();
  EXPECT_EQ(posix::RunAsUser([tp] { return TryOpen(tp, O_CREAT | O_WRONLY); }, kNobody, kNobody),
            0);
  EXPECT_EQ(posix::RunAsUser([tdp] { return Result(::mkdir(tdp, 0755)); }, kNobody, kNobody), 0);
  EXPECT_EQ(posix::LStat(g + "/by_root").st_gid, 4321u);
  EXPECT_EQ(posix::LStat(g + "/sub").st_gid, 4321u);
  EXPECT_EQ(posix::LStat(g + "/sub").st_mode, S_IFDIR | 02755u);
  EXPECT_EQ(posix::LStat(theirs).st_uid, static_cast<uid_t>(kNobody));
  EXPECT_EQ(posix::LStat(theirs).st_gid, 4321u);
  EXPECT_EQ(posix::LStat(their_dir).st_gid, 4321u);
  EXPECT_EQ(posix::LStat(their_dir).st_mode & S_ISGID, static_cast<mode_t>(S_ISGID));
  // Without the bit, the creator's group again.
  ASSERT_EQ(::chmod(g.c_str(), 0777), 0);
  const std::string later = g + "/later";
  const char* lp = later.c_str();
  EXPECT_EQ(posix::RunAsUser([lp] { return TryOpen(lp, O_CREAT | O_WRONLY); }, kNobody, kNobody),
            0);
  EXPECT_EQ(posix::LStat(later).st_gid, static_cast<gid_t>(kNobody));
}

TEST_P(PosixTest, UmaskShapesNewModes) {
  const mode_t old = ::umask(027);
  const bool file_ok = posix::WriteFile(Path("f"), "", 0666);
  const int dir_result = ::mkdir(Path("d").c_str(), 0777);
  ::umask(0);
  const bool open_ok = posix::WriteFile(Path("g"), "", 0666);
  const int dir2_result = ::mkdir(Path("e").c_str(), 0777);
  ::umask(077);
  const bool narrow_ok = posix::WriteFile(Path("h"), "", 0644);
  ::umask(old);
  ASSERT_TRUE(file_ok && open_ok && narrow_ok);
  ASSERT_EQ(dir_result, 0);
  ASSERT_EQ(dir2_result, 0);
  EXPECT_EQ(posix::LStat(Path("f")).st_mode, S_IFREG | 0640u);
  EXPECT_EQ(posix::LStat(Path("d")).st_mode, S_IFDIR | 0750u);
  EXPECT_EQ(posix::LStat(Path("g")).st_mode, S_IFREG | 0666u);
  EXPECT_EQ(posix::LStat(Path("e")).st_mode, S_IFDIR | 0777u);
  EXPECT_EQ(posix::LStat(Path("h")).st_mode, S_IFREG | 0600u);
  // chmod is not masked.
  ASSERT_EQ(::chmod(Path("h").c_str(), 0777), 0);
  EXPECT_EQ(posix::LStat(Path("h")).st_mode, S_IFREG | 0777u);
}

}  // namespace
}  // namespace fusekit
