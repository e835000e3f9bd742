#include "examples/archivefs/test_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace fusekit::examples {
namespace {

struct WriterDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
using Writer = std::unique_ptr<struct archive, WriterDeleter>;

struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using Entry = std::unique_ptr<archive_entry, EntryDeleter>;

absl::Status Error(struct archive* a, absl::string_view what) {
  const char* why = archive_error_string(a);
  return absl::InternalError(absl::StrCat(what, ": ", why ? why : "failed"));
}

absl::StatusOr<Writer> Open(const std::string& path, ArchiveFormat format) {
  Writer a(archive_write_new());
  switch (format) {
    case ArchiveFormat::kTar:
      archive_write_set_format_pax_restricted(a.get());
      break;
    case ArchiveFormat::kTarGz:
      archive_write_set_format_pax_restricted(a.get());
      archive_write_add_filter_gzip(a.get());
      // The fastest level: the tests write hundreds of MiB, and what they
      // read back does not depend on how hard the writer tried.
      archive_write_set_filter_option(a.get(), "gzip", "compression-level", "1");
      break;
    case ArchiveFormat::kZip:
      archive_write_set_format_zip(a.get());
      break;
  }
  if (archive_write_open_filename(a.get(), path.c_str()) != ARCHIVE_OK) {
    return Error(a.get(), absl::StrCat("open ", path));
  }
  return a;
}

}  // namespace

absl::string_view ArchiveSuffix(ArchiveFormat format) {
  switch (format) {
    case ArchiveFormat::kTar:
      return "tar";
    case ArchiveFormat::kTarGz:
      return "tar.gz";
    case ArchiveFormat::kZip:
      return "zip";
  }
  return "?";
}

absl::Status WriteTestArchive(const std::string& path, ArchiveFormat format,
                              const std::vector<TestEntry>& entries) {
  absl::StatusOr<Writer> a = Open(path, format);
  if (!a.ok()) return a.status();
  for (const TestEntry& t : entries) {
    Entry e(archive_entry_new());
    archive_entry_set_pathname(e.get(), t.path.c_str());
    archive_entry_set_mode(e.get(), t.mode);
    timespec ts = absl::ToTimespec(t.mtime);
    archive_entry_set_mtime(e.get(), ts.tv_sec, ts.tv_nsec);
    archive_entry_set_uid(e.get(), 1234);
    archive_entry_set_gid(e.get(), 5678);
    if (!t.hardlink.empty()) {
      archive_entry_set_hardlink(e.get(), t.hardlink.c_str());
      archive_entry_set_size(e.get(), 0);
    } else if (S_ISLNK(t.mode)) {
      archive_entry_set_symlink(e.get(), t.symlink.c_str());
      archive_entry_set_size(e.get(), 0);
    } else if (S_ISREG(t.mode)) {
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(t.content.size()));
    } else {
      archive_entry_set_size(e.get(), 0);
      archive_entry_set_rdev(e.get(), t.rdev);
    }
    if (archive_write_header(a->get(), e.get()) < ARCHIVE_WARN) {
      return Error(a->get(), absl::StrCat("header of ", t.path));
    }
    if (S_ISREG(t.mode) && t.hardlink.empty() && !t.content.empty()) {
      la_ssize_t n = archive_write_data(a->get(), t.content.data(), t.content.size());
      if (n != static_cast<la_ssize_t>(t.content.size())) {
        return Error(a->get(), absl::StrCat("data of ", t.path));
      }
    }
  }
  if (archive_write_close(a->get()) != ARCHIVE_OK) return Error(a->get(), "close");
  return absl::OkStatus();
}

char PatternByte(uint64_t offset) {
  const uint64_t line = offset / 16 * 16;
  const int column = static_cast<int>(offset % 16);
  if (column == 15) return '\n';
  const int shift = 4 * (14 - column);
  return "0123456789abcdef"[(line >> shift) & 0xf];
}

std::string PatternBytes(uint64_t offset, size_t size) {
  std::string out(size, '\0');
  for (size_t i = 0; i < size; ++i) out[i] = PatternByte(offset + i);
  return out;
}

std::vector<TestEntry> SampleTree(ArchiveFormat format) {
  const bool tar = format != ArchiveFormat::kZip;
  std::vector<TestEntry> entries = {
      {.path = "top/", .mode = S_IFDIR | 0750, .mtime = absl::FromUnixSeconds(kSampleTime + 2)},
      {.path = "top/hello.txt",
       .content = "Hello, world!\n",
       .mtime = absl::FromUnixSeconds(kSampleTime + 100)},
      {.path = "top/exec.sh", .mode = S_IFREG | 0755, .content = "#!/bin/sh\necho hi\n"},
      {.path = "top/empty", .mode = S_IFREG | 0600},
      {.path = "implied/deep/file.txt", .mode = S_IFREG | 0444, .content = "deep\n"},
      {.path = "top/link", .mode = S_IFLNK | 0777, .symlink = "hello.txt"},
      {.path = "top/dangling", .mode = S_IFLNK | 0777, .symlink = "../nowhere"},
      {.path = "unicode-\xc3\xbcn\xc3\xaf.txt", .content = "utf8\n"},
      {.path = "./dotted/./name", .content = "normalised\n"},
      {.path = "medium.bin", .content = PatternBytes(0, kSampleMediumSize)},
      {.path = "top/replaced", .content = "old\n"},
      {.path = "top/replaced", .content = "new\n"},
  };
  if (tar) {
    entries.push_back({.path = "top/hard", .hardlink = "top/hello.txt"});
    entries.push_back({.path = "fifo", .mode = S_IFIFO | 0640});
  }
  return entries;
}

absl::Status WritePatternArchive(const std::string& path, ArchiveFormat format,
                                 const std::string& name, uint64_t size) {
  absl::StatusOr<Writer> a = Open(path, format);
  if (!a.ok()) return a.status();
  Entry e(archive_entry_new());
  archive_entry_set_pathname(e.get(), name.c_str());
  archive_entry_set_mode(e.get(), S_IFREG | 0644);
  archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
  archive_entry_set_mtime(e.get(), 1'600'000'000, 0);
  if (archive_write_header(a->get(), e.get()) < ARCHIVE_WARN) {
    return Error(a->get(), absl::StrCat("header of ", name));
  }
  constexpr size_t kChunk = 1 << 20;
  for (uint64_t at = 0; at < size; at += kChunk) {
    std::string chunk = PatternBytes(at, static_cast<size_t>(std::min<uint64_t>(kChunk, size - at)));
    if (archive_write_data(a->get(), chunk.data(), chunk.size()) !=
        static_cast<la_ssize_t>(chunk.size())) {
      return Error(a->get(), absl::StrCat("data of ", name));
    }
  }
  if (archive_write_close(a->get()) != ARCHIVE_OK) return Error(a->get(), "close");
  return absl::OkStatus();
}

}  // namespace fusekit::examples
