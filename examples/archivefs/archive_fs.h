// archivefs: an archive (.tar, .tar.gz, .zip, ...) mounted read-only.
//
// The tree is built once, at mount, from the archive's headers (one pass
// over the archive that skips the data; see archive_reader.h for what that
// costs per format). File data is read on demand, so a multi-gigabyte
// archive is served in the memory its index needs (about 200 bytes per
// entry). Because nothing ever changes, files are opened with KEEP_CACHE
// and the mount can use long cache timeouts (main.cc defaults to an hour).
//
// How archive entries become the tree:
//   - paths are taken relative to the root: leading "/" and "./" dropped,
//     "." and ".." resolved lexically (".." never leaves the root);
//   - directories a path implies but the archive does not list are made
//     with mode 0755 and the archive file's mtime;
//   - a later entry for the same path replaces the earlier one (as tar
//     extraction would), except that a directory keeps its children;
//   - hard links (tar, cpio) are one inode under several names, with the
//     right st_nlink; a hard link whose target is not in the archive, or an
//     entry whose path runs through a file, is skipped with a warning;
//   - symlinks, fifos and device nodes keep their type, target and rdev;
//   - permission bits and mtimes are the archive's; owners are the mounting
//     user's (archive uids mean nothing on another machine).
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "examples/archivefs/archive_reader.h"
#include "nodefs/node.h"

namespace fusekit::examples {

// One archive entry as the tree sees it.
struct ArchiveEntry {
  std::string path;      // normalised ("a/b"); "" is the root
  uint32_t mode = 0;     // file type and permission bits
  uint64_t size = 0;     // data size (regular files)
  absl::Time mtime;
  std::string symlink;   // target, for symlinks
  std::string hardlink;  // normalised path of the entry this one links to
  uint64_t rdev = 0;
  int64_t index = -1;    // the header whose data this is (ArchiveReader)
};

// The archive's index: what the header pass found, in archive order.
struct ArchiveIndex {
  std::vector<ArchiveEntry> entries;
  absl::Time archive_mtime;  // the archive file's, for implied directories
};

// Lists `reader`'s headers into an index (no data read).
absl::StatusOr<ArchiveIndex> ReadArchiveIndex(ArchiveReader& reader);

// "a/b" from "./a//b/", "/a/b", "a/./c/../b"; "" for the root.
std::string NormalizeArchivePath(absl::string_view path);

// The root of a mounted archive. Builds its tree in OnAdd.
class ArchiveRoot : public Node {
 public:
  ArchiveRoot(std::unique_ptr<ArchiveReader> reader, ArchiveIndex index);
  ~ArchiveRoot() override;

  void OnAdd(const Context& ctx) override;
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Opendir(const Context& ctx, OpenOut* out) override;
  Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out) override;

  ArchiveReader& reader() { return *reader_; }
  // Entries skipped while building the tree (bad names, links to nothing),
  // each with the reason; also printed to stderr.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  const std::unique_ptr<ArchiveReader> reader_;
  ArchiveIndex index_;
  // Set in OnAdd (before any request), read-only after.
  uint32_t root_mode_ = S_IFDIR | 0755;
  absl::Time root_mtime_;
  uint32_t root_nlink_ = 2;
  uint64_t files_ = 0;
  uint64_t bytes_ = 0;
  std::vector<std::string> warnings_;
};

// Opens `path`, reads its index and returns the root of its tree: all the
// work that can fail, done before anything is mounted. The error names the
// archive and what is wrong with it.
absl::StatusOr<std::unique_ptr<ArchiveRoot>> OpenArchive(const std::string& path);

}  // namespace fusekit::examples
