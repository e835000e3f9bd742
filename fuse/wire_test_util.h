// Test helpers for the protocol core: build request frames byte by byte,
// parse replies, and talk to a Server over a SOCK_SEQPACKET socketpair as
// the kernel would (no mount, no root). testonly.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/raw_filesystem.h"
#include "fuse/scoped_fd.h"
#include "fuse/server.h"

namespace fusekit {

// Builds one request: header, then appended parts; Build() fills header.len.
class RequestBuilder {
 public:
  RequestBuilder(abi::Opcode opcode, uint64_t unique, uint64_t nodeid = abi::kRootId);
  RequestBuilder(uint32_t raw_opcode, uint64_t unique, uint64_t nodeid);

  template <typename T>
  RequestBuilder& Arg(const T& value) {
    return Bytes(absl::string_view(reinterpret_cast<const char*>(&value), sizeof(value)));
  }
  RequestBuilder& Bytes(absl::string_view bytes);
  // Appends `name` and its NUL.
  RequestBuilder& Name(absl::string_view name);
  RequestBuilder& Caller(uint32_t uid, uint32_t gid, uint32_t pid);

  // The frame with header.len set to its true size.
  std::string Build() const;
  // The frame with header.len forced to `len` (to test mismatches).
  std::string BuildWithLength(uint32_t len) const;

 private:
  abi::fuse_in_header header_{};
  std::string body_;
};

// One message the server wrote: a reply or a notification.
struct WireReply {
  abi::fuse_out_header header{};
  std::string body;

  int error() const { return -header.error; }
  template <typename T>
  T As() const {
    T value{};
    std::memcpy(&value, body.data(), std::min(body.size(), sizeof(T)));
    return value;
  }
};

// A server on one end of a socketpair; the test plays the kernel on the
// other. Destroying it closes the kernel end and joins the server.
class WirePeer {
 public:
  WirePeer(RawFileSystem* fs, ServerOptions options = {});
  ~WirePeer();

  void Send(absl::string_view frame);
  // The next message from the server, or nullopt after `timeout`.
  std::optional<WireReply> Receive(absl::Duration timeout = absl::Seconds(5));
  // Sends a frame and returns the reply to it.
  std::optional<WireReply> Call(absl::string_view frame);
  // True if nothing arrives within `wait`.
  bool Quiet(absl::Duration wait = absl::Milliseconds(100));

  // Sends FUSE_INIT (protocol 7.minor, the given flags incl. flags2 bits)
  // and returns its reply.
  std::optional<WireReply> Init(uint32_t minor = abi::kKernelMinorVersion,
                                uint64_t flags = kAllInitFlags, uint32_t major = 7);

  Server& server() { return *server_; }
  uint64_t NextUnique() { return unique_ += 2; }  // kernel uniques are even

  static constexpr uint64_t kAllInitFlags = ~0ULL & ~abi::kInitReserved;

 private:
  ScopedFd kernel_end_;
  std::unique_ptr<Server> server_;
  std::string receive_buffer_;
  uint64_t unique_ = 0;
};

}  // namespace fusekit
