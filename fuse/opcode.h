// The opcode table: for every FUSE opcode, its name, the shape of its
// request body and whether the kernel waits for a reply. Request sizes are
// validated against this table in one place (request.cc), not per handler.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "fuse/kernel_abi.h"

namespace fusekit {

// What follows the fixed argument struct and the names.
enum class PayloadKind : uint8_t {
  kNone,          // nothing
  kWriteData,     // fuse_write_in.size bytes (WRITE)
  kXattrValue,    // fuse_setxattr_in.size bytes (SETXATTR)
  kIoctlData,     // fuse_ioctl_in.in_size bytes (IOCTL)
  kForgetList,    // fuse_batch_forget_in.count fuse_forget_one (BATCH_FORGET)
  kRemainder,     // all remaining bytes (NOTIFY_REPLY, INIT's growth)
};

struct OpcodeInfo {
  absl::string_view name;  // "LOOKUP"
  // Size of the fixed argument struct at protocol 7.45. Older minors send
  // less for a few opcodes: see ArgSizeForMinor().
  uint32_t arg_size;
  uint8_t names;         // NUL-terminated strings after the struct
  uint8_t entry_names;   // how many of those name directory entries
  PayloadKind payload;
  bool replies;          // false for FORGET, BATCH_FORGET, NOTIFY_REPLY
  bool served;           // false: known, but answered ENOSYS (DAX, CUSE)
};

// The entry for `opcode`, or nullptr when the opcode is unknown.
const OpcodeInfo* FindOpcode(uint32_t opcode);

// "LOOKUP", or "OPCODE_4242" for an unknown one.
absl::string_view OpcodeName(uint32_t opcode);

// The argument size the kernel sends for `opcode` at protocol 7.`minor`
// (compat sizes for old minors), given whether SETXATTR_EXT was negotiated.
uint32_t ArgSizeForMinor(const OpcodeInfo& info, abi::Opcode opcode, uint32_t minor,
                         bool setxattr_ext);

}  // namespace fusekit
