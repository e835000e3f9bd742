// Bridge: the one place that turns raw FUSE requests into Node calls. It is
// a RawFileSystem over the Inode tree, and keeps every book the protocol
// needs: node ids, lookup counts, file handles, directory offsets.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "fuse/mutex.h"
#include "fuse/notifier.h"
#include "fuse/raw_filesystem.h"
#include "fuse/server.h"
#include "nodefs/inode.h"
#include "nodefs/node.h"

namespace fusekit {

// How a node tree is served.
struct Options {
  // How long the kernel may cache a found name, a missing name (0: not at
  // all) and attributes. Nodes may override per reply.
  absl::Duration entry_timeout = absl::Seconds(1);
  absl::Duration negative_timeout = absl::ZeroDuration();
  absl::Duration attr_timeout = absl::Seconds(1);
  // Owner reported by the default Getattr; -1 means the daemon's own.
  int64_t uid = -1;
  int64_t gid = -1;
  // st_ino given to inodes whose StableAttr::ino is 0, counting up. High
  // by default so it never meets a filesystem's own numbers.
  uint64_t first_automatic_ino = uint64_t{1} << 63;
  // Answer READDIRPLUS (ls -l in one round trip; the kernel decides when to
  // use it, READDIRPLUS_AUTO).
  bool readdirplus = true;
  // The kernel caches writes and sends them later in large batches
  // (FUSE_WRITEBACK_CACHE); it then also trusts its own idea of size and
  // mtime. Opens reach the node with O_WRONLY made O_RDWR and no O_APPEND.
  bool writeback_cache = false;
  // The filesystem drops set-user-ID/set-group-ID bits and file
  // capabilities on write, truncate and chown itself (FUSE_HANDLE_KILLPRIV_V2,
  // through Node::KillPrivileges), so the kernel stops asking for
  // security.capability before every write(2): one round trip less each.
  bool handle_killpriv = true;
  // FUSE passthrough (Linux 6.9+, root): opens whose OpenOut names a
  // passthrough_fd are served by the kernel from that file. Turns the
  // writeback cache off (the kernel allows only one of them).
  bool passthrough = false;
  // The core's mount and server options.
  MountOptions mount;
  ServerOptions server;
};

// Thread-safe: requests on different nodes run in parallel. Node-id and
// handle tables are sharded (no global lock on getattr/read/write/lookup).
class Bridge : public RawFileSystem {
 public:
  Bridge(std::unique_ptr<Node> root, const Options& options);
  ~Bridge() override;

  Inode* root() const { return root_.get(); }
  const Options& options() const { return options_; }
  // Where notifications go; set when serving (Mount or the fake kernel).
  void SetNotifier(Notifier* notifier) { notifier_.store(notifier); }
  Notifier* notifier() const { return notifier_.load(); }
  // The server, for passthrough's backing-file registry; set when serving.
  void SetServer(Server* server) { server_.store(server); }
  // Backing ids registered for passthrough and not yet released (one per
  // node with passthrough opens), for tests.
  size_t BackingCount();

  // The kernel's lookup count of every node id the bridge knows (root
  // included), for audits against what a (fake) kernel holds.
  std::map<uint64_t, uint64_t> LookupCounts();
  // How many Inodes are alive (known to the kernel, in the tree, or open).
  size_t InodeCount();
  // The Inode for a node id, or null.
  std::shared_ptr<Inode> FindInode(uint64_t node_id);

  // --- RawFileSystem ---------------------------------------------------------
  void Init(const ConnectionInfo& info) override;
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
  void WriteBuf(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                WritePayload& payload) override;
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
  void Ioctl(ReplyIoctl reply, uint64_t nodeid, const abi::fuse_ioctl_in& in,
             absl::Span<const uint8_t> in_data) override;
  void Poll(ReplyPoll reply, uint64_t nodeid, const abi::fuse_poll_in& in) override;
  void Fallocate(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_fallocate_in& in) override;
  void Lseek(ReplyLseek reply, uint64_t nodeid, const abi::fuse_lseek_in& in) override;
  void CopyFileRange(ReplyWrite reply, uint64_t nodeid,
                     const abi::fuse_copy_file_range_in& in) override;
  void Statx(ReplyStatx reply, uint64_t nodeid, const abi::fuse_statx_in& in) override;

