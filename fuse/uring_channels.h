// UringChannels: serving a connection's requests over io_uring (FUSE over
// io-uring: Linux 6.14+, granted at INIT as kInitOverIoUring, and only when
// the fuse module's `enable_uring` parameter is on).
//
// The kernel keeps one request queue per CPU and hands a request to the
// queue of the CPU its caller runs on. Each queue here is served by a
// thread pinned to that CPU, with a ring of its own holding one ring entry
// (a header and a payload buffer the kernel copies requests into): a
// request wakes a thread on its caller's CPU, and sending a reply and
// taking the next request is one system call. (What that buys, and why not
// more on a small VM: finding 14 in docs/PERFORMANCE.md.)
//
// FORGET and INTERRUPT still come on /dev/fuse, as do requests sent before
// every queue has an entry: the Server's workers keep reading it.
//
// A handler that blocks (waiting for a lock another caller will drop) holds
// its entry, and its queue has no other: so each queue also has standby
// threads (`threads_per_queue` - 1). One offers an entry of its own once the
// queue's last entry has been busy with one request for 20 ms (standbys
// poll every 20 ms), then stats the mount from that CPU: the kernel gives
// requests already waiting only to an entry that commits one. Not from the
// start: with two entries in a queue the kernel hands requests to them in
// turn, and a round trip then always wakes a sleeping thread, where a
// single entry is often taken again by its thread before it sleeps.
//
// Replies: a request taken from a ring entry carries a ring channel id
// (IsRingChannel, fuse/session.h) instead of a file descriptor; the Session
// hands its reply to Write(), and the entry's thread commits it. A reply
// may come from any thread, later; the entry (and its thread) waits for it.
// Write() returns kOk once the reply is in the entry: the kernel's verdict
// comes with the commit, too late to tell the sender, so a ring reply
// never reports ENOENT (an abandoned request). The kernel abandons only
// requests no daemon has taken yet, or all of them when the connection is
// aborted, when nothing is counted any more.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"

namespace fusekit {

class Session;

class UringChannels {
 public:
  // Prepares `threads_per_queue` ring entries for each possible CPU (the
  // first in use, the others standing by) on the
  // connection of `device_fd` (a /dev/fuse fd whose INIT granted
  // kInitOverIoUring), each with a payload buffer as large as the
  // session's negotiated connection requires (PayloadSize). `mountpoint`
  // (empty when unknown) is where a standby sends a request of its own when
  // it joins its queue (see Serve()).
  UringChannels(Session* session, int device_fd, int threads_per_queue,
                absl::string_view mountpoint);
  // Starts their threads, which offer the entries to the kernel. The
  // Session must send ring replies to Write() by then (SetRingWriter).
  void Start();
  // Stop(), then waits for the threads.
  ~UringChannels();
  UringChannels(const UringChannels&) = delete;
  UringChannels& operator=(const UringChannels&) = delete;

  // Sends a reply (a fuse_out_header, then its arguments) for the request
  // of ring channel `channel`: the Session's writer for ring channels.
  Errno Write(int channel, const struct iovec* iov, int count);

  // Makes the threads leave, leaving the kernel's queues (unmounting ends
  // them too). Returns at once.
  void Stop();

  // Requests taken from rings so far (for tests and the log).
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  // Threads still serving.
  int running() const { return running_.load(std::memory_order_relaxed); }
  int queues() const { return queues_; }

  // The payload buffer the kernel requires of a ring entry on a connection
  // that negotiated `max_write` and `max_pages`: the largest of the two
  // (max_pages in pages) and 8 KiB, or it refuses the entry.
  static size_t PayloadSize(uint32_t max_write, uint32_t max_pages);

 private:
  struct Entry;
  void Serve(Entry* entry);
  // One request found in `entry`'s buffers: decoded and handled, its reply
  // waited for.
  void HandleRequest(Entry* entry);
  // A standby's wait: true once the entry it watches is blocked, false
  // when stopping.
  bool AwaitBlockedNeighbour(Entry* entry);

  Session* const session_;
  const int device_fd_;
  const size_t payload_size_;
  int queues_ = 0;
  std::vector<std::unique_ptr<Entry>> entries_;  // fixed once constructed
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<int> running_{0};
  std::atomic<bool> stopping_{false};
  const std::string kick_path_;
  Mutex kick_mu_;
  std::vector<std::thread> kicks_ ABSL_GUARDED_BY(kick_mu_);
};

// How many request queues the kernel makes: one per possible CPU
// (/sys/devices/system/cpu/possible).
int PossibleCpus();

}  // namespace fusekit
