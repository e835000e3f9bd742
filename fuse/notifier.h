// Notifier: the messages a filesystem sends the kernel unprompted, to keep
// the kernel's caches true (invalidate, store, retrieve, delete, prune).
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <thread>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/errno.h"
#include "fuse/kernel_abi.h"
#include "fuse/mutex.h"
#include "fuse/session.h"

namespace fusekit {

// Sends notifications on one connection. Thread-safe.
//
// Deadlock rule: some notifications make the kernel take locks (the parent
// directory's for InvalEntry and Delete, the inode's for InvalInode) that
// a request it is waiting on may hold. So a notification called from inside
// a request handler is queued and sent by the notifier's own thread after
// the handler returns; the call returns kOk at once. Called from any other
// thread it is sent directly and returns the kernel's answer:
//   kOk, ENOENT (nothing cached to invalidate), ENOSYS (the kernel does not
//   know this notification), ENODEV/ENOTCONN (the filesystem is gone).
class Notifier {
 public:
  Notifier(Session* session, int fd);
  ~Notifier();  // drops what is still queued
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Drops cached data of `nodeid` in [offset, offset+length) (length 0: to
  // the end; offset -1: attributes only).
  Errno InvalInode(uint64_t nodeid, int64_t offset, int64_t length);
  // Drops the dentry `name` in `parent` (expire_only: mark it stale but
  // keep it for open files and mounts; needs kernel support).
  Errno InvalEntry(uint64_t parent, absl::string_view name, bool expire_only = false);
  // Like InvalEntry, and if the dentry points at `child`, deletes it.
  Errno Delete(uint64_t parent, uint64_t child, absl::string_view name);
  // Puts `data` into the kernel's page cache of `nodeid` at `offset`.
  Errno Store(uint64_t nodeid, uint64_t offset, absl::Span<const uint8_t> data);
  // Asks the kernel for `size` bytes of its page cache of `nodeid`; the
  // answer arrives later through `callback` (possibly fewer bytes).
  Errno Retrieve(uint64_t nodeid, uint64_t offset, uint32_t size,
                 Session::RetrieveCallback callback);
  // Asks the kernel to forget these node ids if unused (protocol 7.45).
  Errno Prune(absl::Span<const uint64_t> nodeids);
  // Makes every cached dentry stale at once (protocol 7.44).
  Errno IncEpoch();
  // Wakes poll(2) waiters registered with this kernel handle.
  Errno PollWakeup(uint64_t kh);

  // Waits until every notification submitted so far went out (those from
  // handlers still running: once they return). Not from a handler.
  void Flush();

 private:
  struct Message {
    abi::NotifyCode code;
    std::string body;
    uint64_t retrieve_unique = 0;  // to cancel the callback if sending fails
  };
  Errno Submit(abi::NotifyCode code, std::string body, uint64_t retrieve_unique = 0);
  Errno SendNow(const Message& message);
  void Run();

  Session* const session_;
  const int fd_;
  Mutex mu_;
  CondVar cv_;
  std::deque<Message> queue_ ABSL_GUARDED_BY(mu_);
  bool busy_ ABSL_GUARDED_BY(mu_) = false;
  int deferred_ ABSL_GUARDED_BY(mu_) = 0;  // submitted by handlers still running
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// True while the calling thread is inside a request handler.
bool InRequestHandler();

}  // namespace fusekit
