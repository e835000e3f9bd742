#include "fuse/reply.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "fuse/opcode.h"
#include "fuse/session.h"

namespace fusekit {
namespace {

// The sizes the kernel expects at a given minor (fs/fuse: the compat sizes
// of fuse_entry_out and fuse_attr_out before 7.9, fuse_kstatfs before 7.4).
size_t EntryOutSize(uint32_t minor) {
  return minor < 9 ? abi::kCompatEntryOutSize : sizeof(abi::fuse_entry_out);
}
size_t AttrOutSize(uint32_t minor) {
  return minor < 9 ? abi::kCompatAttrOutSize : sizeof(abi::fuse_attr_out);
}

abi::fuse_entry_out ToEntryOut(const EntryParam& e) {
  abi::fuse_entry_out out{};
  out.nodeid = e.nodeid;
  out.generation = e.generation;
  ToWireTimeout(e.entry_timeout, &out.entry_valid, &out.entry_valid_nsec);
  ToWireTimeout(e.attr_timeout, &out.attr_valid, &out.attr_valid_nsec);
  out.attr = e.attr;
  return out;
}

abi::fuse_open_out ToOpenOut(const OpenParam& o) {
  abi::fuse_open_out out{};
  out.fh = o.fh;
  out.open_flags = o.open_flags;
  out.backing_id = o.backing_id;
  return out;
}

}  // namespace

void ToWireTimeout(absl::Duration d, uint64_t* sec, uint32_t* nsec) {
  if (d <= absl::ZeroDuration()) {
    *sec = 0;
    *nsec = 0;
    return;
  }
  if (d == absl::InfiniteDuration()) d = absl::Hours(24 * 365 * 100);
  int64_t s = absl::IDivDuration(d, absl::Seconds(1), &d);
  *sec = static_cast<uint64_t>(s);
  *nsec = static_cast<uint32_t>(absl::ToInt64Nanoseconds(d));
}

// --- Reply ----------------------------------------------------------------

Reply::Reply(Session* session, int fd, RequestContext context, uint32_t opcode)
    : opcode_(opcode),
      session_(session),
      fd_(fd),
      context_(std::move(context)),
      start_(session->debug() ? absl::Now() : absl::InfinitePast()) {}

Reply::Reply(Reply&& other) noexcept
    : opcode_(other.opcode_),
      session_(std::exchange(other.session_, nullptr)),
      fd_(other.fd_),
      context_(std::move(other.context_)),
      start_(other.start_) {}

Reply::~Reply() {
  if (session_ != nullptr) {
    session_->Log(absl::StrCat("fusekit: ", OpcodeName(opcode_), " unique=", context_.unique,
                               " was dropped without a reply: answering EIO"));
    Error(Errno(EIO));
  }
}

uint32_t Reply::minor() const {
  return session_ != nullptr ? session_->minor() : abi::kKernelMinorVersion;
}

bool Reply::Interrupted() const {
  return session_ != nullptr && session_->IsInterrupted(context_.unique);
}

void Reply::OnInterrupt(std::function<void()> callback) {
  if (session_ != nullptr) session_->SetInterruptCallback(context_.unique, std::move(callback));
}

Errno Reply::Error(Errno error) {
  if (session_ == nullptr) return Errno(EINVAL);
  // Error 0 would be a success reply without its body: refuse to send it.
  int value = error.ok() ? EIO : error.value();
  Session* session = std::exchange(session_, nullptr);
  return session->WriteReply(fd_, context_.unique, opcode_, value, nullptr, 0, start_);
}

Errno Reply::Send(const struct iovec* iov, int count) {
  if (session_ == nullptr) {
    // A second reply: the kernel would take it for another request's.
    return Errno(EINVAL);
  }
  Session* session = std::exchange(session_, nullptr);
  return session->WriteReply(fd_, context_.unique, opcode_, 0, iov, count, start_);
}

Errno Reply::SendFromFd(int fd, off_t offset, size_t size) {
  if (session_ == nullptr) return Errno(EINVAL);
  Session* session = std::exchange(session_, nullptr);
  return session->WriteReplyFromFd(fd_, context_.unique, opcode_, fd, offset, size, start_);
}

// --- Typed replies --------------------------------------------------------------

Errno ReplyEmpty::Ok() { return Send(nullptr, 0); }

Errno ReplyEntry::Entry(const EntryParam& entry) {
  abi::fuse_entry_out out = ToEntryOut(entry);
  struct iovec iov = {&out, EntryOutSize(minor())};
  return Send(&iov, 1);
}

Errno ReplyCreate::Create(const EntryParam& entry, const OpenParam& open) {
  abi::fuse_entry_out entry_out = ToEntryOut(entry);
  abi::fuse_open_out open_out = ToOpenOut(open);
  struct iovec iov[2] = {{&entry_out, EntryOutSize(minor())}, {&open_out, sizeof(open_out)}};
  return Send(iov, 2);
}

Errno ReplyAttr::Attr(const abi::fuse_attr& attr, absl::Duration timeout) {
  abi::fuse_attr_out out{};
  ToWireTimeout(timeout, &out.attr_valid, &out.attr_valid_nsec);
  out.attr = attr;
  struct iovec iov = {&out, AttrOutSize(minor())};
  return Send(&iov, 1);
}

Errno ReplyOpen::Open(const OpenParam& open) {
  abi::fuse_open_out out = ToOpenOut(open);
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyData::Data(absl::Span<const uint8_t> data) {
  struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
  return Send(&iov, data.empty() ? 0 : 1);
}

Errno ReplyData::Data(absl::string_view data) {
  return Data(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()),
                                        data.size()));
}

