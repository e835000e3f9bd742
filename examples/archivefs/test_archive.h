// Archives for archivefs's tests, written with libarchive's writer, so no
// tool (tar, zip) and no checked-in binary is needed.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace fusekit::examples {

enum class ArchiveFormat { kTar, kTarGz, kZip };

// "tar", "tar.gz", "zip".
absl::string_view ArchiveSuffix(ArchiveFormat format);

// One entry to write. `mode` has the type and the permission bits; a
// hard link (tar only) names its target in `hardlink` and has no content.
struct TestEntry {
  std::string path;
  uint32_t mode = S_IFREG | 0644;
  std::string content;   // regular files
  std::string symlink;   // symlinks: the target
  std::string hardlink;  // hard links: the earlier entry's path
  absl::Time mtime = absl::FromUnixSeconds(1'600'000'000);
  uint64_t rdev = 0;
};

// Writes `entries` in order to `path`.
absl::Status WriteTestArchive(const std::string& path, ArchiveFormat format,
                              const std::vector<TestEntry>& entries);

// The byte at `offset` of a pattern file: 16-byte lines, each holding its
// own offset in 15 hex digits and a newline, so any misplaced byte shows
// and the data compresses well (as real data does) without being trivial.
char PatternByte(uint64_t offset);
// Bytes [offset, offset+size) of the pattern.
std::string PatternBytes(uint64_t offset, size_t size);

// The tree the archivefs tests mount, in `format`: a directory with files
// of several modes and mtimes, an empty file, a path whose directories are
// implied, symlinks (one dangling), a UTF-8 name, a "./dotted/./name" path,
// a pattern file of kSampleMediumSize bytes ("medium.bin"), a path written
// twice ("top/replaced": "old\n" then "new\n"), and for tar a hard link
// ("top/hard" to "top/hello.txt") and a fifo.
inline constexpr int64_t kSampleTime = 1'600'000'000;
inline constexpr size_t kSampleMediumSize = 300'000;  // several 128 KiB READs
std::vector<TestEntry> SampleTree(ArchiveFormat format);

// Writes an archive holding one file `name` of `size` pattern bytes, made
// a MiB at a time (the writer never holds the file in memory).
absl::Status WritePatternArchive(const std::string& path, ArchiveFormat format,
                                 const std::string& name, uint64_t size);

}  // namespace fusekit::examples
