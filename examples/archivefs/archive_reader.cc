#include "examples/archivefs/archive_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdlib.h>
#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace fusekit::examples {
namespace {

constexpr size_t kBlock = 64 * 1024;

// libarchive's view of the file: pread at this cursor's own position, so
// every cursor shares the one descriptor without sharing a file offset.
struct Source {
  int fd = -1;
  int64_t size = 0;
  int64_t pos = 0;
  std::vector<char> buffer = std::vector<char>(kBlock);
};

la_ssize_t ReadCallback(struct archive* a, void* data, const void** out) {
  Source* s = static_cast<Source*>(data);
  for (;;) {
    ssize_t n = ::pread(s->fd, s->buffer.data(), s->buffer.size(), s->pos);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      archive_set_error(a, errno, "read: %s", strerror(errno));
      return -1;
    }
    s->pos += n;
    *out = s->buffer.data();
    return n;
  }
}

la_int64_t SkipCallback(struct archive*, void* data, la_int64_t request) {
  Source* s = static_cast<Source*>(data);
  int64_t skip = std::max<int64_t>(0, std::min<int64_t>(request, s->size - s->pos));
  s->pos += skip;
  return skip;
}

la_int64_t SeekCallback(struct archive*, void* data, la_int64_t offset, int whence) {
  Source* s = static_cast<Source*>(data);
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : s->size;
  int64_t to = base + offset;
  if (to < 0) return ARCHIVE_FATAL;
  s->pos = to;
  return to;
}

// Formats archivefs serves: tar in all its dialects and zip (the seekable
// reader, which trusts the central directory as unzip does), plus cpio and
// 7z which come at no cost; any compression filter libarchive has. An
// empty file is an empty archive.
void SupportFormats(struct archive* a) {
  archive_read_support_filter_all(a);
  archive_read_support_format_tar(a);
  archive_read_support_format_zip_seekable(a);
  archive_read_support_format_cpio(a);
  archive_read_support_format_7zip(a);
  archive_read_support_format_empty(a);
}

thread_local std::vector<uint8_t> t_scratch;

}  // namespace

struct ArchiveReader::Cursor {
  struct archive* archive = nullptr;
  Source source;
  int64_t index = -1;  // the entry whose data is next; -1 before the first header
  uint64_t pos = 0;    // bytes of that entry's data already read
  bool failed = false;

  ~Cursor() {
    if (archive != nullptr) archive_read_free(archive);
  }
};

absl::StatusOr<std::unique_ptr<ArchiveReader>> ArchiveReader::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string message = absl::StrCat("archive ", path, ": ", strerror(e));
    if (e == ENOENT) return absl::NotFoundError(message);
    if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(message);
    return absl::FailedPreconditionError(message);
  }
  ScopedFd owned(fd);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::FailedPreconditionError(absl::StrCat("archive ", path, ": ", strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("archive ", path, " is a directory"));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat("archive ", path, " is not a regular file"));
  }
  return std::unique_ptr<ArchiveReader>(new ArchiveReader(path, std::move(owned), st.st_size, st.st_mtim));
}

ArchiveReader::ArchiveReader(std::string path, ScopedFd fd, int64_t size, timespec mtime)
    : path_(std::move(path)), fd_(std::move(fd)), size_(size), mtime_(mtime) {}

ArchiveReader::~ArchiveReader() = default;

std::unique_ptr<ArchiveReader::Cursor> ArchiveReader::NewCursor(std::string* error) {
  auto c = std::make_unique<Cursor>();
  c->source.fd = fd_.get();
  c->source.size = size_;
  c->archive = archive_read_new();
  if (c->archive == nullptr) {
    *error = "out of memory";
    return nullptr;
  }
  SupportFormats(c->archive);
  archive_read_set_callback_data(c->archive, &c->source);
  archive_read_set_read_callback(c->archive, ReadCallback);
  archive_read_set_skip_callback(c->archive, SkipCallback);
  archive_read_set_seek_callback(c->archive, SeekCallback);
  if (archive_read_open1(c->archive) != ARCHIVE_OK) {
    const char* why = archive_error_string(c->archive);
    *error = why ? why : "cannot open";
    return nullptr;
  }
  {
    MutexLock lock(&mu_);
    stats_.cursors_opened++;
  }
  return c;
}

