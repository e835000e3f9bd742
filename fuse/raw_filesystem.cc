#include "fuse/raw_filesystem.h"

#include <utility>

namespace fusekit {

namespace {
constexpr Errno kNotImplemented(ENOSYS);
}  // namespace

void RawFileSystem::Lookup(ReplyEntry reply, uint64_t, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::BatchForget(const RequestContext& context,
                                absl::Span<const abi::fuse_forget_one> forgets) {
  for (const abi::fuse_forget_one& f : forgets) Forget(context, f.nodeid, f.nlookup);
}
void RawFileSystem::Getattr(ReplyAttr reply, uint64_t, const abi::fuse_getattr_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Setattr(ReplyAttr reply, uint64_t, const abi::fuse_setattr_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Readlink(ReplyData reply, uint64_t) { reply.Error(kNotImplemented); }
void RawFileSystem::Symlink(ReplyEntry reply, uint64_t, absl::string_view, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Mknod(ReplyEntry reply, uint64_t, absl::string_view,
                          const abi::fuse_mknod_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Mkdir(ReplyEntry reply, uint64_t, absl::string_view,
                          const abi::fuse_mkdir_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Unlink(ReplyEmpty reply, uint64_t, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Rmdir(ReplyEmpty reply, uint64_t, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Rename(ReplyEmpty reply, uint64_t, absl::string_view, uint64_t,
                           absl::string_view, uint32_t) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Link(ReplyEntry reply, uint64_t, uint64_t, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Open(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Read(ReplyData reply, uint64_t, const abi::fuse_read_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Write(ReplyWrite reply, uint64_t, const abi::fuse_write_in&,
                          absl::Span<const uint8_t>) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::WriteBuf(ReplyWrite reply, uint64_t nodeid, const abi::fuse_write_in& in,
                             WritePayload& payload) {
  absl::Span<const uint8_t> data;
  Errno e = payload.Materialize(&data);
  if (!e.ok()) {
    reply.Error(e);
    return;
  }
  Write(std::move(reply), nodeid, in, data);
}
void RawFileSystem::Statfs(ReplyStatfs reply, uint64_t) { reply.Error(kNotImplemented); }
void RawFileSystem::Release(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Fsync(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Setxattr(ReplyEmpty reply, uint64_t, absl::string_view,
                             absl::Span<const uint8_t>, const abi::fuse_setxattr_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Getxattr(ReplyXattr reply, uint64_t, absl::string_view, uint32_t) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Listxattr(ReplyXattr reply, uint64_t, uint32_t) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Removexattr(ReplyEmpty reply, uint64_t, absl::string_view) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Flush(ReplyEmpty reply, uint64_t, const abi::fuse_flush_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Opendir(ReplyOpen reply, uint64_t, const abi::fuse_open_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Readdir(ReplyDirectory reply, uint64_t, const abi::fuse_read_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Readdirplus(ReplyDirectory reply, uint64_t, const abi::fuse_read_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Releasedir(ReplyEmpty reply, uint64_t, const abi::fuse_release_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Fsyncdir(ReplyEmpty reply, uint64_t, const abi::fuse_fsync_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Getlk(ReplyLock reply, uint64_t, const abi::fuse_lk_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Setlk(ReplyEmpty reply, uint64_t, const abi::fuse_lk_in&, bool) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Access(ReplyEmpty reply, uint64_t, const abi::fuse_access_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Create(ReplyCreate reply, uint64_t, absl::string_view,
                           const abi::fuse_create_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Bmap(ReplyBmap reply, uint64_t, const abi::fuse_bmap_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Ioctl(ReplyIoctl reply, uint64_t, const abi::fuse_ioctl_in&,
                          absl::Span<const uint8_t>) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Poll(ReplyPoll reply, uint64_t, const abi::fuse_poll_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Fallocate(ReplyEmpty reply, uint64_t, const abi::fuse_fallocate_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Lseek(ReplyLseek reply, uint64_t, const abi::fuse_lseek_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::CopyFileRange(ReplyWrite reply, uint64_t,
                                  const abi::fuse_copy_file_range_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Statx(ReplyStatx reply, uint64_t, const abi::fuse_statx_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Tmpfile(ReplyCreate reply, uint64_t, const abi::fuse_create_in&) {
  reply.Error(kNotImplemented);
}
void RawFileSystem::Syncfs(ReplyEmpty reply, uint64_t, const abi::fuse_syncfs_in&) {
  reply.Error(kNotImplemented);
}

}  // namespace fusekit
