// TestMemFs: a small but complete in-memory filesystem on the raw API, for
// the fake kernel's own tests and as the filesystem the FsClient tests run
// on both backends. It keeps lookup counts as the protocol requires and
// reports them (LookupCountSource), so the audits have something to check.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/time/time.h"
#include "fuse/mutex.h"
#include "fuse/raw_filesystem.h"
#include "testing/lookup_count_source.h"

namespace fusekit {

// Directories, regular files, symlinks, device nodes, hard links, xattrs.
// Node ids are never reused. A node is freed when it is unlinked and the
// kernel has forgotten it. Thread-safe (one mutex).
class TestMemFs : public RawFileSystem, public LookupCountSource {
 public:
  TestMemFs();

  // Timeouts given with every entry and attribute reply (default 1s).
  void set_entry_timeout(absl::Duration d);
  void set_attr_timeout(absl::Duration d);
  // > 0: a missing name is answered with a negative entry cached this long
  // (node id 0) instead of ENOENT.
  void set_negative_timeout(absl::Duration d);

  // Nodes allocated, the root included.
  size_t node_count() const;
  // How many requests of an opcode arrived.
  int requests(abi::Opcode opcode) const;

  std::map<uint64_t, uint64_t> LookupCounts() override;

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override;
  void Forget(const RequestContext& context, uint64_t nodeid, uint64_t nlookup) override;
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) override;
  void Setattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_setattr_in& in) override;
  void Readlink(ReplyData reply, uint64_t nodeid) override;
  void Symlink(ReplyEntry reply, uint64_t parent, absl::string_view name,
               absl::string_view target) override;
  void Mknod(ReplyEntry reply, uint64_t parent, absl::string_view name,
             const abi::fuse_mknod_in& in) override;
  void Mkdir(ReplyEntry reply, uint64_t parent, absl::string_view name,
             const abi::fuse_mkdir_in& in) override;
  void Unlink(ReplyEmpty reply, uint64_t parent, absl::string_view name) override;
  void Rmdir(ReplyEmpty reply, uint64_t parent, absl::string_view name) override;
  void Rename(ReplyEmpty reply, uint64_t parent, absl::string_view name, uint64_t new_parent,
              absl::string_view new_name, uint32_t flags) override;
  void Link(ReplyEntry reply, uint64_t nodeid, uint64_t new_parent,
            absl::string_view new_name) override;
  void Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override;
  void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) override;
  void Write(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
             absl::Span<const uint8_t> data) override;
  void Statfs(ReplyStatfs reply, uint64_t nodeid) override;
  void Release(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override;
  void Fsync(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) override;
  void Setxattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name,
                absl::Span<const uint8_t> value, const abi::fuse_setxattr_in& in) override;
  void Getxattr(ReplyXattr reply, uint64_t nodeid, absl::string_view name,
                uint32_t size) override;
  void Listxattr(ReplyXattr reply, uint64_t nodeid, uint32_t size) override;
  void Removexattr(ReplyEmpty reply, uint64_t nodeid, absl::string_view name) override;
  void Flush(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_flush_in& in) override;
  void Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override;
  void Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) override;
  void Readdirplus(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) override;
  void Releasedir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override;
  void Fsyncdir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fsync_in& in) override;
  void Getlk(ReplyLock reply, uint64_t nodeid, const abi::fuse_lk_in& in) override;
  void Setlk(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_lk_in& in, bool wait) override;
  void Access(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_access_in& in) override;
  void Create(ReplyCreate reply, uint64_t parent, absl::string_view name,
              const abi::fuse_create_in& in) override;
  void Tmpfile(ReplyCreate reply, uint64_t parent, const abi::fuse_create_in& in) override;
  void Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in) override;
  void Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in) override;
  void CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                     const abi::fuse_copy_file_range_in& in) override;

 private:
  struct Node {
    uint64_t generation = 0;
    abi::fuse_attr attr{};
    std::string data;  // file content or symlink target
    std::map<std::string, uint64_t> children;
    std::map<std::string, std::string> xattrs;
    uint64_t nlookup = 0;
    uint64_t parent = 0;  // directories only, for ".."
  };

  Node* Find(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Node* Dir(uint64_t id, Errno* error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t NewNode(uint32_t mode, const RequestContext& who) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  EntryParam EntryFor(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Replies with an entry for `id`, counting the lookup only if the kernel
  // took the reply.
  void ReplyWithEntry(ReplyEntry& reply, uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Touch(Node& node, bool modified) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops a name; frees the node once unlinked and forgotten.
  void DropLink(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeFree(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ListDirectory(ReplyDirectory& reply, uint64_t nodeid, const abi::fuse_read_in& in,
                     bool plus);
  void Count(abi::Opcode op);

  mutable Mutex mu_;
  std::map<uint64_t, Node> nodes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 2;
  uint64_t next_fh_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Duration entry_timeout_ ABSL_GUARDED_BY(mu_) = absl::Seconds(1);
  absl::Duration attr_timeout_ ABSL_GUARDED_BY(mu_) = absl::Seconds(1);
  absl::Duration negative_timeout_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  std::map<uint32_t, int> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace fusekit