 private:
  friend class Inode;
  friend class PinScope;
  struct OpenFile;
  struct DirListing;

  // --- Inode table ---------------------------------------------------------
  Inode* MakeInode(std::unique_ptr<Node> node, StableAttr attr, bool persistent);
  // Frees `inode` if nothing holds it any more.
  void MaybeRelease(Inode* inode);
  // FindInode, answering ESTALE when the node id is unknown.
  std::shared_ptr<Inode> FindInodeOrReply(Reply& reply, uint64_t node_id);
  // Adds (or, with a negative delta, removes) kernel references.
  void AdjustLookup(Inode* inode, int64_t delta);

  // --- Handles ---------------------------------------------------------------
  uint64_t AddHandle(std::shared_ptr<Inode> inode, std::unique_ptr<FileHandle> handle, bool dir,
                     bool passthrough = false);
  // Settles how the kernel does I/O for a new open of `inode`: registers or
  // reuses its backing file when the node asked for passthrough and that is
  // possible (then true, with *param's flags and backing id set), or
  // counts a normal open. EndOpenMode undoes it when the open ends.
  bool BeginOpenMode(Inode* inode, const OpenOut& out, OpenParam* param);
  void EndOpenMode(Inode* inode, bool passthrough);
  // Closes a handle the kernel never saw (its open reply failed).
  void AbandonOpen(uint64_t fh, Inode* inode);
  std::shared_ptr<OpenFile> FindHandle(uint64_t fh);
  std::shared_ptr<OpenFile> TakeHandle(uint64_t fh);
  // Ends an open of `inode`; it may be freed once nothing else holds it.
  void CloseOpen(Inode* inode);

  // Has a regular file's node drop what a write, truncate or chown takes
  // away: set-user/group-ID when the kernel says so (`suid_sgid`), file
  // capabilities whenever FUSE_HANDLE_KILLPRIV_V2 is on. Tells the kernel
  // to drop its cached attributes when the mode changed (*mode_changed).
  Errno KillPrivileges(const Context& ctx, Inode* inode, FileHandle* fh, bool suid_sgid,
                       bool* mode_changed = nullptr);
  // Fills attributes from the node's Getattr, forcing the stable parts.
  Errno GetAttr(const Context& ctx, Inode* inode, FileHandle* fh, AttrOut* out);
  void ForceStable(Inode* inode, abi::fuse_attr* attr);
  // Sends an entry reply for `child` and counts the lookup, undoing the
  // count if the kernel no longer waits for the reply.
  void ReplyWithEntry(ReplyEntry& reply, Inode* child, const EntryOut& out);
  // Runs a creating method's result: adds `child` under `name` in `parent`
  // and answers. Shared by Mknod, Mkdir, Symlink and Link.
  void FinishCreate(ReplyEntry& reply, Errno result, Inode* parent, absl::string_view name,
                    Inode* child, EntryOut& out);
  EntryOut NewEntryOut() const;
  void ReaddirCommon(ReplyDirectory& reply, uint64_t nodeid, const abi::fuse_read_in& in,
                     bool plus);

