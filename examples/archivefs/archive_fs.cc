#include "examples/archivefs/archive_fs.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nodefs/inode.h"

namespace fusekit::examples {
namespace {

void SetTimes(abi::fuse_attr* attr, absl::Time t) {
  timespec ts = absl::ToTimespec(t);
  attr->atime = attr->mtime = attr->ctime = static_cast<uint64_t>(ts.tv_sec);
  attr->atimensec = attr->mtimensec = attr->ctimensec = static_cast<uint32_t>(ts.tv_nsec);
}

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const char* PathnameOf(archive_entry* e) {
  const char* p = archive_entry_pathname_utf8(e);
  return p != nullptr ? p : archive_entry_pathname(e);
}

// Every node of the tree but the root: files, directories, symlinks,
// special files. Attributes are set while the tree is built (before the
// mount serves anything) and never change after.
class ArchiveNode : public Node {
 public:
  ArchiveNode(ArchiveReader* reader, const ArchiveEntry& entry)
      : reader_(reader), entry_(entry) {}

  void SetEntry(const ArchiveEntry& entry) { entry_ = entry; }
  void SetData(int64_t index, uint64_t size) {
    entry_.index = index;
    entry_.size = size;
  }
  void SetNlink(uint32_t nlink) { nlink_ = nlink; }
  const ArchiveEntry& entry() const { return entry_; }

  Errno Getattr(const Context&, FileHandle*, AttrOut* out) override {
    abi::fuse_attr& a = out->attr;
    a.mode = entry_.mode;
    a.size = S_ISLNK(entry_.mode) ? entry_.symlink.size() : entry_.size;
    a.blocks = (a.size + 511) / 512;
    a.nlink = nlink_;
    a.rdev = static_cast<uint32_t>(entry_.rdev);
    SetTimes(&a, entry_.mtime);
    return kOk;
  }
  Errno Open(const Context&, uint32_t flags, OpenOut* out) override {
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) return Errno(EROFS);
    out->flags = abi::kOpenKeepCache;  // the archive never changes
    return kOk;
  }
  Errno Opendir(const Context&, OpenOut* out) override {
    out->flags = abi::kOpenCacheDir | abi::kOpenKeepCache;
    return kOk;
  }
  Errno Read(const Context& ctx, FileHandle*, uint64_t offset, ReadResult* out) override {
    if (!S_ISREG(entry_.mode)) return Errno(EINVAL);
    if (offset >= entry_.size || entry_.index < 0) {
      out->SetSize(0);
      return kOk;
    }
    absl::Span<uint8_t> buffer = out->buffer();
    buffer = buffer.subspan(0, static_cast<size_t>(std::min<uint64_t>(buffer.size(),
                                                                      entry_.size - offset)));
    size_t n = 0;
    Errno e = reader_->ReadAt(entry_.index, offset, buffer, &n);
    if (!e.ok()) return e;
    out->SetSize(n);
    return kOk;
  }
  Errno Readlink(const Context&, std::string* target) override {
    if (!S_ISLNK(entry_.mode)) return Errno(EINVAL);
    *target = entry_.symlink;
    return kOk;
  }
  Errno Statfs(const Context& ctx, abi::fuse_kstatfs* out) override {
    return inode()->Root()->node()->Statfs(ctx, out);
  }

 private:
  ArchiveReader* const reader_;
  ArchiveEntry entry_;
  uint32_t nlink_ = 1;
};

}  // namespace

