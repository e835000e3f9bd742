// Small helpers the POSIX suite's cases (and the examples' mount tests)
// share: whole-file reads and writes, directory listings, errno-checking
// wrappers, and running a step in a child process (another process's locks,
// another uid).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace fusekit::posix {

// The whole content of `path`, or "<error: ...>".
std::string ReadFile(const std::string& path);
// Creates or truncates `path` with `data`; false on any error.
bool WriteFile(const std::string& path, absl::string_view data, mode_t mode = 0644);
// lstat; st_nlink == 0 and errno kept on failure.
struct stat LStat(const std::string& path);
// fstat; st_nlink == ~0 on failure (no real file has that many links).
struct stat FStat(int fd);
// `n` bytes read at `offset`, or "<error: ...>" with the errno.
std::string PRead(int fd, size_t n, off_t offset);
// True if `path` exists (lstat succeeds).
bool Exists(const std::string& path);
// The names in directory `path`, sorted, without "." and "..", or one
// "<error: ...>" entry.
std::vector<std::string> ListDir(const std::string& path);

// Runs `body` in a forked child (after optionally switching to `uid`/`gid`
// when >= 0) and returns what it returned: by convention 0 for success or
// an errno. Returns -1 if the child crashed or could not start.
int RunInChild(const std::function<int()>& body, int uid = -1, int gid = -1);

// Polls `condition` (every millisecond, for up to 5 seconds) until it
// holds; false if it never did. For effects that reach a FUSE filesystem a
// moment after the system call returned (RELEASE after the last close(2),
// FORGET of an unlinked inode). The bound only keeps a broken case from
// hanging; it is not a timing assertion.
bool Eventually(const std::function<bool()>& condition);

// Like RunInChild with a uid and gid, but the child also drops the
// supplementary groups it inherited (root's), so it is exactly `uid`:`gid`,
// a member of no other group (permission cases that involve group access).
int RunAsUser(const std::function<int()>& body, int uid, int gid);

}  // namespace fusekit::posix
