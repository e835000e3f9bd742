#include "testing/posix/posix_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fusekit::posix {

std::string ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::StrCat("<error: open ", path, ": ", strerror(errno), ">");
  std::string out;
  char buf[65536];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  int err = errno;
  ::close(fd);
  if (n < 0) return absl::StrCat("<error: read ", path, ": ", strerror(err), ">");
  return out;
}

bool WriteFile(const std::string& path, absl::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n <= 0) {
      ::close(fd);
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return ::close(fd) == 0;
}

struct stat LStat(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) st.st_nlink = 0;
  return st;
}

struct stat FStat(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) st.st_nlink = ~nlink_t{0};
  return st;
}

std::string PRead(int fd, size_t n, off_t offset) {
  std::string buf(n, '\0');
  ssize_t got = ::pread(fd, buf.data(), n, offset);
  if (got < 0) return absl::StrCat("<error: ", strerror(errno), ">");
  buf.resize(static_cast<size_t>(got));
  return buf;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> ListDir(const std::string& path) {
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return {absl::StrCat("<error: opendir ", path, ": ", strerror(errno), ">")};
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

int RunInChild(const std::function<int()>& body, int uid, int gid) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (gid >= 0 && ::setresgid(gid, gid, gid) != 0) ::_exit(255);
    if (uid >= 0 && ::setresuid(uid, uid, uid) != 0) ::_exit(255);
    ::_exit(body() & 0xff);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (!WIFEXITED(status)) return -1;
  int code = WEXITSTATUS(status);
  return code == 255 ? -1 : code;
}

int RunAsUser(const std::function<int()>& body, int uid, int gid) {
  return RunInChild(
      [&body, uid, gid]() -> int {
        if (::setgroups(0, nullptr) != 0) return 255;
        if (::setresgid(gid, gid, gid) != 0) return 255;
        if (::setresuid(uid, uid, uid) != 0) return 255;
        return body();
      });
}

bool Eventually(const std::function<bool()>& condition) {
  for (int i = 0; i < 5000; ++i) {
    if (condition()) return true;
    ::usleep(1000);
  }
  return condition();
}

}  // namespace fusekit::posix
