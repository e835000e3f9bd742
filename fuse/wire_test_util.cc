#include "fuse/wire_test_util.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstdio>

namespace fusekit {

RequestBuilder::RequestBuilder(abi::Opcode opcode, uint64_t unique, uint64_t nodeid)
    : RequestBuilder(static_cast<uint32_t>(opcode), unique, nodeid) {}

RequestBuilder::RequestBuilder(uint32_t raw_opcode, uint64_t unique, uint64_t nodeid) {
  header_.opcode = raw_opcode;
  header_.unique = unique;
  header_.nodeid = nodeid;
}

RequestBuilder& RequestBuilder::Bytes(absl::string_view bytes) {
  body_.append(bytes.data(), bytes.size());
  return *this;
}

RequestBuilder& RequestBuilder::Name(absl::string_view name) {
  body_.append(name.data(), name.size());
  body_.push_back('\0');
  return *this;
}

RequestBuilder& RequestBuilder::Caller(uint32_t uid, uint32_t gid, uint32_t pid) {
  header_.uid = uid;
  header_.gid = gid;
  header_.pid = pid;
  return *this;
}

std::string RequestBuilder::Build() const {
  return BuildWithLength(static_cast<uint32_t>(sizeof(header_) + body_.size()));
}

std::string RequestBuilder::BuildWithLength(uint32_t len) const {
  abi::fuse_in_header h = header_;
  h.len = len;
  std::string frame(reinterpret_cast<const char*>(&h), sizeof(h));
  frame += body_;
  return frame;
}

WirePeer::WirePeer(RawFileSystem* fs, ServerOptions options) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    perror("socketpair");
    abort();
  }
  kernel_end_.reset(fds[0]);
  server_ = Server::Serve(fs, ScopedFd(fds[1]), options);
}

WirePeer::~WirePeer() {
  kernel_end_.reset();  // the server's reads return end-of-file
  server_.reset();
}

void WirePeer::Send(absl::string_view frame) {
  ssize_t n = ::send(kernel_end_.get(), frame.data(), frame.size(), MSG_NOSIGNAL);
  if (n != static_cast<ssize_t>(frame.size())) {
    perror("WirePeer::Send");
    abort();
  }
}

std::optional<WireReply> WirePeer::Receive(absl::Duration timeout) {
  struct pollfd p = {kernel_end_.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) {
    return std::nullopt;
  }
  // Reused: a fresh 2 MiB buffer per message dominated long test runs.
  std::string& buf = receive_buffer_;
  if (buf.size() < (2u << 20)) buf.resize(2u << 20);
  ssize_t n = ::recv(kernel_end_.get(), buf.data(), buf.size(), 0);
  if (n < static_cast<ssize_t>(sizeof(abi::fuse_out_header))) return std::nullopt;
  WireReply reply;
  std::memcpy(&reply.header, buf.data(), sizeof(reply.header));
  reply.body = buf.substr(sizeof(reply.header), n - sizeof(reply.header));
  return reply;
}

std::optional<WireReply> WirePeer::Call(absl::string_view frame) {
  Send(frame);
  return Receive();
}

bool WirePeer::Quiet(absl::Duration wait) { return !Receive(wait).has_value(); }

std::optional<WireReply> WirePeer::Init(uint32_t minor, uint64_t flags, uint32_t major) {
  abi::fuse_init_in in{};
  in.major = major;
  in.minor = minor;
  in.max_readahead = 128 * 1024;
  in.flags = static_cast<uint32_t>(flags);
  in.flags2 = static_cast<uint32_t>(flags >> 32);
  return Call(RequestBuilder(abi::Opcode::kInit, NextUnique(), 0).Arg(in).Build());
}

}  // namespace fusekit
