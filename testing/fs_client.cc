#include "testing/fs_client.h"

#include <algorithm>

namespace fusekit {

Result<int> FsClient::Create(absl::string_view path, mode_t mode, int flags) {
  return Open(path, flags | O_CREAT, mode);
}

Result<std::string> FsClient::ReadFile(absl::string_view path) {
  Result<int> fd = Open(path, O_RDONLY, 0);
  if (!fd.ok()) return fd.error();
  std::string content;
  constexpr size_t kChunk = 64 * 1024;
  for (;;) {
    Result<std::string> part = Read(*fd, kChunk, static_cast<off_t>(content.size()));
    if (!part.ok()) {
      Close(*fd);
      return part.error();
    }
    content += *part;
    if (part->size() < kChunk) break;
  }
  Errno closed = Close(*fd);
  if (!closed.ok()) return closed;
  return content;
}

Errno FsClient::WriteFile(absl::string_view path, absl::string_view content, mode_t mode) {
  Result<int> fd = Open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (!fd.ok()) return fd.error();
  size_t done = 0;
  while (done < content.size()) {
    Result<size_t> n = Write(*fd, content.substr(done), static_cast<off_t>(done));
    if (!n.ok()) {
      Close(*fd);
      return n.error();
    }
    if (*n == 0) {
      Close(*fd);
      return Errno(EIO);  // no progress: a filesystem that takes nothing
    }
    done += *n;
  }
  return Close(*fd);
}

Result<std::vector<std::string>> FsClient::ListDir(absl::string_view path) {
  Result<std::vector<DirEntry>> entries = Readdir(path);
  if (!entries.ok()) return entries.error();
  std::vector<std::string> names;
  for (const DirEntry& e : *entries) {
    if (e.name != "." && e.name != "..") names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace fusekit
