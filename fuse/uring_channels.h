// UringChannels: serving a connection's requests over io_uring (FUSE over
// io-uring: Linux 6.14+, granted at INIT as kInitOverIoUring, and only when
// the fuse module's `enable_uring` parameter is on).
//
// The kernel keeps one request queue per CPU and hands a request to the
// queue of the CPU its caller runs on. Each queue here gets a few threads
// pinned to that CPU, each with a ring of its own holding one ring entry (a
// header and a payload buffer the kernel copies requests into). A caller's
// request so wakes a daemon thread on the caller's own CPU, which runs as
// soon as the caller sleeps: no wake-up of another CPU, in either direction
// (on a VM, waking an idle virtual CPU is the dearest part of a round trip).
// Sending a reply and taking the next request is one system call.
//
// FORGET and INTERRUPT still come on /dev/fuse, as do requests sent before
// every queue has an entry: the Server's workers keep reading it.
//
// Replies: a request taken from a ring entry carries a ring channel id
// (IsRingChannel, fuse/session.h) instead of a file descriptor (Session::HandleMessage's `fd`); the Session
// hands its reply to Write(), and the entry's thread commits it. A reply
// may come from any thread, later; the entry (and its thread) waits for it,
// as a worker would, so a handler that blocks holds its thread: each queue
// has `threads_per_queue` of them.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "fuse/errno.h"
#include "fuse/mutex.h"
#include "fuse/scoped_fd.h"

namespace fusekit {

class Session;

class UringChannels {
 public:
  // Prepares `threads_per_queue` ring entries for each possible CPU on the
  // connection of `device_fd` (a /dev/fuse fd whose INIT granted
  // kInitOverIoUring). `payload_size`: what the kernel requires of a
  // payload buffer (the largest of max_write, max_pages pages and 8 KiB).
  UringChannels(Session* session, int device_fd, int threads_per_queue, size_t payload_size);
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

 private:
  struct Entry;
  void Serve(Entry* entry);
  // One request found in `entry`'s buffers: decoded and handled, its reply
  // waited for. False when the entry must be registered again.
  void HandleRequest(Entry* entry);

  Session* const session_;
  const int device_fd_;
  const size_t payload_size_;
  int queues_ = 0;
  std::vector<std::unique_ptr<Entry>> entries_;  // fixed once constructed
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<int> running_{0};
};

// How many request queues the kernel makes: one per possible CPU
// (/sys/devices/system/cpu/possible).
int PossibleCpus();

}  // namespace fusekit