  const Options options_;
  const uint32_t default_uid_;
  const uint32_t default_gid_;
  std::atomic<Notifier*> notifier_{nullptr};
  std::atomic<Server*> server_{nullptr};
  std::atomic<bool> passthrough_{false};   // negotiated (set at INIT)
  std::atomic<bool> no_open_{false};       // FUSE_NO_OPEN_SUPPORT granted
  std::atomic<bool> no_opendir_{false};    // FUSE_NO_OPENDIR_SUPPORT granted
  std::atomic<bool> writeback_{false};     // FUSE_WRITEBACK_CACHE granted
  std::atomic<bool> killpriv_{false};      // FUSE_HANDLE_KILLPRIV_V2 granted
  std::atomic<bool> passthrough_refusal_logged_{false};
  // Passthrough bookkeeping by node id: the backing id shared by the
  // node's passthrough opens (the kernel refuses two backing files on one
  // inode) and how many opens use it; and the node's normal opens (the
  // kernel refuses passthrough beside them).
  struct Backing {
    int32_t id = 0;
    int opens = 0;
  };
  // Listing buffers of closed directory handles, for the next listings:
  // otherwise every opendir of a big directory allocates its listing
  // afresh, and glibc hands the memory back at every close, so each listing
  // page-faults it in again (a quarter of memfs's time listing 10,000
  // entries). Bounded in number and size.
  Mutex spare_listings_mu_;
  std::vector<std::vector<DirStreamEntry>> spare_listings_ ABSL_GUARDED_BY(spare_listings_mu_);
  std::vector<DirStreamEntry> TakeSpareListing();
  // Ends a directory handle's listing (its stream, its buffer to the spares).
  void EndListing(OpenFile& open);
  void KeepSpareListing(std::vector<DirStreamEntry> listing);

  Mutex backing_mu_;
  absl::flat_hash_map<uint64_t, Backing> backings_ ABSL_GUARDED_BY(backing_mu_);
  absl::flat_hash_map<uint64_t, int> cached_opens_ ABSL_GUARDED_BY(backing_mu_);
  std::atomic<uint64_t> next_node_id_{abi::kRootId + 1};
  std::atomic<uint64_t> next_ino_;
  std::atomic<uint64_t> next_fh_{1};
  std::shared_ptr<Inode> root_;

  static constexpr int kShards = 32;
  struct NodeShard {
    Mutex mu;
    absl::flat_hash_map<uint64_t, std::shared_ptr<Inode>> by_id ABSL_GUARDED_BY(mu);
  };
  struct InoShard {
    Mutex mu;
    absl::flat_hash_map<uint64_t, Inode*> by_ino ABSL_GUARDED_BY(mu);
  };
  struct HandleShard {
    Mutex mu;
    absl::flat_hash_map<uint64_t, std::shared_ptr<OpenFile>> by_fh ABSL_GUARDED_BY(mu);
  };
  NodeShard& NodeShardFor(uint64_t id) { return node_shards_[id % kShards]; }
  InoShard& InoShardFor(uint64_t ino) { return ino_shards_[(ino ^ (ino >> 32)) % kShards]; }
  HandleShard& HandleShardFor(uint64_t fh) { return handle_shards_[fh % kShards]; }
  NodeShard node_shards_[kShards];
  InoShard ino_shards_[kShards];
  HandleShard handle_shards_[kShards];
};

// A node tree mounted and served. Destroying it unmounts.
class TreeMount {
 public:
  ~TreeMount();
  Server& server() { return *server_; }
  Bridge& bridge() { return *bridge_; }
  Inode* root() { return bridge_->root(); }
  const std::string& mountpoint() const { return server_->mountpoint(); }
  absl::Status Unmount() { return server_->Unmount(); }
  void Wait() { server_->Wait(); }
  int WaitForUnmountOrSignal() { return server_->WaitForUnmountOrSignal(); }

 private:
  friend absl::StatusOr<std::unique_ptr<TreeMount>> Mount(absl::string_view mountpoint,
                                                          std::unique_ptr<Node> root,
                                                          const Options& options);
  TreeMount() = default;
  std::unique_ptr<Bridge> bridge_;
  std::unique_ptr<Server> server_;
};

// The core's server options for serving a tree with `options` (adds the
// capabilities the bridge serves, such as READDIRPLUS).
ServerOptions ServerOptionsFor(const Options& options);

// Mounts the tree rooted at `root` on `mountpoint` and serves it; returns
// once usable, or a Status naming what is wrong (as fusekit::Mount).
absl::StatusOr<std::unique_ptr<TreeMount>> Mount(absl::string_view mountpoint,
                                                std::unique_ptr<Node> root,
                                                const Options& options = Options());

}  // namespace fusekit
