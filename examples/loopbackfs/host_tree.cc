#include "examples/loopbackfs/host_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace fusekit::examples {

HostTree::HostTree() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string dir = absl::StrCat(tmp ? tmp : "/tmp", "/loopback.XXXXXX");
  if (mkdtemp(dir.data()) == nullptr) return;
  if (mkdir((dir + "/src").c_str(), 0755) != 0 || mkdir((dir + "/outside").c_str(), 0755) != 0) {
    RemoveHostTree(dir);
    return;
  }
  base_ = dir;
}

HostTree::~HostTree() {
  if (!base_.empty()) RemoveHostTree(base_);
}

std::string HostTree::src(absl::string_view relative) const {
  return relative.empty() ? base_ + "/src" : absl::StrCat(base_, "/src/", relative);
}

std::string HostTree::outside(absl::string_view relative) const {
  return relative.empty() ? base_ + "/outside" : absl::StrCat(base_, "/outside/", relative);
}

std::string ReadHostFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  std::string content;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) content.append(buf, static_cast<size_t>(n));
  close(fd);
  return content;
}

bool WriteHostFile(const std::string& path, absl::string_view content, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return false;
  bool ok = write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  return close(fd) == 0 && ok;
}

struct stat HostLstat(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) st.st_ino = 0;
  return st;
}

bool HostExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::vector<std::string> HostList(const std::string& path) {
  std::vector<std::string> names;
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return names;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

// Empties the directory `dir` (an open descriptor, closed here),
// descriptor-relative so that depth and path length do not matter.
void EmptyDirectory(int dir) {
  DIR* stream = fdopendir(dir);
  if (stream == nullptr) {
    close(dir);
    return;
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(stream)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  for (const std::string& name : names) {
    if (unlinkat(dir, name.c_str(), 0) == 0) continue;
    int sub = openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;
    fchmod(sub, 0700);  // a test may have left it unwritable
    EmptyDirectory(sub);
    unlinkat(dir, name.c_str(), AT_REMOVEDIR);
  }
  closedir(stream);
}

}  // namespace

void RemoveHostTree(const std::string& path) {
  if (unlink(path.c_str()) == 0) return;
  int dir = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return;
  EmptyDirectory(dir);
  rmdir(path.c_str());
}

}  // namespace fusekit::examples