absl::Status ArchiveReader::ForEachHeader(
    const std::function<void(int64_t, archive_entry*, int64_t)>& visit) {
  std::string error;
  std::unique_ptr<Cursor> c = NewCursor(&error);
  if (c == nullptr) return absl::DataLossError(absl::StrCat("archive ", path_, ": ", error));
  for (int64_t index = 0;; ++index) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(c->archive, &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      const char* why = archive_error_string(c->archive);
      return absl::DataLossError(
          absl::StrCat("archive ", path_, ": entry ", index, ": ", why ? why : "unreadable"));
    }
    int64_t size = -1;
    if (!archive_entry_size_is_set(entry) && archive_entry_filetype(entry) == AE_IFREG) {
      // Streamed entries (a zip without sizes in its directory): count.
      size = 0;
      std::vector<uint8_t>& scratch = t_scratch;
      scratch.resize(kBlock);
      la_ssize_t n;
      while ((n = archive_read_data(c->archive, scratch.data(), scratch.size())) > 0) size += n;
      if (n < 0) {
        const char* why = archive_error_string(c->archive);
        return absl::DataLossError(
            absl::StrCat("archive ", path_, ": entry ", index, ": ", why ? why : "unreadable"));
      }
    }
    visit(index, entry, size);
  }
  return absl::OkStatus();
}

bool ArchiveReader::TakeCursor(int64_t index, uint64_t offset, uint64_t end,
                               std::unique_ptr<Cursor>* cursor, uint64_t* busy_id) {
  MutexLock lock(&mu_);
  // Best: at this entry, at or before the offset, as far along as possible.
  // Next best: at an earlier entry, as late as possible (skipping forward
  // is never worse than starting over). Else a new cursor.
  int best = -1;
  for (int i = 0; i < static_cast<int>(idle_.size()); ++i) {
    const Cursor& c = *idle_[i];
    if (c.index == index && c.pos <= offset) {
      if (best < 0 || idle_[best]->index != index || idle_[best]->pos < c.pos) best = i;
    } else if (c.index < index) {
      if (best < 0 || (idle_[best]->index != index && idle_[best]->index < c.index)) best = i;
    }
  }
  const bool best_here = best >= 0 && idle_[best]->index == index;
  const uint64_t best_pos = best_here ? idle_[best]->pos : 0;
  // The kernel's readahead, spread over several workers, arrives slightly
  // out of order. Rather than decompress the same bytes on two cursors,
  // wait for a cursor busy with this entry that will either stop at or just
  // before `offset` (then continue from it), or pass over [offset, end) on
  // its way further (then the block cache has those bytes).
  for (const auto& [id, busy] : busy_) {
    if (busy.index != index) continue;
    const bool continues = busy.end <= offset && offset - busy.end <= kWaitWindow &&
                           (!best_here || busy.end > best_pos);
    const bool passes = busy.start <= offset && end <= busy.offset &&
                        (!best_here || busy.start > best_pos);
    if (continues || passes) {
      cursor_returned_.Wait(&mu_);
      return false;
    }
  }
  uint64_t start = 0;
  if (best >= 0) {
    *cursor = std::move(idle_[best]);
    idle_.erase(idle_.begin() + best);
    if ((*cursor)->index == index) start = (*cursor)->pos;
  }
  *busy_id = next_busy_++;
  busy_[*busy_id] = Busy{index, start, offset, end};
  return true;
}

void ArchiveReader::ReturnCursor(std::unique_ptr<Cursor> cursor, uint64_t busy_id) {
  std::unique_ptr<Cursor> evicted;  // freed outside the lock
  {
    MutexLock lock(&mu_);
    busy_.erase(busy_id);
    if (cursor != nullptr && !cursor->failed) {
      idle_.push_back(std::move(cursor));
      if (idle_.size() > kMaxIdleCursors) {
        evicted = std::move(idle_.front());
        idle_.erase(idle_.begin());
      }
    }
  }
  cursor_returned_.SignalAll();
}

