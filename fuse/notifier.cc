#include "fuse/notifier.h"

#include <sys/uio.h>

#include <cstring>

#include "absl/strings/str_cat.h"

namespace fusekit {
namespace {

using abi::NotifyCode;

template <typename T>
std::string Bytes(const T& value) {
  return std::string(reinterpret_cast<const char*>(&value), sizeof(value));
}

}  // namespace

Notifier::Notifier(Session* session, int fd) : session_(session), fd_(fd) {
  thread_ = std::thread([this] { Run(); });
}

Notifier::~Notifier() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
  }
  cv_.SignalAll();
  thread_.join();
}

Errno Notifier::InvalInode(uint64_t nodeid, int64_t offset, int64_t length) {
  abi::fuse_notify_inval_inode_out out{};
  out.ino = nodeid;
  out.off = offset;
  out.len = length;
  return Submit(NotifyCode::kInvalInode, Bytes(out));
}

Errno Notifier::InvalEntry(uint64_t parent, absl::string_view name, bool expire_only) {
  if (name.empty() || name.size() > 255) return Errno(EINVAL);
  abi::fuse_notify_inval_entry_out out{};
  out.parent = parent;
  out.namelen = static_cast<uint32_t>(name.size());
  out.flags = expire_only ? abi::kExpireOnly : 0;
  std::string body = Bytes(out);
  body.append(name.data(), name.size());
  body.push_back('\0');  // the kernel checks for the terminating NUL
  return Submit(NotifyCode::kInvalEntry, std::move(body));
}

Errno Notifier::Delete(uint64_t parent, uint64_t child, absl::string_view name) {
  if (name.empty() || name.size() > 255) return Errno(EINVAL);
  abi::fuse_notify_delete_out out{};
  out.parent = parent;
  out.child = child;
  out.namelen = static_cast<uint32_t>(name.size());
  std::string body = Bytes(out);
  body.append(name.data(), name.size());
  body.push_back('\0');
  return Submit(NotifyCode::kDelete, std::move(body));
}

Errno Notifier::Store(uint64_t nodeid, uint64_t offset, absl::Span<const uint8_t> data) {
  abi::fuse_notify_store_out out{};
  out.nodeid = nodeid;
  out.offset = offset;
  out.size = static_cast<uint32_t>(data.size());
  std::string body = Bytes(out);
  body.append(reinterpret_cast<const char*>(data.data()), data.size());
  return Submit(NotifyCode::kStore, std::move(body));
}

Errno Notifier::Retrieve(uint64_t nodeid, uint64_t offset, uint32_t size,
                         Session::RetrieveCallback callback) {
  uint64_t unique = session_->RegisterRetrieve(std::move(callback));
  abi::fuse_notify_retrieve_out out{};
  out.notify_unique = unique;
  out.nodeid = nodeid;
  out.offset = offset;
  out.size = size;
  return Submit(NotifyCode::kRetrieve, Bytes(out), unique);
}

Errno Notifier::Prune(absl::Span<const uint64_t> nodeids) {
  abi::fuse_notify_prune_out out{};
  out.count = static_cast<uint32_t>(nodeids.size());
  std::string body = Bytes(out);
  body.append(reinterpret_cast<const char*>(nodeids.data()), nodeids.size() * sizeof(uint64_t));
  return Submit(NotifyCode::kPrune, std::move(body));
}

Errno Notifier::IncEpoch() { return Submit(NotifyCode::kIncEpoch, std::string()); }

Errno Notifier::PollWakeup(uint64_t kh) {
  abi::fuse_notify_poll_wakeup_out out{};
  out.kh = kh;
  return Submit(NotifyCode::kPoll, Bytes(out));
}

Errno Notifier::Submit(NotifyCode code, std::string body, uint64_t retrieve_unique) {
  Message message{code, std::move(body), retrieve_unique};
  if (!InRequestHandler()) return SendNow(message);
  // Queued only once the handler has returned: sent earlier, it could
  // overtake the handler's own reply (and block on the kernel's locks held
  // for that very request).
  {
    MutexLock lock(&mu_);
    ++deferred_;  // for Flush(): submitted, though not queued yet
  }
  RunWhenHandlerReturns([this, message = std::move(message)]() mutable {
    {
      MutexLock lock(&mu_);
      --deferred_;
      queue_.push_back(std::move(message));
    }
    cv_.SignalAll();
  });
  return kOk;
}

Errno Notifier::SendNow(const Message& message) {
  struct iovec iov = {const_cast<char*>(message.body.data()), message.body.size()};
  Errno result = session_->SendNotify(fd_, message.code, &iov, message.body.empty() ? 0 : 1);
  if (!result.ok() && message.retrieve_unique != 0) {
    session_->CancelRetrieve(message.retrieve_unique);
  }
  return result;
}

void Notifier::Flush() {
  MutexLock lock(&mu_);
  while (!queue_.empty() || busy_ || deferred_ > 0) cv_.Wait(&mu_);
}

void Notifier::Run() {
  MutexLock lock(&mu_);
  for (;;) {
    while (queue_.empty() && !stopping_) cv_.Wait(&mu_);
    if (stopping_) return;
    Message message = std::move(queue_.front());
    queue_.pop_front();
    busy_ = true;
    mu_.Unlock();
    Errno result = SendNow(message);
    if (!result.ok() && result != Errno(ENOENT)) {
      session_->Log(absl::StrCat("fusekit: queued notification ",
                                 static_cast<int>(message.code), " failed: ",
                                 DescribeErrno(result)));
    }
    mu_.Lock();
    busy_ = false;
    cv_.SignalAll();
  }
}

}  // namespace fusekit
