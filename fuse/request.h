// Decoding: one message read from the kernel, bounds-checked into a typed
// view. Nothing here allocates on success or touches the transport.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/opcode.h"

namespace fusekit {

// What the decoder needs to know of the connection.
struct DecodeSettings {
  uint32_t minor = abi::kKernelMinorVersion;  // negotiated protocol minor
  bool setxattr_ext = false;                  // FUSE_SETXATTR_EXT granted
};

// A request, valid while the buffer it was decoded from is. All spans point
// into that buffer.
struct DecodedRequest {
  abi::fuse_in_header header{};
  const OpcodeInfo* info = nullptr;  // never null after a successful decode
  absl::Span<const uint8_t> arg;     // the fixed struct (may be short: see Arg)
  absl::string_view name;            // first trailing name, without its NUL
  absl::string_view name2;           // second (RENAME*, SYMLINK's target)
  absl::Span<const uint8_t> payload; // write data, xattr value, forget list...
  absl::Span<const uint8_t> extensions;  // header.total_extlen * 8 bytes

  abi::Opcode opcode() const { return static_cast<abi::Opcode>(header.opcode); }

  // The argument struct, copied out (the buffer need not be aligned for T).
  // Bytes an older kernel did not send read as zero.
  template <typename T>
  T Arg() const {
    T value{};
    std::memcpy(&value, arg.data(), arg.size() < sizeof(T) ? arg.size() : sizeof(T));
    return value;
  }
};

// Why a message could not be decoded. `error` is the errno for the reply;
// `can_reply` is false when not even the header could be read (no unique to
// answer) or the opcode never takes a reply.
struct DecodeError {
  int error = 0;
  bool can_reply = true;
  std::string message;
};

// Decodes `message` (exactly the bytes one read() returned). Returns true and
// fills `out`, or returns false and fills `error`:
//   fewer bytes than a header, or header.len != message size  -> EIO
//   unknown opcode                                            -> ENOSYS
//   body shorter than the opcode needs, name without NUL,
//   payload past the end, READ/READDIR of size 0              -> EIO
//   entry name empty or containing '/'                        -> EINVAL
//   entry name longer than 255 bytes                          -> ENAMETOOLONG
// `detached_payload`: for a WRITE taken with splice (fuse/request_pipe.h),
// the bytes of data left in the pipe, not in `message`: header.len must
// then count them, they must be exactly the WRITE's data, and `payload`
// comes out empty (EIO otherwise).
bool DecodeRequest(absl::Span<const uint8_t> message, const DecodeSettings& settings,
                   DecodedRequest* out, DecodeError* error, size_t detached_payload = 0);

// Supplementary groups from a FUSE_EXT_GROUPS extension, if the request has
// one and it is well-formed. Copied out: the kernel appends extensions right
// after the last name's NUL, so the array is often not 4-aligned.
std::vector<uint32_t> SupplementaryGroups(const DecodedRequest& request);

}  // namespace fusekit
