// WireTrace: the last few requests, replies and notifications of a fake
// kernel connection, one line each, for the failure message of a protocol
// violation ("what led up to this").
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/strings/string_view.h"
#include "testing/wire_message.h"

namespace fusekit {

// A bounded log. Not thread-safe; FakeKernel guards it.
class WireTrace {
 public:
  explicit WireTrace(size_t capacity) : capacity_(capacity) {}

  void Add(std::string line);
  // The lines, oldest first, numbered, one per line.
  std::string Dump() const;

 private:
  size_t capacity_;
  uint64_t count_ = 0;
  std::deque<std::string> lines_;
};

// "-> LOOKUP unique=4 nodeid=1 uid=0 gid=0 pid=7 name=\"a\"": the core's
// wire-log line for an encoded request frame, so fake and server logs match.
std::string DescribeRequestLine(absl::string_view frame, uint32_t minor, bool setxattr_ext);
// "<- LOOKUP unique=4 OK nodeid=2 gen=0 REG size=14", "<- UNLINK unique=6 ENOENT".
std::string DescribeReplyLine(const FuseRequest& request, const FuseReply& reply);
// "<- NOTIFY INVAL_ENTRY parent=1 name=\"a\"".
std::string DescribeNotificationLine(const FuseReply& message);

}  // namespace fusekit
