// Small helpers the POSIX suite's cases share: whole-file reads and writes,
// errno-checking wrappers, and running a step in a child process (another
// process's locks, another uid).
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace fusekit::posix {

// The whole content of `path`, or "<error: ...>".
std::string ReadFile(const std::string& path);
// Creates or truncates `path` with `data`; false on any error.
bool WriteFile(const std::string& path, absl::string_view data, mode_t mode = 0644);
// lstat; st_nlink == 0 and errno kept on failure.
struct stat LStat(const std::string& path);
// True if `path` exists (lstat succeeds).
bool Exists(const std::string& path);

// Runs `body` in a forked child (after optionally switching to `uid`/`gid`
// when >= 0) and returns what it returned: by convention 0 for success or
// an errno. Returns -1 if the child crashed or could not start.
int RunInChild(const std::function<int()>& body, int uid = -1, int gid = -1);

}  // namespace fusekit::posix
