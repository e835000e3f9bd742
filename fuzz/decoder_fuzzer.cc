// libFuzzer target: DecodeRequest on arbitrary bytes.
//
// Input layout: one settings byte, then the message.
//   bits 0..5  protocol minor (taken modulo 46: 7.0 .. 7.45)
//   bit  6     FUSE_SETXATTR_EXT negotiated
//   bit  7     keep the message's header.len as given; when clear, header.len
//              is overwritten with the true size, so most inputs get past the
//              length check and exercise the per-opcode decoding.
// The message is copied into a buffer of exactly its size (so ASan sees any
// read past it) that is 16-byte aligned, like the server's read buffer.
//
// On success, every span and name is read in full (ASan checks they lie in
// the buffer), the documented invariants are checked, and
// SupplementaryGroups() is called and its result read.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "fuse/kernel_abi.h"
#include "fuse/request.h"

namespace {

using fusekit::DecodedRequest;
using fusekit::DecodeError;
using fusekit::DecodeSettings;

void Check(bool condition, const char* what) {
  if (!condition) {
    fprintf(stderr, "decoder_fuzzer: invariant violated: %s\n", what);
    abort();
  }
}

// True if [part, part + size) lies within [base, base + base_size).
bool Within(const void* part, size_t size, const uint8_t* base, size_t base_size) {
  if (size == 0) return true;
  auto p = reinterpret_cast<uintptr_t>(part);
  auto b = reinterpret_cast<uintptr_t>(base);
  return p >= b && p - b <= base_size && size <= base_size - (p - b);
}

uint64_t Sum(const void* data, size_t size) {
  const volatile uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t sum = 0;
  for (size_t i = 0; i < size; ++i) sum += p[i];
  return sum;
}

volatile uint64_t g_sink;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint8_t config = data[0];
  DecodeSettings settings;
  settings.minor = (config & 0x3f) % (fusekit::abi::kKernelMinorVersion + 1);
  settings.setxattr_ext = (config & 0x40) != 0;
  const bool keep_len = (config & 0x80) != 0;

  const size_t n = size - 1;
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[n == 0 ? 1 : n]);
  if (n > 0) std::memcpy(buffer.get(), data + 1, n);
  if (!keep_len && n >= sizeof(uint32_t)) {
    uint32_t len = static_cast<uint32_t>(n);
    std::memcpy(buffer.get(), &len, sizeof(len));  // fuse_in_header.len
  }
  const absl::Span<const uint8_t> message(buffer.get(), n);

  DecodedRequest request;
  DecodeError error;
  if (!fusekit::DecodeRequest(message, settings, &request, &error)) {
    Check(error.error > 0, "a failed decode has a positive errno");
    Check(!error.message.empty(), "a failed decode says why");
    g_sink = Sum(error.message.data(), error.message.size());
    return 0;
  }

  const uint8_t* base = buffer.get();
  Check(request.info != nullptr, "info set");
  Check(n >= sizeof(fusekit::abi::fuse_in_header), "whole header");
  Check(request.header.len == n, "header.len is the message size");
  Check(Within(request.arg.data(), request.arg.size(), base, n), "arg within message");
  Check(Within(request.name.data(), request.name.size(), base, n), "name within message");
  Check(Within(request.name2.data(), request.name2.size(), base, n), "name2 within message");
  Check(Within(request.payload.data(), request.payload.size(), base, n),
        "payload within message");
  Check(Within(request.extensions.data(), request.extensions.size(), base, n),
        "extensions within message");
  Check(request.extensions.size() == size_t{request.header.total_extlen} * 8,
        "extensions are total_extlen * 8 bytes");
  if (request.info->entry_names >= 1) {
    Check(!request.name.empty() && request.name.size() <= 255 &&
              request.name.find('/') == absl::string_view::npos,
          "entry name valid");
  }
  if (request.info->entry_names >= 2) {
    Check(!request.name2.empty() && request.name2.size() <= 255 &&
              request.name2.find('/') == absl::string_view::npos,
          "second entry name valid");
  }
  // Names end where their NUL is: the byte after each name is in the buffer.
  if (request.info->names >= 1) {
    Check(Within(request.name.data(), request.name.size() + 1, base, n) &&
              request.name.data()[request.name.size()] == '\0',
          "name NUL-terminated in the message");
  }
  if (request.info->names >= 2) {
    Check(Within(request.name2.data(), request.name2.size() + 1, base, n) &&
              request.name2.data()[request.name2.size()] == '\0',
          "name2 NUL-terminated in the message");
  }

  uint64_t sum = Sum(request.arg.data(), request.arg.size());
  sum += Sum(request.name.data(), request.name.size());
  sum += Sum(request.name2.data(), request.name2.size());
  sum += Sum(request.payload.data(), request.payload.size());
  sum += Sum(request.extensions.data(), request.extensions.size());

  // The typed copies the dispatcher makes.
  switch (request.opcode()) {
    case fusekit::abi::Opcode::kRead:
    case fusekit::abi::Opcode::kReaddir:
    case fusekit::abi::Opcode::kReaddirplus:
      Check(request.Arg<fusekit::abi::fuse_read_in>().size != 0, "READ* size non-zero");
      break;
    case fusekit::abi::Opcode::kBatchForget:
      Check(request.payload.size() % sizeof(fusekit::abi::fuse_forget_one) == 0,
            "forget list of whole entries");
      break;
    default:
      sum += request.Arg<fusekit::abi::fuse_setattr_in>().valid;
      break;
  }

  // Copied out by the core: the kernel appends extensions right after the
  // last name's NUL, so the array is often not 4-aligned (a uint32_t view of
  // it was UB: corpus/decoder/regression-misaligned-groups).
  std::vector<uint32_t> groups = fusekit::SupplementaryGroups(request);
  Check(sizeof(fusekit::abi::fuse_ext_header) + sizeof(fusekit::abi::fuse_supp_groups) +
                groups.size() * sizeof(uint32_t) <=
            request.extensions.size() || groups.empty(),
        "groups fit in the extensions");
  for (uint32_t g : groups) sum += g;
  g_sink = sum;
  return 0;
}

// Every UBSan finding is fatal (the build's -fsanitize=undefined would
// otherwise print it and go on), also when the binary is run by hand or as
// the regression test. Unused without the sanitizer.
extern "C" const char* __ubsan_default_options() {
  return "halt_on_error=1:print_stacktrace=1";
}