Errno ArchiveReader::ReadWithCursor(Cursor& c, int64_t index, uint64_t offset,
                                    absl::Span<uint8_t> out, size_t* n) {
  auto fail = [&](absl::string_view what) {
    const char* why = archive_error_string(c.archive);
    fprintf(stderr, "archivefs: %s: entry %lld: %.*s: %s\n", path_.c_str(),
            static_cast<long long>(index), static_cast<int>(what.size()), what.data(),
            why ? why : "error");
    c.failed = true;
    return Errno(EIO);
  };
  while (c.index < index) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(c.archive, &entry);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) return fail("cannot reach its header");
    c.index++;
    c.pos = 0;
  }
  // Bytes before `offset` are decompressed and passed over. Whole aligned
  // blocks among them are kept in the block cache: they are usually what a
  // request that arrived a moment later (reordered readahead) asks for.
  std::vector<uint8_t>& scratch = t_scratch;
  scratch.resize(kBlock);
  uint64_t skipped = 0;
  while (c.pos < offset) {
    const uint64_t block_end = (c.pos / kCacheBlock + 1) * kCacheBlock;
    if (c.pos % kCacheBlock == 0 && offset >= block_end) {
      std::string block(kCacheBlock, '\0');
      size_t filled = 0;
      while (filled < block.size()) {
        la_ssize_t got = archive_read_data(c.archive, block.data() + filled, block.size() - filled);
        if (got < 0) return fail("cannot read data");
        if (got == 0) break;
        filled += static_cast<size_t>(got);
      }
      if (filled == 0) break;  // the entry ends before `offset`
      block.resize(filled);
      const uint64_t number = c.pos / kCacheBlock;
      c.pos += filled;
      skipped += filled;
      CacheBlock(index, number, std::move(block));
      if (filled < kCacheBlock) break;
      continue;
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(std::min(offset, block_end) - c.pos,
                                                         scratch.size()));
    la_ssize_t got = archive_read_data(c.archive, scratch.data(), want);
    if (got < 0) return fail("cannot read data");
    if (got == 0) break;  // the entry ends before `offset`
    c.pos += static_cast<uint64_t>(got);
    skipped += static_cast<uint64_t>(got);
  }
  if (skipped > 0) {
    MutexLock lock(&mu_);
    stats_.bytes_skipped += skipped;
  }
  size_t done = 0;
  if (c.pos == offset) {
    while (done < out.size()) {
      la_ssize_t got = archive_read_data(c.archive, out.data() + done, out.size() - done);
      if (got < 0) return fail("cannot read data");
      if (got == 0) break;
      done += static_cast<size_t>(got);
      c.pos += static_cast<uint64_t>(got);
    }
  }
  *n = done;
  return kOk;
}

void ArchiveReader::CacheBlock(int64_t index, uint64_t number, std::string data) {
  MutexLock lock(&mu_);
  for (auto it = blocks_.begin(); it != blocks_.end(); ++it) {
    if (it->index == index && it->number == number) {
      blocks_.erase(it);
      break;
    }
  }
  blocks_.push_front(CachedBlock{index, number, std::move(data)});
  if (blocks_.size() > kMaxCachedBlocks) blocks_.pop_back();
}

bool ArchiveReader::ReadCached(int64_t index, uint64_t offset, absl::Span<uint8_t> out,
                               size_t* n) {
  MutexLock lock(&mu_);
  // Only whole requests: every byte of `out` must be in cached blocks (a
  // short last block ends the entry, and ends the read there).
  size_t done = 0;
  while (done < out.size()) {
    const uint64_t at = offset + done;
    const uint64_t number = at / kCacheBlock;
    auto it = blocks_.begin();
    while (it != blocks_.end() && !(it->index == index && it->number == number)) ++it;
    if (it == blocks_.end()) return false;
    const uint64_t in_block = at - number * kCacheBlock;
    if (in_block >= it->data.size()) break;  // the entry's end
    const size_t take = std::min<size_t>(out.size() - done, it->data.size() - in_block);
    memcpy(out.data() + done, it->data.data() + in_block, take);
    done += take;
    if (it->data.size() < kCacheBlock && in_block + take == it->data.size()) break;
  }
  *n = done;
  if (getenv("AR_TRACE")) fprintf(stderr, "TRACE hit %llu+%zu\n", (unsigned long long)offset, out.size());
  stats_.cache_hits++;
  return true;
}

Errno ArchiveReader::ReadAt(int64_t index, uint64_t offset, absl::Span<uint8_t> out, size_t* n) {
  *n = 0;
  std::unique_ptr<Cursor> c;
  uint64_t busy_id = 0;
  for (;;) {
    if (ReadCached(index, offset, out, n)) return kOk;
    if (TakeCursor(index, offset, offset + out.size(), &c, &busy_id)) break;
  }
  if (c == nullptr) {
    std::string error;
    c = NewCursor(&error);
    if (c == nullptr) {
      fprintf(stderr, "archivefs: %s: %s\n", path_.c_str(), error.c_str());
      ReturnCursor(nullptr, busy_id);
      return Errno(EIO);
    }
  }
  uint64_t from = c->index == index ? c->pos : 0;
  Errno e = ReadWithCursor(*c, index, offset, out, n);
  if (getenv("AR_TRACE")) fprintf(stderr, "TRACE read %llu+%zu from %llu\n", (unsigned long long)offset, out.size(), (unsigned long long)from);
  ReturnCursor(std::move(c), busy_id);
  return e;
}

ArchiveReader::Stats ArchiveReader::stats() {
  MutexLock lock(&mu_);
  return stats_;
}

}  // namespace fusekit::examples
