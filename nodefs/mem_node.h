// In-memory nodes: directories, regular files, symlinks and special files
// kept in RAM. Building blocks to embed (a tmpfs-like tree in a few lines)
// and the base of examples/memfs.
//
//   auto mount = fusekit::Mount("/mnt/mem", std::make_unique<fusekit::MemDir>());
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fuse/mutex.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit {

// What every in-memory node keeps: stat(2)'s fields and the xattrs.
// Thread-safe (one mutex per node).
class MemNode : public Node {
 public:
  MemNode(uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev = 0);

  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Setattr(const Context& ctx, FileHandle* fh, const SetattrIn& in, AttrOut* out) override;
  Errno Getxattr(const Context& ctx, absl::string_view name, std::string* value) override;
  Errno Setxattr(const Context& ctx, absl::string_view name, absl::Span<const uint8_t> value,
                 uint32_t flags) override;
  Errno Listxattr(const Context& ctx, std::vector<std::string>* names) override;
  Errno Removexattr(const Context& ctx, absl::string_view name) override;

  // Marks a change of content (mtime and ctime) or of metadata (ctime).
  void TouchModified();
  void TouchChanged();

 protected:
  // The size stat(2) shows; files override.
  virtual uint64_t SizeLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return 0; }
  // Truncates (files only; others refuse with EISDIR / EINVAL).
  virtual Errno TruncateLocked(uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillAttrLocked(abi::fuse_attr* attr) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Mutex mu_;
  uint32_t mode_ ABSL_GUARDED_BY(mu_);
  uint32_t uid_ ABSL_GUARDED_BY(mu_);
  uint32_t gid_ ABSL_GUARDED_BY(mu_);
  const uint32_t rdev_;
  struct timespec atime_ ABSL_GUARDED_BY(mu_);
  struct timespec mtime_ ABSL_GUARDED_BY(mu_);
  struct timespec ctime_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> xattrs_ ABSL_GUARDED_BY(mu_);
};

// A regular file (or, with another type in `mode`, a fifo, socket or
// device node whose data is never read). Handle-less: reads and writes go
// to the node.
class MemFile : public MemNode {
 public:
  using MemNode::MemNode;

  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override;
  Errno Read(const Context& ctx, FileHandle* fh, uint64_t offset, ReadResult* out) override;
  Errno Write(const Context& ctx, FileHandle* fh, uint64_t offset,
              absl::Span<const uint8_t> data, uint32_t* written) override;
  Errno Fallocate(const Context& ctx, FileHandle* fh, uint64_t offset, uint64_t length,
                  uint32_t mode) override;

  std::string content();

 protected:
  uint64_t SizeLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return data_.size(); }
  Errno TruncateLocked(uint64_t size) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

 private:
  std::string data_ ABSL_GUARDED_BY(mu_);
};

class MemSymlink : public MemNode {
 public:
  MemSymlink(std::string target, uint32_t uid, uint32_t gid);
  Errno Readlink(const Context& ctx, std::string* target) override;

 protected:
  uint64_t SizeLocked() const override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return target_.size();
  }

 private:
  const std::string target_;
};

// A directory whose entries are the tree's children: creating, removing and
// renaming only check POSIX's rules, the toolkit moves the entries.
class MemDir : public MemNode {
 public:
  MemDir(uint32_t mode = S_IFDIR | 0755, uint32_t uid = 0, uint32_t gid = 0);

  Errno Mknod(const Context& ctx, absl::string_view name, uint32_t mode, uint32_t rdev,
              EntryOut* out, Inode** child) override;
  Errno Mkdir(const Context& ctx, absl::string_view name, uint32_t mode, EntryOut* out,
              Inode** child) override;
  Errno Symlink(const Context& ctx, absl::string_view target, absl::string_view name,
                EntryOut* out, Inode** child) override;
  Errno Link(const Context& ctx, Inode* target, absl::string_view name, EntryOut* out,
             Inode** child) override;
  Errno Unlink(const Context& ctx, absl::string_view name) override;
  Errno Rmdir(const Context& ctx, absl::string_view name) override;
  Errno Rename(const Context& ctx, absl::string_view name, Inode* new_parent,
               absl::string_view new_name, uint32_t flags) override;
  Errno Create(const Context& ctx, absl::string_view name, uint32_t flags, uint32_t mode,
               EntryOut* entry, Inode** child, OpenOut* open) override;
  Errno Getattr(const Context& ctx, FileHandle* fh, AttrOut* out) override;
  Errno Open(const Context& ctx, uint32_t flags, OpenOut* out) override;
};

}  // namespace fusekit
