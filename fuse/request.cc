#include "fuse/request.h"

#include "absl/strings/str_format.h"

namespace fusekit {
namespace {

using abi::Opcode;

constexpr size_t kMaxNameLength = 255;  // NAME_MAX; the kernel refuses longer too

bool Fail(DecodeError* error, int errnum, std::string message, bool can_reply = true) {
  error->error = errnum;
  error->can_reply = can_reply;
  error->message = std::move(message);
  return false;
}

// Reads a NUL-terminated string from the front of `*rest`.
bool TakeName(absl::Span<const uint8_t>* rest, absl::string_view* name) {
  const void* nul = std::memchr(rest->data(), 0, rest->size());
  if (nul == nullptr) return false;
  size_t len = static_cast<const uint8_t*>(nul) - rest->data();
  *name = absl::string_view(reinterpret_cast<const char*>(rest->data()), len);
  rest->remove_prefix(len + 1);
  return true;
}

}  // namespace

bool DecodeRequest(absl::Span<const uint8_t> message, const DecodeSettings& settings,
                   DecodedRequest* out, DecodeError* error, size_t detached_payload) {
  *out = DecodedRequest();
  if (message.size() < sizeof(abi::fuse_in_header)) {
    return Fail(error, EIO,
                absl::StrFormat("message of %d bytes is shorter than a header", message.size()),
                /*can_reply=*/false);
  }
  std::memcpy(&out->header, message.data(), sizeof(abi::fuse_in_header));
  const abi::fuse_in_header& h = out->header;
  const OpcodeInfo* info = FindOpcode(h.opcode);
  // FORGET-like messages must never be answered, even when malformed.
  bool replies = info == nullptr || info->replies;
  if (h.len != message.size() + detached_payload) {
    return Fail(error, EIO,
                absl::StrFormat("%s unique %d: header says %d bytes, %d were read",
                                OpcodeName(h.opcode), h.unique, h.len,
                                message.size() + detached_payload),
                replies);
  }
  if (info == nullptr) {
    return Fail(error, ENOSYS, absl::StrFormat("unknown opcode %d", h.opcode));
  }
  out->info = info;
  absl::Span<const uint8_t> rest = message.subspan(sizeof(abi::fuse_in_header));

  // Extensions (supplementary groups, security context) sit at the end.
  size_t ext_len = static_cast<size_t>(h.total_extlen) * 8;
  if (ext_len > rest.size()) {
    return Fail(error, EIO,
                absl::StrFormat("%s: %d bytes of extensions in a %d-byte body", info->name,
                                ext_len, rest.size()),
                replies);
  }
  out->extensions = rest.subspan(rest.size() - ext_len);
  rest = rest.first(rest.size() - ext_len);

  uint32_t arg_size = ArgSizeForMinor(*info, out->opcode(), settings.minor, settings.setxattr_ext);
  if (rest.size() < arg_size) {
    return Fail(error, EIO,
                absl::StrFormat("%s: body of %d bytes, needs %d", info->name, rest.size(),
                                arg_size),
                replies);
  }
  out->arg = rest.first(arg_size);
  rest.remove_prefix(arg_size);

  absl::string_view* names[2] = {&out->name, &out->name2};
  for (int i = 0; i < info->names; ++i) {
    if (!TakeName(&rest, names[i])) {
      return Fail(error, EIO,
                  absl::StrFormat("%s: name %d has no terminating NUL", info->name, i + 1),
                  replies);
    }
    if (i < info->entry_names) {
      absl::string_view n = *names[i];
      if (n.empty()) return Fail(error, EINVAL, absl::StrFormat("%s: empty name", info->name));
      if (n.size() > kMaxNameLength) {
        return Fail(error, ENAMETOOLONG,
                    absl::StrFormat("%s: name of %d bytes (max %d)", info->name, n.size(),
                                    kMaxNameLength));
      }
      if (n.find('/') != absl::string_view::npos) {
        return Fail(error, EINVAL, absl::StrFormat("%s: name contains '/'", info->name));
      }
    }
  }

  size_t payload_size = 0;
  switch (info->payload) {
    case PayloadKind::kNone:
      break;
    case PayloadKind::kWriteData:
      payload_size = out->Arg<abi::fuse_write_in>().size;
      break;
    case PayloadKind::kXattrValue:
      payload_size = out->Arg<abi::fuse_setxattr_in>().size;
      break;
    case PayloadKind::kIoctlData:
      payload_size = out->Arg<abi::fuse_ioctl_in>().in_size;
      break;
    case PayloadKind::kForgetList:
      payload_size = static_cast<size_t>(out->Arg<abi::fuse_batch_forget_in>().count) *
                     sizeof(abi::fuse_forget_one);
      break;
    case PayloadKind::kRemainder:
      payload_size = rest.size();
      break;
  }
  if (detached_payload > 0) {
    // Only a WRITE's data is ever left in the pipe, and nothing follows it.
    if (info->payload != PayloadKind::kWriteData || payload_size != detached_payload ||
        !rest.empty() || h.total_extlen != 0) {
      return Fail(error, EIO,
                  absl::StrFormat("%s: %d bytes left in the pipe do not match its payload",
                                  info->name, detached_payload),
                  replies);
    }
    payload_size = 0;
  }
  if (payload_size > rest.size()) {
    return Fail(error, EIO,
                absl::StrFormat("%s: payload of %d bytes, only %d present", info->name,
                                payload_size, rest.size()),
                replies);
  }
  out->payload = rest.first(payload_size);

  switch (out->opcode()) {
    case Opcode::kRead:
    case Opcode::kReaddir:
    case Opcode::kReaddirplus:
      if (out->Arg<abi::fuse_read_in>().size == 0) {
        return Fail(error, EIO, absl::StrFormat("%s of size 0", info->name));
      }
      break;
    default:
      break;
  }
  return true;
}

std::vector<uint32_t> SupplementaryGroups(const DecodedRequest& request) {
  absl::Span<const uint8_t> ext = request.extensions;
  while (ext.size() >= sizeof(abi::fuse_ext_header)) {
    abi::fuse_ext_header eh;
    std::memcpy(&eh, ext.data(), sizeof(eh));
    if (eh.size < sizeof(eh) || eh.size > ext.size() || eh.size % 8 != 0) break;
    if (eh.type == static_cast<uint32_t>(abi::ExtType::kGroups)) {
      absl::Span<const uint8_t> body = ext.subspan(sizeof(eh), eh.size - sizeof(eh));
      if (body.size() < sizeof(abi::fuse_supp_groups)) break;
      abi::fuse_supp_groups sg;
      std::memcpy(&sg, body.data(), sizeof(sg));
      body.remove_prefix(sizeof(sg));
      if (sg.nr_groups > body.size() / sizeof(uint32_t)) break;
      std::vector<uint32_t> groups(sg.nr_groups);
      // An empty vector's data() may be null, which memcpy must not get.
      if (!groups.empty()) {
        std::memcpy(groups.data(), body.data(), groups.size() * sizeof(uint32_t));
      }
      return groups;
    }
    ext.remove_prefix(eh.size);
  }
  return {};
}

}  // namespace fusekit
