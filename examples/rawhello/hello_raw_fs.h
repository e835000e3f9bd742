// HelloRawFs: the classic hello filesystem on fusekit's raw (low-level)
// interface: a read-only root directory holding hello.txt.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuse/raw_filesystem.h"

namespace fusekit::examples {

// Node ids are fixed: 1 is the root, 2 is hello.txt. Stateless, so safe for
// concurrent use; no lookup counts to keep since nothing is ever freed.
class HelloRawFs : public RawFileSystem {
 public:
  static constexpr uint64_t kFileId = 2;
  static constexpr absl::string_view kFileName = "hello.txt";
  static constexpr absl::string_view kContent = "Hello, world!\n";

  // Nothing here ever changes, so by default the kernel may cache names and
  // attributes for long.
  HelloRawFs() = default;
  HelloRawFs(absl::Duration entry_timeout, absl::Duration attr_timeout)
      : entry_timeout_(entry_timeout), attr_timeout_(attr_timeout) {}

  void Lookup(ReplyEntry reply, uint64_t parent, absl::string_view name) override;
  void Getattr(ReplyAttr reply, uint64_t nodeid, const abi::fuse_getattr_in& in) override;
  void Opendir(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override;
  void Readdir(ReplyDirectory reply, uint64_t nodeid, const abi::fuse_read_in& in) override;
  void Releasedir(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override;
  void Open(ReplyOpen reply, uint64_t nodeid, const abi::fuse_open_in& in) override;
  void Read(ReplyData reply, uint64_t nodeid, const abi::fuse_read_in& in) override;
  void Release(ReplyEmpty reply, uint64_t nodeid, const abi::fuse_release_in& in) override;
  void Statfs(ReplyStatfs reply, uint64_t nodeid) override;

 private:
  const absl::Duration entry_timeout_ = absl::Seconds(60);
  const absl::Duration attr_timeout_ = absl::Seconds(60);
};

}  // namespace fusekit::examples
