// ArchiveReader: an archive file read through libarchive, for archivefs. It
// lists the headers once (ForEachHeader) and then reads any entry's data on
// demand (ReadAt), never holding an entry's data in memory.
//
// What a read costs. libarchive reads archives as streams: it can skip to
// the next header, but not seek inside an entry's data. So a read at
// `offset` of entry N needs a libarchive handle (a "cursor") positioned at
// entry N, then decompresses and discards the bytes up to `offset`:
//
//   - .zip (read with the seekable reader, which starts from the central
//     directory): reaching entry N seeks straight to it; a deflated entry is
//     then decompressed from its start (stored entries are read, not
//     decompressed).
//   - .tar: headers are skipped with seeks; data is read from the entry's
//     start.
//   - .tar.gz (.tar.bz2, .tar.xz, ...): a compressed stream cannot be
//     seeked, so reaching entry N decompresses everything before it.
//
// To make the common case cheap the reader keeps a few idle cursors (an LRU
// of kMaxIdleCursors) where the last reads left them: a sequential read
// (cat, cp) picks up the cursor at or just before its offset and costs what
// a plain extraction costs, O(entry size) overall. The kernel's readahead
// sends several READs at once, which the server's workers may take in any
// order. A cursor sent ahead decompresses the bytes it passes over anyway,
// so whole aligned blocks of those are kept in a small LRU (kMaxCachedBlocks
// of kCacheBlock bytes) for the request that arrives late; and a read waits
// for a busy cursor that is about to reach its offset, or to pass over it,
// instead of decompressing the same bytes on a second cursor.
//
// A read behind every cursor and cached block starts again from the
// entry's start (.zip, .tar) or the archive's (.tar.gz): random access to a
// large compressed entry costs O(offset) per read; the kernel's page cache
// (archivefs opens files with KEEP_CACHE) absorbs repeats. Memory is a few
// libarchive buffers per cursor (tens of KiB) and the 2 MiB block cache,
// whatever the archive's size.
//
// Thread-safe: concurrent reads use different cursors.
#pragma once

#include <sys/types.h>

#include <time.h>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"

struct archive;
struct archive_entry;

namespace fusekit::examples {

class ArchiveReader {
 public:
  static constexpr size_t kMaxIdleCursors = 4;
  // Data a cursor passed over to reach an offset is kept in aligned blocks
  // of this size, the kMaxCachedBlocks most recent ones (2 MiB).
  static constexpr size_t kCacheBlock = 128 * 1024;
  static constexpr size_t kMaxCachedBlocks = 16;
  // A read waits for a busy cursor that will stop at most this far before
  // its offset, rather than decompress those bytes a second time.
  static constexpr uint64_t kWaitWindow = 1 << 20;

  // Opens `path` (kept open: renaming or replacing the file later does not
  // change what is served). NotFound / PermissionDenied / FailedPrecondition
  // (a directory) name the path.
  static absl::StatusOr<std::unique_ptr<ArchiveReader>> Open(const std::string& path);
  ~ArchiveReader();
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;

  // Reads every header in order, calling `visit(index, entry)` (index counts
  // headers from 0; `entry` is valid during the call). Data is skipped, not
  // read, except for an entry whose size the header does not give (then
  // its data is read once to count it, and `size` has it; else -1). An
  // unreadable, unknown or corrupt archive is an error naming the path and
  // libarchive's reason.
  absl::Status ForEachHeader(
      const std::function<void(int64_t index, archive_entry* entry, int64_t size)>& visit);

  // Reads up to out.size() bytes of the data of entry `index` at `offset`
  // into `out`; *n is the count (short only at the entry's end). EIO if the
  // data cannot be read (corrupt, encrypted, truncated).
  Errno ReadAt(int64_t index, uint64_t offset, absl::Span<uint8_t> out, size_t* n);

  const std::string& path() const { return path_; }
  // The archive file's size and mtime when opened.
  int64_t size() const { return size_; }
  timespec mtime() const { return mtime_; }

  // For tests: how many cursors were opened, and how many bytes of entry
  // data were decompressed only to be skipped.
  struct Stats {
    uint64_t cursors_opened = 0;
    uint64_t bytes_skipped = 0;
    uint64_t cache_hits = 0;  // reads served whole from the block cache
  };
  Stats stats();

 private:
  struct Cursor;

  ArchiveReader(std::string path, ScopedFd fd, int64_t size, timespec mtime);
  // A libarchive handle over the file, at the start; null with *error set.
  std::unique_ptr<Cursor> NewCursor(std::string* error);
  // Puts in *cursor the idle cursor that reaches (index, offset) most
  // cheaply (null: none, open a new one) and registers the read up to `end`
  // as *busy_id. Returns false instead after waiting for a busy cursor that
  // will be a better start: then look again (the cache may serve now).
  bool TakeCursor(int64_t index, uint64_t offset, uint64_t end, std::unique_ptr<Cursor>* cursor,
                  uint64_t* busy_id);
  // Ends read `busy_id`; keeps `cursor` (if any, and usable) for later.
  void ReturnCursor(std::unique_ptr<Cursor> cursor, uint64_t busy_id);
  // The block cache: kept data, and reads served from it (false: not all
  // of `out` is cached).
  void CacheBlock(int64_t index, uint64_t number, std::string data);
  bool ReadCached(int64_t index, uint64_t offset, absl::Span<uint8_t> out, size_t* n);
  Errno ReadWithCursor(Cursor& c, int64_t index, uint64_t offset, absl::Span<uint8_t> out,
                       size_t* n);

  const std::string path_;
  const ScopedFd fd_;
  const int64_t size_;
  const timespec mtime_;

  Mutex mu_;
  std::vector<std::unique_ptr<Cursor>> idle_ ABSL_GUARDED_BY(mu_);  // oldest first
  // Reads in progress: their entry, where their cursor starts, where the
  // read starts (the bytes before it are passed over), and where it stops.
  struct Busy {
    int64_t index;
    uint64_t start;
    uint64_t offset;
    uint64_t end;
  };
  std::map<uint64_t, Busy> busy_ ABSL_GUARDED_BY(mu_);
  uint64_t next_busy_ ABSL_GUARDED_BY(mu_) = 0;
  CondVar cursor_returned_;
  struct CachedBlock {
    int64_t index;    // the entry
    uint64_t number;  // offset / kCacheBlock
    std::string data;  // kCacheBlock bytes, fewer at the entry's end
  };
  std::list<CachedBlock> blocks_ ABSL_GUARDED_BY(mu_);  // most recent first
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fusekit::examples
