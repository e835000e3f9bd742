// Reply checks: is this reply one the Linux kernel would accept for that
// request? Each rule cites the fs/fuse code that enforces it; a reply that
// breaks one makes the real kernel fail the system call (mostly with EIO),
// so the fake kernel reports it as a protocol violation.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fuse/kernel_abi.h"
#include "testing/kernel_cache.h"
#include "testing/wire_message.h"

namespace fusekit {

// What created an entry; the rules differ (fs/fuse/dir.c).
enum class EntrySource {
  kLookup,       // node id 0 is a negative entry; the root id is no child
  kCreate,       // MKNOD MKDIR SYMLINK LINK CREATE TMPFILE: 0 and 1 invalid
  kReaddirplus,  // 0 means "no entry"; 1 is invalid (invalid_nodeid)
};

// Checks one entry. `expected_type` is the S_IFMT the request implies (0:
// any). Problems are appended to `problems`, prefixed with `what`.
void CheckEntry(const abi::fuse_entry_out& entry, EntrySource source, uint32_t expected_type,
                const KernelCache& cache, const std::string& what,
                std::vector<std::string>* problems);

// Checks a reply to `request` at protocol 7.`minor`: the error field, the
// body size for the opcode, and the contents the kernel validates (entries,
// attributes, directory records, xattr lists, byte counts). `cache` is the
// kernel's state before the reply (generation and type of known node ids).
// INIT, FORGET and unique bookkeeping are the caller's (FakeKernel's).
std::vector<std::string> CheckReply(const FuseRequest& request, const FuseReply& reply,
                                    uint32_t minor, const KernelCache& cache);

// Checks the framing of a notification as fs/fuse/dev.c's fuse_notify_*
// do (struct size, name length and NUL). An unknown code is a problem too.
std::vector<std::string> CheckNotification(const FuseReply& message);

// The success body sizes at protocol 7.`minor` (compat sizes before 7.9).
size_t EntryOutSize(uint32_t minor);
size_t AttrOutSize(uint32_t minor);

}  // namespace fusekit