std::string NormalizeArchivePath(absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<ArchiveIndex> ReadArchiveIndex(ArchiveReader& reader) {
  ArchiveIndex index;
  index.archive_mtime = absl::TimeFromTimespec(reader.mtime());
  absl::Status s = reader.ForEachHeader([&](int64_t i, archive_entry* e, int64_t size) {
    ArchiveEntry a;
    const char* pathname = PathnameOf(e);
    a.path = NormalizeArchivePath(pathname ? pathname : "");
    a.mode = archive_entry_mode(e);
    if ((a.mode & S_IFMT) == 0) a.mode |= S_IFREG;
    a.mtime = archive_entry_mtime_is_set(e)
                  ? absl::FromUnixSeconds(archive_entry_mtime(e)) +
                        absl::Nanoseconds(archive_entry_mtime_nsec(e))
                  : index.archive_mtime;
    if (const char* hardlink = archive_entry_hardlink_utf8(e)) {
      a.hardlink = NormalizeArchivePath(hardlink);
    } else if (const char* raw = archive_entry_hardlink(e)) {
      a.hardlink = NormalizeArchivePath(raw);
    }
    if (S_ISLNK(a.mode)) {
      const char* target = archive_entry_symlink_utf8(e);
      if (target == nullptr) target = archive_entry_symlink(e);
      a.symlink = target ? target : "";
    }
    if (S_ISREG(a.mode)) {
      a.size = size >= 0 ? static_cast<uint64_t>(size)
                         : static_cast<uint64_t>(std::max<la_int64_t>(archive_entry_size(e), 0));
      if (a.size > 0) a.index = i;
    }
    if (S_ISCHR(a.mode) || S_ISBLK(a.mode)) a.rdev = archive_entry_rdev(e);
    index.entries.push_back(std::move(a));
  });
  if (!s.ok()) return s;
  return index;
}

ArchiveRoot::ArchiveRoot(std::unique_ptr<ArchiveReader> reader, ArchiveIndex index)
    : reader_(std::move(reader)), index_(std::move(index)), root_mtime_(index_.archive_mtime) {}

ArchiveRoot::~ArchiveRoot() = default;

void ArchiveRoot::OnAdd(const Context&) {
  struct Built {
    Inode* inode;
    ArchiveNode* node;  // null for the root
  };
  std::map<std::string, Built> by_path = {{"", {inode(), nullptr}}};
  uint64_t next_ino = 2;
  auto warn = [&](const std::string& path, absl::string_view why) {
    std::string w = absl::StrCat(path, ": ", why);
    fprintf(stderr, "archivefs: %s: skipped %s\n", reader_->path().c_str(), w.c_str());
    warnings_.push_back(std::move(w));
  };
  auto make = [&](Inode* parent, const ArchiveEntry& entry) {
    auto node = std::make_unique<ArchiveNode>(reader_.get(), entry);
    ArchiveNode* raw = node.get();
    Inode* child = parent->NewPersistentInode(std::move(node),
                                              {.mode = entry.mode & S_IFMT, .ino = next_ino++});
    return Built{child, raw};
  };
  // The directory at `path`, made (with its parents) if the archive only
  // implies it; null if a non-directory is in the way.
  auto dir_at = [&](const std::string& path) -> Inode* {
    std::vector<std::string> missing;
    std::string at = path;
    Inode* dir = nullptr;
    for (;;) {
      auto it = by_path.find(at);
      if (it != by_path.end()) {
        if (!it->second.inode->IsDir()) return nullptr;
        dir = it->second.inode;
        break;
      }
      missing.push_back(at);
      at = Parent(at);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
      ArchiveEntry implied{.path = *it, .mode = S_IFDIR | 0755, .mtime = index_.archive_mtime};
      Built built = make(dir, implied);
      if (!dir->AddChild(BaseName(*it), built.inode, /*overwrite=*/false)) return nullptr;
      by_path[*it] = built;
      dir = built.inode;
    }
    return dir;
  };

  for (const ArchiveEntry& entry : index_.entries) {
    if (entry.path.empty()) {  // "./" itself: the root's attributes
      if (S_ISDIR(entry.mode)) {
        root_mode_ = entry.mode;
        root_mtime_ = entry.mtime;
      }
      continue;
    }
    const std::string name = BaseName(entry.path);
    if (name.size() > 255) {
      warn(entry.path, "name longer than 255 bytes");
      continue;
    }
    Inode* parent = dir_at(Parent(entry.path));
    if (parent == nullptr) {
      warn(entry.path, "a file in the archive is in the way of its directory");
      continue;
    }
    auto existing = by_path.find(entry.path);
    if (S_ISDIR(entry.mode) && entry.hardlink.empty()) {
      if (existing != by_path.end() && existing->second.inode->IsDir()) {
        existing->second.node->SetEntry(entry);  // listed after being implied
        continue;
      }
      Built built = make(parent, entry);
      parent->AddChild(name, built.inode, /*overwrite=*/true);
      by_path[entry.path] = built;
      continue;
    }
    if (existing != by_path.end() && existing->second.inode->IsDir()) {
      warn(entry.path, "a directory of that name is in the archive already");
      continue;
    }
    if (!entry.hardlink.empty()) {
      auto target = by_path.find(entry.hardlink);
      if (target == by_path.end() || target->second.inode->IsDir()) {
        warn(entry.path, absl::StrCat("hard link to ", entry.hardlink, ", which is not a file "
                                      "in the archive"));
        continue;
      }
      // cpio (and pax with hdrcharset tricks) may put the data on a link.
      if (S_ISREG(entry.mode) && entry.size > 0 && entry.index >= 0) {
        target->second.node->SetData(entry.index, entry.size);
      }
      parent->AddChild(name, target->second.inode, /*overwrite=*/true);
      by_path[entry.path] = target->second;
      continue;
    }
    Built built = make(parent, entry);
    parent->AddChild(name, built.inode, /*overwrite=*/true);
    by_path[entry.path] = built;
  }

  // Link counts: a file has one per name; a directory 2 plus one per
  // subdirectory (its ".."). Also the totals statfs shows.
  std::map<Inode*, uint32_t> subdirs;
  std::set<Inode*> seen;
  for (const auto& [path, built] : by_path) {
    if (path.empty()) continue;
    auto parent = by_path.find(Parent(path));
    if (built.inode->IsDir() && parent != by_path.end()) subdirs[parent->second.inode]++;
  }
  for (const auto& [path, built] : by_path) {
    if (!seen.insert(built.inode).second) continue;
    ++files_;
    if (built.node == nullptr) continue;  // the root
    if (built.inode->IsDir()) {
      built.node->SetNlink(2 + subdirs[built.inode]);
    } else {
      built.node->SetNlink(static_cast<uint32_t>(std::max<size_t>(built.inode->Parents().size(),
                                                                  1)));
      if (S_ISREG(built.node->entry().mode)) bytes_ += built.node->entry().size;
    }
  }
  root_nlink_ = 2 + subdirs[inode()];
}

Errno ArchiveRoot::Getattr(const Context&, FileHandle*, AttrOut* out) {
  out->attr.mode = root_mode_;
  out->attr.nlink = root_nlink_;
  SetTimes(&out->attr, root_mtime_);
  return kOk;
}

Errno ArchiveRoot::Opendir(const Context&, OpenOut* out) {
  out->flags = abi::kOpenCacheDir | abi::kOpenKeepCache;
  return kOk;
}

Errno ArchiveRoot::Statfs(const Context&, abi::fuse_kstatfs* out) {
  out->blocks = (bytes_ + out->bsize - 1) / out->bsize;
  out->bfree = out->bavail = 0;
  out->files = files_;
  out->ffree = 0;
  return kOk;
}

absl::StatusOr<std::unique_ptr<ArchiveRoot>> OpenArchive(const std::string& path) {
  absl::StatusOr<std::unique_ptr<ArchiveReader>> reader = ArchiveReader::Open(path);
  if (!reader.ok()) return reader.status();
  absl::StatusOr<ArchiveIndex> index = ReadArchiveIndex(**reader);
  if (!index.ok()) return index.status();
  return std::make_unique<ArchiveRoot>(std::move(*reader), std::move(*index));
}

}  // namespace fusekit::examples
