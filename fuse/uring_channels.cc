#include "fuse/uring_channels.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fuse/io_uring.h"
#include "fuse/kernel_abi.h"
#include "fuse/opcode.h"
#include "fuse/session.h"

namespace fusekit {
namespace {

// An entry's memory: the header (fuse_uring_req_header) at the start of a
// page, the payload buffer from the next page on. The gap between them is
// where a large request's header and fixed arguments are put back in front
// of its payload, so that it reads as one message without moving the data.
constexpr size_t kHeaderArea = 4096;
// Requests up to this size (all but large WRITEs) are copied out of the
// entry before they are handled, so that a reply written while the handler
// still reads its request cannot overwrite it.
constexpr size_t kCopyOutLimit = 72 * 1024;

// Refusals in a row after which an entry is given up.
constexpr int kMaxFailures = 3;

constexpr uint64_t kCommandTag = 1;
constexpr uint64_t kStopTag = 2;

// A standby entry joins its queue once the entry it watches has been busy
// with one request this long (checked this often).
constexpr auto kBlockedAfter = std::chrono::milliseconds(20);
constexpr auto kStandbyPoll = std::chrono::milliseconds(20);

int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Entry i is channel -2 - i (IsRingChannel).
int ChannelOf(size_t index) { return -static_cast<int>(index) - 2; }

}  // namespace

int PossibleCpus() {
  // "0-63", "0", "0-3,8-11": the last number names the highest CPU.
  std::ifstream in("/sys/devices/system/cpu/possible");
  std::string text;
  if (std::getline(in, text)) {
    size_t end = text.find_last_of("0123456789");
    if (end != std::string::npos) {
      size_t start = text.find_last_not_of("0123456789", end);
      start = start == std::string::npos ? 0 : start + 1;
      int highest = std::stoi(text.substr(start, end - start + 1));
      if (highest >= 0 && highest < 65536) return highest + 1;
    }
  }
  return get_nprocs_conf();
}

struct UringChannels::Entry {
  int channel = 0;
  uint16_t qid = 0;
  uint8_t* memory = nullptr;  // kHeaderArea + payload
  size_t memory_size = 0;
  struct iovec iov[2] = {};  // header and payload, as registered
  ScopedFd stop;             // eventfd: Stop() wakes the thread with it
  std::vector<uint8_t> request;  // a small request, copied out

  // Standby: offered to the kernel only once `watched` (the queue's entry
  // before it) has been busy for kBlockedAfter (see UringChannels).
  Entry* watched = nullptr;
  // When the request in hand arrived (steady clock, ns); 0 when idle, and
  // always 0 for a standby not yet in its queue.
  std::atomic<int64_t> busy_since{0};

  // Set by the entry's thread only, before a request is handled.
  uint64_t commit_id = 0;
  bool in_place = false;  // the request is read from the payload buffer

  Mutex mu;
  CondVar replied_cv;
  bool handling ABSL_GUARDED_BY(mu) = false;  // its handler has not returned
  bool replied ABSL_GUARDED_BY(mu) = false;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // A reply that came while an in-place request was being handled: it goes
  // to the payload buffer once the handler is done with its request.
  std::vector<uint8_t> staged ABSL_GUARDED_BY(mu);
  bool has_staged ABSL_GUARDED_BY(mu) = false;