Errno ReplyData::DataIov(absl::Span<const struct iovec> parts) {
  return Send(parts.data(), static_cast<int>(parts.size()));
}

Errno ReplyData::DataFromFd(int fd, off_t offset, size_t size) {
  return SendFromFd(fd, offset, size);
}

Errno ReplyWrite::Written(uint64_t bytes) {
  if (opcode_ == static_cast<uint32_t>(abi::Opcode::kCopyFileRange64)) {
    abi::fuse_copy_file_range_out out64{};
    out64.bytes_copied = bytes;
    struct iovec iov = {&out64, sizeof(out64)};
    return Send(&iov, 1);
  }
  abi::fuse_write_out out{};
  // fuse_write_out counts in 32 bits: report what fits (a short copy/write),
  // never a count wrapped modulo 4 GiB.
  out.size = static_cast<uint32_t>(std::min<uint64_t>(bytes, UINT32_MAX));
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyStatfs::Statfs(const abi::fuse_kstatfs& st) {
  abi::fuse_statfs_out out{};
  out.st = st;
  struct iovec iov = {&out, minor() < 4 ? abi::kCompatStatfsSize : sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyXattr::Size(uint32_t size) {
  abi::fuse_getxattr_out out{};
  out.size = size;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyXattr::Data(absl::Span<const uint8_t> data) {
  struct iovec iov = {const_cast<uint8_t*>(data.data()), data.size()};
  return Send(&iov, data.empty() ? 0 : 1);
}

Errno ReplyLock::Lock(const abi::fuse_file_lock& lock) {
  abi::fuse_lk_out out{};
  out.lk = lock;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyBmap::Block(uint64_t block) {
  abi::fuse_bmap_out out{};
  out.block = block;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyIoctl::Result(int32_t result, absl::Span<const uint8_t> out_data) {
  abi::fuse_ioctl_out out{};
  out.result = result;
  struct iovec iov[2] = {{&out, sizeof(out)},
                         {const_cast<uint8_t*>(out_data.data()), out_data.size()}};
  return Send(iov, out_data.empty() ? 1 : 2);
}

Errno ReplyPoll::Events(uint32_t revents) {
  abi::fuse_poll_out out{};
  out.revents = revents;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyLseek::Offset(uint64_t offset) {
  abi::fuse_lseek_out out{};
  out.offset = offset;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

Errno ReplyStatx::Statx(const abi::fuse_statx& stat, absl::Duration attr_timeout) {
  abi::fuse_statx_out out{};
  ToWireTimeout(attr_timeout, &out.attr_valid, &out.attr_valid_nsec);
  out.stat = stat;
  struct iovec iov = {&out, sizeof(out)};
  return Send(&iov, 1);
}

// --- Directories -------------------------------------------------------------------

ReplyDirectory::ReplyDirectory(Session* session, int fd, RequestContext context, uint32_t opcode,
                               uint32_t max_size)
    : Reply(session, fd, std::move(context), opcode), max_size_(max_size) {
  // The kernel asks for at most a few pages; cap what we reserve anyway.
  buffer_.reserve(std::min<uint32_t>(max_size, 1 << 20));
}

bool ReplyDirectory::plus() const {
  return opcode_ == static_cast<uint32_t>(abi::Opcode::kReaddirplus);
}

namespace {
size_t DirentSize(bool plus, size_t name_len) {
  return abi::DirentAlign((plus ? abi::kNameOffsetDirentplus : abi::kNameOffsetDirent) +
                          name_len);
}
}  // namespace

bool ReplyDirectory::Fits(absl::string_view name) const {
  return buffer_.size() + DirentSize(plus(), name.size()) <= max_size_;
}

bool ReplyDirectory::Add(absl::string_view name, uint64_t ino, uint32_t d_type,
                         uint64_t next_offset) {
  if (plus() || !Fits(name) || name.empty() || name.size() > 255) return false;
  size_t at = buffer_.size();
  buffer_.resize(at + DirentSize(false, name.size()), '\0');
  abi::fuse_dirent d{};
  d.ino = ino;
  d.off = next_offset;
  d.namelen = static_cast<uint32_t>(name.size());
  d.type = d_type;
  std::memcpy(&buffer_[at], &d, sizeof(d));
  std::memcpy(&buffer_[at + abi::kNameOffsetDirent], name.data(), name.size());
  ++count_;
  return true;
}

bool ReplyDirectory::AddPlus(absl::string_view name, const EntryParam& entry,
                             uint64_t next_offset) {
  if (!plus() || !Fits(name) || name.empty() || name.size() > 255) return false;
  size_t at = buffer_.size();
  buffer_.resize(at + DirentSize(true, name.size()), '\0');
  abi::fuse_entry_out e = ToEntryOut(entry);
  abi::fuse_dirent d{};
  d.ino = entry.attr.ino;
  d.off = next_offset;
  d.namelen = static_cast<uint32_t>(name.size());
  d.type = (entry.attr.mode & S_IFMT) >> 12;
  std::memcpy(&buffer_[at], &e, sizeof(e));
  std::memcpy(&buffer_[at + sizeof(e)], &d, sizeof(d));
  std::memcpy(&buffer_[at + abi::kNameOffsetDirentplus], name.data(), name.size());
  ++count_;
  return true;
}

Errno ReplyDirectory::Send() {
  struct iovec iov = {buffer_.data(), buffer_.size()};
  return Reply::Send(&iov, buffer_.empty() ? 0 : 1);
}

}  // namespace fusekit