  abi::fuse_uring_req_header* header() {
    return reinterpret_cast<abi::fuse_uring_req_header*>(memory);
  }
  uint8_t* payload() { return memory + kHeaderArea; }
};

size_t UringChannels::PayloadSize(uint32_t max_write, uint32_t max_pages) {
  return std::max<size_t>({8192, max_write, size_t{max_pages} * 4096});
}

UringChannels::UringChannels(Session* session, int device_fd, int threads_per_queue,
                             absl::string_view mountpoint)
    : session_(session),
      device_fd_(device_fd),
      payload_size_(PayloadSize(session->connection().max_write,
                                session->connection().max_pages)),
      kick_path_(mountpoint) {
  queues_ = PossibleCpus();
  if (threads_per_queue < 1) threads_per_queue = 1;
  for (int q = 0; q < queues_; ++q) {
    Entry* previous = nullptr;
    for (int t = 0; t < threads_per_queue; ++t) {
      auto entry = std::make_unique<Entry>();
      entry->watched = previous;
      entry->channel = ChannelOf(entries_.size());
      entry->qid = static_cast<uint16_t>(q);
      entry->memory_size = kHeaderArea + payload_size_;
      void* memory = ::mmap(nullptr, entry->memory_size, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      entry->stop.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (memory == MAP_FAILED || !entry->stop.valid()) {
        session_->Log(absl::StrCat("fusekit: io_uring: no memory or eventfd for a ring entry: ",
                                   DescribeErrno(Errno::Last())));
        if (memory != MAP_FAILED) ::munmap(memory, entry->memory_size);
        continue;
      }
      entry->memory = static_cast<uint8_t*>(memory);
      entry->iov[0] = {entry->memory, sizeof(abi::fuse_uring_req_header)};
      entry->iov[1] = {entry->payload(), payload_size_};
      entry->request.resize(kCopyOutLimit);
      previous = entry.get();
      entries_.push_back(std::move(entry));
    }
  }
}

void UringChannels::Start() {
  running_.store(static_cast<int>(entries_.size()));
  for (auto& entry : entries_) {
    Entry* e = entry.get();
    threads_.emplace_back([this, e] { Serve(e); });
  }
}

UringChannels::~UringChannels() {
  Stop();
  for (std::thread& t : threads_) t.join();
  MutexLock lock(&kick_mu_);
  for (std::thread& t : kicks_) t.join();
  for (auto& entry : entries_) ::munmap(entry->memory, entry->memory_size);
}

void UringChannels::Stop() {
  stopping_.store(true);
  for (auto& entry : entries_) {
    uint64_t one = 1;
    (void)!::write(entry->stop.get(), &one, sizeof(one));
    MutexLock lock(&entry->mu);
    entry->stopping = true;
    entry->replied_cv.SignalAll();
  }
}

Errno UringChannels::Write(int channel, const struct iovec* iov, int count) {
  const size_t index = static_cast<size_t>(-(channel + 2));
  if (!IsRingChannel(channel) || index >= entries_.size()) return Errno(EBADF);
  if (count < 1 || iov[0].iov_len != sizeof(abi::fuse_out_header)) return Errno(EINVAL);
  Entry* e = entries_[index].get();
  abi::fuse_out_header out;
  std::memcpy(&out, iov[0].iov_base, sizeof(out));
  size_t size = 0;
  for (int i = 1; i < count; ++i) size += iov[i].iov_len;
  MutexLock lock(&e->mu);
  if (e->replied) return Errno(EINVAL);
  if (size > payload_size_) {
    // Cannot happen for a reply the kernel can take (it sized the buffer).
    session_->Log(absl::StrCat("fusekit: io_uring: a reply of ", size,
                               " bytes does not fit the ring entry; answering EIO"));
    out.error = -EIO;
    size = 0;
    count = 1;
  }
  uint8_t* dest = e->payload();
  e->has_staged = e->handling && e->in_place;
  if (e->has_staged) {
    e->staged.resize(size);
    dest = e->staged.data();
  }
  size_t done = 0;
  for (int i = 1; i < count; ++i) {
    if (iov[i].iov_len == 0) continue;
    std::memcpy(dest + done, iov[i].iov_base, iov[i].iov_len);
    done += iov[i].iov_len;
  }
  out.len = static_cast<uint32_t>(sizeof(out) + size);
  std::memcpy(e->header()->in_out, &out, sizeof(out));
  e->header()->ring_ent_in_out.payload_sz = static_cast<uint32_t>(size);
  e->replied = true;
  e->replied_cv.SignalAll();
  return kOk;
}

void UringChannels::HandleRequest(Entry* e) {
  abi::fuse_uring_req_header* header = e->header();
  abi::fuse_uring_ent_in_out ent;
  std::memcpy(&ent, &header->ring_ent_in_out, sizeof(ent));
  abi::fuse_in_header in;
  std::memcpy(&in, header->in_out, sizeof(in));
  e->commit_id = ent.commit_id;
  requests_.fetch_add(1, std::memory_order_relaxed);
  e->busy_since.store(NowNanos(), std::memory_order_relaxed);

  // The kernel puts the first argument (the opcode's fixed struct) in
  // op_in and the rest (names, data) in the payload; in.len counts all.
  const size_t len = in.len;
  const size_t outside_op = sizeof(in) + ent.payload_sz;
  const bool valid = ent.payload_sz <= payload_size_ && len >= outside_op &&
                     len - outside_op <= abi::kUringOpInOutSz;
  {
    MutexLock lock(&e->mu);
    e->replied = false;
    e->has_staged = false;
    e->in_place = valid && len > kCopyOutLimit;
    e->handling = true;
  }
  if (!valid) {
    session_->Log(absl::StrFormat(
        "fusekit: io_uring: a request's sizes do not add up (len %u, payload %u); EIO", in.len,
        ent.payload_sz));
    abi::fuse_out_header out{};
    out.error = -EIO;
    out.unique = in.unique;
    struct iovec iov = {&out, sizeof(out)};
    Write(e->channel, &iov, 1);
  } else {
    const size_t op_size = len - outside_op;
    uint8_t* message;
    if (!e->in_place) {
      message = e->request.data();
      std::memcpy(message + sizeof(in) + op_size, e->payload(), ent.payload_sz);
    } else {
      message = e->payload() - op_size - sizeof(in);
    }
    std::memcpy(message, &in, sizeof(in));
    std::memcpy(message + sizeof(in), header->op_in, op_size);
    session_->HandleMessage(e->channel, absl::MakeConstSpan(message, len));
  }

  const OpcodeInfo* info = FindOpcode(in.opcode);
  const bool replies = info == nullptr || info->replies;
  MutexLock lock(&e->mu);
  e->handling = false;
  // A reply sent later (from another thread) is waited for, as a worker
  // would; Reply answers EIO when destroyed unsent, so it comes.
  while (replies && !e->replied && !e->stopping) e->replied_cv.Wait(&e->mu);
  if (!e->replied) {
    // No reply is due (NOTIFY_REPLY comes this way), or we are stopping:
    // the entry still commits to take the next request. An error, which
    // the kernel takes before it compares uniques: it masks bit 0 of ours
    // (the interrupt bit), and a RETRIEVE's odd notify_unique then reads
    // as a mismatch it logs.
    abi::fuse_out_header out{};
    out.len = sizeof(out);
    out.error = -ECANCELED;
    out.unique = in.unique;
    std::memcpy(header->in_out, &out, sizeof(out));
    header->ring_ent_in_out.payload_sz = 0;
  }
  if (e->has_staged) {
    std::memcpy(e->payload(), e->staged.data(), e->staged.size());
    e->has_staged = false;
  }
  e->busy_since.store(0, std::memory_order_relaxed);
}

bool UringChannels::AwaitBlockedNeighbour(Entry* e) {
  for (;;) {
    std::this_thread::sleep_for(kStandbyPoll);
    if (stopping_.load()) return false;
    Entry* w = e->watched;
    const int64_t since = w->busy_since.load(std::memory_order_relaxed);
    if (since != 0 &&
        NowNanos() - since > std::chrono::nanoseconds(kBlockedAfter).count()) {
      session_->Log(absl::StrCat(
          "fusekit: io_uring: a request on CPU ", e->qid, "'s queue has been handled for over ",
          std::chrono::milliseconds(kBlockedAfter).count(),
          " ms; one more ring entry serves that queue from now on"));
      return true;
    }
  }
}

void UringChannels::Serve(Entry* e) {
  char name[16];
  std::snprintf(name, sizeof(name), "fusekit-q%u", e->qid);
  pthread_setname_np(pthread_self(), name);
  // The queue serves callers on this CPU: run there (a CPU we may not use
  // leaves the thread where the scheduler puts it).
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(e->qid, &cpus);
  (void)sched_setaffinity(0, sizeof(cpus), &cpus);

  // A standby entry stays out of the queue until needed (see the header).
  if (e->watched != nullptr && !AwaitBlockedNeighbour(e)) {
    running_.fetch_sub(1);
    return;
  }
  IoUring ring;
  Errno setup = ring.Init(4);
  if (!setup.ok()) {
    session_->Log(absl::StrCat("fusekit: io_uring: cannot set up a ring: ", DescribeErrno(setup)));
    running_.fetch_sub(1);
    return;
  }
  struct io_uring_sqe* sqe = ring.NextSqe();
  sqe->opcode = IORING_OP_POLL_ADD;
  sqe->fd = e->stop.get();
  sqe->poll32_events = POLLIN;
  sqe->user_data = kStopTag;

  auto queue_command = [&](abi::UringCmd command) {
    struct io_uring_sqe* s = ring.NextSqe();
    s->opcode = IORING_OP_URING_CMD;
    s->fd = device_fd_;
    s->cmd_op = static_cast<uint32_t>(command);
    s->user_data = kCommandTag;
    abi::fuse_uring_cmd_req request{};
    request.qid = e->qid;
    if (command == abi::UringCmd::kRegister) {
      s->addr = reinterpret_cast<uint64_t>(e->iov);
      s->len = 2;
    } else {
      request.commit_id = e->commit_id;
    }
    std::memcpy(s->cmd, &request, sizeof(request));
  };
  abi::UringCmd last = abi::UringCmd::kRegister;
  queue_command(last);
  if (e->watched != nullptr) {
    // The kernel hands requests already waiting in the queue only to an
    // entry that commits, never to one that just registered: the request
    // stuck behind the blocked handler would wait for it all the same. A
    // request made now, on this CPU, takes the new entry, and its commit
    // brings the stuck one along.
    Errno submitted = ring.Enter(/*wait=*/false);
    if (submitted.ok() && !kick_path_.empty()) {
      const uint16_t qid = e->qid;
      const std::string path = kick_path_;
      MutexLock lock(&kick_mu_);
      kicks_.emplace_back([qid, path] {
        cpu_set_t cpu;
        CPU_ZERO(&cpu);
        CPU_SET(qid, &cpu);
        (void)sched_setaffinity(0, sizeof(cpu), &cpu);
        struct statfs st;
        (void)::statfs(path.c_str(), &st);
      });
    }
  }
  bool done = false;
  int failures = 0;  // in a row
  while (!done) {
    Errno entered = ring.Enter(/*wait=*/true);
    if (!entered.ok()) {
      session_->Log(absl::StrCat("fusekit: io_uring_enter failed: ", DescribeErrno(entered)));
      break;
    }
    while (const struct io_uring_cqe* cqe = ring.PeekCqe()) {
      const uint64_t tag = cqe->user_data;
      const int result = cqe->res;
      ring.PopCqe();
      if (tag == kStopTag) {
        done = true;
        break;
      }
      if (result == -EAGAIN || result == -EINTR) {
        queue_command(last);
        continue;
      }
      if (result == -ENOTCONN || result == -ECANCELED || result == -ENODEV) {
        done = true;  // the connection is going away (unmounted, aborted)
        break;
      }
      if (result < 0) {
        // ENOENT after a commit: the kernel no longer knew the request (it
        // was ended meanwhile), and the entry is out of its queue. Other
        // errors leave it out too. Either way the entry is offered again:
        // a queue without one would leave its CPU's callers waiting. A
        // kernel that keeps refusing (io_uring not enabled after all) is
        // given up on, and requests keep coming on /dev/fuse.
        const bool gone_request = result == -ENOENT && last == abi::UringCmd::kCommitAndFetch;
        if (!gone_request) {
          session_->Log(absl::StrCat(
              "fusekit: io_uring: ",
              last == abi::UringCmd::kRegister ? "registering a ring entry" : "a commit",
              " failed: ", DescribeErrno(Errno(-result))));
        }
        if (++failures > kMaxFailures) {
          session_->Log(absl::StrCat("fusekit: io_uring: giving up on CPU ", e->qid,
                                     "'s ring entry"));
          done = true;
          break;
        }
        last = abi::UringCmd::kRegister;
        queue_command(last);
        continue;
      }
      failures = 0;
      HandleRequest(e);
      last = abi::UringCmd::kCommitAndFetch;
      queue_command(last);
    }
  }
  running_.fetch_sub(1);
}

}  // namespace fusekit
